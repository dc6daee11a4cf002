// SPDX-License-Identifier: GPL-2.0
/*
 * MSI-X through a kernel-owned DMA domain: a virtio-rng PCI device behind
 * the IOMMU completes its requests with MSI-X interrupts, whose doorbell
 * must be mapped in the device's DMA-API domain.  Reading /dev/hwrng
 * waits for those interrupts, /proc/interrupts shows they came as MSI-X,
 * and the device's MSI-X table shows where the doorbell IOVA was placed.
 * Without a virtio-rng device the tests skip, naming it.
 *
 * Variant "window": the software MSI window is usable, so the doorbell is
 * in it.  Variant "blocked_window": firmware reserves IOVAs over the window
 * for this device (harness/vm.sh boots a second time with a device tree
 * whose reserved-memory node has iommu-addresses over 0x8000000 for the
 * virtio-rng function 00:03.0), so the doorbell must come from the IOVA
 * allocator, outside every reserved region, and still deliver.  Variant
 * "direct_window": the same for a second virtio-rng function, 00:04.0,
 * whose firmware region over the window is direct, mapped 1:1 in its
 * domain before any doorbell, as an ACPI IORT RMR is: a doorbell placed in
 * the window would be mapped on top of it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "../kselftest_harness.h"
#include "vfio_edu.h"

#define RNG_CURRENT "/sys/class/misc/hw_random/rng_current"

/* Is /sys/bus/virtio/devices/@name an entropy source (virtio ID 4)? */
static bool virtio_is_rng(const char *name)
{
	unsigned long id;
	char path[300];
	bool ret;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%.64s/device",
		 name);
	f = fopen(path, "r");
	if (!f)
		return false;
	ret = fscanf(f, "%lx", &id) == 1 && id == 4;
	fclose(f);
	return ret;
}

/*
 * The virtio-rng PCI function in slot @slot of bus 0: its BDF, and the
 * name hw_random knows it by, virtio_rng.<n>, where n counts the virtio-rng
 * devices before it in virtio bus order (the order they were probed in).
 */
static int virtio_rng_find(unsigned int slot, char *bdf, size_t len,
			   char *rng, size_t rng_len)
{
	char path[300], link[300], want[16], *p;
	int me = -1, before = 0, nr;
	struct dirent *ent;
	ssize_t n;
	DIR *dir;

	snprintf(want, sizeof(want), "0000:00:%02x.0", slot);
	dir = opendir("/sys/bus/virtio/devices");
	if (!dir)
		return -1;
	while (me < 0 && (ent = readdir(dir))) {
		if (sscanf(ent->d_name, "virtio%d", &nr) != 1 ||
		    !virtio_is_rng(ent->d_name))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%.64s",
			 ent->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		/* .../0000:00:03.0/virtio2 */
		p = strrchr(link, '/');
		if (!p)
			continue;
		*p = 0;
		p = strrchr(link, '/');
		if (p && !strcmp(p + 1, want))
			me = nr;
	}
	if (me < 0) {
		closedir(dir);
		return -1;
	}
	rewinddir(dir);
	while ((ent = readdir(dir)))
		if (sscanf(ent->d_name, "virtio%d", &nr) == 1 && nr < me &&
		    virtio_is_rng(ent->d_name))
			before++;
	closedir(dir);
	snprintf(bdf, len, "%s", want);
	snprintf(rng, rng_len, "virtio_rng.%d", before);
	return 0;
}

/* Is @irq one of @bdf's MSI/MSI-X vectors (sysfs msi_irqs)? */
static int is_msi_irq(const char *bdf, long irq)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs/%ld",
		 bdf, irq);
	return access(path, F_OK) == 0;
}

/* Sum of the /proc/interrupts counts of @bdf's MSI vectors */
static long msi_count(const char *bdf, int *lines)
{
	char line[1024];
	long total = 0;
	FILE *f;

	*lines = 0;
	f = fopen("/proc/interrupts", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;
		long irq = strtol(line, &p, 10);

		if (p == line || *p != ':' || !is_msi_irq(bdf, irq))
			continue;
		(*lines)++;
		for (p++; ; p = end) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			total += v;
		}
	}
	fclose(f);
	return total;
}

/*
 * The address in entry @entry of @bdf's MSI-X table: the doorbell IOVA the
 * kernel programmed.  The table lives in a BAR, read through sysfs.
 */
static int msix_address(const char *bdf, unsigned int entry, uint64_t *addr)
{
	long pagesz = sysconf(_SC_PAGESIZE);
	uint32_t table, lo, hi;
	uint8_t cfg[256];
	char path[300];
	off_t off, base;
	int fd, pos;
	void *map;

	pos = pci_sysfs_find_cap(bdf, PCI_CAP_ID_MSIX, cfg);
	if (pos < 0)
		return -1;
	memcpy(&table, cfg + pos + PCI_MSIX_TABLE, sizeof(table));

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%u",
		 bdf, table & PCI_MSIX_TABLE_BIR);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	off = (table & PCI_MSIX_TABLE_OFFSET) + entry * PCI_MSIX_ENTRY_SIZE;
	base = off & ~(off_t)(pagesz - 1);
	map = mmap(NULL, pagesz, PROT_READ, MAP_SHARED, fd, base);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	/* single 32-bit reads of device memory */
	lo = __atomic_load_n((uint32_t *)((char *)map + (off - base) +
					  PCI_MSIX_ENTRY_LOWER_ADDR),
			     __ATOMIC_RELAXED);
	hi = __atomic_load_n((uint32_t *)((char *)map + (off - base) +
					  PCI_MSIX_ENTRY_UPPER_ADDR),
			     __ATOMIC_RELAXED);
	munmap(map, pagesz);
	*addr = (uint64_t)hi << 32 | lo;
	return 0;
}

struct resv_region {
	uint64_t start, last;
	char type[32];
};

#define MAX_RESV	16

/* The reserved regions of @bdf's IOMMU group, from sysfs */
static int group_resv_regions(const char *bdf, struct resv_region *r, int max)
{
	unsigned long long start, last;
	char path[300], type[32];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/iommu_group/reserved_regions", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (n < max && fscanf(f, "%llx %llx %31s", &start, &last, type) == 3) {
		r[n].start = start;
		r[n].last = last;
		snprintf(r[n].type, sizeof(r[n].type), "%s", type);
		n++;
	}
	fclose(f);
	return n;
}

FIXTURE(dma_msi)
{
	char bdf[32];
	/* its hw_random name, and the current rng before the test */
	char rng[32], saved_rng[64];
	struct resv_region resv[MAX_RESV];
	int nr_resv;
	/* the software MSI window of the group */
	uint64_t win_start, win_last;
};

FIXTURE_VARIANT(dma_msi)
{
	/* the virtio-rng function's slot on bus 0 */
	unsigned int slot;
	/*
	 * the type of the reserved region that covers the software MSI
	 * window (as sysfs names it), or NULL: the window is free
	 */
	const char *blocker;
};

FIXTURE_VARIANT_ADD(dma_msi, window)
{
	.slot = 3,
	.blocker = NULL,
};

FIXTURE_VARIANT_ADD(dma_msi, blocked_window)
{
	.slot = 3,
	.blocker = "reserved",
};

FIXTURE_VARIANT_ADD(dma_msi, direct_window)
{
	.slot = 4,
	.blocker = "direct",
};

FIXTURE_SETUP(dma_msi)
{
	const char *blocker = NULL;
	char type[32] = "";
	char path[300];
	FILE *f;
	int i;

	if (virtio_rng_find(variant->slot, self->bdf, sizeof(self->bdf),
			    self->rng, sizeof(self->rng)))
		SKIP(return, "no virtio-rng PCI device in slot %u",
		     variant->slot);

	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/iommu_group/type", self->bdf);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f) TH_LOG("%s is not behind an IOMMU", self->bdf);
	ASSERT_EQ(1, fscanf(f, "%31s", type));
	fclose(f);
	/* a kernel-owned translating domain: DMA or DMA-FQ */
	ASSERT_EQ(0, strncmp(type, "DMA", 3)) TH_LOG("domain type %s", type);

	self->nr_resv = group_resv_regions(self->bdf, self->resv, MAX_RESV);
	ASSERT_LT(0, self->nr_resv);
	for (i = 0; i < self->nr_resv; i++) {
		if (strcmp(self->resv[i].type, "msi"))
			continue;
		self->win_start = self->resv[i].start;
		self->win_last = self->resv[i].last;
	}
	ASSERT_EQ(ARM_SW_MSI_START, self->win_start);
	ASSERT_EQ(ARM_SW_MSI_START + ARM_SW_MSI_SIZE - 1, self->win_last);
	for (i = 0; i < self->nr_resv; i++) {
		struct resv_region *r = &self->resv[i];

		if (strcmp(r->type, "msi") && r->start <= self->win_last &&
		    self->win_start <= r->last)
			blocker = r->type;
	}
	if (!variant->blocker) {
		ASSERT_EQ(NULL, blocker)
			TH_LOG("%s's MSI window is blocked by a %s region",
			       self->bdf, blocker);
	} else {
		ASSERT_STREQ(variant->blocker, blocker ? blocker : "none")
			TH_LOG("%s: no %s region over the MSI window (the DT has it)",
			       self->bdf, variant->blocker);
	}

	/* /dev/hwrng reads from this device */
	f = fopen(RNG_CURRENT, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%63s", self->saved_rng));
	fclose(f);
	f = fopen(RNG_CURRENT, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%s\n", self->rng);
	ASSERT_EQ(0, fclose(f)) TH_LOG("no hw_random device %s", self->rng);
}

FIXTURE_TEARDOWN(dma_msi)
{
	FILE *f;

	if (!self->saved_rng[0])
		return;
	f = fopen(RNG_CURRENT, "w");
	if (f) {
		fprintf(f, "%s\n", self->saved_rng);
		fclose(f);
	}
}

/* Requests complete by MSI-X through the DMA domain's doorbell mapping */
TEST_F(dma_msi, hwrng_read_by_msix)
{
	unsigned char buf[64];
	char cur[64] = "";
	long before, after;
	int lines, fd, i;
	ssize_t n;
	FILE *f;

	f = fopen(RNG_CURRENT, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%63s", cur));
	fclose(f);
	ASSERT_STREQ(self->rng, cur);

	before = msi_count(self->bdf, &lines);
	ASSERT_LT(0, lines) TH_LOG("%s has no MSI vectors", self->bdf);

	fd = open("/dev/hwrng", O_RDONLY);
	ASSERT_LE(0, fd);
	for (i = 0; i < 4; i++) {
		n = read(fd, buf, sizeof(buf));
		ASSERT_LT(0, n);
	}
	close(fd);

	after = msi_count(self->bdf, &lines);
	TH_LOG("%s: %d MSI-X vectors, %ld interrupts during the reads",
	       self->bdf, lines, after - before);
	ASSERT_LT(before, after);
}

/*
 * The doorbell of a DMA-API domain sits in the software MSI window when the
 * window is usable, and outside every reserved region when it is not.
 */
TEST_F(dma_msi, doorbell_iova)
{
	uint64_t addr = 0;
	int i, j;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, msix_address(self->bdf, i, &addr));
		TH_LOG("%s: MSI-X entry %d doorbell at IOVA 0x%llx", self->bdf,
		       i, (unsigned long long)addr);
		ASSERT_NE(0, addr);
		if (!variant->blocker) {
			ASSERT_LE(self->win_start, addr);
			ASSERT_GE(self->win_last, addr);
			continue;
		}
		for (j = 0; j < self->nr_resv; j++) {
			struct resv_region *r = &self->resv[j];

			ASSERT_FALSE(addr >= r->start && addr <= r->last)
				TH_LOG("doorbell in reserved region %llx-%llx (%s)",
				       (unsigned long long)r->start,
				       (unsigned long long)r->last, r->type);
		}
	}
}

TEST_HARNESS_MAIN
