// SPDX-License-Identifier: GPL-2.0
/*
 * IOMMU_IOAS_CHANGE_PROCESS: the calling process takes over the charge for
 * all memory an iommufd has pinned through file mappings (VMM live update).
 */
#include <linux/cred.h>
#include <linux/rwsem.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/xarray.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

/* The accounting modes, IOPT_PAGES_ACCOUNT_NONE to _MM */
#define CP_ACCOUNT_MODES (IOPT_PAGES_ACCOUNT_MM + 1)

/*
 * Lockdep counts the iova_rwsems held under one nest lock in 11 bits: far
 * more IOAS than any VMM uses, but a bound all the same
 */
#define CP_MAX_IOAS 1024

/*
 * Every path that charges, uncharges or reads the owner of an iopt_pages
 * reaches it through an area while holding the iova_rwsem of the area's
 * IOAS, and an iopt_pages can back areas of several IOAS (IOMMU_IOAS_COPY).
 * Holding the iova_rwsem of every IOAS for write therefore leaves this
 * command alone with every iopt_pages of the context.
 *
 * ioas_creation_lock, taken for write first, keeps another IOAS from being
 * published during the walk and is the outer lock lockdep needs to accept
 * many rwsems of one class held at once; only one task can hold the set.
 * With more than CP_MAX_IOAS IOAS the command fails with -ENOSPC.
 */
static void cp_unlock_all(struct iommufd_ctx *ictx, struct xarray *locked)
{
	struct iommufd_ioas *ioas;
	unsigned long id;

	xa_for_each(locked, id, ioas) {
		up_write(&ioas->iopt.iova_rwsem);
		iommufd_put_object(ictx, &ioas->obj);
	}
	xa_destroy(locked);
	up_write(&ictx->ioas_creation_lock);
}

static int cp_lock_all(struct iommufd_ctx *ictx, struct xarray *locked)
{
	struct iommufd_object *obj;
	unsigned int count = 0;
	unsigned long id;
	int rc;

	down_write(&ictx->ioas_creation_lock);
	xa_lock(&ictx->objects);
	xa_for_each(&ictx->objects, id, obj) {
		struct iommufd_ioas *ioas;

		/* Under xa_lock an object cannot be freed under us */
		if (obj->type != IOMMUFD_OBJ_IOAS || !iommufd_lock_obj(obj))
			continue;
		xa_unlock(&ictx->objects);

		ioas = container_of(obj, struct iommufd_ioas, obj);
		rc = count++ == CP_MAX_IOAS ? -ENOSPC :
		     xa_insert(locked, id, ioas, GFP_KERNEL);
		if (rc) {
			iommufd_put_object(ictx, obj);
			cp_unlock_all(ictx, locked);
			return rc;
		}
		down_write_nest_lock(&ioas->iopt.iova_rwsem,
				     &ictx->ioas_creation_lock);
		xa_lock(&ictx->objects);
	}
	xa_unlock(&ictx->objects);
	return 0;
}

/*
 * How the charge of @pages moves to the caller, as the mode to charge the
 * caller in, or -1 if the caller is the owner already.  pinned_vm is kept
 * in the mm in every mode; USER mode also charges the user's locked_vm,
 * which stays where it is when the user does not change (a new VMM
 * process of the same user would otherwise need twice the pages under
 * its RLIMIT_MEMLOCK for a moment): then only pinned_vm moves, as in
 * IOPT_PAGES_ACCOUNT_NONE.
 */
static int cp_move_mode(struct iopt_pages *pages)
{
	bool same_user = pages->account_mode != IOPT_PAGES_ACCOUNT_USER ||
			 pages->source_user == current_user();

	if (pages->source_mm == current->mm && same_user)
		return -1;
	if (pages->account_mode == IOPT_PAGES_ACCOUNT_USER && same_user)
		return IOPT_PAGES_ACCOUNT_NONE;
	return pages->account_mode;
}

/* Take the charge cp_move_mode() said moves off the old owner */
static void cp_uncharge_old(struct iopt_pages *pages, int mode)
{
	/* USER mode, same user: its locked_vm stays, pinned_vm moves */
	if (mode != pages->account_mode)
		atomic64_sub(pages->npinned, &pages->source_mm->pinned_vm);
	else if (!iopt_pages_charge(pages, pages->npinned, false))
		return;
	/*
	 * Done by hand, or iopt_pages_charge() failed: that only happens in
	 * IOPT_PAGES_ACCOUNT_MM mode once the old mm has exited, and its
	 * locked_vm went with it
	 */
	pages->last_npinned = pages->npinned;
}

/* Charge npinned[mode] pages in each mode to the calling process */
static int cp_charge_current(const unsigned long *npinned)
{
	struct iopt_pages caller = {
		.source_mm = current->mm,
		.source_task = current->group_leader,
		.source_user = current_user(),
	};
	int mode;
	int rc;

	for (mode = 0; mode != CP_ACCOUNT_MODES; mode++) {
		if (!npinned[mode])
			continue;
		caller.account_mode = mode;
		rc = iopt_pages_charge(&caller, npinned[mode], true);
		if (rc)
			goto err_uncharge;
	}
	return 0;

err_uncharge:
	while (mode--) {
		if (!npinned[mode])
			continue;
		caller.account_mode = mode;
		iopt_pages_charge(&caller, npinned[mode], false);
	}
	return rc;
}

static void cp_set_owner(struct iopt_pages *pages)
{
	struct task_struct *old_task = pages->source_task;
	struct user_struct *old_user = pages->source_user;
	struct mm_struct *old_mm = pages->source_mm;

	mmgrab(current->mm);
	pages->source_mm = current->mm;
	get_task_struct(current->group_leader);
	pages->source_task = current->group_leader;
	pages->source_user = get_uid(current_user());

	mmdrop(old_mm);
	put_task_struct(old_task);
	free_uid(old_user);
}

/* The steps of the command, each over every area of every locked IOAS */
enum cp_step {
	CP_CHECK,	/* every area can move */
	CP_SUM,		/* what moves, per mode, into npinned[] */
	CP_RESTORE,	/* undo CP_SUM's marks after a failed charge */
	CP_MOVE,	/* uncharge the old owners, make the caller the owner */
};

static int cp_area_step(struct iopt_area *area, enum cp_step step,
			unsigned long *npinned)
{
	struct iopt_pages *pages = area->pages;
	int mode;

	switch (step) {
	case CP_CHECK:
		/* An area without pages is half made or half unmapped */
		if (!pages)
			return -EBUSY;
		/* A user VA mapping belongs to its mm; it cannot move */
		return pages->file ? 0 : -EINVAL;
	case CP_RESTORE:
		pages->last_npinned = pages->npinned;
		return 0;
	case CP_SUM:
	case CP_MOVE:
		break;
	}

	mode = cp_move_mode(pages);
	if (mode < 0)
		return 0;
	if (step == CP_SUM) {
		/*
		 * With all the locks held nothing pins or unpins, so
		 * last_npinned equals npinned; it is cleared so that pages
		 * reached through several areas count once, and set back by
		 * CP_MOVE's uncharge or by CP_RESTORE.
		 */
		npinned[mode] += pages->last_npinned;
		pages->last_npinned = 0;
	} else {
		cp_uncharge_old(pages, mode);
		cp_set_owner(pages);
	}
	return 0;
}

static int cp_walk(struct xarray *locked, enum cp_step step,
		   unsigned long *npinned)
{
	struct iommufd_ioas *ioas;
	struct iopt_area *area;
	unsigned long id;
	int rc;

	xa_for_each(locked, id, ioas) {
		for (area = iopt_area_iter_first(&ioas->iopt, 0, ULONG_MAX);
		     area; area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
			rc = cp_area_step(area, step, npinned);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int iommufd_ioas_change_process(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_change_process *cmd = ucmd->cmd;
	unsigned long npinned[CP_ACCOUNT_MODES] = {};
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct xarray locked;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	xa_init(&locked);
	rc = cp_lock_all(ictx, &locked);
	if (rc)
		return rc;

	rc = cp_walk(&locked, CP_CHECK, npinned);
	if (rc)
		goto out_unlock;
	cp_walk(&locked, CP_SUM, npinned);
	rc = cp_charge_current(npinned);
	if (rc) {
		cp_walk(&locked, CP_RESTORE, npinned);
		goto out_unlock;
	}
	cp_walk(&locked, CP_MOVE, npinned);

out_unlock:
	cp_unlock_all(ictx, &locked);
	return rc;
}
