// SPDX-License-Identifier: GPL-2.0
/*
 * Nested translation on the ARM SMMUv3 for iommufd: vIOMMUs, the part of
 * the SMMU a guest that owns stage 1 is given, on a stage-2 nest parent.
 */
#include <kunit/visibility.h>
#include <linux/bitfield.h>
#include <linux/iommu.h>
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
	if (!(smmu->features & ARM_SMMU_FEAT_S2FWB) &&
	    !READ_ONCE(assume_coherent_nesting))
		return -EOPNOTSUPP;
	return 0;
}

/* The guest STE fields a nested domain may carry */
#define VSTE_0_ALLOWED	(STRTAB_STE_0_V | STRTAB_STE_0_CFG |		\
			 STRTAB_STE_0_S1FMT | STRTAB_STE_0_S1CTXPTR_MASK |	\
			 STRTAB_STE_0_S1CDMAX)
#define VSTE_1_ALLOWED	(STRTAB_STE_1_S1DSS | STRTAB_STE_1_S1CIR |		\
			 STRTAB_STE_1_S1COR | STRTAB_STE_1_S1CSH |		\
			 STRTAB_STE_1_S1STALLD | STRTAB_STE_1_EATS)

/**
 * arm_smmu_make_nested_ste() - the physical STE for a guest's STE
 * @target: filled with the STE to install
 * @master: the device
 * @nested: the nested domain holding the guest's STE
 * @ats_enabled: whether ATS is enabled for the device (the guest asked for
 *	it and the host allows it)
 *
 * Abort (V = 0 or Config = abort) blocks; bypass is the parent's stage 2
 * alone; stage-1 translate is Config = nested: stage 2 and VMID from the
 * parent, stage 1 from the guest's context descriptor table.
 */
void arm_smmu_make_nested_ste(struct arm_smmu_ste *target,
			      struct arm_smmu_master *master,
			      struct arm_smmu_nested_domain *nested,
			      bool ats_enabled)
{
	u64 ste0 = le64_to_cpu(nested->ste[0]);
	u64 ste1 = le64_to_cpu(nested->ste[1]);
	unsigned int cfg = FIELD_GET(STRTAB_STE_0_CFG, ste0);

	if (!(ste0 & STRTAB_STE_0_V) || cfg == STRTAB_STE_0_CFG_ABORT) {
		arm_smmu_make_abort_ste(target);
		return;
	}

	arm_smmu_make_s2_domain_ste(target, master, nested->s2_parent,
				    ats_enabled);
	if (cfg == STRTAB_STE_0_CFG_BYPASS)
		return;

	/* EATS follows @ats_enabled, the guest decides the rest of stage 1 */
	target->data[0] = cpu_to_le64(STRTAB_STE_0_V |
				      FIELD_PREP(STRTAB_STE_0_CFG,
						 STRTAB_STE_0_CFG_NESTED) |
				      (ste0 & (STRTAB_STE_0_S1FMT |
					       STRTAB_STE_0_S1CTXPTR_MASK |
					       STRTAB_STE_0_S1CDMAX)));
	target->data[1] |= cpu_to_le64(ste1 & (VSTE_1_ALLOWED &
					       ~STRTAB_STE_1_EATS));
	/*
	 * Merge events: a guest that makes its device fault on every access
	 * fills the event queue, which the host shares, with far fewer
	 * records.
	 */
	target->data[1] |= cpu_to_le64(STRTAB_STE_1_MEV);
}
EXPORT_SYMBOL_IF_KUNIT(arm_smmu_make_nested_ste);

/*
 * ATS only where the guest enabled it (EATS) in a stage-1 STE; abort and
 * bypass STEs cannot use it.  The host still decides whether the device
 * may use ATS at all.
 */
static bool arm_smmu_nested_wants_ats(struct arm_smmu_nested_domain *nested)
{
	u64 ste0 = le64_to_cpu(nested->ste[0]);
	u64 ste1 = le64_to_cpu(nested->ste[1]);

	return (ste0 & STRTAB_STE_0_V) &&
	       FIELD_GET(STRTAB_STE_0_CFG, ste0) == STRTAB_STE_0_CFG_S1_TRANS &&
	       FIELD_GET(STRTAB_STE_1_EATS, ste1) == STRTAB_STE_1_EATS_TRANS;
}

static int arm_smmu_attach_dev_nested(struct iommu_domain *domain,
				      struct device *dev)
{
	struct arm_smmu_nested_domain *nested = to_smmu_nested_domain(domain);
	struct arm_smmu_master *master = dev_iommu_priv_get(dev);
	struct arm_smmu_attach_state state = {
		.master = master,
		.old_domain = iommu_get_domain_for_dev(dev),
		.disable_ats = !arm_smmu_nested_wants_ats(nested),
		.ssid = IOMMU_NO_PASID,
	};
	struct arm_smmu_ste ste;
	int ret;

	if (nested->s2_parent->smmu != master->smmu)
		return -EINVAL;
	/* The guest learns of the device's stage-1 faults from now on */
	arm_vsmmu_attach_events(&state, nested);
	/* The guest's CD table replaces the host's: no PASIDs may be in use */
	if (arm_smmu_ssids_in_use(&master->cd_table))
		return -EBUSY;

	mutex_lock(&arm_smmu_asid_lock);
	ret = arm_smmu_attach_prepare(&state, domain);
	if (ret) {
		mutex_unlock(&arm_smmu_asid_lock);
		return ret;
	}
	arm_smmu_make_nested_ste(&ste, master, nested, state.ats_enabled);
	arm_smmu_install_ste_for_dev(master, &ste);
	arm_smmu_attach_commit(&state);
	mutex_unlock(&arm_smmu_asid_lock);
	return 0;
}

static void arm_smmu_domain_nested_free(struct iommu_domain *domain)
{
	kfree(to_smmu_nested_domain(domain));
}

static const struct iommu_domain_ops arm_smmu_nested_ops = {
	.attach_dev = arm_smmu_attach_dev_nested,
	.free = arm_smmu_domain_nested_free,
};

/*
 * As mainline: an invalid vSTE (V = 0) aborts, whatever else it holds (it
 * is cleared); a valid one has only the fields mainline accepts, Config
 * abort, bypass or stage 1, and EATS abort or translated.  -EIO otherwise.
 */
static int arm_smmu_validate_vste(struct iommu_hwpt_arm_smmuv3 *arg)
{
	u64 ste0 = le64_to_cpu(arg->ste[0]);
	u64 ste1 = le64_to_cpu(arg->ste[1]);
	unsigned int cfg, eats;

	if (!(ste0 & STRTAB_STE_0_V)) {
		memset(arg->ste, 0, sizeof(arg->ste));
		return 0;
	}
	if ((ste0 & ~VSTE_0_ALLOWED) || (ste1 & ~VSTE_1_ALLOWED))
		return -EIO;
	cfg = FIELD_GET(STRTAB_STE_0_CFG, ste0);
	if (cfg != STRTAB_STE_0_CFG_ABORT && cfg != STRTAB_STE_0_CFG_BYPASS &&
	    cfg != STRTAB_STE_0_CFG_S1_TRANS)
		return -EIO;
	eats = FIELD_GET(STRTAB_STE_1_EATS, ste1);
	if (eats != STRTAB_STE_1_EATS_ABT && eats != STRTAB_STE_1_EATS_TRANS)
		return -EIO;
	return 0;
}

static struct iommu_domain *
arm_vsmmu_alloc_domain_nested(struct iommufd_viommu_drv *viommu,
			      struct device *dev, u32 flags,
			      const struct iommu_user_data *user_data)
{
	struct arm_smmu_nested_domain *nested;
	struct iommu_hwpt_arm_smmuv3 arg;
	int ret;

	if (flags)
		return ERR_PTR(-EOPNOTSUPP);
	ret = iommu_copy_struct_from_user(&arg, user_data,
					  IOMMU_HWPT_DATA_ARM_SMMUV3, ste);
	if (ret)
		return ERR_PTR(ret);
	ret = arm_smmu_validate_vste(&arg);
	if (ret)
		return ERR_PTR(ret);

	nested = kzalloc(sizeof(*nested), GFP_KERNEL_ACCOUNT);
	if (!nested)
		return ERR_PTR(-ENOMEM);
	nested->domain.type = IOMMU_DOMAIN_NESTED;
	nested->domain.ops = &arm_smmu_nested_ops;
	nested->s2_parent = to_smmu_domain(viommu->parent);
	nested->viommu = viommu;
	nested->ste[0] = arg.ste[0];
	nested->ste[1] = arg.ste[1];
	return &nested->domain;
}

/* A guest command not otherwise used by the driver */
#define CMDQ_OP_TLBI_NH_VAA	0x13
/* Commands rewritten per batch, each followed by room for the sync */
#define VSMMU_BATCH		32

/* A guest command that needs nothing done: it counts as carried out */
#define VSMMU_CMD_SKIP	1

/* The fields of each command a guest may send; every other bit is RES0 */
#define VSMMU_TLBI_0	(CMDQ_0_OP | CMDQ_TLBI_0_VMID)
#define VSMMU_TLBI_VA_0	(VSMMU_TLBI_0 | CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE)
#define VSMMU_TLBI_VA_1	(CMDQ_TLBI_1_LEAF | CMDQ_TLBI_1_TTL | CMDQ_TLBI_1_TG | \
			 CMDQ_TLBI_1_VA_MASK)
#define VSMMU_CFGI_0	(CMDQ_0_OP | CMDQ_CFGI_0_SSID | CMDQ_CFGI_0_SID)
#define VSMMU_ATC_0	(CMDQ_0_OP | CMDQ_0_SSV | CMDQ_ATC_0_SSID | \
			 CMDQ_ATC_0_SID | CMDQ_ATC_0_GLOBAL)
#define VSMMU_ATC_1	(CMDQ_ATC_1_SIZE | CMDQ_ATC_1_ADDR_MASK)

/*
 * Does a guest command set only fields of its opcode?  A reserved bit
 * makes the SMMU refuse the command (CERROR_ILL), which the host's queue
 * recovers from with an error message: a guest must not cause those.
 */
static bool arm_vsmmu_cmd_fields_ok(const u64 *cmd)
{
	u64 allowed0, allowed1 = 0;

	switch (FIELD_GET(CMDQ_0_OP, cmd[0])) {
	case CMDQ_OP_TLBI_NSNH_ALL:
		allowed0 = CMDQ_0_OP;
		break;
	case CMDQ_OP_TLBI_NH_ALL:
		allowed0 = VSMMU_TLBI_0;
		break;
	case CMDQ_OP_TLBI_NH_ASID:
		allowed0 = VSMMU_TLBI_0 | CMDQ_TLBI_0_ASID;
		break;
	case CMDQ_OP_TLBI_NH_VA:
		allowed0 = VSMMU_TLBI_VA_0 | CMDQ_TLBI_0_ASID;
		allowed1 = VSMMU_TLBI_VA_1;
		break;
	case CMDQ_OP_TLBI_NH_VAA:
		allowed0 = VSMMU_TLBI_VA_0;
		allowed1 = VSMMU_TLBI_VA_1;
		break;
	case CMDQ_OP_ATC_INV:
		allowed0 = VSMMU_ATC_0;
		allowed1 = VSMMU_ATC_1;
		break;
	case CMDQ_OP_CFGI_CD:
		allowed0 = VSMMU_CFGI_0;
		allowed1 = CMDQ_CFGI_1_LEAF;
		break;
	case CMDQ_OP_CFGI_CD_ALL:
		allowed0 = CMDQ_0_OP | CMDQ_CFGI_0_SID;
		break;
	default:
		return false;
	}
	return !(cmd[0] & ~allowed0) && !(cmd[1] & ~allowed1);
}

/*
 * Make a guest's command one the host may issue: the vIOMMU's VMID in TLBI
 * commands, the physical stream ID in ATC and CFGI commands.  -EIO for any
 * other command, one with a reserved bit set, or a stream ID with no
 * vDEVICE; VSMMU_CMD_SKIP for one that must not be issued.
 */
static int arm_vsmmu_convert_cmd(struct iommufd_viommu_drv *viommu,
				 struct arm_smmu_domain *s2, u64 *cmd)
{
	struct arm_smmu_master *master;
	struct device *dev;
	u32 vsid;

	if (!arm_vsmmu_cmd_fields_ok(cmd))
		return -EIO;

	switch (FIELD_GET(CMDQ_0_OP, cmd[0])) {
	case CMDQ_OP_TLBI_NSNH_ALL:
		/* The guest's "all": everything of its VMID */
		cmd[0] = FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ALL);
		cmd[1] = 0;
		fallthrough;
	case CMDQ_OP_TLBI_NH_ALL:
	case CMDQ_OP_TLBI_NH_ASID:
	case CMDQ_OP_TLBI_NH_VA:
	case CMDQ_OP_TLBI_NH_VAA:
		cmd[0] &= ~CMDQ_TLBI_0_VMID;
		cmd[0] |= FIELD_PREP(CMDQ_TLBI_0_VMID, s2->s2_cfg.vmid);
		return 0;
	case CMDQ_OP_ATC_INV:
	case CMDQ_OP_CFGI_CD:
	case CMDQ_OP_CFGI_CD_ALL:
		/* CMDQ_ATC_0_SID and CMDQ_CFGI_0_SID are the same field */
		vsid = FIELD_GET(CMDQ_CFGI_0_SID, cmd[0]);
		dev = viommu->find_dev(viommu, vsid);
		if (!dev)
			return -EIO;
		master = dev_iommu_priv_get(dev);
		if (!master->num_streams)
			return -EIO;
		/*
		 * An ATC invalidation sent to a device whose ATS the host has
		 * off would only time out: there is no ATC to invalidate.
		 */
		if (FIELD_GET(CMDQ_0_OP, cmd[0]) == CMDQ_OP_ATC_INV &&
		    !master->ats_enabled)
			return VSMMU_CMD_SKIP;
		cmd[0] &= ~CMDQ_CFGI_0_SID;
		cmd[0] |= FIELD_PREP(CMDQ_CFGI_0_SID, master->streams[0].id);
		return 0;
	default:
		return -EIO;
	}
}

/*
 * Issue the @*batched commands in @cmds; if they went, count the @*pending
 * guest entries they stand for (skipped ones included) in @*done.
 */
static int arm_vsmmu_issue(struct arm_smmu_device *smmu, u64 *cmds,
			   u32 *batched, u32 *pending, u32 *done)
{
	int ret = *batched ? arm_smmu_cmdq_issue_raw(smmu, cmds, *batched) : 0;

	if (!ret)
		*done += *pending;
	*batched = 0;
	*pending = 0;
	return ret;
}

static int arm_vsmmu_cache_invalidate(struct iommufd_viommu_drv *viommu,
				      struct iommu_user_data_array *array)
{
	struct arm_smmu_domain *s2 = to_smmu_domain(viommu->parent);
	struct iommu_viommu_arm_smmuv3_invalidate inv;
	u32 done = 0, batched = 0, pending = 0, i;
	u64 *cmds;
	int ret = 0;

	/* Also with entry_num = 0: a probe learns whether the type is known */
	if (array->type != IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3) {
		array->entry_num = 0;
		return -EINVAL;
	}
	if (!array->entry_num)
		return 0;	/* a probe: the type is supported */

	cmds = kcalloc(VSMMU_BATCH, CMDQ_ENT_DWORDS * sizeof(u64), GFP_KERNEL);
	if (!cmds)
		return -ENOMEM;

	for (i = 0; i < array->entry_num; i++) {
		u64 *cmd = &cmds[batched * CMDQ_ENT_DWORDS];

		ret = iommu_copy_struct_from_user_array(&inv, array,
							IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
							i, cmd);
		if (ret)
			break;
		cmd[0] = le64_to_cpu(inv.cmd[0]);
		cmd[1] = le64_to_cpu(inv.cmd[1]);
		ret = arm_vsmmu_convert_cmd(viommu, s2, cmd);
		if (ret < 0)
			break;
		pending++;
		if (ret == VSMMU_CMD_SKIP) {
			ret = 0;
			continue;
		}
		if (++batched == VSMMU_BATCH) {
			ret = arm_vsmmu_issue(s2->smmu, cmds, &batched,
					      &pending, &done);
			if (ret)
				break;
		}
	}
	/* What was converted before an error is still carried out */
	if (pending) {
		int err = arm_vsmmu_issue(s2->smmu, cmds, &batched, &pending,
					  &done);

		if (!ret)
			ret = err;
	}
	array->entry_num = done;
	kfree(cmds);
	return ret;
}

/*
 * A device attaches to a translating vSTE only with its vDEVICE (the guest's
 * stream ID for its CD and ATC invalidations); abort and bypass vSTEs are
 * what a guest uses before it knows the device, as in mainline.
 */
static bool arm_vsmmu_needs_vdevice(struct iommufd_viommu_drv *viommu,
				    struct iommu_domain *domain)
{
	struct arm_smmu_nested_domain *nested = to_smmu_nested_domain(domain);
	unsigned int cfg = FIELD_GET(STRTAB_STE_0_CFG,
				     le64_to_cpu(nested->ste[0]));

	return cfg != STRTAB_STE_0_CFG_ABORT && cfg != STRTAB_STE_0_CFG_BYPASS;
}

const struct iommufd_viommu_ops arm_vsmmu_ops = {
	.type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
	.vevent_type = ARM_VSMMU_VEVENT_TYPE,
	.init = arm_vsmmu_init,
	.alloc_domain_nested = arm_vsmmu_alloc_domain_nested,
	.cache_invalidate = arm_vsmmu_cache_invalidate,
	.needs_vdevice = arm_vsmmu_needs_vdevice,
};
