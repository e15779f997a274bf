# cli_sample.sh: `cgrpo sample` end to end with a tiny model made by a tiny pretraining run:
# subject and reference-PNG modes, the grid's size, byte-identical output for the same arguments,
# guidance and SDE samplers, a pretraining checkpoint as the model, resizing of a reference of
# another size, and one-line exit-2 errors for bad input.
source "$(dirname "$0")/lib_cli.sh"

# PNG width and height from the IHDR chunk (bytes 16..23, big-endian), as "WxH"
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'; }

check "tiny model" "$CGRPO" pretrain --width 16 --depth 1 --heads 2 --batch 2 --steps 4 --warmup 2 --val-samples 4 \
    --log-every 2 --ckpt-every 2 --out "$TMP/run" --quiet
M="$TMP/run/model.safetensors"
"$CGRPO" world list --split test >"$TMP/subjects" 2>/dev/null
cls=$(sed -n 1p "$TMP/subjects" | cut -f2)                    # test subject 0's class word
live_i=$(awk -F'\t' '$3 == "live" {print $1; exit}' "$TMP/subjects")
live_cls=$(awk -F'\t' '$3 == "live" {print $2; exit}' "$TMP/subjects")

check "help" "$CGRPO" sample --help
# subject mode: grid = reference + 3 samples, 32 px cells zoomed 2x (64) with 4 px gaps:
#   width 4 + 4 * (64 + 4) + 4 = 280, height 64 + 2 * 4 = 72
check "sample a test subject" "$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a sks $cls in the snow" \
    --n 3 --seed 5 --steps 4 --zoom 2 --out "$TMP/g1.png"
[ "$(png_size "$TMP/g1.png")" = "280x72" ] && pass "grid size" || fail "grid size" "$(png_size "$TMP/g1.png")"
grep -q "images/s" "$TMP/err" && pass "sampling rate reported" || fail "rate" "$(cat "$TMP/err")"
check "same arguments again" "$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a sks $cls in the snow" \
    --n 3 --seed 5 --steps 4 --zoom 2 --out "$TMP/g2.png" --quiet
cmp -s "$TMP/g1.png" "$TMP/g2.png" && pass "deterministic" || fail "deterministic" "two runs differ"
"$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a sks $cls in the snow" --n 3 --seed 6 --steps 4 \
    --zoom 2 --out "$TMP/g3.png" --quiet 2>/dev/null
cmp -s "$TMP/g1.png" "$TMP/g3.png" && fail "another seed" "same grid" || pass "another seed, another grid"
check "live subject, default n and zoom" "$CGRPO" sample --model "$M" --split test --subject "$live_i" \
    --prompt "a sks $live_cls wearing a santa hat" --steps 3 --out "$TMP/g4.png" --pose 2
[ "$(png_size "$TMP/g4.png")" = "696x144" ] && pass "default grid: 4 samples, zoom 4" || fail "default grid" "$(png_size "$TMP/g4.png")"

# guidance, SDE samplers, and the EMA weights of a pretraining checkpoint
check "guidance" "$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a red sks $cls" --n 2 --steps 3 \
    --cfg-ref 1.5 --cfg-txt 3 --out "$TMP/cfg.png"
grep -q "guidance" "$TMP/err" && pass "guidance reported" || fail "guidance" "$(cat "$TMP/err")"
check "dance SDE" "$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a red sks $cls" --n 2 --steps 3 \
    --sampler dance --out "$TMP/d1.png" --quiet
check "dance SDE again" "$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a red sks $cls" --n 2 --steps 3 \
    --sampler dance --out "$TMP/d2.png" --quiet
cmp -s "$TMP/d1.png" "$TMP/d2.png" && pass "SDE deterministic per seed" || fail "SDE deterministic" "differs"
check "flow SDE" "$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a red sks $cls" --n 2 --steps 3 \
    --sampler flow --eta 0.5 --out "$TMP/f.png" --quiet
check "checkpoint as model" "$CGRPO" sample --model "$TMP/run/ckpt.safetensors" --split test --subject 0 \
    --prompt "a red sks $cls" --n 2 --steps 3 --out "$TMP/ck.png" --quiet
"$CGRPO" sample --model "$M" --split test --subject 0 --prompt "a red sks $cls" --n 2 --steps 3 --out "$TMP/m.png" \
    --quiet 2>/dev/null
cmp -s "$TMP/ck.png" "$TMP/m.png" && pass "checkpoint's EMA weights == model file" || fail "checkpoint EMA" "differs"

# reference mode: the same subject from a PNG gives the same grid; other sizes are resized with a note
"$CGRPO" world render --split test --subject 0 --reference --out "$TMP/ref32.png" 2>/dev/null
check "reference PNG" "$CGRPO" sample --model "$M" --reference "$TMP/ref32.png" --prompt "a sks $cls in the snow" \
    --n 3 --seed 5 --steps 4 --zoom 2 --out "$TMP/r1.png" --quiet
cmp -s "$TMP/g1.png" "$TMP/r1.png" && pass "PNG reference == subject mode" || fail "PNG reference" "differs"
"$CGRPO" world render --split test --subject 0 --reference --size 80 --out "$TMP/ref80.png" 2>/dev/null
check "larger reference" "$CGRPO" sample --model "$M" --reference "$TMP/ref80.png" --prompt "a sks $cls" --n 1 --steps 2 \
    --out "$TMP/r2.png"
grep -q "resized" "$TMP/err" && grep -q "area average" "$TMP/err" && pass "resize note (shrink)" || fail "resize note" "$(cat "$TMP/err")"
"$CGRPO" world render --split test --subject 0 --reference --size 20 --out "$TMP/ref20.png" 2>/dev/null
check "smaller reference" "$CGRPO" sample --model "$M" --reference "$TMP/ref20.png" --prompt "a sks $cls" --n 1 --steps 2 \
    --out "$TMP/r3.png"
grep -q "bilinear" "$TMP/err" && pass "resize note (grow)" || fail "resize note (grow)" "$(cat "$TMP/err")"
"$CGRPO" world grid --split test --first 0 --count 1 --refs 1 --prompts 0 --out "$TMP/wide.png" 2>/dev/null
check "non-square reference" "$CGRPO" sample --model "$M" --reference "$TMP/wide.png" --prompt "a sks $cls" --n 1 \
    --steps 2 --out "$TMP/r4.png"
grep -q "aspect" "$TMP/err" && pass "aspect note" || fail "aspect note" "$(cat "$TMP/err")"

# bad input: exit 2 with one line
S="--split test --subject 0"
check_exit 2 "unknown word" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls in the jungel" --out "$TMP/x.png"
grep -q "jungel" "$TMP/err" && pass "unknown word named" || fail "unknown word" "$(cat "$TMP/err")"
check_exit 2 "prompt of another class" "$CGRPO" sample --model "$M" $S --prompt "a sks zebra" --out "$TMP/x.png"
other=$([ "$cls" = dog ] && echo cat || echo dog)
check_exit 2 "prompt names another class" "$CGRPO" sample --model "$M" $S --prompt "a sks $other" --out "$TMP/x.png"
check_exit 2 "missing model" "$CGRPO" sample --model "$TMP/none.safetensors" $S --prompt "a sks $cls" --out "$TMP/x.png"
head -c 1000 "$M" >"$TMP/trunc.safetensors"
check_exit 2 "truncated model" "$CGRPO" sample --model "$TMP/trunc.safetensors" $S --prompt "a sks $cls" --out "$TMP/x.png"
check_exit 2 "not a model" "$CGRPO" sample --model "$TMP/subjects" $S --prompt "a sks $cls" --out "$TMP/x.png"
check_exit 2 "reference not a PNG" "$CGRPO" sample --model "$M" --reference "$TMP/subjects" --prompt "a sks $cls" --out "$TMP/x.png"
check_exit 2 "missing reference" "$CGRPO" sample --model "$M" --reference "$TMP/none.png" --prompt "a sks $cls" --out "$TMP/x.png"
check_exit 2 "reference and subject" "$CGRPO" sample --model "$M" --reference "$TMP/ref32.png" $S --prompt "a sks $cls" \
    --out "$TMP/x.png"
check_exit 2 "subject without split" "$CGRPO" sample --model "$M" --subject 0 --prompt "a sks $cls" --out "$TMP/x.png"
check_exit 2 "subject out of range" "$CGRPO" sample --model "$M" --split test --subject 30 --prompt "a sks $cls" --out "$TMP/x.png"
check_exit 2 "bad sampler" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls" --sampler euler --out "$TMP/x.png"
check_exit 2 "zero samples" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls" --n 0 --out "$TMP/x.png"
check_exit 2 "zero steps" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls" --steps 0 --out "$TMP/x.png"
check_exit 2 "unknown option" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls" --colour red --out "$TMP/x.png"
check_exit 2 "no --out" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls"
check_exit 2 "unwritable --out" "$CGRPO" sample --model "$M" $S --prompt "a sks $cls" --n 1 --steps 1 --out "$TMP/no/dir/x.png"
[ ! -e "$TMP/x.png" ] && pass "no output after bad input" || fail "no output after bad input" "x.png written"

cli_summary cli_sample
