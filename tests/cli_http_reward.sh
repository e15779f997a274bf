# cli_http_reward.sh: the http reward end to end with the reference server (tools/reward_server.py)
# on 127.0.0.1 and a free port: the identity reward in-process and the prompt reward from the server
# give the same metrics as both in-process (image_format f32: the same bits; png: close), the API
# key, and a server that hangs, answers garbage, the wrong count, NaN, 500s, too much or closes the
# connection: each stops the run with a one-line message and exit 1, leaves the checkpoint as it
# was, and `--resume` with a good server then ends as the uninterrupted run.
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v python3 >/dev/null || { fail "python3" "not found (scripts/deps.sh installs it)"; cli_summary cli_http_reward; exit 1; }

M=$TMP/models
tiny_grpo_models "$M"
T3="$TINY_GRPO --iterations 3 --quiet"
HTTP="--reward-prompt http --http-format f32"

SRV_PID=
stop_server() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; SRV_PID=; }
trap 'stop_server; rm -rf "$TMP"' EXIT
start_server() { # [ARGS...]: sets URL; its log in $TMP/server.log
    stop_server
    rm -f "$TMP/port"
    python3 "$ROOT/tools/reward_server.py" --port 0 --port-file "$TMP/port" --cgrpo "$CGRPO" --models "$M" "$@" \
        2>"$TMP/server.log" &
    SRV_PID=$!
    for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
    URL="http://127.0.0.1:$(cat "$TMP/port" 2>/dev/null)/score"
    [ -s "$TMP/port" ] && pass "server $* on $URL" || fail "server $*" "$(head -c 300 "$TMP/server.log")"
}
steady() { sed -E 's/,"(t_rollout|t_reward|t_diag|t_update|elapsed_s)":[^,}]*//g' "$1"; } # metrics without timings
metric() { grep "\"iteration\":$2," "$1" | grep -o "\"$3\":[^,}]*" | cut -d: -f2; }       # FILE ITERATION KEY

# ---- the same run in-process and served -------------------------------------------------------------------
check "in-process run" "$CGRPO" train --out "$TMP/a" $T3
export CGRPO_TEST_REWARD_KEY=sekrit-0123
start_server --api-key-env CGRPO_TEST_REWARD_KEY
check "prompt reward served (f32)" "$CGRPO" train --out "$TMP/b" $T3 $HTTP --http-url "$URL" \
    --http-api-key-env CGRPO_TEST_REWARD_KEY
[ "$(wc -l <"$TMP/b/metrics.jsonl")" -eq 3 ] && [ "$(steady "$TMP/a/metrics.jsonl")" = "$(steady "$TMP/b/metrics.jsonl")" ] &&
    pass "served = in-process: the same metrics, 3 iterations" ||
    fail "served vs in-process" "$(diff <(steady "$TMP/a/metrics.jsonl") <(steady "$TMP/b/metrics.jsonl") | head -c 600)"
[ "$(grep -c 'POST /score' "$TMP/server.log")" -eq 3 ] && pass "one request per iteration (6 images, http_batch 64)" ||
    fail "requests" "$(grep -c 'POST /score' "$TMP/server.log") POSTs"
! grep -rq sekrit "$TMP/b" && pass "the API key is in no file of the run" || fail "API key" "$(grep -rl sekrit "$TMP/b")"
check_exit 1 "no API key: HTTP 401" "$CGRPO" train --out "$TMP/nokey" $T3 $HTTP --http-url "$URL"
grep -q "HTTP 401" "$TMP/err" && pass "401 named" || fail "401" "$(cat "$TMP/err")"
check_exit 2 "API key variable unset" env -u CGRPO_TEST_REWARD_KEY "$CGRPO" train --out "$TMP/x" $T3 $HTTP \
    --http-url "$URL" --http-api-key-env CGRPO_TEST_REWARD_KEY
grep -q "CGRPO_TEST_REWARD_KEY" "$TMP/err" && pass "the unset variable is named" || fail "unset key" "$(cat "$TMP/err")"
start_server
check "prompt reward served (png), one request per 4 images" "$CGRPO" train --out "$TMP/p" $T3 --iterations 1 \
    --reward-prompt http --http-url "$URL" --http-batch 4
# (8-bit PNGs clamp to [-1, 1]: the tiny generator overshoots a lot, so png scores are not compared)
p1=$(metric "$TMP/p/metrics.jsonl" 1 reward_prompt_mean)
awk -v p="$p1" 'BEGIN { exit !(p != "" && p != "null" && p >= -100 && p <= 100) }' &&
    pass "png: a prompt reward in [-100, 100] ($p1)" || fail "png scores" "$p1"
[ "$(grep -c 'POST /score' "$TMP/server.log")" -eq 2 ] && pass "6 images in requests of 4: 2 requests" ||
    fail "http_batch" "$(grep -c 'POST /score' "$TMP/server.log") POSTs"
check_exit 2 "a bad request is refused" "$CGRPO" score --models "$M" --request /dev/null
check_exit 2 "a bad url" "$CGRPO" train --out "$TMP/x" $T3 --reward-id http --http-url "ftp://h/score"

# ---- a faulty server: one line, exit 1, the checkpoint kept; then resume ----------------------------------
check "1 iteration served" "$CGRPO" train --out "$TMP/d" $T3 $HTTP --http-url "$URL" --stop-after 1
fault_case() { # MODE WANT: WANT is a grep -E pattern of the message
    rm -rf "$TMP/f_$1"
    cp -r "$TMP/d" "$TMP/f_$1"
    start_server --fault "$1"
    check_exit 1 "fault $1: exit 1" "$CGRPO" train --resume "$TMP/f_$1" --http-url "$URL" --http-timeout-ms 700 \
        --http-retries 1 --quiet
    grep -q "^cgrpo: iteration 2: reward server $URL (reward 'prompt'): " "$TMP/err" && grep -Eq "$2" "$TMP/err" &&
        grep -q "last good checkpoint (iteration 1) is kept" "$TMP/err" && pass "fault $1: the message says so" ||
        fail "fault $1: message" "$(cat "$TMP/err")"
    cmp -s "$TMP/d/ckpt.safetensors" "$TMP/f_$1/ckpt.safetensors" && cmp -s "$TMP/d/metrics.jsonl" "$TMP/f_$1/metrics.jsonl" &&
        pass "fault $1: checkpoint and metrics untouched" || fail "fault $1: files" "changed"
}
fault_case hang "timed out.*after 2 tries"
fault_case garbage "the answer is not JSON"
fault_case count "5 scores for 6 images"
fault_case nan "not JSON \(at byte 12: 'NaN"
fault_case 500 "HTTP 500: .*injected fault.*after 2 tries"
[ "$(grep -c 'POST /score' "$TMP/server.log")" -eq 2 ] && pass "a 500 is retried" || fail "500 retries" "$(cat "$TMP/server.log")"
fault_case close "no answer \(.*\), after 2 tries"
fault_case big "larger than [0-9]+ bytes"
start_server --quiet
for f in hang garbage count nan 500 close big; do
    "$CGRPO" train --resume "$TMP/f_$f" --http-url "$URL" --quiet 2>"$TMP/err"
    [ "$(steady "$TMP/f_$f/metrics.jsonl")" = "$(steady "$TMP/b/metrics.jsonl")" ] &&
        pass "after fault $f: --resume ends as the uninterrupted run" || fail "resume after $f" "$(head -c 300 "$TMP/err")"
done
stop_server
cli_summary cli_http_reward
