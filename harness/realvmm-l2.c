// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the L2 guest of the real-VMM suite (harness/realvmm.sh): QEMU,
 * running as the VMM in the test guest (L1), assigned it a device through
 * vfio-pci and iommufd.  realvmm.case= on the command line says which:
 *
 * no_viommu: edu without a vIOMMU.  L2 drives it through VFIO's no-IOMMU
 *   mode: a DMA round trip between its memory and the device's buffer, at
 *   physical addresses read from /proc/self/pagemap, and an MSI delivered
 *   to an eventfd.
 * accel, accel_memfd: virtio-rng behind QEMU's accelerated SMMUv3.  L2's
 *   own drivers use it: the device is in a DMA domain of L2's SMMU (stage
 *   1, nested on L1's stage 2), random bytes come out of /dev/hwrng, and
 *   its interrupts are MSI-X, counted in /proc/interrupts.  An edu behind
 *   the same SMMU, held by pci-stub (so that it has a DMA domain and no
 *   driver), is made to read from an IOVA L2 never mapped: the stage-1
 *   fault must come back to L2 as an event of its own SMMU (L1 forwards it
 *   through QEMU's vEVENTQ), which L2's arm-smmu-v3 driver logs with the
 *   faulting address.
 *
 * Each check prints one line on the console, which the L1 runner
 * (realvmm-l1.c) turns into TAP:
 *   realvmm-l2: ok <name>
 *   realvmm-l2: not ok <name>: <why>
 *   realvmm-l2: done
 * then L2 powers off.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "realvmm.h"

#define PAGE			EDU_DMA_BUF_SIZE
#define TIMEOUT_MS		5000

static int failed;

static void report(const char *name, const char *fmt, ...)
{
	va_list ap;

	if (!fmt) {
		printf("realvmm-l2: ok %s\n", name);
		return;
	}
	failed = 1;
	printf("realvmm-l2: not ok %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Bind @bdf to vfio-pci in no-IOMMU mode and open it; 0 or a message */
static const char *noiommu_open(struct edu_dev *e, const char *bdf)
{
	struct vfio_region_info bar = {
		.argsz = sizeof(bar),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	char path[300], link[300];
	int container, group;
	uint16_t cmd;
	ssize_t n;

	if (edu_bind_vfio_pci(bdf))
		return "vfio-pci did not take the device";
	snprintf(path, sizeof(path), EDU_SYSFS "/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return "no (no-IOMMU) group: vfio.enable_unsafe_noiommu_mode?";
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/noiommu-%s",
		 strrchr(link, '/') + 1);
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		return "cannot open the VFIO container or no-IOMMU group";
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU))
		return "VFIO_GROUP_SET_CONTAINER / VFIO_SET_IOMMU failed";
	e->devfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (e->devfd < 0)
		return "VFIO_GROUP_GET_DEVICE_FD failed";
	if (ioctl(e->devfd, VFIO_DEVICE_GET_REGION_INFO, &bar) ||
	    ioctl(e->devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		return "VFIO_DEVICE_GET_REGION_INFO failed";
	e->bar0 = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       e->devfd, bar.offset);
	if (e->bar0 == MAP_FAILED)
		return "cannot map BAR0";
	/* Memory space and bus mastering on */
	if (pread(e->devfd, &cmd, 2, cfg.offset + 4) != 2)
		return "cannot read the command register";
	cmd |= 0x6;
	if (pwrite(e->devfd, &cmd, 2, cfg.offset + 4) != 2)
		return "cannot write the command register";
	if (edu_read32(e, EDU_REG_ID) != EDU_ID_VALUE)
		return "BAR0 does not read as edu";
	return NULL;
}

/* Physical address of the page at @va (mapped and locked), or 0 */
static uint64_t phys_of(void *va)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t off = (uintptr_t)va / PAGE * sizeof(ent);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		ent = 0;
	close(fd);
	if (!(ent & (1ULL << 63)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * PAGE;
}

/* A page by DMA; unlike edu_dma(), at addresses above edu's default mask */
static int page_dma(struct edu_dev *e, uint64_t addr, bool to_ram)
{
	long deadline = edu_now_ms() + TIMEOUT_MS;

	edu_write64(e, EDU_REG_DMA_SRC, to_ram ? EDU_DMA_BUF : addr);
	edu_write64(e, EDU_REG_DMA_DST, to_ram ? addr : EDU_DMA_BUF);
	edu_write64(e, EDU_REG_DMA_COUNT, PAGE);
	edu_dma_barrier();
	edu_write32(e, EDU_REG_DMA_CMD, EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0));
	while (edu_read32(e, EDU_REG_DMA_CMD) & EDU_DMA_START) {
		if (edu_now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	edu_dma_barrier();
	return 0;
}

static void round_trip(struct edu_dev *e)
{
	const char *name = "dma_round_trip";
	uint8_t *buf;
	uint64_t pa;
	int i;

	buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE,
		   -1, 0);
	if (buf == MAP_FAILED)
		return report(name, "no buffer");
	pa = phys_of(buf);
	if (!pa)
		return report(name, "no physical address in pagemap");
	for (i = 0; i < PAGE; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	if (page_dma(e, pa, false))
		return report(name, "DMA to the device timed out");
	memset(buf, 0, PAGE);
	if (page_dma(e, pa, true))
		return report(name, "DMA to memory timed out");
	for (i = 0; i < PAGE; i++)
		if (buf[i] != (uint8_t)(i * 7 + 3))
			return report(name, "byte %d of %d did not come back "
				      "(pa 0x%llx)", i, PAGE,
				      (unsigned long long)pa);
	report(name, NULL);
}

static void interrupt(struct edu_dev *e)
{
	const char *name = "msi";
	int efd = eventfd(0, 0);

	if (efd < 0)
		return report(name, "no eventfd");
	if (edu_set_msi(e, efd))
		return report(name, "VFIO_DEVICE_SET_IRQS: %s", strerror(errno));
	edu_write32(e, EDU_REG_IRQ_RAISE, 1);
	if (edu_wait_eventfd(efd, TIMEOUT_MS) <= 0)
		return report(name, "no MSI within %d ms", TIMEOUT_MS);
	edu_write32(e, EDU_REG_IRQ_ACK, 1);
	report(name, NULL);
}

/* The device's IOMMU group is translated by L2's SMMU (a DMA domain) */
static void check_domain(const char *bdf)
{
	char path[300], link[300], type[32] = "";
	ssize_t n;
	int i;
	FILE *f;

	/* with ACPI, a device gets its group once its driver binds */
	snprintf(path, sizeof(path), EDU_SYSFS "/%s/iommu_group", bdf);
	for (i = 0; i < 100 && access(path, F_OK); i++)
		usleep(100000);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return report("iommu_domain", "%s has no IOMMU group in L2",
			      bdf);
	link[n] = 0;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/type",
		 strrchr(link, '/') + 1);
	f = fopen(path, "r");
	if (!f || !fgets(type, sizeof(type), f))
		type[0] = 0;
	if (f)
		fclose(f);
	type[strcspn(type, "\n")] = 0;
	if (strncmp(type, "DMA", 3))
		return report("iommu_domain", "group type '%s', not DMA", type);
	report("iommu_domain", NULL);
}

static void on_alarm(int sig)
{
}

#define RNG_DIR		"/sys/class/misc/hw_random"
#define RNG_BYTES	256

/* Sum of the interrupts of L2's virtio MSI-X vectors; their number */
static unsigned long virtio_msix(unsigned long *vectors, bool print)
{
	unsigned long count = 0;
	char line[512];
	FILE *f;

	*vectors = 0;
	f = fopen("/proc/interrupts", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strstr(line, "virtio") || !colon)
			continue;
		if (print)
			printf("realvmm-l2 irq: %s", line);
		if (strstr(line, "MSI")) {
			(*vectors)++;
			count += strtoul(colon + 1, NULL, 10);
		}
	}
	fclose(f);
	return count;
}

/*
 * hw_random must read from virtio-rng, not from another source KVM gives
 * L2 (the firmware's SMCCC TRNG): point rng_current at virtio_rng.0
 */
static const char *use_virtio_rng(void)
{
	char cur[64] = "";
	FILE *f;
	int i;

	for (i = 0; i < 100; i++) {
		char avail[256] = "";

		f = fopen(RNG_DIR "/rng_available", "r");
		if (f) {
			if (!fgets(avail, sizeof(avail), f))
				avail[0] = 0;
			fclose(f);
		}
		if (strstr(avail, "virtio_rng.0"))
			break;
		usleep(100000);
	}
	if (edu_sysfs_write(RNG_DIR "/rng_current", "virtio_rng.0"))
		return "virtio_rng.0 did not register with hw_random";
	f = fopen(RNG_DIR "/rng_current", "r");
	if (!f || !fgets(cur, sizeof(cur), f))
		cur[0] = 0;
	if (f)
		fclose(f);
	if (strncmp(cur, "virtio_rng.0", 12))
		return "rng_current is not virtio_rng.0";
	return NULL;
}

/*
 * Random bytes from the virtio-rng driver: each refill of its 64-byte
 * buffer is a DMA through L2's stage 1 and L1's stage 2 completed by an
 * MSI-X interrupt, so reading RNG_BYTES must raise the count by several
 */
static void read_rng(void)
{
	unsigned long before, after, vectors;
	uint8_t buf[RNG_BYTES], zero[RNG_BYTES] = {};
	ssize_t got = 0, n;
	const char *why;
	int fd;

	why = use_virtio_rng();
	if (why)
		return report("hwrng", "%s", why);
	before = virtio_msix(&vectors, false);
	fd = open("/dev/hwrng", O_RDONLY);
	if (fd < 0)
		return report("hwrng", "no /dev/hwrng: %s", strerror(errno));
	/* A device that cannot DMA leaves the read waiting: bounded */
	sigaction(SIGALRM, &(struct sigaction){ .sa_handler = on_alarm }, NULL);
	alarm(30);
	while (got < (ssize_t)sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			break;
		got += n;
	}
	alarm(0);
	close(fd);
	after = virtio_msix(&vectors, true);
	if (got < (ssize_t)sizeof(buf))
		return report("hwrng", "%zd of %zu bytes", got, sizeof(buf));
	if (!memcmp(buf, zero, sizeof(buf)))
		return report("hwrng", "all %zu bytes are zero", sizeof(buf));
	report("hwrng", NULL);
	printf("realvmm-l2: %lu MSI-X interrupts on %lu vectors while reading %d bytes\n",
	       after - before, vectors, RNG_BYTES);
	/* The virtio device's interrupts: MSI-X (not INTx), and they came */
	if (!vectors)
		return report("msix", "no MSI-X vector for virtio");
	if (after - before < 2)
		return report("msix", "%lu MSI-X interrupts for %d bytes (want 2+)",
			      after - before, RNG_BYTES);
	report("msix", NULL);
}

/*
 * An IOVA no DMA-API domain of L2 maps: below where the allocator starts
 * (top down from 4 GiB) and off the 0x8000000 RMR; under edu's 28 bits
 */
#define UNMAPPED_IOVA	0x0badc000ULL

/* Hold @bdf with pci-stub, enable its memory space and bus mastering */
static const char *stub_and_enable(const char *bdf)
{
	char path[300];
	uint16_t cmd;
	int fd, i;

	snprintf(path, sizeof(path), EDU_SYSFS "/%s/driver_override", bdf);
	if (edu_sysfs_write(path, "pci-stub") ||
	    edu_sysfs_write("/sys/bus/pci/drivers_probe", bdf))
		return "pci-stub did not take the device";
	snprintf(path, sizeof(path), EDU_SYSFS "/%s/iommu_group", bdf);
	for (i = 0; i < 50 && access(path, F_OK); i++)
		usleep(100000);
	if (access(path, F_OK))
		return "no IOMMU group once pci-stub bound";
	/* the sysfs enable file refuses a device with a driver: by hand */
	snprintf(path, sizeof(path), EDU_SYSFS "/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 2, 4) != 2)
		return "cannot read the command register";
	cmd |= 0x6;	/* memory space, bus master */
	if (pwrite(fd, &cmd, 2, 4) != 2) {
		close(fd);
		return "cannot set bus mastering";
	}
	close(fd);
	return NULL;
}

/*
 * Wait up to @timeout_ms for L2's arm-smmu-v3 driver to log an event
 * record (it prints "event 0x<id> received:" and then the record's four
 * 64-bit words, one per line, each after a tab) whose input address (word
 * 2) is @iova.
 * Returns 1 and the record in @evt, 0 if none came, or -errno.
 */
static int smmu_event_logged(int kmsg, uint64_t iova, uint64_t *evt,
			     int timeout_ms)
{
	long deadline = edu_now_ms() + timeout_ms;
	int words = -1;
	char rec[8192];
	ssize_t n;

	for (;;) {
		char *text, *hex;

		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) {	/* overwritten: go on */
			words = -1;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n <= 0) {
			if (edu_now_ms() > deadline)
				return 0;
			usleep(10000);
			continue;
		}
		rec[n] = 0;
		text = strchr(rec, ';');
		if (!text || !strstr(text, "arm-smmu-v3"))
			continue;
		if (strstr(text, " received:")) {
			words = 0;
			continue;
		}
		/* /dev/kmsg escapes the tab before each word as \x09 */
		hex = strstr(text, "\\x090x");
		if (words < 0 || !hex) {
			words = -1;
			continue;
		}
		evt[words++] = strtoull(hex + 4, NULL, 16);
		if (words == 4) {
			if (evt[2] == iova)
				return 1;
			words = -1;
		}
	}
}

/* bus << 8 | devfn of a domain-0 BDF such as 0000:00:02.0 */
static unsigned int bdf_rid(const char *bdf)
{
	unsigned int dom, bus, dev, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return ~0u;
	return bus << 8 | dev << 3 | fn;
}

static void stage1_fault(void)
{
	const char *name = "vevent", *why;
	struct edu_dev e = { .devfd = -1 };
	char bdf[64], path[300];
	int fd, kmsg, found;
	uint64_t evt[4];

	if (find_pci(EDU_VENDOR, EDU_DEVICE, bdf, sizeof(bdf)))
		return report(name, "no edu device in L2");
	why = stub_and_enable(bdf);
	if (why)
		return report(name, "%s (%s)", why, bdf);
	snprintf(path, sizeof(path), EDU_SYSFS "/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return report(name, "cannot open %s", path);
	e.bar0_size = 0x100000;
	e.bar0 = mmap(NULL, e.bar0_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	close(fd);
	if (e.bar0 == MAP_FAILED)
		return report(name, "cannot map BAR 0");
	if (edu_read32(&e, EDU_REG_ID) != EDU_ID_VALUE)
		return report(name, "BAR 0 does not read as edu (0x%x)",
			      edu_read32(&e, EDU_REG_ID));
	kmsg = kmsg_open_tail();
	if (kmsg < 0)
		return report(name, "no /dev/kmsg");
	/* one 4-byte read: one fault */
	if (edu_dma(&e, UNMAPPED_IOVA, 4, false, false, 10000))
		return report(name, "edu's DMA engine did not finish");
	found = smmu_event_logged(kmsg, UNMAPPED_IOVA, evt, 30000);
	close(kmsg);
	if (found != 1)
		return report(name, "no SMMU event for IOVA 0x%llx in L2's log",
			      UNMAPPED_IOVA);
	printf("realvmm-l2: L2's SMMU reported event 0x%02x, StreamID 0x%x, at 0x%llx\n",
	       (unsigned int)(evt[0] & 0xff), (unsigned int)(evt[0] >> 32),
	       (unsigned long long)evt[2]);
	/* F_TRANSLATION, with L2's StreamID for the device (its RID) */
	if ((evt[0] & 0xff) != 0x10)
		return report(name, "event 0x%02x, not F_TRANSLATION (0x10)",
			      (unsigned int)(evt[0] & 0xff));
	if ((evt[0] >> 32) != bdf_rid(bdf))
		return report(name, "StreamID 0x%x, not L2's 0x%x for %s",
			      (unsigned int)(evt[0] >> 32), bdf_rid(bdf), bdf);
	report(name, NULL);
}

static void accel_case(void)
{
	char bdf[64];

	if (find_pci(VIRTIO_VENDOR, VIRTIO_RNG, bdf, sizeof(bdf)))
		return report("iommu_domain", "no virtio-rng device in L2");
	check_domain(bdf);
	read_rng();
	stage1_fault();
}

static void no_viommu_case(void)
{
	struct edu_dev e = { .devfd = -1 };
	const char *why;
	char bdf[64];

	if (find_pci(EDU_VENDOR, EDU_DEVICE, bdf, sizeof(bdf)))
		return report("open", "no edu device in L2");
	why = noiommu_open(&e, bdf);
	report("open", why ? "%s (%s)" : NULL, why, bdf);
	if (!why) {
		round_trip(&e);
		interrupt(&e);
	}
}

/* realvmm.case=<name> of the kernel command line */
static void get_case(char *name, size_t len)
{
	char cmdline[1024] = "", *p;
	FILE *f = fopen("/proc/cmdline", "r");

	name[0] = 0;
	if (f) {
		if (!fgets(cmdline, sizeof(cmdline), f))
			cmdline[0] = 0;
		fclose(f);
	}
	p = strstr(cmdline, "realvmm.case=");
	if (p)
		snprintf(name, len, "%.*s", (int)strcspn(p + 13, "\n "),
			 p + 13);
}

int main(void)
{
	char name[32];

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	get_case(name, sizeof(name));
	if (!strcmp(name, "no_viommu"))
		no_viommu_case();
	else if (!strncmp(name, "accel", 5))
		accel_case();
	else
		report("case", "unknown realvmm.case=%s", name);
	printf("realvmm-l2: done%s\n", failed ? " (failures)" : "");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
