# cli_kill.sh: kill anywhere (issue 23, part 2). `cgrpo pretrain`, `cgrpo train` and
# `cgrpo train-encoder` get SIGKILL at CGRPO_KILLS (default 20) random moments each, drawn from
# seed CGRPO_KILL_SEED (default 23; both printed): a run is started, killed after a random delay
# of 0 .. T ms (T: the uninterrupted run's wall time), resumed, killed again, ..., and when a run
# reaches its end before the kill, its checkpoint and model must equal the uninterrupted run's
# byte for byte (cmp); a new run then starts. After every kill no file of the run directory may
# be half-written: every .safetensors file parses, every metrics line is a whole JSON object
# ending in a newline, every sample grid ends with PNG's IEND chunk, config.cfg ends in a newline.
# About 30 s on one thread.
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1
SEED=${CGRPO_KILL_SEED:-23}
KILLS=${CGRPO_KILLS:-20}
RANDOM=$SEED
echo "kill seed $SEED, $KILLS kills per trainer"
rel_setup "$TMP/m" 40 10

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# whole_files DIR: prints what is half-written in DIR (nothing when all is whole)
whole_files() {
    local d=$1 f
    for f in "$d"/*.safetensors; do
        [ -e "$f" ] || continue
        "$CGRPO" inspect "$f" >/dev/null 2>&1 || echo "$f does not parse"
    done
    if [ -s "$d/metrics.jsonl" ]; then
        [ "$(tail -c 1 "$d/metrics.jsonl" | od -An -tx1 | tr -d ' ')" = 0a ] || echo "metrics.jsonl ends in half a line"
        awk '!/^\{.*\}$/ { bad = 1 } END { exit bad }' "$d/metrics.jsonl" || echo "metrics.jsonl has a broken line"
    fi
    if [ -e "$d/config.cfg" ]; then
        [ "$(tail -c 1 "$d/config.cfg" | od -An -tx1 | tr -d ' ')" = 0a ] || echo "config.cfg is cut"
    fi
    for f in "$d"/samples/*.png; do
        [ -e "$f" ] || continue
        [ "$(tail -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 49454e44ae426082 ] || echo "$f has no IEND"
    done
}

kill_runs() { # KIND
    local kind=$1 ref=$TMP/ref_$1 t0 T landed=0 tries=0 chain=0 finished=0 same=0 broken=() moments=() d pid rc dir
    rel_cmd "$kind" "$ref"
    t0=$(now_ms)
    check "$kind: uninterrupted run" "${REL_CMD[@]}"
    T=$(($(now_ms) - t0))
    dir=$TMP/k_${kind}_$chain
    while [ "$landed" -lt "$KILLS" ] && [ "$tries" -lt $((KILLS * 10)) ]; do
        tries=$((tries + 1))
        rel_cmd "$kind" "$dir"
        d=$((RANDOM % (T + 1)))
        "${REL_CMD[@]}" >"$TMP/kout" 2>"$TMP/kerr" &
        pid=$!
        sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
        kill -9 "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
        rc=$?
        if [ "$rc" -eq 137 ]; then
            landed=$((landed + 1))
            moments+=("$d")
            local w
            w=$(whole_files "$dir")
            [ -n "$w" ] && broken+=("kill $landed at $d ms: $w")
        elif [ "$rc" -eq 0 ]; then # the run ended before the kill: it must be the uninterrupted one
            finished=$((finished + 1))
            rel_same "$kind" "$ref" "$dir" && same=$((same + 1))
            chain=$((chain + 1))
            dir=$TMP/k_${kind}_$chain
        else
            broken+=("a run exited $rc: $(head -c 300 "$TMP/kerr")")
        fi
    done
    rel_cmd "$kind" "$dir" # the last chain, to its end
    check "$kind: the last resume" "${REL_CMD[@]}"
    finished=$((finished + 1))
    rel_same "$kind" "$ref" "$dir" && same=$((same + 1))
    echo "$kind: run of $T ms, $landed kills in $tries tries at ms: ${moments[*]}"
    [ "$landed" -eq "$KILLS" ] && pass "$kind: $KILLS kills landed" || fail "$kind: kills" "$landed of $KILLS landed"
    [ "$same" -eq "$finished" ] && pass "$kind: $finished resumed runs bit-identical to the uninterrupted one" ||
        fail "$kind: resumed runs" "$same of $finished bit-identical"
    [ ${#broken[@]} -eq 0 ] && pass "$kind: no half-written file after any kill" || fail "$kind: half-written" "${broken[*]}"
}
kill_runs pretrain
kill_runs train
kill_runs train-encoder
# the narrowest moment, on purpose: killed after the last checkpoint, before the model file
for kind in pretrain train train-encoder; do
    cp -r "$TMP/ref_$kind" "$TMP/late_$kind"
    rm "$TMP/late_$kind/model.safetensors"
    rel_cmd "$kind" "$TMP/late_$kind"
    "${REL_CMD[@]}" >/dev/null 2>&1
    rel_same "$kind" "$TMP/ref_$kind" "$TMP/late_$kind" && pass "$kind: killed before the model file, resumed: the same model" ||
        fail "$kind: resume at the end" "model differs"
done
cli_summary cli_kill
