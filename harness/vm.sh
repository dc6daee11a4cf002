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
#   harness/vm.sh mainline IMAGE INITRD
#                                      run mainline's own iommufd selftests
#                                      (harness/plan.mainline), judged by
#                                      harness/expected.mainline
#   harness/vm.sh shell IMAGE INITRD  the real-VMM boot's L1 with a shell on
#                                      this terminal (INITRD: the L1
#                                      initramfs), to run a VMM by hand
#   harness/vm.sh bench IMAGE INITRD   one boot of make bench: init runs
#                                      /bin/bench (harness/bench.sh)
#   harness/vm.sh realvmm IMAGE INITRD
#                                      the real-VMM suite: QEMU in the guest
#                                      as an L2 guest's VMM, the guest at
#                                      EL2 (virtualization=on), one edu and
#                                      one virtio-rng
#                                      (harness/plan.realvmm, judged by
#                                      harness/expected.realvmm)
#
# The kernel log goes to $BUILD/vm/console.log (ttyAMA0); the programs'
# output to $BUILD/vm/results0.log and results1.log (virtio consoles hvc0
# and hvc1: two groups of suites run at once, see harness/plan).
#
# In test mode a second, short boot follows (logs in $BUILD/vm/blocked-window):
# QEMU's device tree plus firmware regions over the software MSI window for
# two virtio-rng functions, running harness/plan.blocked-window
# against harness/expected.blocked-window.  Then, with REALVMM_INITRD set,
# the real-VMM boot (logs in $BUILD/vm/realvmm).

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
mode=$1 image=$2 initrd=$3
timeout=${TIMEOUT:-900}
vm=$build/vm

[ -f "$image" ] || { echo "vm: no kernel image $image" >&2; exit 1; }
[ -f "$initrd" ] || { echo "vm: no initramfs $initrd" >&2; exit 1; }

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

machine=virt,gic-version=3,its=on,iommu=smmuv3
# VM_EL2=1: every boot at EL2 (virtualization=on, the kernel in VHE mode),
# as the real-VMM boot always is; to measure what EL2 costs the suites
[ "${VM_EL2:-0}" = 1 ] && machine+=,virtualization=on
qemu_args=(
	-global arm-smmuv3.stage=nested
	-cpu max,pauth-impdef=on -smp 2 -m 3G
	-display none -monitor none -no-reboot -nic none
	-device edu -device edu
	-device virtio-rng-pci,disable-legacy=on,iommu_platform=on,addr=3
	-kernel "$image" -initrd "$initrd"
)

# boot DIR APPEND [QEMU ARGS...]: one guest run; console.log and
# results<N>.log in DIR.  Returns QEMU's exit code.
boot() {
	local dir=$1 cmdline=$2
	shift 2
	mkdir -p "$dir"
	rm -f "$dir"/console.log "$dir"/results*.log
	timeout --kill-after=10 "$timeout" qemu-system-aarch64 \
		-M "$machine" "${qemu_args[@]}" -append "$cmdline" \
		-serial "file:$dir/console.log" \
		-device virtio-serial-device \
		-chardev "file,id=results0,path=$dir/results0.log" \
		-device virtconsole,chardev=results0 \
		-chardev "file,id=results1,path=$dir/results1.log" \
		-device virtconsole,chardev=results1 \
		"$@" </dev/null
}

# boot_failed DIR RC: say why a boot did not finish; false if it did
boot_failed() {
	local dir=$1 rc=$2
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "vm: the guest did not finish within ${timeout}s; last console lines:" >&2
		tail -n 40 "$dir/console.log" >&2 || true
		echo "vm: last result lines:" >&2
		tail -n 20 "$dir"/results*.log >&2 || true
		return 0
	fi
	if [ "$rc" != 0 ]; then
		echo "vm: qemu-system-aarch64 failed (exit $rc); last console lines:" >&2
		tail -n 40 "$dir/console.log" >&2 || true
		return 0
	fi
	return 1
}

# run_boot DIR APPEND [QEMU ARGS...]: one timed boot; exits if it did not
# finish
run_boot() {
	local dir=$1 start rc
	start=$(date +%s)
	# what this boot tested, for make series' cover letter
	mkdir -p "$dir"
	{
		echo "tree $(git -C "$build/linux" rev-parse 'HEAD^{tree}' 2>/dev/null || echo unknown)"
		echo "base $(cat "$build/base.id" 2>/dev/null || echo unknown)"
		echo "image $image"
	} >"$dir/stamp"
	set +e
	boot "$@"
	rc=$?
	set -e
	boot_failed "$dir" $rc && exit 1
	echo "vm: guest finished in $(( $(date +%s) - start ))s"
}

# results DIR EXPECTED [ARGS...]: the table of one boot's results; its
# verdict
results() {
	local dir=$1 expect=$2
	shift 2
	python3 "$top/harness/results.py" --mode "$mode" --expect "$expect" \
		--console "$dir/console.log" --results "$dir/results0.log" \
		--results "$dir/results1.log" "$@"
}

# The device tree of the second test boot: QEMU's own, plus two firmware
# regions over the software MSI window, so that neither device's DMA-API
# domain can use it: an IOVA reservation (reserved-memory without reg,
# iommu-addresses) for the virtio-rng function 00:03.0, and a direct
# (identity) mapping for a second virtio-rng at 00:04.0, as ACPI firmware
# describes it with an IORT RMR (QEMU's accelerated SMMUv3 gives its guests
# one over 0x8000000-0x80fffff).
blocked_window_dtb() {
	local out=$1 dts=$vm/blocked-window/virt.dts pcie
	mkdir -p "$vm/blocked-window"
	qemu-system-aarch64 -M "$machine,dumpdtb=$vm/blocked-window/virt.dtb" \
		"${qemu_args[@]}" -append "$append" >/dev/null
	dtc -q -I dtb -O dts -o "$dts" "$vm/blocked-window/virt.dtb"
	pcie=$(sed -n 's/^\t\(pcie@[0-9a-f]*\) {$/\1/p' "$dts" | head -n 1)
	[ -n "$pcie" ] || { echo "vm: no PCIe host bridge in QEMU's device tree" >&2; return 1; }
	cat >>"$dts" <<-EOF

	/ {
		reserved-memory {
			#address-cells = <2>;
			#size-cells = <2>;
			ranges;

			/* no reg: IOVAs the device must not use */
			msi_block: iova-reservation {
				iommu-addresses = <&rng 0x0 0x0 0x8000000 0x0 0x100000>;
			};

			/* reg == iommu-addresses: mapped 1:1 in the domain */
			msi_direct: direct-window@8000000 {
				reg = <0x0 0x8000000 0x0 0x100000>;
				iommu-addresses = <&rng2 0x0 0x0 0x8000000 0x0 0x100000>;
			};
		};
	};

	&{/$pcie} {
		rng: virtio-rng@3,0 {
			reg = <0x1800 0x0 0x0 0x0 0x0>;
			memory-region = <&msi_block>;
		};

		rng2: virtio-rng@4,0 {
			reg = <0x2000 0x0 0x0 0x0 0x0>;
			memory-region = <&msi_direct>;
		};
	};
	EOF
	dtc -q -I dts -O dtb -o "$out" "$dts"
}

# realvmm_boot INITRD: the real-VMM boot (harness/realvmm-l1.c runs
# Debian's QEMU in this guest); its verdict.  One edu that can reach L2's
# RAM (above 1 GiB; edu's default mask is 28 bits) and a virtio-rng for
# L2's own driver; the guest runs at EL2 for KVM.
realvmm_args() {
	[[ $machine = *virtualization=on* ]] || machine+=,virtualization=on
	qemu_args=(
		-global arm-smmuv3.stage=nested
		-cpu max,pauth-impdef=on -smp 2 -m 3G
		-display none -no-reboot -nic none
		-device edu,dma_mask=0xffffffffff
		-device virtio-rng-pci,disable-legacy=on,iommu_platform=on
		-kernel "$image" -initrd "$1"
	)
}

realvmm_boot() {
	local dir=$vm/realvmm
	realvmm_args "$1"
	qemu_args+=(-monitor none)
	echo "vm: booting the series as L1 of the real-VMM suite ($(tr '\n' ' ' <"$build/realvmm/versions")), timeout ${timeout}s"
	run_boot "$dir" "$append kunit.enable=0 -- test /plan.realvmm"
	mode=test results "$dir" "$top/harness/expected.realvmm"
}

if [ "$mode" = realvmm ]; then
	realvmm_boot "$initrd"
	exit
fi

# make bench: one boot of harness/bench.sh's alternation (BENCH_DIR: its
# logs); kmemleak off (its per-allocation bookkeeping is not the series'
# cost), no entropy-feeding reads of the virtio-rng in the background, of
# KUnit only msi-iommu's bench suite (the base has none); the same command
# line for the base and the series.  BENCH_TRACE=1: the counting boot,
# where QEMU logs every SMMU command it executes (smmu.log) and the program
# only counts what an unmap on a nest parent invalidates (BENCH_ONLY=cmds),
# timing nothing: the log slows what it records.
if [ "$mode" = bench ]; then
	mkdir -p "${BENCH_DIR:?}"
	bench_args=()
	bench_env=
	if [ "${BENCH_TRACE:-0}" = 1 ]; then
		bench_args=(-trace smmuv3_cmdq_opcode -trace smmuv3_range_inval
			    -D "$BENCH_DIR/smmu.log")
		bench_env="BENCH_ONLY=cmds kunit.enable=0"
	fi
	run_boot "$BENCH_DIR" "${append/kmemleak=on/kmemleak=off} rng_core.default_quality=0 kunit.filter_glob=msi-iommu-bench $bench_env -- bench" \
		"${bench_args[@]}"
	exit
fi

# make realvmm-shell: the real-VMM boot's L1, interactive: a shell on this
# terminal (Ctrl-A X quits QEMU), no time limit
if [ "$mode" = shell ]; then
	realvmm_args "$initrd"
	exec qemu-system-aarch64 -M "$machine" "${qemu_args[@]}" \
		-serial mon:stdio -append "$append kunit.enable=0 -- shell"
fi

if [ "$mode" = mainline ]; then
	# Mainline's own selftests (harness/mainline.sh built them into this
	# initramfs); KUnit already ran in make test
	dir=$vm/mainline
	echo "vm: booting the series with $(cat "$build/mainline/version") selftests, timeout ${timeout}s"
	run_boot "$dir" "$append kunit.enable=0 -- test /plan.mainline"
	mode=test results "$dir" "$top/harness/expected.mainline" --fixtures
	exit
fi

echo "vm: booting $(cat "$build/base.desc" 2>/dev/null) + the series ($mode), timeout ${timeout}s"
run_boot "$vm" "$append -- $mode"

if [ "$mode" != test ]; then
	results "$vm" "$top/harness/expected"
	exit
fi
verdict=0
results "$vm" "$top/harness/expected" || verdict=1

# A second, short boot: DMA-API doorbells when firmware blocks the window
dir=$vm/blocked-window
blocked_window_dtb "$dir/blocked.dtb"
echo "vm: booting again with a device tree that blocks the software MSI window for two virtio-rng devices"
run_boot "$dir" "$append kunit.enable=0 -- test /plan.blocked-window" \
	-dtb "$dir/blocked.dtb" \
	-device virtio-rng-pci,disable-legacy=on,iommu_platform=on,addr=4
results "$dir" "$top/harness/expected.blocked-window" || verdict=1

# A third boot: the real-VMM suite (REALVMM_INITRD: the L1 initramfs that
# harness/realvmm.sh built)
if [ -n "${REALVMM_INITRD:-}" ]; then
	realvmm_boot "$REALVMM_INITRD" || verdict=1
fi
exit $verdict
