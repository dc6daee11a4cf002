#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The real VMM for the test bed (issue 13): Debian's arm64 QEMU >= 11 from
# trixie-backports, run inside the test guest as the VMM of an L2 guest.
#
#   harness/realvmm.sh fetch     fetch (cached) and assemble the runtime;
#                                print the versions
#   harness/realvmm.sh versions  print the versions of the last fetch
#   harness/realvmm.sh initramfs OUT IMAGE BASE
#                                the L1 initramfs: the test initramfs tree
#                                BASE (harness/initramfs.sh's), the runtime,
#                                /tests/realvmm-l1, and /realvmm with IMAGE
#                                (L2's kernel) and L2's initramfs
#
# The packages are fetched with a private APT configuration under
# $BUILD/realvmm/apt whose native architecture is arm64 and whose status
# file is empty, so that `apt-get install --download-only` resolves the
# whole dependency closure of qemu-system-arm, qemu-efi-aarch64 and
# busybox-static without reading or changing the host's APT set-up.  The
# packages are unpacked into $BUILD/realvmm/unpacked; the runtime (the
# qemu-system-aarch64 binary, the shared libraries it needs by its ELF
# NEEDED entries, QEMU_EFI.fd and busybox) is copied to
# $BUILD/realvmm/root, laid out as it is in the guest.  A fetch is reused
# while the versions the mirror offers are the ones cached.
# REALVMM_OFFLINE=1 uses the cache without asking the mirror.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
rv=$build/realvmm
apt=$rv/apt
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
readelf=${CROSS_COMPILE:-aarch64-linux-gnu-}readelf
pkgs=(qemu-system-arm qemu-efi-aarch64 busybox-static)

say() { echo "realvmm: $*"; }
die() { echo "realvmm: $*" >&2; exit 1; }

apt_private() {
	APT_CONFIG=$apt/apt.conf "$@"
}

apt_setup() {
	mkdir -p "$apt"/etc/{apt.conf.d,preferences.d,sources.list.d} \
		"$apt"/lists/partial "$apt"/cache/archives/partial "$apt"/state
	: >"$apt/state/status"
	cat >"$apt/etc/sources.list" <<-EOF
	deb $mirror trixie main
	deb $mirror trixie-updates main
	deb $security trixie-security main
	deb $mirror trixie-backports main
	EOF
	# Signatures are checked against the host's Debian keyring; the
	# mirror's Release files may be older than their Valid-Until.
	cat >"$apt/apt.conf" <<-EOF
	Dir::Etc "$apt/etc";
	Dir::Etc::Trusted "/etc/apt/trusted.gpg";
	Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
	Dir::State "$apt/state";
	Dir::State::Lists "$apt/lists";
	Dir::State::status "$apt/state/status";
	Dir::Cache "$apt/cache";
	APT::Architecture "arm64";
	APT::Architectures { "arm64"; };
	APT::Install-Recommends "false";
	Acquire::Check-Valid-Until "false";
	EOF
	say "apt-get update (private configuration in $apt: trixie, -updates, -security, -backports; arm64)"
	apt_private apt-get update -qq >/dev/null
}

# "package version" of each package the fetch takes (backports first)
candidates() {
	local p v best
	for p in "${pkgs[@]}"; do
		best=
		for v in $(apt_private apt-cache madison "$p" |
			   awk -F' *[|] *' '{ print $2 }'); do
			if [ -z "$best" ] ||
			   dpkg --compare-versions "$v" gt "$best"; then
				best=$v
			fi
		done
		[ -n "$best" ] || die "no $p in trixie or trixie-backports"
		echo "$p $best"
	done
}

# The shared libraries $1 needs, recursively, found under $rv/unpacked
needed_libs() {
	local todo=("$1") seen=" " f lib path d
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		for lib in $("$readelf" -d "$f" |
			     sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $lib "*) continue ;; esac
			seen+="$lib "
			path=
			for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu \
				 lib usr/lib; do
				if [ -e "$rv/unpacked/$d/$lib" ]; then
					path=$d/$lib
					break
				fi
			done
			[ -n "$path" ] || die "$lib (needed by ${f#"$rv"/unpacked/}) is in no fetched package"
			echo "$path"
			todo+=("$(readlink -f "$rv/unpacked/$path")")
		done
	done
}

assemble() {
	local root=$rv/root lib
	rm -rf "$root"
	mkdir -p "$root"/usr/bin "$root"/lib/aarch64-linux-gnu \
		"$root"/usr/share/qemu-efi-aarch64
	cp "$rv/unpacked/usr/bin/qemu-system-aarch64" "$root/usr/bin/"
	cp "$rv/unpacked/usr/bin/busybox" "$root/usr/bin/"
	cp "$rv/unpacked/usr/share/qemu-efi-aarch64/QEMU_EFI.fd" \
		"$root/usr/share/qemu-efi-aarch64/"
	# Every library goes to /lib/aarch64-linux-gnu, where the loader
	# looks first; the loader itself keeps its path
	for lib in $(needed_libs "$rv/unpacked/usr/bin/qemu-system-aarch64"); do
		case $lib in
		*/ld-linux-aarch64.so.1)
			mkdir -p "$root/lib"
			cp -L "$rv/unpacked/$lib" "$root/lib/" ;;
		*)
			cp -L "$rv/unpacked/$lib" "$root/lib/aarch64-linux-gnu/" ;;
		esac
	done
	[ -e "$root/lib/ld-linux-aarch64.so.1" ] ||
		die "the runtime has no ld-linux-aarch64.so.1"
	say "runtime: $(find "$root" -type f | wc -l) files, $(du -sm "$root" | cut -f1) MiB in $root"
}

do_fetch() {
	local want have
	if [ "${REALVMM_OFFLINE:-0}" = 1 ] && [ -f "$rv/versions" ]; then
		say "offline: using the cached fetch"
	elif ! apt_setup; then
		# the mirror is out of reach: a complete cache still serves
		[ -f "$rv/root/.complete" ] && [ -f "$rv/versions" ] ||
			die "apt-get update failed and nothing is cached in $rv"
		say "apt-get update failed: using the cached fetch"
	else
		want=$(candidates)
		# QEMU's accelerated SMMUv3 (accel=on) exists since 11.0
		dpkg --compare-versions \
			"$(sed -n 's/^qemu-system-arm //p' <<<"$want")" ge 1:11 ||
			die "Debian offers $(grep '^qemu-system-arm' <<<"$want"); the suite needs QEMU >= 11"
		have=$(cat "$rv/versions" 2>/dev/null || true)
		if [ "$want" != "$have" ] || [ ! -f "$rv/root/.complete" ]; then
			say "downloading ${pkgs[*]} (arm64) and their dependencies"
			rm -rf "$rv/unpacked" "$apt"/cache/archives/*.deb
			local args=() p v
			while read -r p v; do
				args+=("$p=$v")
			done <<<"$want"
			apt_private apt-get install -qq -y --download-only \
				-t trixie-backports "${args[@]}" >/dev/null
			mkdir -p "$rv/unpacked"
			for p in "$apt"/cache/archives/*.deb; do
				dpkg-deb -x "$p" "$rv/unpacked"
			done
			say "$(ls "$apt"/cache/archives/*.deb | wc -l) packages, $(du -sm "$apt/cache/archives" | cut -f1) MB"
			assemble
			echo "$want" >"$rv/versions"
			touch "$rv/root/.complete"
		fi
	fi
	[ -f "$rv/root/.complete" ] || die "no cached runtime in $rv/root"
	sed 's/^/realvmm: using /' "$rv/versions"
}

cc_static() {
	local out=$1 src=$2
	"${CROSS_COMPILE:-aarch64-linux-gnu-}gcc" -static -O2 -Wall -Wextra \
		-Werror -Wno-unused-parameter \
		-isystem "${KOBJ:-$build/kernel}/usr/include" \
		-I "$build/linux/tools/testing/selftests/iommu" -o "$out" "$src"
}

pack() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1
}

do_initramfs() {
	local out=$1 image=$2 base=$3 root=$rv/initramfs l2=$rv/l2root
	[ -f "$rv/root/.complete" ] || die "no runtime: run '$0 fetch' first"
	[ -f "$image" ] || die "no kernel image $image"
	[ -x "$base/init" ] || die "no test initramfs tree in $base"
	rm -rf "$root" "$l2"
	cp -a "$base" "$root"
	cp -a "$rv/root/." "$root/"
	rm -f "$root/.complete"
	mkdir -p "$root/realvmm" "$l2"/proc "$l2"/sys "$l2"/dev
	cc_static "$l2/init" "$top/harness/realvmm-l2.c"
	pack "$l2" >"$root/realvmm/l2.cpio.gz"
	cp "$image" "$root/realvmm/Image"
	cc_static "$root/tests/realvmm-l1" "$top/harness/realvmm-l1.c"
	pack "$root" >"$out.tmp"
	mv "$out.tmp" "$out"
	say "initramfs: $out ($(du -m "$out" | cut -f1) MB: the test initramfs, QEMU's runtime, L2's kernel and initramfs)"
}

case ${1:-fetch} in
fetch) do_fetch ;;
versions) cat "$rv/versions" ;;
initramfs) shift; do_initramfs "$@" ;;
*) echo "usage: $0 fetch|versions|initramfs OUT IMAGE BASE" >&2; exit 2 ;;
esac
