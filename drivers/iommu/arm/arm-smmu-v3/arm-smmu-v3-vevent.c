// SPDX-License-Identifier: GPL-2.0
/*
 * A guest's own events, for iommufd's vEVENTQ: the stage-1 faults and
 * configuration errors of devices attached to a vIOMMU's nested domain.
 */
#include <linux/bitfield.h>
#include <linux/iommufd.h>
#include <uapi/linux/iommufd.h>

#include "arm-smmu-v3.h"

/**
 * arm_vsmmu_forward_event() - hand a guest an event of its device
 * @master: the device the event names (its StreamID)
 * @evt: the event record
 *
 * An event arm_vsmmu_event_is_guests() accepted (the caller asks it
 * first, before it takes any lock) goes to the vIOMMU of the nested
 * domain the device is attached to, with the guest's StreamID: the
 * virt_id of the device's vDEVICE there, looked up now, so that a vDEVICE
 * destroyed and made anew is seen.  Without a vDEVICE (an abort or bypass
 * vSTE) the event is the host's.  The vEVENTQ's depth bounds what the
 * guest can make the host hold.  Caller holds smmu->streams_mutex.
 *
 * Return: 0 if the guest got the event (or it was counted as lost),
 * -EOPNOTSUPP if it is the host's to handle or user space has no vEVENTQ
 * for it, -ENOMEM if it was dropped for lack of memory.
 */
int arm_vsmmu_forward_event(struct arm_smmu_master *master, const u64 *evt)
{
	struct iommufd_viommu_drv *viommu = master->vevent_viommu;
	struct iommu_vevent_arm_smmuv3 rec;
	u64 vsid;
	int i;

	lockdep_assert_held(&master->smmu->streams_mutex);

	if (!viommu || viommu->get_virt_id(viommu, master->dev, &vsid) ||
	    vsid > FIELD_MAX(EVTQ_0_SID))
		return -EOPNOTSUPP;

	rec.evt[0] = cpu_to_le64((evt[0] & ~EVTQ_0_SID) |
				 FIELD_PREP(EVTQ_0_SID, vsid));
	for (i = 1; i < ARRAY_SIZE(rec.evt); i++)
		rec.evt[i] = cpu_to_le64(evt[i]);
	return viommu->report_event(viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
				    &rec, sizeof(rec));
}
