/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the real-VMM suite's L1 runner (realvmm-l1.c) and L2 init
 * (realvmm-l2.c) share.
 */
#ifndef __HARNESS_REALVMM_H
#define __HARNESS_REALVMM_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>

#include "vfio_edu.h"

#define VIRTIO_VENDOR	0x1af4
#define VIRTIO_RNG	0x1044

/* The first vendor:device PCI function's address in @bdf, or -ENODEV */
static inline int find_pci(unsigned long vendor, unsigned long device,
			   char *bdf, size_t len)
{
	struct dirent *de;
	DIR *dir;
	int ret = -ENODEV;

	dir = opendir(EDU_SYSFS);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		unsigned long v = 0, d = 0;

		if (de->d_name[0] == '.')
			continue;
		edu_read_hex(de->d_name, "vendor", &v);
		edu_read_hex(de->d_name, "device", &d);
		if (v == vendor && d == device) {
			snprintf(bdf, len, "%.31s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

#endif
