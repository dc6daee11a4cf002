// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end test of iommufd with a real device: QEMU's "edu" PCI device,
 * assigned through vfio-pci and its cdev, does DMA through the IOMMU and
 * delivers its MSI through the interrupt controller's doorbell.
 *
 * Runs on any machine with an edu device behind an IOMMU (the harness uses
 * QEMU's arm64 virt machine with an SMMUv3 and a GICv3 ITS); elsewhere every
 * test skips, naming the missing device.
 */
#include <stdint.h>

#include "../kselftest_harness.h"
#include "vfio_edu.h"

/* An IOVA below the DMA engine's 28-bit limit and away from the MSI window */
#define TEST_IOVA	0x100000ULL
#define TEST_BUF_SIZE	(4 * 4096UL)
#define DMA_LEN		EDU_DMA_BUF_SIZE
#define TIMEOUT_MS	5000

FIXTURE(vfio_edu)
{
	int iommufd;
	struct edu_dev edu;
	uint32_t ioas_id;
	uint32_t hwpt_id;
	uint8_t *buf;
};

FIXTURE_SETUP(vfio_edu)
{
	int ret;

	self->edu.devfd = -1;
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);

	ret = edu_open(&self->edu, 0, self->iommufd);
	if (ret == -ENODEV)
		SKIP(return, "no QEMU edu PCI device (%04x:%04x) on this machine",
		     EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, ret) TH_LOG("opening edu %s through vfio-pci: %s",
				 self->edu.bdf, strerror(-ret));

	ASSERT_EQ(0, edu_ioas_alloc(self->iommufd, &self->ioas_id));
	self->hwpt_id = self->ioas_id;
	ASSERT_EQ(0, edu_attach(&self->edu, &self->hwpt_id));
	ASSERT_NE(self->ioas_id, self->hwpt_id);

	self->buf = mmap(NULL, TEST_BUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0, TEST_BUF_SIZE);
}

FIXTURE_TEARDOWN(vfio_edu)
{
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, TEST_BUF_SIZE);
	edu_close(&self->edu);
	if (self->iommufd >= 0)
		close(self->iommufd);
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* RAM -> device buffer -> RAM through the IOMMU, bytes compared. */
TEST_F(vfio_edu, dma_round_trip)
{
	uint8_t *src = self->buf, *dst = self->buf + 2 * DMA_LEN;

	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas_id, self->buf,
				  TEST_BUF_SIZE, TEST_IOVA));
	fill_pattern(src, DMA_LEN, 0x5a);

	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA + 2 * DMA_LEN, DMA_LEN,
			     true, false, TIMEOUT_MS));
	ASSERT_EQ(0, memcmp(src, dst, DMA_LEN));

	/* A second pattern: the copy is fresh, not left over */
	fill_pattern(src, DMA_LEN, 0xc3);
	ASSERT_NE(0, memcmp(src, dst, DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA + 2 * DMA_LEN, DMA_LEN,
			     true, false, TIMEOUT_MS));
	ASSERT_EQ(0, memcmp(src, dst, DMA_LEN));

	ASSERT_EQ(0, edu_ioas_unmap(self->iommufd, self->ioas_id, TEST_IOVA,
				    TEST_BUF_SIZE));
}

#ifdef IOMMU_IOAS_MAP_FILE
/* IOMMU_IOAS_MAP_FILE of [start, start + length) of @mfd at @iova */
static int map_file(int iommufd, uint32_t ioas_id, int mfd, uint64_t start,
		    uint64_t length, uint64_t iova)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.fd = mfd,
		.start = start,
		.length = length,
		.iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &cmd) ? -errno : 0;
}

/*
 * Guest RAM as a VMM backs it with a memfd (QEMU's memory-backend-memfd):
 * mapped with IOMMU_IOAS_MAP_FILE from an offset in the file, with no user
 * address involved, the device DMAs into it and its completion MSI
 * arrives.  The file mapping outlives the VMM's own mapping of the memfd.
 */
TEST_F(vfio_edu, map_file_dma)
{
	size_t size = 4 * TEST_BUF_SIZE;
	uint8_t *mem, *src, *dst;
	int mfd, efd;

	mfd = memfd_create("guest-ram", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, size));
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* The mapping covers the file's second quarter only */
	src = mem + TEST_BUF_SIZE;
	dst = src + 2 * DMA_LEN;
	fill_pattern(src, DMA_LEN, 0x3c);
	memset(dst, 0, DMA_LEN);
	ASSERT_EQ(0, map_file(self->iommufd, self->ioas_id, mfd, TEST_BUF_SIZE,
			      TEST_BUF_SIZE, TEST_IOVA));

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, edu_set_msi(&self->edu, efd));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA + 2 * DMA_LEN, DMA_LEN,
			     true, true, TIMEOUT_MS));
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x100);
	EXPECT_EQ(0, memcmp(src, dst, DMA_LEN));

	/* Without the VMM's mapping the pages stay, through the file */
	ASSERT_EQ(0, munmap(mem, size));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA + 2 * DMA_LEN, DMA_LEN,
			     false, false, TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA + DMA_LEN, DMA_LEN,
			     true, true, TIMEOUT_MS));
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x100);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_EQ(0, memcmp(mem + TEST_BUF_SIZE, mem + TEST_BUF_SIZE + DMA_LEN,
			    DMA_LEN));
	ASSERT_EQ(0, munmap(mem, size));
	/* Nor without its fd: the IOAS holds the file */
	ASSERT_EQ(0, close(mfd));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, false, true,
			     TIMEOUT_MS));
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x100);

	ASSERT_EQ(0, edu_set_msi(&self->edu, -1));
	close(efd);
	ASSERT_EQ(0, edu_ioas_unmap(self->iommufd, self->ioas_id, TEST_IOVA,
				    TEST_BUF_SIZE));
}
#endif

/* MSI through the doorbell: raised by software and by DMA completion. */
TEST_F(vfio_edu, msi_delivery)
{
	uint64_t doorbell = 0;
	int efd;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, edu_set_msi(&self->edu, efd));

	/* The kernel programmed the doorbell's IOVA, inside the MSI window */
	ASSERT_EQ(0, edu_msi_address(self->edu.bdf, &doorbell));
	TH_LOG("%s: MSI doorbell at IOVA 0x%llx", self->edu.bdf,
	       (unsigned long long)doorbell);
	ASSERT_LE(ARM_SW_MSI_START, doorbell);
	ASSERT_GT(ARM_SW_MSI_START + ARM_SW_MSI_SIZE, doorbell);

	/* Nothing pending before the device is asked */
	ASSERT_EQ(0, edu_wait_eventfd(efd, 200));

	edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 0x1);
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x1);

	/* Interrupt at the end of a DMA */
	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas_id, self->buf,
				  TEST_BUF_SIZE, TEST_IOVA));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, false, true,
			     TIMEOUT_MS));
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x100);

	/* With MSI disabled again the eventfd stays quiet */
	ASSERT_EQ(0, edu_set_msi(&self->edu, -1));
	edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 0x1);
	ASSERT_EQ(0, edu_wait_eventfd(efd, 300));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x1);
	close(efd);
}

/*
 * A doorbell is unmapped with the last MSI that uses it, and mapped again
 * in the same slot for the next one.  The device reads 4 bytes at the
 * doorbell's IOVA (the ITS reads as zero): with MSI enabled the SMMU
 * translates that read; with MSI disabled it must report a translation
 * fault, which arm-smmu-v3 logs with the faulting IOVA.
 */
TEST_F(vfio_edu, doorbell_released_with_last_msi)
{
	uint64_t doorbell = 0, again = 0;
	int efd, kmsg, i;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, edu_set_msi(&self->edu, efd));
		ASSERT_EQ(0, edu_msi_address(self->edu.bdf, &again));
		if (!i)
			doorbell = again;
		/* Same slot each time: the released one is reused */
		ASSERT_EQ(doorbell, again);
		edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 0x1);
		ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
		edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x1);
		ASSERT_EQ(0, edu_set_msi(&self->edu, -1));
	}
	TH_LOG("doorbell IOVA 0x%llx, released and reused 3 times",
	       (unsigned long long)doorbell);

	/* MSI disabled: the doorbell page is gone from the domain */
	kmsg = kmsg_open_tail();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, edu_dma(&self->edu, doorbell, 4, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(1, smmu_fault_logged(kmsg, doorbell, 2000))
		TH_LOG("no SMMU fault at 0x%llx: doorbell still mapped",
		       (unsigned long long)doorbell);
	close(kmsg);

	/* MSI enabled: mapped again, the same read translates */
	ASSERT_EQ(0, edu_set_msi(&self->edu, efd));
	kmsg = kmsg_open_tail();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, edu_dma(&self->edu, doorbell, 4, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, smmu_fault_logged(kmsg, doorbell, 1000));
	close(kmsg);
	edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 0x1);
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 0x1);
	ASSERT_EQ(0, edu_set_msi(&self->edu, -1));
	close(efd);
}

/* After unmap, a DMA to the old IOVA must not reach the memory. */
TEST_F(vfio_edu, unmapped_dma_blocked)
{
	uint8_t *buf = self->buf;
	size_t i;

	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas_id, buf,
				  TEST_BUF_SIZE, TEST_IOVA));
	/* Load the device buffer with a pattern ... */
	fill_pattern(buf, DMA_LEN, 0x11);
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, false, false,
			     TIMEOUT_MS));
	/* ... and show it does arrive while the IOVA is mapped */
	memset(buf, 0, TEST_BUF_SIZE);
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, true, false,
			     TIMEOUT_MS));
	fill_pattern(buf + 2 * DMA_LEN, DMA_LEN, 0x11);
	ASSERT_EQ(0, memcmp(buf, buf + 2 * DMA_LEN, DMA_LEN));

	memset(buf, 0, TEST_BUF_SIZE);
	ASSERT_EQ(0, edu_ioas_unmap(self->iommufd, self->ioas_id, TEST_IOVA,
				    TEST_BUF_SIZE));
	/* The engine still completes; the IOMMU drops the writes */
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, DMA_LEN, true, false,
			     TIMEOUT_MS));
	for (i = 0; i < TEST_BUF_SIZE; i++)
		ASSERT_EQ(0, buf[i]) TH_LOG("byte %zu written after unmap", i);
}

/* IOMMU_IOAS_IOVA_RANGES leaves out the driver's MSI window. */
TEST_F(vfio_edu, iova_ranges_exclude_msi_window)
{
	const uint64_t start = ARM_SW_MSI_START;
	const uint64_t last = ARM_SW_MSI_START + ARM_SW_MSI_SIZE - 1;
	struct iommu_iova_range ranges[16];
	bool below = false, above = false;
	int i, n;

	n = edu_ioas_ranges(self->iommufd, self->ioas_id, ranges, 16);
	ASSERT_LT(0, n);
	ASSERT_GE(16, n);
	for (i = 0; i < n; i++) {
		TH_LOG("allowed [0x%llx, 0x%llx]",
		       (unsigned long long)ranges[i].start,
		       (unsigned long long)ranges[i].last);
		/* no allowed range touches [start, last] */
		ASSERT_TRUE(ranges[i].last < start || ranges[i].start > last);
		if (ranges[i].last == start - 1)
			below = true;
		if (ranges[i].start == last + 1)
			above = true;
	}
	/* the hole is exactly the window */
	ASSERT_TRUE(below);
	ASSERT_TRUE(above);

	/* and a fixed mapping there is refused as reserved (-EINVAL) */
	EXPECT_EQ(-EINVAL, edu_ioas_map(self->iommufd, self->ioas_id,
					self->buf, 4096, start));
	EXPECT_EQ(-EINVAL, edu_ioas_map(self->iommufd, self->ioas_id,
					self->buf, 4096, last + 1 - 4096));
}

TEST_HARNESS_MAIN
