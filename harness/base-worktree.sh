#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# harness/base-worktree.sh DIR: DIR becomes (or stays) a worktree of the
# assembled tree at its "base" tag, the unpatched base, for the checks and
# the benchmark that compare the series with it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
dir=$1

# A worktree whose repository was imported again (a new base) is stale
if [ -d "$dir" ] &&
   ! git -C "$dir" rev-parse --verify -q "$(git -C "$tree" rev-parse base)^{commit}" >/dev/null 2>&1; then
	rm -rf "$dir"
fi
if [ ! -d "$dir" ]; then
	git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$dir" base
else
	git -C "$dir" checkout -q --detach "$(git -C "$tree" rev-parse base)"
fi
