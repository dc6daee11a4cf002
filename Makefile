# SPDX-License-Identifier: GPL-2.0
#
# The project's driver, not the kernel's Makefile (that one comes from the
# base).  It assembles base + new files + patch queue into build/linux and
# builds, boots and tests the result.  See README.md.
#
#   make           tree + arm64 debug kernel + selftests + initramfs
#   make test      all of the above, make check, then boot and run the tests
#   make run       build, boot and run the VMM demo
#   make tree      assemble build/linux only
#   make check     checkpatch --strict on the queue and on every new file,
#                  kernel-doc; sparse, W=1 and kernel-doc of the touched
#                  code against the base (no new warning)
#   make matrix    other configurations: arm32 LPAE W=1, arm64 without
#                  IOMMU_DMA, arm64 modules, x86_64 (T="..." for some)
#   make series    the series as git am takes it: build/series/ (cover
#                  letter + numbered patches) and build/series.mbox,
#                  checked by applying it to a fresh copy of the base
#   make export    turn commits made in build/linux back into the queue
#   make bisect    build the kernel at every step of the series
#   make realvmm   the real-VMM boot of make test alone: Debian's QEMU 11
#                  as the VMM of an L2 guest inside the test guest
#   make realvmm-shell  that guest with a shell on the terminal
#   make bench     the series against the unpatched base: PAIRS pairs
#                  of boots (default 3) running harness/bench.c, ratios
#                  per figure (harness/bench.sh); measures, judges nothing
#   make mainline  mainline's own iommufd selftests (newest Debian
#                  linux-source-7.*, built against its uAPI headers) on the
#                  series kernel, judged by harness/expected.mainline
#
# Variables: BASE=/path/to/linux-6.12.y (default: Debian linux-source-6.12),
# BUILD=dir (default: build), JOBS=n, TIMEOUT=seconds for the guest,
# KASAN=1 (a KASAN kernel too; about 1.7 times the test time), CHECK=0
# (make test without make check), REALVMM=0 (make test without the
# real-VMM boot, and every target's kernel without the options only that
# boot uses: harness/realvmm.config), PAIRS=n (make bench).

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
override BUILD := $(abspath $(BUILD))
export BUILD BASE

CROSS_COMPILE ?= aarch64-linux-gnu-
JOBS ?= $(shell nproc)
# Looked up when used, after 'deps' may have installed ccache
CCACHE = $(shell command -v ccache 2>/dev/null)
KCC = $(if $(CCACHE),ccache )$(CROSS_COMPILE)gcc
export CROSS_COMPILE
# ccache hits across clones: paths under $(BUILD) are hashed relative
export CCACHE_BASEDIR := $(BUILD)

TREE := $(BUILD)/linux
# KASAN=1: a KASAN kernel, in its own build directory.  REALVMM=0 (no
# real-VMM boot) also leaves the options only that boot uses out of the
# kernel (harness/realvmm.config: KVM, UEFI, ACPI), a third of its objects.
REALVMM ?= 1
KOBJ := $(BUILD)/kernel$(if $(filter 1,$(KASAN)),-kasan)
KCONFIG_EXTRA := $(if $(filter 0,$(REALVMM)),,$(TOP)/harness/realvmm.config) \
	$(if $(filter 1,$(KASAN)),$(TOP)/harness/kasan.config)
export KOBJ KCONFIG_EXTRA
STOBJ := $(BUILD)/selftests
IMAGE := $(KOBJ)/arch/arm64/boot/Image
INITRD := $(BUILD)/initramfs.cpio.gz
KMAKE = $(MAKE) -s -C $(TREE) O=$(KOBJ) ARCH=arm64 \
	CROSS_COMPILE=$(CROSS_COMPILE) CC="$(KCC)" -j$(JOBS)

# kselftest programs that go into the guest, in the order they run
SELFTESTS := iommufd iommufd_fail_nth iommufd_vfio_edu iommufd_sw_msi_edu \
	iommufd_nested_edu iommu_dma_msi iommufd_fuzz
# make test fuzzes with a fixed seed (20000 calls per variant), so that a
# run can be repeated; make fuzz picks one from the clock unless SEED=...
FUZZ_SEED ?= 20261121
FUZZ_CALLS ?= 20000
N ?= 20000
T ?=
SEED ?=

.PHONY: all deps tree config kernel selftests initramfs test run check \
	export bisect fuzz matrix mainline realvmm realvmm-initramfs \
	realvmm-shell series bench clean \
	distclean
.NOTPARALLEL:

all: kernel selftests initramfs

deps:
	@$(TOP)/harness/setup.sh build base vm

tree: deps
	@$(TOP)/harness/mktree.sh

config: tree
	@$(TOP)/harness/config.sh

kernel: config
	@echo "kernel: building $(IMAGE)$(if $(CCACHE), (ccache))"
	@$(KMAKE) Image
	@$(KMAKE) headers_install >/dev/null

selftests: kernel
	@echo "selftests: building $(SELFTESTS) (static, arm64)"
	@mkdir -p $(STOBJ)
	@$(MAKE) -s -C $(TREE)/tools/testing/selftests/iommu ARCH=arm64 \
		CROSS_COMPILE=$(CROSS_COMPILE) OUTPUT=$(STOBJ) \
		KHDR_INCLUDES="-isystem $(KOBJ)/usr/include" \
		USERLDFLAGS=-static -j$(JOBS) \
		$(addprefix $(STOBJ)/,$(SELFTESTS))

initramfs: selftests
	@$(TOP)/harness/initramfs.sh $(INITRD) $(addprefix $(STOBJ)/,$(SELFTESTS))

# CHECK=0: leave make check out (CI runs it once, in its first make test);
# REALVMM=0: leave the real-VMM boot out, and its kernel options (CI's
# KASAN run, for time)
CHECK ?= 1
test: all $(if $(filter 0,$(CHECK)),,check) \
		$(if $(filter 0,$(REALVMM)),,realvmm-initramfs)
	@FUZZ_SEED=$(FUZZ_SEED) FUZZ_CALLS=$(FUZZ_CALLS) \
		REALVMM_INITRD=$(if $(filter 0,$(REALVMM)),,$(RVINITRD)) \
		$(TOP)/harness/vm.sh test $(IMAGE) $(INITRD)

# A longer fuzzing run: make fuzz N=<calls per variant> [SEED=<seed>]
fuzz: all
	@FUZZ_CALLS=$(N) FUZZ_SEED=$(SEED) TIMEOUT=$(TIMEOUT) \
		$(TOP)/harness/vm.sh fuzz $(IMAGE) $(INITRD)

run: all
	@$(TOP)/harness/vm.sh run $(IMAGE) $(INITRD)

MLOBJ := $(BUILD)/mainline
mainline: kernel
	@$(TOP)/harness/mainline.sh build
	@INITRAMFS_ROOT=$(MLOBJ)/initramfs $(TOP)/harness/initramfs.sh \
		$(MLOBJ)/initramfs.cpio.gz $(MLOBJ)/bin/iommufd \
		$(MLOBJ)/bin/iommufd_fail_nth
	@$(TOP)/harness/vm.sh mainline $(IMAGE) $(MLOBJ)/initramfs.cpio.gz

# The real-VMM suite, the third boot of make test (make realvmm runs it
# alone): QEMU 11 as the VMM inside the test guest, on the test kernel,
# which harness/realvmm.config gives KVM, VFIO no-IOMMU, UEFI and ACPI for
# it (so not with REALVMM=0).  Debian's arm64 QEMU and its libraries are
# fetched once into build/realvmm.
RVINITRD := $(BUILD)/realvmm/l1.cpio.gz
realvmm-initramfs: initramfs
	@if [ "$(REALVMM)" = 0 ]; then \
		echo "realvmm: REALVMM=0 builds a kernel without KVM and UEFI" >&2; \
		exit 1; fi
	@$(TOP)/harness/realvmm.sh fetch
	@$(TOP)/harness/realvmm.sh initramfs $(RVINITRD) $(IMAGE) \
		$(BUILD)/initramfs

PAIRS ?= 3
bench: all
	@PAIRS=$(PAIRS) $(TOP)/harness/bench.sh $(IMAGE) $(INITRD)

series: tree
	@$(TOP)/harness/series.sh write
	@$(TOP)/harness/series.sh verify

realvmm: realvmm-initramfs
	@$(TOP)/harness/vm.sh realvmm $(IMAGE) $(RVINITRD)

# The same L1 with a shell on the terminal: run a VMM of your own
realvmm-shell: realvmm-initramfs
	@$(TOP)/harness/vm.sh shell $(IMAGE) $(RVINITRD)

check: config
	@$(TOP)/harness/check.sh
	@$(TOP)/harness/static.sh

# Builds the series in other configurations; T="name..." picks targets
matrix: tree
	@$(TOP)/harness/matrix.sh $(T)

export:
	@$(TOP)/harness/export.sh

bisect: kernel
	@$(TOP)/harness/bisect.sh

clean:
	rm -rf $(BUILD)/kernel* $(STOBJ) $(BUILD)/initramfs* $(BUILD)/vm $(BUILD)/bisect
	-git -C $(TREE) worktree prune 2>/dev/null

distclean:
	rm -rf $(BUILD)
