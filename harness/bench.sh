#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: what the series costs and gains, as ratios against the
# unpatched base, from one run.
#
#   1. The base kernel: the assembled tree's "base" tag (the worktree
#      $BUILD/base-src, shared with make check's static.sh) with the test
#      kernel's fragments; options the base does not have drop out and are
#      listed.  Built in
#      $BUILD/kernel-base with ccache, so only its first build costs.
#   2. PAIRS pairs of boots (default 3), base then series, then series
#      then base, and so on, in the test bed's machine; init's bench mode runs /bin/bench
#      (harness/bench.c, the same binary on both kernels) once per boot.
#      Then one more series boot where QEMU logs the SMMU commands and the
#      program only counts them (nothing is timed there).
#   3. harness/bench.py turns the figures into ratios base/series of the
#      time per operation (above 1: the series is faster), one per pair,
#      with min, median and max; series-only figures (nesting) as ratios
#      between figures of the same boot; text sizes of vmlinux and of the
#      objects the series touches.  The table goes to the terminal and
#      $BUILD/bench/results.tsv; each boot's logs stay in $BUILD/bench/.
#
# Usage: harness/bench.sh SERIES_IMAGE INITRD
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
work=$build/bench
pairs=${PAIRS:-3}
series_image=$1 initrd=$2
kobj=${KOBJ:-$build/kernel}
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
ccache=$(command -v ccache || true)
kbase=$build/kernel-base
base_image=$kbase/arch/arm64/boot/Image

die() { echo "bench: $*" >&2; exit 1; }
[ -f "$series_image" ] || die "no series kernel $series_image"
[ -f "$initrd" ] || die "no initramfs $initrd"
case $pairs in ''|*[!0-9]*|0) die "PAIRS must be a positive number" ;; esac

mkdir -p "$work"
"$top/harness/base-worktree.sh" "$build/base-src"
KSRC=$build/base-src KOBJ=$kbase "$top/harness/config.sh"
echo "bench: building the base kernel $base_image${ccache:+ (ccache)}"
make -s -C "$build/base-src" O="$kbase" ARCH=arm64 CROSS_COMPILE="$cross" \
	CC="${ccache:+ccache }${cross}gcc" -j"${JOBS:-$(nproc)}" Image

start=$(date +%s)
for i in $(seq 1 "$pairs"); do
	# Which kernel boots first alternates too (ABBA), so that a drift of
	# the host within a pair does not favour one side
	order="base series"
	[ $((i % 2)) = 0 ] && order="series base"
	for side in $order; do
		image=$base_image
		[ $side = series ] && image=$series_image
		echo "bench: pair $i/$pairs, $side kernel"
		BENCH_DIR=$work/$i-$side "$top/harness/vm.sh" bench "$image" \
			"$initrd"
	done
done
echo "bench: $((2 * pairs)) boots in $(( $(date +%s) - start ))s"
echo "bench: counting boot (series kernel, QEMU logs the SMMU commands)"
BENCH_TRACE=1 BENCH_DIR=$work/cmds "$top/harness/vm.sh" bench \
	"$series_image" "$initrd"

python3 "$top/harness/bench.py" --dir "$work" --pairs "$pairs" \
	--size "${cross}size" --base-obj "$kbase" \
	--series-obj "$kobj" \
	--objects "$(git -C "$tree" diff --name-only base HEAD -- '*.c' |
		sed -n 's/[.]c$/.o/p' | tr '\n' ' ')" \
	--machine "$(nproc) cores, $(uname -m), $(qemu-system-aarch64 --version | head -n 1)"
