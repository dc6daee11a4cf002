#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compile matrix: build the directories the series touches in other
# configurations than the test bed's, with W=1, and fail on any warning.
# So far: 32-bit ARM with LPAE (phys_addr_t wider than unsigned long),
# IOMMUFD, its selftest driver, msi-iommu and arm-smmu.  Each target has
# its own build directory under $BUILD/matrix-<name>.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
ccache=$(command -v ccache || true)

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

arm32_lpae
