// SPDX-License-Identifier: GPL-2.0
/*
 * The software MSI window a VMM chooses: IOMMU_OPTION_SW_MSI_START and
 * IOMMU_OPTION_SW_MSI_SIZE.
 *
 * Each device bound to an iommufd, and the iommufd itself (object_id 0, the
 * default for its devices), may say where the window goes.  When a device
 * attaches, its effective window takes the place of the driver's
 * IOMMU_RESV_SW_MSI region in the IOAS and becomes the MSI geometry of the
 * domain, in which dma-iommu and msi-iommu then place every doorbell.
 */
#include <linux/iommu.h>
#include <linux/msi-iommu.h>
#include <linux/overflow.h>
#include <linux/sizes.h>

#include "iommufd_private.h"

#define SW_MSI_ALIGN	SZ_1M
#define SW_MSI_SHIFT	20	/* SIZE is in MiB */

void iommufd_sw_msi_init(struct iommufd_sw_msi *win)
{
	win->start = PHYS_ADDR_MAX;
	win->size = 0;
	win->frozen = false;
}

/* Read the window the IOMMU driver advertises for the device of @idev */
static void sw_msi_read_driver(struct iommufd_device *idev)
{
	struct msi_iommu_geometry geo;

	msi_iommu_dev_geometry(idev->dev, NULL, &geo);
	if (!geo.sw_mapped || !geo.size)
		return;
	idev->sw_msi_drv.start = geo.start;
	idev->sw_msi_drv.size = geo.size;
	idev->sw_msi_movable = geo.movable;
}

/**
 * iommufd_sw_msi_dev_init() - Read the driver's window of a device at bind
 * @idev: the device, not yet visible to user space
 *
 * The driver's window is kept: a device's reserved regions stay as they
 * are while it is bound, and each attach would otherwise fetch them three
 * times.  A driver that cannot allocate its regions reports none, so a
 * device without a window is asked again when it is used.
 */
void iommufd_sw_msi_dev_init(struct iommufd_device *idev)
{
	iommufd_sw_msi_init(&idev->sw_msi_drv);
	idev->sw_msi_movable = false;
	sw_msi_read_driver(idev);
}

/* The driver's window for @idev (size 0: none) */
static const struct iommufd_sw_msi *sw_msi_driver(struct iommufd_device *idev)
{
	lockdep_assert_held(&idev->igroup->lock);

	if (!idev->sw_msi_drv.size)
		sw_msi_read_driver(idev);
	return &idev->sw_msi_drv;
}

/*
 * Fill @win with the window @idev gets: each of start and size is the
 * device's own, else the iommufd's default, else the driver's.  Size 0:
 * the device needs no software MSI window.
 */
void iommufd_sw_msi_effective(struct iommufd_device *idev,
			      struct iommufd_sw_msi *win)
{
	struct iommufd_ctx *ictx = idev->ictx;

	/* idev->sw_msi is read under the group lock */
	lockdep_assert_held(&idev->igroup->lock);

	*win = *sw_msi_driver(idev);
	/* None, or one that cannot move: it stays as the driver has it */
	if (!win->size || !idev->sw_msi_movable)
		return;

	mutex_lock(&ictx->sw_msi_lock);
	if (ictx->sw_msi.start != PHYS_ADDR_MAX)
		win->start = ictx->sw_msi.start;
	if (ictx->sw_msi.size)
		win->size = ictx->sw_msi.size;
	mutex_unlock(&ictx->sw_msi_lock);

	if (idev->sw_msi.start != PHYS_ADDR_MAX)
		win->start = idev->sw_msi.start;
	if (idev->sw_msi.size)
		win->size = idev->sw_msi.size;
}

/*
 * Does [start, start + size) collide with a reserved region of the device
 * of @idev other than its software MSI region?  -EADDRINUSE if so,
 * -EOVERFLOW if it wraps.
 *
 * Only a window user space chose is checked: the driver's own window is
 * reserved as it always was, overlaps and all, so that an attach with no
 * IOMMU_OPTION_SW_MSI_* set never fails where it did not before.  Relaxable
 * direct-mapped regions do not count, as they do not for the IOAS
 * (iopt_table_enforce_dev_resv_regions()).
 */
int iommufd_sw_msi_check_regions(struct iommufd_device *idev,
				 const struct iommufd_sw_msi *win)
{
	const struct iommufd_sw_msi *drv;
	struct iommu_resv_region *resv;
	LIST_HEAD(regions);
	phys_addr_t last;
	int rc = 0;

	if (!win->size)
		return 0;
	/* IOVAs are unsigned long: a 32-bit kernel may have a wider phys_addr_t */
	if (check_add_overflow(win->start, win->size - 1, &last) ||
	    (unsigned long)last != last)
		return -EOVERFLOW;

	drv = sw_msi_driver(idev);
	if (win->start == drv->start && win->size == drv->size)
		return 0;

	iommu_get_resv_regions(idev->dev, &regions);
	list_for_each_entry(resv, &regions, list) {
		if (resv->type == IOMMU_RESV_SW_MSI ||
		    resv->type == IOMMU_RESV_DIRECT_RELAXABLE || !resv->length)
			continue;
		if (resv->start <= last &&
		    win->start <= resv->start + (resv->length - 1)) {
			rc = -EADDRINUSE;
			break;
		}
	}
	iommu_put_resv_regions(idev->dev, &regions);
	return rc;
}

/*
 * Give the domain of @hwpt_paging the window of @dev, or check that the
 * domain already has that window.  Called when the window has been
 * reserved in the IOAS; dma-iommu serializes the window's set-up.
 */
int iommufd_sw_msi_setup(struct iommufd_hwpt_paging *hwpt_paging,
			 struct device *dev, const struct iommufd_sw_msi *win)
{
	struct iommu_domain *domain = hwpt_paging->common.domain;
	int rc;

	if (!win->size)
		return 0;
	/*
	 * The IRQ layer maps doorbells in the domain through dma-iommu's MSI
	 * cookie (iommu_dma_prepare_msi()); without one interrupts do not
	 * work in this domain.  A domain gets one cookie, for its life.
	 */
	if (!hwpt_paging->msi_cookie) {
		rc = iommu_get_msi_cookie(domain, win->start);
		if (rc)
			return rc;
		hwpt_paging->msi_cookie = true;
	}
	return iommu_dma_msi_window(domain, dev, win->start, win->size);
}

/* Validate a new value for @win (a device's when @idev is set). */
static int sw_msi_set(struct iommu_option *cmd, struct iommufd_sw_msi *win,
		      struct iommufd_device *idev,
		      const struct iommufd_sw_msi *eff)
{
	struct iommufd_sw_msi next = *eff;
	int rc;

	if (win->frozen)
		return -EBUSY;

	if (cmd->option_id == IOMMU_OPTION_SW_MSI_START) {
		if (cmd->val64 > PHYS_ADDR_MAX)
			return -EOVERFLOW;
		if (!IS_ALIGNED(cmd->val64, SW_MSI_ALIGN))
			return -EINVAL;
		next.start = cmd->val64;
	} else {
		if (!cmd->val64) {
			/* Back to the default window */
			win->start = PHYS_ADDR_MAX;
			win->size = 0;
			return 0;
		}
		if (cmd->val64 > (u64)PHYS_ADDR_MAX >> SW_MSI_SHIFT)
			return -EOVERFLOW;
		next.size = (phys_addr_t)cmd->val64 << SW_MSI_SHIFT;
	}

	if (next.start != PHYS_ADDR_MAX && next.size) {
		phys_addr_t last;

		if (check_add_overflow(next.start, next.size - 1, &last) ||
		    (unsigned long)last != last)
			return -EOVERFLOW;
		if (idev) {
			rc = iommufd_sw_msi_check_regions(idev, &next);
			if (rc)
				return rc;
		}
	}

	if (cmd->option_id == IOMMU_OPTION_SW_MSI_START)
		win->start = next.start;
	else
		win->size = next.size;
	return 0;
}

static void sw_msi_get(struct iommu_option *cmd,
		       const struct iommufd_sw_msi *win)
{
	if (cmd->option_id == IOMMU_OPTION_SW_MSI_START)
		cmd->val64 = win->start;
	else
		cmd->val64 = win->size >> SW_MSI_SHIFT;
}

static int sw_msi_option_dev(struct iommu_option *cmd,
			     struct iommufd_device *idev)
{
	struct iommufd_group *igroup = idev->igroup;
	struct iommufd_sw_msi eff;
	int rc = 0;

	mutex_lock(&igroup->lock);
	iommufd_sw_msi_effective(idev, &eff);
	if (cmd->op == IOMMU_OPTION_OP_GET) {
		sw_msi_get(cmd, &eff);
		goto out;
	}
	/* iommufd_sw_msi_effective() above asked the driver again if needed */
	if (!idev->sw_msi_drv.size || !idev->sw_msi_movable) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	rc = sw_msi_set(cmd, &idev->sw_msi, idev, &eff);
out:
	mutex_unlock(&igroup->lock);
	return rc;
}

static int sw_msi_option_ctx(struct iommu_option *cmd,
			     struct iommufd_ctx *ictx)
{
	struct iommufd_sw_msi eff;
	int rc = 0;

	mutex_lock(&ictx->sw_msi_lock);
	if (cmd->op == IOMMU_OPTION_OP_GET) {
		sw_msi_get(cmd, &ictx->sw_msi);
		goto out;
	}
	/* Checked against devices' reserved regions when they attach */
	eff = ictx->sw_msi;
	rc = sw_msi_set(cmd, &ictx->sw_msi, NULL, &eff);
out:
	mutex_unlock(&ictx->sw_msi_lock);
	return rc;
}

/**
 * iommufd_sw_msi_option() - IOMMU_OPTION_SW_MSI_START and _SIZE
 * @ucmd: the IOMMU_OPTION command
 *
 * Return: 0 with the value in cmd->val64 for GET, or an errno as documented
 * with enum iommufd_option.
 */
int iommufd_sw_msi_option(struct iommufd_ucmd *ucmd)
{
	struct iommu_option *cmd = ucmd->cmd;
	struct iommufd_object *obj;
	int rc;

	if (cmd->op != IOMMU_OPTION_OP_GET && cmd->op != IOMMU_OPTION_OP_SET)
		return -EOPNOTSUPP;
	if (!cmd->object_id)
		return sw_msi_option_ctx(cmd, ucmd->ictx);

	obj = iommufd_get_object(ucmd->ictx, cmd->object_id, IOMMUFD_OBJ_ANY);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	if (obj->type == IOMMUFD_OBJ_DEVICE)
		rc = sw_msi_option_dev(cmd, container_of(obj,
							 struct iommufd_device,
							 obj));
	else
		rc = -EINVAL;
	iommufd_put_object(ucmd->ictx, obj);
	return rc;
}

/*
 * A device has been attached with its window: from now on neither its own
 * window nor the iommufd's default may change.
 */
void iommufd_sw_msi_freeze(struct iommufd_device *idev)
{
	struct iommufd_ctx *ictx = idev->ictx;

	lockdep_assert_held(&idev->igroup->lock);

	/* Frozen once, for the life of the binding (and the iommufd's too) */
	if (idev->sw_msi.frozen)
		return;
	idev->sw_msi.frozen = true;
	mutex_lock(&ictx->sw_msi_lock);
	ictx->sw_msi.frozen = true;
	mutex_unlock(&ictx->sw_msi_lock);
}

/*
 * The group moves from @old to @hwpt: map the doorbells its devices' MSIs
 * use in @old at the same IOVAs in @hwpt, whose window is already set.
 */
int iommufd_sw_msi_copy(struct iommufd_group *igroup,
			struct iommufd_hw_pagetable *old,
			struct iommufd_hw_pagetable *hwpt)
{
	struct iommufd_device *cur;
	int rc;

	lockdep_assert_held(&igroup->lock);

	if (!igroup->sw_msi.size)
		return 0;
	list_for_each_entry(cur, &igroup->device_list, group_item) {
		rc = iommu_dma_copy_msi(cur->dev, old->domain, hwpt->domain);
		if (rc)
			return rc;
	}
	return 0;
}
