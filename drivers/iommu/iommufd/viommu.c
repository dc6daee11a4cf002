// SPDX-License-Identifier: GPL-2.0
/*
 * vIOMMU and vDEVICE objects: the part of a physical IOMMU a VMM hands to a
 * guest that owns stage 1 (IOMMU_VIOMMU_ALLOC), and the IDs the guest uses
 * for the devices behind it (IOMMU_VDEVICE_ALLOC).
 *
 * Lifetimes: a vIOMMU holds its nest parent HWPT; each vDEVICE holds its
 * vIOMMU.  A vDEVICE does not hold its device: devices are unbound by
 * their kernel driver (VFIO) whenever user space closes them, so unbinding
 * destroys the device's vDEVICE, as in mainline: its virt_id is free
 * again, and its object ID stays taken (a tombstone) so that a later
 * IOMMU_DESTROY of it gets -ENOENT.
 */
#include <linux/iommu.h>
#include <linux/iommufd.h>

#include "iommufd_private.h"

void iommufd_viommu_destroy(struct iommufd_object *obj)
{
	struct iommufd_viommu *viommu =
		container_of(obj, struct iommufd_viommu, obj);

	if (viommu->ops->destroy)
		viommu->ops->destroy(&viommu->drv);
	/* vDEVICEs hold references: none is left */
	WARN_ON(!xa_empty(&viommu->vdevs));
	xa_destroy(&viommu->vdevs);
	refcount_dec(&viommu->hwpt->common.obj.users);
}

/* iommufd_viommu_drv.find_dev: a vDEVICE's device, under viommu_lock */
static struct device *viommu_find_dev(struct iommufd_viommu_drv *drv,
				      u64 virt_id)
{
	struct iommufd_viommu *viommu =
		container_of(drv, struct iommufd_viommu, drv);
	struct iommufd_vdevice *vdev;

	lockdep_assert_held(&viommu->ictx->viommu_lock);

	if ((unsigned long)virt_id != virt_id)
		return NULL;
	vdev = xa_load(&viommu->vdevs, (unsigned long)virt_id);
	return vdev && vdev->idev ? vdev->idev->dev : NULL;
}

/*
 * IOMMU_HWPT_INVALIDATE on a vIOMMU: the driver carries out the guest's
 * requests; the vDEVICEs (guest IDs) hold still while it does.
 */
int iommufd_viommu_invalidate(struct iommufd_viommu *viommu,
			      struct iommu_user_data_array *array)
{
	int rc;

	if (!viommu->ops->cache_invalidate) {
		/* Nothing was done: entry_num goes back to user space as 0 */
		array->entry_num = 0;
		return -EOPNOTSUPP;
	}
	mutex_lock(&viommu->ictx->viommu_lock);
	rc = viommu->ops->cache_invalidate(&viommu->drv, array);
	mutex_unlock(&viommu->ictx->viommu_lock);
	return rc;
}

int iommufd_viommu_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_viommu_alloc *cmd = ucmd->cmd;
	const struct iommufd_viommu_ops *ops;
	struct iommufd_hwpt_paging *hwpt;
	struct iommufd_viommu *viommu;
	struct iommufd_device *idev;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;

	idev = iommufd_get_device(ucmd, cmd->dev_id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);

	ops = dev_iommu_ops(idev->dev)->viommu_ops;
	if (!ops || cmd->type == IOMMU_VIOMMU_TYPE_DEFAULT ||
	    ops->type != cmd->type) {
		rc = -EOPNOTSUPP;
		goto out_put_idev;
	}

	hwpt = iommufd_get_hwpt_paging(ucmd, cmd->hwpt_id);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_put_idev;
	}
	if (!hwpt->nest_parent ||
	    hwpt->common.domain->owner != dev_iommu_ops(idev->dev)) {
		rc = -EINVAL;
		goto out_put_hwpt;
	}

	viommu = iommufd_object_alloc(ucmd->ictx, viommu, IOMMUFD_OBJ_VIOMMU);
	if (IS_ERR(viommu)) {
		rc = PTR_ERR(viommu);
		goto out_put_hwpt;
	}
	viommu->ictx = ucmd->ictx;
	viommu->ops = ops;
	xa_init(&viommu->vdevs);
	viommu->drv.type = cmd->type;
	viommu->drv.parent = hwpt->common.domain;
	viommu->drv.iommu_dev = idev->dev->iommu->iommu_dev;
	viommu->drv.find_dev = viommu_find_dev;
	iommufd_viommu_events_init(viommu);

	rc = ops->init(&viommu->drv, idev->dev);
	if (rc)
		goto out_abort;
	/* Holds the parent from now on; the destroy function drops it */
	viommu->hwpt = hwpt;
	refcount_inc(&hwpt->common.obj.users);

	cmd->out_viommu_id = viommu->obj.id;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc)
		goto out_abort_destroy;
	iommufd_object_finalize(ucmd->ictx, &viommu->obj);
	goto out_put_hwpt;

out_abort_destroy:
	iommufd_object_abort_and_destroy(ucmd->ictx, &viommu->obj);
	goto out_put_hwpt;
out_abort:
	xa_destroy(&viommu->vdevs);
	iommufd_object_abort(ucmd->ictx, &viommu->obj);
out_put_hwpt:
	iommufd_put_object(ucmd->ictx, &hwpt->common.obj);
out_put_idev:
	iommufd_put_object(ucmd->ictx, &idev->obj);
	return rc;
}

void iommufd_vdevice_destroy(struct iommufd_object *obj)
{
	struct iommufd_vdevice *vdev =
		container_of(obj, struct iommufd_vdevice, obj);
	struct iommufd_viommu *viommu = vdev->viommu;
	struct iommufd_ctx *ictx = viommu->ictx;

	mutex_lock(&ictx->viommu_lock);
	if (vdev->idev)
		vdev->idev->vdev = NULL;
	xa_erase(&viommu->vdevs, (unsigned long)vdev->virt_id);
	mutex_unlock(&ictx->viommu_lock);
	refcount_dec(&viommu->obj.users);
}

/*
 * The device is about to be unbound: destroy its vDEVICE, if user space has
 * not.  If user space is destroying it right now, or holds it for a moment
 * (the tombstone gets -EBUSY), iommufd_device_drop_vdevice() cuts the link
 * instead and the vDEVICE goes with user space's IOMMU_DESTROY or close.
 */
void iommufd_device_destroy_vdevice(struct iommufd_device *idev)
{
	struct iommufd_ctx *ictx = idev->ictx;
	struct iommufd_object *obj = NULL;
	bool held = false;

	mutex_lock(&ictx->viommu_lock);
	/* No vDEVICE may be made for the device from now on */
	idev->vdev_closed = true;
	if (idev->vdev)
		obj = iommufd_get_object(ictx, idev->vdev->obj.id,
					 IOMMUFD_OBJ_VDEVICE);
	if (!IS_ERR_OR_NULL(obj)) {
		held = obj == &idev->vdev->obj &&
		       refcount_inc_not_zero(&obj->users);
		iommufd_put_object(ictx, obj);
	}
	mutex_unlock(&ictx->viommu_lock);
	if (held)
		iommufd_object_tombstone_user(ictx, obj);
}

/* The device is being unbound: its vDEVICE, if any, lets go of it */
void iommufd_device_drop_vdevice(struct iommufd_device *idev)
{
	struct iommufd_ctx *ictx = idev->ictx;

	mutex_lock(&ictx->viommu_lock);
	if (idev->vdev) {
		idev->vdev->idev = NULL;
		WRITE_ONCE(idev->vdev->dev, NULL);
	}
	idev->vdev = NULL;
	mutex_unlock(&ictx->viommu_lock);
}

int iommufd_vdevice_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_vdevice_alloc *cmd = ucmd->cmd;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct iommufd_viommu *viommu;
	struct iommufd_vdevice *vdev;
	struct iommufd_device *idev;
	struct iommufd_object *obj;
	int rc;

	obj = iommufd_get_object(ictx, cmd->viommu_id, IOMMUFD_OBJ_VIOMMU);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	viommu = container_of(obj, struct iommufd_viommu, obj);

	idev = iommufd_get_device(ucmd, cmd->dev_id);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto out_put_viommu;
	}
	if (idev->dev->iommu->iommu_dev != viommu->drv.iommu_dev ||
	    (unsigned long)cmd->virt_id != cmd->virt_id) {
		rc = -EINVAL;
		goto out_put_idev;
	}

	vdev = iommufd_object_alloc(ictx, vdev, IOMMUFD_OBJ_VDEVICE);
	if (IS_ERR(vdev)) {
		rc = PTR_ERR(vdev);
		goto out_put_idev;
	}
	vdev->viommu = viommu;
	vdev->virt_id = cmd->virt_id;

	/* Nothing to undo but the allocation if user space cannot be told */
	cmd->out_vdevice_id = vdev->obj.id;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc)
		goto out_abort;

	/*
	 * Published under viommu_lock, so that an unbind of the device
	 * either sees the vDEVICE (and destroys it) or is seen here
	 */
	mutex_lock(&ictx->viommu_lock);
	if (idev->vdev_closed) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (idev->vdev) {
		rc = -EEXIST;
		goto out_unlock;
	}
	vdev->dev = idev->dev;
	rc = xa_insert(&viommu->vdevs, (unsigned long)cmd->virt_id, vdev,
		       GFP_KERNEL);
	if (rc)		/* -EBUSY: the ID is taken */
		goto out_unlock;
	vdev->idev = idev;
	idev->vdev = vdev;
	refcount_inc(&viommu->obj.users);
	iommufd_object_finalize(ictx, &vdev->obj);
	mutex_unlock(&ictx->viommu_lock);
	goto out_put_idev;

out_unlock:
	mutex_unlock(&ictx->viommu_lock);
out_abort:
	iommufd_object_abort(ictx, &vdev->obj);
	if (rc == -EBUSY)
		rc = -EEXIST;
out_put_idev:
	iommufd_put_object(ictx, &idev->obj);
out_put_viommu:
	iommufd_put_object(ictx, &viommu->obj);
	return rc;
}
