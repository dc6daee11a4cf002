#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The series in the form every kernel tree takes: numbered patches that
# `git am` applies to a plain 6.12.y tree, with a cover letter, and the
# patches alone as one mailbox.
#
#   harness/series.sh write     build/series/NNNN-*.patch (0000: the cover
#                               letter) and build/series.mbox (patches 1-N,
#                               for git am; the cover letter has no diff)
#   harness/series.sh verify    git am build/series.mbox onto a fresh copy
#                               of the base and compare the resulting tree
#                               with the one make tree assembled
#
# The patches are made from the commits make tree assembled
# (refs/series/assembled of build/linux), so new files are in the patch
# that adds them, exactly as the queue says.  The cover letter says what
# the series does, how it was tested (the counts come from the logs of the
# last make test / make mainline in this build directory, judged again; a
# run of another tree or base, or one that failed, is named as such), the
# shortlog, the diffstat and the base.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
out=$build/series
mbox=$build/series.mbox

die() { echo "series: $*" >&2; exit 1; }
G() { git -C "$tree" "$@"; }

G rev-parse -q --verify refs/series/assembled >/dev/null ||
	die "no assembled series in $tree: run make tree"
head=$(G rev-parse refs/series/assembled)
head_tree=$(G rev-parse "$head^{tree}")
base_desc=$(cat "$build/base.desc")
base_id=$(cat "$build/base.id")

# judge DIR EXPECT [ARGS]: the verdict of a saved run of this tree and base
judge() {
	local dir=$1 expect=$2 line rc=0
	shift 2
	[ -f "$dir/console.log" ] && [ -f "$dir/results0.log" ] || {
		echo "not run in this build directory"
		return 0
	}
	if ! grep -qx "tree $head_tree" "$dir/stamp" 2>/dev/null ||
	   ! grep -qx "base $base_id" "$dir/stamp"; then
		echo "no result: the last run here tested another tree or base"
		return 0
	fi
	line=$(python3 "$top/harness/results.py" --mode test \
		--expect "$expect" --console "$dir/console.log" \
		--results "$dir/results0.log" --results "$dir/results1.log" \
		"$@" 2>&1) || rc=$?
	if [ $rc != 0 ]; then
		echo "FAILED ($(grep -c '^ERROR' <<<"$line") errors; see make test)"
		return 0
	fi
	line=$(grep -E '^[0-9]+ passed' <<<"$line" | tail -n 1)
	echo "${line:-no verdict}, kernel log clean"
}

cover() {
	local n=$1 author date t1 t2 t3 t4 shortlog stat basel
	author=$(G log -1 --format='%an <%ae>' "$head")
	date=$(G log -1 --format='%aD' "$head")
	t1=$(judge "$build/vm" "$top/harness/expected")
	t2=$(judge "$build/vm/blocked-window" "$top/harness/expected.blocked-window")
	t3=$(judge "$build/vm/realvmm" "$top/harness/expected.realvmm")
	t4=$(judge "$build/vm/mainline" "$top/harness/expected.mainline" --fixtures)
	shortlog=$(G shortlog -w76,2,4 --no-merges "base..$head")
	stat=$(G diff --stat=72 base "$head")
	case $base_id in
	git:*) basel="base-commit: ${base_id##*:}" ;;
	*) basel="base-version: $base_desc" ;;
	esac
	cat <<-EOF
	From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
	From: $author
	Date: $date
	Subject: [PATCH 00/$n] iommu: MSIs and nested translation for VMMs on ARM (6.12.y)

	This series makes device assignment through vfio-pci and iommufd work
	for virtual machine monitors on ARM systems with an SMMU and a GICv3
	ITS, on the 6.12 LTS kernel.

	On ARM an MSI is a DMA write to the interrupt controller's doorbell, so
	the doorbell has to be mapped in the device's IOMMU domain.  The series
	adds a small core (msi-iommu, on dma-iommu's cookies) that places
	doorbells in a bounded software MSI window, shares one mapping per
	doorbell page among its users, releases it with the last one and
	translates the MSI message; arm-smmu and arm-smmu-v3 advertise their
	window.  iommufd gains what a VMM needs on top: options that move the
	software MSI window out of the guest's RAM, and SMMUv3 nested
	translation with mainline's uAPI (GET_HW_INFO, nest-parent HWPTs,
	vIOMMU and vDEVICE objects, nested HWPTs per guest STE, invalidation
	through the vIOMMU, IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_CHANGE_PROCESS and
	vEVENTQ with SMMUv3 event forwarding), keeping MSIs working across
	attach, replace and detach.  Where mainline has a feature, numbers,
	layouts and errnos are mainline's.

	It applies to 6.12.113 and later: the patches are made on the 6.12.y
	stable backport that passes a pasid through
	iommufd_hw_pagetable_attach() and its helpers.  Checked with git am on
	Debian's linux-source-6.12 (6.12.113, 6.12.115, 6.12.117); not on a
	kernel.org v6.12.y tree.

	How it was tested, on the base named at the end (QEMU arm64 virt with an
	emulated SMMUv3 and ITS; debug kernel: lockdep, kmemleak, UBSAN,
	panic_on_warn; counts from the last runs in the build directory this
	was made in):
	- make test, KUnit and kselftests: $t1
	- second boot, firmware regions over the MSI window: $t2
	- third boot, Debian's QEMU 11 as the VMM inside the guest (no vIOMMU,
	  accelerated SMMUv3 with an L2 guest of this kernel): $t3
	- mainline's own iommufd selftests built against mainline's headers:
	  $t4
	- make test runs checkpatch --strict, sparse, W=1 and kernel-doc
	  first; make bisect builds every step before a queue change lands.

	$shortlog

	$stat

	$basel
	EOF
}

do_write() {
	local n text
	rm -rf "$out" "$out.tmp"
	mkdir -p "$out.tmp"
	G -c format.coverLetter=false format-patch -q --no-signature \
		--zero-commit --numbered --suffix=.patch -o "$out.tmp" \
		"base..$head" >/dev/null
	n=$(find "$out.tmp" -name '*.patch' | wc -l)
	[ "$n" -gt 0 ] || die "no patches between base and $head"
	text=$(cover "$n")
	printf '%s\n' "$text" >"$out.tmp/0000-cover-letter.patch"
	mv "$out.tmp" "$out"
	find "$out" -name '[0-9]*.patch' ! -name '0000-*' | LC_ALL=C sort |
		xargs cat >"$mbox.tmp"
	mv "$mbox.tmp" "$mbox"
	echo "series: $out (cover letter + $n patches) and $mbox, on $base_desc"
}

verify_dir=
cleanup() { [ -z "$verify_dir" ] || rm -rf "$verify_dir"; }
trap cleanup EXIT

do_verify() {
	local got gitc=(-c user.name=verify -c user.email=verify@localhost
			-c commit.gpgsign=false -c core.autocrlf=false)
	[ -f "$mbox" ] || die "no $mbox: run make series"
	verify_dir=$(mktemp -d "$build/series-verify.XXXXXX")
	"$top/harness/base.sh" --extract "$verify_dir/linux"
	git -C "$verify_dir/linux" init -q
	git -C "$verify_dir/linux" "${gitc[@]}" add -A -f .
	git -C "$verify_dir/linux" "${gitc[@]}" commit -q -m base
	git -C "$verify_dir/linux" "${gitc[@]}" -c am.threeWay=false am -q \
		--whitespace=nowarn "$mbox" ||
		die "git am $mbox failed on a fresh $base_desc"
	got=$(git -C "$verify_dir/linux" rev-parse 'HEAD^{tree}')
	[ "$head_tree" = "$got" ] ||
		die "git am gives tree $got, make tree gave $head_tree"
	echo "series: git am $mbox ($(grep -c '^From 0\{40\} ' "$mbox") patches) on a fresh $base_desc gives make tree's tree ($head_tree)"
}

case ${1:-write} in
write) do_write ;;
verify) do_verify ;;
*) echo "usage: $0 write|verify" >&2; exit 2 ;;
esac
