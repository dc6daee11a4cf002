#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks that only mean something against the base: sparse (C=2)
# and a W=1 build of the directories the series touches, and kernel-doc
# -Wall on the headers it touches, each run on the base and on the series
# with the test kernel's configuration.  A warning the base does not have
# fails; warnings the base already has are counted and left alone.
#
# Warnings are compared without line numbers, as a multiset per file, so
# code the series moves does not count as new.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
work=$build/static
config=${KOBJ:-$build/kernel}/.config
jobs=${JOBS:-$(nproc)}
ccache=$(command -v ccache || true)
dirs=(drivers/iommu/ kernel/irq/)

die() { echo "static: $*" >&2; exit 1; }
[ -f "$config" ] || die "no $config: run 'make config' first"
command -v sparse >/dev/null || die "sparse is not installed (harness/setup.sh build)"
mkdir -p "$work"

# The base as a worktree of the assembled tree, at its "base" tag (shared
# with make bench)
src_base=$build/base-src
"$top/harness/base-worktree.sh" "$src_base"

# Keep "file: message" (the path relative to the tree, no line or column)
normalize() {
	sed -n -E 's#^(\.\./)*([^ :]*/)?(drivers|kernel|include|arch)/#\3/#p' |
		grep -E ': (warning|error):' |
		sed -E 's/^([^:]+):[0-9]+(:[0-9]+)?:/\1:/' | LC_ALL=C sort
}

build_side() {
	local side=$1 src=$2 out=$work/$1
	local k=(make -s -C "$src" O="$out" ARCH=arm64
		 CROSS_COMPILE=aarch64-linux-gnu-
		 CC="${ccache:+ccache }aarch64-linux-gnu-gcc" -j"$jobs")

	mkdir -p "$out"
	cp "$config" "$out/.config"
	"${k[@]}" olddefconfig >/dev/null
	# C=2 checks every file, built or not; W=1 rebuilds with extra warnings
	"${k[@]}" C=2 W=1 "${dirs[@]}" >"$out/build.log" 2>&1 ||
		{ tail -20 "$out/build.log"; die "$side: the build failed"; }
	normalize <"$out/build.log" >"$out/warnings"
}

echo "static: sparse C=2 + W=1 of ${dirs[*]}, base and series (arm64)"
build_side base "$src_base"
build_side series "$tree"

# kernel-doc -Wall on the headers the series changes (not the new ones:
# make check runs kernel-doc on those and allows no warning at all)
kdoc=$tree/scripts/kernel-doc
: >"$work/base/kdoc"
: >"$work/series/kdoc"
nh=0
while read -r f; do
	git -C "$tree" cat-file -e "base:$f" 2>/dev/null || continue
	nh=$((nh + 1))
	git -C "$tree" show "base:$f" >"$work/base/hdr.h"
	"$kdoc" -none -Wall "$work/base/hdr.h" 2>&1 |
		sed "s#^$work/base/hdr.h#$f#" >>"$work/base/kdoc" || true
	"$kdoc" -none -Wall "$tree/$f" 2>&1 |
		sed "s#^$tree/##" >>"$work/series/kdoc" || true
done < <(git -C "$tree" diff --name-only base HEAD -- 'include/*.h' \
	'drivers/*.h')
for side in base series; do
	sed -E 's/^([^:]+):[0-9]+:/\1:/' "$work/$side/kdoc" | LC_ALL=C sort \
		>>"$work/$side/warnings"
	LC_ALL=C sort -o "$work/$side/warnings" "$work/$side/warnings"
done

new=$(LC_ALL=C comm -13 "$work/base/warnings" "$work/series/warnings")
gone=$(LC_ALL=C comm -23 "$work/base/warnings" "$work/series/warnings" |
	grep -c . || true)
nbase=$(grep -c . "$work/base/warnings" || true)
if [ -n "$new" ]; then
	echo "$new"
	die "$(echo "$new" | grep -c .) warning(s) the base does not have" \
		"(sparse, W=1 or kernel-doc; logs in $work)"
fi
echo "static: no new warning (sparse C=2 and W=1 of ${dirs[*]}," \
	"kernel-doc -Wall of $nh touched headers);" \
	"the base has $nbase, $gone of them gone"
