// SPDX-License-Identifier: GPL-2.0
/*
 * What the series gives a VMM, step by step, in plain words: assign QEMU's
 * edu device with vfio-pci and iommufd, DMA through the SMMU, take an MSI
 * through the ITS doorbell, and see where the doorbell went; then assign
 * the second edu device with its software MSI window moved out of the way
 * (IOMMU_OPTION_SW_MSI_START/SIZE) and put guest RAM where it used to be;
 * last, let a "guest" own stage 1 on the SMMUv3: it binds its PASID (CD)
 * table through a vIOMMU and DMAs through both stages.
 *
 * Runs as the guest's demo program under `make run`.
 */
#include <stdarg.h>

#include "smmuv3_guest.h"

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

/*
 * Enable the device's MSI with an eventfd, learn the doorbell IOVA the
 * kernel put in its message, raise the MSI and wait for it.  0, or 1
 * after saying what failed.  The MSI stays enabled (with the eventfd,
 * which the MSI's disable releases).
 */
static int msi_round_trip(struct edu_dev *edu, uint64_t *doorbell)
{
	long count;
	int efd, ret;

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return fail("eventfd", errno);
	ret = edu_set_msi(edu, efd);
	if (!ret)
		ret = edu_msi_address(edu->bdf, doorbell);
	if (ret)
		return fail("enable MSI", ret);
	edu_write32(edu, EDU_REG_IRQ_RAISE, 1);
	count = edu_wait_eventfd(efd, 5000);
	edu_write32(edu, EDU_REG_IRQ_ACK, 1);
	close(efd);
	if (count != 1)
		return fail("MSI did not arrive", count < 0 ? (int)count : ETIMEDOUT);
	return 0;
}

/*
 * Allocate an IOAS and attach the device to it: @hwpt is the HWPT (SMMU
 * domain) the kernel made for it.  0, or 1 after saying what failed.
 */
static int attach_new_ioas(struct edu_dev *edu, int fd, uint32_t *ioas,
			   uint32_t *hwpt)
{
	int ret = edu_ioas_alloc(fd, ioas);

	if (ret)
		return fail("IOMMU_IOAS_ALLOC", ret);
	*hwpt = *ioas;
	ret = edu_attach(edu, hwpt);
	if (ret)
		return fail("attach", ret);
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
	int ret, i, n;

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

	ret = attach_new_ioas(&edu, fd, &ioas, &hwpt);
	if (ret)
		return ret;
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

	ret = msi_round_trip(&edu, &doorbell);
	if (ret)
		return ret;
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
	edu_close(&edu);
	return 0;
}

/*
 * Part 3: the guest owns stage 1.  The "guest" builds its CD table (its
 * PASID table) and stage-1 page tables in its RAM; the VMM binds that
 * table through a vIOMMU and a nested HWPT made from the guest's STE.
 */
static int nested_demo(void)
{
	struct iommu_viommu_arm_smmuv3_invalidate tlbi = {};
	uint64_t *l3, doorbell = 0, va = VA_DATA + PG;
	uint32_t ioas = 0, parent = 0, viommu = 0, vdev = 0, s1 = 0, num;
	struct iommu_hw_info_arm_smmuv3 info = {};
	struct iommu_hw_info hw = {
		.size = sizeof(hw),
		.data_len = sizeof(info),
		.data_uptr = (uintptr_t)&info,
	};
	uint8_t *guest, *a, *b, *c;
	struct edu_dev edu;
	int fd, ret;

	printf("VMM demo, part 3: the guest binds its PASID table (nested stage 1)\n");
	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return fail("open /dev/iommu", errno);
	ret = edu_open(&edu, 0, fd);
	if (ret)
		return fail("open the edu device", ret);
	hw.dev_id = edu.dev_id;
	if (ioctl(fd, IOMMU_GET_HW_INFO, &hw))
		return fail("IOMMU_GET_HW_INFO", errno);
	say("edu %s behind an SMMUv3 (hw_info type %u): IDR0 0x%08x, stage 1 %s, stage 2 %s",
	    edu.bdf, hw.out_data_type, info.idr[0],
	    info.idr[0] & 0x2 ? "yes" : "no", info.idr[0] & 0x1 ? "yes" : "no");

	guest = mmap(NULL, GUEST_PAGES * PG, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (guest == MAP_FAILED)
		return fail("mmap", errno);
	guest_build_tables(guest);
	a = guest + PG_DATA * PG;
	b = a + PG;
	c = b + PG;
	say("the guest built, in its RAM, a CD table (ASID 1) and 4 KiB stage-1 tables:");
	printf("       VA 0x%llx and 0x%llx mapped, the MSI window identity-mapped\n",
	       VA_DATA, VA_DATA + PG);

	ret = edu_ioas_alloc(fd, &ioas);
	if (!ret)
		ret = edu_ioas_map(fd, ioas, guest, GUEST_PAGES * PG, GUEST_IPA);
	if (ret)
		return fail("IOAS alloc and map", ret);
	ret = hwpt_alloc(fd, edu.dev_id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			 &parent);
	if (ret)
		return fail("IOMMU_HWPT_ALLOC (NEST_PARENT)", ret);
	say("guest RAM mapped at IPA 0x%llx (IOAS %u); stage 2: nest parent HWPT %u",
	    GUEST_IPA, ioas, parent);

	ret = viommu_alloc(fd, edu.dev_id, parent, IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
			   &viommu);
	if (ret)
		return fail("IOMMU_VIOMMU_ALLOC", ret);
	ret = vdevice_alloc(fd, viommu, edu.dev_id, 0x8, &vdev);
	if (ret)
		return fail("IOMMU_VDEVICE_ALLOC", ret);
	say("vIOMMU %u on the parent; the device is the guest's stream 0x8 (vDEVICE %u)",
	    viommu, vdev);

	ret = nested_alloc(fd, edu.dev_id, viommu,
			   STE0_V | STE0_CFG(STE_CFG_S1) | (GUEST_IPA + PG_CD * PG),
			   STE1_S1CIR_WBRA | STE1_S1COR_WBRA | STE1_S1CSH_ISH,
			   &s1);
	if (!ret)
		ret = edu_attach(&edu, &s1);
	if (ret)
		return fail("bind the guest's STE (nested HWPT) and attach", ret);
	say("the guest's STE (stage 1, CD table at IPA 0x%llx) bound: nested HWPT %u attached",
	    GUEST_IPA + PG_CD * PG, s1);

	memset(a, 0x5a, PG);
	memset(b, 0, PG);
	ret = edu_dma(&edu, VA_DATA, PG, false, false, 5000);
	if (!ret)
		ret = edu_dma(&edu, va, PG, true, false, 5000);
	if (ret)
		return fail("DMA through both stages", ret);
	if (memcmp(a, b, PG))
		return fail("DMA through both stages: bytes differ", EIO);
	say("DMA at guest VA 0x%llx -> device -> VA 0x%llx: through stage 1 and stage 2, equal",
	    VA_DATA, va);

	l3 = guest_page(guest, PG_L3);
	l3[(va >> 12) & 511] = (GUEST_IPA + (PG_DATA + 2) * PG) | PTE_PAGE |
			       PTE_ATTR(0) | PTE_LEAF;
	edu_dma_barrier();
	tlbi.cmd[0] = CMD_TLBI_NH_VA | CMD_ASID(1);
	tlbi.cmd[1] = va | CMD_LEAF;
	num = 1;
	ret = viommu_invalidate(fd, viommu, &tlbi, &num);
	if (ret)
		return fail("IOMMU_HWPT_INVALIDATE (TLBI_NH_VA)", ret);
	memset(c, 0, PG);
	ret = edu_dma(&edu, va, PG, true, false, 5000);
	if (ret)
		return fail("DMA after the PTE change", ret);
	if (memcmp(a, c, PG))
		return fail("the old stage-1 translation is still used", EIO);
	say("the guest remapped VA 0x%llx, sent TLBI_NH_VA via the vIOMMU: DMA hit the new page",
	    va);

	ret = msi_round_trip(&edu, &doorbell);
	if (ret)
		return ret;
	say("MSI: doorbell 0x%llx in the parent's window, VA = IPA in stage 1: it arrived",
	    (unsigned long long)doorbell);

	edu_set_msi(&edu, -1);
	edu_close(&edu);
	close(fd);
	munmap(guest, GUEST_PAGES * PG);
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

	ret = attach_new_ioas(&edu, fd, &ioas, &hwpt);
	if (ret)
		return ret;
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
	if (!ret)
		ret = nested_demo();
	if (ret)
		return ret;
	printf("VMM demo: done\n");
	return 0;
}
