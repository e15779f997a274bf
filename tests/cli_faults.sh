# cli_faults.sh: runs that must stop cleanly (issue 23, parts 3 to 5), on the short recipes of
# lib_cli.sh's rel_setup:
#  - a full disk and failing writes, through the LD_PRELOAD shim tests/shim_fail_write.c (built
#    here with cc): every trainer and `cgrpo eval` ends with one line "cgrpo: ..." naming the
#    error, exit 1; the last good checkpoint is intact (no temp file left), and the run resumed
#    without the shim ("space is back") ends bit-identical to the uninterrupted run;
#  - a NaN or Inf in a loss, reward, advantage or weight (CGRPO_TEST_FAULT, core/fault.h): exit 1,
#    a message naming what and the step, the checkpoint on disk the previous step's, and the
#    resumed run bit-identical;
#  - two trainings in one run directory: the second is refused (exit 2) naming the holder.
# Seconds in all.
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1
rel_setup "$TMP/m" 6 4
for kind in pretrain train train-encoder; do
    rel_cmd "$kind" "$TMP/ref_$kind"
    check "$kind: uninterrupted run" "${REL_CMD[@]}"
done

# stopped RC WANT KIND DIR [ENV...]: the run of KIND in DIR under ENV exits RC with one "cgrpo:" line,
# the last line of stderr, matching the regex WANT
stopped() {
    local rc=$1 want=$2 kind=$3 dir=$4 got n last
    shift 4
    rel_cmd "$kind" "$dir"
    env "$@" "${REL_CMD[@]}" >"$TMP/out" 2>"$TMP/err"
    got=$?
    n=$(grep -c '^cgrpo: ' "$TMP/err")
    last=$(tail -n 1 "$TMP/err")
    [ "$got" -eq "$rc" ] && [ "$n" -eq 1 ] && [[ "$last" == cgrpo:* ]] && echo "$last" | grep -Eq -- "$want"
}
# resumed KIND DIR: no temp file is left, the checkpoint (if any) loads, and the run continued
# without faults ends with the uninterrupted run's checkpoint and model
resumed() {
    local kind=$1 dir=$2
    ls "$dir" | grep -q '\.tmp\.' && return 1
    rel_cmd "$kind" "$dir"
    "${REL_CMD[@]}" >/dev/null 2>"$TMP/rerr" && rel_same "$kind" "$TMP/ref_$kind" "$dir"
}
step_of() { "$CGRPO" inspect "$1/ckpt.safetensors" 2>/dev/null | sed -n 's/^\(step\|iteration\) = //p'; }

# ---- a full disk and failing writes --------------------------------------------------------------------
if cc -shared -fPIC -O1 -o "$TMP/shim.so" tests/shim_fail_write.c -ldl 2>"$TMP/cc.err"; then
    SHIM=(LD_PRELOAD="$TMP/shim.so" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
    # what a whole run writes, to place the failures early, midway and late
    for kind in pretrain train train-encoder; do
        total=$(du -sb --apparent-size "$TMP/ref_$kind" | cut -f1)
        for frac in 1 40 80; do
            b=$((total * frac / 100))
            d=$TMP/full_${kind}_$frac
            stopped 1 "No space left on device" "$kind" "$d" "${SHIM[@]}" CGRPO_SHIM_ENOSPC_AFTER=$b &&
                pass "$kind: disk full after $b bytes: exit 1, one line" || fail "$kind: disk full at $b" "$(tail -n 2 "$TMP/err")"
            resumed "$kind" "$d" && pass "$kind: after a full disk (ckpt step $(step_of "$d")), resumed bit-identical" ||
                fail "$kind: resume after a full disk at $b" "$(head -c 300 "$TMP/rerr")"
        done
        for f in "fsync:4:EIO:Input/output error" "rename:5:ENOSPC:No space left" "open:6:EROFS:Read-only file system" \
                 "write:7:EIO:Input/output error"; do
            IFS=: read -r op k e msg <<<"$f"
            d=$TMP/io_${kind}_$op
            stopped 1 "$msg" "$kind" "$d" "${SHIM[@]}" CGRPO_SHIM_FAIL="$op:$k:$e" &&
                pass "$kind: $op fails ($e) at call $k: exit 1, one line" || fail "$kind: $op $e" "$(tail -n 2 "$TMP/err")"
            resumed "$kind" "$d" && pass "$kind: after $op $e, resumed bit-identical" ||
                fail "$kind: resume after $op $e" "$(head -c 300 "$TMP/rerr")"
        done
    done
    # cgrpo eval: its results and grids
    check "a 32x32 model for eval" "$CGRPO" pretrain --out "$TMP/ev_model" --width 16 --depth 1 --heads 2 --tdim 16 --batch 2 \
        --steps 2 --val-samples 2 --quiet
    EV=(eval --model "$TMP/ev_model/model.safetensors" --subjects 2 --prompts 0,10 --images-per-prompt 2 --steps 2 --quiet)
    for f in "CGRPO_SHIM_ENOSPC_AFTER=100:No space left" "CGRPO_SHIM_FAIL=rename:2:ENOSPC:No space left" \
             "CGRPO_SHIM_FAIL=open:1:EROFS:Read-only file system"; do
        set -- ${f%%:*}
        want=${f#*:}
        [[ "$f" == CGRPO_SHIM_FAIL=* ]] && { set -- "$(echo "$f" | cut -d: -f1-3)"; want=$(echo "$f" | cut -d: -f4-); }
        env "${SHIM[@]}" "$1" "$CGRPO" "${EV[@]}" --out "$TMP/ev" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ "$rc" -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "^cgrpo: eval: .*$want" "$TMP/err" &&
            pass "eval with $1: exit 1, one line" || fail "eval with $1" "exit $rc: $(head -c 300 "$TMP/err")"
    done
    check "eval once space is back" "$CGRPO" "${EV[@]}" --out "$TMP/ev"
    [ -s "$TMP/ev/results.json" ] && ! ls "$TMP/ev" | grep -q '\.tmp\.' && pass "eval: results, no temp file" ||
        fail "eval after the faults" "$(ls "$TMP/ev")"
else
    echo "skip the write-failure cases: cannot build the shim ($(head -c 200 "$TMP/cc.err"))"
fi

# ---- NaN and Inf ----------------------------------------------------------------------------------------
nan_case() { # KIND FAULT WANT: a fault at step 3 stops the run naming it; step 2's checkpoint stays
    local kind=$1 fault=$2 want=$3 d=$TMP/nan_${1}_${2//[@=]/_}
    stopped 1 "$want" "$kind" "$d" CGRPO_TEST_FAULT="$fault" && pass "$kind: $fault stops the run: $want" ||
        fail "$kind: $fault" "exit $?: $(tail -n 2 "$TMP/err")"
    NAN_LINES=$(grep -c . "$d/metrics.jsonl")
    [ "$(step_of "$d")" = 2 ] && pass "$kind: $fault: the checkpoint on disk is step 2's" ||
        fail "$kind: $fault checkpoint" "step $(step_of "$d")"
    resumed "$kind" "$d" && pass "$kind: after $fault, resumed bit-identical" || fail "$kind: resume after $fault" "$(head -c 300 "$TMP/rerr")"
}
KEPT="the last good checkpoint \((step|iteration) 2\) is kept"
nan_case pretrain loss@3 "^cgrpo: step 3: loss = nan.*diverged; $KEPT"
nan_case pretrain weight@3=inf "^cgrpo: step 3: non-finite model weights \(.*\).*$KEPT"
nan_case train-encoder loss@3=-inf "^cgrpo: train-encoder: step 3: loss is -inf.*$KEPT"
nan_case train-encoder weight@3 "^cgrpo: train-encoder: step 3: non-finite image weights \(.*\).*$KEPT"
nan_case train loss@3 "^cgrpo: iteration 3, epoch 0, groups 0-0: loss = nan.*$KEPT"
nan_case train reward@3 "^cgrpo: iteration 3: reward 'id' is nan for sample 0 of group 0.*$KEPT"
nan_case train advantage@3=inf "^cgrpo: iteration 3, group 0: advantage is inf for sample 0 at step 0.*$KEPT"
nan_case train weight@3 "^cgrpo: iteration 3: non-finite weights \(.* = nan\).*$KEPT"
[ "$NAN_LINES" -eq 2 ] && pass "train: the diverged iteration logs no metrics line" || fail "train: diverged metrics" "$NAN_LINES lines"
check_exit 2 "a malformed fault" env CGRPO_TEST_FAULT=loss "$CGRPO" pretrain --out "$TMP/x" "${REL_PRE[@]}"
check_exit 2 "a fault the trainer has not" env CGRPO_TEST_FAULT=reward@1 "$CGRPO" pretrain --out "$TMP/x" "${REL_PRE[@]}"

# ---- two trainings in one run directory -----------------------------------------------------------------
for kind in pretrain train train-encoder; do
    d=$TMP/lock_$kind
    rel_cmd "$kind" "$d"
    first=("${REL_CMD[@]}")
    env CGRPO_TEST_FAULT=weight@3 "${first[@]}" >/dev/null 2>&1 # stops with step 2's checkpoint
    ( exec 9>>"$d/.lock"; flock 9; exec sleep 5 ) & # holds the lock as another training does
    holder=$!
    for _ in $(seq 100); do flock -n "$d/.lock" true || break; sleep 0.02; done
    stopped 2 "^cgrpo: .* is in use by another training \(process .* holds .*\.lock\)" "$kind" "$d" &&
        pass "$kind: a second training in the directory is refused (exit 2)" || fail "$kind: lock" "$(tail -n 2 "$TMP/err")"
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    resumed "$kind" "$d" && pass "$kind: the refused run changed nothing; resumed bit-identical" ||
        fail "$kind: after the lock" "$(head -c 300 "$TMP/rerr")"
done
# a real second training, and the lock a SIGKILLed run leaves behind
"$CGRPO" pretrain --out "$TMP/busy" "${REL_PRE[@]}" --steps 400 --quiet >/dev/null 2>&1 &
first=$!
for _ in $(seq 50); do [ -e "$TMP/busy/ckpt.safetensors" ] && break; sleep 0.05; done
stopped 2 "in use by another training \(process $first holds" pretrain "$TMP/busy" &&
    pass "a second pretrain beside a running one: refused, naming its PID" || fail "concurrent pretrain" "$(tail -n 2 "$TMP/err")"
kill -9 "$first" 2>/dev/null
{ wait "$first"; } 2>/dev/null
[ -e "$TMP/busy/.lock" ] && "$CGRPO" pretrain --resume "$TMP/busy" --stop-at $(($(step_of "$TMP/busy") + 1)) --quiet 2>"$TMP/err" &&
    pass "the lock file of a killed run is taken again" || fail "stale lock" "$(head -c 300 "$TMP/err")"

cli_summary cli_faults
