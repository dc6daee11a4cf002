/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VMM and its guest on an ARM SMMUv3 with nested translation, for the
 * tests and the demo that play both: wrappers of the iommufd ioctls a VMM
 * issues (nest parent, vIOMMU, vDEVICE, nested HWPT from a guest STE,
 * invalidation through the vIOMMU), and a guest's context descriptor table
 * and AArch64 stage-1 page tables built in its RAM.
 */
#ifndef __SELFTEST_IOMMU_SMMUV3_GUEST_H
#define __SELFTEST_IOMMU_SMMUV3_GUEST_H

#include "vfio_edu.h"

static inline int hwpt_alloc(int iommufd, uint32_t dev_id, uint32_t pt_id,
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

static inline int viommu_alloc(int iommufd, uint32_t dev_id, uint32_t hwpt_id,
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

static inline int vdevice_alloc(int iommufd, uint32_t viommu_id,
				uint32_t dev_id, uint64_t virt_id,
				uint32_t *vdev_id)
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

static inline int destroy(int iommufd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &cmd) ? -errno : 0;
}

/*
 * Playing the guest: a context descriptor table and AArch64 stage-1 page
 * tables (4 KiB granule, 39-bit VA) built in "guest RAM", which the VMM
 * maps into the nest parent's IOAS at GUEST_IPA.  Layout, one page each:
 * the CD table, the level 1, 2 and 3 tables, then data pages.
 */
#define GUEST_IPA	0x40000000ULL
#define GUEST_PAGES	8
#define PG		4096ULL
#define PG_CD		0
#define PG_L1		1
#define PG_L2		2
#define PG_L3		3
#define PG_DATA		4	/* data pages: 4, 5, 6 */
#define VA_DATA		0x100000ULL	/* -> data pages 4 and 5 */
#define VA_UNMAPPED	0x300000ULL

/* Stage-1 descriptors */
#define PTE_TABLE	0x3ULL
#define PTE_PAGE	0x3ULL
#define PTE_BLOCK	0x1ULL
#define PTE_ATTR(i)	((uint64_t)(i) << 2)
#define PTE_AP_RW_ALL	(0x1ULL << 6)
#define PTE_SH_INNER	(0x3ULL << 8)
#define PTE_AF		(0x1ULL << 10)
#define PTE_LEAF	(PTE_AP_RW_ALL | PTE_SH_INNER | PTE_AF)

/* Context descriptor, word 0 */
#define CD0_T0SZ(x)	((uint64_t)(x))
#define CD0_IRGN0_WBWA	(0x1ULL << 8)
#define CD0_ORGN0_WBWA	(0x1ULL << 10)
#define CD0_SH0_INNER	(0x3ULL << 12)
#define CD0_EPD1	(0x1ULL << 30)
#define CD0_V		(0x1ULL << 31)
#define CD0_IPS_40BIT	(0x2ULL << 32)
#define CD0_AA64	(0x1ULL << 41)
#define CD0_R		(0x1ULL << 45)
#define CD0_A		(0x1ULL << 46)
#define CD0_ASET	(0x1ULL << 47)
#define CD0_ASID(x)	((uint64_t)(x) << 48)
/* MAIR: attribute 0 normal write-back, 1 device-nGnRE */
#define GUEST_MAIR	0x04ffULL

/* Stream table entry, words 0 and 1 */
#define STE0_V		0x1ULL
#define STE0_CFG(x)	((uint64_t)(x) << 1)
#define STE_CFG_ABORT	0
#define STE_CFG_BYPASS	4
#define STE_CFG_S1	5
#define STE1_S1CIR_WBRA	(0x1ULL << 2)
#define STE1_S1COR_WBRA	(0x1ULL << 4)
#define STE1_S1CSH_ISH	(0x3ULL << 6)

static inline uint64_t *guest_page(uint8_t *guest, unsigned int pg)
{
	return (uint64_t *)(guest + pg * PG);
}

/* The guest's tables: VA_DATA -> data page 4, VA_DATA + 4K -> page 5 */
static inline void guest_build_tables(uint8_t *guest)
{
	uint64_t *cd = guest_page(guest, PG_CD);
	uint64_t *l1 = guest_page(guest, PG_L1);
	uint64_t *l2 = guest_page(guest, PG_L2);
	uint64_t *l3 = guest_page(guest, PG_L3);

	memset(guest, 0, PG_DATA * PG);
	cd[0] = CD0_T0SZ(25) | CD0_IRGN0_WBWA | CD0_ORGN0_WBWA |
		CD0_SH0_INNER | CD0_EPD1 | CD0_V | CD0_IPS_40BIT | CD0_AA64 |
		CD0_R | CD0_A | CD0_ASET | CD0_ASID(1);
	cd[1] = GUEST_IPA + PG_L1 * PG;
	cd[3] = GUEST_MAIR;
	l1[0] = (GUEST_IPA + PG_L2 * PG) | PTE_TABLE;
	l2[VA_DATA >> 21] = (GUEST_IPA + PG_L3 * PG) | PTE_TABLE;
	l3[(VA_DATA >> 12) & 511] = (GUEST_IPA + PG_DATA * PG) | PTE_PAGE |
				    PTE_ATTR(0) | PTE_LEAF;
	l3[((VA_DATA >> 12) + 1) & 511] = (GUEST_IPA + (PG_DATA + 1) * PG) |
					  PTE_PAGE | PTE_ATTR(0) | PTE_LEAF;
	/* The software MSI window, identity-mapped (the guest's RMR) */
	l2[ARM_SW_MSI_START >> 21] = ARM_SW_MSI_START | PTE_BLOCK |
				     PTE_ATTR(1) | PTE_LEAF;
	edu_dma_barrier();
}

static inline int nested_alloc(int iommufd, uint32_t dev_id, uint32_t viommu,
			       uint64_t ste0, uint64_t ste1, uint32_t *hwpt_id)
{
	struct iommu_hwpt_arm_smmuv3 ste = { .ste = { ste0, ste1 } };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.pt_id = viommu,
		.data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
		.data_len = sizeof(ste),
		.data_uptr = (uintptr_t)&ste,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -errno;
	*hwpt_id = cmd.out_hwpt_id;
	return 0;
}

/* Guest commands (SMMUv3 command queue format) */
#define CMD_TLBI_NH_VA		0x12
#define CMD_TLBI_NSNH_ALL	0x30
#define CMD_CFGI_CD		0x05
#define CMD_CFGI_STE		0x03
#define CMD_CFGI_CD_ALL		0x06
#define CMD_ATC_INV		0x40
#define CMD_ASID(x)		((uint64_t)(x) << 48)
#define CMD_SID(x)		((uint64_t)(x) << 32)
#define CMD_LEAF		0x1ULL

static inline int
viommu_invalidate(int iommufd, uint32_t viommu,
		  struct iommu_viommu_arm_smmuv3_invalidate *cmds,
		  uint32_t *num)
{
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.hwpt_id = viommu,
		.data_uptr = (uintptr_t)cmds,
		.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
		.entry_len = sizeof(*cmds),
		.entry_num = *num,
	};
	int rc = ioctl(iommufd, IOMMU_HWPT_INVALIDATE, &inv) ? -errno : 0;

	*num = inv.entry_num;
	return rc;
}

#endif /* __SELFTEST_IOMMU_SMMUV3_GUEST_H */
