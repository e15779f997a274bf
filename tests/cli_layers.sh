#!/usr/bin/env bash
# cli_layers.sh: the architecture as docs/design.md states it. (1) Every `#include "dir/..."` edge
# between src/ directories is one that the layer table of docs/design.md (between the
# `<!-- layers -->` markers) allows, and that table has no cycle. (2) No two files of src/ call each
# other: from the objects of the build under test (nm), file A uses a symbol that file B defines
# and B uses one of A's.
set -u
source "$(dirname "$0")/lib_cli.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(dirname "$CGRPO")
table=$(sed -n '/<!-- layers -->/,/<!-- \/layers -->/p' "$root/docs/design.md" | grep -E '^[a-z]+ +->' )
[ -n "$table" ] && pass "docs/design.md has the layer table" || fail "layer table" "no <!-- layers --> block in docs/design.md"
allowed() { printf '%s\n' "$table" | awk -v a="$1" -v b="$2" '$1 == a { for (i = 3; i <= NF; i++) if ($i == b) f = 1 } END { exit !f }'; }
bad=""
for f in "$root"/src/*/*.[ch]; do
    d=$(basename "$(dirname "$f")")
    for t in $(grep -o '#include "[a-z]*/' "$f" | sed 's/#include "//; s/\///' | sort -u); do
        [ "$t" = "$d" ] && continue
        allowed "$d" "$t" || bad="$bad ${f#$root/}->$t"
    done
done
[ -z "$bad" ] && pass "every include edge is allowed by the layer table" || fail "include edges not in the table" "$bad"
# the table itself is acyclic: repeatedly remove directories with no remaining dependencies
left=$(printf '%s\n' "$table" | awk '{print $1}')
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
    next=""
    for d in $left; do
        deps=$(printf '%s\n' "$table" | awk -v a="$d" '$1 == a { for (i = 3; i <= NF; i++) print $i }')
        keep=0
        for x in $deps; do printf '%s\n' $left | grep -qx "$x" && [ "$x" != "$d" ] && keep=1; done
        [ $keep -eq 1 ] && next="$next $d"
    done
    left=$next
done
[ -z "$(echo $left)" ] && pass "the layer table has no cycle" || fail "layer table cycle" "among:$left"
# file-level calls
objs=$(ls "$build"/src/*/*.o 2>/dev/null)
if [ -z "$objs" ]; then fail "objects" "none under $build/src"; else
    for o in $objs; do
        n=${o#$build/}; n=${n%.o}
        nm -g --defined-only "$o" 2>/dev/null | awk -v f="$n" 'NF == 3 { print "D", f, $3 }'
        nm -u "$o" 2>/dev/null | awk -v f="$n" '{ print "U", f, $NF }'
    done >"$TMP/syms"
    awk '$1 == "D" { def[$3] = $2 } $1 == "U" { use[NR] = $2 " " $3 }
         END { for (k in use) { split(use[k], a, " "); if (a[2] in def && def[a[2]] != a[1]) print a[1], def[a[2]] } }' "$TMP/syms" |
        sort -u >"$TMP/calls"
    mutual=$(awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, a, " "); if ((a[2] " " a[1]) in e && a[1] < a[2]) print a[1] "<->" a[2] } }' "$TMP/calls")
    [ "$(wc -l <"$TMP/calls")" -gt 50 ] && pass "file call graph read ($(wc -l <"$TMP/calls") edges)" || fail "call graph" "only $(wc -l <"$TMP/calls") edges"
    [ -z "$mutual" ] && pass "no two files of src/ call each other" || fail "files that call each other" "$(echo $mutual)"
fi
cli_summary cli_layers
