#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Pack the guest's initramfs: harness/init.c as /init, harness/plan as
# /plan (what runs), the kselftest programs under /tests, the VMM demo as
# /bin/vmm-demo, make bench's program as /bin/bench.
# Everything is static; no other userland is needed.
#
# Usage: harness/initramfs.sh OUT.cpio.gz SELFTEST...

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
out=$1; shift
root=${INITRAMFS_ROOT:-$build/initramfs}
hdr=${KOBJ:-$build/kernel}/usr/include
cflags="-static -O2 -Wall -Wextra -Werror -Wno-unused-parameter -isystem $hdr"

cc() { local o=$1; shift; "${cross}gcc" $cflags -o "$o" "$@"; }

rm -rf "$root"
mkdir -p "$root"/{bin,tests,proc,sys,dev,tmp}
cc "$root/init" "$top/harness/init.c"
cp "$top/harness/plan" "$top"/harness/plan.* "$root/"
cc "$root/bin/vmm-demo" -I "$build/linux/tools/testing/selftests/iommu" \
	"$top/harness/vmm-demo.c"
# make bench's guest program (init's bench mode), built here so that every
# build compiles it
cc "$root/bin/bench" -I "$build/linux/tools/testing/selftests/iommu" \
	-I "$build/linux" "$top/harness/bench.c"
for t in "$@"; do
	[ -x "$t" ] || { echo "initramfs: $t was not built" >&2; exit 1; }
	cp "$t" "$root/tests/"
done
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($(du -k "$out" | cut -f1) KiB: init, vmm-demo, bench, $(ls "$root/tests" | tr '\n' ' '))"
