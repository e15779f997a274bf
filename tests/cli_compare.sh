# cli_compare.sh: `cgrpo compare` end to end on a tiny 32x32 base model made here (cgrpo pretrain, two
# steps) and the shipped reward and judge files of models/: 2 presets x 2 seeds, 2 iterations of
# P 1 x G 2 x 2 steps, evaluation on 2 test subjects x 2 prompts. The report and its figures, a compare
# killed with SIGKILL in the middle of a run and one stopped after two runs that end, rerun, with the
# same files and tables as an uninterrupted one, results.json identical to cgrpo eval's, and one-line
# errors with exit 2 for bad input and for a rerun with other training settings. Seconds in all.
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1

check "tiny base model" "$CGRPO" pretrain --out "$TMP/pre" --steps 2 --img 32 --width 16 --depth 1 --heads 2 --tdim 16 \
    --batch 2 --val-samples 2 --quiet
BASE=$TMP/pre/model.safetensors
TINY="--model $BASE --rewards-dir models --presets customized,naive-1-1 --seeds 1,2 --iterations 2 --pairs 1 --group-size 2
      --steps 2 --lr 1e-3 --ckpt-every 1 --sample-every 0 --cos-every 1 --eval-subjects 2 --eval-prompts 0,20 --eval-steps 2"
tables() { sed '/^## Wall time/,$d' "$1/report.md"; } # the report without its wall times
table_of() { grep '^|' "$1"; }                         # the table lines of a stdout

check "help" "$CGRPO" compare --help
grep -q -- "--stop-after-runs" "$TMP/out" && grep -q "naive-1-1.5" "$TMP/out" && pass "help lists options and presets" ||
    fail "help" "$(head -n 3 "$TMP/out")"

# ---- an uninterrupted compare --------------------------------------------------------------------------------
start=$(date +%s%N)
check "tiny compare" "$CGRPO" compare --out "$TMP/a" $TINY
echo "     (the tiny compare took $(( ($(date +%s%N) - start) / 1000000 )) ms)"
cp "$TMP/out" "$TMP/a.stdout"
grep -q "^| base | - |" "$TMP/a.stdout" && grep -q "^| customized | 2 |" "$TMP/a.stdout" && grep -q "^| naive-1-1 | 2 |" "$TMP/a.stdout" &&
    pass "results table on stdout" || fail "stdout table" "$(head -n 5 "$TMP/a.stdout")"
grep -q "^compare: training: 4 runs" "$TMP/err" && grep -q "^compare: \[eval 5/5\]" "$TMP/err" && pass "progress per phase on stderr" ||
    fail "progress" "$(head -c 300 "$TMP/err")"
for row in "| base | - |" "| customized | 2 |" "| naive-1-1 | 2 |" "| customized-s2 |" "| naive-1-1-s1 |" "### identity" "### clip_t" \
           "## Training settings" "## Evaluation settings" "## Wall time" "lr = 0.001"; do
    grep -qF -- "$row" "$TMP/a/report.md" || fail "report has '$row'" "missing"
done
pass "report rows and sections"
for f in pareto curves_rewards curves_rewards_rel curves_conflict curves_gradcos grid; do
    [ -s "$TMP/a/$f.png" ] && grep -qF "]($f.png)" "$TMP/a/report.md" && pass "$f.png written and linked" || fail "$f.png" "missing"
done
for d in base customized-s1 customized-s2 naive-1-1-s1 naive-1-1-s2; do
    for f in results.json images.jsonl atlas.png; do [ -s "$TMP/a/eval/$d/$f" ] || fail "eval/$d/$f" "missing"; done
done
pass "every evaluation's files"
grep -q '"headline":[[:space:]]*false' "$TMP/a/report.json" && grep -q '"customized":' "$TMP/a/report.json" &&
    pass "report.json written, not a headline" || fail "report.json" "$(head -c 300 "$TMP/a/report.json")"
check "rerun: everything on disk" "$CGRPO" compare --out "$TMP/a" $TINY --headline
grep -q '"headline":[[:space:]]*true' "$TMP/a/report.json" && pass "--headline marks report.json" ||
    fail "--headline" "$(head -c 200 "$TMP/a/report.json")"
grep -q "4 done, 0 to resume, 0 to start" "$TMP/err" && [ "$(grep -c "up to date" "$TMP/err")" -eq 5 ] &&
    pass "rerun skips every run and evaluation" || fail "rerun" "$(cat "$TMP/err")"
cmp -s "$TMP/out" "$TMP/a.stdout" && pass "rerun prints the same output" || fail "rerun output" "differs"

# ---- cgrpo eval of a run gives the same results.json -----------------------------------------------------------------
check "cgrpo eval of a run" "$CGRPO" eval --model "$TMP/a/runs/naive-1-1-s2/model.safetensors" --out "$TMP/ev" --subjects 2 \
    --prompts 0,20 --steps 2 --quiet
cmp -s "$TMP/ev/results.json" "$TMP/a/eval/naive-1-1-s2/results.json" && pass "results.json identical to cgrpo eval's" ||
    fail "eval parity" "$(diff "$TMP/ev/results.json" "$TMP/a/eval/naive-1-1-s2/results.json" | head -n 4)"

# ---- kill -9 in the middle of the first run, rerun: the same files ---------------------------------------------------
( CGRPO_TEST_KILL_AT_ITER=2 "$CGRPO" compare --out "$TMP/b" $TINY --quiet >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc" ) 2>/dev/null
[ "$(cat "$TMP/rc")" -eq 137 ] && pass "killed by SIGKILL in iteration 2 of the first run" || fail "SIGKILL" "exit $(cat "$TMP/rc")"
[ -s "$TMP/b/runs/customized-s1/ckpt.safetensors" ] && [ ! -e "$TMP/b/runs/customized-s1/model.safetensors" ] &&
    pass "the killed run left a checkpoint only" || fail "killed run" "$(ls "$TMP/b/runs/customized-s1")"
check "rerun after kill -9" "$CGRPO" compare --out "$TMP/b" $TINY
grep -q "0 done, 1 to resume, 3 to start" "$TMP/err" && pass "the killed run is resumed" || fail "resume" "$(head -n 2 "$TMP/err")"
[ "$(table_of "$TMP/out")" = "$(table_of "$TMP/a.stdout")" ] && pass "kill -9 + rerun: the same table" ||
    fail "kill -9 table" "$(diff "$TMP/out" "$TMP/a.stdout")"
same=1
for d in base customized-s1 customized-s2 naive-1-1-s1 naive-1-1-s2; do
    for f in results.json images.jsonl atlas.png; do cmp -s "$TMP/a/eval/$d/$f" "$TMP/b/eval/$d/$f" || { same=0; fail "kill -9: eval/$d/$f" "differs"; }; done
    [ "$d" = base ] || cmp -s "$TMP/a/runs/$d/model.safetensors" "$TMP/b/runs/$d/model.safetensors" || { same=0; fail "kill -9: runs/$d" "differs"; }
done
[ "$same" -eq 1 ] && pass "kill -9 + rerun: every results.json, atlas and model identical"
[ "$(tables "$TMP/a")" = "$(tables "$TMP/b")" ] && pass "kill -9 + rerun: the same report" || fail "kill -9 report" "differs"

# ---- --stop-after-runs 2, rerun ----------------------------------------------------------------------------------
check "stop after 2 runs" "$CGRPO" compare --out "$TMP/c" $TINY --stop-after-runs 2 --quiet
grep -q "stopped after 2 of 4 runs" "$TMP/out" && [ ! -e "$TMP/c/eval" ] && [ ! -e "$TMP/c/runs/naive-1-1-s1" ] &&
    pass "stopped before the third run and the evaluations" || fail "stop" "$(cat "$TMP/out")"
check "rerun after the stop" "$CGRPO" compare --out "$TMP/c" $TINY --quiet
[ "$(table_of "$TMP/out")" = "$(table_of "$TMP/a.stdout")" ] && [ "$(tables "$TMP/a")" = "$(tables "$TMP/c")" ] &&
    cmp -s "$TMP/a/eval/naive-1-1-s2/results.json" "$TMP/c/eval/naive-1-1-s2/results.json" &&
    pass "stop + rerun: the same table, report and results" || fail "stop + rerun" "differs"

# ---- a rerun with other settings, bad input: exit 2, one line ---------------------------------------------------------
check_exit 2 "rerun with another lr" "$CGRPO" compare --out "$TMP/a" $TINY --lr 2e-3
grep -q "lr = 0.001" "$TMP/err" && grep -q "0.002" "$TMP/err" && pass "the conflicting key is named" || fail "lr message" "$(cat "$TMP/err")"
check_exit 2 "rerun with fewer iterations" "$CGRPO" compare --out "$TMP/a" $TINY --iterations 1
grep -q "iterations" "$TMP/err" && pass "iterations named" || fail "iterations message" "$(cat "$TMP/err")"
check_exit 2 "rerun with another base model" "$CGRPO" compare --out "$TMP/a" $TINY --model "$TMP/a/runs/customized-s1/model.safetensors"
check_exit 2 "unknown preset" "$CGRPO" compare --out "$TMP/x" $TINY --presets customized,naive-2
grep -q "naive-2" "$TMP/err" && grep -q "tdw-only" "$TMP/err" && pass "unknown preset named with the known ones" ||
    fail "preset message" "$(cat "$TMP/err")"
check_exit 2 "bad seed list" "$CGRPO" compare --out "$TMP/x" $TINY --seeds 1,x
check_exit 2 "seed listed twice" "$CGRPO" compare --out "$TMP/x" $TINY --seeds 2,2
check_exit 2 "missing model" "$CGRPO" compare --out "$TMP/x" $TINY --model "$TMP/nope.safetensors"
grep -q "nope.safetensors" "$TMP/err" && pass "missing model named" || fail "missing model message" "$(cat "$TMP/err")"
check_exit 2 "missing reward files" "$CGRPO" compare --out "$TMP/x" $TINY --rewards-dir "$TMP/pre"
check_exit 2 "a key compare sets" "$CGRPO" compare --out "$TMP/x" $TINY --w-id 0.3
printf 'preset = naive-1-1\n' >"$TMP/p.cfg"
check_exit 2 "a config file that sets the preset" "$CGRPO" compare --out "$TMP/x" $TINY --config "$TMP/p.cfg"
check_exit 2 "unknown option" "$CGRPO" compare --out "$TMP/x" $TINY --group-szie 3
grep -q "group_size" "$TMP/err" && pass "unknown option names the nearest key" || fail "unknown option" "$(cat "$TMP/err")"
check_exit 2 "bad eval prompts" "$CGRPO" compare --out "$TMP/x" $TINY --eval-prompts 0,25
[ ! -e "$TMP/x" ] && pass "bad input creates nothing" || fail "bad input" "$TMP/x exists"

cli_summary cli_compare
