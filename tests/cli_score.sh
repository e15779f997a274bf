# cli_score.sh: `cgrpo score` on tiny models made here (the shipped weights' quality is not
# tested): one JSON object per image with every reward and judge, SubjectBench subjects in place
# of PNGs, and one-line exit-2 errors for bad input (missing file, wrong size, unknown word, ...).
source "$(dirname "$0")/lib_cli.sh"

M="$TMP/models"
tiny_encoders "$M" "$TMP"

# a reference photo (with its mask) and two targets of test subject 1 (a live subject)
cls=$("$CGRPO" world list --split test | awk -F'\t' '$1 == 1 {print $2}')
P="a sks $cls in the snow"
"$CGRPO" world render --split test --subject 1 --reference --out "$TMP/ref.png" --mask "$TMP/mask.png"
"$CGRPO" world render --split test --subject 1 --prompt "$P" --seed 3 --out "$TMP/snow.png"
"$CGRPO" world render --split test --subject 1 --prompt "a sks $cls in the jungle" --seed 3 --out "$TMP/jungle.png"

check "score two PNGs" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "$P" "$TMP/snow.png" "$TMP/jungle.png"
cp "$TMP/out" "$TMP/two.jsonl"
[ "$(wc -l <"$TMP/two.jsonl")" -eq 2 ] && pass "one line per image" || fail "one line per image" "$(cat "$TMP/two.jsonl")"
NUM='-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?'
LINE="^\\{\"image\":\"[^\"]+\",\"id\":$NUM,\"prompt\":$NUM,\"judge-id\":$NUM,\"judge-id-plain\":$NUM,\"judge-clip-i\":$NUM,\"judge-clip-t\":$NUM,\"attr\":$NUM,\"id-pix\":$NUM,\"attr_pred\":\\{\"scene\":\"[a-z_]+\",\"accessory\":\"[a-z_]+\",\"property\":\"[a-z_]+\",\"class\":\"[a-z ]+\"\\}\\}\$"
bad=$(grep -Evc "$LINE" "$TMP/two.jsonl")
[ "$bad" -eq 0 ] && pass "JSON line format" || fail "JSON line format" "$(head -n 1 "$TMP/two.jsonl")"
sed -n 1p "$TMP/two.jsonl" | grep -q "\"image\":\"$TMP/snow.png\"" && sed -n 2p "$TMP/two.jsonl" | grep -q "jungle.png" &&
    pass "lines in argument order" || fail "argument order" "$(cut -c 1-80 "$TMP/two.jsonl")"
# similarities are 100 x cosine, attr 100 x a probability
awk -F'[:,{}]' '{for (i = 1; i < NF; i++) if ($i ~ /"(id|prompt|judge-[a-z-]+|attr)"$/) { v = $(i + 1) + 0;
    if (v < -100.0001 || v > 100.0001 || ($i == "\"attr\"" && v < 0)) bad = 1 }} END {exit bad}' "$TMP/two.jsonl" &&
    pass "scores within [-100, 100]" || fail "score range" "$(head -n 1 "$TMP/two.jsonl")"

# SubjectBench subjects in place of PNGs give the same numbers (up to 8-bit rounding of the PNGs)
check "score subjects" "$CGRPO" score --models "$M" --reference subject:test:1 --prompt "$P" subject:test:1:1:3
sub=$(grep -o '"id":[^,]*' "$TMP/out" | cut -d: -f2)
png=$(sed -n 1p "$TMP/two.jsonl" | grep -o '"id":[^,]*' | cut -d: -f2)
check "score PNG reference with its mask" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --mask "$TMP/mask.png" \
    --prompt "$P" "$TMP/snow.png"
pngm=$(grep -o '"id":[^,]*' "$TMP/out" | cut -d: -f2)
# (without --mask the mask is estimated from the background: close, not equal, see test_reward.c)
awk -v a="$sub" -v b="$pngm" 'BEGIN {d = a - b; exit !(d < 0.5 && d > -0.5)}' &&
    pass "subject spec = PNG with its mask (id $sub vs $pngm)" || fail "subject spec vs PNG" "id $sub vs $pngm"
check "subset of rewards" "$CGRPO" score --models "$M" --rewards prompt,id --reference subject:test:1 --prompt "$P" "$TMP/snow.png"
grep -Eq "^\\{\"image\":\"[^\"]+\",\"prompt\":$NUM,\"id\":$NUM\\}\$" "$TMP/out" && pass "only the listed rewards, in order" ||
    fail "subset" "$(cat "$TMP/out")"

# bad input
"$CGRPO" world render --split test --subject 1 --prompt "$P" --size 64 --out "$TMP/big.png"
check_exit 2 "missing image file" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "$P" "$TMP/nope.png"
check_exit 2 "missing reference file" "$CGRPO" score --models "$M" --reference "$TMP/nope.png" --prompt "$P" "$TMP/snow.png"
check_exit 2 "wrong image size" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "$P" "$TMP/big.png"
grep -q "64x64" "$TMP/err" && pass "size message names the size" || fail "size message" "$(cat "$TMP/err")"
check_exit 2 "unknown word" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "a sks $cls in the jungel" "$TMP/snow.png"
grep -q "jungel" "$TMP/err" && grep -q "jungle" "$TMP/err" && pass "unknown word named with a suggestion" ||
    fail "unknown word message" "$(cat "$TMP/err")"
check_exit 2 "not a SubjectBench prompt" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "sks in the snow" "$TMP/snow.png"
check_exit 2 "no prompt" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" "$TMP/snow.png"
check_exit 2 "no reference" "$CGRPO" score --models "$M" --prompt "$P" "$TMP/snow.png"
check_exit 2 "no images" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "$P"
check_exit 2 "unknown reward" "$CGRPO" score --models "$M" --rewards id,dino --reference "$TMP/ref.png" --prompt "$P" "$TMP/snow.png"
check_exit 2 "missing models" "$CGRPO" score --models "$TMP/none" --reference "$TMP/ref.png" --prompt "$P" "$TMP/snow.png"
check_exit 2 "subject out of range" "$CGRPO" score --models "$M" --reference subject:test:30 --prompt "$P" "$TMP/snow.png"
check_exit 2 "bad split" "$CGRPO" score --models "$M" --reference subject:tset:1 --prompt "$P" "$TMP/snow.png"
check_exit 2 "template out of range" "$CGRPO" score --models "$M" --reference subject:test:1 --prompt "$P" subject:test:1:25
check_exit 2 "unknown option" "$CGRPO" score --models "$M" --refrence "$TMP/ref.png" --prompt "$P" "$TMP/snow.png"
echo "not a png" >"$TMP/junk.png"
check_exit 2 "not a PNG" "$CGRPO" score --models "$M" --reference "$TMP/ref.png" --prompt "$P" "$TMP/junk.png"
check "help" "$CGRPO" score --help

cli_summary cli_score
