#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel in QEMU's arm64 virt machine (GICv3 + ITS, SMMUv3
# with both stages, two edu devices, a virtio-rng PCI device, hugetlb pages
# reserved) and run the tests or the demo.
#
#   harness/vm.sh test IMAGE INITRD   run every suite, print the table, exit
#                                      non-zero on any failure or splat
#   harness/vm.sh run IMAGE INITRD    run the VMM demo
#
# The kernel log goes to $BUILD/vm/console.log (ttyAMA0); the programs'
# output to $BUILD/vm/results0.log and results1.log (virtio consoles hvc0
# and hvc1: two groups of suites run at once, see harness/plan).

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
mode=$1 image=$2 initrd=$3
timeout=${TIMEOUT:-900}
vm=$build/vm

[ -f "$image" ] || { echo "vm: no kernel image $image" >&2; exit 1; }
[ -f "$initrd" ] || { echo "vm: no initramfs $initrd" >&2; exit 1; }
mkdir -p "$vm"
rm -f "$vm"/console.log "$vm"/results*.log

# 2 MiB hugetlb pages for the iommufd hugepage tests (the largest needs 64)
append="console=ttyAMA0 panic=-1 oops=panic hugepages=80 loglevel=7"
# A WARN ends the run at once (QEMU exits): no test result after it counts
append+=" panic_on_warn=1"
# QEMU's SMMUv3 has no S2FWB, but all its DMA is coherent: the documented
# opt-in that lets vIOMMUs (nested translation) be created there
append+=" kmemleak=on arm_smmu_v3.assume_coherent_nesting=1"
# The fuzzer's seed and call count reach init's environment this way
[ -n "${FUZZ_SEED:-}" ] && append+=" IOMMUFD_FUZZ_SEED=$FUZZ_SEED"
[ -n "${FUZZ_CALLS:-}" ] && append+=" IOMMUFD_FUZZ_CALLS=$FUZZ_CALLS"
append+=" -- $mode"

echo "vm: booting $(cat "$build/base.desc" 2>/dev/null) + the series ($mode), timeout ${timeout}s"
start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout" qemu-system-aarch64 \
	-M virt,gic-version=3,its=on,iommu=smmuv3 \
	-global arm-smmuv3.stage=nested \
	-cpu max,pauth-impdef=on -smp 2 -m 3G \
	-display none -monitor none -no-reboot -nic none \
	-serial "file:$vm/console.log" \
	-device virtio-serial-device \
	-chardev "file,id=results0,path=$vm/results0.log" \
	-device virtconsole,chardev=results0 \
	-chardev "file,id=results1,path=$vm/results1.log" \
	-device virtconsole,chardev=results1 \
	-device edu -device edu \
	-device virtio-rng-pci,disable-legacy=on,iommu_platform=on \
	-kernel "$image" -initrd "$initrd" -append "$append" \
	</dev/null
rc=$?
set -e
secs=$(( $(date +%s) - start ))

if [ $rc = 124 ] || [ $rc = 137 ]; then
	echo "vm: the guest did not finish within ${timeout}s; last console lines:" >&2
	tail -n 40 "$vm/console.log" >&2 || true
	echo "vm: last result lines:" >&2
	tail -n 20 "$vm"/results*.log >&2 || true
	exit 1
fi
if [ $rc != 0 ]; then
	echo "vm: qemu-system-aarch64 failed (exit $rc); last console lines:" >&2
	tail -n 40 "$vm/console.log" >&2 || true
	exit 1
fi
echo "vm: guest finished in ${secs}s"

exec python3 "$top/harness/results.py" --mode "$mode" \
	--expect "$top/harness/expected" \
	--console "$vm/console.log" --results "$vm/results0.log" \
	--results "$vm/results1.log"
