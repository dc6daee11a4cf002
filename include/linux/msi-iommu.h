/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MSI doorbells in IOMMU domains.
 *
 * On systems where an MSI is a DMA write to an interrupt controller
 * doorbell that the IOMMU translates (the GICv3 ITS behind an SMMU), each
 * doorbell page a device writes to must be mapped in the device's domain.
 * The msi-iommu core keeps, per domain, where those mappings may go (the
 * MSI geometry) and which doorbells are mapped there, with a reference per
 * user, inside a bounded window.
 */
#ifndef __LINUX_MSI_IOMMU_H
#define __LINUX_MSI_IOMMU_H

#include <linux/idr.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/types.h>

struct device;
struct iommu_domain;
struct iommu_resv_region;
struct list_head;
struct msi_msg;

/**
 * struct msi_iommu_geometry - where a domain's MSI doorbells are mapped
 * @start: first IOVA of the software MSI window
 * @size: size of the window in bytes; 0 when there is no window
 * @granule: size and alignment of one doorbell mapping, a power of two
 * @sw_mapped: doorbells must be mapped in the domain (software-managed
 *	MSI).  False when MSIs reach the interrupt controller without a
 *	mapping (hardware MSI window, interrupt remapping): such a domain
 *	needs no window.
 * @movable: the domain's owner may move the window with
 *	msi_iommu_set_window(), as long as no doorbell is mapped
 */
struct msi_iommu_geometry {
	dma_addr_t start;
	dma_addr_t size;
	size_t granule;
	bool sw_mapped;
	bool movable;
};

/**
 * struct msi_iommu - the MSI doorbells of one IOMMU domain
 * @lock: serializes changes to everything below
 * @geo: the domain's MSI geometry
 * @doorbells: mapped doorbells (struct msi_iommu_doorbell), by physical
 *	address
 * @slots: which granule-sized slots of the window are in use
 * @nr_slots: how many slots the window has
 * @nr_doorbells: how many doorbells are mapped
 * @users: the users bound with msi_iommu_bind() or msi_iommu_bind_at()
 *	(struct msi_iommu_user), by user
 *
 * Embedded in the owner of the domain's IOVA space (dma-iommu's cookie);
 * set up by msi_iommu_init() and torn down by msi_iommu_destroy().
 */
struct msi_iommu {
	struct mutex lock;	/* protects all of the below */
	struct msi_iommu_geometry geo;
	struct rb_root doorbells;
	struct ida slots;
	unsigned int nr_slots;
	unsigned int nr_doorbells;
	struct rb_root users;
};

struct iommu_resv_region *
msi_iommu_alloc_sw_msi_region(dma_addr_t start, size_t length, int prot,
			      bool movable, gfp_t gfp);
void msi_iommu_geometry_from_regions(struct list_head *regions,
				     unsigned long pgsize_bitmap,
				     struct msi_iommu_geometry *geo);
void msi_iommu_dev_geometry(struct device *dev, struct iommu_domain *domain,
			    struct msi_iommu_geometry *geo);

void msi_iommu_init(struct msi_iommu *mi,
		    const struct msi_iommu_geometry *geo);
void msi_iommu_destroy(struct msi_iommu *mi, struct iommu_domain *domain);
void msi_iommu_get_geometry(struct msi_iommu *mi,
			    struct msi_iommu_geometry *geo);
int msi_iommu_set_window(struct msi_iommu *mi, struct iommu_domain *domain,
			 dma_addr_t start, dma_addr_t size);
int msi_iommu_get_doorbell(struct msi_iommu *mi, struct iommu_domain *domain,
			   phys_addr_t phys, int prot, dma_addr_t *iova);
void msi_iommu_put_doorbell(struct msi_iommu *mi,
			    struct iommu_domain *domain, phys_addr_t phys);
int msi_iommu_bind(struct msi_iommu *mi, struct iommu_domain *domain,
		   const void *owner, const void *user, phys_addr_t phys,
		   int prot, dma_addr_t *iova);
int msi_iommu_bind_at(struct msi_iommu *mi, struct iommu_domain *domain,
		      const void *owner, const void *user, phys_addr_t phys,
		      int prot, dma_addr_t iova);
void msi_iommu_commit(struct msi_iommu *mi, const void *owner);
unsigned int msi_iommu_cancel(struct msi_iommu *mi,
			      struct iommu_domain *domain, const void *owner);
unsigned int msi_iommu_unbind_owner(struct msi_iommu *mi,
				    struct iommu_domain *domain,
				    const void *owner);
int msi_iommu_lookup(struct msi_iommu *mi, const void *user,
		     phys_addr_t *phys, dma_addr_t *iova);
bool msi_iommu_unbind(struct msi_iommu *mi, struct iommu_domain *domain,
		      const void *user);
unsigned int msi_iommu_nr_slots(struct msi_iommu *mi);
bool msi_iommu_window_fits(struct msi_iommu *mi, dma_addr_t first,
			   dma_addr_t last);
unsigned int msi_iommu_nr_doorbells(struct msi_iommu *mi);
void msi_iommu_translate_msg(struct msi_msg *msg, dma_addr_t iova,
			     unsigned int shift);

#endif /* __LINUX_MSI_IOMMU_H */
