// SPDX-License-Identifier: GPL-2.0
/*
 * What the series gives a VMM, step by step, in plain words: assign QEMU's
 * edu device with vfio-pci and iommufd, DMA through the SMMU, take an MSI
 * through the ITS doorbell, and see where the doorbell went; then assign
 * the second edu device with its software MSI window moved out of the way
 * (IOMMU_OPTION_SW_MSI_START/SIZE) and put guest RAM where it used to be.
 *
 * Runs as the guest's demo program under `make run`.
 */
#include <stdarg.h>

#include "vfio_edu.h"

#define DEMO_IOVA	0x100000ULL
#define DEMO_SIZE	(4 * 4096UL)

static int step;

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("[%2d] ", ++step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int fail(const char *what, int err)
{
	printf("FAILED: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/*
 * The device reads 4 KiB of a pattern from @buf, mapped at @iova, and
 * writes it back 8 KiB further on.  0, or 1 after saying what failed.
 */
static int dma_round_trip(struct edu_dev *edu, uint8_t *buf, uint64_t iova,
			  unsigned int seed)
{
	int i, ret;

	for (i = 0; i < EDU_DMA_BUF_SIZE; i++)
		buf[i] = (uint8_t)(i * seed + 1);
	ret = edu_dma(edu, iova, EDU_DMA_BUF_SIZE, false, false, 5000);
	if (!ret)
		ret = edu_dma(edu, iova + 2 * EDU_DMA_BUF_SIZE,
			      EDU_DMA_BUF_SIZE, true, false, 5000);
	if (ret)
		return fail("DMA", ret);
	if (memcmp(buf, buf + 2 * EDU_DMA_BUF_SIZE, EDU_DMA_BUF_SIZE))
		return fail("DMA round trip: bytes differ", EIO);
	return 0;
}

static int sw_msi(int fd, uint32_t option, uint16_t op, uint32_t dev_id,
		  uint64_t *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option,
		.op = op,
		.object_id = dev_id,
		.val64 = *val,
	};

	if (ioctl(fd, IOMMU_OPTION, &cmd))
		return -errno;
	*val = cmd.val64;
	return 0;
}

/* The second device: its software MSI window moved to NEW_WINDOW */
#define NEW_WINDOW	0x40000000ULL

static int move_window_demo(int fd, uint8_t *buf)
{
	uint64_t start = 0, size = 0, doorbell = 0;
	struct iommu_iova_range ranges[16];
	struct edu_dev edu;
	uint32_t ioas, hwpt;
	int efd, ret, i, n;
	long count;

	printf("VMM demo, part 2: moving the software MSI window\n");
	ret = edu_open(&edu, 1, fd);
	if (ret)
		return fail("open the second edu device", ret);
	if (sw_msi(fd, IOMMU_OPTION_SW_MSI_START, IOMMU_OPTION_OP_GET,
		   edu.dev_id, &start) ||
	    sw_msi(fd, IOMMU_OPTION_SW_MSI_SIZE, IOMMU_OPTION_OP_GET,
		   edu.dev_id, &size))
		return fail("IOMMU_OPTION GET", errno);
	say("edu %s (iommufd device %u): MSI window at 0x%llx, %llu MiB (SMMU driver's)",
	    edu.bdf, edu.dev_id, (unsigned long long)start,
	    (unsigned long long)size);

	start = NEW_WINDOW;
	size = 1;
	ret = sw_msi(fd, IOMMU_OPTION_SW_MSI_START, IOMMU_OPTION_OP_SET,
		     edu.dev_id, &start);
	if (!ret)
		ret = sw_msi(fd, IOMMU_OPTION_SW_MSI_SIZE, IOMMU_OPTION_OP_SET,
			     edu.dev_id, &size);
	if (ret)
		return fail("IOMMU_OPTION SET SW_MSI_START/SIZE", ret);
	say("before the attach, the VMM moves it: SW_MSI_START 0x%llx, SW_MSI_SIZE 1 MiB",
	    NEW_WINDOW);

	ret = edu_ioas_alloc(fd, &ioas);
	if (ret)
		return fail("IOMMU_IOAS_ALLOC", ret);
	hwpt = ioas;
	ret = edu_attach(&edu, &hwpt);
	if (ret)
		return fail("attach", ret);
	n = edu_ioas_ranges(fd, ioas, ranges, 16);
	if (n < 0)
		return fail("IOMMU_IOAS_IOVA_RANGES", n);
	say("attached to IOAS %u (HWPT %u); guest memory may now be mapped at:",
	    ioas, hwpt);
	for (i = 0; i < n && i < 16; i++)
		printf("       [0x%llx - 0x%llx]\n",
		       (unsigned long long)ranges[i].start,
		       (unsigned long long)ranges[i].last);

	ret = edu_ioas_map(fd, ioas, buf, DEMO_SIZE, ARM_SW_MSI_START);
	if (ret)
		return fail("IOMMU_IOAS_MAP at the old window", ret);
	ret = dma_round_trip(&edu, buf, ARM_SW_MSI_START, 29);
	if (ret)
		return ret;
	say("\"guest RAM\" at IOVA 0x%llx, where the window was: DMA round trip equal",
	    ARM_SW_MSI_START);

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return fail("eventfd", errno);
	ret = edu_set_msi(&edu, efd);
	if (!ret)
		ret = edu_msi_address(edu.bdf, &doorbell);
	if (ret)
		return fail("enable MSI", ret);
	edu_write32(&edu, EDU_REG_IRQ_RAISE, 1);
	count = edu_wait_eventfd(efd, 5000);
	edu_write32(&edu, EDU_REG_IRQ_ACK, 1);
	if (count != 1)
		return fail("MSI did not arrive", count < 0 ? (int)count : ETIMEDOUT);
	say("MSI enabled: doorbell at IOVA 0x%llx%s; the device's MSI arrived",
	    (unsigned long long)doorbell,
	    doorbell >= NEW_WINDOW && doorbell < NEW_WINDOW + 0x100000 ?
	    " (inside the new window)" : " (OUTSIDE the new window)");

	start = 0x50000000;
	ret = sw_msi(fd, IOMMU_OPTION_SW_MSI_START, IOMMU_OPTION_OP_SET,
		     edu.dev_id, &start);
	say("moving it again while attached is refused: %s",
	    ret == -EBUSY ? "EBUSY" : strerror(-ret));

	edu_set_msi(&edu, -1);
	close(efd);
	edu_close(&edu);
	return 0;
}

int main(void)
{
	struct iommu_iova_range ranges[16];
	struct edu_dev edu;
	uint32_t ioas = 0, hwpt;
	uint64_t doorbell = 0;
	uint8_t *buf;
	int fd, efd, ret, i, n;
	long count;

	printf("VMM demo: assigning a PCI device with vfio-pci + iommufd\n");

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return fail("open /dev/iommu", errno);
	say("opened /dev/iommu");

	ret = edu_open(&edu, 0, fd);
	if (ret)
		return fail("open the edu device through vfio-pci", ret);
	say("edu device %s bound to vfio-pci, its VFIO cdev bound to iommufd as device %u",
	    edu.bdf, edu.dev_id);

	ret = edu_ioas_alloc(fd, &ioas);
	if (ret)
		return fail("IOMMU_IOAS_ALLOC", ret);
	hwpt = ioas;
	ret = edu_attach(&edu, &hwpt);
	if (ret)
		return fail("attach", ret);
	say("attached to IOAS %u: the kernel made SMMU domain (HWPT) %u", ioas, hwpt);

	n = edu_ioas_ranges(fd, ioas, ranges, 16);
	if (n < 0)
		return fail("IOMMU_IOAS_IOVA_RANGES", n);
	say("guest memory may be mapped at these IOVAs:");
	for (i = 0; i < n && i < 16; i++)
		printf("       [0x%llx - 0x%llx]\n",
		       (unsigned long long)ranges[i].start,
		       (unsigned long long)ranges[i].last);
	printf("       the hole [0x%llx - 0x%llx] is the SMMU's software MSI window\n",
	       ARM_SW_MSI_START, ARM_SW_MSI_START + ARM_SW_MSI_SIZE - 1);

	buf = mmap(NULL, DEMO_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return fail("mmap", errno);
	ret = edu_ioas_map(fd, ioas, buf, DEMO_SIZE, DEMO_IOVA);
	if (ret)
		return fail("IOMMU_IOAS_MAP", ret);
	say("mapped %lu KiB of \"guest RAM\" at IOVA 0x%llx", DEMO_SIZE / 1024,
	    DEMO_IOVA);

	ret = dma_round_trip(&edu, buf, DEMO_IOVA, 13);
	if (ret)
		return ret;
	say("DMA via the SMMU: 4 KiB read at IOVA 0x%llx, written back at 0x%llx: equal",
	    DEMO_IOVA, DEMO_IOVA + 2 * EDU_DMA_BUF_SIZE);

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return fail("eventfd", errno);
	ret = edu_set_msi(&edu, efd);
	if (ret)
		return fail("VFIO_DEVICE_SET_IRQS (MSI)", ret);
	ret = edu_msi_address(edu.bdf, &doorbell);
	if (ret)
		return fail("read the MSI address", ret);
	say("MSI enabled with an eventfd: the kernel mapped the ITS doorbell at IOVA 0x%llx%s",
	    (unsigned long long)doorbell,
	    doorbell >= ARM_SW_MSI_START &&
	    doorbell < ARM_SW_MSI_START + ARM_SW_MSI_SIZE ?
	    " (inside the MSI window)" : " (OUTSIDE the MSI window)");

	edu_write32(&edu, EDU_REG_IRQ_RAISE, 1);
	count = edu_wait_eventfd(efd, 5000);
	edu_write32(&edu, EDU_REG_IRQ_ACK, 1);
	if (count != 1)
		return fail("MSI did not arrive", count < 0 ? (int)count : ETIMEDOUT);
	say("the device raised its MSI: through the doorbell, the eventfd fired");

	ret = edu_ioas_unmap(fd, ioas, DEMO_IOVA, DEMO_SIZE);
	if (ret)
		return fail("IOMMU_IOAS_UNMAP", ret);
	memset(buf, 0, DEMO_SIZE);
	ret = edu_dma(&edu, DEMO_IOVA, EDU_DMA_BUF_SIZE, true, false, 5000);
	if (ret)
		return fail("DMA after unmap", ret);
	for (i = 0; i < (int)DEMO_SIZE; i++)
		if (buf[i])
			return fail("DMA after unmap reached memory", EIO);
	say("unmapped the IOVA: a DMA to it now faults in the SMMU and memory stays untouched");

	close(efd);
	edu_close(&edu);

	ret = move_window_demo(fd, buf);
	close(fd);
	if (ret)
		return ret;
	printf("VMM demo: done\n");
	return 0;
}
