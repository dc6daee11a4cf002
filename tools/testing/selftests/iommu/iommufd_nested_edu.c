// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of iommufd's ARM SMMUv3 nesting support with QEMU's edu
 * device assigned through vfio-pci, on an emulated SMMUv3 that implements
 * both stages (arm-smmuv3.stage=nested): what a VMM reads about the SMMU,
 * and the stage-2 nest parent a guest-owned stage 1 sits on.
 *
 * Elsewhere the tests skip, naming what is missing.
 */
#include <poll.h>
#include <stdint.h>

#include "../kselftest_harness.h"
#include "smmuv3_guest.h"

#define TEST_IOVA	0x100000ULL
#define BUF_SIZE	(4 * 4096UL)
#define TIMEOUT_MS	5000

/* SMMU_IDR0 and SMMU_IDR5 fields, from the SMMUv3 architecture */
#define IDR0_S2P	0x1U
#define IDR0_S1P	0x2U
#define IDR5_GRAN4K	0x10U
#define AIDR_MAJOR(a)	(((a) >> 4) & 0xf)

FIXTURE(nested_edu)
{
	int iommufd;
	struct edu_dev edu;
	uint32_t ioas_id;
	uint8_t *buf;
};

FIXTURE_SETUP(nested_edu)
{
	int ret;

	self->edu.devfd = -1;
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ret = edu_open(&self->edu, 0, self->iommufd);
	if (ret == -ENODEV)
		SKIP(return, "no QEMU edu PCI device (%04x:%04x) on this machine",
		     EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, edu_ioas_alloc(self->iommufd, &self->ioas_id));
	self->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(nested_edu)
{
	if (self->edu.devfd >= 0)
		edu_set_msi(&self->edu, -1);
	edu_close(&self->edu);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, BUF_SIZE);
	if (self->iommufd >= 0)
		close(self->iommufd);
}

static int get_hw_info(int iommufd, uint32_t dev_id, void *data,
		       uint32_t *len, uint32_t *type)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = *len,
		.data_uptr = (uintptr_t)data,
	};

	if (ioctl(iommufd, IOMMU_GET_HW_INFO, &cmd))
		return -errno;
	*len = cmd.data_len;
	*type = cmd.out_data_type;
	return 0;
}

/* IOMMU_GET_HW_INFO: the SMMU's ID registers */
TEST_F(nested_edu, hw_info)
{
	struct iommu_hw_info_arm_smmuv3 info, small;
	uint8_t big[sizeof(info) + 16];
	uint32_t len = sizeof(info), type = 0;
	size_t i;

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, get_hw_info(self->iommufd, self->edu.dev_id, &info, &len,
				 &type));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, type);
	ASSERT_EQ(sizeof(info), len);
	TH_LOG("IDR0-5 0x%08x 0x%08x 0x%08x 0x%08x 0x%08x 0x%08x",
	       info.idr[0], info.idr[1], info.idr[2], info.idr[3],
	       info.idr[4], info.idr[5]);
	TH_LOG("IIDR 0x%08x AIDR 0x%08x", info.iidr, info.aidr);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0, info.__reserved);
	/* The emulated SMMU implements both stages and 4 KiB granules */
	EXPECT_EQ(IDR0_S1P | IDR0_S2P, info.idr[0] & (IDR0_S1P | IDR0_S2P));
	EXPECT_NE(0, info.idr[5] & IDR5_GRAN4K);
	EXPECT_NE(0, info.idr[1]);
	/* SMMUv3.x */
	EXPECT_EQ(0, AIDR_MAJOR(info.aidr));

	/* A short buffer gets what fits; the length says what there is */
	memset(&small, 0xa5, sizeof(small));
	len = 8;
	ASSERT_EQ(0, get_hw_info(self->iommufd, self->edu.dev_id, &small, &len,
				 &type));
	EXPECT_EQ(sizeof(small), len);
	EXPECT_EQ(0, small.flags);
	EXPECT_EQ(0xa5a5a5a5, small.idr[0]);
	/* A longer one is zero-filled past the structure */
	memset(big, 0xa5, sizeof(big));
	len = sizeof(big);
	ASSERT_EQ(0, get_hw_info(self->iommufd, self->edu.dev_id, big, &len,
				 &type));
	EXPECT_EQ(sizeof(info), len);
	EXPECT_EQ(0, memcmp(big, &info, sizeof(info)));
	for (i = sizeof(info); i < sizeof(big); i++)
		EXPECT_EQ(0, big[i]);
}

/* GET_HW_INFO with IOMMU_HW_INFO_FLAG_INPUT_TYPE: the SMMUv3 type only */
static int get_hw_info_type(int iommufd, uint32_t dev_id, uint32_t flags,
			    uint32_t in_type, uint32_t *out_type)
{
	struct iommu_hw_info_arm_smmuv3 info;
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.data_len = sizeof(info),
		.data_uptr = (uintptr_t)&info,
		.in_data_type = in_type,
	};

	if (ioctl(iommufd, IOMMU_GET_HW_INFO, &cmd))
		return -errno;
	*out_type = cmd.out_data_type;
	return 0;
}

TEST_F(nested_edu, hw_info_input_type)
{
	uint32_t in = IOMMU_HW_INFO_FLAG_INPUT_TYPE, type = 0;

	ASSERT_EQ(0, get_hw_info_type(self->iommufd, self->edu.dev_id, in,
				      IOMMU_HW_INFO_TYPE_ARM_SMMUV3, &type));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, type);
	type = 0;
	ASSERT_EQ(0, get_hw_info_type(self->iommufd, self->edu.dev_id, in,
				      IOMMU_HW_INFO_TYPE_DEFAULT, &type));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, type);
	EXPECT_EQ(-EOPNOTSUPP,
		  get_hw_info_type(self->iommufd, self->edu.dev_id, in,
				   IOMMU_HW_INFO_TYPE_INTEL_VTD, &type));
	/* Without the flag the input is not looked at */
	type = 0;
	ASSERT_EQ(0, get_hw_info_type(self->iommufd, self->edu.dev_id, 0,
				      IOMMU_HW_INFO_TYPE_INTEL_VTD, &type));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, type);
	EXPECT_EQ(-EOPNOTSUPP,
		  get_hw_info_type(self->iommufd, self->edu.dev_id, 1U << 1,
				   IOMMU_HW_INFO_TYPE_DEFAULT, &type));
}

/*
 * IOMMU_HWPT_ALLOC_NEST_PARENT: a stage-2 domain, which the device can use
 * on its own too: DMA and MSIs go through it.
 */
TEST_F(nested_edu, nest_parent)
{
	uint64_t doorbell = 0;
	uint32_t parent = 0, hwpt = 0;
	int efd;
	long n;
	size_t i;

	ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->edu.dev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	EXPECT_EQ(-EOPNOTSUPP,
		  hwpt_alloc(self->iommufd, self->edu.dev_id, self->ioas_id,
			     IOMMU_HWPT_ALLOC_NEST_PARENT |
			     IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt));
	EXPECT_EQ(-EOPNOTSUPP,
		  hwpt_alloc(self->iommufd, self->edu.dev_id, self->ioas_id,
			     1U << 30, &hwpt));

	hwpt = parent;
	ASSERT_EQ(0, edu_attach(&self->edu, &hwpt));
	ASSERT_EQ(parent, hwpt);

	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas_id, self->buf,
				  BUF_SIZE, TEST_IOVA));
	for (i = 0; i < 4096; i++)
		self->buf[i] = i * 11 + 5;
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA, 4096, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, TEST_IOVA + 8192, 4096, true, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, memcmp(self->buf, self->buf + 8192, 4096));

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, edu_set_msi(&self->edu, efd));
	ASSERT_EQ(0, edu_msi_address(self->edu.bdf, &doorbell));
	EXPECT_LE(ARM_SW_MSI_START, doorbell);
	EXPECT_GT(ARM_SW_MSI_START + ARM_SW_MSI_SIZE, doorbell);
	edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 1);
	n = edu_wait_eventfd(efd, TIMEOUT_MS);
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 1);
	EXPECT_EQ(1, n);
	ASSERT_EQ(0, edu_set_msi(&self->edu, -1));
	close(efd);
}

#define COHERENT_PARAM \
	"/sys/module/arm_smmu_v3/parameters/assume_coherent_nesting"

static int read_param(char *val)
{
	int fd = open(COHERENT_PARAM, O_RDONLY);
	int n;

	if (fd < 0)
		return -errno;
	n = read(fd, val, 1);
	close(fd);
	return n == 1 ? 0 : -EIO;
}

/*
 * IOMMU_VIOMMU_ALLOC on the SMMUv3: refused by default because the SMMU
 * has no S2FWB, allowed with the documented opt-in; IOMMU_VDEVICE_ALLOC
 * binds the device to a guest stream ID; objects in use cannot go.
 */
TEST_F(nested_edu, viommu)
{
	uint32_t parent = 0, viommu = 0, vdev = 0, other = 0;
	char saved = 0;

	ASSERT_EQ(0, read_param(&saved))
		TH_LOG("%s is missing", COHERENT_PARAM);
	ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->edu.dev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));

	ASSERT_EQ(0, edu_sysfs_write(COHERENT_PARAM, "N"));
	EXPECT_EQ(-EOPNOTSUPP,
		  viommu_alloc(self->iommufd, self->edu.dev_id, parent,
			       IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &viommu));
	ASSERT_EQ(0, edu_sysfs_write(COHERENT_PARAM, "Y"));
	ASSERT_EQ(0, viommu_alloc(self->iommufd, self->edu.dev_id, parent,
				  IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &viommu));
	ASSERT_EQ(0, edu_sysfs_write(COHERENT_PARAM, saved == 'Y' ? "Y" : "N"));

	/* Only the SMMUv3 type, only on a nest parent */
	EXPECT_EQ(-EOPNOTSUPP,
		  viommu_alloc(self->iommufd, self->edu.dev_id, parent,
			       IOMMU_VIOMMU_TYPE_DEFAULT, &other));
	{
		uint32_t s1 = self->ioas_id;

		ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->edu.dev_id,
					self->ioas_id, 0, &s1));
		EXPECT_EQ(-EINVAL,
			  viommu_alloc(self->iommufd, self->edu.dev_id, s1,
				       IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &other));
		EXPECT_EQ(0, destroy(self->iommufd, s1));
	}

	ASSERT_EQ(0, vdevice_alloc(self->iommufd, viommu, self->edu.dev_id,
				   0x8, &vdev));
	EXPECT_EQ(-EEXIST, vdevice_alloc(self->iommufd, viommu,
					 self->edu.dev_id, 0x9, &other));

	/* Destroy order: in use is -EBUSY */
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, parent));
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, viommu));
	EXPECT_EQ(0, destroy(self->iommufd, vdev));
	EXPECT_EQ(0, destroy(self->iommufd, viommu));
	EXPECT_EQ(0, destroy(self->iommufd, parent));
}

FIXTURE(nested_guest)
{
	int iommufd;
	struct edu_dev edu;
	uint32_t ioas_id, parent, viommu, vdev;
	uint8_t *guest;
};

FIXTURE_SETUP(nested_guest)
{
	int ret;

	self->edu.devfd = -1;
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ret = edu_open(&self->edu, 0, self->iommufd);
	if (ret == -ENODEV)
		SKIP(return, "no QEMU edu PCI device (%04x:%04x) on this machine",
		     EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, edu_ioas_alloc(self->iommufd, &self->ioas_id));
	ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->edu.dev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &self->parent));
	ASSERT_EQ(0, viommu_alloc(self->iommufd, self->edu.dev_id,
				  self->parent, IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
				  &self->viommu))
		TH_LOG("vIOMMU refused: is arm_smmu_v3.assume_coherent_nesting set?");
	ASSERT_EQ(0, vdevice_alloc(self->iommufd, self->viommu,
				   self->edu.dev_id, 0x8, &self->vdev));

	self->guest = mmap(NULL, GUEST_PAGES * PG, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->guest);
	guest_build_tables(self->guest);
	/* The VMM maps guest RAM, tables included, at its IPA: stage 2 */
	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas_id, self->guest,
				  GUEST_PAGES * PG, GUEST_IPA));
}

FIXTURE_TEARDOWN(nested_guest)
{
	if (self->edu.devfd >= 0)
		edu_set_msi(&self->edu, -1);
	edu_close(&self->edu);
	if (self->guest && self->guest != MAP_FAILED)
		munmap(self->guest, GUEST_PAGES * PG);
	if (self->iommufd >= 0)
		close(self->iommufd);
}

/* IOMMU_HWPT_ALLOC on the vIOMMU with any flags and data; destroys it */
static int vste_alloc_raw(int iommufd, uint32_t dev_id, uint32_t viommu,
			  uint32_t flags, uint32_t data_type, const void *data,
			  uint32_t data_len)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = viommu,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -errno;
	return destroy(iommufd, cmd.out_hwpt_id);
}

/* Which vSTEs are accepted: mainline's fields and configs, else -EIO */
TEST_F(nested_guest, vste_fields)
{
	uint64_t s1 = STE0_V | STE0_CFG(STE_CFG_S1) |
		      (GUEST_IPA + PG_CD * PG);
	struct iommu_hwpt_invalidate inv = { .size = sizeof(inv) };
	uint64_t ste[3] = { s1, 0, 0 };
	uint32_t hwpt = 0;
	unsigned int cfg;

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, s1, STE1_S1CIR_WBRA, &hwpt));
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	/* V = 0 with other fields, even ones a guest may not set: abort */
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_CFG(STE_CFG_S1), 0, &hwpt));
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_CFG(6) | (0x1ULL << 58),
				  (0x3ULL << 30) | (0x3ULL << 28), &hwpt));
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	/* EATS: abort (0) or translated (1); 2 and 3 are not the guest's */
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, s1, 0x1ULL << 28, &hwpt));
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, s1, 0x2ULL << 28, &hwpt));
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, s1, 0x3ULL << 28, &hwpt));
	/* Stage-2 and nested Config belong to the host */
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, STE0_V | STE0_CFG(6), 0,
				     &hwpt));
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, STE0_V | STE0_CFG(7), 0,
				     &hwpt));
	/* So do the reserved ones */
	for (cfg = 1; cfg <= 3; cfg++)
		EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
					     self->viommu,
					     STE0_V | STE0_CFG(cfg), 0, &hwpt));
	/* Word 2 fields and STRW, SHCFG in word 1 are not the guest's */
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, s1, 0x3ULL << 30, &hwpt));
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, s1, 0x1ULL << 44, &hwpt));
	EXPECT_EQ(-EIO, nested_alloc(self->iommufd, self->edu.dev_id,
				     self->viommu, s1 | (0x1ULL << 58), 0,
				     &hwpt));
	/* Flags; another data type; a vSTE shorter or longer than two words */
	EXPECT_EQ(0, vste_alloc_raw(self->iommufd, self->edu.dev_id,
				    self->viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3,
				    ste, 16));
	/* A fault queue is allowed, as in mainline: ID 0 names none */
	EXPECT_EQ(-ENOENT,
		  vste_alloc_raw(self->iommufd, self->edu.dev_id, self->viommu,
				 IOMMU_HWPT_FAULT_ID_VALID,
				 IOMMU_HWPT_DATA_ARM_SMMUV3, ste, 16));
	EXPECT_EQ(-EOPNOTSUPP,
		  vste_alloc_raw(self->iommufd, self->edu.dev_id, self->viommu,
				 1U << 31, IOMMU_HWPT_DATA_ARM_SMMUV3, ste, 16));
	EXPECT_EQ(-EINVAL,
		  vste_alloc_raw(self->iommufd, self->edu.dev_id, self->viommu,
				 0, IOMMU_HWPT_DATA_VTD_S1, ste, 16));
	EXPECT_EQ(-EINVAL,
		  vste_alloc_raw(self->iommufd, self->edu.dev_id, self->viommu,
				 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste, 8));
	EXPECT_EQ(-EINVAL,
		  vste_alloc_raw(self->iommufd, self->edu.dev_id, self->viommu,
				 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste, 24));
	/* The vIOMMU is busy while a nested HWPT uses it */
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, s1, 0, &hwpt));
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, self->viommu));
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	/* Invalidation goes through the vIOMMU, not the nested HWPT */
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, s1, 0, &hwpt));
	inv.hwpt_id = hwpt;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_HWPT_INVALIDATE, &inv));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
}

/*
 * DMA through both stages: the device's addresses go through the guest's
 * stage 1 to IPAs, which stage 2 takes to the VMM's pages.  An address the
 * guest did not map reaches nothing.
 */
TEST_F(nested_guest, stage1_dma)
{
	uint8_t *a = self->guest + PG_DATA * PG;
	uint8_t *b = self->guest + (PG_DATA + 1) * PG;
	uint8_t *snap;
	uint32_t hwpt = 0;
	size_t i;

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu,
				  STE0_V | STE0_CFG(STE_CFG_S1) |
				  (GUEST_IPA + PG_CD * PG),
				  STE1_S1CIR_WBRA | STE1_S1COR_WBRA |
				  STE1_S1CSH_ISH, &hwpt));
	ASSERT_EQ(0, edu_attach(&self->edu, &hwpt));

	for (i = 0; i < PG; i++)
		a[i] = (uint8_t)(i * 37 + 11);
	memset(b, 0, PG);
	/* VA_DATA (data page 4) -> device -> VA_DATA + 4K (data page 5) */
	ASSERT_EQ(0, edu_dma(&self->edu, VA_DATA, PG, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, VA_DATA + PG, PG, true, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, memcmp(a, b, PG)) TH_LOG("stage 1 + 2 DMA did not land");

	/* Not mapped by the guest: nothing anywhere changes */
	snap = malloc(GUEST_PAGES * PG);
	ASSERT_NE(NULL, snap);
	memcpy(snap, self->guest, GUEST_PAGES * PG);
	ASSERT_EQ(0, edu_dma(&self->edu, VA_UNMAPPED, PG, true, false,
			     TIMEOUT_MS));
	EXPECT_EQ(0, memcmp(snap, self->guest, GUEST_PAGES * PG));
	/* Nor does the IPA of a data page work as a device address */
	ASSERT_EQ(0, edu_dma(&self->edu, (GUEST_IPA + PG_DATA * PG) &
			     EDU_DMA_MASK, PG, true, false, TIMEOUT_MS));
	EXPECT_EQ(0, memcmp(snap, self->guest, GUEST_PAGES * PG));
	free(snap);
}

/*
 * As in mainline: a device attaches to a stage-1 vSTE only once it has a
 * vDEVICE on the vIOMMU (-ENOENT before), while abort and bypass vSTEs need
 * none; and unbinding the device destroys its vDEVICE (a later
 * IOMMU_DESTROY of it: -ENOENT).
 */
TEST_F(nested_guest, vdevice_needed)
{
	uint32_t s1 = 0, abrt = 0, byp = 0, pt, vdev = 0;

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu,
				  STE0_V | STE0_CFG(STE_CFG_S1) |
				  (GUEST_IPA + PG_CD * PG), 0, &s1));
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_V | STE0_CFG(STE_CFG_ABORT),
				  0, &abrt));
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_V | STE0_CFG(STE_CFG_BYPASS),
				  0, &byp));
	ASSERT_EQ(0, destroy(self->iommufd, self->vdev));
	self->vdev = 0;

	pt = s1;
	EXPECT_EQ(-ENOENT, edu_attach(&self->edu, &pt));
	pt = byp;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	/* A replace to stage 1 is refused too, leaving bypass in place */
	pt = s1;
	EXPECT_EQ(-ENOENT, edu_attach(&self->edu, &pt));
	pt = abrt;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));

	ASSERT_EQ(0, vdevice_alloc(self->iommufd, self->viommu,
				   self->edu.dev_id, 0x8, &vdev));
	pt = s1;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));

	/* Unbinding the device takes its vDEVICE along */
	edu_close(&self->edu);
	EXPECT_EQ(-ENOENT, destroy(self->iommufd, vdev));
	EXPECT_EQ(0, destroy(self->iommufd, s1));
	EXPECT_EQ(0, destroy(self->iommufd, abrt));
	EXPECT_EQ(0, destroy(self->iommufd, byp));
	/* The vIOMMU is free to go: nothing holds it any more */
	EXPECT_EQ(0, destroy(self->iommufd, self->viommu));
}

/*
 * Switching between vSTEs: abort blocks, bypass is the parent's stage 2
 * (device addresses are IPAs), stage 1 translates again, and the parent
 * attached directly is stage 2 too.
 */
TEST_F(nested_guest, vste_switch)
{
	uint8_t *a = self->guest + PG_DATA * PG;
	uint8_t *b = self->guest + (PG_DATA + 1) * PG;
	uint8_t *c = self->guest + (PG_DATA + 2) * PG;
	uint32_t s1 = 0, abrt = 0, byp = 0, pt;
	size_t i;

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu,
				  STE0_V | STE0_CFG(STE_CFG_S1) |
				  (GUEST_IPA + PG_CD * PG), 0, &s1));
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_V | STE0_CFG(STE_CFG_ABORT),
				  0, &abrt));
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_V | STE0_CFG(STE_CFG_BYPASS),
				  0, &byp));
	for (i = 0; i < PG; i++)
		a[i] = (uint8_t)(i * 5 + 1);

	/*
	 * Bypass: the device uses IPAs.  The edu reaches 28 bits only, so
	 * guest RAM is mapped a second time at a low IPA.
	 */
	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas_id, self->guest,
				  GUEST_PAGES * PG, 0x200000));
	pt = byp;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	memset(c, 0, PG);
	ASSERT_EQ(0, edu_dma(&self->edu, 0x200000 + PG_DATA * PG, PG, false,
			     false, TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, 0x200000 + (PG_DATA + 2) * PG, PG,
			     true, false, TIMEOUT_MS));
	EXPECT_EQ(0, memcmp(a, c, PG));

	/* Abort: nothing moves */
	pt = abrt;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	memset(c, 0, PG);
	ASSERT_EQ(0, edu_dma(&self->edu, 0x200000 + (PG_DATA + 2) * PG, PG,
			     true, false, TIMEOUT_MS));
	for (i = 0; i < PG; i++)
		ASSERT_EQ(0, c[i]);

	/* Stage 1 again */
	pt = s1;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	memset(b, 0, PG);
	ASSERT_EQ(0, edu_dma(&self->edu, VA_DATA, PG, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(&self->edu, VA_DATA + PG, PG, true, false,
			     TIMEOUT_MS));
	EXPECT_EQ(0, memcmp(a, b, PG));

	/* The parent itself */
	pt = self->parent;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	memset(c, 0, PG);
	ASSERT_EQ(0, edu_dma(&self->edu, 0x200000 + (PG_DATA + 2) * PG, PG,
			     true, false, TIMEOUT_MS));
	EXPECT_EQ(0, memcmp(a, c, PG));

	/* In use: -EBUSY; not any more after moving away */
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, self->parent));
	EXPECT_EQ(0, destroy(self->iommufd, s1));
	EXPECT_EQ(0, destroy(self->iommufd, abrt));
	EXPECT_EQ(0, destroy(self->iommufd, byp));
}

/* Read a page through @va into the device, write it back to VA_DATA */
static int copy_via(struct edu_dev *edu, uint64_t va)
{
	int ret = edu_dma(edu, va, PG, false, false, TIMEOUT_MS);

	return ret ?: edu_dma(edu, VA_DATA, PG, true, false, TIMEOUT_MS);
}

/*
 * The guest changes a stage-1 PTE and invalidates through the vIOMMU: the
 * device then uses the new translation.  Then the command rules.
 */
TEST_F(nested_guest, invalidate)
{
	struct iommu_viommu_arm_smmuv3_invalidate cmds[4];
	struct iommu_hwpt_invalidate bad = {
		.size = sizeof(bad),
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
		.entry_len = sizeof(cmds[0]),
		.entry_num = 1,
	};
	uint64_t *l3 = guest_page(self->guest, PG_L3);
	uint8_t *a = self->guest + PG_DATA * PG;
	uint8_t *b = self->guest + (PG_DATA + 1) * PG;
	uint8_t *c = self->guest + (PG_DATA + 2) * PG;
	uint64_t va = VA_DATA + PG;
	uint32_t hwpt = 0, num;

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu,
				  STE0_V | STE0_CFG(STE_CFG_S1) |
				  (GUEST_IPA + PG_CD * PG), 0, &hwpt));
	ASSERT_EQ(0, edu_attach(&self->edu, &hwpt));
	memset(b, 0xbb, PG);
	memset(c, 0xcc, PG);

	ASSERT_EQ(0, copy_via(&self->edu, va));
	ASSERT_EQ(0xbb, a[0]);
	ASSERT_EQ(0, memcmp(a, b, PG));

	/* va now points at data page 6; tell the SMMU */
	l3[(va >> 12) & 511] = (GUEST_IPA + (PG_DATA + 2) * PG) | PTE_PAGE |
			       PTE_ATTR(0) | PTE_LEAF;
	edu_dma_barrier();
	cmds[0].cmd[0] = CMD_TLBI_NH_VA | CMD_ASID(1);
	cmds[0].cmd[1] = va | CMD_LEAF;
	num = 1;
	ASSERT_EQ(0, viommu_invalidate(self->iommufd, self->viommu, cmds,
				       &num));
	ASSERT_EQ(1, num);
	ASSERT_EQ(0, copy_via(&self->edu, va));
	ASSERT_EQ(0xcc, a[0]) TH_LOG("the old translation is still used");
	ASSERT_EQ(0, memcmp(a, c, PG));

	/* entry_num = 0 probes */
	num = 0;
	EXPECT_EQ(0, viommu_invalidate(self->iommufd, self->viommu, cmds,
				       &num));
	EXPECT_EQ(0, num);
	/* The guest's stream ID (vDEVICE 0x8) is accepted, others are not */
	cmds[0].cmd[0] = CMD_CFGI_CD | CMD_SID(0x8);
	cmds[0].cmd[1] = CMD_LEAF;
	cmds[1].cmd[0] = CMD_TLBI_NSNH_ALL;
	cmds[1].cmd[1] = 0;
	cmds[2].cmd[0] = CMD_CFGI_CD | CMD_SID(0x99);
	cmds[2].cmd[1] = CMD_LEAF;
	num = 3;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(2, num);
	/*
	 * The host has ATS off for the edu: its ATC_INV is not issued, and
	 * counts as done, also among other commands
	 */
	cmds[0].cmd[0] = CMD_ATC_INV | CMD_SID(0x8);
	cmds[0].cmd[1] = 0;
	num = 1;
	EXPECT_EQ(0, viommu_invalidate(self->iommufd, self->viommu, cmds,
				       &num));
	EXPECT_EQ(1, num);
	cmds[1].cmd[0] = CMD_TLBI_NSNH_ALL;
	cmds[1].cmd[1] = 0;
	cmds[2].cmd[0] = CMD_ATC_INV | CMD_SID(0x8);
	cmds[2].cmd[1] = 0;
	cmds[3].cmd[0] = CMD_ATC_INV | CMD_SID(0x99);
	cmds[3].cmd[1] = 0;
	num = 4;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(3, num);
	/*
	 * A reserved bit would make the SMMU refuse the command and the host
	 * log it: refused before it gets there
	 */
	cmds[0].cmd[0] = CMD_TLBI_NSNH_ALL;
	cmds[0].cmd[1] = 0;
	cmds[1].cmd[0] = CMD_TLBI_NH_VA | CMD_ASID(1) | (1ULL << 8);
	cmds[1].cmd[1] = va | CMD_LEAF;
	num = 2;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(1, num);
	cmds[0].cmd[0] = CMD_CFGI_CD | CMD_SID(0x8);
	cmds[0].cmd[1] = CMD_LEAF | (1ULL << 1);
	num = 1;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(0, num);
	cmds[0].cmd[0] = CMD_TLBI_NSNH_ALL;
	cmds[0].cmd[1] = 1;
	num = 1;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(0, num);
	/* ATC_INV and CFGI_CD_ALL name a stream ID too */
	cmds[0].cmd[0] = CMD_ATC_INV | CMD_SID(0x99);
	cmds[0].cmd[1] = 0;
	num = 1;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(0, num);
	cmds[0].cmd[0] = CMD_CFGI_CD_ALL | CMD_SID(0x99);
	num = 1;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(0, num);
	cmds[0].cmd[0] = CMD_CFGI_CD | CMD_SID(0x8);
	cmds[0].cmd[1] = CMD_LEAF;
	cmds[1].cmd[0] = CMD_TLBI_NSNH_ALL;
	cmds[1].cmd[1] = 0;
	/* A command the guest may not send stops the request there */
	cmds[1].cmd[0] = CMD_CFGI_STE | CMD_SID(0x8);
	num = 3;
	EXPECT_EQ(-EIO, viommu_invalidate(self->iommufd, self->viommu, cmds,
					  &num));
	EXPECT_EQ(1, num);
	/* Another data type */
	bad.hwpt_id = self->viommu;
	bad.data_uptr = (uintptr_t)cmds;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_HWPT_INVALIDATE, &bad));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, bad.entry_num);
	/* A probe (entry_num = 0) of another data type fails the same way */
	bad.entry_num = 0;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_HWPT_INVALIDATE, &bad));
	EXPECT_EQ(EINVAL, errno);
	/* Entries shorter or longer than a command */
	bad.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
	bad.entry_num = 1;
	bad.entry_len = 8;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_HWPT_INVALIDATE, &bad));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, bad.entry_num);
	bad.entry_num = 1;
	bad.entry_len = 24;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_HWPT_INVALIDATE, &bad));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, bad.entry_num);
}

/*
 * MSIs under nesting: the doorbell is mapped in the parent's stage 2, in
 * its software MSI window, which the guest identity-maps in stage 1 (its
 * RMR).  Without that identity mapping the MSI does not arrive.
 */
TEST_F(nested_guest, msi)
{
	struct iommu_viommu_arm_smmuv3_invalidate tlbi = {
		.cmd = { CMD_TLBI_NSNH_ALL, 0 },
	};
	uint64_t *l2 = guest_page(self->guest, PG_L2);
	uint32_t hwpt = 0, num = 1;
	uint64_t doorbell = 0;
	int efd;

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu,
				  STE0_V | STE0_CFG(STE_CFG_S1) |
				  (GUEST_IPA + PG_CD * PG), 0, &hwpt));
	ASSERT_EQ(0, edu_attach(&self->edu, &hwpt));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, edu_set_msi(&self->edu, efd));
	ASSERT_EQ(0, edu_msi_address(self->edu.bdf, &doorbell));
	TH_LOG("MSI doorbell at 0x%llx (stage-1 VA = IPA)",
	       (unsigned long long)doorbell);
	ASSERT_LE(ARM_SW_MSI_START, doorbell);
	ASSERT_GT(ARM_SW_MSI_START + ARM_SW_MSI_SIZE, doorbell);

	edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 1);
	ASSERT_EQ(1, edu_wait_eventfd(efd, TIMEOUT_MS));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 1);

	/* The guest drops its identity mapping of the window */
	l2[ARM_SW_MSI_START >> 21] = 0;
	edu_dma_barrier();
	ASSERT_EQ(0, viommu_invalidate(self->iommufd, self->viommu, &tlbi,
				       &num));
	edu_write32(&self->edu, EDU_REG_IRQ_RAISE, 1);
	EXPECT_EQ(0, edu_wait_eventfd(efd, 500));
	edu_write32(&self->edu, EDU_REG_IRQ_ACK, 1);
	ASSERT_EQ(0, edu_set_msi(&self->edu, -1));
	close(efd);
}

#ifdef IOMMU_VEVENTQ_ALLOC
static int veventq_alloc(int iommufd, uint32_t viommu, uint32_t type,
			 uint32_t depth, uint32_t *id, int *fd)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu,
		.type = type,
		.veventq_depth = depth,
	};

	if (ioctl(iommufd, IOMMU_VEVENTQ_ALLOC, &cmd))
		return -errno;
	*id = cmd.out_veventq_id;
	*fd = cmd.out_veventq_fd;
	return 0;
}

struct smmu_vevent {
	struct iommufd_vevent_header hdr;
	struct iommu_vevent_arm_smmuv3 rec;
};

/*
 * Wait up to @ms for events, then read until the queue is empty; the
 * records go to @evs (lost-events headers too, without their record),
 * at most @max.  How many records, or -errno.
 */
static int read_vevents(int fd, struct smmu_vevent *evs, int max, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t buf[16 * sizeof(*evs)];
	int n = 0;

	if (poll(&pfd, 1, ms) < 0)
		return -errno;
	while (true) {
		ssize_t got = read(fd, buf, sizeof(buf)), off = 0;

		if (got < 0)
			return -errno;
		if (!got)
			return n;
		while (off < got) {
			struct smmu_vevent ev = {};

			if (got - off < (ssize_t)sizeof(ev.hdr))
				return -EIO;
			memcpy(&ev.hdr, buf + off, sizeof(ev.hdr));
			off += sizeof(ev.hdr);
			if (!(ev.hdr.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS)) {
				if (got - off < (ssize_t)sizeof(ev.rec))
					return -EIO;
				memcpy(&ev.rec, buf + off, sizeof(ev.rec));
				off += sizeof(ev.rec);
			}
			if (n < max)
				evs[n] = ev;
			n++;
		}
	}
}

#define EVT_ID(e)	((e)->rec.evt[0] & 0xff)
#define EVT_SID(e)	((e)->rec.evt[0] >> 32)
#define EVT_S2		0x8000000000ULL	/* bit 39 */
#define EVT_RNW		0x800000000ULL	/* bit 35 */
#define EVT_F_TRANSLATION 0x10

/*
 * vEVENTQ end to end: the device's DMA to an IOVA the guest's stage 1 does
 * not map is an F_TRANSLATION record in the guest's vEVENTQ, with the
 * guest's StreamID (the vDEVICE's virt_id) and the faulting IOVA; a fault
 * at stage 2 (bypass vSTE, an IPA the VMM does not map) stays the host's.
 */
TEST_F(nested_guest, vevent)
{
	struct smmu_vevent evs[8], late[8];
	uint32_t s1 = 0, byp = 0, pt, id = 0, id2, next;
	int fd = -1, fd2, n, m;

	/* The SMMUv3 vIOMMU reports its own type of events only */
	EXPECT_EQ(-EOPNOTSUPP, veventq_alloc(self->iommufd, self->viommu,
					     0xbeefbeef, 8, &id2, &fd2));
	ASSERT_EQ(0, veventq_alloc(self->iommufd, self->viommu,
				   IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &id, &fd));
	EXPECT_EQ(-EEXIST, veventq_alloc(self->iommufd, self->viommu,
					 IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &id2,
					 &fd2));

	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu,
				  STE0_V | STE0_CFG(STE_CFG_S1) |
				  (GUEST_IPA + PG_CD * PG),
				  STE1_S1CIR_WBRA | STE1_S1COR_WBRA |
				  STE1_S1CSH_ISH, &s1));
	pt = s1;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	ASSERT_EQ(0, read_vevents(fd, evs, 8, 0));
	/* A short DMA: the emulated SMMU records a fault per access */
	ASSERT_EQ(0, edu_dma(&self->edu, VA_UNMAPPED, 8, true, false,
			     TIMEOUT_MS));
	n = read_vevents(fd, evs, 8, TIMEOUT_MS);
	ASSERT_LE(1, n) TH_LOG("no event for a stage-1 translation fault");
	ASSERT_GE(8, n);
	next = evs[n - 1].hdr.sequence + 1;
	EXPECT_EQ(0, evs[0].hdr.flags);
	EXPECT_EQ(0, evs[0].hdr.sequence);
	EXPECT_EQ(EVT_F_TRANSLATION, EVT_ID(&evs[0]));
	EXPECT_EQ(0x8, EVT_SID(&evs[0]));
	EXPECT_EQ(0, evs[0].rec.evt[1] & (EVT_S2 | EVT_RNW));
	EXPECT_EQ(VA_UNMAPPED, evs[0].rec.evt[2]);
	/*
	 * Records of that DMA still on their way (the first read returns with
	 * the first of them): the same fault, numbered on
	 */
	while ((m = read_vevents(fd, late, 8, 200)) > 0) {
		ASSERT_GE(8, m);
		EXPECT_EQ(next, late[0].hdr.sequence);
		EXPECT_EQ(VA_UNMAPPED, late[m - 1].rec.evt[2]);
		next = late[m - 1].hdr.sequence + 1;
	}
	ASSERT_EQ(0, m);
	/* A mapped address still works, and raises nothing */
	ASSERT_EQ(0, edu_dma(&self->edu, VA_DATA, PG, false, false,
			     TIMEOUT_MS));
	EXPECT_EQ(0, read_vevents(fd, evs, 8, 100));

	/*
	 * Stage 2 (bypass): an IPA the VMM never mapped is the host's.  The
	 * next stage-1 fault then gets the next number: nothing was queued
	 * for the guest in between, not even as lost.
	 */
	ASSERT_EQ(0, nested_alloc(self->iommufd, self->edu.dev_id,
				  self->viommu, STE0_V | STE0_CFG(STE_CFG_BYPASS),
				  0, &byp));
	pt = byp;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	ASSERT_EQ(0, edu_dma(&self->edu, VA_UNMAPPED, 8, true, false,
			     TIMEOUT_MS));
	EXPECT_EQ(0, read_vevents(fd, evs, 8, 200));
	pt = s1;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	ASSERT_EQ(0, edu_dma(&self->edu, VA_UNMAPPED, 8, true, false,
			     TIMEOUT_MS));
	ASSERT_LE(1, read_vevents(fd, evs, 8, TIMEOUT_MS));
	EXPECT_EQ(next, evs[0].hdr.sequence);
	EXPECT_EQ(EVT_F_TRANSLATION, EVT_ID(&evs[0]));

	/* The queue holds its vIOMMU until it is closed and destroyed */
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, id));
	close(fd);
	EXPECT_EQ(0, destroy(self->iommufd, id));
	pt = self->ioas_id;
	ASSERT_EQ(0, edu_attach(&self->edu, &pt));
	EXPECT_EQ(0, destroy(self->iommufd, s1));
	EXPECT_EQ(0, destroy(self->iommufd, byp));
}
#endif

TEST_HARNESS_MAIN
