// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's guest program: times the iommufd and VFIO paths the series
 * changes, the same binary on the unpatched base kernel and on the series
 * kernel (harness/bench.sh boots them in turn and turns the figures into
 * ratios).  One line per figure on stdout:
 *
 *   ##BENCH <figure> <ns per op> <ops per round> <rounds>
 *   ##BENCH <figure> n/a <why>
 *   ##CMDS <figure> <calls>     (see count_cmds())
 *
 * ns per op is the median over the rounds.  A figure whose ioctl the
 * kernel lacks (nesting on the base) is n/a, with the errno; any other
 * failure is printed as ##FAIL and makes the exit status non-zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "smmuv3_guest.h"
#include "realvmm.h"
#include "drivers/iommu/iommufd/iommufd_test.h"

#define ROUNDS		7
#define SZ_4K		0x1000UL
#define SZ_2M		0x200000UL
#define BENCH_IOVA	0x200000ULL
#define MOCK_IOVA	((uint64_t)MOCK_APERTURE_START)

static int failed;

struct bench {
	int iommufd;
	uint32_t ioas;
	uint8_t *buf;		/* 2 MiB, hugetlb when it can be */
	size_t len;
	uint64_t iova;
	/* mock access */
	int access_fd;
	/* edu */
	struct edu_dev *edu;
	uint32_t hwpt[2];
	int efd;
	/* nesting */
	uint8_t *guest;
	uint32_t viommu;
	unsigned int batch;
	/* virtio-rng: one eventfd per MSI-X vector */
	const char *bdf;
	int devfd;
	int efd2;
	/* pages per op, for figures given per page */
	unsigned int per;
	/* BENCH_ONLY=cmds: only count the SMMU commands, time nothing */
	bool cmds_only;
};

typedef int (*bench_op)(struct bench *b, unsigned int i);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void fail(const char *fig, const char *what, int err)
{
	printf("##FAIL %s %s: %s\n", fig, what, strerror(-err));
	fflush(stdout);
	failed = 1;
}

/* Unsupported here (the base lacks the feature): not a failure */
static void na(const char *fig, const char *what, int err)
{
	printf("##BENCH %s n/a %s: %s\n", fig, what, strerror(-err));
	fflush(stdout);
}

/*
 * ROUNDS rounds of @ops calls of @op, after one untimed warm-up call;
 * prints the median time per call.
 */
static int measure(const char *fig, struct bench *b, bench_op op,
		   unsigned int ops)
{
	uint64_t t[ROUNDS], start;
	unsigned int r, i;
	int ret;

	ret = op(b, 0);
	if (ret) {
		fail(fig, "first call", ret);
		return ret;
	}
	for (r = 0; r < ROUNDS; r++) {
		start = now_ns();
		for (i = 0; i < ops; i++) {
			ret = op(b, i);
			if (ret) {
				fail(fig, "timed call", ret);
				return ret;
			}
		}
		t[r] = (now_ns() - start) / ops / (b->per ? b->per : 1);
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp_u64);
	printf("##BENCH %s %llu %u %u\n", fig,
	       (unsigned long long)t[ROUNDS / 2], ops, ROUNDS);
	fflush(stdout);
	return 0;
}

static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/* 2 MiB of memory, from the hugetlb pool if it has a page */
static uint8_t *buf_alloc(bool huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
	void *p;

	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		 flags | (huge ? MAP_HUGETLB : 0), -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, SZ_2M);
	return p;
}

static int op_map_unmap(struct bench *b, unsigned int i)
{
	int ret = edu_ioas_map(b->iommufd, b->ioas, b->buf, b->len, b->iova);

	return ret ? ret : edu_ioas_unmap(b->iommufd, b->ioas, b->iova, b->len);
}

/* IOAS_MAP + IOAS_UNMAP of 4 KiB and of a 2 MiB hugetlb page */
static void bench_map(const char *dom, struct bench *b)
{
	uint8_t *small = b->buf, *huge;
	char fig[64];

	snprintf(fig, sizeof(fig), "map_4k_%s", dom);
	b->len = SZ_4K;
	measure(fig, b, op_map_unmap, 400);

	snprintf(fig, sizeof(fig), "map_2m_%s", dom);
	huge = buf_alloc(true);
	if (!huge) {
		fail(fig, "hugetlb page", -errno);
		return;
	}
	b->buf = huge;
	b->len = SZ_2M;
	measure(fig, b, op_map_unmap, 100);
	munmap(huge, SZ_2M);
	b->buf = small;
}

static int op_pin(struct bench *b, unsigned int i)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = b->access_fd,
		.access_pages = {
			.iova = b->iova,
			.length = 16 * SZ_4K,
			.uptr = (uintptr_t)b->buf,
		},
	};
	int ret = test_cmd(b->iommufd, &cmd);

	if (ret)
		return ret;
	cmd = (struct iommu_test_cmd) {
		.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		.id = b->access_fd,
		.destroy_access_pages.access_pages_id =
			cmd.access_pages.out_access_pages_id,
	};
	return test_cmd(b->iommufd, &cmd);
}

static int op_rw(struct bench *b, unsigned int i)
{
	uint8_t data[64];
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.id = b->access_fd,
		.access_rw = {
			.iova = b->iova + (i % 16) * SZ_4K,
			.length = sizeof(data),
			.uptr = (uintptr_t)data,
		},
	};

	return test_cmd(b->iommufd, &cmd);
}

/* The selftest driver's mock domain and mock access */
static void bench_mock(struct bench *b)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = b->ioas,
	};
	int ret = test_cmd(b->iommufd, &cmd);

	if (ret) {
		fail("map_4k_mock", "mock domain", ret);
		return;
	}
	b->iova = MOCK_IOVA;
	bench_map("mock", b);

	b->len = 16 * SZ_4K;
	ret = edu_ioas_map(b->iommufd, b->ioas, b->buf, b->len, b->iova);
	if (ret) {
		fail("pin_64k_access", "IOAS_MAP", ret);
		return;
	}
	cmd = (struct iommu_test_cmd) {
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = b->ioas,
		.create_access.flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
	};
	ret = test_cmd(b->iommufd, &cmd);
	if (ret) {
		fail("pin_64k_access", "mock access", ret);
		return;
	}
	b->access_fd = cmd.create_access.out_access_fd;
	measure("pin_64k_access", b, op_pin, 400);
	measure("rw_64b_access", b, op_rw, 1000);
	close(b->access_fd);
	edu_ioas_unmap(b->iommufd, b->ioas, b->iova, b->len);
}

static int op_attach_detach(struct bench *b, unsigned int i)
{
	uint32_t pt = b->hwpt[0];
	int ret = edu_attach(b->edu, &pt);

	return ret ? ret : edu_detach(b->edu);
}

static int op_replace(struct bench *b, unsigned int i)
{
	uint32_t pt = b->hwpt[1];
	int ret = edu_attach(b->edu, &pt);

	pt = b->hwpt[0];
	return ret ? ret : edu_attach(b->edu, &pt);
}

static int op_msi(struct bench *b, unsigned int i)
{
	int ret = edu_set_msi(b->edu, b->efd);

	return ret ? ret : edu_set_msi(b->edu, -1);
}

/*
 * Attach and detach timed apart, each the median per call over ROUNDS
 * rounds of @ops cycles: which half costs what
 */
static void attach_detach_apart(const char *fig, struct bench *b,
				unsigned int ops)
{
	uint64_t ta[ROUNDS], td[ROUNDS], t0, t1, sa, sd;
	unsigned int r, i;
	char name[64];
	uint32_t pt;
	int ret;

	snprintf(name, sizeof(name), "%s_attach", fig);
	for (r = 0; r < ROUNDS; r++) {
		sa = 0;
		sd = 0;
		for (i = 0; i < ops; i++) {
			pt = b->hwpt[0];
			t0 = now_ns();
			ret = edu_attach(b->edu, &pt);
			t1 = now_ns();
			ret = ret ?: edu_detach(b->edu);
			if (ret) {
				fail(name, "attach or detach", ret);
				return;
			}
			sa += t1 - t0;
			sd += now_ns() - t1;
		}
		ta[r] = sa / ops;
		td[r] = sd / ops;
	}
	qsort(ta, ROUNDS, sizeof(ta[0]), cmp_u64);
	qsort(td, ROUNDS, sizeof(td[0]), cmp_u64);
	printf("##BENCH %s %llu %u %u\n", name,
	       (unsigned long long)ta[ROUNDS / 2], ops, ROUNDS);
	snprintf(name, sizeof(name), "%s_detach", fig);
	printf("##BENCH %s %llu %u %u\n", name,
	       (unsigned long long)td[ROUNDS / 2], ops, ROUNDS);
	fflush(stdout);
}

/* The first edu on the SMMUv3: map/unmap, attach, replace, MSI */
static void bench_edu(struct bench *b)
{
	struct edu_dev edu;
	uint32_t pt;
	int ret;

	ret = edu_open(&edu, 0, b->iommufd);
	if (ret) {
		fail("map_4k_smmu", "edu", ret);
		return;
	}
	b->edu = &edu;
	b->efd = eventfd(0, EFD_CLOEXEC);
	pt = b->ioas;
	ret = edu_attach(&edu, &pt);
	if (ret) {
		fail("map_4k_smmu", "attach", ret);
		goto out;
	}
	b->iova = BENCH_IOVA;
	bench_map("smmu", b);

	ret = edu_detach(&edu);
	ret = ret ?: hwpt_alloc(b->iommufd, edu.dev_id, b->ioas, 0, &b->hwpt[0]);
	ret = ret ?: hwpt_alloc(b->iommufd, edu.dev_id, b->ioas, 0, &b->hwpt[1]);
	pt = b->hwpt[0];
	ret = ret ?: edu_attach(&edu, &pt);
	if (ret) {
		fail("msi_edu", "HWPTs", ret);
		goto out;
	}
	measure("msi_edu", b, op_msi, 100);
	/* The same without MSI: what the MSI bookkeeping adds */
	ret = edu_detach(&edu);
	if (ret) {
		fail("attach_edu", "detach", ret);
		goto out;
	}
	measure("attach_edu", b, op_attach_detach, 100);
	pt = b->hwpt[0];
	ret = edu_attach(&edu, &pt);
	ret = ret ?: edu_set_msi(&edu, b->efd);
	if (ret) {
		fail("attach_msi_edu", "MSI", ret);
		goto out;
	}
	ret = edu_detach(&edu);
	if (ret) {
		fail("attach_msi_edu", "detach", ret);
		goto out;
	}
	measure("attach_msi_edu", b, op_attach_detach, 100);
	attach_detach_apart("msi_edu", b, 50);
	pt = b->hwpt[0];
	ret = edu_attach(&edu, &pt);
	if (ret) {
		fail("replace_msi_edu", "attach", ret);
		goto out;
	}
	measure("replace_msi_edu", b, op_replace, 100);
	edu_set_msi(&edu, -1);
	edu_detach(&edu);
	destroy(b->iommufd, b->hwpt[0]);
	destroy(b->iommufd, b->hwpt[1]);
out:
	close(b->efd);
	edu_close(&edu);
	b->edu = NULL;
}

/* Unbind and bind virtio-rng's kernel driver: MSI-X in a DMA domain */
static int op_rebind(struct bench *b, unsigned int i)
{
	int ret = edu_sysfs_write("/sys/bus/pci/drivers/virtio-pci/unbind",
				  b->bdf);

	return ret ?: edu_sysfs_write("/sys/bus/pci/drivers/virtio-pci/bind",
				      b->bdf);
}

static int set_msix(struct bench *b, int nvec)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd[2];
	} req = {
		.set = {
			.argsz = sizeof(req),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = VFIO_PCI_MSIX_IRQ_INDEX,
			.count = nvec,
		},
		.fd = { b->efd, b->efd2 },
	};

	if (!nvec) {
		req.set.argsz = sizeof(req.set);
		req.set.flags = VFIO_IRQ_SET_DATA_NONE |
				VFIO_IRQ_SET_ACTION_TRIGGER;
	}
	return ioctl(b->devfd, VFIO_DEVICE_SET_IRQS, &req) ? -errno : 0;
}

static int op_msix(struct bench *b, unsigned int i)
{
	int ret = set_msix(b, 2);

	return ret ? ret : set_msix(b, 0);
}

/* virtio-rng: driver rebind (DMA-API MSI-X), then MSI-X through VFIO */
static void bench_rng(struct bench *b)
{
	struct edu_dev dev = { .devfd = -1 };
	char bdf[32];
	uint32_t pt;
	int ret;

	ret = find_pci(VIRTIO_VENDOR, VIRTIO_RNG, bdf, sizeof(bdf));
	if (ret) {
		fail("rebind_msix_rng", "virtio-rng", ret);
		return;
	}
	b->bdf = bdf;
	measure("rebind_msix_rng", b, op_rebind, 10);

	ret = edu_bind_vfio_pci(bdf);
	dev.devfd = ret ? ret : edu_open_cdev(bdf);
	ret = dev.devfd < 0 ? dev.devfd : edu_bind_iommufd(&dev, b->iommufd);
	pt = b->ioas;
	ret = ret ?: edu_attach(&dev, &pt);
	if (ret) {
		fail("msix_vfio_rng", "vfio-pci", ret);
		goto out;
	}
	b->devfd = dev.devfd;
	b->efd = eventfd(0, EFD_CLOEXEC);
	b->efd2 = eventfd(0, EFD_CLOEXEC);
	measure("msix_vfio_rng", b, op_msix, 100);
	close(b->efd);
	close(b->efd2);
	edu_detach(&dev);
out:
	if (dev.devfd >= 0)
		close(dev.devfd);
}

static int op_guest_map(struct bench *b, unsigned int i)
{
	struct iommu_viommu_arm_smmuv3_invalidate cmds[16];
	uint64_t *l3 = guest_page(b->guest, PG_L3);
	uint32_t num = b->batch;
	unsigned int k;
	int ret;

	/* The guest maps (or remaps) VA_DATA + k pages and invalidates */
	for (k = 0; k < b->batch; k++) {
		uint64_t va = VA_DATA + k * PG;

		l3[(va >> 12) & 511] = (GUEST_IPA + (PG_DATA + (i & 1)) * PG) |
				       PTE_PAGE | PTE_ATTR(0) | PTE_LEAF;
		cmds[k].cmd[0] = CMD_TLBI_NH_VA | CMD_ASID(1);
		cmds[k].cmd[1] = va | CMD_LEAF;
	}
	edu_dma_barrier();
	ret = viommu_invalidate(b->iommufd, b->viommu, cmds, &num);
	/* A short count would understate the cost per page */
	return ret ?: (num == b->batch ? 0 : -EIO);
}

/*
 * QEMU logs the SMMU commands it executes (harness/vm.sh): two guest TLBIs
 * at these VAs bracket the commands of CMD_OPS map+unmap calls on the nest
 * parent, which bench.py counts ("##CMDS <figure> <calls>").
 */
#define MARK_START	0x7be000ULL
#define MARK_END	0x7ef000ULL
#define CMD_OPS		10

static int mark(struct bench *b, uint64_t va)
{
	struct iommu_viommu_arm_smmuv3_invalidate cmd = {
		.cmd = { CMD_TLBI_NH_VA | CMD_ASID(1), va | CMD_LEAF },
	};
	uint32_t num = 1;

	return viommu_invalidate(b->iommufd, b->viommu, &cmd, &num);
}

static void count_cmds(const char *fig, struct bench *b)
{
	unsigned int i;
	int ret = mark(b, MARK_START);

	for (i = 0; i < CMD_OPS && !ret; i++)
		ret = op_map_unmap(b, i);
	ret = ret ?: mark(b, MARK_END);
	if (ret) {
		fail(fig, "command count", ret);
		return;
	}
	printf("##CMDS %s %u\n", fig, CMD_OPS);
	fflush(stdout);
}

/* Series only: a guest's stage 1 against the VMM's IOAS_MAP */
static void bench_nested(struct bench *b)
{
	struct edu_dev edu[2] = { { .devfd = -1 }, { .devfd = -1 } };
	uint32_t parent = 0, vdev, s1[2], pt;
	unsigned int n;
	int ret;

	for (n = 0; n < 2; n++) {
		ret = edu_open(&edu[n], n, b->iommufd);
		if (ret) {
			fail("guest_map_4k", "edu", ret);
			goto out;
		}
	}
	ret = hwpt_alloc(b->iommufd, edu[0].dev_id, b->ioas,
			 IOMMU_HWPT_ALLOC_NEST_PARENT, &parent);
	if (ret == -EOPNOTSUPP || ret == -EINVAL) {
		na("guest_map_4k", "nest parent", ret);
		goto out;
	}
	ret = ret ?: viommu_alloc(b->iommufd, edu[0].dev_id, parent,
				  IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &b->viommu);
	if (ret == -ENOTTY) {
		na("guest_map_4k", "vIOMMU", ret);
		goto out;
	}
	b->guest = mmap(NULL, GUEST_PAGES * PG, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->guest == MAP_FAILED) {
		fail("guest_map_4k", "guest RAM", -errno);
		goto out;
	}
	guest_build_tables(b->guest);
	ret = ret ?: edu_ioas_map(b->iommufd, b->ioas, b->guest,
				  GUEST_PAGES * PG, GUEST_IPA);
	for (n = 0; n < 2 && !ret; n++) {
		pt = 0;
		ret = vdevice_alloc(b->iommufd, b->viommu, edu[n].dev_id,
				    0x8 + 8 * n, &vdev);
		ret = ret ?: nested_alloc(b->iommufd, edu[n].dev_id, b->viommu,
					  STE0_V | STE0_CFG(STE_CFG_S1) |
					  (GUEST_IPA + PG_CD * PG), 0, &s1[n]);
		pt = s1[n];
		ret = ret ?: edu_attach(&edu[n], &pt);
		if (!ret && n == 0) {
			/* One nested device: parent unmap, guest map */
			b->iova = BENCH_IOVA;
			b->len = SZ_4K;
			if (b->cmds_only) {
				count_cmds("parent_map_4k_n1", b);
				continue;
			}
			measure("parent_map_4k_n1", b, op_map_unmap, 400);
			b->batch = 1;
			measure("guest_map_4k", b, op_guest_map, 400);
			b->batch = 16;
			b->per = 16;
			measure("guest_map_4k_x16", b, op_guest_map, 100);
			b->per = 0;
		}
	}
	if (ret) {
		fail("guest_map_4k", "nesting set-up", ret);
		goto out;
	}
	if (b->cmds_only)
		count_cmds("parent_map_4k_n2", b);
	else
		measure("parent_map_4k_n2", b, op_map_unmap, 400);
out:
	for (n = 0; n < 2; n++)
		edu_close(&edu[n]);
	if (b->guest && b->guest != MAP_FAILED)
		munmap(b->guest, GUEST_PAGES * PG);
	b->guest = NULL;
}

/* Each group of figures on a fresh iommufd and IOAS */
static void run(void (*fn)(struct bench *b), uint8_t *buf, bool cmds_only)
{
	struct bench b = {
		.buf = buf, .access_fd = -1, .devfd = -1,
		.cmds_only = cmds_only,
	};
	int ret;

	b.iommufd = open("/dev/iommu", O_RDWR);
	if (b.iommufd < 0) {
		fail("iommufd", "open /dev/iommu", -errno);
		return;
	}
	ret = edu_ioas_alloc(b.iommufd, &b.ioas);
	if (ret)
		fail("iommufd", "IOAS_ALLOC", ret);
	else
		fn(&b);
	close(b.iommufd);
}

int main(void)
{
	const char *only = getenv("BENCH_ONLY");
	uint8_t *buf = buf_alloc(false);

	if (!buf) {
		fail("bench", "memory", -errno);
		return 1;
	}

	/*
	 * BENCH_ONLY=cmds (harness/vm.sh's counting boot, where QEMU logs
	 * every SMMU command): the command count alone, since the log slows
	 * what it records and would bias the timed boots
	 */
	if (only && !strcmp(only, "cmds")) {
		run(bench_nested, buf, true);
		printf("##BENCH-END %s\n", failed ? "failed" : "ok");
		return failed;
	}
	/* Let what the boot started (deferred work, probes) settle */
	sleep(2);
	run(bench_mock, buf, false);
	run(bench_edu, buf, false);
	run(bench_rng, buf, false);
	run(bench_nested, buf, false);
	printf("##BENCH-END %s\n", failed ? "failed" : "ok");
	return failed;
}
