#!/usr/bin/env bash
# fuzz_campaign.sh SECONDS TARGET...: run each libFuzzer target (build-fuzz/TARGET, `make fuzz`)
# for SECONDS seconds on a working corpus build-fuzz/corpus/TARGET seeded from tests/fuzz/TARGET
# with its dictionary tests/TARGET.dict, then write the table of the run (target, executions,
# corpus size, coverage edges, crashes) into docs/reliability.md between its campaign markers.
# Crash inputs land in build-fuzz/crashes/TARGET/; fix them and copy them to
# tests/fuzz/regress/<target>/ so that tests/test_fuzz_replay.c replays them. `make fuzz-campaign
# SECONDS=N` runs this.
set -u
secs=${1:?usage: fuzz_campaign.sh SECONDS TARGET...}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
doc=docs/reliability.md
table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
    echo "Campaign of $(date -u +%Y-%m-%d), $secs s per target, one process each (\`make fuzz-campaign SECONDS=$secs\`):"
    echo
    echo "| target | executions | exec/s | corpus (inputs) | coverage (edges) | features | crashes |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
} >"$table"
for t in "$@"; do
    name=${t#fuzz_}
    bin=build-fuzz/$t
    [ -x "$bin" ] || { echo "no $bin: run make fuzz" >&2; exit 1; }
    corpus=build-fuzz/corpus/$name crashes=build-fuzz/crashes/$name
    mkdir -p "$corpus" "$crashes"
    dict=() && [ -f "tests/$t.dict" ] && dict=(-dict="tests/$t.dict")
    log=build-fuzz/$t.log
    "$bin" "${dict[@]}" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$crashes/" \
        -close_fd_mask=3 "$corpus" "tests/fuzz/$name" >"$log" 2>&1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    ncorp=$(find "$corpus" -type f | wc -l)
    ncrash=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    echo "$name: ${execs:-?} execs, corpus $ncorp, cov ${cov:-?}, crashes $ncrash"
    echo "| $name | ${execs:-?} | ${rate:-?} | $ncorp | ${cov:-?} | ${ft:-?} | $ncrash |" >>"$table"
done
begin='<!-- fuzz-campaign: begin -->' end='<!-- fuzz-campaign: end -->'
if [ -f "$doc" ] && grep -q "$begin" "$doc"; then
    awk -v b="$begin" -v e="$end" -v t="$table" '
        $0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 } !skip' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
else
    { echo "$begin"; cat "$table"; echo "$end"; } >>"$doc"
fi
echo "table written to $doc"
