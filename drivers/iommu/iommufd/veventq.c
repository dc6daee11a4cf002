// SPDX-License-Identifier: GPL-2.0
/*
 * vEVENTQ (IOMMU_VEVENTQ_ALLOC): a queue of one type of a vIOMMU's events
 * (the guest's stage-1 faults, say), read by user space from a file
 * descriptor.
 *
 * Locking: viommu->veventqs_lock guards the vIOMMU's list of queues, each
 * queue's lock its events.  A driver reports under both spinlocks and
 * allocates without sleeping, so the report path never waits for user
 * space.  Readers of one queue take turns (read_mutex): only a reader
 * removes a normal event, so the one it copied out is still first when
 * it consumes it.  The lost-events header (veventq->lost) is never freed;
 * when it is on the list it is the last entry.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"

/* Mainline's bound on veventq_depth */
#define VEVENTQ_MAX_DEPTH BIT(19)

struct iommufd_vevent {
	struct list_head node;
	struct iommufd_vevent_header hdr;
	u32 len;
	u8 data[] __counted_by(len);
};

struct iommufd_veventq {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	struct iommufd_viommu *viommu;
	/* On viommu->veventqs, under viommu->veventqs_lock */
	struct list_head viommu_node;
	unsigned int type;
	u32 depth;
	wait_queue_head_t wait;
	struct mutex read_mutex;	/* one reader at a time */
	spinlock_t lock;		/* the three below */
	/* The events, how many (without @lost), the next number */
	struct list_head events;
	u32 num;
	u32 next_seq;
	/* Must be last: it ends in a flexible array, always empty here */
	struct iommufd_vevent lost;
};

/* Append @ev (or the lost-events header) and give it the next number */
static void veventq_append(struct iommufd_veventq *q,
			   struct iommufd_vevent *ev)
{
	lockdep_assert_held(&q->lock);

	/* A later event replaces the header: the numbers show the gap */
	if (!list_empty(&q->lost.node))
		list_del_init(&q->lost.node);
	ev->hdr.sequence = q->next_seq;
	q->next_seq = (q->next_seq + 1) & INT_MAX;
	list_add_tail(&ev->node, &q->events);
}

static struct iommufd_veventq *
viommu_find_veventq(struct iommufd_viommu *viommu, unsigned int type)
{
	struct iommufd_veventq *q;

	lockdep_assert_held(&viommu->veventqs_lock);
	list_for_each_entry(q, &viommu->veventqs, viommu_node)
		if (q->type == type)
			return q;
	return NULL;
}

/* iommufd_viommu_drv.report_event */
int iommufd_viommu_report_event(struct iommufd_viommu_drv *drv,
				unsigned int type, const void *data,
				size_t len)
{
	struct iommufd_viommu *viommu =
		container_of(drv, struct iommufd_viommu, drv);
	struct iommufd_vevent *ev = NULL;
	struct iommufd_veventq *q;
	int rc = 0;

	if (WARN_ON_ONCE(!len || len > IOMMUFD_VEVENT_MAX_DATA))
		return -EINVAL;

	spin_lock(&viommu->veventqs_lock);
	q = viommu_find_veventq(viommu, type);
	if (!q) {
		rc = -EOPNOTSUPP;
		goto out_unlock;
	}
	/* Without sleeping; a failure is counted as a lost event */
	ev = kmalloc(struct_size(ev, data, len), GFP_NOWAIT | __GFP_NOWARN);
	spin_lock(&q->lock);
	if (!ev || q->num >= q->depth) {
		/* Dropped: user space learns it from the header */
		veventq_append(q, &q->lost);
		if (!ev)
			rc = -ENOMEM;
	} else {
		ev->hdr.flags = 0;
		ev->len = len;
		memcpy(ev->data, data, len);
		q->num++;
		veventq_append(q, ev);
		ev = NULL;
	}
	spin_unlock(&q->lock);
	wake_up_interruptible(&q->wait);
out_unlock:
	spin_unlock(&viommu->veventqs_lock);
	kfree(ev);
	return rc;
}

/*
 * iommufd_viommu_drv.get_virt_id: a vDEVICE's virt_id by its device.  The
 * xarray's own lock keeps each vDEVICE in it alive (they are erased before
 * they are freed); vdev->dev is only compared.
 */
static int viommu_get_virt_id(struct iommufd_viommu_drv *drv,
			      struct device *dev, u64 *virt_id)
{
	struct iommufd_viommu *viommu =
		container_of(drv, struct iommufd_viommu, drv);
	struct iommufd_vdevice *vdev;
	unsigned long index;
	int rc = -ENOENT;

	xa_lock(&viommu->vdevs);
	xa_for_each(&viommu->vdevs, index, vdev) {
		if (READ_ONCE(vdev->dev) == dev) {
			*virt_id = vdev->virt_id;
			rc = 0;
			break;
		}
	}
	xa_unlock(&viommu->vdevs);
	return rc;
}

/* The vIOMMU's part in events: its queues, and the driver's callbacks */
void iommufd_viommu_events_init(struct iommufd_viommu *viommu)
{
	spin_lock_init(&viommu->veventqs_lock);
	INIT_LIST_HEAD(&viommu->veventqs);
	viommu->drv.get_virt_id = viommu_get_virt_id;
	viommu->drv.report_event = iommufd_viommu_report_event;
}

static ssize_t veventq_fops_read(struct file *file, char __user *buf,
				 size_t count, loff_t *ppos)
{
	struct iommufd_veventq *q = file->private_data;
	u8 data[IOMMUFD_VEVENT_MAX_DATA];
	struct iommufd_vevent_header hdr;
	struct iommufd_vevent *ev;
	size_t done = 0;
	int rc = 0;

	if (count < sizeof(hdr))
		return -EINVAL;

	/* A reader stuck in a fault of its buffer holds the others back */
	if (mutex_lock_killable(&q->read_mutex))
		return -EINTR;
	while (true) {
		size_t len;

		spin_lock(&q->lock);
		ev = list_first_entry_or_null(&q->events, struct iommufd_vevent,
					      node);
		if (!ev) {
			spin_unlock(&q->lock);
			break;
		}
		len = ev->len;
		if (sizeof(hdr) + len > count - done) {
			spin_unlock(&q->lock);
			/* Not even the first one fits */
			if (!done)
				rc = -EINVAL;
			break;
		}
		hdr = ev->hdr;
		memcpy(data, ev->data, len);
		spin_unlock(&q->lock);

		if (copy_to_user(buf + done, &hdr, sizeof(hdr)) ||
		    copy_to_user(buf + done + sizeof(hdr), data, len)) {
			rc = -EFAULT;
			break;
		}
		done += sizeof(hdr) + len;

		spin_lock(&q->lock);
		if (ev != &q->lost) {
			list_del(&ev->node);
			q->num--;
		} else if (!list_empty(&q->lost.node) &&
			   q->lost.hdr.sequence == hdr.sequence) {
			/* Unless a report moved it on meanwhile */
			list_del_init(&q->lost.node);
		}
		spin_unlock(&q->lock);
		if (ev != &q->lost)
			kfree(ev);
	}
	mutex_unlock(&q->read_mutex);
	return done ? done : rc;
}

static __poll_t veventq_fops_poll(struct file *file,
				  struct poll_table_struct *wait)
{
	struct iommufd_veventq *q = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &q->wait, wait);
	spin_lock(&q->lock);
	if (!list_empty(&q->events))
		mask = EPOLLIN | EPOLLRDNORM;
	spin_unlock(&q->lock);
	return mask;
}

static int veventq_fops_release(struct inode *inode, struct file *file)
{
	struct iommufd_veventq *q = file->private_data;
	/* The queue may be freed once its users reference is dropped */
	struct iommufd_ctx *ictx = q->ictx;

	refcount_dec(&q->obj.users);
	iommufd_ctx_put(ictx);
	return 0;
}

static const struct file_operations veventq_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.read = veventq_fops_read,
	.poll = veventq_fops_poll,
	.release = veventq_fops_release,
};

void iommufd_veventq_destroy(struct iommufd_object *obj)
{
	struct iommufd_veventq *q =
		container_of(obj, struct iommufd_veventq, obj);
	struct iommufd_viommu *viommu = q->viommu;
	struct iommufd_vevent *ev, *next;

	/* No report can find the queue after this */
	spin_lock(&viommu->veventqs_lock);
	list_del_init(&q->viommu_node);
	spin_unlock(&viommu->veventqs_lock);

	/* Nor can a reader exist: its file held a reference */
	list_for_each_entry_safe(ev, next, &q->events, node) {
		list_del(&ev->node);
		if (ev != &q->lost)
			kfree(ev);
	}
	mutex_destroy(&q->read_mutex);
	refcount_dec(&viommu->obj.users);
}

int iommufd_veventq_alloc(struct iommufd_ucmd *ucmd)
{
	struct iommu_veventq_alloc *cmd = ucmd->cmd;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct iommufd_viommu *viommu;
	struct iommufd_veventq *q;
	struct iommufd_object *obj;
	struct file *file;
	int fdno;
	int rc;

	if (cmd->flags || cmd->__reserved ||
	    cmd->type == IOMMU_VEVENTQ_TYPE_DEFAULT)
		return -EOPNOTSUPP;
	if (!cmd->veventq_depth || cmd->veventq_depth > VEVENTQ_MAX_DEPTH)
		return -EINVAL;

	obj = iommufd_get_object(ictx, cmd->viommu_id, IOMMUFD_OBJ_VIOMMU);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	viommu = container_of(obj, struct iommufd_viommu, obj);
	if (cmd->type != viommu->ops->vevent_type) {
		rc = -EOPNOTSUPP;
		goto out_put_viommu;
	}

	q = iommufd_object_alloc(ictx, q, IOMMUFD_OBJ_VEVENTQ);
	if (IS_ERR(q)) {
		rc = PTR_ERR(q);
		goto out_put_viommu;
	}
	q->ictx = ictx;
	q->viommu = viommu;
	refcount_inc(&viommu->obj.users);
	INIT_LIST_HEAD(&q->viommu_node);
	q->type = cmd->type;
	q->depth = cmd->veventq_depth;
	init_waitqueue_head(&q->wait);
	mutex_init(&q->read_mutex);
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->events);
	INIT_LIST_HEAD(&q->lost.node);
	q->lost.hdr.flags = IOMMU_VEVENTQ_FLAG_LOST_EVENTS;

	fdno = get_unused_fd_flags(O_CLOEXEC);
	if (fdno < 0) {
		rc = fdno;
		goto out_abort;
	}

	/* Visible to reports from here on; destroy takes it off again */
	spin_lock(&viommu->veventqs_lock);
	rc = viommu_find_veventq(viommu, q->type) ? -EEXIST : 0;
	if (!rc)
		list_add_tail(&q->viommu_node, &viommu->veventqs);
	spin_unlock(&viommu->veventqs_lock);
	if (rc)
		goto out_put_fd;

	cmd->out_veventq_id = q->obj.id;
	cmd->out_veventq_fd = fdno;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc)
		goto out_put_fd;

	file = anon_inode_getfile("[iommufd-vevent]", &veventq_fops, q,
				  O_RDWR);
	if (IS_ERR(file)) {
		rc = PTR_ERR(file);
		goto out_put_fd;
	}
	/* The file holds the queue and the context; its release drops them */
	refcount_inc(&q->obj.users);
	iommufd_ctx_get(ictx);
	iommufd_object_finalize(ictx, &q->obj);
	fd_install(fdno, file);
	iommufd_put_object(ictx, &viommu->obj);
	return 0;

out_put_fd:
	put_unused_fd(fdno);
out_abort:
	/* The destroy function unlinks the queue and drops the vIOMMU */
	iommufd_object_abort_and_destroy(ictx, &q->obj);
out_put_viommu:
	iommufd_put_object(ictx, &viommu->obj);
	return rc;
}

#ifdef CONFIG_IOMMUFD_TEST
/* IOMMU_TEST_OP_VEVENTQ_SET_SEQ: number the next event @seq */
int iommufd_veventq_test_set_seq(struct iommufd_ucmd *ucmd, u32 id, u32 seq)
{
	struct iommufd_veventq *q;
	struct iommufd_object *obj;

	if (seq > INT_MAX)
		return -EINVAL;
	obj = iommufd_get_object(ucmd->ictx, id, IOMMUFD_OBJ_VEVENTQ);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	q = container_of(obj, struct iommufd_veventq, obj);
	spin_lock(&q->lock);
	q->next_seq = seq;
	spin_unlock(&q->lock);
	iommufd_put_object(ucmd->ictx, obj);
	return 0;
}
#endif
