// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the msi-iommu core, on a fake paging domain that records
 * what is mapped where.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/io-pgtable.h>
#include <linux/iommu.h>
#include <linux/kthread.h>
#include <linux/msi.h>
#include <linux/msi-iommu.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <linux/xarray.h>
#include <trace/events/kmem.h>

#define WIN_START	0x8000000ULL
#define WIN_SIZE	SZ_1M
#define GRANULE		SZ_4K
#define DOORBELL	0x8090040ULL	/* GITS_TRANSLATER of QEMU's virt ITS */
#define DB_PAGE		0x8090000ULL

struct fake_domain {
	struct iommu_domain domain;
	struct xarray map;		/* IOVA page -> physical page */
	unsigned long nr_mapped;
	int fail_map;			/* error the next map returns */
};

#define to_fake(d) container_of(d, struct fake_domain, domain)

static int fake_map_pages(struct iommu_domain *d, unsigned long iova,
			  phys_addr_t paddr, size_t pgsize, size_t pgcount,
			  int prot, gfp_t gfp, size_t *mapped)
{
	struct fake_domain *fd = to_fake(d);
	size_t i;
	int ret;

	if (fd->fail_map) {
		ret = fd->fail_map;
		fd->fail_map = 0;
		return ret;
	}
	for (i = 0; i < pgcount; i++) {
		unsigned long idx = (iova >> PAGE_SHIFT) + i;

		if (xa_load(&fd->map, idx))
			return -EEXIST;
		ret = xa_err(xa_store(&fd->map, idx,
				      xa_mk_value((paddr >> PAGE_SHIFT) + i),
				      gfp));
		if (ret)
			return ret;
		fd->nr_mapped++;
		*mapped += pgsize;
	}
	return 0;
}

static size_t fake_unmap_pages(struct iommu_domain *d, unsigned long iova,
			       size_t pgsize, size_t pgcount,
			       struct iommu_iotlb_gather *gather)
{
	struct fake_domain *fd = to_fake(d);
	size_t i, done = 0;

	for (i = 0; i < pgcount; i++) {
		if (!xa_erase(&fd->map, (iova >> PAGE_SHIFT) + i))
			break;
		fd->nr_mapped--;
		done += pgsize;
	}
	return done;
}

static const struct iommu_domain_ops fake_ops = {
	.map_pages = fake_map_pages,
	.unmap_pages = fake_unmap_pages,
};

struct msi_test {
	struct fake_domain fd;
	struct msi_iommu mi;
};

static phys_addr_t fake_lookup(struct fake_domain *fd, dma_addr_t iova)
{
	void *e = xa_load(&fd->map, iova >> PAGE_SHIFT);

	return e ? (phys_addr_t)xa_to_value(e) << PAGE_SHIFT : 0;
}

static void msi_test_setup(struct kunit *test, struct msi_test *t,
			   dma_addr_t size, bool movable)
{
	struct msi_iommu_geometry geo = {
		.start = WIN_START,
		.size = size,
		.granule = GRANULE,
		.sw_mapped = true,
		.movable = movable,
	};

	xa_init(&t->fd.map);
	t->fd.domain.type = IOMMU_DOMAIN_UNMANAGED;
	t->fd.domain.ops = &fake_ops;
	t->fd.domain.pgsize_bitmap = GRANULE;
	t->fd.domain.geometry.aperture_start = 0;
	t->fd.domain.geometry.aperture_end = SZ_4G - 1;
	t->fd.domain.geometry.force_aperture = true;
	msi_iommu_init(&t->mi, &geo);
}

static void msi_test_exit(void *data)
{
	struct msi_test *t = data;

	msi_iommu_destroy(&t->mi, &t->fd.domain);
	xa_destroy(&t->fd.map);
}

static struct msi_test *msi_test_alloc(struct kunit *test, dma_addr_t size,
				       bool movable)
{
	struct msi_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	msi_test_setup(test, t, size, movable);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, msi_test_exit, t));
	return t;
}

static int get(struct msi_test *t, phys_addr_t phys, dma_addr_t *iova)
{
	return msi_iommu_get_doorbell(&t->mi, &t->fd.domain, phys,
				      IOMMU_WRITE | IOMMU_MMIO, iova);
}

static void put(struct msi_test *t, phys_addr_t phys)
{
	msi_iommu_put_doorbell(&t->mi, &t->fd.domain, phys);
}

static int bind(struct msi_test *t, const void *user, phys_addr_t phys,
		dma_addr_t *iova)
{
	return msi_iommu_bind(&t->mi, &t->fd.domain, NULL, user, phys,
			      IOMMU_WRITE | IOMMU_MMIO, iova);
}

static bool unbind(struct msi_test *t, const void *user)
{
	return msi_iommu_unbind(&t->mi, &t->fd.domain, user);
}

/* The first doorbell goes to the start of the window, mapped to its page. */
static void msi_iommu_test_map_in_window(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t iova = 0;

	KUNIT_ASSERT_EQ(test, 0, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, iova, WIN_START);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, iova), DB_PAGE);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 1);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 1);
	put(t, DOORBELL);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 0);
}

/* Users of one doorbell page share a mapping until the last one goes. */
static void msi_iommu_test_shared(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t a = 0, b = 0, c = 0;

	KUNIT_ASSERT_EQ(test, 0, get(t, DOORBELL, &a));
	KUNIT_ASSERT_EQ(test, 0, get(t, DOORBELL, &b));
	KUNIT_ASSERT_EQ(test, 0, get(t, DB_PAGE + 0x44, &c));
	KUNIT_EXPECT_EQ(test, a, b);
	KUNIT_EXPECT_EQ(test, a, c);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 1);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 1);

	put(t, DOORBELL);
	put(t, DB_PAGE + 0x44);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 1);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, a), DB_PAGE);
	put(t, DOORBELL);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 0);
}

/* A slot freed by the last put is the next one handed out. */
static void msi_iommu_test_slot_reuse(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t a = 0, b = 0, c = 0, d = 0;

	KUNIT_ASSERT_EQ(test, 0, get(t, 0x10000000, &a));
	KUNIT_ASSERT_EQ(test, 0, get(t, 0x20000000, &b));
	KUNIT_ASSERT_EQ(test, 0, get(t, 0x30000000, &c));
	KUNIT_EXPECT_EQ(test, a, WIN_START);
	KUNIT_EXPECT_EQ(test, b, WIN_START + GRANULE);
	KUNIT_EXPECT_EQ(test, c, WIN_START + 2 * GRANULE);

	put(t, 0x20000000);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, b), 0);
	KUNIT_ASSERT_EQ(test, 0, get(t, 0x40000000, &d));
	KUNIT_EXPECT_EQ(test, d, b);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, d), 0x40000000);
	put(t, 0x10000000);
	put(t, 0x30000000);
	put(t, 0x40000000);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
}

/* A full window refuses with -ENOSPC and never maps outside itself. */
static void msi_iommu_test_exhaustion(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, 4 * GRANULE, true);
	dma_addr_t iova = 0;
	unsigned long idx;
	void *entry;
	int i;

	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, 0, get(t, SZ_1G + i * GRANULE, &iova));
	KUNIT_EXPECT_EQ(test, -ENOSPC, get(t, SZ_1G + 4 * GRANULE, &iova));
	KUNIT_EXPECT_EQ(test, -ENOSPC, get(t, SZ_2G, &iova));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 4);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 4);
	xa_for_each(&t->fd.map, idx, entry) {
		KUNIT_EXPECT_GE(test, (u64)idx << PAGE_SHIFT, WIN_START);
		KUNIT_EXPECT_LT(test, (u64)idx << PAGE_SHIFT,
				WIN_START + 4 * GRANULE);
	}
	/* An existing doorbell still gets its reference when full */
	KUNIT_EXPECT_EQ(test, 0, get(t, SZ_1G, &iova));
	put(t, SZ_1G);

	put(t, SZ_1G + 2 * GRANULE);
	KUNIT_EXPECT_EQ(test, 0, get(t, SZ_2G, &iova));
	KUNIT_EXPECT_EQ(test, iova, WIN_START + 2 * GRANULE);
}

/*
 * Bound users: one reference each however often they bind, dropped by
 * unbind without saying which doorbell; the last one unmaps the page.
 */
static void msi_iommu_test_bind(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t a = 0, b = 0;
	int user[3];

	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[0], DOORBELL, &a));
	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[1], DB_PAGE + 0x44, &b));
	KUNIT_EXPECT_EQ(test, a, WIN_START);
	KUNIT_EXPECT_EQ(test, b, a);
	/* Binding again (a reused MSI descriptor) takes nothing more */
	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[0], DOORBELL, &a));
	KUNIT_EXPECT_EQ(test, a, WIN_START);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 1);

	/* Unknown users change nothing */
	KUNIT_EXPECT_FALSE(test, unbind(t, &user[2]));
	KUNIT_EXPECT_TRUE(test, unbind(t, &user[1]));
	KUNIT_EXPECT_FALSE(test, unbind(t, &user[1]));
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, WIN_START), DB_PAGE);

	/* The last user unbinding unmaps the page and frees its slot */
	KUNIT_EXPECT_TRUE(test, unbind(t, &user[0]));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 0);
	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[2], SZ_1G, &a));
	KUNIT_EXPECT_EQ(test, a, WIN_START);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, a), SZ_1G);
	/* Still bound at destroy: freed with the domain's state */
}

/*
 * A user bound elsewhere moves its reference; if the new doorbell cannot be
 * had, the user keeps the old one.
 */
static void msi_iommu_test_bind_move(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, 2 * GRANULE, true);
	dma_addr_t iova = 0;
	int user[3];

	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[0], SZ_1G, &iova));
	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[0], SZ_2G, &iova));
	KUNIT_EXPECT_EQ(test, iova, WIN_START + GRANULE);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, WIN_START), 0);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 1);

	/* Fill the window, then ask to move to a third doorbell */
	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[1], SZ_1G, &iova));
	KUNIT_EXPECT_EQ(test, -ENOSPC, bind(t, &user[0], SZ_1G + SZ_1M, &iova));
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, WIN_START + GRANULE), SZ_2G);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 2);
	KUNIT_EXPECT_EQ(test, -ENOSPC, bind(t, &user[2], SZ_1G + SZ_1M, &iova));
	KUNIT_EXPECT_FALSE(test, unbind(t, &user[2]));

	KUNIT_EXPECT_TRUE(test, unbind(t, &user[0]));
	KUNIT_EXPECT_TRUE(test, unbind(t, &user[1]));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
}

/*
 * Binding at a given IOVA (MSIs moving to another domain keep their
 * doorbell IOVA), and looking a binding up.
 */
static void msi_iommu_test_bind_at(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, 4 * GRANULE, true);
	int prot = IOMMU_WRITE | IOMMU_MMIO;
	phys_addr_t phys = 0;
	dma_addr_t iova = 0;
	int user[3];

	KUNIT_EXPECT_EQ(test, -ENOENT,
			msi_iommu_lookup(&t->mi, &user[0], &phys, &iova));
	KUNIT_ASSERT_EQ(test, 0, msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL,
						   &user[0], DOORBELL, prot,
						   WIN_START + 2 * GRANULE));
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, WIN_START + 2 * GRANULE),
			DB_PAGE);
	KUNIT_ASSERT_EQ(test, 0, msi_iommu_lookup(&t->mi, &user[0], &phys,
						  &iova));
	KUNIT_EXPECT_EQ(test, phys, DB_PAGE);
	KUNIT_EXPECT_EQ(test, iova, WIN_START + 2 * GRANULE);
	/* Again at the same place: nothing more */
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL,
						   &user[0], DOORBELL, prot,
						   WIN_START + 2 * GRANULE));
	/* A second user of the doorbell shares it, at its place only */
	KUNIT_EXPECT_EQ(test, -EBUSY,
			msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL, &user[1],
					  DOORBELL, prot, WIN_START));
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL,
						   &user[1], DOORBELL, prot,
						   WIN_START + 2 * GRANULE));
	/* The slot is taken by that doorbell */
	KUNIT_EXPECT_EQ(test, -EBUSY,
			msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL, &user[2],
					  SZ_1G, prot, WIN_START + 2 * GRANULE));
	/* Not a slot of the window */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL, &user[2],
					  SZ_1G, prot, WIN_START - GRANULE));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL, &user[2],
					  SZ_1G, prot, WIN_START + 4 * GRANULE));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_bind_at(&t->mi, &t->fd.domain, NULL, &user[2],
					  SZ_1G, prot, WIN_START + 0x40));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 1);
	KUNIT_EXPECT_FALSE(test, unbind(t, &user[2]));

	/* Plain binds do not take the slot */
	KUNIT_ASSERT_EQ(test, 0, bind(t, &user[2], SZ_1G, &iova));
	KUNIT_EXPECT_EQ(test, iova, WIN_START);
	KUNIT_EXPECT_TRUE(test, unbind(t, &user[0]));
	KUNIT_EXPECT_TRUE(test, unbind(t, &user[1]));
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, WIN_START + 2 * GRANULE), 0);
	KUNIT_EXPECT_EQ(test, -ENOENT,
			msi_iommu_lookup(&t->mi, &user[0], &phys, &iova));
}

/* Moving the window: each bad request gets its errno and changes nothing. */
static void msi_iommu_test_set_window(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	struct iommu_domain *d = &t->fd.domain;
	struct msi_iommu_geometry geo;
	dma_addr_t iova = 0;

	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_set_window(&t->mi, d, SZ_1G + 0x800, SZ_1M));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_set_window(&t->mi, d, SZ_1G, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_set_window(&t->mi, d, SZ_1G, SZ_1M + 0x800));
	KUNIT_EXPECT_EQ(test, -EOVERFLOW,
			msi_iommu_set_window(&t->mi, d,
					     (dma_addr_t)-SZ_1M, SZ_2M));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_set_window(&t->mi, d, SZ_4G - SZ_1M, SZ_2M));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			msi_iommu_set_window(&t->mi, d, SZ_4G, SZ_1M));
	msi_iommu_get_geometry(&t->mi, &geo);
	KUNIT_EXPECT_EQ(test, geo.start, WIN_START);
	KUNIT_EXPECT_EQ(test, geo.size, WIN_SIZE);

	KUNIT_ASSERT_EQ(test, 0, msi_iommu_set_window(&t->mi, d, SZ_1G, SZ_1M));
	msi_iommu_get_geometry(&t->mi, &geo);
	KUNIT_EXPECT_EQ(test, geo.start, SZ_1G);
	KUNIT_EXPECT_EQ(test, geo.size, SZ_1M);

	KUNIT_ASSERT_EQ(test, 0, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, iova, SZ_1G);
	KUNIT_EXPECT_EQ(test, -EBUSY,
			msi_iommu_set_window(&t->mi, d, SZ_2G, SZ_1M));
	put(t, DOORBELL);
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_set_window(&t->mi, d, SZ_2G, SZ_1M));
	KUNIT_ASSERT_EQ(test, 0, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, iova, SZ_2G);
	put(t, DOORBELL);
}

/* A window the driver does not let move stays where it is. */
static void msi_iommu_test_fixed_window(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, false);

	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			msi_iommu_set_window(&t->mi, &t->fd.domain, SZ_1G,
					     SZ_1M));
}

/* A domain that needs no doorbell mapping accepts none. */
static void msi_iommu_test_no_mapping(struct kunit *test)
{
	struct msi_iommu_geometry geo = { .sw_mapped = false };
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t iova = 0;

	msi_iommu_destroy(&t->mi, &t->fd.domain);
	msi_iommu_init(&t->mi, &geo);
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			msi_iommu_set_window(&t->mi, &t->fd.domain, SZ_1G,
					     SZ_1M));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
}

static int bind_at(struct msi_test *t, const void *owner, const void *user,
		   phys_addr_t phys, dma_addr_t iova)
{
	return msi_iommu_bind_at(&t->mi, &t->fd.domain, owner, user, phys,
				 IOMMU_WRITE | IOMMU_MMIO, iova);
}

/*
 * Moving bound users to a domain that has their doorbells in the other
 * order (two ITSes, mapped first by different devices): the move fails
 * with -EBUSY, and cancelling it unmaps what it had mapped already and
 * leaves the domain exactly as it was.
 */
static void msi_iommu_test_move_opposite_order(struct kunit *test)
{
	struct msi_test *from = msi_test_alloc(test, WIN_SIZE, true);
	struct msi_test *to = msi_test_alloc(test, WIN_SIZE, true);
	const phys_addr_t its[3] = {
		DB_PAGE, DB_PAGE + SZ_128K, DB_PAGE + SZ_256K,
	};
	int moving[3], staying[2], owner, i;
	dma_addr_t iova[3], got;
	phys_addr_t phys;

	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, 0, bind(from, &moving[i], its[i],
					      &iova[i]));
	KUNIT_ASSERT_EQ(test, iova[0], WIN_START);
	KUNIT_ASSERT_EQ(test, 0, bind(to, &staying[0], its[1], &got));
	KUNIT_ASSERT_EQ(test, 0, bind(to, &staying[1], its[0], &got));
	KUNIT_ASSERT_EQ(test, fake_lookup(&to->fd, WIN_START), its[1]);

	/* The third doorbell's slot is free in @to: mapped, pending */
	KUNIT_ASSERT_EQ(test, 0, bind_at(to, &owner, &moving[2], its[2],
					 iova[2]));
	KUNIT_EXPECT_EQ(test, fake_lookup(&to->fd, iova[2]), its[2]);
	/* The first doorbell's IOVA holds the other one in @to */
	KUNIT_EXPECT_EQ(test, -EBUSY, bind_at(to, &owner, &moving[0], its[0],
					      iova[0]));
	KUNIT_EXPECT_EQ(test, 1, msi_iommu_cancel(&to->mi, &to->fd.domain,
						  &owner));
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, -ENOENT, msi_iommu_lookup(&to->mi,
								&moving[i],
								&phys, &got));
	/* @to as it was, @from untouched */
	KUNIT_EXPECT_EQ(test, to->fd.nr_mapped, 2);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&to->mi), 2);
	KUNIT_EXPECT_EQ(test, fake_lookup(&to->fd, WIN_START), its[1]);
	KUNIT_EXPECT_EQ(test, fake_lookup(&to->fd, WIN_START + GRANULE),
			its[0]);
	KUNIT_EXPECT_EQ(test, fake_lookup(&to->fd, iova[2]), 0);
	KUNIT_EXPECT_EQ(test, from->fd.nr_mapped, 3);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_TRUE(test, unbind(from, &moving[i]));
	for (i = 0; i < 2; i++)
		KUNIT_EXPECT_TRUE(test, unbind(to, &staying[i]));
	KUNIT_EXPECT_EQ(test, to->fd.nr_mapped, 0);
}

/*
 * What msi_iommu_bind_at() binds is pending for its owner: cancel takes
 * back exactly that (a doorbell it mapped, a user it bound), and nothing
 * that was there before nor another owner's; commit keeps it; unbinding
 * the owner takes all its users, also one never unbound on its own (an
 * MSI freed while its device was elsewhere).
 */
static void msi_iommu_test_pending(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	int prot = IOMMU_WRITE | IOMMU_MMIO;
	int owner, other, before, moved[3];
	dma_addr_t iova = 0, at = WIN_START + 3 * GRANULE;
	phys_addr_t phys;

	/* A user of the owner bound before the move, by a plain bind */
	KUNIT_ASSERT_EQ(test, 0, msi_iommu_bind(&t->mi, &t->fd.domain, &owner,
						&before, DOORBELL, prot,
						&iova));
	KUNIT_ASSERT_EQ(test, iova, WIN_START);

	/* The move: one user shares that doorbell, one maps another */
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &owner, &moved[0], DOORBELL,
					 WIN_START));
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &owner, &moved[1], SZ_1G, at));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 2);
	/* A user already bound where the move wants it is not pending */
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &owner, &before, DOORBELL,
					 WIN_START));
	/* Another owner's move */
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &other, &moved[2], SZ_1G, at));

	KUNIT_EXPECT_EQ(test, 2, msi_iommu_cancel(&t->mi, &t->fd.domain,
						  &owner));
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_cancel(&t->mi, &t->fd.domain,
						  &owner));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 2);
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_lookup(&t->mi, &before, &phys,
						  &iova));
	KUNIT_EXPECT_EQ(test, -ENOENT, msi_iommu_lookup(&t->mi, &moved[0],
							&phys, &iova));
	KUNIT_EXPECT_EQ(test, -ENOENT, msi_iommu_lookup(&t->mi, &moved[1],
							&phys, &iova));

	/* Committed: cancel has nothing to take back */
	msi_iommu_commit(&t->mi, &other);
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_cancel(&t->mi, &t->fd.domain,
						  &other));
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, at), SZ_1G);
	/* A plain bind of a pending user makes it the user's own too */
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &owner, &moved[0], SZ_1G, at));
	KUNIT_ASSERT_EQ(test, 0, msi_iommu_bind(&t->mi, &t->fd.domain, &owner,
						&moved[0], SZ_1G, prot,
						&iova));
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_cancel(&t->mi, &t->fd.domain,
						  &owner));

	/*
	 * A binding another owner left (a freed user at the same address)
	 * is taken over by a move as pending: cancelling the move removes it
	 */
	KUNIT_ASSERT_EQ(test, 0, msi_iommu_bind(&t->mi, &t->fd.domain, &other,
						&moved[1], SZ_1G, prot,
						&iova));
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &owner, &moved[1], SZ_1G, at));
	/* The other owner's unbind no longer reaches it */
	KUNIT_EXPECT_EQ(test, 1, msi_iommu_unbind_owner(&t->mi, &t->fd.domain,
							&other));
	KUNIT_EXPECT_EQ(test, 1, msi_iommu_cancel(&t->mi, &t->fd.domain,
						  &owner));
	KUNIT_EXPECT_EQ(test, -ENOENT, msi_iommu_lookup(&t->mi, &moved[1],
							&phys, &iova));
	KUNIT_ASSERT_EQ(test, 0, bind_at(t, &other, &moved[2], SZ_1G, at));
	msi_iommu_commit(&t->mi, &other);

	/* The owner leaves: all its users go, another owner's stay */
	KUNIT_EXPECT_EQ(test, 2, msi_iommu_unbind_owner(&t->mi,
							&t->fd.domain,
							&owner));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 1);
	KUNIT_EXPECT_EQ(test, fake_lookup(&t->fd, WIN_START), 0);
	KUNIT_EXPECT_TRUE(test, unbind(t, &moved[2]));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
}

/*
 * A window not aligned to the granule (firmware, or a paravirtual IOMMU
 * on a host with 64 KiB pages) takes no doorbell, without a warning.
 */
static void msi_iommu_test_unaligned_window(struct kunit *test)
{
	struct msi_iommu_geometry geo = {
		.start = WIN_START + SZ_1K,
		.size = WIN_SIZE,
		.granule = GRANULE,
		.sw_mapped = true,
	};
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t iova = 0;

	msi_iommu_destroy(&t->mi, &t->fd.domain);
	msi_iommu_init(&t->mi, &geo);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_slots(&t->mi), 0);
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			bind_at(t, NULL, test, DOORBELL, WIN_START));

	msi_iommu_destroy(&t->mi, &t->fd.domain);
	geo.start = WIN_START;
	geo.size = WIN_SIZE - SZ_1K;
	msi_iommu_init(&t->mi, &geo);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_slots(&t->mi), 0);
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
}

/*
 * Whether a window lies in an IOVA range, as dma-iommu asks of a device's
 * DMA limit: a device that cannot reach the window does not use it.
 */
static void msi_iommu_test_window_fits(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	const dma_addr_t last = WIN_START + WIN_SIZE - 1;

	KUNIT_EXPECT_TRUE(test, msi_iommu_window_fits(&t->mi, 0, U32_MAX));
	KUNIT_EXPECT_TRUE(test, msi_iommu_window_fits(&t->mi, WIN_START,
						      last));
	KUNIT_EXPECT_FALSE(test, msi_iommu_window_fits(&t->mi, 0, last - 1));
	KUNIT_EXPECT_FALSE(test, msi_iommu_window_fits(&t->mi, 0,
						       WIN_START - 1));
	KUNIT_EXPECT_FALSE(test, msi_iommu_window_fits(&t->mi, WIN_START + 1,
						       U32_MAX));
	/* A 28-bit device (QEMU's edu) reaches 0x8000000, not 1 GiB */
	KUNIT_EXPECT_TRUE(test, msi_iommu_window_fits(&t->mi, 0,
						      (1ULL << 28) - 1));
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_set_window(&t->mi, &t->fd.domain,
						      SZ_1G, WIN_SIZE));
	KUNIT_EXPECT_FALSE(test, msi_iommu_window_fits(&t->mi, 0,
						       (1ULL << 28) - 1));

	/* No usable window fits nowhere */
	msi_iommu_destroy(&t->mi, &t->fd.domain);
	msi_test_setup(test, t, 0, true);
	KUNIT_EXPECT_FALSE(test, msi_iommu_window_fits(&t->mi, 0, U64_MAX));
}

/* A failed map leaves no doorbell, no mapping and no slot behind. */
static void msi_iommu_test_map_failure(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t iova = 0;

	t->fd.fail_map = -EIO;
	KUNIT_EXPECT_EQ(test, -EIO, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 0);
	KUNIT_EXPECT_EQ(test, 0, msi_iommu_set_window(&t->mi, &t->fd.domain,
						      WIN_START, WIN_SIZE));
	KUNIT_ASSERT_EQ(test, 0, get(t, DOORBELL, &iova));
	KUNIT_EXPECT_EQ(test, iova, WIN_START);
	put(t, DOORBELL);
}

/* Destroying the state unmaps what is still mapped. */
static void msi_iommu_test_destroy(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	dma_addr_t iova = 0;
	int i;

	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, 0, get(t, SZ_1G + i * GRANULE, &iova));
	KUNIT_ASSERT_EQ(test, 0, get(t, SZ_1G, &iova));
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 3);
	msi_iommu_destroy(&t->mi, &t->fd.domain);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
	/* the exit action destroys again: start over empty */
	msi_test_setup(test, t, WIN_SIZE, true);
}

static void msi_iommu_test_translate(struct kunit *test)
{
	struct msi_msg msg = {
		.address_lo = lower_32_bits(DOORBELL),
		.address_hi = upper_32_bits(DOORBELL),
		.data = 7,
	};

	msi_iommu_translate_msg(&msg, WIN_START, PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, msg.address_lo, 0x8000040);
	KUNIT_EXPECT_EQ(test, msg.address_hi, 0);
	KUNIT_EXPECT_EQ(test, msg.data, 7);

	msg.address_lo = 0x40;
	msi_iommu_translate_msg(&msg, 0x123400000000ULL, PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, msg.address_lo, 0x40);
	KUNIT_EXPECT_EQ(test, msg.address_hi, 0x1234);
}

static void add_region(struct kunit *test, struct list_head *list,
		       struct iommu_resv_region *region)
{
	KUNIT_ASSERT_NOT_NULL(test, region);
	list_add_tail(&region->list, list);
}

/* What drivers advertise becomes the geometry the core works with. */
static void msi_iommu_test_geometry(struct kunit *test)
{
	int prot = IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO;
	struct msi_iommu_geometry geo;
	LIST_HEAD(regions);

	/* no MSI region: nothing to map */
	msi_iommu_geometry_from_regions(&regions, SZ_4K, &geo);
	KUNIT_EXPECT_FALSE(test, geo.sw_mapped);
	KUNIT_EXPECT_EQ(test, geo.size, 0);

	/* an SMMU-style movable software MSI window */
	add_region(test, &regions,
		   iommu_alloc_resv_region(0x40000000, SZ_16M, 0,
					   IOMMU_RESV_RESERVED, GFP_KERNEL));
	add_region(test, &regions,
		   msi_iommu_alloc_sw_msi_region(WIN_START, WIN_SIZE, prot,
						 true, GFP_KERNEL));
	msi_iommu_geometry_from_regions(&regions, SZ_4K | SZ_2M, &geo);
	KUNIT_EXPECT_TRUE(test, geo.sw_mapped);
	KUNIT_EXPECT_TRUE(test, geo.movable);
	KUNIT_EXPECT_EQ(test, geo.start, WIN_START);
	KUNIT_EXPECT_EQ(test, geo.size, WIN_SIZE);
	KUNIT_EXPECT_EQ(test, geo.granule, PAGE_SIZE);

	/* the granule follows the domain's smallest page */
	msi_iommu_geometry_from_regions(&regions, SZ_64K | SZ_512M, &geo);
	KUNIT_EXPECT_EQ(test, geo.granule, max_t(size_t, PAGE_SIZE, SZ_64K));

	/* hardware MSI regions beside it leave the window as it is */
	add_region(test, &regions,
		   iommu_alloc_resv_region(0x8080000, SZ_128K, prot,
					   IOMMU_RESV_MSI, GFP_KERNEL));
	msi_iommu_geometry_from_regions(&regions, SZ_4K, &geo);
	KUNIT_EXPECT_TRUE(test, geo.sw_mapped);
	KUNIT_EXPECT_EQ(test, geo.start, WIN_START);
	iommu_put_resv_regions(NULL, &regions);

	/* hardware MSI alone: no mapping at all */
	INIT_LIST_HEAD(&regions);
	add_region(test, &regions,
		   iommu_alloc_resv_region(0x8080000, SZ_128K, prot,
					   IOMMU_RESV_MSI, GFP_KERNEL));
	msi_iommu_geometry_from_regions(&regions, SZ_4K, &geo);
	KUNIT_EXPECT_FALSE(test, geo.sw_mapped);
	KUNIT_EXPECT_FALSE(test, geo.movable);
	KUNIT_EXPECT_EQ(test, geo.size, 0);
	iommu_put_resv_regions(NULL, &regions);

	/* a plain software MSI region (another driver) is not movable */
	INIT_LIST_HEAD(&regions);
	add_region(test, &regions,
		   iommu_alloc_resv_region(WIN_START, WIN_SIZE, prot,
					   IOMMU_RESV_SW_MSI, GFP_KERNEL));
	msi_iommu_geometry_from_regions(&regions, SZ_4K, &geo);
	KUNIT_EXPECT_TRUE(test, geo.sw_mapped);
	KUNIT_EXPECT_FALSE(test, geo.movable);
	iommu_put_resv_regions(NULL, &regions);
}

#if IS_ENABLED(CONFIG_IOMMU_IO_PGTABLE_LPAE)
/* A paging domain backed by real ARM LPAE page tables (as the SMMUs use) */
struct pgtable_domain {
	struct iommu_domain domain;
	struct io_pgtable_ops *ops;
};

#define to_pgtable(d) container_of(d, struct pgtable_domain, domain)

static int pgtable_map_pages(struct iommu_domain *d, unsigned long iova,
			     phys_addr_t paddr, size_t pgsize, size_t pgcount,
			     int prot, gfp_t gfp, size_t *mapped)
{
	struct io_pgtable_ops *ops = to_pgtable(d)->ops;

	return ops->map_pages(ops, iova, paddr, pgsize, pgcount, prot, gfp,
			      mapped);
}

static size_t pgtable_unmap_pages(struct iommu_domain *d, unsigned long iova,
				  size_t pgsize, size_t pgcount,
				  struct iommu_iotlb_gather *gather)
{
	struct io_pgtable_ops *ops = to_pgtable(d)->ops;

	return ops->unmap_pages(ops, iova, pgsize, pgcount, gather);
}

static const struct iommu_domain_ops pgtable_domain_ops = {
	.map_pages = pgtable_map_pages,
	.unmap_pages = pgtable_unmap_pages,
};

static void pgtable_tlb_flush_all(void *cookie)
{
}

static void pgtable_tlb_flush(unsigned long iova, size_t size,
			      size_t granule, void *cookie)
{
}

static void pgtable_tlb_add_page(struct iommu_iotlb_gather *gather,
				 unsigned long iova, size_t granule,
				 void *cookie)
{
}

static const struct iommu_flush_ops pgtable_tlb_ops = {
	.tlb_flush_all = pgtable_tlb_flush_all,
	.tlb_flush_walk = pgtable_tlb_flush,
	.tlb_add_page = pgtable_tlb_add_page,
};

#define PGT_SLOTS	16

/*
 * On real LPAE page tables: a full window refuses the next doorbell with
 * -ENOSPC, the translation past its end stays empty, and the last put
 * leaves nothing mapped.
 */
static struct pgtable_domain *pgtable_domain_alloc(struct kunit *test)
{
	struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G,
		.ias = 48,
		.oas = 48,
		.coherent_walk = true,
		.tlb = &pgtable_tlb_ops,
	};
	struct pgtable_domain *pd;
	struct device *dev;

	pd = kunit_kzalloc(test, sizeof(*pd), GFP_KERNEL);
	dev = kunit_kzalloc(test, sizeof(*dev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pd);
	KUNIT_ASSERT_NOT_NULL(test, dev);
	/* the page table allocator only needs dev_to_node() */
	set_dev_node(dev, NUMA_NO_NODE);
	cfg.iommu_dev = dev;
	pd->ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, pd);
	KUNIT_ASSERT_NOT_NULL(test, pd->ops);
	pd->domain.type = IOMMU_DOMAIN_UNMANAGED;
	pd->domain.ops = &pgtable_domain_ops;
	pd->domain.pgsize_bitmap = cfg.pgsize_bitmap;
	return pd;
}

static phys_addr_t pgtable_lookup(struct pgtable_domain *pd, dma_addr_t iova)
{
	return pd->ops->iova_to_phys(pd->ops, iova);
}

static void msi_iommu_test_io_pgtable_exhaustion(struct kunit *test)
{
	struct msi_iommu_geometry geo = {
		.start = WIN_START,
		.size = PGT_SLOTS * GRANULE,
		.granule = GRANULE,
		.sw_mapped = true,
	};
	struct pgtable_domain *pd = pgtable_domain_alloc(test);
	int i, prot = IOMMU_WRITE | IOMMU_MMIO;
	struct msi_iommu *mi;
	dma_addr_t iova = 0;

	mi = kunit_kzalloc(test, sizeof(*mi), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mi);
	msi_iommu_init(mi, &geo);

	for (i = 0; i < PGT_SLOTS; i++) {
		KUNIT_ASSERT_EQ(test, 0,
				msi_iommu_get_doorbell(mi, &pd->domain,
						       SZ_1G + i * SZ_64K,
						       prot, &iova));
		KUNIT_EXPECT_EQ(test, iova, WIN_START + i * GRANULE);
		KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, iova + 0x40),
				SZ_1G + i * SZ_64K + 0x40);
	}
	KUNIT_EXPECT_EQ(test, -ENOSPC,
			msi_iommu_get_doorbell(mi, &pd->domain, SZ_2G, prot,
					       &iova));
	KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, WIN_START + PGT_SLOTS * GRANULE),
			0);
	KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, WIN_START - GRANULE), 0);

	for (i = 0; i < PGT_SLOTS; i++)
		msi_iommu_put_doorbell(mi, &pd->domain, SZ_1G + i * SZ_64K);
	for (i = 0; i < PGT_SLOTS; i++)
		KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, WIN_START + i * GRANULE),
				0);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(mi), 0);
	msi_iommu_destroy(mi, &pd->domain);
	free_io_pgtable_ops(pd->ops);
}

#ifdef CONFIG_FAULT_INJECTION
/* Is the n-th allocation of this task made to fail (fail-nth) right now? */
static bool fault_injection_armed(void)
{
	void *p;

	WRITE_ONCE(current->fail_nth, 1);
	p = kzalloc(64, GFP_KERNEL);
	WRITE_ONCE(current->fail_nth, 0);
	kfree(p);
	return !p;
}

/*
 * Make each allocation of a first doorbell get fail in turn (the doorbell,
 * the slot, the page tables of the mapping) on real page tables: every
 * failure must leave nothing mapped and nothing allocated, and the next get
 * must land in the first slot as if nothing had happened.
 */
static void fault_doorbell(struct kunit *test, bool bound)
{
	struct msi_iommu_geometry geo = {
		.start = WIN_START,
		.size = WIN_SIZE,
		.granule = GRANULE,
		.sw_mapped = true,
	};
	int ret, prot = IOMMU_WRITE | IOMMU_MMIO;
	unsigned int nth, left, failures = 0;
	struct pgtable_domain *pd;
	struct msi_iommu *mi;
	dma_addr_t iova = 0;

	if (!fault_injection_armed())
		kunit_skip(test, "fault injection not armed (ignore-gfp-wait)");
	mi = kunit_kzalloc(test, sizeof(*mi), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mi);

	for (nth = 1; nth < 200; nth++) {
		pd = pgtable_domain_alloc(test);
		msi_iommu_init(mi, &geo);

		WRITE_ONCE(current->fail_nth, nth);
		if (bound)
			ret = msi_iommu_bind(mi, &pd->domain, NULL, test,
					     DOORBELL, prot, &iova);
		else
			ret = msi_iommu_get_doorbell(mi, &pd->domain, DOORBELL,
						     prot, &iova);
		left = READ_ONCE(current->fail_nth);
		WRITE_ONCE(current->fail_nth, 0);

		if (ret) {
			failures++;
			KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
			KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(mi), 0);
			KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, WIN_START), 0);
			if (bound)
				KUNIT_EXPECT_FALSE(test,
						   msi_iommu_unbind(mi, &pd->domain,
								    test));
			KUNIT_EXPECT_EQ(test, 0,
					bound ?
					msi_iommu_bind(mi, &pd->domain, NULL,
						       test, DOORBELL, prot,
						       &iova) :
					msi_iommu_get_doorbell(mi, &pd->domain,
							       DOORBELL, prot,
							       &iova));
		}
		KUNIT_EXPECT_EQ(test, iova, WIN_START);
		KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, WIN_START + 0x40),
				DOORBELL);
		if (bound)
			KUNIT_EXPECT_TRUE(test, msi_iommu_unbind(mi, &pd->domain,
								 test));
		else
			msi_iommu_put_doorbell(mi, &pd->domain, DOORBELL);
		KUNIT_EXPECT_EQ(test, pgtable_lookup(pd, WIN_START), 0);
		msi_iommu_destroy(mi, &pd->domain);
		free_io_pgtable_ops(pd->ops);
		if (!ret && left)
			break;	/* no allocation left to fail */
	}
	KUNIT_EXPECT_LT(test, nth, 200);
	KUNIT_EXPECT_GE(test, failures, bound ? 4 : 3);
	kunit_info(test, "%u injected allocation failures, none left a trace\n",
		   failures);
}

static void msi_iommu_test_fault_get(struct kunit *test)
{
	fault_doorbell(test, false);
}

/* The same for a bound user, whose binding itself needs memory */
static void msi_iommu_test_fault_bind(struct kunit *test)
{
	fault_doorbell(test, true);
}
#else
static void msi_iommu_test_fault_get(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
}

static void msi_iommu_test_fault_bind(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
}
#endif
#else
static void msi_iommu_test_io_pgtable_exhaustion(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_IOMMU_IO_PGTABLE_LPAE");
}

static void msi_iommu_test_fault_get(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_IOMMU_IO_PGTABLE_LPAE");
}

static void msi_iommu_test_fault_bind(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_IOMMU_IO_PGTABLE_LPAE");
}
#endif

#define CONC_THREADS	4
#define CONC_ROUNDS	300
#define CONC_DOORBELLS	6

struct conc_arg {
	struct kunit *test;
	struct msi_test *t;
	struct completion done;
	unsigned int seed;
	int errors;
};

static int conc_worker(void *data)
{
	struct conc_arg *arg = data;
	dma_addr_t iova;
	int i;

	for (i = 0; i < CONC_ROUNDS; i++) {
		unsigned int k = (arg->seed + i * 7) % CONC_DOORBELLS;
		phys_addr_t phys = SZ_1G + k * GRANULE + 0x40;

		if (get(arg->t, phys, &iova) ||
		    fake_lookup(&arg->t->fd, iova) != SZ_1G + k * GRANULE)
			arg->errors++;
		else
			put(arg->t, phys);
		if (!(i % 32))
			cond_resched();
	}
	complete(&arg->done);
	return 0;
}

/* Concurrent users of shared and distinct doorbells end with nothing left. */
static void msi_iommu_test_concurrent(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, 8 * GRANULE, true);
	struct conc_arg args[CONC_THREADS];
	struct task_struct *task;
	int i;

	for (i = 0; i < CONC_THREADS; i++) {
		args[i].test = test;
		args[i].t = t;
		args[i].seed = i * 3;
		args[i].errors = 0;
		init_completion(&args[i].done);
		task = kthread_run(conc_worker, &args[i], "msi-iommu-test/%d", i);
		if (IS_ERR(task)) {
			args[i].errors = 1;
			complete(&args[i].done);
		}
	}
	for (i = 0; i < CONC_THREADS; i++) {
		wait_for_completion(&args[i].done);
		KUNIT_EXPECT_EQ(test, args[i].errors, 0);
	}
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 0);
	KUNIT_EXPECT_EQ(test, t->fd.nr_mapped, 0);
}

static struct kunit_case msi_iommu_test_cases[] = {
	KUNIT_CASE(msi_iommu_test_map_in_window),
	KUNIT_CASE(msi_iommu_test_shared),
	KUNIT_CASE(msi_iommu_test_slot_reuse),
	KUNIT_CASE(msi_iommu_test_exhaustion),
	KUNIT_CASE(msi_iommu_test_bind),
	KUNIT_CASE(msi_iommu_test_bind_move),
	KUNIT_CASE(msi_iommu_test_bind_at),
	KUNIT_CASE(msi_iommu_test_set_window),
	KUNIT_CASE(msi_iommu_test_fixed_window),
	KUNIT_CASE(msi_iommu_test_no_mapping),
	KUNIT_CASE(msi_iommu_test_move_opposite_order),
	KUNIT_CASE(msi_iommu_test_pending),
	KUNIT_CASE(msi_iommu_test_unaligned_window),
	KUNIT_CASE(msi_iommu_test_window_fits),
	KUNIT_CASE(msi_iommu_test_map_failure),
	KUNIT_CASE(msi_iommu_test_destroy),
	KUNIT_CASE(msi_iommu_test_translate),
	KUNIT_CASE(msi_iommu_test_geometry),
	KUNIT_CASE(msi_iommu_test_concurrent),
	KUNIT_CASE(msi_iommu_test_io_pgtable_exhaustion),
	{}
};

static struct kunit_suite msi_iommu_test_suite = {
	.name = "msi-iommu",
	.test_cases = msi_iommu_test_cases,
};

/*
 * Run again by the test bed's init once allocation fault injection is
 * armed (failslab and fail_page_alloc ignore-gfp-wait = N); at boot it
 * skips.
 */
static struct kunit_case msi_iommu_fault_test_cases[] = {
	KUNIT_CASE(msi_iommu_test_fault_get),
	KUNIT_CASE(msi_iommu_test_fault_bind),
	{}
};

/*
 * KUnit treats a case whose last run skipped as marked to be skipped; the
 * second run is the one that counts, so let every case run again.
 */
static int msi_iommu_fault_suite_init(struct kunit_suite *suite)
{
	struct kunit_case *test_case;

	kunit_suite_for_each_test_case(suite, test_case)
		test_case->status = KUNIT_SUCCESS;
	return 0;
}

static struct kunit_suite msi_iommu_fault_test_suite = {
	.name = "msi-iommu-fault",
	.suite_init = msi_iommu_fault_suite_init,
	.test_cases = msi_iommu_fault_test_cases,
};

/*
 * msi-iommu-bench: measurements for make bench (harness/bench.sh), printed
 * as "msi-iommu-bench:" lines, not verdicts; each case still checks that
 * what it timed worked.
 */
#define BENCH_ROUNDS	5
#define BENCH_OPS	400
#define BENCH_USERS_MAX	2048

static phys_addr_t bench_doorbell(unsigned int i)
{
	return DB_PAGE + i * GRANULE + 0x40;
}

static int bench_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The median over BENCH_ROUNDS of the ns per op of BENCH_OPS ops */
static u64 bench_median(u64 *ns)
{
	sort(ns, BENCH_ROUNDS, sizeof(*ns), bench_cmp, NULL);
	return ns[BENCH_ROUNDS / 2];
}

/*
 * With @n users bound over @ndb doorbells: one more user bound to a mapped
 * doorbell and unbound again, and a lookup of a bound user
 */
static void bench_users(struct kunit *test, unsigned int n, unsigned int ndb)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	unsigned int used = min(n, ndb), r, i;
	u64 bind_ns[BENCH_ROUNDS], lookup_ns[BENCH_ROUNDS], start;
	u8 *users = kunit_kzalloc(test, n + 1, GFP_KERNEL);
	dma_addr_t iova;
	phys_addr_t phys;

	KUNIT_ASSERT_NOT_NULL(test, users);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, 0, bind(t, &users[i],
					      bench_doorbell(i % ndb), &iova));
	for (r = 0; r < BENCH_ROUNDS; r++) {
		start = ktime_get_ns();
		for (i = 0; i < BENCH_OPS; i++) {
			KUNIT_ASSERT_EQ(test, 0,
					bind(t, &users[n],
					     bench_doorbell(i % used), &iova));
			KUNIT_ASSERT_TRUE(test, unbind(t, &users[n]));
		}
		bind_ns[r] = (ktime_get_ns() - start) / BENCH_OPS;

		start = ktime_get_ns();
		for (i = 0; i < BENCH_OPS; i++) {
			unsigned int u = (i * 7919) % n;

			KUNIT_ASSERT_EQ(test, 0, msi_iommu_lookup(&t->mi,
								  &users[u],
								  &phys,
								  &iova));
			KUNIT_ASSERT_EQ(test, phys,
					bench_doorbell(u % ndb) & ~(GRANULE - 1));
		}
		lookup_ns[r] = (ktime_get_ns() - start) / BENCH_OPS;
	}
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), used);
	kunit_info(test, "msi-iommu-bench: users=%u doorbells=%u bind+unbind=%llu ns lookup=%llu ns\n",
		   n, ndb, bench_median(bind_ns), bench_median(lookup_ns));
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_TRUE(test, unbind(t, &users[i]));
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 0);
}

static void msi_iommu_bench_users(struct kunit *test)
{
	static const unsigned int users[] = { 1, 64, 512, BENCH_USERS_MAX };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(users); i++) {
		bench_users(test, users[i], 1);
		bench_users(test, users[i], 16);
	}
}

#ifdef CONFIG_TRACEPOINTS
/* Slab bytes the bench task allocates, from the kmem tracepoints */
struct bench_mem {
	struct task_struct *task;
	unsigned long bytes;
	unsigned long allocs;
};

static void bench_kmalloc(void *data, unsigned long call_site,
			  const void *ptr, size_t bytes_req,
			  size_t bytes_alloc, gfp_t gfp, int node)
{
	struct bench_mem *m = data;

	if (current == m->task && ptr) {
		m->bytes += bytes_alloc;
		m->allocs++;
	}
}

static void bench_cache_alloc(void *data, unsigned long call_site,
			      const void *ptr, struct kmem_cache *s,
			      gfp_t gfp, int node)
{
	struct bench_mem *m = data;

	if (current == m->task && ptr) {
		m->bytes += kmem_cache_size(s);
		m->allocs++;
	}
}

/*
 * The slab memory a bound user costs: BENCH_USERS_MAX users bound to one
 * doorbell, whose own mapping is made before counting
 */
static void msi_iommu_bench_memory(struct kunit *test)
{
	struct msi_test *t = msi_test_alloc(test, WIN_SIZE, true);
	u8 *users = kunit_kzalloc(test, BENCH_USERS_MAX + 1, GFP_KERNEL);
	struct bench_mem m = { .task = current };
	dma_addr_t iova;
	unsigned int i;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, users);
	KUNIT_ASSERT_EQ(test, 0, bind(t, &users[BENCH_USERS_MAX],
				      DOORBELL, &iova));
	ret = register_trace_kmalloc(bench_kmalloc, &m);
	KUNIT_ASSERT_EQ(test, 0, ret);
	ret = register_trace_kmem_cache_alloc(bench_cache_alloc, &m);
	if (ret) {
		unregister_trace_kmalloc(bench_kmalloc, &m);
		tracepoint_synchronize_unregister();
		KUNIT_FAIL(test, "kmem_cache_alloc tracepoint: %d", ret);
		return;
	}
	for (i = 0; i < BENCH_USERS_MAX && !ret; i++)
		ret = bind(t, &users[i], DOORBELL, &iova);
	unregister_trace_kmem_cache_alloc(bench_cache_alloc, &m);
	unregister_trace_kmalloc(bench_kmalloc, &m);
	tracepoint_synchronize_unregister();
	KUNIT_ASSERT_EQ(test, 0, ret);
	KUNIT_EXPECT_EQ(test, msi_iommu_nr_doorbells(&t->mi), 1);
	kunit_info(test, "msi-iommu-bench: bound=%u slab-bytes=%lu allocations=%lu bytes-per-user=%lu\n",
		   BENCH_USERS_MAX, m.bytes, m.allocs,
		   m.bytes / BENCH_USERS_MAX);
	for (i = 0; i <= BENCH_USERS_MAX; i++)
		KUNIT_ASSERT_TRUE(test, unbind(t, &users[i]));
}
#else
static void msi_iommu_bench_memory(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_TRACEPOINTS (kmem tracepoints)");
}
#endif

static struct kunit_case msi_iommu_bench_cases[] = {
	KUNIT_CASE(msi_iommu_bench_users),
	KUNIT_CASE(msi_iommu_bench_memory),
	{}
};

static struct kunit_suite msi_iommu_bench_suite = {
	.name = "msi-iommu-bench",
	.test_cases = msi_iommu_bench_cases,
};

kunit_test_suites(&msi_iommu_test_suite, &msi_iommu_fault_test_suite,
		  &msi_iommu_bench_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests for the msi-iommu core");
MODULE_LICENSE("GPL");
