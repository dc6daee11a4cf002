#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble $BUILD/linux: the 6.12.y base as one commit, then one commit per
# entry of patches/series.  The new files of the series (the overlay under
# drivers/, include/, tools/, Documentation/, arch/) are added by the patch
# whose series line names them, so each commit is a complete patch.
#
# The commits are built in a private index with fixed dates, so the same
# inputs always give the same commit ids and an unchanged queue leaves the
# tree untouched.  Only files that differ are rewritten on a change, which
# keeps incremental kernel builds incremental.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
series=$top/patches/series
overlay_dirs="arch drivers include tools Documentation"

die() { echo "mktree: $*" >&2; exit 1; }

# ---- the base -------------------------------------------------------------
"$top/harness/base.sh" >/dev/null
base_id=$(cat "$build/base.id")
base_desc=$(cat "$build/base.desc")

G() { git -C "$tree" "$@"; }

if [ ! -d "$tree/.git" ] || [ "$(G config --get series.baseid || true)" != "$base_id" ]; then
	echo "mktree: importing base $base_desc into $tree (once per base)"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	"$top/harness/base.sh" --extract "$tree.tmp"
	git -C "$tree.tmp" init -q
	git -C "$tree.tmp" config core.autocrlf false
	git -C "$tree.tmp" config gc.auto 0
	git -C "$tree.tmp" add -A -f .
	GIT_AUTHOR_NAME="base" GIT_AUTHOR_EMAIL="base@localhost" \
	GIT_COMMITTER_NAME="base" GIT_COMMITTER_EMAIL="base@localhost" \
	GIT_AUTHOR_DATE="@0 +0000" GIT_COMMITTER_DATE="@0 +0000" \
		git -C "$tree.tmp" commit -q -m "Base: $base_desc"
	git -C "$tree.tmp" tag base
	git -C "$tree.tmp" config series.baseid "$base_id"
	mv "$tree.tmp" "$tree"
fi

# ---- the overlay: new files and the patch that adds each ------------------
declare -A claim=()
mapfile -t newfiles < <(cd "$top" && for d in $overlay_dirs; do
	[ -d "$d" ] && find "$d" -type f ! -name '*~' ! -name '.*.swp'
done | LC_ALL=C sort)

for f in "${newfiles[@]}"; do
	if G cat-file -e "base:$f" 2>/dev/null; then
		die "$f exists in the base: changes to upstream files belong in the patch queue, not in the overlay"
	fi
done

[ -f "$series" ] || die "no $series"
patches=()
declare -A adds=()
while read -r p files; do
	case $p in ''|'#'*) continue ;; esac
	[ -f "$top/patches/$p" ] || die "patches/series names $p, which does not exist"
	patches+=("$p")
	adds[$p]=""
	for f in $files; do
		[ -f "$top/$f" ] || die "series line of $p names $f, which is not in the overlay"
		[ -z "${claim[$f]:-}" ] || die "$f is claimed by both ${claim[$f]} and $p"
		claim[$f]=$p
		adds[$p]+=" $f"
	done
done < <(sed 's/#.*//' "$series")

for f in "${newfiles[@]}"; do
	[ -n "${claim[$f]:-}" ] || die "new file $f is not added by any patch: name it on the series line of the patch that introduces it"
done

# ---- build the commits in a private index ---------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_INDEX_FILE=$work/index
G read-tree base
parent=$(G rev-parse base)
n=0
for p in "${patches[@]}"; do
	n=$((n + 1))
	pf=$top/patches/$p
	G mailinfo -u "$work/msg" "$work/diff" <"$pf" >"$work/info" ||
		die "$p: not a git format-patch file"
	subject=$(sed -n 's/^Subject: //p' "$work/info")
	author=$(sed -n 's/^Author: //p' "$work/info")
	email=$(sed -n 's/^Email: //p' "$work/info")
	date=$(sed -n 's/^Date: //p' "$work/info")
	[ -n "$subject" ] && [ -n "$author" ] && [ -n "$date" ] ||
		die "$p: missing Subject, From or Date header"
	grep -q '^Signed-off-by: ' "$work/msg" || die "$p: no Signed-off-by"
	if [ -s "$work/diff" ]; then
		for f in $(G apply --numstat "$work/diff" | cut -f3-); do
			[ -z "${claim[$f]:-}" ] ||
				die "$p changes $f, a new file of the series: edit it in the overlay instead"
		done
		(cd "$tree" && git apply --cached "$work/diff") 2>"$work/err" || {
			cat "$work/err" >&2
			die "patch $n ($p) does not apply to $base_desc"
		}
	fi
	for f in ${adds[$p]}; do
		mode=100644
		[ -x "$top/$f" ] && mode=100755
		blob=$(G hash-object -w "$top/$f")
		G update-index --add --cacheinfo "$mode,$blob,$f"
	done
	t=$(G write-tree)
	{ printf '%s\n\n' "$subject"; cat "$work/msg"; } >"$work/commit-msg"
	parent=$(GIT_AUTHOR_NAME="$author" GIT_AUTHOR_EMAIL="$email" \
		 GIT_AUTHOR_DATE="$date" GIT_COMMITTER_NAME="$author" \
		 GIT_COMMITTER_EMAIL="$email" GIT_COMMITTER_DATE="$date" \
		 G commit-tree "$t" -p "$parent" -F "$work/commit-msg")
done
unset GIT_INDEX_FILE

# ---- move the work tree to the new head -----------------------------------
head=$(G rev-parse HEAD)
last=$(G rev-parse -q --verify refs/series/assembled || true)
if [ "$head" = "$parent" ]; then
	G update-ref refs/series/assembled "$parent"
	if [ -n "$(G status --porcelain --untracked-files=no)" ]; then
		echo "mktree: note: $tree has uncommitted changes (kept)"
	fi
	echo "mktree: $tree is up to date ($n patches on $base_desc)"
	exit 0
fi
if [ "${FORCE:-0}" != 1 ]; then
	if [ -n "$last" ] && [ "$head" != "$last" ]; then
		die "$tree has commits made there (HEAD is not the assembled series): run 'make export' to bring them into the queue, or FORCE=1 to drop them"
	fi
	if [ -n "$(G status --porcelain --untracked-files=no)" ]; then
		die "$tree has uncommitted changes: commit them and run 'make export', or FORCE=1 to drop them"
	fi
fi
G update-ref refs/series/assembled "$parent"
G checkout -q -f -B series "$parent"
echo "mktree: $tree = $base_desc + $n patches"
