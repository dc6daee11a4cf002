#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of harness/results.py: a clean run must pass, and each way a
# run can go wrong must fail it.  Run by `make check`.

set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0

cat >"$t/expected" <<'X'
suite tap alpha
suite ktap kunit-a
skip alpha alpha.hw_only needs real hardware
X

good_results() {
	cat <<'X'
##SUITE ktap kunit-a
KTAP version 1
1..1
    KTAP version 1
    # Subtest: kunit-a
    1..2
    ok 1 case_one
    ok 2 case_two
ok 1 kunit-a

##END kunit-a rc=0 ms=0
##SUITE tap alpha
TAP version 13
1..3
##T 10
ok 1 alpha.one
##T 20
ok 2 alpha.two
##T 30
ok 3 alpha.hw_only # SKIP no device
##END alpha rc=0 ms=30
##KMEMLEAK 0
##DONE
X
}

judge() { # name expected-exit console-file results-file
	python3 "$top/harness/results.py" --expect "$t/expected" \
		--console "$3" --results "$4" >"$t/out" 2>&1
	local rc=$?
	if { [ "$2" = 0 ] && [ $rc != 0 ]; } || { [ "$2" != 0 ] && [ $rc = 0 ]; }; then
		echo "test-results: FAIL: $1 (exit $rc)"; cat "$t/out"
		fails=$((fails + 1))
	fi
}

echo "[    1.0] booting" >"$t/clean.log"
good_results >"$t/good"
judge "clean run passes" 0 "$t/clean.log" "$t/good"
grep -q '^4 passed, 0 failed, 1 skipped$' "$t/out" ||
	{ echo "test-results: FAIL: summary line"; cat "$t/out"; fails=$((fails + 1)); }

for splat in "WARNING: CPU: 0 PID: 1 at drivers/iommu/x.c:1 f+0x1/0x2" \
	     "BUG: KASAN: slab-use-after-free in f+0x1/0x2" \
	     "UBSAN: array-index-out-of-bounds in x.c:1:2" \
	     "WARNING: possible circular locking dependency detected" \
	     "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)" \
	     "Internal error: Oops: 0000000096000004 [#1] SMP" \
	     "Kernel panic - not syncing: Fatal exception" \
	     "INFO: task kworker/0:1:12 blocked for more than 120 seconds."; do
	{ echo "[    1.0] booting"; echo "[    2.0] $splat"; } >"$t/splat.log"
	judge "splat: $splat" 1 "$t/splat.log" "$t/good"
done

good_results | sed 's/^ok 2 alpha.two/not ok 2 alpha.two/' >"$t/r"
judge "a failed test" 1 "$t/clean.log" "$t/r"
good_results | sed 's/^    ok 2 case_two/    not ok 2 case_two/' >"$t/r"
judge "a failed KUnit case" 1 "$t/clean.log" "$t/r"
good_results | sed 's/^ok 2 alpha.two/ok 2 alpha.two # SKIP why not/' >"$t/r"
judge "an unexpected skip" 1 "$t/clean.log" "$t/r"
good_results | sed '/^ok 3 /d' >"$t/r"
judge "fewer results than planned" 1 "$t/clean.log" "$t/r"
good_results | sed '/^##END alpha/d;/^##KMEMLEAK/d;/^##DONE/d' >"$t/r"
judge "a suite that did not finish" 1 "$t/clean.log" "$t/r"
good_results | sed '/^##SUITE tap alpha/,/^##END alpha/d' >"$t/r"
judge "a suite that did not run" 1 "$t/clean.log" "$t/r"
good_results | sed 's/^##END alpha rc=0/##END alpha rc=139/' >"$t/r"
judge "a crashed program" 1 "$t/clean.log" "$t/r"
good_results | sed 's/^##KMEMLEAK 0/##KMEMLEAK 120\nunreferenced object 0xffff (size 64):/' >"$t/r"
judge "a kmemleak report" 1 "$t/clean.log" "$t/r"

good_results | sed 's/^ok 2 alpha.two/ok 2 alpha.two # XFAIL known bug/' >"$t/r"
judge "an expected failure (XFAIL) not listed" 1 "$t/clean.log" "$t/r"

# Mainline's suite: features the series does not carry
cp "$t/expected" "$t/expected.plain"
echo "notcarried alpha alpha.pasid_* PASID attach: not in the series" >>"$t/expected"
good_results | sed 's/^ok 2 alpha.two/not ok 2 alpha.pasid_attach/' >"$t/r"
judge "a failure of a not-carried feature" 0 "$t/clean.log" "$t/r"
grep -q '^3 passed, 0 failed, 1 skipped, 1 not carried$' "$t/out" ||
	{ echo "test-results: FAIL: not-carried summary line"; cat "$t/out"; fails=$((fails + 1)); }
good_results | sed 's/^ok 2 alpha.two/ok 2 alpha.pasid_attach # SKIP no pasid/' >"$t/r"
judge "a skip of a not-carried feature" 0 "$t/clean.log" "$t/r"
judge "a stale notcarried entry" 1 "$t/clean.log" "$t/good"
good_results | sed 's/^ok 2 alpha.two/not ok 2 alpha.pasid_attach/;s/^ok 1 alpha.one/not ok 1 alpha.one/' >"$t/r"
judge "a failure beside a not-carried one" 1 "$t/clean.log" "$t/r"
cp "$t/expected.plain" "$t/expected"

if [ $fails != 0 ]; then
	echo "test-results: $fails case(s) judged wrongly" >&2
	exit 1
fi
echo "test-results: the judge passes a clean run and fails all 19 broken ones"
