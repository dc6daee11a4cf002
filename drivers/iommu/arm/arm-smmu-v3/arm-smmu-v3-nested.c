// SPDX-License-Identifier: GPL-2.0
/*
 * Nested translation on the ARM SMMUv3 for iommufd: vIOMMUs, the part of
 * the SMMU a guest that owns stage 1 is given, on a stage-2 nest parent.
 */
#include <linux/iommufd.h>
#include <linux/moduleparam.h>
#include <uapi/linux/iommufd.h>

#include "arm-smmu-v3.h"

/*
 * VFIO does no cache maintenance for the memory of a guest: DMA must be
 * coherent whatever memory attributes the guest's stage 1 asks for.  The
 * SMMU guarantees that by forcing stage-2 write-back (S2FWB); without it a
 * guest-owned stage 1 could make DMA non-coherent, so vIOMMUs are refused.
 * Platforms known to be coherent anyway (all DMA snooped, as with QEMU's
 * emulated SMMU) may say so here.
 */
static bool assume_coherent_nesting;
module_param(assume_coherent_nesting, bool, 0644);
MODULE_PARM_DESC(assume_coherent_nesting,
		 "Allow vIOMMUs without S2FWB; only if all DMA is coherent [N]");

static int arm_vsmmu_init(struct iommufd_viommu_drv *viommu, struct device *dev)
{
	struct arm_smmu_master *master = dev_iommu_priv_get(dev);
	struct arm_smmu_device *smmu = master->smmu;
	struct arm_smmu_domain *parent;

	/* iommufd checked the parent is a nest parent from this driver */
	parent = to_smmu_domain(viommu->parent);
	if (!parent->nest_parent || parent->smmu != smmu)
		return -EINVAL;
	if (!(readl_relaxed(smmu->base + ARM_SMMU_IDR3) & IDR3_FWB) &&
	    !READ_ONCE(assume_coherent_nesting))
		return -EOPNOTSUPP;
	return 0;
}

const struct iommufd_viommu_ops arm_vsmmu_ops = {
	.type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
	.init = arm_vsmmu_init,
};
