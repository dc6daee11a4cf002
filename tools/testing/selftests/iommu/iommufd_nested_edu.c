// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of iommufd's ARM SMMUv3 nesting support with QEMU's edu
 * device assigned through vfio-pci, on an emulated SMMUv3 that implements
 * both stages (arm-smmuv3.stage=nested): what a VMM reads about the SMMU,
 * and the stage-2 nest parent a guest-owned stage 1 sits on.
 *
 * Elsewhere the tests skip, naming what is missing.
 */
#include <stdint.h>

#include "../kselftest_harness.h"
#include "vfio_edu.h"

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

static int hwpt_alloc(int iommufd, uint32_t dev_id, uint32_t pt_id,
		      uint32_t flags, uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -errno;
	*hwpt_id = cmd.out_hwpt_id;
	return 0;
}

/* IOMMU_GET_HW_INFO: the SMMU's ID registers */
TEST_F(nested_edu, hw_info)
{
	struct iommu_hw_info_arm_smmuv3 info, small;
	uint32_t len = sizeof(info), type = 0;

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
	{
		uint8_t big[sizeof(info) + 16];
		size_t i;

		memset(big, 0xa5, sizeof(big));
		len = sizeof(big);
		ASSERT_EQ(0, get_hw_info(self->iommufd, self->edu.dev_id, big,
					 &len, &type));
		EXPECT_EQ(sizeof(info), len);
		EXPECT_EQ(0, memcmp(big, &info, sizeof(info)));
		for (i = sizeof(info); i < sizeof(big); i++)
			EXPECT_EQ(0, big[i]);
	}
}

/*
 * IOMMU_HWPT_ALLOC_NEST_PARENT: a stage-2 domain, which the device can use
 * on its own too: DMA and MSIs go through it.
 */
TEST_F(nested_edu, nest_parent)
{
	uint64_t doorbell = 0;
	uint32_t parent, hwpt;
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

static int viommu_alloc(int iommufd, uint32_t dev_id, uint32_t hwpt_id,
			uint32_t type, uint32_t *viommu_id)
{
	struct iommu_viommu_alloc cmd = {
		.size = sizeof(cmd),
		.type = type,
		.dev_id = dev_id,
		.hwpt_id = hwpt_id,
	};

	if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &cmd))
		return -errno;
	*viommu_id = cmd.out_viommu_id;
	return 0;
}

static int vdevice_alloc(int iommufd, uint32_t viommu_id, uint32_t dev_id,
			 uint64_t virt_id, uint32_t *vdev_id)
{
	struct iommu_vdevice_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.dev_id = dev_id,
		.virt_id = virt_id,
	};

	if (ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &cmd))
		return -errno;
	*vdev_id = cmd.out_vdevice_id;
	return 0;
}

static int destroy(int iommufd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &cmd) ? -errno : 0;
}

/*
 * IOMMU_VIOMMU_ALLOC on the SMMUv3: refused by default because the SMMU
 * has no S2FWB, allowed with the documented opt-in; IOMMU_VDEVICE_ALLOC
 * binds the device to a guest stream ID; objects in use cannot go.
 */
TEST_F(nested_edu, viommu)
{
	uint32_t parent, viommu, vdev, other;
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

TEST_HARNESS_MAIN
