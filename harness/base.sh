#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Find the 6.12.y base and describe it.
#
#   harness/base.sh             write $BUILD/base.id and $BUILD/base.desc and
#                               print the description
#   harness/base.sh --extract D unpack the base source into directory D
#
# The base is $BASE (a 6.12.y source tree, used as committed when it is a
# git work tree), $BASE_VERSION (a Debian version of linux-source-6.12,
# 6.12.107 or 6.12.107-1~deb12u1: fetched with apt-get download into
# build/bases/ once, not installed; "latest": the newest Debian has) or,
# by default, Debian's installed
# linux-source-6.12 package, installed when missing.
#
# The series' patches are made on, and need, the 6.12.y stable backport
# that passes a pasid through iommufd_hw_pagetable_attach() and its
# helpers in drivers/iommu/iommufd/device.c (their context, and the
# signatures they call).  Debian's 6.12.113 is the oldest version with
# it (6.12.111 and older lack it); an older base is refused here, naming
# it.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
deb_tar=/usr/src/linux-source-6.12.tar.xz

die() { echo "base: $*" >&2; exit 1; }

tree_version() {
	local mk=$1/Makefile v p s
	[ -f "$mk" ] || die "$1 is not a kernel source tree (no Makefile)"
	v=$(sed -n 's/^VERSION = //p' "$mk"); p=$(sed -n 's/^PATCHLEVEL = //p' "$mk")
	s=$(sed -n 's/^SUBLEVEL = //p' "$mk")
	echo "$v.$p.$s"
}

if [ -n "${BASE:-}" ]; then
	BASE=$(cd "$BASE" 2>/dev/null && pwd) || die "BASE=$BASE: no such directory"
	ver=$(tree_version "$BASE")
	if git -C "$BASE" rev-parse --git-dir >/dev/null 2>&1 &&
	   [ "$(git -C "$BASE" rev-parse --show-toplevel)" = "$BASE" ]; then
		rev=$(git -C "$BASE" rev-parse HEAD)
		id="git:$BASE:$rev"
		desc="Linux $ver ($BASE at ${rev:0:12})"
		kind=git
	else
		id="dir:$BASE:$(stat -c %Y "$BASE/Makefile")"
		desc="Linux $ver ($BASE)"
		kind=dir
	fi
elif [ -n "${BASE_VERSION:-}" ]; then
	# shared by every BUILD directory of this checkout
	bases=$top/build/bases
	mkdir -p "$bases"
	want=$BASE_VERSION
	# "latest" is looked up (apt-get update), then cached like the others
	if [ "$want" = latest ]; then
		want=$("$top/harness/setup.sh" base-resolve latest) || {
			# offline: the newest one fetched before, said so
			want=$(ls "$bases"/linux-source-6.12_*.tar.xz 2>/dev/null |
			       sed 's#.*/linux-source-6.12_##; s#[.]tar[.]xz$##' |
			       sort -V | tail -n 1)
			[ -n "$want" ] || exit 1
			echo "base: Debian cannot be asked for the newest version; using the newest fetched before, $want" >&2
		}
	fi
	cached=$(ls "$bases"/linux-source-6.12_"$want"{,-*}.tar.xz \
		 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$cached" ]; then
		tmp=$(mktemp "$bases/fetch.XXXXXX")
		pkg=$("$top/harness/setup.sh" base-version "$want" "$tmp") ||
			{ rm -f "$tmp"; exit 1; }
		cached=$bases/linux-source-6.12_$pkg.tar.xz
		mv "$tmp" "$cached"
	fi
	deb_tar=$cached
	pkg=${cached##*/linux-source-6.12_}
	pkg=${pkg%.tar.xz}
	ver=${pkg%%-*}
	id="deb:$pkg:$(stat -c %s "$deb_tar")"
	desc="Linux $ver (Debian linux-source-6.12 $pkg)"
	kind=deb
else
	if [ ! -f "$deb_tar" ]; then
		echo "base: $deb_tar missing, installing linux-source-6.12" >&2
		"$top/harness/setup.sh" base >&2
	fi
	[ -f "$deb_tar" ] || die "no $deb_tar after installing linux-source-6.12"
	pkg=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown)
	ver=${pkg%%-*}
	id="deb:$pkg:$(stat -c %s.%Y "$deb_tar")"
	desc="Linux $ver (Debian linux-source-6.12 $pkg)"
	kind=deb
fi

case $ver in
6.12.*) ;;
*) die "base is Linux $ver; the series is for 6.12.y" ;;
esac

if [ "${1:-}" = --extract ]; then
	dest=$2
	mkdir -p "$dest"
	case $kind in
	deb) tar -C "$dest" --strip-components=1 -xJf "$deb_tar" ;;
	git) git -C "$BASE" archive --format=tar HEAD | tar -C "$dest" -x ;;
	dir) tar -C "$BASE" --exclude=.git -cf - . | tar -C "$dest" -x ;;
	esac
	[ "$(tree_version "$dest")" = "$ver" ] || die "extracted tree is not $ver"
	# the stable backport the series needs (see the top)
	grep -q 'struct iommufd_device \*idev, ioasid_t pasid)' \
		"$dest/drivers/iommu/iommufd/device.c" ||
		die "$desc is too old for the series: it lacks the 6.12.y stable backport that passes a pasid through iommufd_hw_pagetable_attach() and its helpers (drivers/iommu/iommufd/device.c), on which the patches are made; the oldest Debian version with it is 6.12.113-1~deb12u1"
	exit 0
fi

mkdir -p "$build"
echo "$id" >"$build/base.id"
echo "$desc" >"$build/base.desc"
echo "$desc"
