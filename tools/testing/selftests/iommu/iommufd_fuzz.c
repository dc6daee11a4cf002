// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd_fuzz - bounded, reproducible ioctl fuzzing of /dev/iommu
 *
 * The fixture builds a small world with the selftest mock driver: two
 * IOASes, a mock device (attached; in the "unattached" variant only
 * bound, so the software MSI window stays settable until the fuzzer
 * attaches something) with a nest parent, a vIOMMU and a vDEVICE, a
 * bound-only mock device with a movable software MSI window, two access
 * objects and two mappings.  The test makes IOMMUFD_FUZZ_CALLS (default
 * 2000) calls of every iommufd ioctl and of some IOMMU_TEST_CMD ops:
 * valid templates, half of them with a few 32 or 64 bit words then
 * overwritten (size around its boundaries, existing and missing IDs, flag
 * bits, reserved fields, huge or wrapping IOVAs and lengths, pointers),
 * and some random bytes.  IDs come from a pool of what setup and
 * successful calls created.  User pointers are NULL, kernel or
 * non-canonical, or in an arena of buffers between PROT_NONE guards, and
 * lengths are capped so that what the kernel pins or writes stays in the
 * arena and no call loops or allocates in proportion to a huge length.
 *
 * The seed is IOMMUFD_FUZZ_SEED (decimal), else the clock; it is logged
 * first, with an errno histogram and per-command counts at the end.  Replay:
 *
 *   IOMMUFD_FUZZ_SEED=<seed> IOMMUFD_FUZZ_CALLS=<n> ./iommufd_fuzz -v <variant>
 *
 * The test passes when every call returns (kernel splats are for the caller
 * to catch) and, at teardown, nothing in the arena is left pinned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "../kselftest_harness.h"
#include "iommufd_utils.h"

#define FUZZ_CALLS	2000
#define POOL_MAX	64
#define MAPS_MAX	32
#define FDS_MAX		8
#define DEVS_MAX	8		/* mock devices the fuzzer may add */
#define FILE_PAGES	64		/* the memfd IOMMU_IOAS_MAP_FILE maps */
#define HIST_MAX	256		/* errno buckets, last is "other" */
#define REGION_PAGES	16		/* each buffer and each guard */
#define ARG_SLOT	256		/* the ioctl struct ends its page */
#define NULL_LIMIT	0x10000ULL	/* nothing is ever mapped below */
#define HIGH_PTR	0x10000000000000ULL	/* above any user address */
#define KERNEL_PTR	0xffff800000000000ULL
#define DIRTY_LEN_MAX	(256 * 1024)	/* the mock walks per 2 KiB */
#define RW_LEN_MAX	(1024 * 1024)
#define SW_MSI_NEW	0x20000000ULL
#define ARENA_HINT	0x3f00000000ULL	/* same IOVAs on a replay */

/* Kinds of pooled objects, and masks of them */
enum {
	K_IOAS, K_HWPT, K_PARENT, K_NESTED, K_IDEV, K_STDEV, K_FAULT,
	K_VIOMMU, K_VDEV,
};

#define KM(k)		(1u << (k))
#define KM_HWPTS	(KM(K_HWPT) | KM(K_PARENT) | KM(K_NESTED))
#define KM_PT		(KM(K_IOAS) | KM_HWPTS)
#define KM_ANY		0x1ffu

enum {
	C_DESTROY, C_IOAS_ALLOC, C_IOAS_ALLOW_IOVAS, C_IOAS_COPY,
	C_IOAS_IOVA_RANGES, C_IOAS_MAP, C_IOAS_UNMAP, C_OPTION, C_VFIO_IOAS,
	C_HWPT_ALLOC, C_GET_HW_INFO, C_HWPT_SET_DIRTY_TRACKING,
	C_HWPT_GET_DIRTY_BITMAP, C_HWPT_INVALIDATE, C_FAULT_QUEUE_ALLOC,
	C_MOCK_DOMAIN_FLAGS, C_MOCK_DOMAIN_REPLACE, C_CREATE_ACCESS,
	C_ACCESS_PAGES, C_ACCESS_RW, C_ACCESS_REPLACE_IOAS, C_DIRTY,
	C_VIOMMU_ALLOC, C_VDEVICE_ALLOC, C_DEV_CHECK_CACHE,
#ifdef IOMMU_IOAS_MAP_FILE
	C_IOAS_MAP_FILE,
#endif
#ifdef IOMMU_IOAS_CHANGE_PROCESS
	C_IOAS_CHANGE_PROCESS,
#endif
#ifdef IOMMU_VEVENTQ_ALLOC
	C_VEVENTQ_ALLOC, C_TRIGGER_VEVENT,
#endif
	NCMD
};

union arg {
	__u32 size;
	struct iommu_destroy destroy;
	struct iommu_ioas_alloc ioas_alloc;
	struct iommu_ioas_allow_iovas allow;
	struct iommu_ioas_copy copy;
	struct iommu_ioas_iova_ranges ranges;
	struct iommu_ioas_map map;
#ifdef IOMMU_IOAS_MAP_FILE
	struct iommu_ioas_map_file map_file;
#endif
	struct iommu_ioas_unmap unmap;
	struct iommu_option option;
	struct iommu_vfio_ioas vfio;
	struct iommu_hwpt_alloc hwpt;
	struct iommu_hw_info info;
	struct iommu_hwpt_set_dirty_tracking set_dirty;
	struct iommu_hwpt_get_dirty_bitmap get_dirty;
	struct iommu_hwpt_invalidate inv;
	struct iommu_fault_alloc fault;
	struct iommu_viommu_alloc viommu;
	struct iommu_vdevice_alloc vdev;
#ifdef IOMMU_IOAS_CHANGE_PROCESS
	struct iommu_ioas_change_process change;
#endif
#ifdef IOMMU_VEVENTQ_ALLOC
	struct iommu_veventq_alloc veventq;
#endif
	struct iommu_test_cmd t;
	__u8 raw[ARG_SLOT];
};

struct cmd_desc {
	const char *name;
	unsigned long req;
	unsigned short size, min;	/* ours, and the kernel's minimum */
	unsigned short ptr;		/* offset of the user pointer */
	unsigned short op;		/* IOMMU_TEST_OP_*, or 0 */
	unsigned int weight;
};

#define PTR(m)	offsetof(union arg, m)
#define END(m)	offsetofend(union arg, m)
/* @end: offsetofend() of the last field the kernel requires */
#define CMD(c, type, end, ptr, w)					\
	[C_##c] = { #c, IOMMU_##c, sizeof(struct type), end, ptr, 0, w }
#define TCMD(c, ptr, w)							\
	[C_##c] = { #c, IOMMU_TEST_CMD, sizeof(struct iommu_test_cmd),	\
		    offsetofend(union arg, t.last), ptr,		\
		    IOMMU_TEST_OP_##c, w }

static const struct cmd_desc cmds[NCMD] = {
	CMD(DESTROY, iommu_destroy, END(destroy.id), 0, 3),
	CMD(IOAS_ALLOC, iommu_ioas_alloc, END(ioas_alloc.out_ioas_id), 0, 3),
	CMD(IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas, END(allow.allowed_iovas),
	    PTR(allow.allowed_iovas), 3),
	CMD(IOAS_COPY, iommu_ioas_copy, END(copy.src_iova), 0, 6),
	CMD(IOAS_IOVA_RANGES, iommu_ioas_iova_ranges,
	    END(ranges.out_iova_alignment), PTR(ranges.allowed_iovas), 4),
	CMD(IOAS_MAP, iommu_ioas_map, END(map.iova), PTR(map.user_va), 10),
	CMD(IOAS_UNMAP, iommu_ioas_unmap, END(unmap.length), 0, 7),
	CMD(OPTION, iommu_option, END(option.val64), 0, 8),
	CMD(VFIO_IOAS, iommu_vfio_ioas, END(vfio.__reserved), 0, 2),
	CMD(HWPT_ALLOC, iommu_hwpt_alloc, END(hwpt.__reserved),
	    PTR(hwpt.data_uptr), 6),
	CMD(GET_HW_INFO, iommu_hw_info, END(info.__reserved),
	    PTR(info.data_uptr), 3),
	CMD(HWPT_SET_DIRTY_TRACKING, iommu_hwpt_set_dirty_tracking,
	    END(set_dirty.__reserved), 0, 3),
	CMD(HWPT_GET_DIRTY_BITMAP, iommu_hwpt_get_dirty_bitmap,
	    END(get_dirty.data), PTR(get_dirty.data), 4),
	CMD(HWPT_INVALIDATE, iommu_hwpt_invalidate, END(inv.__reserved),
	    PTR(inv.data_uptr), 3),
	CMD(FAULT_QUEUE_ALLOC, iommu_fault_alloc, END(fault.out_fault_fd), 0, 2),
	TCMD(MOCK_DOMAIN_FLAGS, 0, 2),
	TCMD(MOCK_DOMAIN_REPLACE, 0, 7),
	TCMD(CREATE_ACCESS, 0, 1),
	TCMD(ACCESS_PAGES, PTR(t.access_pages.uptr), 5),
	TCMD(ACCESS_RW, PTR(t.access_rw.uptr), 6),
	TCMD(ACCESS_REPLACE_IOAS, 0, 2),
	TCMD(DIRTY, PTR(t.dirty.uptr), 2),
	CMD(VIOMMU_ALLOC, iommu_viommu_alloc, END(viommu.out_viommu_id), 0, 4),
	CMD(VDEVICE_ALLOC, iommu_vdevice_alloc, END(vdev.virt_id), 0, 4),
	TCMD(DEV_CHECK_CACHE, 0, 1),
#ifdef IOMMU_IOAS_MAP_FILE
	CMD(IOAS_MAP_FILE, iommu_ioas_map_file, END(map_file.iova), 0, 6),
#endif
#ifdef IOMMU_IOAS_CHANGE_PROCESS
	CMD(IOAS_CHANGE_PROCESS, iommu_ioas_change_process,
	    END(change.__reserved), 0, 1),
#endif
#ifdef IOMMU_VEVENTQ_ALLOC
	CMD(VEVENTQ_ALLOC, iommu_veventq_alloc, END(veventq.__reserved), 0, 2),
	TCMD(TRIGGER_VEVENT, 0, 4),
#endif
};

struct mapping {
	__u32 ioas;
	__u64 iova, len, uva;
};

struct fuzz {
	__u64 rng, psz, region;
	int fd;
	int mfd;			/* a memfd of FILE_PAGES pages */
	char *arena, *arena_end, *mapbuf, *scratch, *argpage;
	char *lim[4];			/* ends of the guards */
	union arg *arg, in;
	__u32 msi_idev, max_id;
	struct { __u32 id, kind; } pool[POOL_MAX];
	struct mapping maps[MAPS_MAX];
	int afds[FDS_MAX], ffds[FDS_MAX];
	unsigned int npool, nmaps, nafds, nffds, ndevs;
	unsigned long calls, ok, modes[3], hist[HIST_MAX];
	unsigned long cmd_calls[NCMD], cmd_ok[NCMD];
};

/* xorshift64*, seeded through one splitmix64 step */
static __u64 rnd64(struct fuzz *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dULL;
}

static void rnd_seed(struct fuzz *f, __u64 seed)
{
	__u64 z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	f->rng = (z ^ (z >> 31)) ?: 1;
}

static __u64 rnd(struct fuzz *f, __u64 n)
{
	return n ? rnd64(f) % n : 0;
}

static bool chance(struct fuzz *f, unsigned int pct)
{
	return rnd(f, 100) < pct;
}

static void pool_add(struct fuzz *f, __u32 id, unsigned int kind)
{
	unsigned int i;

	for (i = 0; i != f->npool; i++)
		if (f->pool[i].id == id)
			return;
	if (!id)
		return;
	f->max_id = id > f->max_id ? id : f->max_id;
	i = f->npool < POOL_MAX ? f->npool++ : rnd(f, POOL_MAX);
	f->pool[i].id = id;
	f->pool[i].kind = kind;
}

static void pool_del(struct fuzz *f, __u32 id)
{
	unsigned int i;

	for (i = 0; i != f->npool; i++)
		if (f->pool[i].id == id)
			f->pool[i--] = f->pool[--f->npool];
}

/* Mostly a pooled object of a kind in @mask; else any, or a missing one */
static __u32 pick_id(struct fuzz *f, unsigned int mask)
{
	unsigned int i, n = 0, r = rnd(f, 100), x = rnd64(f);
	const __u32 bad[] = { 0, ~0u, f->max_id + 1 + x % 8, x };
	__u32 cand[POOL_MAX];

	for (i = 0; i != f->npool && r < 85; i++)
		if (mask & KM(f->pool[i].kind))
			cand[n++] = f->pool[i].id;
	if (n)
		return cand[rnd(f, n)];
	if (r < 92 && f->npool)
		return f->pool[rnd(f, f->npool)].id;
	return bad[rnd(f, ARRAY_SIZE(bad))];
}

/* The test access ops take an access fd as their id */
static __u32 pick_afd(struct fuzz *f)
{
	const __u32 bad[] = { 0, 1, ~0u, 1000, f->fd };

	if (f->nafds && chance(f, 85))
		return f->afds[rnd(f, f->nafds)];
	return bad[rnd(f, ARRAY_SIZE(bad))];
}

/* Keep a few of the new fds that successful calls return, close the rest */
static void keep_fd(struct fuzz *f, int *fds, unsigned int *n, int fd)
{
	if (fd < 0 || fd == f->fd)
		return;
	if (*n < FDS_MAX)
		fds[(*n)++] = fd;
	else
		close(fd);
}

static void maps_add(struct fuzz *f, __u32 ioas, __u64 iova, __u64 len,
		     __u64 uva)
{
	unsigned int i = f->nmaps < MAPS_MAX ? f->nmaps : rnd(f, MAPS_MAX);

	if (!len)
		return;
	f->nmaps += i == f->nmaps;
	f->maps[i] = (struct mapping){ ioas, iova, len, uva };
}

/* Forget the mappings of @ioas that start in [start, start + len) */
static void maps_del(struct fuzz *f, __u32 ioas, __u64 start, __u64 len)
{
	unsigned int i;

	for (i = 0; i != f->nmaps; i++)
		if (f->maps[i].ioas == ioas && f->maps[i].iova >= start &&
		    f->maps[i].iova - start < len)
			f->maps[i--] = f->maps[--f->nmaps];
}

static struct mapping *pick_map(struct fuzz *f)
{
	return f->nmaps ? &f->maps[rnd(f, f->nmaps)] : NULL;
}

/*
 * Often where something is mapped, else somewhere interesting.  Like the
 * other pickers, it draws its random numbers in separate statements: the
 * order in which an initializer list is evaluated is unspecified, and a
 * seed must replay the same calls whatever the compiler.
 */
static __u64 pick_iova(struct fuzz *f)
{
	struct mapping *m = pick_map(f);
	__u64 p = f->psz, x = rnd64(f);
	__u64 base = m ? m->iova : MOCK_APERTURE_START;
	const __u64 v[] = {
		base + (x % (m ? m->len : p) & ~2047ULL), MOCK_APERTURE_LAST,
		MOCK_APERTURE_START + p * (x % 64), MOCK_SW_MSI_START,
		(__u64)MOCK_APERTURE_LAST + 1 - p, MOCK_RESV_START, SW_MSI_NEW,
		0, 1ULL << 32, 1ULL << 47, 1ULL << 63, -p * (1 + x % 4),
		~0ULL, x, x & -p,
	};

	return chance(f, 40) ? base : v[rnd(f, ARRAY_SIZE(v))];
}

static __u64 pick_len(struct fuzz *f)
{
	struct mapping *m = pick_map(f);
	__u64 x = rnd64(f);
	const __u64 v[] = {
		f->psz * (1 + x % 16), m ? m->len : f->psz, 0, 1, 2048,
		1ULL << 32, 1ULL << 63, ~0ULL, -f->psz, 1ULL << x % 64, x,
	};

	return v[chance(f, 40) ? rnd(f, 2) : rnd(f, ARRAY_SIZE(v))];
}

/* Top-byte tagged pointers are unsafe: arm64 GUP ignores the tag */
static bool ptr_ok(struct fuzz *f, __u64 v)
{
	return (__u64)((__s64)(v << 8) >> 8) == v &&
	       (v < NULL_LIMIT || v >= HIGH_PTR ||
		(v >= (uintptr_t)f->arena && v < (uintptr_t)f->arena_end));
}

/*
 * How far from @v (ptr_ok()) the kernel may touch: to NULL_LIMIT, or to
 * the end of the guard after the arena buffer @v is in; anything if @v is
 * no user address.  An IOAS area that is not pinned at map time may later
 * be pinned at any offset, so this bounds mapped ranges as well.
 */
static __u64 room(struct fuzz *f, __u64 v)
{
	unsigned int i;

	if (v < NULL_LIMIT)
		return NULL_LIMIT - v;
	if (v >= HIGH_PTR)
		return ~0ULL;
	for (i = 0; i != 3 && v >= (uintptr_t)f->lim[i]; i++)
		;
	return (uintptr_t)f->lim[i] - v;
}

/* A pointer for the kernel to read or write through */
static __u64 pick_ptr(struct fuzz *f)
{
	const __u64 s = (uintptr_t)f->scratch, x = rnd64(f), bad[] = {
		s + f->region - 8 * (1 + x % 8),	/* straddles a guard */
		s + f->region, 0, x % NULL_LIMIT, KERNEL_PTR, HIGH_PTR << 1,
		(uintptr_t)f->mapbuf + x % f->region, s + 1 + x % 64,
	};

	return chance(f, 50) ? s : bad[rnd(f, ARRAY_SIZE(bad))];
}

/* A user range for the kernel to pin, made safe by sanitize_range() */
static void pick_urange(struct fuzz *f, __u64 *va, __u64 *len)
{
	__u64 p = f->psz, r = f->region, off = p * rnd(f, r / p);
	__u64 base = (uintptr_t)(chance(f, 70) ? f->mapbuf : f->scratch);

	*va = base + off;
	*len = p * (1 + rnd(f, (r - off) / p));	/* whole pages */
	switch (rnd(f, 12)) {
	case 0:					/* unaligned, or empty */
		*va += rnd(f, p);
		*len = rnd(f, 3) ? *len - rnd(f, p) : 0;
		break;
	case 1:					/* into the guard */
		*va = base + r - p * rnd(f, 4);
		*len = p * (1 + rnd(f, 8));
		break;
	case 2:
		*va = 0;
		break;
	case 3 ... 4:				/* no user memory at all */
		*va = chance(f, 50) ? KERNEL_PTR : HIGH_PTR << 1;
		*len = pick_len(f);
		break;
	case 5:
		*len = ~0ULL;
	}
}

static void sanitize_range(struct fuzz *f, __u64 *va, __u64 *len)
{
	if (!ptr_ok(f, *va))
		pick_urange(f, va, len);
	if (*len > room(f, *va))
		*len = room(f, *va);
}

static void gen_option(struct fuzz *f, struct iommu_option *c)
{
	static const __u64 vals[] = {	/* window starts, then sizes */
		MOCK_SW_MSI_START, SW_MSI_NEW, SW_MSI_NEW + 4096,
		MOCK_RESV_START, (1ULL << 48) - (1ULL << 20), 1ULL << 63, ~0ULL,
		0, 1, 2, 16, 4096, 1ULL << 44, ~0ULL >> 20,
	};
	unsigned int r = rnd(f, 10);

	c->option_id = r ? rnd(f, 4) : rnd(f, 16);
	c->op = rnd(f, 20) ? rnd(f, 2) : rnd(f, 8);	/* SET, GET */
	c->val64 = rnd(f, 3);
	if (c->option_id == IOMMU_OPTION_HUGE_PAGES)
		c->object_id = pick_id(f, KM(K_IOAS));
	if (c->option_id != IOMMU_OPTION_SW_MSI_START &&
	    c->option_id != IOMMU_OPTION_SW_MSI_SIZE)
		return;
	/* The iommufd's default (0), the SW_MSI device, or another object */
	c->object_id = r < 4 ? 0 : r < 7 ? f->msi_idev :
		       pick_id(f, KM(K_IDEV) | KM(K_STDEV));
	c->val64 = chance(f, 30) ? rnd(f, 4096) << 20 :
				   vals[rnd(f, ARRAY_SIZE(vals))];
}

/* A valid call to start from */
static void gen(struct fuzz *f, unsigned int c, union arg *a)
{
	struct iommu_hwpt_invalidate_selftest *inv = (void *)f->scratch;
	struct iommu_viommu_invalidate_selftest *vinv = (void *)f->scratch;
	struct iommu_iova_range *range = (void *)f->scratch;
	struct iommu_test_cmd *t = &a->t;
	struct mapping *m = pick_map(f);
	__u64 p = f->psz, m_iova = m ? m->iova : MOCK_APERTURE_START;
	__u64 m_len = m ? m->len : p, off = rnd(f, m_len);
	unsigned int i, r = rnd(f, 10);

	switch (c) {
	case C_DESTROY:
		a->destroy.id = pick_id(f, KM_ANY);
		break;
	case C_IOAS_ALLOW_IOVAS:
		a->allow.ioas_id = pick_id(f, KM(K_IOAS));
		a->allow.num_iovas = rnd(f, 4);
		for (i = 0; i != a->allow.num_iovas; i++) {
			range[i].start = pick_iova(f);
			range[i].last = range[i].start + pick_len(f) - 1;
		}
		break;
	case C_IOAS_COPY:
		a->copy.flags = IOMMU_IOAS_MAP_READABLE |
				IOMMU_IOAS_MAP_WRITEABLE |
				(r < 3 ? IOMMU_IOAS_MAP_FIXED_IOVA : 0);
		a->copy.src_ioas_id = m ? m->ioas : pick_id(f, KM(K_IOAS));
		a->copy.src_iova = m_iova;
		a->copy.length = m_len;
		a->copy.dst_ioas_id = pick_id(f, KM(K_IOAS));
		a->copy.dst_iova = pick_iova(f) & -p;
		break;
	case C_IOAS_IOVA_RANGES:
		a->ranges.ioas_id = pick_id(f, KM(K_IOAS));
		a->ranges.num_iovas = rnd(f, 9);
		break;
	case C_IOAS_MAP:
		a->map.ioas_id = pick_id(f, KM(K_IOAS));
		pick_urange(f, &a->map.user_va, &a->map.length);
		a->map.flags = IOMMU_IOAS_MAP_READABLE |
			       (r < 8 ? IOMMU_IOAS_MAP_WRITEABLE : 0) |
			       (r & 1 ? IOMMU_IOAS_MAP_FIXED_IOVA : 0);
		a->map.iova = pick_iova(f) & -p;
		break;
#ifdef IOMMU_IOAS_MAP_FILE
	case C_IOAS_MAP_FILE:
		a->map_file.ioas_id = pick_id(f, KM(K_IOAS));
		/* mostly the memfd; else no fd, or the iommufd itself */
		a->map_file.fd = r < 7 ? f->mfd : r < 8 ? -1 : r < 9 ? f->fd :
			(int)rnd(f, 64);
		a->map_file.start = chance(f, 80) ?
			rnd(f, FILE_PAGES + 2) * p : rnd64(f);
		a->map_file.length = chance(f, 80) ?
			(rnd(f, FILE_PAGES) + 1) * p : pick_len(f);
		a->map_file.flags = IOMMU_IOAS_MAP_READABLE |
				    (r < 8 ? IOMMU_IOAS_MAP_WRITEABLE : 0) |
				    (r & 1 ? IOMMU_IOAS_MAP_FIXED_IOVA : 0);
		a->map_file.iova = pick_iova(f) & -p;
		break;
#endif
#ifdef IOMMU_IOAS_CHANGE_PROCESS
	case C_IOAS_CHANGE_PROCESS:	/* EINVAL while user VA maps exist */
		a->change.__reserved = r < 9 ? 0 : rnd(f, 4);
		break;
#endif
	case C_IOAS_UNMAP:
		a->unmap.ioas_id = m && r < 6 ? m->ioas :
						pick_id(f, KM(K_IOAS));
		a->unmap.iova = r < 6 ? m_iova : r < 8 ? 0 : pick_iova(f);
		a->unmap.length = r < 6 ? m_len : r < 8 ? ~0ULL : pick_len(f);
		break;
	case C_OPTION:
		gen_option(f, &a->option);
		break;
	case C_VFIO_IOAS:
		a->vfio.ioas_id = pick_id(f, KM(K_IOAS));
		a->vfio.op = chance(f, 95) ? rnd(f, 3) : rnd(f, 8);
		break;
	case C_HWPT_ALLOC:		/* nested on a parent or a vIOMMU */
		a->hwpt.dev_id = pick_id(f, KM(K_IDEV));
		a->hwpt.pt_id = pick_id(f, r < 6 ? KM(K_IOAS) :
					   KM(K_PARENT) | KM(K_VIOMMU));
		a->hwpt.flags = r < 6 ? rnd(f, 4) : 0; /* PARENT, DIRTY */
		a->hwpt.data_type = r < 6 ? 0 : IOMMU_HWPT_DATA_SELFTEST;
		a->hwpt.data_len = r < 6 ? 0 : sizeof(__u32);	/* iotlb */
		*(__u32 *)f->scratch = IOMMU_TEST_IOTLB_DEFAULT;
		if (chance(f, 15)) {
			a->hwpt.flags |= IOMMU_HWPT_FAULT_ID_VALID;
			a->hwpt.fault_id = pick_id(f, KM(K_FAULT));
		}
		break;
	case C_GET_HW_INFO:
		a->info.dev_id = pick_id(f, KM(K_IDEV));
		a->info.data_len = r < 8 ? 4 * rnd(f, 5) : 64;
		break;
	case C_HWPT_SET_DIRTY_TRACKING:
		a->set_dirty.hwpt_id = pick_id(f, KM_HWPTS);
		a->set_dirty.flags = r < 7;	/* ENABLE */
		break;
	case C_HWPT_GET_DIRTY_BITMAP:
		a->get_dirty.hwpt_id = pick_id(f, KM_HWPTS);
		a->get_dirty.flags = r < 3;	/* NO_CLEAR */
		a->get_dirty.iova = m_iova;
		a->get_dirty.length = m_len;
		a->get_dirty.page_size = r < 6 ? p : 1ULL << rnd(f, 24);
		break;
	case C_HWPT_INVALIDATE:		/* a nested HWPT, or a vIOMMU */
		a->inv.hwpt_id = pick_id(f, KM(K_NESTED) | KM(K_VIOMMU));
		a->inv.data_type = r ? IOMMU_HWPT_INVALIDATE_DATA_SELFTEST : 0;
		a->inv.entry_num = rnd(f, 5);
		if (r & 1) {
			a->inv.entry_len = sizeof(*inv);
			for (i = 0; i != a->inv.entry_num; i++) {
				inv[i].flags = rnd(f, 20) ? rnd(f, 2) : 2;
				inv[i].iotlb_id = rnd(f, 5);
			}
			break;
		}
		/* Same data type number, the vIOMMU's layout */
		a->inv.entry_len = sizeof(*vinv);
		for (i = 0; i != a->inv.entry_num; i++) {
			vinv[i].vdev_id = 0x40 + rnd(f, 5);
			vinv[i].flags = rnd(f, 20) ? rnd(f, 2) : 2;
			vinv[i].cache_id = rnd(f, 5);
		}
		break;
	case C_MOCK_DOMAIN_FLAGS:
		t->id = pick_id(f, KM_PT);
		/* NO_DIRTY, HUGE_IOVA (0, 1); SW_MSI, BIND_ONLY, FIXED (8-10) */
		t->mock_domain_flags.dev_flags = rnd(f, 4);
		t->mock_domain_flags.dev_flags |= rnd(f, 8) << 8;
		break;
	case C_MOCK_DOMAIN_REPLACE:	/* pt_id 0 detaches */
		t->id = pick_id(f, KM(K_STDEV));
		t->mock_domain_replace.pt_id = r < 2 ? 0 : pick_id(f, KM_PT);
		break;
	case C_CREATE_ACCESS:
		t->id = pick_id(f, KM(K_IOAS));
		t->create_access.flags = r < 6;	/* NEEDS_PIN_PAGES */
		break;
	case C_ACCESS_PAGES:
		t->id = pick_afd(f);
		t->access_pages.flags = (r < 5 ? MOCK_FLAGS_ACCESS_WRITE : 0) |
			(chance(f, 5) ? MOCK_FLAGS_ACCESS_SYZ : 0);
		t->access_pages.iova = m_iova + off;
		t->access_pages.length = 1 + rnd(f, m_len - off);
		t->access_pages.uptr = m && m->uva && r & 1 ? m->uva + off : 0;
		break;
	case C_ACCESS_RW:
		t->id = pick_afd(f);
		t->access_rw.flags = (r < 5 ? MOCK_ACCESS_RW_WRITE : 0) |
			(r & 1 ? MOCK_ACCESS_RW_SLOW_PATH : 0) |
			(chance(f, 5) ? MOCK_FLAGS_ACCESS_SYZ : 0);
		t->access_rw.iova = m_iova + off;
		t->access_rw.length = 1 + rnd(f, m_len - off);
		break;
	case C_ACCESS_REPLACE_IOAS:
		t->id = pick_afd(f);
		t->access_replace_ioas.ioas_id = r ? pick_id(f, KM(K_IOAS)) : 0;
		break;
	case C_DIRTY:		/* mark IOVAs dirty in a mock domain */
		t->id = pick_id(f, KM_HWPTS);
		t->dirty.iova = m_iova;
		t->dirty.length = m_len;
		t->dirty.page_size = r < 5 ? p : p / 2;
		for (i = 0; i != 8; i++)
			((__u64 *)f->scratch)[i] = rnd64(f);
		break;
	case C_VIOMMU_ALLOC:
		a->viommu.type = r ? IOMMU_VIOMMU_TYPE_SELFTEST : rnd(f, 3);
		a->viommu.dev_id = pick_id(f, KM(K_IDEV));
		a->viommu.hwpt_id = pick_id(f, KM(K_PARENT));
		break;
	case C_VDEVICE_ALLOC:		/* a few guest IDs, so some collide */
		a->vdev.viommu_id = pick_id(f, KM(K_VIOMMU));
		a->vdev.dev_id = pick_id(f, KM(K_IDEV));
		a->vdev.virt_id = r ? 0x40 + rnd(f, 5) : rnd64(f);
		break;
#ifdef IOMMU_VEVENTQ_ALLOC
	case C_VEVENTQ_ALLOC:		/* shallow queues, so they overflow */
		a->veventq.viommu_id = pick_id(f, KM(K_VIOMMU));
		a->veventq.type = r ? IOMMU_VEVENTQ_TYPE_SELFTEST : rnd(f, 3);
		a->veventq.veventq_depth = r < 8 ? rnd(f, 9) : rnd64(f);
		a->veventq.flags = r == 9 ? 1 : 0;
		break;
	case C_TRIGGER_VEVENT:
		t->trigger_vevent.dev_id = pick_id(f, KM(K_IDEV));
		break;
#endif
	case C_DEV_CHECK_CACHE:
		t->id = pick_id(f, KM(K_IDEV));
		t->check_dev_cache.id = rnd(f, 5);
		t->check_dev_cache.cache = r < 5 ? 0 :
					   IOMMU_TEST_DEV_CACHE_DEFAULT;
		break;
	}
}

/* Keep the fuzzer safe and every call short, whatever was mutated */
static void fix(struct fuzz *f, unsigned int c, union arg *a)
{
	__u64 n;

	switch (c) {
	case C_IOAS_ALLOW_IOVAS:	/* same layout as iova_ranges */
	case C_IOAS_IOVA_RANGES:	/* overrun the array by 4 at most */
		n = room(f, a->allow.allowed_iovas);
		n = (n > f->region ? n - f->region : 0) / 16 + 4;
		if (a->allow.num_iovas > n)
			a->allow.num_iovas = n;
		break;
	case C_IOAS_MAP:
		sanitize_range(f, &a->map.user_va, &a->map.length);
		break;
#ifdef IOMMU_IOAS_MAP_FILE
	case C_IOAS_MAP_FILE:		/* a few pages past the file at most */
		if (a->map_file.length > (FILE_PAGES + 4) * f->psz &&
		    a->map_file.length < ~0UL)
			a->map_file.length = (FILE_PAGES + 4) * f->psz;
		break;
#endif
	case C_HWPT_GET_DIRTY_BITMAP:	/* walked, unless it wraps */
		if (a->get_dirty.length > DIRTY_LEN_MAX &&
		    !__builtin_add_overflow(a->get_dirty.iova,
					    a->get_dirty.length - 1, &n))
			a->get_dirty.length = DIRTY_LEN_MAX;
		break;
	case C_ACCESS_RW:		/* above 16 MiB it fails at once */
		if (a->t.access_rw.length > RW_LEN_MAX &&
		    a->t.access_rw.length <= 16 * 1024 * 1024)
			a->t.access_rw.length = RW_LEN_MAX;
		break;
	case C_DIRTY:			/* loops length / page_size */
		if (a->t.dirty.page_size < 2048)
			a->t.dirty.page_size = 2048;
		if (a->t.dirty.length > DIRTY_LEN_MAX)
			a->t.dirty.length = DIRTY_LEN_MAX;
		break;
	}
}

/* Record what a successful call created or removed */
static void done(struct fuzz *f, unsigned int c, const union arg *in,
		 const union arg *out)
{
	const struct iommu_test_cmd *t = &out->t;

	switch (c) {
	case C_DESTROY:
		pool_del(f, in->destroy.id);
		maps_del(f, in->destroy.id, 0, ~0ULL);
		break;
	case C_IOAS_ALLOC:
		pool_add(f, out->ioas_alloc.out_ioas_id, K_IOAS);
		break;
	case C_IOAS_COPY:
		maps_add(f, in->copy.dst_ioas_id, out->copy.dst_iova,
			 in->copy.length, 0);
		break;
	case C_IOAS_MAP:
		maps_add(f, in->map.ioas_id, out->map.iova, in->map.length,
			 in->map.user_va);
		break;
#ifdef IOMMU_IOAS_MAP_FILE
	case C_IOAS_MAP_FILE:
		maps_add(f, in->map_file.ioas_id, out->map_file.iova,
			 in->map_file.length, 0);
		break;
#endif
	case C_IOAS_UNMAP:
		maps_del(f, in->unmap.ioas_id, in->unmap.iova,
			 in->unmap.length);
		break;
	case C_HWPT_ALLOC:
		pool_add(f, out->hwpt.out_hwpt_id,
			 in->hwpt.data_type ? K_NESTED :
			 in->hwpt.flags & IOMMU_HWPT_ALLOC_NEST_PARENT ?
			 K_PARENT : K_HWPT);
		break;
	case C_FAULT_QUEUE_ALLOC:
		pool_add(f, out->fault.out_fault_id, K_FAULT);
		keep_fd(f, f->ffds, &f->nffds, out->fault.out_fault_fd);
		break;
	case C_MOCK_DOMAIN_FLAGS:
		pool_add(f, t->mock_domain_flags.out_stdev_id, K_STDEV);
		pool_add(f, t->mock_domain_flags.out_idev_id, K_IDEV);
		pool_add(f, t->mock_domain_flags.out_hwpt_id, K_HWPT);
		if (++f->ndevs <= DEVS_MAX)
			break;
		/* Enough devices: this one goes again at once */
		_test_ioctl_destroy(f->fd, t->mock_domain_flags.out_stdev_id);
		pool_del(f, t->mock_domain_flags.out_stdev_id);
		pool_del(f, t->mock_domain_flags.out_idev_id);
		break;
	case C_MOCK_DOMAIN_REPLACE:
		pool_add(f, t->mock_domain_replace.pt_id, K_HWPT);
		break;
	case C_CREATE_ACCESS:
		keep_fd(f, f->afds, &f->nafds, t->create_access.out_access_fd);
		break;
	case C_VIOMMU_ALLOC:
		pool_add(f, out->viommu.out_viommu_id, K_VIOMMU);
		break;
	case C_VDEVICE_ALLOC:
		pool_add(f, out->vdev.out_vdevice_id, K_VDEV);
		break;
#ifdef IOMMU_VEVENTQ_ALLOC
	case C_VEVENTQ_ALLOC:
		keep_fd(f, f->ffds, &f->nffds, out->veventq.out_veventq_fd);
		break;
	case C_TRIGGER_VEVENT:		/* drain one of the queues now and then */
		if (f->nffds && chance(f, 50)) {
			char buf[128];
			ssize_t rc;

			/* A short buffer, or a fault queue's fd, may fail */
			rc = read(f->ffds[rnd(f, f->nffds)], buf,
				  rnd(f, sizeof(buf) + 1));
			(void)rc;
		}
		break;
#endif
	}
}

/* A struct size around the boundaries the kernel checks */
static __u32 pick_size(struct fuzz *f, const struct cmd_desc *d,
		       union arg *a)
{
	__u32 x = rnd64(f), sizes[] = {
		0, 4, d->min - 1, d->min, d->size - 8, d->size - 1, d->size,
		d->size + 8, f->psz, ~0u, x,
	};
	unsigned int r = rnd(f, ARRAY_SIZE(sizes) + 1);

	if (r < ARRAY_SIZE(sizes))
		return sizes[r];
	a->raw[d->size + x % 8] = 1 + x % 255;	/* nonzero tail: E2BIG */
	return d->size + 8;
}

/* Overwrite a few 32 or 64 bit words: size, IDs, flags, reserved... */
static void mutate(struct fuzz *f, const struct cmd_desc *d, union arg *a)
{
	static const __u32 small[] = {
		0, 1, 2, 3, 4, 5, 16, 4096, 1 << 19, 0xffff, 0x7fffffff, ~0u,
		IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
	};
	unsigned int i, off, n = 1 + rnd(f, 3);
	__u32 *w;
	__u64 v;

	for (i = 0; i != n; i++) {
		off = 4 * rnd(f, d->size / 4);
		w = (__u32 *)&a->raw[off];
		v = d->ptr && (off & ~7u) == d->ptr ? pick_ptr(f) :
		    chance(f, 50) ? pick_iova(f) : pick_len(f);
		switch (off ? rnd(f, 8) : 8) {
		case 0:		/* an ID, maybe of another type */
			*w = d->op && chance(f, 30) ? pick_afd(f) :
						      pick_id(f, KM_ANY);
			break;
		case 1:		/* a flag or reserved bit */
			*w ^= 1u << rnd(f, chance(f, 50) ? 4 : 32);
			break;
		case 2:
			*w = small[rnd(f, ARRAY_SIZE(small))];
			break;
		case 3:
			*w = rnd64(f);
			break;
		case 8:
			a->size = pick_size(f, d, a);
			break;
		default:	/* an IOVA, a length or a pointer */
			memcpy(&a->raw[(off & ~7u) ?: 4], &v, sizeof(v));
		}
	}
}

/* An ioctl argument that cannot be read, or only its first k bytes */
static void *bad_arg(struct fuzz *f, const struct cmd_desc *d)
{
	char *end = f->argpage + f->psz;
	unsigned int k = 4 * (1 + rnd(f, d->size / 4));
	void *bad[] = { NULL, end, (void *)(uintptr_t)KERNEL_PTR, end - k };

	memmove(end - k, f->arg, k);
	return bad[rnd(f, ARRAY_SIZE(bad))];
}

static void fuzz_one(struct fuzz *f)
{
	unsigned int c, i, r, total = 0;
	const struct cmd_desc *d;
	unsigned long req;
	void *argp;
	__u64 *ptr;

	for (c = 0; c != NCMD; c++)
		total += cmds[c].weight;
	for (r = rnd(f, total), c = 0; r >= cmds[c].weight; c++)
		r -= cmds[c].weight;
	d = &cmds[c];
	ptr = (__u64 *)&f->arg->raw[d->ptr];

	memset(f->arg, 0, ARG_SLOT);
	r = rnd(f, 100);
	if (r < 15) {		/* random bytes, often with a valid size */
		for (i = 0; i < d->size; i += 4)
			*(__u32 *)&f->arg->raw[i] = rnd64(f);
		f->arg->size = chance(f, 70) ? d->size :
					       pick_size(f, d, f->arg);
	} else {
		f->arg->size = d->size;
		if (d->ptr)
			*ptr = (uintptr_t)f->scratch;
		gen(f, c, f->arg);
		if (r >= 57)
			mutate(f, d, f->arg);
	}
	f->modes[r < 15 ? 2 : r >= 57]++;
	if (d->op)
		f->arg->t.op = d->op;
	if (d->ptr && !ptr_ok(f, *ptr))
		*ptr = pick_ptr(f);
	fix(f, c, f->arg);
	f->in = *f->arg;

	/* A wrong number: direction bits, or past IOMMU_TEST_CMD (0xa0) */
	req = d->req;
	if (chance(f, 2))
		req = chance(f, 50) ? _IOWR(IOMMUFD_TYPE, _IOC_NR(req), __u64) :
			_IO(IOMMUFD_TYPE, 0xa1 + rnd(f, 0x5f));
	argp = chance(f, 3) ? bad_arg(f, d) : f->arg;

	f->calls++;
	f->cmd_calls[c]++;
	if (ioctl(f->fd, req, argp)) {
		f->hist[errno > 0 && errno < HIST_MAX ? errno : HIST_MAX - 1]++;
		return;
	}
	f->ok++;
	f->cmd_ok[c]++;
	/* Success: the kernel read, and wrote back, at least d->min bytes */
	if (req == d->req)
		done(f, c, &f->in, argp);
}

static const char *const errnames[HIST_MAX] = {
	[EPERM] = "EPERM", [ENOENT] = "ENOENT", [E2BIG] = "E2BIG",
	[EBADF] = "EBADF", [ENOMEM] = "ENOMEM", [EFAULT] = "EFAULT",
	[EBUSY] = "EBUSY", [ENODEV] = "ENODEV", [EINVAL] = "EINVAL",
	[ENOSPC] = "ENOSPC", [ENOTTY] = "ENOTTY", [EDEADLK] = "EDEADLK",
	[EBADE] = "EBADE", [EOVERFLOW] = "EOVERFLOW", [EBADFD] = "EBADFD",
	[EMSGSIZE] = "EMSGSIZE", [EOPNOTSUPP] = "EOPNOTSUPP",
	[EADDRINUSE] = "EADDRINUSE", [HIST_MAX - 1] = "other",
};

static void report(struct fuzz *f, struct __test_metadata *_metadata,
		   double secs)
{
	char line[160], num[16];
	unsigned int i;
	int len = 0;

	TH_LOG("%lu calls in %.2f s (%lu template, %lu mutated, %lu random)",
	       f->calls, secs, f->modes[0], f->modes[1], f->modes[2]);
	TH_LOG("%lu returned 0, %lu an errno", f->ok, f->calls - f->ok);
	for (i = 1; i != HIST_MAX; i++) {
		if (!f->hist[i])
			continue;
		snprintf(num, sizeof(num), "errno%u", i);
		len += snprintf(line + len, sizeof(line) - len, " %s %lu",
				errnames[i] ?: num, f->hist[i]);
		if (len > 60) {
			TH_LOG("  errno:%s", line);
			len = 0;
		}
	}
	if (len)
		TH_LOG("  errno:%s", line);
	for (i = 0, len = 0; i != NCMD; i++) {
		len += snprintf(line + len, sizeof(line) - len, " %s %lu/%lu",
				cmds[i].name, f->cmd_ok[i], f->cmd_calls[i]);
		if (len > 60 || i == NCMD - 1) {
			TH_LOG("  ok/calls:%s", line);
			len = 0;
		}
	}
}

static int env_ull(const char *name, unsigned long long *val)
{
	const char *s = getenv(name);
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	*val = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

FIXTURE(iommufd_fuzz)
{
	int fd;
	struct fuzz f;
};

FIXTURE_VARIANT(iommufd_fuzz)
{
	const char *name;
	bool attach;
};

FIXTURE_VARIANT_ADD(iommufd_fuzz, attached) { "attached", true };
FIXTURE_VARIANT_ADD(iommufd_fuzz, unattached) { "unattached", false };

static __u32 setup_viommu(struct __test_metadata *_metadata,
			  struct fuzz *f, __u32 idev, __u32 parent)
{
	struct iommu_viommu_alloc viommu = {
		.size = sizeof(viommu),
		.type = IOMMU_VIOMMU_TYPE_SELFTEST,
		.dev_id = idev,
		.hwpt_id = parent,
	};
	struct iommu_vdevice_alloc vdev = {
		.size = sizeof(vdev),
		.dev_id = idev,
		.virt_id = 0x42,
	};

	ASSERT_EQ(0, ioctl(f->fd, IOMMU_VIOMMU_ALLOC, &viommu));
	vdev.viommu_id = viommu.out_viommu_id;
	ASSERT_EQ(0, ioctl(f->fd, IOMMU_VDEVICE_ALLOC, &vdev));
	pool_add(f, vdev.out_vdevice_id, K_VDEV);
	return viommu.out_viommu_id;
}

FIXTURE_SETUP(iommufd_fuzz)
{
	struct fuzz *f = &self->f;
	__u32 ioas[2], stdev, hwpt, idev, afd;
	__u64 iova, r;
	char *p;
	int rc;

	f->mfd = -1;
	f->psz = sysconf(_SC_PAGE_SIZE);
	PAGE_SIZE = f->psz;
	r = REGION_PAGES * f->psz;
	f->region = r;
	/* guard, mapbuf, guard, scratch, guard, arg page, guard */
	p = mmap((void *)(uintptr_t)ARENA_HINT, 6 * r + f->psz, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	f->arena = p;
	f->mapbuf = p + r;
	f->scratch = p + 3 * r;
	f->argpage = p + 5 * r;
	f->arena_end = p + 6 * r + f->psz;
	f->lim[0] = f->mapbuf;
	f->lim[1] = f->scratch;
	f->lim[2] = f->argpage;
	f->lim[3] = f->arena_end;
	f->arg = (union arg *)(f->argpage + f->psz - ARG_SLOT);
	ASSERT_EQ(0, mprotect(f->mapbuf, r, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, mprotect(f->scratch, r, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, mprotect(f->argpage, f->psz, PROT_READ | PROT_WRITE));
	memset(f->mapbuf, 0xa5, r);	/* populated, for check_refs */
	memset(f->scratch, 0, r);
	memset(f->argpage, 0, f->psz);

	f->mfd = memfd_create("fuzz", 0);
	ASSERT_LE(0, f->mfd);
	ASSERT_EQ(0, ftruncate(f->mfd, FILE_PAGES * f->psz));
	f->fd = open("/dev/iommu", O_RDWR);
	self->fd = f->fd;
	if (self->fd < 0)
		SKIP(return, "/dev/iommu: %s", strerror(errno));
	test_ioctl_ioas_alloc(&ioas[0]);
	test_ioctl_ioas_alloc(&ioas[1]);
	rc = _test_cmd_mock_domain_flags(self->fd, ioas[0], variant->attach ?
					 0 : MOCK_FLAGS_DEVICE_BIND_ONLY,
					 &stdev, &hwpt, &idev);
	if (rc && errno == ENOTTY)
		SKIP(return, "no IOMMU_TEST_CMD: CONFIG_IOMMUFD_TEST is off");
	ASSERT_EQ(0, rc);
	pool_add(f, ioas[0], K_IOAS);
	pool_add(f, ioas[1], K_IOAS);
	pool_add(f, stdev, K_STDEV);
	pool_add(f, idev, K_IDEV);
	pool_add(f, hwpt, K_HWPT);
	/* A nest parent, a vIOMMU on it and the device's vDEVICE 0x42 */
	test_cmd_hwpt_alloc(idev, ioas[0], IOMMU_HWPT_ALLOC_NEST_PARENT, &hwpt);
	pool_add(f, hwpt, K_PARENT);
	pool_add(f, setup_viommu(_metadata, f, idev, hwpt), K_VIOMMU);
	test_cmd_mock_domain_flags(ioas[0], MOCK_FLAGS_DEVICE_SW_MSI |
				   MOCK_FLAGS_DEVICE_BIND_ONLY, &stdev, &hwpt,
				   &f->msi_idev);
	pool_add(f, stdev, K_STDEV);
	pool_add(f, f->msi_idev, K_IDEV);

	test_cmd_create_access(ioas[0], &afd,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	keep_fd(f, f->afds, &f->nafds, afd);
	test_cmd_create_access(ioas[1], &afd, 0);
	keep_fd(f, f->afds, &f->nafds, afd);
	test_ioctl_ioas_map_id(ioas[0], f->mapbuf, r / 2, &iova);
	maps_add(f, ioas[0], iova, r / 2, (uintptr_t)f->mapbuf);
	test_ioctl_ioas_map_id(ioas[1], f->mapbuf + r / 2, r / 2, &iova);
	maps_add(f, ioas[1], iova, r / 2, (uintptr_t)f->mapbuf + r / 2);
}

FIXTURE_TEARDOWN(iommufd_fuzz)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
	};
	struct fuzz *f = &self->f;
	unsigned int i;
	int fd;

	for (i = 0; i != f->nafds; i++)
		close(f->afds[i]);
	for (i = 0; i != f->nffds; i++)
		close(f->ffds[i]);
	EXPECT_EQ(0, close(self->fd));

	/* Nothing the fuzzer had the kernel pin may stay pinned */
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_NE(-1, fd);
	for (i = 0; i != 3; i++) {	/* mapbuf, scratch, arg page */
		cmd.check_refs.uptr = (uintptr_t)f->lim[i];
		cmd.check_refs.length = i == 2 ? f->psz : f->region;
		EXPECT_EQ(0, ioctl(fd, IOMMU_TEST_CMD, &cmd));
	}
	close(fd);
	munmap(f->arena, f->arena_end - f->arena);
	if (f->mfd >= 0)
		close(f->mfd);
}

TEST_F(iommufd_fuzz, ioctls)
{
	unsigned long long seed, calls = FUZZ_CALLS, i;
	struct timespec t0, t1;

	clock_gettime(CLOCK_REALTIME, &t0);
	seed = t0.tv_sec * 1000000000ULL + t0.tv_nsec;
	ASSERT_EQ(0, env_ull("IOMMUFD_FUZZ_SEED", &seed));
	ASSERT_EQ(0, env_ull("IOMMUFD_FUZZ_CALLS", &calls));
	TH_LOG("seed %llu, %llu calls (variant %s)", seed, calls,
	       variant->name);
	TH_LOG("rerun: IOMMUFD_FUZZ_SEED=%llu IOMMUFD_FUZZ_CALLS=%llu -v %s",
	       seed, calls, variant->name);
	rnd_seed(&self->f, seed);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i != calls; i++)
		fuzz_one(&self->f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report(&self->f, _metadata, (t1.tv_sec - t0.tv_sec) +
				    (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

TEST_HARNESS_MAIN
