# cli_eval_rewards.sh: `cgrpo eval-rewards` on tiny models made here (the shipped weights' quality
# is measured by the command, not tested): the table and the JSON, the note on a world the models
# trained on, --worlds K as the mean of K one-world runs, and one-line exit-2 errors for bad input.
source "$(dirname "$0")/lib_cli.sh"

M="$TMP/models"
tiny_encoders "$M" "$TMP"

# one world: every model has its rows; the tiny models trained on seed 1, so seed 1 gets the note
# and seed 5 does not
check "seed 1" "$CGRPO" eval-rewards --models "$M" --seeds 1 --out "$TMP/s1.json"
cp "$TMP/out" "$TMP/s1.txt"
for k in id prompt judge_id judge_clip judge_clip_i attr; do
    grep -q "^  $k " "$TMP/s1.txt" && pass "rows of $k" || fail "rows of $k" "$(head -n 5 "$TMP/s1.txt")"
done
grep -q "^  id  *(trained on the train subjects of seeds 1\.\.1: held-out subjects of a seen world)" "$TMP/s1.txt" &&
    pass "note on a seen world" || fail "note on a seen world" "$(grep trained "$TMP/s1.txt")"
grep -q "measure(s) below threshold" "$TMP/s1.txt" && pass "summary line" || fail "summary line" "$(tail -n 1 "$TMP/s1.txt")"
for s in 5 6; do
    check "seed $s" "$CGRPO" eval-rewards --models "$M" --subjects-seed $s --seeds 1 --out "$TMP/s$s.json"
    cp "$TMP/out" "$TMP/s$s.txt"
done
grep -q "trained on the train" "$TMP/s5.txt" && fail "no note on an unseen world" "$(grep trained "$TMP/s5.txt")" ||
    pass "no note on an unseen world"
grep -q '"trained_worlds":	\[1, 1\]' "$TMP/s5.json" && pass "trained_worlds in the JSON" ||
    fail "trained_worlds in the JSON" "$(grep -A2 trained_worlds "$TMP/s5.json" | head -n 3)"

# --worlds 2 from seed 5: one headline line per world and the lowest, then the mean's table
check "worlds 2" "$CGRPO" eval-rewards --models "$M" --subjects-seed 5 --worlds 2 --seeds 1 --out "$TMP/w2.json"
cp "$TMP/out" "$TMP/w2.txt"
grep -q "^eval-rewards: test split of subjects seeds 5\.\.6, one world at a time" "$TMP/w2.txt" &&
    grep -q "^  seed 5: " "$TMP/w2.txt" && grep -q "^  seed 6: " "$TMP/w2.txt" && grep -q "^  lowest: " "$TMP/w2.txt" &&
    grep -q "^  mean over the 2 worlds" "$TMP/w2.txt" && pass "worlds 2 layout" || fail "worlds 2 layout" "$(head -n 6 "$TMP/w2.txt")"
# the headline of seed 5 is the one-world run's id top-1 (3 decimals of the 4 printed)
id5=$(awk '/^  id  *identity top-1 vs seg. ref, scene\+accessory/ {printf "%.3f", $(NF-3)}' "$TMP/s5.txt")
grep -q "^  seed 5: *id $id5 " "$TMP/w2.txt" && pass "seed 5 headline = one-world run" ||
    fail "seed 5 headline" "want id $id5: $(grep '^  seed 5' "$TMP/w2.txt")"
if command -v python3 >/dev/null; then
    python3 - "$TMP/s5.json" "$TMP/s6.json" "$TMP/w2.json" <<'EOF' && pass "mean JSON = mean of the one-world runs" ||
import json, sys
a, b, w = (json.load(open(p)) for p in sys.argv[1:4])
assert w["worlds"] == 2 and w["subjects_seed"] == 5 and len(w["per_world"]) == 2, "worlds fields"
bad = []
def walk(x, y, z, path):
    if isinstance(z, dict):
        for k in z:
            if k in ("file", "trained_on", "trained_worlds", "params"): continue
            walk(x[k], y[k], z[k], path + "." + k)
    elif path.split(".")[-1].startswith(("n_", "pairs")) or path.split(".")[-1] in ("n",):
        if z != x + y: bad.append((path, x, y, z))
    elif abs(z - (x + y) / 2) > 1e-12: bad.append((path, x, y, z))
for k in w["models"]:
    walk(a["models"][k], b["models"][k], w["models"][k], k)
    for i, one in enumerate((a, b)):  # per-world entries are the one-world numbers
        pw = w["per_world"][i]
        assert pw["subjects_seed"] == 5 + i
        for m, v in pw["models"][k].items():
            if v != one["models"][k][m]: bad.append(("per_world", i, k, m))
assert not bad, bad[:5]
EOF
        fail "mean JSON" "see above"
else
    echo "note: python3 not found; the JSON mean check is skipped (test_reward.c checks the means)"
fi

# bad input: one line, exit 2
check_exit 2 "no --out" "$CGRPO" eval-rewards --models "$M"
check_exit 2 "unknown option" "$CGRPO" eval-rewards --models "$M" --out "$TMP/x.json" --bogus 1
check_exit 2 "worlds 0" "$CGRPO" eval-rewards --models "$M" --worlds 0 --out "$TMP/x.json"
check_exit 2 "worlds not a number" "$CGRPO" eval-rewards --models "$M" --worlds two --out "$TMP/x.json"
check_exit 2 "seeds 0" "$CGRPO" eval-rewards --models "$M" --seeds 0 --out "$TMP/x.json"
check_exit 2 "bad split" "$CGRPO" eval-rewards --models "$M" --split holdout --out "$TMP/x.json"
mkdir -p "$TMP/empty"
check_exit 2 "no model files" "$CGRPO" eval-rewards --models "$TMP/empty" --out "$TMP/x.json"
printf 'not a safetensors file' >"$TMP/empty/id.safetensors"
check_exit 2 "corrupt model file" "$CGRPO" eval-rewards --models "$TMP/empty" --out "$TMP/x.json"
check_exit 2 "unwritable --out" "$CGRPO" eval-rewards --models "$M" --seeds 1 --out "$TMP/no/such/dir/x.json"
grep -q "does not exist or is not writable" "$TMP/err" && pass "unwritable --out names the directory" ||
    fail "unwritable --out message" "$(cat "$TMP/err")"
check_exit 2 "--out names a directory" "$CGRPO" eval-rewards --models "$M" --out "$TMP/"
check_exit 2 "seed + worlds overflow" "$CGRPO" eval-rewards --models "$M" --subjects-seed 9223372036854775807 --worlds 2 \
    --out "$TMP/x.json"

cli_summary cli_eval_rewards
