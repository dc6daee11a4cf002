// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd support for the ARM SMMUv3: what a VMM needs to give its guest an
 * SMMUv3 whose stage 1 the guest owns, on top of a stage 2 the host keeps.
 */
#include <uapi/linux/iommufd.h>

#include "arm-smmu-v3.h"

/**
 * arm_smmu_hw_info() - report the SMMU's ID registers to user space
 * @dev: a device behind the SMMU
 * @length: set to the size of the returned structure
 * @type: set to IOMMU_HW_INFO_TYPE_ARM_SMMUV3
 *
 * Return: a struct iommu_hw_info_arm_smmuv3 the caller frees, or an
 * ERR_PTR.
 */
void *arm_smmu_hw_info(struct device *dev, u32 *length, u32 *type)
{
	struct arm_smmu_master *master = dev_iommu_priv_get(dev);
	void __iomem *base = master->smmu->base;
	struct iommu_hw_info_arm_smmuv3 *info;
	unsigned int i;

	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return ERR_PTR(-ENOMEM);

	/* SMMU_IDR0..SMMU_IDR5 are consecutive 32-bit registers */
	for (i = 0; i < ARRAY_SIZE(info->idr); i++)
		info->idr[i] = readl_relaxed(base + ARM_SMMU_IDR0 + 4 * i);
	info->iidr = readl_relaxed(base + ARM_SMMU_IIDR);
	info->aidr = readl_relaxed(base + ARM_SMMU_AIDR);

	*length = sizeof(*info);
	*type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
	return info;
}
