// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end test of IOMMU_OPTION_SW_MSI_START/SIZE: QEMU's edu devices,
 * assigned through vfio-pci and iommufd, with their software MSI window
 * moved away from the SMMU driver's default (0x8000000).  The MSIs must
 * still reach the GICv3 ITS, through doorbells mapped inside the new
 * window, and the old window must be ordinary IOVA space.
 *
 * Needs one edu device (two for the tests that use both); elsewhere the
 * tests skip, naming what is missing.
 */
#include <pthread.h>
#include <stdint.h>

#include "../kselftest_harness.h"
#include "vfio_edu.h"

#define NEW_WINDOW	0x40000000ULL	/* 1 MiB */
#define NEW_WINDOW2	0x50000000ULL
#define WINDOW_SIZE	0x100000ULL
#define BUF_SIZE	(4 * 4096UL)
#define TIMEOUT_MS	5000

static int sw_msi_option(int iommufd, uint32_t option, uint16_t op,
			 uint32_t object_id, uint64_t *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option,
		.op = op,
		.object_id = object_id,
		.val64 = *val,
	};

	if (ioctl(iommufd, IOMMU_OPTION, &cmd))
		return -errno;
	*val = cmd.val64;
	return 0;
}

/* Give @edu the window [start, start + 1 MiB) */
static int set_window(int iommufd, struct edu_dev *edu, uint64_t start)
{
	uint64_t size = 1;
	int ret;

	ret = sw_msi_option(iommufd, IOMMU_OPTION_SW_MSI_START,
			    IOMMU_OPTION_OP_SET, edu->dev_id, &start);
	if (ret)
		return ret;
	return sw_msi_option(iommufd, IOMMU_OPTION_SW_MSI_SIZE,
			     IOMMU_OPTION_OP_SET, edu->dev_id, &size);
}

static bool ioas_allows(int iommufd, uint32_t ioas_id, uint64_t iova)
{
	struct iommu_iova_range ranges[16];
	int i, n;

	n = edu_ioas_ranges(iommufd, ioas_id, ranges, 16);
	for (i = 0; i < n && i < 16; i++)
		if (ranges[i].start <= iova && iova <= ranges[i].last)
			return true;
	return false;
}

/* The device's MSI reaches its eventfd, raised by software */
static int msi_arrives(struct edu_dev *edu, int efd)
{
	long n;

	edu_write32(edu, EDU_REG_IRQ_RAISE, 0x1);
	n = edu_wait_eventfd(efd, TIMEOUT_MS);
	edu_write32(edu, EDU_REG_IRQ_ACK, 0x1);
	return n == 1;
}

/* A HWPT of its own on @ioas_id, for @edu; 0 on failure */
static uint32_t hwpt_alloc(int iommufd, struct edu_dev *edu, uint32_t ioas_id)
{
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.dev_id = edu->dev_id,
		.pt_id = ioas_id,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &alloc))
		return 0;
	return alloc.out_hwpt_id;
}

static int destroy_id(int iommufd, uint32_t id)
{
	struct iommu_destroy destroy = { .size = sizeof(destroy), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &destroy) ? -errno : 0;
}

/*
 * Let fail-nth fail any allocation (as iommufd_fail_nth does), and every
 * fault point report quietly.  -errno if the kernel has no allocation
 * fault injection.
 */
static int fault_injection_arm(void)
{
	static const char *const settings[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/verbose", "0" },
		{ "fail_iommufd/verbose", "0" },
	};
	char path[128];
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(settings); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s",
			 settings[i][0]);
		ret = edu_sysfs_write(path, settings[i][1]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The @nth allocation of this thread from now on fails; 0 disarms */
static int fail_nth(unsigned int nth)
{
	char val[16];

	snprintf(val, sizeof(val), "%u", nth);
	return edu_sysfs_write("/proc/thread-self/fail-nth", val);
}

/* Did the fault armed by fail_nth() fire?  Disarms it either way. */
static bool fail_nth_fired(void)
{
	char val[16] = "";
	ssize_t n;
	int fd;

	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0)
		return false;
	n = read(fd, val, sizeof(val) - 1);
	if (write(fd, "0", 1) != 1)
		n = -1;
	close(fd);
	/* What is left of the count: 0 once the fault has been injected */
	return n > 0 && atoi(val) == 0;
}

/*
 * Attach (or replace) @edu to *@pt with its @nth allocation failing; *@fired
 * tells whether the fault was injected at all.
 */
static int attach_failing(struct edu_dev *edu, uint32_t *pt, unsigned int nth,
			  bool *fired)
{
	int ret;

	*fired = false;
	ret = fail_nth(nth);
	if (ret)
		return ret;
	ret = edu_attach(edu, pt);
	*fired = fail_nth_fired();
	return ret;
}

/*
 * Nothing stays mapped where @ioas_id does not reserve: a 4 KiB page maps
 * and unmaps at the driver's window in an IOAS the device is not in.
 */
static int window_is_free(int iommufd, uint32_t ioas_id, void *buf)
{
	int ret = edu_ioas_map(iommufd, ioas_id, buf, 4096, ARM_SW_MSI_START);

	if (ret)
		return ret;
	return edu_ioas_unmap(iommufd, ioas_id, ARM_SW_MSI_START, 4096);
}

FIXTURE(sw_msi_edu)
{
	int iommufd;
	struct edu_dev edu[2];
	int efd[2];
	uint32_t ioas[2];
	uint8_t *buf;
};

FIXTURE_SETUP(sw_msi_edu)
{
	int i, ret;

	self->edu[0].devfd = -1;
	self->edu[1].devfd = -1;
	self->efd[0] = -1;
	self->efd[1] = -1;
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);

	for (i = 0; i < 2; i++) {
		ret = edu_open(&self->edu[i], i, self->iommufd);
		if (ret == -ENODEV)
			SKIP(return, "needs 2 QEMU edu PCI devices (%04x:%04x), found %d",
			     EDU_VENDOR, EDU_DEVICE, i);
		ASSERT_EQ(0, ret) TH_LOG("opening edu %d: %s", i,
					 strerror(-ret));
		ASSERT_EQ(0, edu_ioas_alloc(self->iommufd, &self->ioas[i]));
		self->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, self->efd[i]);
	}
	self->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(sw_msi_edu)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (self->edu[i].devfd >= 0)
			edu_set_msi(&self->edu[i], -1);
		edu_close(&self->edu[i]);
		if (self->efd[i] >= 0)
			close(self->efd[i]);
	}
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, BUF_SIZE);
	if (self->iommufd >= 0)
		close(self->iommufd);
}

/*
 * The window at 0x40000000: the MSI doorbell is mapped there, the driver's
 * old window takes DMA like any IOVA, the new one takes no IOAS mapping.
 */
TEST_F(sw_msi_edu, moved_window)
{
	struct edu_dev *edu = &self->edu[0];
	uint64_t doorbell = 0, val = 0;
	uint32_t pt = self->ioas[0];
	size_t i;

	ASSERT_EQ(0, set_window(self->iommufd, edu, NEW_WINDOW));
	ASSERT_EQ(0, sw_msi_option(self->iommufd, IOMMU_OPTION_SW_MSI_START,
				   IOMMU_OPTION_OP_GET, edu->dev_id, &val));
	ASSERT_EQ(NEW_WINDOW, val);
	ASSERT_EQ(0, edu_attach(edu, &pt));

	/* The hole is at the new place only */
	ASSERT_FALSE(ioas_allows(self->iommufd, self->ioas[0], NEW_WINDOW));
	ASSERT_FALSE(ioas_allows(self->iommufd, self->ioas[0],
				 NEW_WINDOW + WINDOW_SIZE - 1));
	ASSERT_TRUE(ioas_allows(self->iommufd, self->ioas[0],
				NEW_WINDOW + WINDOW_SIZE));
	ASSERT_TRUE(ioas_allows(self->iommufd, self->ioas[0], ARM_SW_MSI_START));
	EXPECT_EQ(-EINVAL, edu_ioas_map(self->iommufd, self->ioas[0],
					self->buf, 4096, NEW_WINDOW));

	/* A DMA buffer where the window used to be */
	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas[0], self->buf,
				  BUF_SIZE, ARM_SW_MSI_START));
	for (i = 0; i < 4096; i++)
		self->buf[i] = i * 7;
	ASSERT_EQ(0, edu_dma(edu, ARM_SW_MSI_START, 4096, false, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, edu_dma(edu, ARM_SW_MSI_START + 4096, 4096, true, false,
			     TIMEOUT_MS));
	ASSERT_EQ(0, memcmp(self->buf, self->buf + 4096, 4096));

	/* The MSI goes through a doorbell inside the new window */
	ASSERT_EQ(0, edu_set_msi(edu, self->efd[0]));
	ASSERT_EQ(0, edu_msi_address(edu->bdf, &doorbell));
	TH_LOG("%s: MSI doorbell at IOVA 0x%llx", edu->bdf,
	       (unsigned long long)doorbell);
	ASSERT_LE(NEW_WINDOW, doorbell);
	ASSERT_GT(NEW_WINDOW + WINDOW_SIZE, doorbell);
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));

	/* Attached: the window is fixed */
	val = NEW_WINDOW2;
	EXPECT_EQ(-EBUSY, sw_msi_option(self->iommufd,
					IOMMU_OPTION_SW_MSI_START,
					IOMMU_OPTION_OP_SET, edu->dev_id,
					&val));
}

/*
 * Two devices on one iommufd, each with its own window in its own IOAS,
 * both get their MSIs; one cannot join the other's domain.
 */
TEST_F(sw_msi_edu, two_devices)
{
	const uint64_t win[2] = { NEW_WINDOW, NEW_WINDOW2 };
	uint32_t pt[2] = { self->ioas[0], self->ioas[1] };
	uint64_t doorbell;
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, set_window(self->iommufd, &self->edu[i], win[i]));
		ASSERT_EQ(0, edu_attach(&self->edu[i], &pt[i]));
		ASSERT_EQ(0, edu_set_msi(&self->edu[i], self->efd[i]));
		ASSERT_EQ(0, edu_msi_address(self->edu[i].bdf, &doorbell));
		TH_LOG("%s: window 0x%llx, doorbell 0x%llx", self->edu[i].bdf,
		       (unsigned long long)win[i],
		       (unsigned long long)doorbell);
		ASSERT_LE(win[i], doorbell);
		ASSERT_GT(win[i] + WINDOW_SIZE, doorbell);
	}
	for (i = 0; i < 2; i++)
		ASSERT_TRUE(msi_arrives(&self->edu[i], self->efd[i]));

	/* A domain has one window: the second device is refused */
	EXPECT_EQ(-EINVAL, edu_attach(&self->edu[1], &pt[0]));
	EXPECT_TRUE(msi_arrives(&self->edu[1], self->efd[1]));
	EXPECT_TRUE(msi_arrives(&self->edu[0], self->efd[0]));
}

/*
 * MSIs in use survive replacing the attached HWPT, within the IOAS and to
 * another IOAS: the new domain maps the doorbell at the same IOVA.  They
 * also survive a detach and a re-attach, and MSIs enabled again work.
 */
TEST_F(sw_msi_edu, replace_keeps_msi)
{
	struct edu_dev *edu = &self->edu[0];
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.dev_id = edu->dev_id,
		.pt_id = self->ioas[0],
	};
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	uint64_t doorbell = 0, again = 0;
	uint32_t pt = self->ioas[0];

	ASSERT_EQ(0, set_window(self->iommufd, edu, NEW_WINDOW));
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_EQ(0, edu_set_msi(edu, self->efd[0]));
	ASSERT_EQ(0, edu_msi_address(edu->bdf, &doorbell));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));

	/* Another HWPT on the same IOAS */
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_HWPT_ALLOC, &alloc));
	pt = alloc.out_hwpt_id;
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));

	/* Another IOAS, which gets the window too */
	pt = self->ioas[1];
	ASSERT_EQ(0, edu_attach(edu, &pt));
	destroy.id = alloc.out_hwpt_id;
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_DESTROY, &destroy));
	ASSERT_FALSE(ioas_allows(self->iommufd, self->ioas[1], NEW_WINDOW));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	ASSERT_EQ(0, edu_msi_address(edu->bdf, &again));
	ASSERT_EQ(doorbell, again);
	/* DMA in the new IOAS, at the driver's old window */
	ASSERT_EQ(0, edu_ioas_map(self->iommufd, self->ioas[1], self->buf,
				  BUF_SIZE, ARM_SW_MSI_START));
	ASSERT_EQ(0, edu_dma(edu, ARM_SW_MSI_START, 4096, false, false,
			     TIMEOUT_MS));

	/* Detach and attach again: the MSI left enabled still works */
	ASSERT_EQ(0, edu_detach(edu));
	pt = self->ioas[0];
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_EQ(0, edu_msi_address(edu->bdf, &again));
	ASSERT_EQ(doorbell, again);
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	/* So does one enabled again */
	ASSERT_EQ(0, edu_set_msi(edu, -1));
	ASSERT_EQ(0, edu_set_msi(edu, self->efd[0]));
	ASSERT_EQ(0, edu_msi_address(edu->bdf, &again));
	ASSERT_LE(NEW_WINDOW, again);
	ASSERT_GT(NEW_WINDOW + WINDOW_SIZE, again);
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
}

/*
 * A move that fails after the doorbells were mapped in the new domain
 * (each allocation of a replace, then of an attach, fails in turn) leaves
 * that domain as it was: the window it no longer reserves takes an IOAS
 * mapping, and the MSI keeps working where the device is.  A failed
 * attach does not use up the doorbells saved at the detach: the next
 * attach, elsewhere, restores them.  Some allocations fail without the
 * call failing (the kernel gets by without them); such a move is undone
 * and checked the same way.
 */
TEST_F(sw_msi_edu, failed_move)
{
	unsigned int nth, failures = 0, absorbed = 0;
	struct edu_dev *edu = &self->edu[0];
	uint32_t pt = self->ioas[0];
	uint32_t other, fresh;
	bool fired;
	int ret;

	if (fault_injection_arm())
		SKIP(return, "needs allocation fault injection (failslab)");
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_EQ(0, edu_set_msi(edu, self->efd[0]));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	other = hwpt_alloc(self->iommufd, edu, self->ioas[1]);
	ASSERT_NE(0, other);

	/* Replace into a HWPT of another IOAS */
	for (nth = 1; nth < 400; nth++) {
		uint32_t to = other;

		ret = attach_failing(edu, &to, nth, &fired);
		if (!fired) {
			ASSERT_EQ(0, ret);
			break;
		}
		if (ret) {
			failures++;
		} else {
			absorbed++;
			pt = self->ioas[0];
			ASSERT_EQ(0, edu_attach(edu, &pt));
		}
		ASSERT_EQ(0, window_is_free(self->iommufd, self->ioas[1],
					    self->buf))
			TH_LOG("replace, nth %u: %d", nth, ret);
		ASSERT_TRUE(msi_arrives(edu, self->efd[0]))
			TH_LOG("replace, nth %u: %d", nth, ret);
	}
	ASSERT_LT(nth, 400);
	ASSERT_LE(3, failures);
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	TH_LOG("replace: %u failed, %u got by", failures, absorbed);

	/* Detach with the MSI enabled, then attach with failures */
	ASSERT_EQ(0, edu_detach(edu));
	ASSERT_EQ(0, destroy_id(self->iommufd, other));
	failures = 0;
	absorbed = 0;
	for (nth = 1; nth < 400; nth++) {
		other = hwpt_alloc(self->iommufd, edu, self->ioas[1]);
		ASSERT_NE(0, other);
		pt = other;
		ret = attach_failing(edu, &pt, nth, &fired);
		if (!fired) {
			ASSERT_EQ(0, ret);
			break;
		}
		if (ret) {
			failures++;
		} else {
			absorbed++;
			ASSERT_EQ(0, edu_detach(edu));
		}
		ASSERT_EQ(0, window_is_free(self->iommufd, self->ioas[1],
					    self->buf))
			TH_LOG("attach, nth %u: %d", nth, ret);
		ASSERT_EQ(0, destroy_id(self->iommufd, other));

		/* A HWPT the device never used gets the doorbell back */
		fresh = hwpt_alloc(self->iommufd, edu, self->ioas[0]);
		ASSERT_NE(0, fresh);
		pt = fresh;
		ASSERT_EQ(0, edu_attach(edu, &pt));
		ASSERT_TRUE(msi_arrives(edu, self->efd[0]))
			TH_LOG("after a failed attach, nth %u: %d", nth, ret);
		ASSERT_EQ(0, edu_detach(edu));
		ASSERT_EQ(0, destroy_id(self->iommufd, fresh));
	}
	ASSERT_LT(nth, 400);
	ASSERT_LE(3, failures);
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	TH_LOG("attach: %u failed, %u got by", failures, absorbed);
	ASSERT_EQ(0, edu_detach(edu));
	ASSERT_EQ(0, destroy_id(self->iommufd, other));
}

/*
 * A HWPT the device has left keeps no doorbell of it: its IOAS, which no
 * longer reserves the window, can map there (else the map would meet the
 * doorbell's PTE).  Likewise after a detach.
 */
TEST_F(sw_msi_edu, left_domain_is_clean)
{
	struct edu_dev *edu = &self->edu[0];
	uint32_t pt, left, second;

	left = hwpt_alloc(self->iommufd, edu, self->ioas[0]);
	ASSERT_NE(0, left);
	second = hwpt_alloc(self->iommufd, edu, self->ioas[1]);
	ASSERT_NE(0, second);
	pt = left;
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_EQ(0, edu_set_msi(edu, self->efd[0]));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));

	pt = second;
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	ASSERT_EQ(0, window_is_free(self->iommufd, self->ioas[0], self->buf));

	/* Both HWPTs stay allocated: the detach must empty the second */
	ASSERT_EQ(0, edu_detach(edu));
	ASSERT_EQ(0, window_is_free(self->iommufd, self->ioas[1], self->buf));
	/* Back in the HWPT it left: the MSI left enabled works again */
	pt = left;
	ASSERT_EQ(0, edu_attach(edu, &pt));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
	ASSERT_EQ(0, edu_detach(edu));
	ASSERT_EQ(0, destroy_id(self->iommufd, left));
	ASSERT_EQ(0, destroy_id(self->iommufd, second));
}

struct msi_toggler {
	struct edu_dev *edu;
	int efd;
	unsigned int rounds;
	int err;
};

/* Enable and disable the device's MSI again and again */
static void *msi_toggle(void *arg)
{
	struct msi_toggler *t = arg;
	unsigned int i;

	for (i = 0; i < t->rounds && !t->err; i++) {
		t->err = edu_set_msi(t->edu, t->efd);
		if (!t->err)
			t->err = edu_set_msi(t->edu, -1);
	}
	return NULL;
}

/*
 * One thread sets MSIs up and frees them while another replaces the
 * device's HWPT and destroys the one it left: the MSI code must never
 * reach a freed domain or cookie (run under KASAN by make test KASAN=1).
 * Then the MSI still works.
 */
TEST_F(sw_msi_edu, msi_while_replacing)
{
	struct msi_toggler t = {
		.edu = &self->edu[0],
		.efd = self->efd[0],
		.rounds = 300,
	};
	struct edu_dev *edu = &self->edu[0];
	uint32_t pt = self->ioas[0], old, next;
	pthread_t thread;
	unsigned int i;

	ASSERT_EQ(0, edu_attach(edu, &pt));
	old = hwpt_alloc(self->iommufd, edu, self->ioas[0]);
	ASSERT_NE(0, old);
	pt = old;
	ASSERT_EQ(0, edu_attach(edu, &pt));

	ASSERT_EQ(0, pthread_create(&thread, NULL, msi_toggle, &t));
	for (i = 0; i < 300; i++) {
		next = hwpt_alloc(self->iommufd, edu, self->ioas[i & 1]);
		if (!next)
			break;
		pt = next;
		if (edu_attach(edu, &pt))
			break;
		if (destroy_id(self->iommufd, old))
			break;
		old = next;
	}
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(300, i);
	ASSERT_EQ(0, t.err);

	ASSERT_EQ(0, edu_set_msi(edu, self->efd[0]));
	ASSERT_TRUE(msi_arrives(edu, self->efd[0]));
}

TEST_HARNESS_MAIN
