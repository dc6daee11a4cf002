/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Drive QEMU's "edu" PCI device (1234:11e8) through vfio-pci and iommufd:
 * find it, bind it to vfio-pci, open its VFIO cdev, bind that to an
 * iommufd, and use its DMA engine and its MSI.
 *
 * Every helper returns 0 (or a non-negative value) on success and -errno on
 * failure, so the callers can be a kselftest or a plain program.
 */
#ifndef __SELFTEST_IOMMU_VFIO_EDU_H
#define __SELFTEST_IOMMU_VFIO_EDU_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8

/* BAR0 registers */
#define EDU_REG_ID		0x00
#define EDU_ID_VALUE		0x010000ed
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_RAISE	0x60
#define EDU_REG_IRQ_ACK		0x64
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_DMA_IRQ		0x4

/* The device's own DMA buffer, in device address space */
#define EDU_DMA_BUF		0x40000
#define EDU_DMA_BUF_SIZE	4096
/* The DMA engine keeps only the low 28 bits of a bus address */
#define EDU_DMA_MASK		((1ULL << 28) - 1)

/* The ARM SMMU drivers' software MSI window in 6.12 */
#define ARM_SW_MSI_START	0x8000000ULL
#define ARM_SW_MSI_SIZE		0x100000ULL

#define EDU_SYSFS		"/sys/bus/pci/devices"

struct edu_dev {
	char bdf[32];
	int devfd;
	uint32_t dev_id;
	uint8_t *bar0;
	size_t bar0_size;
	uint64_t cfg_offset;
};

/*
 * Register access: single, untorn accesses the compiler may not merge or
 * drop (relaxed atomics), and a barrier that makes CPU writes to memory
 * visible to the device before a register write starts a DMA.
 */
static inline uint32_t edu_read32(struct edu_dev *edu, unsigned int reg)
{
	return __atomic_load_n((uint32_t *)(edu->bar0 + reg), __ATOMIC_RELAXED);
}

static inline void edu_write32(struct edu_dev *edu, unsigned int reg,
			       uint32_t val)
{
	__atomic_store_n((uint32_t *)(edu->bar0 + reg), val, __ATOMIC_RELAXED);
}

static inline void edu_write64(struct edu_dev *edu, unsigned int reg,
			       uint64_t val)
{
	__atomic_store_n((uint64_t *)(edu->bar0 + reg), val, __ATOMIC_RELAXED);
}

static inline void edu_dma_barrier(void)
{
#if defined(__aarch64__)
	asm volatile("dmb osh" : : : "memory");
#else
	__sync_synchronize();
#endif
}

static inline int edu_read_hex(const char *bdf, const char *attr,
			       unsigned long *val)
{
	char path[256], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EDU_SYSFS "/%.31s/%.31s", bdf, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*val = strtoul(buf, NULL, 16);
	return 0;
}

static inline int edu_sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static inline int edu_cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Find the index'th edu device (in bus order); -ENODEV if there is none. */
static inline int edu_find(unsigned int index, char *bdf, size_t len)
{
	struct dirent **ents;
	unsigned long vendor, device;
	int i, n, ret = -ENODEV;

	n = scandir(EDU_SYSFS, &ents, NULL, edu_cmp_names);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (ret == -ENODEV && name[0] != '.' &&
		    !edu_read_hex(name, "vendor", &vendor) &&
		    !edu_read_hex(name, "device", &device) &&
		    vendor == EDU_VENDOR && device == EDU_DEVICE) {
			if (!index--) {
				snprintf(bdf, len, "%.31s", name);
				ret = 0;
			}
		}
		free(ents[i]);
	}
	free(ents);
	return ret;
}

/* Bind the device to vfio-pci unless it already is. */
static inline int edu_bind_vfio_pci(const char *bdf)
{
	char path[256], link[256];
	ssize_t n;
	int ret;

	snprintf(path, sizeof(path), EDU_SYSFS "/%.31s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (strstr(link, "/vfio-pci"))
			return 0;
		snprintf(path, sizeof(path), EDU_SYSFS "/%.31s/driver/unbind",
			 bdf);
		ret = edu_sysfs_write(path, bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), EDU_SYSFS "/%.31s/driver_override", bdf);
	ret = edu_sysfs_write(path, "vfio-pci");
	if (ret)
		return ret;
	return edu_sysfs_write("/sys/bus/pci/drivers_probe", bdf);
}

/* Open /dev/vfio/devices/vfioN of a device bound to vfio-pci. */
static inline int edu_open_cdev(const char *bdf)
{
	struct dirent *ent;
	char path[256];
	int fd = -ENOENT;
	DIR *dir;

	snprintf(path, sizeof(path), EDU_SYSFS "/%.31s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((ent = readdir(dir))) {
		if (strncmp(ent->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/devices/%.63s",
			 ent->d_name);
		fd = open(path, O_RDWR);
		if (fd < 0)
			fd = -errno;
		break;
	}
	closedir(dir);
	return fd;
}

static inline int edu_bind_iommufd(struct edu_dev *edu, int iommufd)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};

	if (ioctl(edu->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	edu->dev_id = bind.out_devid;
	return 0;
}

/* Attach to an IOAS or HWPT; *pt_id is updated to the attached HWPT. */
static inline int edu_attach(struct edu_dev *edu, uint32_t *pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = *pt_id,
	};

	if (ioctl(edu->devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	*pt_id = attach.pt_id;
	return 0;
}

static inline int edu_detach(struct edu_dev *edu)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};

	if (ioctl(edu->devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach))
		return -errno;
	return 0;
}

static inline int edu_region(struct edu_dev *edu, unsigned int index,
			     struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	if (ioctl(edu->devfd, VFIO_DEVICE_GET_REGION_INFO, info))
		return -errno;
	return 0;
}

/* Map BAR0, check the ID register and enable bus mastering. */
static inline int edu_setup_device(struct edu_dev *edu)
{
	struct vfio_region_info info;
	uint16_t cmd;
	void *bar;
	int ret;

	ret = edu_region(edu, VFIO_PCI_CONFIG_REGION_INDEX, &info);
	if (ret)
		return ret;
	edu->cfg_offset = info.offset;

	ret = edu_region(edu, VFIO_PCI_BAR0_REGION_INDEX, &info);
	if (ret)
		return ret;
	if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return -EINVAL;
	bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   edu->devfd, info.offset);
	if (bar == MAP_FAILED)
		return -errno;
	edu->bar0 = bar;
	edu->bar0_size = info.size;
	if (edu_read32(edu, EDU_REG_ID) != EDU_ID_VALUE)
		return -ENODEV;

	if (pread(edu->devfd, &cmd, sizeof(cmd),
		  edu->cfg_offset + PCI_COMMAND) != sizeof(cmd))
		return -EIO;
	cmd |= PCI_COMMAND_MASTER;
	if (pwrite(edu->devfd, &cmd, sizeof(cmd),
		   edu->cfg_offset + PCI_COMMAND) != sizeof(cmd))
		return -EIO;
	return 0;
}

/*
 * Open the index'th edu device through vfio-pci and bind it to iommufd.
 * -ENODEV: the machine has no such device.
 */
static inline int edu_open(struct edu_dev *edu, unsigned int index,
			   int iommufd)
{
	int ret;

	memset(edu, 0, sizeof(*edu));
	edu->devfd = -1;
	ret = edu_find(index, edu->bdf, sizeof(edu->bdf));
	if (ret)
		return ret;
	ret = edu_bind_vfio_pci(edu->bdf);
	if (ret)
		return ret;
	edu->devfd = edu_open_cdev(edu->bdf);
	if (edu->devfd < 0)
		return edu->devfd;
	ret = edu_bind_iommufd(edu, iommufd);
	if (ret)
		return ret;
	return edu_setup_device(edu);
}

static inline void edu_close(struct edu_dev *edu)
{
	if (edu->bar0)
		munmap((void *)edu->bar0, edu->bar0_size);
	if (edu->devfd >= 0)
		close(edu->devfd);
	edu->bar0 = NULL;
	edu->devfd = -1;
}

static inline long edu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run one DMA and wait until the engine is idle again.  to_ram: from the
 * device's buffer to @iova, else from @iova into the device's buffer.
 * -ETIMEDOUT if the engine is still busy after timeout_ms.
 */
static inline int edu_dma(struct edu_dev *edu, uint64_t iova, uint32_t len,
			  bool to_ram, bool irq, int timeout_ms)
{
	long deadline = edu_now_ms() + timeout_ms;
	uint32_t cmd = EDU_DMA_START;

	if (len > EDU_DMA_BUF_SIZE || (iova & ~EDU_DMA_MASK))
		return -EINVAL;
	if (edu_read32(edu, EDU_REG_DMA_CMD) & EDU_DMA_START)
		return -EBUSY;
	edu_write64(edu, EDU_REG_DMA_SRC, to_ram ? EDU_DMA_BUF : iova);
	edu_write64(edu, EDU_REG_DMA_DST, to_ram ? iova : EDU_DMA_BUF);
	edu_write64(edu, EDU_REG_DMA_COUNT, len);
	if (to_ram)
		cmd |= EDU_DMA_TO_RAM;
	if (irq)
		cmd |= EDU_DMA_IRQ;
	edu_dma_barrier();
	edu_write32(edu, EDU_REG_DMA_CMD, cmd);
	while (edu_read32(edu, EDU_REG_DMA_CMD) & EDU_DMA_START) {
		if (edu_now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	edu_dma_barrier();
	return 0;
}

/* Route the device's MSI to an eventfd (efd < 0: disable MSI). */
static inline int edu_set_msi(struct edu_dev *edu, int efd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} req = {
		.set = {
			.argsz = sizeof(req),
			.index = VFIO_PCI_MSI_IRQ_INDEX,
			.start = 0,
		},
		.fd = efd,
	};

	if (efd >= 0) {
		req.set.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				VFIO_IRQ_SET_ACTION_TRIGGER;
		req.set.count = 1;
	} else {
		req.set.argsz = sizeof(req.set);
		req.set.flags = VFIO_IRQ_SET_DATA_NONE |
				VFIO_IRQ_SET_ACTION_TRIGGER;
		req.set.count = 0;
	}
	if (ioctl(edu->devfd, VFIO_DEVICE_SET_IRQS, &req))
		return -errno;
	return 0;
}

/* Wait for an eventfd: its count, 0 on timeout, -errno on error. */
static inline long edu_wait_eventfd(int efd, int timeout_ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t count;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	if (read(efd, &count, sizeof(count)) != sizeof(count))
		return -errno;
	return count;
}

/*
 * Read the first 256 bytes of a PCI device's config space from sysfs (the
 * real one: vfio-pci's config region virtualizes parts of it) and find
 * capability @id.  Returns its offset, or -errno (-ENOENT: not present).
 */
static inline int pci_sysfs_find_cap(const char *bdf, uint8_t id,
				     uint8_t cfg[256])
{
	unsigned int pos, ttl = 48;
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EDU_SYSFS "/%.31s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, 256, 0);
	close(fd);
	if (n != 256)
		return -EIO;
	if (!(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return -ENOENT;
	for (pos = cfg[PCI_CAPABILITY_LIST] & ~3u; pos && ttl--;
	     pos = cfg[pos + PCI_CAP_LIST_NEXT] & ~3u) {
		/* room for the longest capability read here (64-bit MSI) */
		if (pos > 256 - PCI_MSI_DATA_64 - 2)
			return -EIO;
		if (cfg[pos + PCI_CAP_LIST_ID] == id)
			return pos;
	}
	return -ENOENT;
}

/*
 * The MSI address the kernel programmed into the device.  On an IOMMU that
 * needs doorbell mapping this is the doorbell's IOVA.
 */
static inline int edu_msi_address(const char *bdf, uint64_t *addr)
{
	uint32_t lo, hi = 0;
	uint8_t cfg[256];
	uint16_t flags;
	int pos;

	pos = pci_sysfs_find_cap(bdf, PCI_CAP_ID_MSI, cfg);
	if (pos < 0)
		return pos;
	memcpy(&flags, cfg + pos + PCI_MSI_FLAGS, sizeof(flags));
	if (!(flags & PCI_MSI_FLAGS_ENABLE))
		return -ENODATA;
	memcpy(&lo, cfg + pos + PCI_MSI_ADDRESS_LO, sizeof(lo));
	if (flags & PCI_MSI_FLAGS_64BIT)
		memcpy(&hi, cfg + pos + PCI_MSI_ADDRESS_HI, sizeof(hi));
	*addr = (uint64_t)hi << 32 | lo;
	return 0;
}

/*
 * The kernel log from now on: open /dev/kmsg positioned after the last
 * record.  Returns the fd or -errno.
 */
static inline int kmsg_open_tail(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * Wait up to timeout_ms for a kernel log record, after the position of
 * @fd, whose text contains @needle.  1 if found, 0 if not, -errno.
 */
static inline int kmsg_find(int fd, const char *needle, int timeout_ms)
{
	long deadline = edu_now_ms() + timeout_ms;
	char rec[1024];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n > 0) {
			char *text = strchr(rec, ';');

			rec[n] = '\0';
			if (text && strstr(text, needle))
				return 1;
			continue;
		}
		if (n < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (edu_now_ms() > deadline)
			return 0;
		usleep(10000);
	}
}

/*
 * Has the SMMU reported a translation fault at @iova since @fd was opened?
 * arm-smmu-v3 logs an unhandled event with its raw words; the third is the
 * input address.
 */
static inline int smmu_fault_logged(int fd, uint64_t iova, int timeout_ms)
{
	char needle[32];

	snprintf(needle, sizeof(needle), "0x%016llx", (unsigned long long)iova);
	return kmsg_find(fd, needle, timeout_ms);
}

/* Map a user buffer into an IOAS at a fixed IOVA. */
static inline int edu_ioas_map(int iommufd, uint32_t ioas_id, void *buf,
			       size_t len, uint64_t iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buf,
		.length = len,
		.iova = iova,
	};

	if (ioctl(iommufd, IOMMU_IOAS_MAP, &map))
		return -errno;
	return 0;
}

static inline int edu_ioas_unmap(int iommufd, uint32_t ioas_id,
				 uint64_t iova, size_t len)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = len,
	};

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap))
		return -errno;
	return 0;
}

static inline int edu_ioas_alloc(int iommufd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return -errno;
	*ioas_id = alloc.out_ioas_id;
	return 0;
}

/*
 * Read an IOAS's allowed IOVA ranges; returns how many there are (which
 * may be more than max) or -errno.
 */
static inline int edu_ioas_ranges(int iommufd, uint32_t ioas_id,
				  struct iommu_iova_range *ranges,
				  unsigned int max)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = max,
		.allowed_iovas = (uintptr_t)ranges,
	};

	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &cmd) &&
	    errno != EMSGSIZE)
		return -errno;
	return cmd.num_iovas;
}

#endif /* __SELFTEST_IOMMU_VFIO_EDU_H */
