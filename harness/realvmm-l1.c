// SPDX-License-Identifier: GPL-2.0
/*
 * The real-VMM suite, run in the test guest (L1) by init's plan: Debian's
 * QEMU (harness/realvmm.sh put it and its libraries in the initramfs)
 * becomes the VMM of an L2 guest under KVM, with the edu device assigned
 * through vfio-pci and iommufd; L2 runs the series kernel with
 * realvmm-l2.c as its /init.  Output is TAP: one line per check L2
 * reports, one for L2's kernel log and one for QEMU itself.  QEMU's and
 * L2's console lines are passed on as TAP comments, so that a QEMU error
 * (an ioctl it could not issue, say) shows in the results.
 *
 * Usage: realvmm-l1 [timeout seconds]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define PCI_DEVICES	"/sys/bus/pci/devices"
#define QEMU		"/usr/bin/qemu-system-aarch64"
#define L2_DIR		"/realvmm"

/* What L2 checks, in the order it reports them */
static const char *const l2_checks[] = {
	"no_viommu.open",
	"no_viommu.dma_round_trip",
	"no_viommu.msi",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NR_L2 ARRAY_SIZE(l2_checks)

static int l2_result[NR_L2];	/* 0 not seen, 1 ok, -1 failed */
static char l2_why[NR_L2][160];
static int l2_done, l2_log_bad, qemu_errors;
static char l2_log_line[200];

static long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static unsigned long read_hex(const char *dir, const char *attr)
{
	char path[300], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtoul(buf, NULL, 16);
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Bind the first edu function to vfio-pci; its address in @bdf */
static const char *take_edu(char *bdf, size_t len)
{
	struct dirent *de;
	char dir[300], path[340];
	DIR *d;

	d = opendir(PCI_DEVICES);
	if (!d)
		return "no " PCI_DEVICES;
	bdf[0] = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), PCI_DEVICES "/%.31s", de->d_name);
		if (read_hex(dir, "vendor") == EDU_VENDOR &&
		    read_hex(dir, "device") == EDU_DEVICE) {
			snprintf(bdf, len, "%.31s", de->d_name);
			break;
		}
	}
	closedir(d);
	if (!bdf[0])
		return "no edu device in L1";
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	if (write_str(path, "vfio-pci"))
		return "no driver_override";
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind", bdf);
	write_str(path, bdf);
	if (write_str("/sys/bus/pci/drivers_probe", bdf))
		return "vfio-pci did not take edu";
	return NULL;
}

/* One line of QEMU's output (L2's console included) */
static void line(char *s)
{
	unsigned int i;
	size_t n;

	printf("# %s\n", s);
	if (!strncmp(s, "realvmm-l2: ", 12)) {
		s += 12;
		if (!strncmp(s, "done", 4)) {
			l2_done = 1;
			return;
		}
		for (i = 0; i < NR_L2; i++) {
			n = strlen(l2_checks[i]);
			if (!strncmp(s, "ok ", 3) &&
			    !strncmp(s + 3, l2_checks[i], n) && !s[3 + n])
				l2_result[i] = 1;
			if (!strncmp(s, "not ok ", 7) &&
			    !strncmp(s + 7, l2_checks[i], n) &&
			    s[7 + n] == ':') {
				l2_result[i] = -1;
				snprintf(l2_why[i], sizeof(l2_why[i]), "%s",
					 s + 9 + n);
			}
		}
		return;
	}
	if (!strncmp(s, "qemu-system-aarch64:", 20))
		qemu_errors++;
	/* L2's kernel log must stay clean */
	if (strstr(s, "WARNING:") || strstr(s, "BUG:") ||
	    strstr(s, "Kernel panic") || strstr(s, "Oops") ||
	    strstr(s, "soft lockup") || strstr(s, "Call trace:")) {
		if (!l2_log_bad)
			snprintf(l2_log_line, sizeof(l2_log_line), "%s", s);
		l2_log_bad = 1;
	}
}

/* Run QEMU; returns its exit status, or -1 on a timeout */
static int run_qemu(const char *bdf, int timeout)
{
	static char dev[96];
	static char *const argv[] = {
		QEMU, "-M", "virt,gic-version=3,its=on", "-accel", "kvm",
		"-cpu", "host", "-smp", "1", "-m", "512M",
		"-display", "none", "-monitor", "none", "-serial", "stdio",
		"-nodefaults", "-nic", "none", "-no-reboot",
		"-object", "iommufd,id=ifd0", "-device", dev,
		"-kernel", L2_DIR "/Image", "-initrd", L2_DIR "/l2.cpio.gz",
		"-append", "console=ttyAMA0 rdinit=/init panic=-1 nowatchdog "
			   "vfio.enable_unsafe_noiommu_mode=1",
		NULL,
	};
	long deadline = now_s() + timeout;
	char buf[4096], *nl;
	size_t fill = 0;
	int p[2], status;
	pid_t pid;

	snprintf(dev, sizeof(dev), "vfio-pci,host=%s,iommufd=ifd0", bdf);
	printf("# L1 runs:");
	for (char *const *a = argv; *a; a++)
		printf(" %s", *a);
	printf("\n");
	fflush(stdout);
	if (pipe(p))
		return -2;
	pid = fork();
	if (pid < 0)
		return -2;
	if (!pid) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(QEMU, argv);
		printf("qemu-system-aarch64: cannot run %s: %s\n", QEMU,
		       strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while (1) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		long left = deadline - now_s();
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		if (poll(&pfd, 1, left * 1000) <= 0)
			continue;
		n = read(p[0], buf + fill, sizeof(buf) - 1 - fill);
		if (n <= 0)
			break;
		fill += n;
		buf[fill] = 0;
		while ((nl = strchr(buf, '\n')) ||
		       (fill == sizeof(buf) - 1 && (nl = buf + fill - 1))) {
			*nl = 0;
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = 0;
			line(buf);
			fill -= nl + 1 - buf;
			memmove(buf, nl + 1, fill + 1);
		}
		fflush(stdout);
	}
	if (fill)
		line(buf);
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(int argc, char **argv)
{
	int timeout = argc > 1 ? atoi(argv[1]) : 300;
	const char *why = NULL;
	unsigned int i, n = 0;
	int rc = 0, qrc = 0;
	char bdf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%zu\n", NR_L2 + 2);
	if (access("/dev/kvm", R_OK | W_OK))
		why = "no /dev/kvm in L1 (virtualization=on, CONFIG_KVM)";
	else if (access(QEMU, X_OK))
		why = "no " QEMU " in the initramfs";
	if (!why)
		why = take_edu(bdf, sizeof(bdf));
	if (!why) {
		qrc = run_qemu(bdf, timeout);
		if (qrc == -1)
			why = "L2 did not finish in time";
		else if (qrc)
			why = "QEMU failed";
	}

	printf("%s %u realvmm.qemu", why || qemu_errors ? "not ok" : "ok",
	       ++n);
	if (why)
		printf(" # %s (exit %d)", why, qrc);
	else if (qemu_errors)
		printf(" # %d error line(s) from QEMU, above", qemu_errors);
	printf("\n");
	rc |= why || qemu_errors;
	for (i = 0; i < NR_L2; i++) {
		printf("%s %u realvmm.%s", l2_result[i] == 1 ? "ok" : "not ok",
		       ++n, l2_checks[i]);
		if (l2_result[i] == -1)
			printf(" # %s", l2_why[i]);
		else if (!l2_result[i])
			printf(" # L2 did not report it%s",
			       l2_done ? "" : " (L2 did not finish)");
		printf("\n");
		rc |= l2_result[i] != 1;
	}
	printf("%s %u realvmm.l2_kernel_log%s%s\n",
	       l2_log_bad || !l2_done ? "not ok" : "ok", ++n,
	       l2_log_bad ? " # " : "", l2_log_bad ? l2_log_line : "");
	rc |= l2_log_bad || !l2_done;
	return rc ? 1 : 0;
}
