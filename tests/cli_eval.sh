# cli_eval.sh: `cgrpo eval` end to end with a tiny model made by a tiny pretraining run and the
# shipped judges of models/: the output files, byte-identical results for the same command, another
# subjects seed, a subset reproducing the larger run's images, the baseline comparison, a pretraining
# checkpoint as the model, and one-line exit-2 errors for bad input.
source "$(dirname "$0")/lib_cli.sh"

# PNG width and height from the IHDR chunk (bytes 16..23, big-endian), as "WxH"
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'; }

check "tiny model" "$CGRPO" pretrain --width 16 --depth 1 --heads 2 --batch 2 --steps 4 --warmup 2 --val-samples 4 \
    --log-every 2 --ckpt-every 2 --out "$TMP/run" --quiet
M="$TMP/run/model.safetensors"
E=(--subjects 3 --prompts 0,10,20 --images-per-prompt 2 --steps 2)

check "help" "$CGRPO" eval --help
grep -q -- "--images-per-prompt" "$TMP/out" && pass "help lists the options" || fail "help" "$(head -3 "$TMP/out")"
check "eval" "$CGRPO" eval --model "$M" --out "$TMP/a" "${E[@]}"
cp "$TMP/out" "$TMP/a.stdout"
for f in results.json images.jsonl grid_scene.png grid_accessory.png grid_property.png grid_all.png; do
    [ -s "$TMP/a/$f" ] && pass "writes $f" || fail "writes $f" "missing"
done
# test subjects 0..2 of seed 1: object, live, object. Scene grid: 3 rows, 4 images (objects: templates 0, 10 x 2)
# of 64 px cells with 4 px gaps after a reference column: width 4 + 64 + 12 + 4 * 68 = 352, height 4 + 3 * 68 = 208
[ "$(png_size "$TMP/a/grid_scene.png")" = "352x208" ] && pass "scene grid size" || fail "scene grid" "$(png_size "$TMP/a/grid_scene.png")"
[ "$(png_size "$TMP/a/grid_accessory.png")" = "216x72" ] && pass "accessory grid: the live subject only" ||
    fail "accessory grid" "$(png_size "$TMP/a/grid_accessory.png")"
[ "$(wc -l <"$TMP/a/images.jsonl")" -eq 18 ] && pass "one line per image (3 x 3 x 2)" || fail "images.jsonl" "$(wc -l <"$TMP/a/images.jsonl")"
grep -q "images/s" "$TMP/err" && pass "rate on stderr" || fail "rate" "$(cat "$TMP/err")"
for w in "metric" "overall" "scene" "accessory" "property" "identity" "dino" "clip_i" "clip_t" "reward_id" \
    "reward_prompt" "id_top1" "attr_acc"; do
    grep -q "$w" "$TMP/a.stdout" || fail "table" "no '$w' in: $(cat "$TMP/a.stdout")"
done
pass "table has every metric and group"
if command -v python3 >/dev/null; then
    python3 - "$TMP/a/results.json" "$TMP/a/images.jsonl" <<'EOF' && pass "results.json content" || fail "results.json content" "see above"
import json, sys
r = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
s = r["settings"]
assert s["subjects"] == 3 and s["prompts"] == [0, 10, 20] and s["images_per_prompt"] == 2 and s["steps"] == 2, s
assert s["split"] == "test" and s["model"] == "model.safetensors" and len(s["model_fnv1a64"]) == 16, s
assert len(r["test_subjects"]) == 3 and [t["index"] for t in r["test_subjects"]] == [0, 1, 2]
m = r["metrics"]
assert [k for k in m] == ["overall", "scene", "accessory", "property"], list(m)
assert m["overall"]["n_images"] == 18 and m["scene"]["n_images"] == 10 and m["accessory"]["n_images"] == 2
for g in m:  # the means are those of images.jsonl
    imgs = [l for l in lines if g == "overall" or l["kind"] == g]
    for k in ["identity", "dino", "clip_i", "clip_t", "reward_id", "reward_prompt", "id_top1", "attr_acc"]:
        want = sum(l[k] for l in imgs) / len(imgs)
        assert abs(m[g][k] - want) < 1e-5, (g, k, m[g][k], want)
assert all(0 <= l["id_top1"] <= 1 and l["attr_acc"] in (0, 1) for l in lines)
EOF
fi

# determinism: the same command gives the same bytes; another subjects seed other subjects and numbers
check "same command again" "$CGRPO" eval --model "$M" --out "$TMP/b" "${E[@]}" --quiet
cmp -s "$TMP/a/results.json" "$TMP/b/results.json" && pass "results.json byte-identical" || fail "deterministic" "differs"
cmp -s "$TMP/a/images.jsonl" "$TMP/b/images.jsonl" && pass "images.jsonl byte-identical" || fail "deterministic" "images differ"
[ ! -s "$TMP/err" ] && pass "--quiet: nothing on stderr" || fail "--quiet" "$(cat "$TMP/err")"
OMP_NUM_THREADS=1 "$CGRPO" eval --model "$M" --out "$TMP/t1" "${E[@]}" --quiet >/dev/null 2>&1
OMP_NUM_THREADS=2 "$CGRPO" eval --model "$M" --out "$TMP/t2" "${E[@]}" --quiet >/dev/null 2>&1
cmp -s "$TMP/t1/results.json" "$TMP/a/results.json" && cmp -s "$TMP/t2/results.json" "$TMP/a/results.json" &&
    pass "the same bytes with 1 and 2 threads" || fail "thread count" "results differ"
check "another subjects seed" "$CGRPO" eval --model "$M" --out "$TMP/c" "${E[@]}" --subjects-seed 2 --quiet
cmp -s "$TMP/a/results.json" "$TMP/c/results.json" && fail "subjects seed" "same results" || pass "another subjects seed, other results"
# grid_all.png: 3 subjects x (reference + 6 images) at zoom 2: width 4+64+12 + 6*68 = 488, height 4 + 3*68 = 208
png_wh() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'; }
[ "$(png_wh "$TMP/a/grid_all.png")" = "488x208" ] && pass "grid_all: every subject, every image" ||
    fail "grid_all size" "$(png_wh "$TMP/a/grid_all.png")"
# --split val: the validation subjects, for choosing settings without seeing the test subjects
check "val split" "$CGRPO" eval --model "$M" --out "$TMP/v" "${E[@]}" --split val --quiet
grep -q '"split": "val"' "$TMP/v/results.json" && pass "results name the val split" || fail "val split" "$(grep split "$TMP/v/results.json")"
grep -q '"split": "test"' "$TMP/a/results.json" && pass "results name the test split" || fail "test split name" "missing"
"$CGRPO" world list --split val >"$TMP/listv" 2>/dev/null
clsv=$(awk -F'\t' 'NR <= 3 {print $2}' "$TMP/listv" | paste -sd, -)
gotv=$(grep -o '"class": "[a-z ]*"' "$TMP/v/results.json" | sed 's/"class": "//; s/"$//' | paste -sd, -)
[ "$clsv" = "$gotv" ] && pass "the val split's subjects (world list agrees)" || fail "val subjects" "'$clsv' vs '$gotv'"
check_exit 2 "train split refused" "$CGRPO" eval --model "$M" --out "$TMP/x" "${E[@]}" --split train
grep -q "never on train" "$TMP/err" && pass "train split refused with the reason" || fail "train refusal" "$(cat "$TMP/err")"
check_exit 2 "more subjects than the test split" "$CGRPO" eval --model "$M" --out "$TMP/x" --subjects 31
looks() { grep '"look"' "$1"; }
[ "$(looks "$TMP/a/results.json")" != "$(looks "$TMP/c/results.json")" ] && pass "another subjects seed, other test subjects" ||
    fail "subjects seed" "same subjects"
"$CGRPO" world list --split test --subjects-seed 2 >"$TMP/list2" 2>/dev/null
cls2=$(awk -F'\t' 'NR <= 3 {print $2}' "$TMP/list2" | paste -sd, -)
got2=$(grep -o '"class": "[a-z ]*"' "$TMP/c/results.json" | sed 's/"class": "//; s/"$//' | paste -sd, -)
[ "$cls2" = "$got2" ] && pass "the test split of seed 2 (world list agrees)" || fail "test split" "'$cls2' vs '$got2'"

# a subset reproduces the larger run's images: same per-image scores (id_top1 depends on the subject set)
check "subset" "$CGRPO" eval --model "$M" --out "$TMP/s" --subjects 2 --prompts 20,0 --images-per-prompt 2 --steps 2 --quiet
strip() { sed -E 's/"id_top1":[^,]*,//' "$1" | sort; }
strip "$TMP/s/images.jsonl" >"$TMP/s.lines"
strip "$TMP/a/images.jsonl" >"$TMP/a.lines"
[ "$(wc -l <"$TMP/s.lines")" -eq 8 ] && [ -z "$(comm -23 "$TMP/s.lines" "$TMP/a.lines")" ] &&
    pass "subset lines appear in the larger run" || fail "subset" "$(comm -23 "$TMP/s.lines" "$TMP/a.lines" | head -2)"
grep -q '"accessory"' "$TMP/s/results.json" && [ ! -e "$TMP/s/grid_accessory.png" ] && pass "no accessory prompts: no accessory grid" ||
    fail "empty kind" "$(ls "$TMP/s")"

# baseline comparison, and a pretraining checkpoint (its EMA weights) as the model
check "baseline" "$CGRPO" eval --model "$TMP/run/ckpt.safetensors" --out "$TMP/d" "${E[@]}" --baseline "$TMP/a/results.json" --quiet
grep -q "baseline" "$TMP/out" && grep -q "delta" "$TMP/out" && pass "comparison table" || fail "baseline table" "$(cat "$TMP/out")"
grep -E '^identity +overall' "$TMP/out" | grep -q '+0.0000' && pass "EMA weights of the checkpoint == model file (delta 0)" ||
    fail "checkpoint" "$(grep -A3 '^identity' "$TMP/out")"
grep -q '"weights": "ema"' "$TMP/d/results.json" && pass "weights kind recorded" || fail "weights" "$(grep weights "$TMP/d/results.json")"
grep -q "paired SE" "$TMP/out" && grep -E '^identity +overall' "$TMP/out" | grep -qE '\+0\.0000 +0\.0000$' &&
    pass "paired standard error from the baseline's images.jsonl (0 for the same weights)" ||
    fail "paired SE" "$(grep -A1 'paired' "$TMP/out")"
check "baseline with other settings" "$CGRPO" eval --model "$M" --out "$TMP/e" --subjects 2 --prompts 0 --steps 2 --baseline \
    "$TMP/a/results.json" --quiet
grep -q "settings differ" "$TMP/out" && grep -q "subjects 3 vs 2" "$TMP/out" && pass "settings difference noted" ||
    fail "settings note" "$(grep -i settings "$TMP/out")"

# bad input: exit 2 with one line, before any output
check_exit 2 "missing model" "$CGRPO" eval --model "$TMP/none.safetensors" --out "$TMP/x" "${E[@]}"
head -c 1000 "$M" >"$TMP/trunc.safetensors"
check_exit 2 "truncated model" "$CGRPO" eval --model "$TMP/trunc.safetensors" --out "$TMP/x" "${E[@]}"
check_exit 2 "not a model" "$CGRPO" eval --model "$TMP/a/results.json" --out "$TMP/x" "${E[@]}"
mkdir -p "$TMP/partial" && cp models/id.safetensors models/prompt.safetensors "$TMP/partial/"
check_exit 2 "missing judge file" "$CGRPO" eval --model "$M" --models "$TMP/partial" --out "$TMP/x" "${E[@]}"
grep -q "judge_id.safetensors" "$TMP/err" && pass "missing file named" || fail "missing file" "$(cat "$TMP/err")"
check_exit 2 "bad prompt list" "$CGRPO" eval --model "$M" --out "$TMP/x" --prompts 0,x
check_exit 2 "empty prompt item" "$CGRPO" eval --model "$M" --out "$TMP/x" --prompts 0,,3
check_exit 2 "template out of range" "$CGRPO" eval --model "$M" --out "$TMP/x" --prompts 0,25
check_exit 2 "template twice" "$CGRPO" eval --model "$M" --out "$TMP/x" --prompts 4,4
check_exit 2 "K = 0" "$CGRPO" eval --model "$M" --out "$TMP/x" --images-per-prompt 0
check_exit 2 "31 subjects" "$CGRPO" eval --model "$M" --out "$TMP/x" --subjects 31
check_exit 2 "zero steps" "$CGRPO" eval --model "$M" --out "$TMP/x" --steps 0
check_exit 2 "missing baseline" "$CGRPO" eval --model "$M" --out "$TMP/x" "${E[@]}" --baseline "$TMP/none.json"
check_exit 2 "baseline not JSON" "$CGRPO" eval --model "$M" --out "$TMP/x" "${E[@]}" --baseline "$M"
echo '{"metrics": {}}' >"$TMP/empty.json"
check_exit 2 "baseline without metrics" "$CGRPO" eval --model "$M" --out "$TMP/x" "${E[@]}" --baseline "$TMP/empty.json"
check_exit 2 "unknown option" "$CGRPO" eval --model "$M" --out "$TMP/x" --colour red
check_exit 2 "no --out" "$CGRPO" eval --model "$M"
check_exit 2 "no --model" "$CGRPO" eval --out "$TMP/x"
touch "$TMP/file"
check_exit 2 "--out is a file" "$CGRPO" eval --model "$M" --out "$TMP/file/sub" "${E[@]}"
[ ! -e "$TMP/x/results.json" ] && pass "no results after bad input" || fail "no output after bad input" "results.json written"

cli_summary cli_eval
