# cli_world.sh: `cgrpo world` end to end: list, prompts, render, grid, tokens; byte-identical
# PNGs for the same seeds; one-line exit-2 errors for bad input.
source "$(dirname "$0")/lib_cli.sh"

# list: one line per subject, tab-separated index, class, kind, attributes
check "list test split" "$CGRPO" world list --split test
n=$(wc -l <"$TMP/out")
[ "$n" -eq 30 ] && pass "30 test subjects" || fail "30 test subjects" "got $n lines"
awk -F'\t' 'NF != 4 || $1 != NR - 1 || ($3 != "object" && $3 != "live") || $4 !~ /^shape=/ {bad = 1} END {exit bad}' \
    "$TMP/out" && pass "list line format" || fail "list line format" "$(head -n 3 "$TMP/out")"
live=$(awk -F'\t' '$3 == "live"' "$TMP/out" | wc -l)
[ "$live" -eq 15 ] && pass "half of the test subjects are live" || fail "half live" "$live live"
"$CGRPO" world list >"$TMP/all" 2>/dev/null
[ "$(wc -l <"$TMP/all")" -eq 470 ] && pass "list all splits" || fail "list all splits" "$(wc -l <"$TMP/all") lines"
"$CGRPO" world list --split test --subjects-seed 1 >"$TMP/s1"
"$CGRPO" world list --split test --subjects-seed 2 >"$TMP/s2"
cmp -s "$TMP/out" "$TMP/s1" && pass "default subjects seed is 1" || fail "default seed" "differs from seed 1"
cmp -s "$TMP/s1" "$TMP/s2" && fail "another seed" "same subjects" || pass "another seed gives other subjects"

# prompts: the 25 DreamBench prompts with the subject's class word
check "prompts" "$CGRPO" world prompts --split test --subject 0
[ "$(wc -l <"$TMP/out")" -eq 25 ] && pass "25 prompts" || fail "25 prompts" "$(wc -l <"$TMP/out") lines"
cls=$(sed -n 1p "$TMP/s1" | cut -f2)
grep -qx "a sks $cls in the jungle" "$TMP/out" && grep -qx "a cube shaped sks $cls" "$TMP/out" &&
    pass "prompt wording" || fail "prompt wording" "$(head -n 2 "$TMP/out")"

# render: references and targets, byte-identical for the same seeds
live_i=$(awk -F'\t' '$3 == "live" {print $1; exit}' "$TMP/s1")
live_cls=$(awk -F'\t' '$3 == "live" {print $2; exit}' "$TMP/s1")
check "render reference" "$CGRPO" world render --split test --subject 0 --reference --seed 0 --out "$TMP/r1.png" \
    --mask "$TMP/m1.png"
check "render reference again" "$CGRPO" world render --split test --subject 0 --reference --out "$TMP/r2.png"
cmp -s "$TMP/r1.png" "$TMP/r2.png" && pass "reference PNG byte-identical" || fail "reference PNG" "differs"
check "render target" "$CGRPO" world render --split test --subject "$live_i" --prompt "a sks $live_cls wearing a santa hat" \
    --seed 7 --out "$TMP/t1.png" --mask "$TMP/tm1.png"
check "render target again" "$CGRPO" world render --split test --subject "$live_i" \
    --prompt "a sks $live_cls wearing a santa hat" --seed 7 --out "$TMP/t2.png" --mask "$TMP/tm2.png"
cmp -s "$TMP/t1.png" "$TMP/t2.png" && cmp -s "$TMP/tm1.png" "$TMP/tm2.png" && pass "target PNG byte-identical" ||
    fail "target PNG" "differs"
check "render another seed" "$CGRPO" world render --split test --subject "$live_i" \
    --prompt "a sks $live_cls wearing a santa hat" --seed 8 --out "$TMP/t3.png"
cmp -s "$TMP/t1.png" "$TMP/t3.png" && fail "another seed" "same PNG" || pass "another render seed, another PNG"
check "render at 64" "$CGRPO" world render --split test --subject 1 --prompt "a purple sks $live_cls" --size 64 \
    --out "$TMP/t64.png"
check "render other seed's subject" "$CGRPO" world render --subjects-seed 2 --split train --subject 399 --reference \
    --out "$TMP/r3.png"

# grid: a contact sheet
check "grid" "$CGRPO" world grid --split test --first 0 --count 2 --out "$TMP/grid.png"
[ -s "$TMP/grid.png" ] && pass "grid written" || fail "grid written" "empty"
check "tokens" "$CGRPO" world tokens --prompt "a sks dog in the jungle"
[ "$(wc -w <"$TMP/out")" -eq 16 ] && pass "16 token ids" || fail "16 token ids" "$(cat "$TMP/out")"
check "help" "$CGRPO" world --help

# bad input: exit 2 with one line on stderr
check_exit 2 "unknown word" "$CGRPO" world render --split test --subject 0 --prompt "a sks $cls in the jungel" --out "$TMP/x.png"
grep -q "jungel" "$TMP/err" && grep -q "jungle" "$TMP/err" && pass "unknown word named with a suggestion" ||
    fail "unknown word message" "$(cat "$TMP/err")"
check_exit 2 "wrong class" "$CGRPO" world render --split test --subject 0 --prompt "a sks zebra" --out "$TMP/x.png"
check_exit 2 "subject out of range" "$CGRPO" world render --split test --subject 30 --reference --out "$TMP/x.png"
check_exit 2 "negative subject" "$CGRPO" world prompts --split test --subject -1
check_exit 2 "bad split" "$CGRPO" world list --split testing
check_exit 2 "unwritable output" "$CGRPO" world render --split test --subject 0 --reference --out /nonexistent/dir/x.png
check_exit 2 "unwritable mask" "$CGRPO" world render --split test --subject 0 --reference --out "$TMP/x.png" \
    --mask /nonexistent/dir/m.png
check_exit 2 "size 0" "$CGRPO" world render --split test --subject 0 --reference --size 0 --out "$TMP/x.png"
check_exit 2 "size 100000" "$CGRPO" world render --split test --subject 0 --reference --size 100000 --out "$TMP/x.png"
check_exit 2 "size not a number" "$CGRPO" world render --split test --subject 0 --reference --size big --out "$TMP/x.png"
check_exit 2 "no prompt nor reference" "$CGRPO" world render --split test --subject 0 --out "$TMP/x.png"
check_exit 2 "both prompt and reference" "$CGRPO" world render --split test --subject 0 --reference --prompt "a sks $cls" \
    --out "$TMP/x.png"
check_exit 2 "missing --out" "$CGRPO" world render --split test --subject 0 --reference
check_exit 2 "unknown option" "$CGRPO" world list --colour red
check_exit 2 "unknown subcommand" "$CGRPO" world paint
check_exit 2 "no subcommand" "$CGRPO" world
check_exit 2 "grid first out of range" "$CGRPO" world grid --split test --first 30 --out "$TMP/x.png"
check_exit 2 "tokens unknown word" "$CGRPO" world tokens --prompt "a sks dragon"
check_exit 2 "object prompt for a live subject" "$CGRPO" world render --split test --subject "$live_i" \
    --prompt "a sks $live_cls on top of a mirror" --out "$TMP/x.png"
cli_summary cli_world
