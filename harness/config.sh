#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make the test kernel's .config: arm64 tinyconfig + the selftests' fragment
# (tools/testing/selftests/iommu/config of the assembled tree) + the harness
# fragment (Kconfig at the top of this repository) + KCONFIG_EXTRA's
# (harness/realvmm.config unless REALVMM=0, harness/kasan.config with
# KASAN=1).  The result is checked
# symbol by symbol and copied into the kernel build directory only when it
# changed, so an unchanged configuration never forces a rebuild.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
# KSRC: configure another source tree with the series' fragments (make
# bench's unpatched base); symbols it lacks drop out and are listed in
# $KOBJ/dropped instead of failing
ksrc=${KSRC:-$tree}
kobj=${KOBJ:-$build/kernel}
scratch=$kobj.kconfig
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
frags=("$tree/tools/testing/selftests/iommu/config" "$top/Kconfig")
# KCONFIG_EXTRA: more fragments, from the Makefile
for f in ${KCONFIG_EXTRA:-}; do frags+=("$f"); done

die() { echo "config: $*" >&2; exit 1; }

mkdir -p "$scratch" "$kobj"
km() { make -s -C "$ksrc" O="$scratch" ARCH=arm64 CROSS_COMPILE="$cross" "$@" >/dev/null; }
km tinyconfig
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$scratch" \
	"$scratch/.config" "${frags[@]}" >"$scratch/merge.log" 2>&1 ||
	{ cat "$scratch/merge.log" >&2; die "merge_config failed"; }
km olddefconfig

bad=0
: >"$scratch/dropped"
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			sym=${line%%=*}
			grep -qx -- "$line" "$scratch/.config" || {
				if [ "$ksrc" != "$tree" ]; then
					echo "$line" >>"$scratch/dropped"
					continue
				fi
				echo "config: $sym: wanted '${line#*=}', got '$(grep -m1 "^$sym=" "$scratch/.config" | cut -d= -f2- || true)' (from ${f#"$top"/})" >&2
				bad=1
			} ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			if grep -q "^$sym=" "$scratch/.config"; then
				echo "config: $sym: wanted unset, got set (from ${f#"$top"/})" >&2
				bad=1
			fi ;;
		esac
	done <"$f"
done
[ $bad = 0 ] || die "some options did not stick (missing dependency?)"

if [ -s "$scratch/dropped" ]; then
	cp "$scratch/dropped" "$kobj/dropped"
	echo "config: $(wc -l <"$kobj/dropped") wanted options do not exist (or cannot be set) in $ksrc: $(sed 's/=.*//; s/^CONFIG_//' "$kobj/dropped" | tr '\n' ' ')"
else
	rm -f "$kobj/dropped"
fi
if ! cmp -s "$scratch/.config" "$kobj/.config"; then
	cp "$scratch/.config" "$kobj/.config"
	echo "config: $kobj/.config updated"
fi
