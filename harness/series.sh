#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The series in the form every kernel tree takes: numbered patches that
# `git am` applies to a plain 6.12.y tree, with a cover letter, and the same
# as one mailbox.
#
#   harness/series.sh write     build/series/NNNN-*.patch (0000: the cover
#                               letter) and build/series.mbox (patches 1-N,
#                               for git am; the cover letter has no diff)
#   harness/series.sh verify    apply build/series/ with git am to a fresh
#                               copy of the base and compare the resulting
#                               tree with the one make tree assembled
#
# The patches are made from the commits make tree assembled
# (refs/series/assembled of build/linux), so new files are in the patch
# that adds them, exactly as the queue says.  The cover letter says what
# the series does, how it was tested (the counts come from the logs of the
# last make test / make mainline in this build directory, judged again;
# a suite whose logs are missing is named as not run), the shortlog, the
# diffstat and the base, as a base-commit: style line naming the Debian
# package version.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
out=$build/series

die() { echo "series: $*" >&2; exit 1; }
G() { git -C "$tree" "$@"; }

G rev-parse -q --verify refs/series/assembled >/dev/null ||
	die "no assembled series in $tree: run make tree"
head=$(G rev-parse refs/series/assembled)
base_desc=$(cat "$build/base.desc")


# judge DIR EXPECT [ARGS]: "N passed, N failed, N skipped" of a saved run
judge() {
	local dir=$1 expect=$2 mode=${3:-test} line
	shift 3 || shift $#
	[ -f "$dir/console.log" ] && [ -f "$dir/results0.log" ] || {
		echo "not run in this build directory"
		return
	}
	line=$(python3 "$top/harness/results.py" --mode "$mode" \
		--expect "$expect" --console "$dir/console.log" \
		--results "$dir/results0.log" --results "$dir/results1.log" \
		"$@" 2>/dev/null | grep -E '^[0-9]+ passed' | tail -n 1 || true)
	echo "${line:-no verdict (the run did not finish)}"
}

cover() {
	local n=$1
	cat <<-EOF
	From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
	From: $(G log -1 --format='%an <%ae>' "$head")
	Date: $(G log -1 --format='%aD' "$head")
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

	How it was tested (QEMU arm64 virt with an emulated SMMUv3 and ITS,
	debug kernel: lockdep, kmemleak, UBSAN, panic_on_warn; counts from the
	last runs in the build directory this was made in):
	- make test, KUnit and kselftests: $(judge "$build/vm" "$top/harness/expected")
	- second boot, firmware regions over the MSI window: $(judge "$build/vm/blocked-window" "$top/harness/expected.blocked-window")
	- third boot, Debian's QEMU 11 as the VMM inside the guest (no vIOMMU,
	  accelerated SMMUv3 with an L2 guest of this kernel): $(judge "$build/vm/realvmm" "$top/harness/expected.realvmm")
	- mainline's own iommufd selftests built against mainline's headers:
	  $(judge "$build/vm/mainline" "$top/harness/expected.mainline" test --fixtures)
	- checkpatch --strict, sparse, W=1 and kernel-doc clean; every patch
	  builds (make bisect).

	$(G shortlog -w76,2,4 --no-merges "base..$head")

	$(G diff --stat=72 base "$head")

	base-commit: $base_desc
	EOF
}

do_write() {
	local n
	rm -rf "$out" "$out.tmp"
	mkdir -p "$out.tmp"
	G format-patch -q --no-signature --zero-commit --numbered \
		-o "$out.tmp" "base..$head" >/dev/null
	n=$(find "$out.tmp" -name '*.patch' | wc -l)
	[ "$n" -gt 0 ] || die "no patches between base and $head"
	cover "$n" >"$out.tmp/0000-cover-letter.patch"
	mv "$out.tmp" "$out"
	find "$out" -name '[0-9]*.patch' ! -name '0000-*' | LC_ALL=C sort |
		xargs cat >"$build/series.mbox"
	echo "series: $out (cover letter + $n patches) and $build/series.mbox, on $base_desc"
}

do_verify() {
	local work want got
	[ -f "$out/0000-cover-letter.patch" ] || die "no $out: run make series"
	work=$(mktemp -d "$build/series-verify.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	"$top/harness/base.sh" --extract "$work/linux"
	git -C "$work/linux" init -q
	git -C "$work/linux" config core.autocrlf false
	git -C "$work/linux" add -A -f .
	git -C "$work/linux" -c user.name=base -c user.email=base@localhost \
		commit -q -m base
	find "$out" -name '[0-9]*.patch' ! -name '0000-*' | LC_ALL=C sort |
		xargs git -C "$work/linux" -c user.name=verify \
			-c user.email=verify@localhost am -q --whitespace=nowarn ||
		die "git am of $out failed on a fresh $base_desc"
	want=$(G rev-parse "$head^{tree}")
	got=$(git -C "$work/linux" rev-parse 'HEAD^{tree}')
	[ "$want" = "$got" ] ||
		die "git am gives tree $got, make tree gave $want"
	echo "series: git am of $(find "$out" -name '[0-9]*.patch' ! -name '0000-*' | wc -l) patches on a fresh $base_desc gives make tree's tree ($want)"
}

case ${1:-write} in
write) do_write ;;
verify) do_verify ;;
*) echo "usage: $0 write|verify" >&2; exit 2 ;;
esac
