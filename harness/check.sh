#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict on every patch of the queue and on every new file of
# the series (the overlay) and of the harness, kernel-doc -Wall on the new
# kernel sources, and the self-tests of the result judge and of make
# bench's report.  Any error or
# warning fails.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
cp=$build/linux/scripts/checkpatch.pl
[ -x "$cp" ] || { echo "check: no $cp: run 'make tree' first" >&2; exit 1; }

opts=(--strict --no-tree --quiet --show-types --color=never)
# The harness's own C is userspace: allow what the kernel forbids only
# for kernel code.
user_ignore=SPLIT_STRING,PREFER_KERNEL_TYPES
bad=0 n=0

run() {
	local out
	n=$((n + 1))
	if ! out=$("$cp" "${opts[@]}" "$@" 2>&1) || [ -n "$out" ]; then
		echo "$out"
		bad=$((bad + 1))
	fi
}

while read -r p _; do
	case $p in ''|'#'*) continue ;; esac
	run "$top/patches/$p"
done < <(sed 's/#.*//' "$top/patches/series")

cd "$top"
while IFS= read -r f; do
	case $f in
	harness/*) run --ignore "$user_ignore" -f "$f" ;;
	*) run -f "$f" ;;
	esac
done < <(cd "$top" && for d in arch drivers include tools Documentation harness; do
		[ -d "$d" ] && find "$d" -type f \( -name '*.[ch]' -o -name '*.rst' -o -name Kconfig -o -name Makefile \)
	done | LC_ALL=C sort)

# kernel-doc of every new kernel source file: no warning
kdoc=$build/linux/scripts/kernel-doc
while IFS= read -r f; do
	n=$((n + 1))
	if ! out=$("$kdoc" -none -Wall "$f" 2>&1) || [ -n "$out" ]; then
		echo "$out"
		bad=$((bad + 1))
	fi
done < <(cd "$top" && for d in drivers include; do
		[ -d "$d" ] && find "$d" -type f -name '*.[ch]'
	done | LC_ALL=C sort)

"$top/harness/test-results.sh" || bad=$((bad + 1))
# make bench's report must fail or miss what it should (harness/bench.py)
python3 "$top/harness/bench.py" --self-test || bad=$((bad + 1))

if [ $bad != 0 ]; then
	echo "check: $bad problem(s) (checkpatch --strict and kernel-doc on $n files, judge and bench report self-tests)" >&2
	exit 1
fi
echo "check: checkpatch --strict and kernel-doc -Wall: $n checks clean"
