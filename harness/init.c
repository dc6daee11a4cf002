// SPDX-License-Identifier: GPL-2.0
/*
 * init for the QEMU test bed: mounts the pseudo file systems, runs the
 * tests (or the demo) with their output on the results channels (virtio
 * consoles hvc0, hvc1, ..., so the kernel log on ttyAMA0 never interleaves
 * with TAP), copies the KUnit results and a kmemleak scan to hvc0, and
 * powers off.
 *
 * Usage (kernel command line): ... -- test [PLAN] | run | fuzz | bench
 *
 * In test mode PLAN (default /plan) says what runs, one suite per line:
 *   <group> <suite name> <program under /tests> [args...]
 * Groups run at the same time (one per vCPU), each on its own channel
 * hvc<group>; the suites of a group run one after the other.  A line
 *   kunit-fault <suite>
 * names a KUnit suite to run again, on hvc0, once the groups are done and
 * allocation fault injection is armed (failslab and fail_page_alloc
 * ignore-gfp-wait = N, fail_page_alloc min-order = 0); its boot-time
 * results are not reported.
 *
 * Results channel protocol, one marker per line:
 *   ##SUITE <kind> <name>     <kind> is tap (kselftest) or ktap (KUnit)
 *   ##T <ms>                  before a TAP result: ms since the suite began
 *   ##END <name> rc=<n> ms=<n>
 *   ##KMEMLEAK <n bytes>      followed by the kmemleak report, if any
 *   ##DONE
 */
#define _GNU_SOURCE	/* asprintf */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_GROUPS	4
#define MAX_ARGS	16

static int out = 1;

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(out, buf, n) < 0)
		return;
}

static void mnt(const char *src, const char *dst, const char *type)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, 0, NULL) && errno != EBUSY)
		say("init: mount %s on %s: %s\n", type, dst, strerror(errno));
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, val, strlen(val)) < 0)
		ret = -1;
	close(fd);
	return ret;
}

static long copy_file(const char *path)
{
	char buf[4096];
	long total = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) < 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Copy a program's output to the results channel line by line, and put
 * "##T <ms>" (time since the program started) before each top-level TAP
 * result, so the judge can tell how long each test took.
 */
static void relay(int fd, long start)
{
	char buf[4096], line[8192];
	size_t len = 0;
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		for (i = 0; i < n; i++) {
			if (len < sizeof(line) - 1)
				line[len++] = buf[i];
			if (buf[i] != '\n' && len < sizeof(line) - 1)
				continue;
			if (!strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7))
				say("##T %ld\n", now_ms() - start);
			if (write(out, line, len) < 0)
				return;
			len = 0;
		}
	}
	if (len && write(out, line, len) < 0)
		return;
}

/* Run one program with stdout and stderr on the results channel. */
static int run(const char *kind, const char *name, char *const argv[])
{
	long start = now_ms();
	int status = 0;
	int pipefd[2];
	pid_t pid;
	int rc;

	say("##SUITE %s %s\n", kind, name);
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[1]);
		if (chdir("/tmp"))
			_exit(126);
		execv(argv[0], argv);
		say("init: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	if (pid > 0)
		relay(pipefd[0], start);
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		rc = -1;
	else if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else
		rc = 128 + WTERMSIG(status);
	say("\n##END %s rc=%d ms=%ld\n", name, rc, now_ms() - start);
	return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* One line of the plan: a kselftest run of a group, or a "kunit-fault" suite */
struct plan_entry {
	int group;			/* FAULT_GROUP for "kunit-fault" */
	char *name;
	char *argv[MAX_ARGS + 1];	/* the program and its arguments */
};

#define FAULT_GROUP	(-1)
#define MAX_PLAN	32

static struct plan_entry plan[MAX_PLAN];
static int nr_plan;

/* Read the plan once; see the top of this file for its format. */
static void load_plan(const char *path)
{
	static char buf[8192];
	char *line, *lsave, *tok, *tsave;
	ssize_t len;
	int fd, n;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		say("init: %s: %s\n", path, strerror(errno));
		return;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return;
	buf[len] = 0;
	for (line = strtok_r(buf, "\n", &lsave); line && nr_plan < MAX_PLAN;
	     line = strtok_r(NULL, "\n", &lsave)) {
		struct plan_entry *e = &plan[nr_plan];

		tok = strtok_r(line, " \t", &tsave);
		if (!tok || tok[0] == '#')
			continue;
		if (!strcmp(tok, "kunit-fault")) {
			e->group = FAULT_GROUP;
		} else if (tok[0] >= '0' && tok[0] < '0' + MAX_GROUPS && !tok[1]) {
			e->group = tok[0] - '0';
		} else {
			say("init: %s: bad line starting with %s\n", path, tok);
			continue;
		}
		e->name = strtok_r(NULL, " \t", &tsave);
		if (!e->name)
			continue;
		if (e->group != FAULT_GROUP) {
			tok = strtok_r(NULL, " \t", &tsave);
			if (!tok || asprintf(&e->argv[0], "/tests/%s", tok) < 0)
				continue;
			for (n = 1; n < MAX_ARGS; n++) {
				e->argv[n] = strtok_r(NULL, " \t", &tsave);
				if (!e->argv[n])
					break;
			}
			e->argv[n] = NULL;
		}
		nr_plan++;
	}
}

static bool is_fault_suite(const char *suite)
{
	int i;

	for (i = 0; i < nr_plan; i++)
		if (plan[i].group == FAULT_GROUP && !strcmp(plan[i].name, suite))
			return true;
	return false;
}

/* KUnit suites ran at boot; their KTAP is in debugfs. */
static void kunit_results(void)
{
	const char *dir = "/sys/kernel/debug/kunit";
	struct dirent **ents;
	char path[512];
	int i, n;

	n = scandir(dir, &ents, NULL, by_name);
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    !is_fault_suite(ents[i]->d_name)) {
			snprintf(path, sizeof(path), "%s/%s/results", dir,
				 ents[i]->d_name);
			say("##SUITE ktap %s\n", ents[i]->d_name);
			copy_file(path);
			say("\n##END %s rc=0 ms=0\n", ents[i]->d_name);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

/* Run the plan's "kunit-fault" suites again with fault injection armed. */
static void kunit_fault_runs(void)
{
	char path[600];
	int i;

	write_file("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	write_file("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	write_file("/sys/kernel/debug/fail_page_alloc/min-order", "0");
	write_file("/sys/kernel/debug/failslab/verbose", "0");
	write_file("/sys/kernel/debug/fail_page_alloc/verbose", "0");
	for (i = 0; i < nr_plan; i++) {
		if (plan[i].group != FAULT_GROUP)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/kunit/%s/run",
			 plan[i].name);
		say("##SUITE ktap %s\n", plan[i].name);
		if (write_file(path, "run"))
			say("init: %s: %s\n", path, strerror(errno));
		snprintf(path, sizeof(path), "/sys/kernel/debug/kunit/%s/results",
			 plan[i].name);
		copy_file(path);
		say("\n##END %s rc=0 ms=0\n", plan[i].name);
	}
}

static void kmemleak_scan(void)
{
	const char *km = "/sys/kernel/debug/kmemleak";
	struct stat st;
	char buf[4096];
	long total = 0;
	ssize_t n;
	int fd;

	if (stat(km, &st))
		return;
	/* Objects younger than about 5 s are never reported */
	sleep(6);
	write_file(km, "scan");
	fd = open(km, O_RDONLY);
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	say("##KMEMLEAK %ld\n", total);
	if (total)
		copy_file(km);
}

static int open_channel(int group)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/hvc%d", group);
	return open(path, O_WRONLY | O_NOCTTY);
}

/* Run the suites of one group of the plan, in order, on channel hvc<group>. */
static void run_group(int group)
{
	int i, fd;

	fd = open_channel(group);
	if (fd < 0) {
		say("init: no results channel hvc%d: %s\n", group,
		    strerror(errno));
		return;
	}
	out = fd;
	for (i = 0; i < nr_plan; i++)
		if (plan[i].group == group)
			run("tap", plan[i].name, plan[i].argv);
}

static void run_plan(void)
{
	pid_t pids[MAX_GROUPS] = { 0 };
	bool used[MAX_GROUPS] = { false };
	int g, i;

	for (i = 0; i < nr_plan; i++)
		if (plan[i].group != FAULT_GROUP)
			used[plan[i].group] = true;

	for (g = 0; g < MAX_GROUPS; g++) {
		if (!used[g])
			continue;
		pids[g] = fork();
		if (pids[g] == 0) {
			run_group(g);
			_exit(0);
		}
	}
	for (g = 0; g < MAX_GROUPS; g++)
		if (pids[g] > 0)
			waitpid(pids[g], NULL, 0);
}

int main(int argc, char *argv[])
{
	const char *mode = argc > 1 ? argv[1] : "test";
	int fd;

	mnt("proc", "/proc", "proc");
	mnt("sysfs", "/sys", "sysfs");
	mnt("devtmpfs", "/dev", "devtmpfs");
	mnt("debugfs", "/sys/kernel/debug", "debugfs");
	mnt("tmpfs", "/tmp", "tmpfs");

	fd = open_channel(0);
	if (fd >= 0)
		out = fd;
	say("##INIT mode=%s\n", mode);

	if (!strcmp(mode, "run")) {
		char *const demo[] = { "/bin/vmm-demo", NULL };

		run("demo", "vmm-demo", demo);
	} else if (!strcmp(mode, "shell")) {
		/*
		 * make realvmm-shell: busybox's shell on the console, with
		 * QEMU, KVM and the devices of the real-VMM boot at hand
		 */
		pid_t pid = fork();

		if (pid == 0) {
			execl("/usr/bin/busybox", "sh", "-c",
			      "/usr/bin/busybox --install -s /bin; "
			      "export PATH=/bin:/usr/bin; exec sh -l",
			      (char *)NULL);
			say("init: no shell: %s\n", strerror(errno));
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	} else if (!strcmp(mode, "bench")) {
		/* make bench: harness/bench.c, no tests, no kmemleak scan */
		char *const bench[] = { "/bin/bench", NULL };

		run("bench", "bench", bench);
	} else if (!strcmp(mode, "fuzz")) {
		/* IOMMUFD_FUZZ_SEED/_CALLS come from the kernel command line */
		char *const fuzz[] = { "/tests/iommufd_fuzz", NULL };

		run("tap", "iommufd_fuzz", fuzz);
		kmemleak_scan();
	} else {
		load_plan(argc > 2 ? argv[2] : "/plan");
		kunit_results();
		run_plan();
		kunit_fault_runs();
		kmemleak_scan();
	}
	say("##DONE\n");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
