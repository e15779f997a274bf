#!/usr/bin/env bash
# load_test.sh [N_SCORE [N_SAMPLE]]: N_SCORE (default 1000) `cgrpo score` calls and N_SAMPLE
# (default 100) `cgrpo sample` calls back to back on tiny models made here (issue 23, part 5), with
# CGRPO (default build/cgrpo), one thread. Every call must exit 0 and print the same output as the
# first (the same inputs); prints the figures docs/reliability.md records: calls, failures,
# distinct outputs, wall seconds, mean and p95 and max ms per call, the largest peak RSS (KiB,
# GNU time when present). tests/cli_load.sh runs a small version in the suite.
set -u
ns=${1:-1000}
nm=${2:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
export CGRPO=${CGRPO:-$root/build/cgrpo}
source "$root/tests/lib_cli.sh"
export OMP_NUM_THREADS=1
tiny_encoders "$TMP/m" "$TMP/r" >/dev/null
check "tiny model" "$CGRPO" pretrain --out "$TMP/pre" --steps 2 --width 16 --depth 1 --heads 2 --tdim 16 --batch 2 \
    --val-samples 2 --quiet
P=$("$CGRPO" world prompts --split test --subject 1 | head -n 1)
TIMEV=() && /usr/bin/time -f %M true 2>/dev/null && TIMEV=(/usr/bin/time -f "rss %M" -a -o "$TMP/rss")

# load NAME N CMD...: N calls; figures on one line
load() {
    local name=$1 n=$2 i t0 t1 bad=0 ms=()
    shift 2
    : >"$TMP/rss"
    "$@" >"$TMP/first" 2>&1
    local s0; s0=$(date +%s%N)
    for ((i = 0; i < n; i++)); do
        t0=$(date +%s%N)
        "${TIMEV[@]}" "$@" >"$TMP/o" 2>&1 || bad=$((bad + 1))
        t1=$(date +%s%N)
        ms+=($(((t1 - t0) / 1000)))
        cmp -s "$TMP/o" "$TMP/first" || bad=$((bad + 1))
    done
    local wall=$((($(date +%s%N) - s0) / 1000000))
    local stats; stats=$(printf '%s\n' "${ms[@]}" | sort -n | awk '{ a[NR] = $1; s += $1 } END {
        printf "mean %.1f ms, p95 %.1f ms, max %.1f ms", s / NR / 1000, a[int(NR * 0.95 + 0.999)] / 1000, a[NR] / 1000 }')
    local rss; rss=$(sed -n 's/^rss //p' "$TMP/rss" | sort -n | tail -n 1)
    echo "load $name: $n calls, $bad failed or different, wall $((wall / 1000)).$(printf '%03d' $((wall % 1000))) s, $stats, peak RSS ${rss:-?} KiB"
    [ "$bad" -eq 0 ] && pass "$name: $n calls back to back, all alike" || fail "$name" "$bad of $n calls failed or differed"
}
load score "$ns" "$CGRPO" score --models "$TMP/m" --reference subject:test:1 --prompt "$P" subject:test:1:1:3
load sample "$nm" "$CGRPO" sample --model "$TMP/pre/model.safetensors" --split test --subject 1 --prompt "$P" --n 2 \
    --steps 2 --out "$TMP/s.png" --quiet
cli_summary load_test
