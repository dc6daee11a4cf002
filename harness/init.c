// SPDX-License-Identifier: GPL-2.0
/*
 * init for the QEMU test bed: mounts the pseudo file systems, runs the
 * tests (or the demo) with their output on the results channel (the
 * virtio console hvc0, so the kernel log on ttyAMA0 never interleaves with
 * TAP), copies the KUnit results and a kmemleak scan there, and powers off.
 *
 * Usage (kernel command line): ... -- test | run
 *
 * Results channel protocol, one marker per line:
 *   ##SUITE <kind> <name>     <kind> is tap (kselftest) or ktap (KUnit)
 *   ##END <name> rc=<n> ms=<n>
 *   ##KMEMLEAK <n bytes>      followed by the kmemleak report, if any
 *   ##DONE
 */
#include <dirent.h>
#include <errno.h>
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

/* Run one program with stdout and stderr on the results channel. */
static int run(const char *kind, const char *name, char *const argv[])
{
	long start = now_ms();
	int status = 0;
	pid_t pid;
	int rc;

	say("##SUITE %s %s\n", kind, name);
	pid = fork();
	if (pid == 0) {
		dup2(out, 1);
		dup2(out, 2);
		chdir("/tmp");
		execv(argv[0], argv);
		say("init: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
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

/* KUnit suites ran at boot; their KTAP is in debugfs. */
static void kunit_results(void)
{
	const char *dir = "/sys/kernel/debug/kunit";
	struct dirent **ents;
	char path[512];
	int i, n;

	n = scandir(dir, &ents, NULL, by_name);
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
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
	/* Objects younger than about 5 s are never reported: wait, scan twice. */
	sleep(6);
	write_file(km, "scan");
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

int main(int argc, char *argv[])
{
	const char *mode = argc > 1 ? argv[1] : "test";
	struct dirent **ents;
	char path[512];
	int i, n, fd;

	mnt("proc", "/proc", "proc");
	mnt("sysfs", "/sys", "sysfs");
	mnt("devtmpfs", "/dev", "devtmpfs");
	mnt("debugfs", "/sys/kernel/debug", "debugfs");
	mnt("tmpfs", "/tmp", "tmpfs");

	fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY);
	if (fd >= 0)
		out = fd;
	say("##INIT mode=%s\n", mode);

	if (!strcmp(mode, "run")) {
		char *const demo[] = { "/bin/vmm-demo", NULL };

		run("demo", "vmm-demo", demo);
	} else {
		kunit_results();
		n = scandir("/tests", &ents, NULL, by_name);
		for (i = 0; i < n; i++) {
			if (ents[i]->d_name[0] != '.') {
				char *const prog[] = { path, NULL };

				snprintf(path, sizeof(path), "/tests/%s",
					 ents[i]->d_name);
				run("tap", ents[i]->d_name, prog);
			}
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
		kmemleak_scan();
	}
	say("##DONE\n");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
