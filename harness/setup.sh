#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the build and the QEMU test bed need on Debian 12, and say
# what is being installed.  Does nothing when everything is present.
#
# Usage: harness/setup.sh [build|vm|base]...   (default: all)
#        harness/setup.sh base-version VERSION OUT
#            VERSION: a Debian version of linux-source-6.12 (6.12.113,
#            6.12.113-1~deb12u1, or latest: the newest Debian has); writes
#            its source tarball to OUT and its version to stdout, fetched
#            with apt-get download through the private APT configuration
#            below (no install; the host's APT set-up is not changed)

set -euo pipefail

want_build="gcc-aarch64-linux-gnu libc6-dev-arm64-cross flex bison bc
	libssl-dev libelf-dev cpio gzip ccache sparse git make gcc python3
	perl xz-utils rsync"
want_base="linux-source-6.12"
want_vm="qemu-system-arm"
# dtc: the device tree of the second boot (harness/vm.sh)
want_dt="device-tree-compiler"
# QEMU's nested SMMUv3 model needs >= 9.2: bookworm has 7.2, backports 10.0.
qemu_min=9.2

# The host's sources plus bookworm-backports, in a private source-parts
# directory with private package lists and cache under build/host-apt:
# the host's /etc/apt is never written.  Sets hapt (apt-get options).
backports_apt() {
	local dir=$build/host-apt f
	mkdir -p "$dir/sources.list.d" "$dir/lists/partial" \
		"$dir/cache/archives/partial"
	rm -f "$dir"/sources.list.d/*
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] && ln -s "$f" "$dir/sources.list.d/"
	done
	echo "deb http://deb.debian.org/debian bookworm-backports main" \
		>"$dir/sources.list.d/zz-series-bookworm-backports.list"
	hapt=(-o "Dir::Etc::sourceparts=$dir/sources.list.d"
	      -o "Dir::State::Lists=$dir/lists"
	      -o "Dir::Cache=$dir/cache")
	# as root, apt's _apt user cannot write into build/: no sandbox
	[ "$(id -u)" != 0 ] || hapt+=(-o APT::Sandbox::User=root)
}
build=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}

# resolve_base WANT: the Debian version of linux-source-6.12 that WANT
# (6.12.N, a full Debian version, or latest) names, in $ver
resolve_base() {
	local want=$1 have
	backports_apt
	echo "setup: apt-get update (private lists in $build/host-apt: the host's sources + bookworm-backports)" >&2
	apt-get "${hapt[@]}" update -qq >/dev/null ||
		{ echo "setup: apt-get update failed" >&2; exit 1; }
	have=$(apt-cache "${hapt[@]}" madison linux-source-6.12 |
		awk -F' *[|] *' '{ print $2 }' | sort -uV)
	if [ "$want" = latest ]; then
		ver=$(echo "$have" | tail -n 1)
	else
		ver=$(echo "$have" |
		      awk -v w="$want" '$0 == w || index($0, w "-") == 1' |
		      tail -n 1)
	fi
	[ -n "$ver" ] || {
		echo "setup: no linux-source-6.12 $want in Debian; there are: $(echo $have)" >&2
		exit 1
	}
}

# base-resolve WANT: print the version only (base.sh looks in its cache)
if [ "${1:-}" = base-resolve ]; then
	resolve_base "$2"
	echo "$ver"
	exit 0
fi

if [ "${1:-}" = base-version ]; then
	want=$2 out=$3
	resolve_base "$want"
	dl=$(mktemp -d "$build/base-dl.XXXXXX")
	trap 'rm -rf "$dl"' EXIT
	echo "setup: downloading linux-source-6.12=$ver" >&2
	(cd "$dl" && apt-get "${hapt[@]}" download -qq \
		"linux-source-6.12=$ver" >/dev/null) ||
		{ echo "setup: apt-get download linux-source-6.12=$ver failed" >&2; exit 1; }
	dpkg-deb --fsys-tarfile "$dl"/linux-source-6.12_*.deb |
		tar -xO ./usr/src/linux-source-6.12.tar.xz >"$out.tmp"
	mv "$out.tmp" "$out"
	echo "$ver"
	exit 0
fi

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(build base vm)

missing=()
need_qemu=0
for part in "${parts[@]}"; do
	case $part in
	build) list=$want_build ;;
	base) list=$want_base ;;
	vm) list=$want_dt; need_qemu=1 ;;
	*) echo "setup: unknown part '$part'" >&2; exit 2 ;;
	esac
	for p in $list; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		     grep -q "ok installed"; then
			missing+=("$p")
		fi
	done
done

qemu_ok() {
	command -v qemu-system-aarch64 >/dev/null || return 1
	local v
	v=$(qemu-system-aarch64 --version | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p')
	[ -n "$v" ] && [ "$(printf '%s\n%s\n' "$qemu_min" "$v" | sort -V | head -n1)" = "$qemu_min" ]
}

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		echo "setup: need root to run: $*" >&2
		return 1
	fi
}

apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return 0
	echo "setup: apt-get update"
	as_root apt-get update -qq >/dev/null || {
		echo "setup: apt-get update failed" >&2; return 1; }
	apt_updated=1
}

fail() {
	echo "setup: cannot install: $*" >&2
	echo "setup: install it by hand, then run make again" >&2
	exit 1
}

export DEBIAN_FRONTEND=noninteractive

if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	apt_update || fail "${missing[*]}"
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		>/dev/null || fail "${missing[*]}"
fi

# QEMU >= 9.2 comes from bookworm-backports (backports_apt above)
if [ $need_qemu = 1 ] && ! qemu_ok; then
	backports_apt
	# apt runs as root: the private lists go back to the build's owner,
	# also when the install fails
	[ "$(id -u)" = 0 ] ||
		trap 'as_root chown -R "$(id -u):$(id -g)" "$build/host-apt" || true' EXIT
	echo "setup: apt-get update (private lists in $build/host-apt: the host's sources + bookworm-backports)"
	as_root apt-get "${hapt[@]}" update -qq >/dev/null ||
		fail "$want_vm (apt-get update with bookworm-backports)"
	echo "setup: installing $want_vm (>= $qemu_min) from bookworm-backports"
	as_root apt-get "${hapt[@]}" install -y -qq --no-install-recommends \
		-t bookworm-backports $want_vm >/dev/null ||
		fail "$want_vm from bookworm-backports"
	qemu_ok || fail "qemu-system-aarch64 >= $qemu_min (found: $(qemu-system-aarch64 --version | head -n1))"
fi
exit 0
