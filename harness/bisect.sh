#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that the series builds at every step: for each commit of
# $BUILD/linux after the base, build the test kernel's Image and, with W=1,
# drivers/iommu/, in a separate work tree and build directory (incremental
# from one step to the next).  Any error or W=1 warning in drivers/iommu/
# stops with the name of the patch.  BISECT_FROM=N starts at patch N,
# BISECT_TO=N stops after patch N.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
wt=$build/bisect/linux
obj=$build/bisect/kernel
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
cc="${cross}gcc"
command -v ccache >/dev/null && cc="ccache $cc"
jobs=${JOBS:-$(nproc)}

config=${KOBJ:-$build/kernel}/.config

die() { echo "bisect: $*" >&2; exit 1; }
[ -f "$config" ] || die "no $config: run 'make' first"
for v in "${BISECT_FROM:-1}" "${BISECT_TO:-1}"; do
	case $v in ''|*[!0-9]*) die "BISECT_FROM and BISECT_TO take a patch number" ;; esac
done

mkdir -p "$(dirname "$wt")"
"$top/harness/base-worktree.sh" "$wt"
mkdir -p "$obj"
km() { make -s -C "$wt" O="$obj" ARCH=arm64 CROSS_COMPILE="$cross" CC="$cc" "$@"; }

n=0
for c in $(git -C "$tree" rev-list --reverse base..HEAD); do
	n=$((n + 1))
	# BISECT_FROM=N resumes at patch N (the earlier ones built before)
	[ "$n" -ge "${BISECT_FROM:-1}" ] || continue
	[ "$n" -le "${BISECT_TO:-$n}" ] || break
	subject=$(git -C "$tree" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	cp "$config" "$obj/.config"
	log=$obj/step-$n.log
	if ! { km olddefconfig && km -j"$jobs" Image &&
	       km -j"$jobs" W=1 drivers/iommu/; } >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "patch $n ($subject) does not build"
	fi
	if grep -q 'warning:' "$log"; then
		grep 'warning:' "$log" >&2
		die "patch $n ($subject) builds with warnings"
	fi
	echo "bisect: patch $n builds: $subject"
	last=$n
done
echo "bisect: patches ${BISECT_FROM:-1}-${last:-none} build, no W=1 warning in drivers/iommu/"
