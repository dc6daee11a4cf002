#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mainline's own iommufd selftests (iommufd and iommufd_fail_nth), built
# unmodified against mainline's uAPI headers, for `make mainline`.
#
#   harness/mainline.sh build     fetch (cached) and build; print the version
#   harness/mainline.sh version   print the version used by the last build
#
# The source is the newest linux-source-7.* package of Debian unstable.  It
# is fetched with a private APT configuration under $BUILD/mainline/apt
# (the host's own APT set-up is neither read for sources nor changed), and
# cached: a later run reuses it unless unstable has a newer one.  arm64
# libcap (for the static link) comes from bookworm the same way.  The
# binaries land in $BUILD/mainline/bin, the version in $BUILD/mainline/version.
# MAINLINE_OFFLINE=1 uses the cached source without asking the mirror.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
ml=$build/mainline
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
jobs=${JOBS:-$(nproc)}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
apt=$ml/apt

say() { echo "mainline: $*"; }

apt_private() {
	APT_CONFIG=$apt/apt.conf "$@"
}

apt_setup() {
	mkdir -p "$apt"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d} \
		"$apt"/lists/partial "$apt"/cache/archives/partial
	: >"$apt/status"
	cat >"$apt/etc/sources.list" <<-EOF
	deb $mirror unstable main
	deb $mirror bookworm main
	EOF
	# The mirror's Release files may be older than their Valid-Until:
	# signatures are still checked against the host's Debian keyring.
	cat >"$apt/apt.conf" <<-EOF
	Dir::Etc "$apt/etc";
	Dir::Etc::Trusted "/etc/apt/trusted.gpg";
	Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
	Dir::State::Lists "$apt/lists";
	Dir::State::status "$apt/status";
	Dir::Cache "$apt/cache";
	APT::Architectures { "amd64"; "arm64"; };
	Acquire::Check-Valid-Until "false";
	EOF
	say "apt-get update (private configuration in $apt: unstable, bookworm)"
	apt_private apt-get update -qq >/dev/null
}

# Newest linux-source-7.N in unstable, as "package version"
newest_source() {
	local pkg
	pkg=$(apt_private apt-cache search --names-only '^linux-source-7\.[0-9]+$' |
		awk '{print $1}' | sort -V | tail -n 1)
	[ -n "$pkg" ] || { echo "mainline: no linux-source-7.* in unstable" >&2; return 1; }
	echo "$pkg $(apt_private apt-cache show "$pkg" |
		sed -n 's/^Version: //p' | sort -V | tail -n 1)"
}

fetch() {
	local pkg=$1 ver=$2 dir=$ml/src-$ver deb
	if [ -f "$dir/.complete" ]; then
		say "cached source: $pkg $ver ($dir)"
		return
	fi
	rm -rf "$dir" "$ml/dl"
	mkdir -p "$ml/dl"
	say "downloading $pkg $ver from Debian unstable"
	(cd "$ml/dl" && apt_private apt-get download -qq "$pkg=$ver" 2>/dev/null)
	deb=$(ls "$ml"/dl/"$pkg"_*.deb)
	mkdir -p "$dir"
	say "unpacking $(basename "$deb")"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -O --wildcards './usr/src/linux-source-*.tar.xz' |
		tar -xJ -C "$dir" --strip-components=1
	rm -rf "$ml/dl"
	touch "$dir/.complete"
}

fetch_libcap() {
	local sysroot=$ml/sysroot p
	[ -f "$sysroot/.complete" ] && return
	rm -rf "$sysroot" "$ml/dl-cap"
	mkdir -p "$sysroot" "$ml/dl-cap"
	say "downloading arm64 libcap (bookworm) for the static link"
	(cd "$ml/dl-cap" && apt_private apt-get download -qq \
		libcap-dev:arm64/bookworm libcap2:arm64/bookworm 2>/dev/null)
	for p in "$ml"/dl-cap/*.deb; do
		dpkg-deb -x "$p" "$sysroot"
	done
	rm -rf "$ml/dl-cap"
	[ -f "$sysroot/usr/lib/aarch64-linux-gnu/libcap.a" ] || {
		echo "mainline: no libcap.a in the arm64 libcap-dev package" >&2; exit 1; }
	touch "$sysroot/.complete"
}

do_build() {
	local pkg ver src hdr
	if [ "${MAINLINE_OFFLINE:-0}" = 1 ] && [ -f "$ml/version" ]; then
		read -r pkg ver <"$ml/version"
	else
		apt_setup
		read -r pkg ver < <(newest_source)
	fi
	fetch "$pkg" "$ver"
	fetch_libcap
	src=$ml/src-$ver
	hdr=$ml/headers-$ver
	if [ ! -f "$hdr/.complete" ]; then
		say "installing $pkg $ver's arm64 uAPI headers"
		rm -rf "$hdr"
		make -s -C "$src" ARCH=arm64 O="$ml/hdrobj-$ver" \
			INSTALL_HDR_PATH="$hdr" headers_install
		rm -rf "$ml/hdrobj-$ver"
		touch "$hdr/.complete"
	fi
	say "building $pkg $ver's iommufd and iommufd_fail_nth (static, arm64)"
	mkdir -p "$ml/bin"
	rm -f "$ml/bin/iommufd" "$ml/bin/iommufd_fail_nth"
	make -s -C "$src/tools/testing/selftests/iommu" ARCH=arm64 \
		CROSS_COMPILE="$cross" OUTPUT="$ml/bin" -j"$jobs" \
		KHDR_INCLUDES="-isystem $hdr/include -isystem $ml/sysroot/usr/include" \
		USERLDFLAGS="-static -L$ml/sysroot/usr/lib/aarch64-linux-gnu" \
		"$ml/bin/iommufd" "$ml/bin/iommufd_fail_nth"
	echo "$pkg $ver" >"$ml/version"
	say "built against $pkg $ver"
}

case ${1:-build} in
build) do_build ;;
version) cat "$ml/version" ;;
*) echo "usage: $0 build|version" >&2; exit 2 ;;
esac
