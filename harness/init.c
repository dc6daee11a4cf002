// SPDX-License-Identifier: GPL-2.0
/*
 * init for the QEMU test bed: mounts the pseudo file systems, runs the
 * tests (or the demo) with their output on the results channels (virtio
 * consoles hvc0, hvc1, ..., so the kernel log on ttyAMA0 never interleaves
 * with TAP), copies the KUnit results and a kmemleak scan to hvc0, and
 * powers off.
 *
 * Usage (kernel command line): ... -- test | run
 *
 * In test mode /plan says what runs, one suite per line:
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

/* Is @suite named on a "kunit-fault" line of /plan? */
static bool is_fault_suite(const char *suite)
{
	char line[512], *tok, *save;
	bool found = false;
	FILE *plan;

	plan = fopen("/plan", "r");
	if (!plan)
		return false;
	while (!found && fgets(line, sizeof(line), plan)) {
		tok = strtok_r(line, " \t\n", &save);
		if (!tok || strcmp(tok, "kunit-fault"))
			continue;
		tok = strtok_r(NULL, " \t\n", &save);
		found = tok && !strcmp(tok, suite);
	}
	fclose(plan);
	return found;
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
	char line[512], path[600], *tok, *save;
	FILE *plan;

	plan = fopen("/plan", "r");
	if (!plan)
		return;
	write_file("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	write_file("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	write_file("/sys/kernel/debug/fail_page_alloc/min-order", "0");
	write_file("/sys/kernel/debug/failslab/verbose", "0");
	write_file("/sys/kernel/debug/fail_page_alloc/verbose", "0");
	while (fgets(line, sizeof(line), plan)) {
		tok = strtok_r(line, " \t\n", &save);
		if (!tok || strcmp(tok, "kunit-fault"))
			continue;
		tok = strtok_r(NULL, " \t\n", &save);
		if (!tok)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/kunit/%s/run",
			 tok);
		say("##SUITE ktap %s\n", tok);
		if (write_file(path, "run"))
			say("init: %s: %s\n", path, strerror(errno));
		snprintf(path, sizeof(path), "/sys/kernel/debug/kunit/%s/results",
			 tok);
		copy_file(path);
		say("\n##END %s rc=0 ms=0\n", tok);
	}
	fclose(plan);
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

/* Run the suites of one group of /plan, in order, on channel hvc<group>. */
static void run_group(int group)
{
	char line[512], prog[600];
	char *argv[MAX_ARGS + 1];
	int n, fd;
	FILE *plan;

	fd = open_channel(group);
	if (fd < 0) {
		say("init: no results channel hvc%d: %s\n", group,
		    strerror(errno));
		return;
	}
	out = fd;
	plan = fopen("/plan", "r");
	if (!plan) {
		say("init: /plan: %s\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), plan)) {
		char *name, *tok, *save;

		tok = strtok_r(line, " \t\n", &save);
		if (!tok || tok[0] < '0' || tok[0] > '9' || atoi(tok) != group)
			continue;
		name = strtok_r(NULL, " \t\n", &save);
		tok = strtok_r(NULL, " \t\n", &save);
		if (!name || !tok)
			continue;
		snprintf(prog, sizeof(prog), "/tests/%s", tok);
		argv[0] = prog;
		for (n = 1; n < MAX_ARGS; n++) {
			argv[n] = strtok_r(NULL, " \t\n", &save);
			if (!argv[n])
				break;
		}
		argv[n] = NULL;
		run("tap", name, argv);
	}
	fclose(plan);
}

static void run_plan(void)
{
	pid_t pids[MAX_GROUPS] = { 0 };
	bool used[MAX_GROUPS] = { false };
	char line[512];
	FILE *plan;
	int g;

	plan = fopen("/plan", "r");
	if (!plan) {
		say("init: /plan: %s\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), plan)) {
		if (line[0] < '0' || line[0] > '9')
			continue;
		g = atoi(line);
		if (g >= 0 && g < MAX_GROUPS)
			used[g] = true;
		else
			say("init: /plan: bad group in: %s", line);
	}
	fclose(plan);

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
	} else {
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
