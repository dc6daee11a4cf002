#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turn the commits of $BUILD/linux (base..HEAD) back into the project:
# files the base lacks go to the overlay at their in-tree paths, everything
# else becomes patches/NNNN-*.patch (git format-patch), and patches/series
# names, for each patch, the new files its commit adds.  Then the tree is
# reassembled from the queue and checked to be the same tree.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/linux
overlay_dirs="arch drivers include tools Documentation"

die() { echo "export: $*" >&2; exit 1; }
G() { git -C "$tree" "$@"; }

[ -d "$tree/.git" ] || die "no $tree: run 'make tree' first"
[ -z "$(G status --porcelain --untracked-files=no)" ] ||
	die "$tree has uncommitted changes: commit them first"

mapfile -t newfiles < <(G diff --name-only --diff-filter=A base HEAD)
declare -A isnew=()
excl=()
for f in "${newfiles[@]}"; do
	case ${f%%/*} in
	arch|drivers|include|tools|Documentation) ;;
	*) die "$f: new files must live under $overlay_dirs" ;;
	esac
	isnew[$f]=1
	excl+=(":(exclude)$f")
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
{
	sed -n '/^#/p' "$top/patches/series"
} >"$out/series"
for c in $(G rev-list --reverse base..HEAD); do
	n=$((n + 1))
	adds=()
	for f in $(G diff-tree --no-commit-id --name-only --diff-filter=A -r "$c"); do
		[ -n "${isnew[$f]:-}" ] && adds+=("$f")
	done
	for f in $(G diff-tree --no-commit-id --name-only --diff-filter=M -r "$c"); do
		if [ -n "${isnew[$f]:-}" ]; then
			echo "export: note: $(G log -1 --format=%s "$c") changes $f, a new file; its final content goes with the patch that adds it" >&2
		fi
	done
	p=$(G format-patch -1 "$c" --start-number=$n --zero-commit \
		--no-signature -o "$out" -- . "${excl[@]}")
	[ -n "$p" ] && [ -s "$p" ] ||
		die "commit '$(G log -1 --format=%s "$c")' only adds new files: hook them into the build in the same commit"
	# Blank context lines as empty lines (git apply takes both), so that
	# checkpatch, which reads a git-tracked .patch as a source file when
	# given its relative path, sees no trailing whitespace in them.
	awk '/^diff --git /{d=1} d && $0 == " " {print ""; next} {print}' \
		"$p" >"$p.tmp" && mv "$p.tmp" "$p"
	echo "$(basename "$p")${adds[*]:+ ${adds[*]}}" >>"$out/series"
done

# Replace the queue and the overlay.
rm -f "$top"/patches/*.patch
cp "$out"/*.patch "$top/patches/" 2>/dev/null || true
cp "$out/series" "$top/patches/series"
for d in $overlay_dirs; do
	[ -d "$top/$d" ] || continue
	(cd "$top" && find "$d" -type f) | while read -r f; do
		[ -n "${isnew[$f]:-}" ] || { echo "export: removing $f (not in the tree)"; rm -f "$top/$f"; }
	done
done
# An overlay file edited since the last assembly wins over an unchanged
# tree copy; edited on both sides is a conflict.
assembled=$(G rev-parse -q --verify refs/series/assembled || true)
for f in "${newfiles[@]}"; do
	mkdir -p "$top/$(dirname "$f")"
	cmp -s "$tree/$f" "$top/$f" && continue
	if [ -n "$assembled" ] && [ -f "$top/$f" ] &&
	   ! G show "$assembled:$f" 2>/dev/null | cmp -s - "$top/$f"; then
		if G show "$assembled:$f" 2>/dev/null | cmp -s - "$tree/$f"; then
			echo "export: keeping $f as edited in the overlay"
			continue
		fi
		die "$f was edited both in the overlay and in $tree"
	fi
	cp -p "$tree/$f" "$top/$f"
	echo "export: $f"
done

old=$(G rev-parse HEAD)
FORCE=1 "$top/harness/mktree.sh" >/dev/null
changed=$(G diff --name-only "$old" HEAD)
for f in $changed; do
	[ -n "${isnew[$f]:-}" ] ||
		die "reassembled tree differs from the exported one in $f (a bug)"
done
echo "export: $n patches in patches/series"
