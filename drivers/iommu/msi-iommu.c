// SPDX-License-Identifier: GPL-2.0
/*
 * MSI doorbells in IOMMU domains: a bounded window per domain, one mapping
 * per doorbell page shared by all its users, released with the last one.
 *
 * Each doorbell page occupies one granule-sized slot of the window; slots
 * come from an IDA, so a full window fails with -ENOSPC instead of spilling
 * into IOVA space that somebody else may map, and a slot is reused once its
 * doorbell is gone.  Doorbells are found by physical address in an rbtree:
 * the cost of a lookup depends on how many distinct doorbells the domain
 * has, never on how many vectors share one.
 *
 * Only what IOMMU drivers and iommufd (which may be modules) call is
 * exported; the rest is for dma-iommu, which is built in, and is exported
 * to the KUnit test alone.
 */
#include <kunit/visibility.h>
#include <linux/iommu.h>
#include <linux/lockdep.h>
#include <linux/msi.h>
#include <linux/msi-iommu.h>
#include <linux/overflow.h>
#include <linux/slab.h>

/**
 * struct msi_iommu_doorbell - one doorbell page mapped in a domain
 * @node: in &msi_iommu.doorbells
 * @phys: physical address of the page
 * @iova: where the page is mapped
 * @users: references taken by msi_iommu_get_doorbell(), plus one per user
 *	bound with msi_iommu_bind()
 */
struct msi_iommu_doorbell {
	struct rb_node node;
	phys_addr_t phys;
	dma_addr_t iova;
	unsigned int users;
};

#define node_to_doorbell(n) rb_entry((n), struct msi_iommu_doorbell, node)

/**
 * struct msi_iommu_user - a user bound to its doorbell
 * @node: in &msi_iommu.users
 * @user: the user, as given to msi_iommu_bind()
 * @owner: what the user belongs to (a device): ends moves and unbinds
 *	all its users at once, also those already freed
 * @db: its doorbell
 * @pending: made by msi_iommu_bind_at(), whose caller may still take it
 *	back (msi_iommu_cancel()) or keep it (msi_iommu_commit())
 *
 * One small node per user: users are msi_desc pointers, far apart, so a
 * radix tree keyed by them would take a whole node per user.
 */
struct msi_iommu_user {
	struct rb_node node;
	const void *user;
	const void *owner;
	struct msi_iommu_doorbell *db;
	bool pending;
};

#define node_to_user(n) rb_entry((n), struct msi_iommu_user, node)

static int user_cmp_key(const void *key, const struct rb_node *node)
{
	const void *user = node_to_user(node)->user;

	if (key < user)
		return -1;
	return key > user;
}

static bool user_less(struct rb_node *a, const struct rb_node *b)
{
	return node_to_user(a)->user < node_to_user(b)->user;
}

static struct msi_iommu_user *user_find(struct msi_iommu *mi,
					const void *user)
{
	struct rb_node *node;

	lockdep_assert_held(&mi->lock);
	node = rb_find(user, &mi->users, user_cmp_key);
	return node ? node_to_user(node) : NULL;
}

static int doorbell_cmp_key(const void *key, const struct rb_node *node)
{
	phys_addr_t phys = *(const phys_addr_t *)key;
	phys_addr_t other = node_to_doorbell(node)->phys;

	if (phys < other)
		return -1;
	return phys > other;
}

static bool doorbell_less(struct rb_node *a, const struct rb_node *b)
{
	return node_to_doorbell(a)->phys < node_to_doorbell(b)->phys;
}

/*
 * A software MSI region as an IOMMU driver advertises it with
 * msi_iommu_alloc_sw_msi_region(): a reserved region that also says whether
 * the domain's owner may move the window.
 */
struct msi_iommu_sw_msi {
	struct iommu_resv_region region;
	bool movable;
};

static void msi_iommu_free_sw_msi(struct device *dev,
				  struct iommu_resv_region *region)
{
	kfree(container_of(region, struct msi_iommu_sw_msi, region));
}

/**
 * msi_iommu_alloc_sw_msi_region() - advertise a software MSI window
 * @start: where the driver puts the window by default
 * @length: its length
 * @prot: IOMMU_* protection of the doorbell mappings
 * @movable: whether the owner of a domain may move the window elsewhere
 * @gfp: allocation flags
 *
 * For an IOMMU driver's get_resv_regions(): an IOMMU_RESV_SW_MSI region
 * that msi_iommu_dev_geometry() turns into the MSI geometry of the
 * device's domains.  Freed by iommu_put_resv_regions() like any region.
 *
 * Return: the region, or NULL if out of memory.
 */
struct iommu_resv_region *
msi_iommu_alloc_sw_msi_region(dma_addr_t start, size_t length, int prot,
			      bool movable, gfp_t gfp)
{
	struct msi_iommu_sw_msi *sw = kzalloc(sizeof(*sw), gfp);

	if (!sw)
		return NULL;
	INIT_LIST_HEAD(&sw->region.list);
	sw->region.start = start;
	sw->region.length = length;
	sw->region.prot = prot;
	sw->region.type = IOMMU_RESV_SW_MSI;
	sw->region.free = msi_iommu_free_sw_msi;
	sw->movable = movable;
	return &sw->region;
}
EXPORT_SYMBOL_GPL(msi_iommu_alloc_sw_msi_region);

/**
 * msi_iommu_geometry_from_regions() - MSI geometry from reserved regions
 * @regions: a device's reserved regions (struct iommu_resv_region)
 * @pgsize_bitmap: page sizes of the domain, 0 if unknown
 * @geo: filled with the geometry
 *
 * A software MSI region makes doorbells need mapping in its window (movable
 * if the driver said so with msi_iommu_alloc_sw_msi_region()), even when
 * hardware MSI regions exist too.  Hardware MSI regions alone, or no MSI
 * region at all, mean that no mapping is needed.  The granule is the
 * larger of PAGE_SIZE and the domain's smallest page.
 */
void msi_iommu_geometry_from_regions(struct list_head *regions,
				     unsigned long pgsize_bitmap,
				     struct msi_iommu_geometry *geo)
{
	struct iommu_resv_region *region;

	memset(geo, 0, sizeof(*geo));
	geo->granule = PAGE_SIZE;
	if (pgsize_bitmap)
		geo->granule = max_t(size_t, PAGE_SIZE, BIT(__ffs(pgsize_bitmap)));

	list_for_each_entry(region, regions, list) {
		if (region->type != IOMMU_RESV_SW_MSI)
			continue;
		geo->start = region->start;
		geo->size = region->length;
		geo->sw_mapped = true;
		geo->movable = region->free == msi_iommu_free_sw_msi &&
			container_of(region, struct msi_iommu_sw_msi,
				     region)->movable;
	}
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_geometry_from_regions);

/**
 * msi_iommu_dev_geometry() - the MSI geometry of a device's domains
 * @dev: the device
 * @domain: the domain (for its page sizes), or NULL
 * @geo: filled with the geometry its IOMMU driver advertises
 *
 * @geo->sw_mapped tells whether the device's MSIs need doorbell mappings
 * in its (translating) domains at all: false for hardware MSI regions,
 * interrupt remapping, or an IOMMU driver that reports no MSI region.
 */
void msi_iommu_dev_geometry(struct device *dev, struct iommu_domain *domain,
			    struct msi_iommu_geometry *geo)
{
	LIST_HEAD(regions);

	iommu_get_resv_regions(dev, &regions);
	msi_iommu_geometry_from_regions(&regions,
					domain ? domain->pgsize_bitmap : 0,
					geo);
	iommu_put_resv_regions(dev, &regions);
}
EXPORT_SYMBOL_GPL(msi_iommu_dev_geometry);

/* How many slots a window has; the IDA hands out at most INT_MAX + 1. */
static unsigned int window_slots(dma_addr_t size, size_t granule)
{
	dma_addr_t n = size >> __ffs(granule);

	return n > (dma_addr_t)INT_MAX + 1 ? (unsigned int)INT_MAX + 1 : n;
}

/**
 * msi_iommu_init() - set up the doorbell state of a domain
 * @mi: the state to set up
 * @geo: the domain's MSI geometry, as its IOMMU driver advertises it
 *
 * A geometry without @geo->sw_mapped, or with no window, accepts no
 * doorbells.  The granule must be a power of two, and the window's start
 * and size multiples of it, else the window takes no doorbells either
 * (msi_iommu_nr_slots() is then 0).
 */
void msi_iommu_init(struct msi_iommu *mi, const struct msi_iommu_geometry *geo)
{
	mutex_init(&mi->lock);
	mi->geo = *geo;
	mi->doorbells = RB_ROOT;
	ida_init(&mi->slots);
	mi->users = RB_ROOT;
	mi->nr_doorbells = 0;
	mi->nr_slots = 0;
	/* A geometry that cannot be used maps nothing */
	if (WARN_ON(geo->sw_mapped && !is_power_of_2(geo->granule)))
		mi->geo.sw_mapped = false;
	/*
	 * Firmware, or a paravirtual IOMMU on a host with larger pages, may
	 * describe a window that is not aligned to the granule: no doorbell
	 * goes there (msi_iommu_nr_slots() tells), the caller decides.
	 */
	if (mi->geo.sw_mapped && geo->size &&
	    IS_ALIGNED(geo->start | geo->size, geo->granule))
		mi->nr_slots = window_slots(geo->size, geo->granule);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_init);

static void doorbell_release(struct msi_iommu *mi, struct iommu_domain *domain,
			     struct msi_iommu_doorbell *db)
{
	size_t unmapped;

	lockdep_assert_held(&mi->lock);

	unmapped = iommu_unmap(domain, db->iova, mi->geo.granule);
	WARN_ON(unmapped != mi->geo.granule);
	ida_free(&mi->slots, (db->iova - mi->geo.start) >> __ffs(mi->geo.granule));
	rb_erase(&db->node, &mi->doorbells);
	mi->nr_doorbells--;
	kfree(db);
}

/**
 * msi_iommu_destroy() - unmap every doorbell and free the state
 * @mi: the domain's doorbell state
 * @domain: the domain the doorbells are mapped in, or NULL when the domain
 *	is being freed and its mappings go with it
 */
void msi_iommu_destroy(struct msi_iommu *mi, struct iommu_domain *domain)
{
	struct msi_iommu_user *u, *next;
	struct rb_node *node;

	mutex_lock(&mi->lock);
	while ((node = rb_first(&mi->doorbells))) {
		struct msi_iommu_doorbell *db = node_to_doorbell(node);

		if (domain) {
			doorbell_release(mi, domain, db);
			continue;
		}
		rb_erase(node, &mi->doorbells);
		mi->nr_doorbells--;
		kfree(db);
	}
	ida_destroy(&mi->slots);
	rbtree_postorder_for_each_entry_safe(u, next, &mi->users, node)
		kfree(u);
	mi->users = RB_ROOT;
	mutex_unlock(&mi->lock);
	mutex_destroy(&mi->lock);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_destroy);

/**
 * msi_iommu_get_geometry() - read a domain's MSI geometry
 * @mi: the domain's doorbell state
 * @geo: filled with the current geometry
 */
void msi_iommu_get_geometry(struct msi_iommu *mi, struct msi_iommu_geometry *geo)
{
	mutex_lock(&mi->lock);
	*geo = mi->geo;
	mutex_unlock(&mi->lock);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_get_geometry);

/**
 * msi_iommu_set_window() - move a domain's software MSI window
 * @mi: the domain's doorbell state
 * @domain: the domain, whose aperture the window must fit in
 * @start: first IOVA of the new window
 * @size: its size in bytes
 *
 * Only possible while no doorbell is mapped.
 *
 * Return: 0 on success;
 * -EOPNOTSUPP if the domain needs no window or its window cannot move;
 * -EINVAL if @size is 0, @start or @size is not a multiple of the granule,
 * or the window is outside the domain's aperture;
 * -EOVERFLOW if @start + @size wraps (or does not fit an IOVA);
 * -EBUSY if doorbells are mapped.
 */
int msi_iommu_set_window(struct msi_iommu *mi, struct iommu_domain *domain,
			 dma_addr_t start, dma_addr_t size)
{
	const struct iommu_domain_geometry *ap = &domain->geometry;
	dma_addr_t last;
	int ret = 0;

	mutex_lock(&mi->lock);
	if (!mi->geo.sw_mapped || !mi->geo.movable) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (!size || !IS_ALIGNED(start, mi->geo.granule) ||
	    !IS_ALIGNED(size, mi->geo.granule)) {
		ret = -EINVAL;
		goto out;
	}
	if (check_add_overflow(start, size - 1, &last) ||
	    (unsigned long)last != last) {
		ret = -EOVERFLOW;
		goto out;
	}
	if (ap->force_aperture &&
	    (start < ap->aperture_start || last > ap->aperture_end)) {
		ret = -EINVAL;
		goto out;
	}
	if (mi->nr_doorbells) {
		ret = -EBUSY;
		goto out;
	}
	mi->geo.start = start;
	mi->geo.size = size;
	mi->nr_slots = window_slots(size, mi->geo.granule);
out:
	mutex_unlock(&mi->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_set_window);

static dma_addr_t slot_iova(struct msi_iommu *mi, int slot)
{
	return mi->geo.start + ((dma_addr_t)slot << __ffs(mi->geo.granule));
}

static struct msi_iommu_doorbell *doorbell_find(struct msi_iommu *mi,
						phys_addr_t page)
{
	struct rb_node *node;

	lockdep_assert_held(&mi->lock);
	node = rb_find(&page, &mi->doorbells, doorbell_cmp_key);
	return node ? node_to_doorbell(node) : NULL;
}

/*
 * Find or map the doorbell page holding @phys and take a reference on it:
 * in any free slot if @want < 0, else only in slot @want.
 */
static struct msi_iommu_doorbell *doorbell_get(struct msi_iommu *mi,
					       struct iommu_domain *domain,
					       phys_addr_t phys, int prot,
					       int want)
{
	phys_addr_t page = phys & ~(phys_addr_t)(mi->geo.granule - 1);
	struct msi_iommu_doorbell *db;
	int slot, ret;

	lockdep_assert_held(&mi->lock);

	if (!mi->nr_slots)
		return ERR_PTR(-EOPNOTSUPP);
	db = doorbell_find(mi, page);
	if (db) {
		if (want >= 0 && db->iova != slot_iova(mi, want))
			return ERR_PTR(-EBUSY);
		db->users++;
		return db;
	}

	db = kzalloc(sizeof(*db), GFP_KERNEL);
	if (!db)
		return ERR_PTR(-ENOMEM);
	if (want < 0)
		slot = ida_alloc_max(&mi->slots, mi->nr_slots - 1, GFP_KERNEL);
	else
		slot = ida_alloc_range(&mi->slots, want, want, GFP_KERNEL);
	if (slot < 0) {
		/* The slot asked for holds another doorbell */
		ret = want >= 0 && slot == -ENOSPC ? -EBUSY : slot;
		goto out_free;
	}
	db->phys = page;
	db->iova = slot_iova(mi, slot);
	db->users = 1;
	ret = iommu_map(domain, db->iova, page, mi->geo.granule, prot,
			GFP_KERNEL);
	if (ret)
		goto out_slot;
	rb_add(&db->node, &mi->doorbells, doorbell_less);
	mi->nr_doorbells++;
	return db;

out_slot:
	ida_free(&mi->slots, slot);
out_free:
	kfree(db);
	return ERR_PTR(ret);
}

static void doorbell_put(struct msi_iommu *mi, struct iommu_domain *domain,
			 struct msi_iommu_doorbell *db)
{
	lockdep_assert_held(&mi->lock);

	if (!--db->users)
		doorbell_release(mi, domain, db);
}

/**
 * msi_iommu_get_doorbell() - map a doorbell, or take another reference
 * @mi: the domain's doorbell state
 * @domain: the domain to map it in
 * @phys: the doorbell's physical address (any address in its page)
 * @prot: IOMMU_* protection flags of the mapping
 * @iova: set to the IOVA of the doorbell's page (add the offset of @phys
 *	within the granule to get the doorbell's own IOVA)
 *
 * The first user maps the page in a free slot of the window; later users
 * of the same page share that mapping.  Each successful call must be
 * balanced by msi_iommu_put_doorbell().  On failure nothing changes.
 *
 * Return: 0 on success;
 * -EOPNOTSUPP if the domain does not map doorbells;
 * -ENOSPC if the window is full;
 * -ENOMEM, or the error of iommu_map().
 */
int msi_iommu_get_doorbell(struct msi_iommu *mi, struct iommu_domain *domain,
			   phys_addr_t phys, int prot, dma_addr_t *iova)
{
	struct msi_iommu_doorbell *db;

	mutex_lock(&mi->lock);
	db = doorbell_get(mi, domain, phys, prot, -1);
	if (!IS_ERR(db))
		*iova = db->iova;
	mutex_unlock(&mi->lock);
	return PTR_ERR_OR_ZERO(db);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_get_doorbell);

/**
 * msi_iommu_put_doorbell() - drop a reference taken on a doorbell
 * @mi: the domain's doorbell state
 * @domain: the domain it is mapped in
 * @phys: the address given to msi_iommu_get_doorbell()
 *
 * The last reference unmaps the page and frees its slot for reuse.
 */
void msi_iommu_put_doorbell(struct msi_iommu *mi, struct iommu_domain *domain,
			    phys_addr_t phys)
{
	phys_addr_t page = phys & ~(phys_addr_t)(mi->geo.granule - 1);
	struct msi_iommu_doorbell *db;

	mutex_lock(&mi->lock);
	db = doorbell_find(mi, page);
	if (!WARN_ON(!db))
		doorbell_put(mi, domain, db);
	mutex_unlock(&mi->lock);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_put_doorbell);

static int bind_locked(struct msi_iommu *mi, struct iommu_domain *domain,
		       const void *owner, const void *user, phys_addr_t phys,
		       int prot, int want, dma_addr_t *iova)
{
	phys_addr_t page = phys & ~(phys_addr_t)(mi->geo.granule - 1);
	struct msi_iommu_user *u, *fresh = NULL;
	struct msi_iommu_doorbell *db;

	lockdep_assert_held(&mi->lock);

	u = user_find(mi, user);
	if (u && u->db->phys == page &&
	    (want < 0 || u->db->iova == slot_iova(mi, want))) {
		/*
		 * A plain bind makes a pending binding the user's own; a
		 * binding left by another owner (a freed user at the same
		 * address) becomes part of this move, to be kept or taken back
		 */
		if (want < 0)
			u->pending = false;
		else if (u->owner != owner)
			u->pending = true;
		u->owner = owner;
		*iova = u->db->iova;
		return 0;
	}
	if (!u) {
		fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
		if (!fresh)
			return -ENOMEM;
	}
	db = doorbell_get(mi, domain, phys, prot, want);
	if (IS_ERR(db)) {
		kfree(fresh);
		return PTR_ERR(db);
	}
	if (u) {
		doorbell_put(mi, domain, u->db);
	} else {
		u = fresh;
		u->user = user;
		rb_add(&u->node, &mi->users, user_less);
	}
	u->owner = owner;
	u->db = db;
	u->pending = want >= 0;
	*iova = db->iova;
	return 0;
}

/* Unbind @u: its doorbell loses a user */
static void user_release(struct msi_iommu *mi, struct iommu_domain *domain,
			 struct msi_iommu_user *u)
{
	lockdep_assert_held(&mi->lock);

	rb_erase(&u->node, &mi->users);
	doorbell_put(mi, domain, u->db);
	kfree(u);
}

/**
 * msi_iommu_bind() - give a user (an MSI) its doorbell in a domain
 * @mi: the domain's doorbell state
 * @domain: the domain to map the doorbell in
 * @owner: what @user belongs to, typically its struct device, or NULL;
 *	see msi_iommu_unbind_owner()
 * @user: who the doorbell is for, typically a struct msi_desc; any pointer
 *	that stays unique while bound
 * @phys: the doorbell's physical address
 * @prot: IOMMU_* protection flags of the mapping
 * @iova: set to the IOVA of the doorbell's page
 *
 * Like msi_iommu_get_doorbell(), but the reference belongs to @user: a user
 * holds at most one.  Binding again to the same doorbell changes nothing;
 * binding to another one moves the reference there.  msi_iommu_unbind()
 * drops it, so the code that frees an MSI need not know which doorbell
 * (or whether any) was used.  On failure the user keeps what it had.
 *
 * Return: 0 on success, else as msi_iommu_get_doorbell().
 */
int msi_iommu_bind(struct msi_iommu *mi, struct iommu_domain *domain,
		   const void *owner, const void *user, phys_addr_t phys,
		   int prot, dma_addr_t *iova)
{
	int ret;

	mutex_lock(&mi->lock);
	ret = bind_locked(mi, domain, owner, user, phys, prot, -1, iova);
	mutex_unlock(&mi->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_bind);

/**
 * msi_iommu_bind_at() - bind a user to its doorbell at a given IOVA
 * @mi: the domain's doorbell state
 * @domain: the domain to map the doorbell in
 * @owner: as for msi_iommu_bind()
 * @user: as for msi_iommu_bind()
 * @phys: the doorbell's physical address
 * @prot: IOMMU_* protection flags of the mapping
 * @iova: where the doorbell's page must be: a granule-aligned IOVA in the
 *	window
 *
 * For moving MSIs that are in use to another domain: their messages hold
 * the doorbell's IOVA, so the new domain must map it at the same place.
 * A binding this call makes or changes is pending: the caller keeps the
 * owner's pending bindings with msi_iommu_commit() once the move has
 * happened, or takes them back with msi_iommu_cancel() if it failed.  A
 * user the owner already has bound there is left as it is (and not
 * pending).
 *
 * Return: 0 on success; -EINVAL if @iova is not a slot of the window;
 * -EBUSY if the slot holds another doorbell or the doorbell is already
 * mapped elsewhere in this domain; else as msi_iommu_get_doorbell().
 */
int msi_iommu_bind_at(struct msi_iommu *mi, struct iommu_domain *domain,
		      const void *owner, const void *user, phys_addr_t phys,
		      int prot, dma_addr_t iova)
{
	dma_addr_t got;
	u64 slot;
	int ret;

	mutex_lock(&mi->lock);
	if (!mi->nr_slots) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	slot = ((u64)iova - mi->geo.start) >> __ffs(mi->geo.granule);
	if (iova < mi->geo.start || slot >= mi->nr_slots ||
	    !IS_ALIGNED(iova, mi->geo.granule)) {
		ret = -EINVAL;
		goto out;
	}
	ret = bind_locked(mi, domain, owner, user, phys, prot, slot, &got);
out:
	mutex_unlock(&mi->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_bind_at);

/* What msi_iommu_end() does to each user of an owner */
enum msi_iommu_end {
	MSI_IOMMU_COMMIT,	/* keep pending bindings */
	MSI_IOMMU_CANCEL,	/* unbind pending bindings */
	MSI_IOMMU_UNBIND,	/* unbind every binding */
};

static unsigned int msi_iommu_end(struct msi_iommu *mi,
				  struct iommu_domain *domain,
				  const void *owner, enum msi_iommu_end end)
{
	struct rb_node *node, *next;
	unsigned int n = 0;

	mutex_lock(&mi->lock);
	/* In order: the successor stays valid when a node is erased */
	for (node = rb_first(&mi->users); node; node = next) {
		struct msi_iommu_user *u = node_to_user(node);

		next = rb_next(node);
		if (u->owner != owner ||
		    (end != MSI_IOMMU_UNBIND && !u->pending))
			continue;
		n++;
		if (end == MSI_IOMMU_COMMIT)
			u->pending = false;
		else
			user_release(mi, domain, u);
	}
	mutex_unlock(&mi->lock);
	return n;
}

/**
 * msi_iommu_commit() - keep the bindings a move made
 * @mi: the domain's doorbell state
 * @owner: as given to msi_iommu_bind_at()
 *
 * The owner's pending bindings (msi_iommu_bind_at()) become ordinary ones:
 * msi_iommu_cancel() leaves them alone.
 */
void msi_iommu_commit(struct msi_iommu *mi, const void *owner)
{
	msi_iommu_end(mi, NULL, owner, MSI_IOMMU_COMMIT);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_commit);

/**
 * msi_iommu_cancel() - take back the bindings of a failed move
 * @mi: the domain's doorbell state
 * @domain: the domain the doorbells are mapped in
 * @owner: as given to msi_iommu_bind_at()
 *
 * For a move that failed after its doorbells were bound: each pending
 * binding of @owner is unbound, and each doorbell the move mapped is
 * unmapped again, so that the domain is left as it was, also for users
 * freed meanwhile.  Bindings that were there before the move (not pending)
 * stay; a user whose binding the move changed is left unbound.
 *
 * Return: how many bindings were taken back.
 */
unsigned int msi_iommu_cancel(struct msi_iommu *mi,
			      struct iommu_domain *domain, const void *owner)
{
	return msi_iommu_end(mi, domain, owner, MSI_IOMMU_CANCEL);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_cancel);

/**
 * msi_iommu_unbind_owner() - unbind every user of an owner
 * @mi: the domain's doorbell state
 * @domain: the domain the doorbells are mapped in
 * @owner: as given to msi_iommu_bind() or msi_iommu_bind_at()
 *
 * For an owner (a device) that leaves the domain: its users lose their
 * doorbells, which are unmapped with their last user.  Users that were
 * freed without being unbound here go too.
 *
 * Return: how many users were unbound.
 */
unsigned int msi_iommu_unbind_owner(struct msi_iommu *mi,
				    struct iommu_domain *domain,
				    const void *owner)
{
	return msi_iommu_end(mi, domain, owner, MSI_IOMMU_UNBIND);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_unbind_owner);

/**
 * msi_iommu_lookup() - the doorbell a user is bound to
 * @mi: the domain's doorbell state
 * @user: as given to msi_iommu_bind()
 * @phys: set to the physical address of the doorbell's page
 * @iova: set to its IOVA
 *
 * Return: 0, or -ENOENT if @user is not bound in this domain.
 */
int msi_iommu_lookup(struct msi_iommu *mi, const void *user,
		     phys_addr_t *phys, dma_addr_t *iova)
{
	struct msi_iommu_user *u;

	mutex_lock(&mi->lock);
	u = user_find(mi, user);
	if (u) {
		*phys = u->db->phys;
		*iova = u->db->iova;
	}
	mutex_unlock(&mi->lock);
	return u ? 0 : -ENOENT;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_lookup);

/**
 * msi_iommu_unbind() - drop a user's doorbell reference, if it has one
 * @mi: the domain's doorbell state
 * @domain: the domain the doorbell is mapped in
 * @user: as given to msi_iommu_bind()
 *
 * The doorbell is unmapped, and its slot reusable, when its last user goes.
 *
 * Return: true if @user was bound in this domain.
 */
bool msi_iommu_unbind(struct msi_iommu *mi, struct iommu_domain *domain,
		      const void *user)
{
	struct msi_iommu_user *u;

	mutex_lock(&mi->lock);
	u = user_find(mi, user);
	if (u)
		user_release(mi, domain, u);
	mutex_unlock(&mi->lock);
	return u;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_unbind);

/**
 * msi_iommu_nr_slots() - how many doorbells a domain's window can hold
 * @mi: the domain's doorbell state
 *
 * Return: the number of granule-sized slots of the window; 0 if the domain
 * maps no doorbells, or its window cannot be used (not aligned to the
 * granule).
 */
unsigned int msi_iommu_nr_slots(struct msi_iommu *mi)
{
	unsigned int n;

	mutex_lock(&mi->lock);
	n = mi->nr_slots;
	mutex_unlock(&mi->lock);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_nr_slots);

/**
 * msi_iommu_window_fits() - is a domain's window inside an IOVA range
 * @mi: the domain's doorbell state
 * @first: first IOVA of the range
 * @last: last IOVA of the range, such as a device's DMA limit
 *
 * Return: true if the whole window lies in [@first, @last]; false if not,
 * or if the domain has no usable window.
 */
bool msi_iommu_window_fits(struct msi_iommu *mi, dma_addr_t first,
			   dma_addr_t last)
{
	bool fits;

	mutex_lock(&mi->lock);
	fits = mi->nr_slots && mi->geo.start >= first &&
	       mi->geo.size - 1 <= last - mi->geo.start &&
	       mi->geo.start <= last;
	mutex_unlock(&mi->lock);
	return fits;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_window_fits);

/**
 * msi_iommu_nr_doorbells() - how many doorbells a domain has mapped
 * @mi: the domain's doorbell state
 *
 * Return: the number of distinct doorbell pages mapped.
 */
unsigned int msi_iommu_nr_doorbells(struct msi_iommu *mi)
{
	unsigned int n;

	mutex_lock(&mi->lock);
	n = mi->nr_doorbells;
	mutex_unlock(&mi->lock);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_nr_doorbells);

/**
 * msi_iommu_translate_msg() - point an MSI message at the doorbell's IOVA
 * @msg: the message, composed with the doorbell's physical address
 * @iova: the IOVA of the doorbell's page
 * @shift: log2 of the page (granule) size
 *
 * The offset of the doorbell within its page is kept.
 */
void msi_iommu_translate_msg(struct msi_msg *msg, dma_addr_t iova,
			     unsigned int shift)
{
	u64 addr = (u64)iova | (msg->address_lo & lower_32_bits(BIT_ULL(shift) - 1));

	msg->address_hi = upper_32_bits(addr);
	msg->address_lo = lower_32_bits(addr);
}
EXPORT_SYMBOL_IF_KUNIT(msi_iommu_translate_msg);
