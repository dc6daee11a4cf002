#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compile matrix: the series in other configurations than the test bed's.
#   arm32-lpae     drivers/iommu with W=1 on 32-bit ARM with LPAE
#                  (phys_addr_t wider than unsigned long): IOMMUFD, its
#                  selftest driver, msi-iommu, arm-smmu; any warning fails
#   arm64-nodma    a whole arm64 kernel without IOMMU support (so without
#                  IOMMU_DMA) but with PCI MSIs: the hooks the series puts
#                  in the MSI core and the headers' stubs compile and link
#   arm64-modules  a whole arm64 kernel with IOMMUFD, its selftest driver,
#                  arm-smmu-v3 (with iommufd nesting), arm-smmu, VFIO and
#                  the KUnit suites as modules: modpost checks every symbol
#                  they use is exported
#   x86_64         a whole x86_64 kernel with IOMMUFD, its selftest driver,
#                  VFIO, the Intel and AMD IOMMU drivers
# The whole-kernel targets start from allnoconfig, so they link quickly;
# a warning in a file the series touches fails them.  Each target has its
# own build directory under $BUILD/matrix-<name>.  Arguments name the
# targets to run (default: all of them).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
ccache=$(command -v ccache || true)
jobs=${JOBS:-$(nproc)}

arm32_lpae() {
	local out=$build/matrix-arm32-lpae
	local k=(make -s -C "$tree" O="$out" ARCH=arm
		 CROSS_COMPILE=arm-linux-gnueabihf-
		 CC="${ccache:+ccache }arm-linux-gnueabihf-gcc" -j"$(nproc)")

	command -v arm-linux-gnueabihf-gcc >/dev/null ||
		apt-get install -y -q gcc-arm-linux-gnueabihf >/dev/null
	mkdir -p "$out"
	"${k[@]}" multi_v7_defconfig
	"$tree/scripts/config" --file "$out/.config" -e ARM_LPAE \
		-e IOMMU_SUPPORT -e IOMMUFD -e DEBUG_KERNEL -e FAULT_INJECTION \
		-e RUNTIME_TESTING_MENU -e IOMMUFD_TEST -e ARM_SMMU -e MSI_IOMMU
	"${k[@]}" olddefconfig
	for sym in ARM_LPAE PHYS_ADDR_T_64BIT IOMMUFD IOMMUFD_TEST ARM_SMMU \
		   MSI_IOMMU; do
		grep -q "^CONFIG_$sym=y" "$out/.config" ||
			{ echo "matrix: arm32-lpae: CONFIG_$sym is not set" >&2
			  exit 1; }
	done
	"${k[@]}" W=1 drivers/iommu/ 2>&1 | tee "$out/w1.log"
	if [ -s "$out/w1.log" ]; then
		echo "matrix: arm32-lpae: warnings, see $out/w1.log" >&2
		exit 1
	fi
	echo "matrix: arm32-lpae: drivers/iommu builds with W=1, no warning"
}

# Files of the series, as they appear in build messages
touched_re() {
	git -C "$tree" diff --name-only base HEAD -- drivers include kernel arch |
		sed 's/[.]/[.]/g' | paste -sd'|'
}

# whole <name> <arch> <cross> <fragment> <must be y|m|n symbols...>
whole() {
	local name=$1 arch=$2 cross=$3 frag=$4
	shift 4
	local out=$build/matrix-$name sym want re what
	local cc=${cross}gcc
	local k=(make -s -C "$tree" O="$out" ARCH="$arch"
		 CROSS_COMPILE="$cross" CC="${ccache:+ccache }$cc" -j"$jobs")

	command -v "$cc" >/dev/null || { echo "matrix: $name: no $cc" >&2; exit 1; }
	mkdir -p "$out"
	printf '%s\n' $frag >"$out/fragment"
	KCONFIG_ALLCONFIG="$out/fragment" "${k[@]}" allnoconfig >/dev/null
	for sym in "$@"; do
		want=${sym#*=}
		sym=${sym%=*}
		if [ "$want" = n ]; then
			! grep -q "^CONFIG_$sym=" "$out/.config" && continue
		else
			grep -q "^CONFIG_$sym=$want" "$out/.config" && continue
		fi
		echo "matrix: $name: CONFIG_$sym is not $want" >&2
		exit 1
	done
	if ! "${k[@]}" all >"$out/build.log" 2>&1; then
		tail -30 "$out/build.log"
		echo "matrix: $name: the build failed, see $out/build.log" >&2
		exit 1
	fi
	re=$(touched_re)
	if grep -E "($re):[0-9]+(:[0-9]+)?: (warning|error)" "$out/build.log"; then
		echo "matrix: $name: warnings in the series' files" >&2
		exit 1
	fi
	what=vmlinux
	grep -q '^CONFIG_MODULES=y' "$out/.config" && what="vmlinux and modules"
	echo "matrix: $name: $what built and linked," \
		"no warning in the series' files"
}

base_frag="CONFIG_PCI=y CONFIG_PCI_MSI=y CONFIG_BINFMT_ELF=y"
test_frag="CONFIG_DEBUG_KERNEL=y CONFIG_FAULT_INJECTION=y
	CONFIG_RUNTIME_TESTING_MENU=y CONFIG_IOMMUFD_TEST=y"

arm64_nodma() {
	whole arm64-nodma arm64 aarch64-linux-gnu- \
		"$base_frag CONFIG_PCI_HOST_GENERIC=y CONFIG_IOMMU_SUPPORT=n" \
		PCI_MSI=y IOMMU_SUPPORT=n IOMMU_DMA=n MSI_IOMMU=n
}

arm64_modules() {
	whole arm64-modules arm64 aarch64-linux-gnu- \
		"$base_frag CONFIG_PCI_HOST_GENERIC=y CONFIG_MODULES=y
		 CONFIG_MODULE_UNLOAD=y CONFIG_IOMMU_SUPPORT=y
		 CONFIG_ARM_SMMU_V3=m CONFIG_ARM_SMMU_V3_IOMMUFD=y
		 CONFIG_ARM_SMMU_V3_SVA=y
		 CONFIG_ARM_SMMU=m CONFIG_IOMMUFD=m CONFIG_VFIO=m
		 CONFIG_VFIO_PCI=m CONFIG_KUNIT=m CONFIG_MSI_IOMMU_KUNIT_TEST=m
		 CONFIG_ARM_SMMU_V3_KUNIT_TEST=m $test_frag" \
		ARM_SMMU_V3=m ARM_SMMU_V3_IOMMUFD=y ARM_SMMU=m IOMMUFD=m \
		IOMMUFD_TEST=y IOMMU_DMA=y MSI_IOMMU=y VFIO_PCI=m \
		MSI_IOMMU_KUNIT_TEST=m ARM_SMMU_V3_KUNIT_TEST=m
}

x86_64() {
	whole x86_64 x86_64 x86_64-linux-gnu- \
		"$base_frag CONFIG_64BIT=y CONFIG_ACPI=y CONFIG_IOMMU_SUPPORT=y
		 CONFIG_INTEL_IOMMU=y CONFIG_AMD_IOMMU=y CONFIG_IRQ_REMAP=y
		 CONFIG_IOMMUFD=y CONFIG_VFIO=y CONFIG_VFIO_PCI=y $test_frag" \
		INTEL_IOMMU=y AMD_IOMMU=y IOMMUFD=y IOMMUFD_TEST=y IOMMU_DMA=y \
		MSI_IOMMU=y VFIO_PCI=y
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(arm32-lpae arm64-nodma arm64-modules x86_64)
for t in "${targets[@]}"; do
	case $t in
	arm32-lpae) arm32_lpae ;;
	arm64-nodma) arm64_nodma ;;
	arm64-modules) arm64_modules ;;
	x86_64) x86_64 ;;
	*) echo "matrix: unknown target $t" >&2; exit 2 ;;
	esac
done
