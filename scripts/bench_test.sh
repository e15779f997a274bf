#!/usr/bin/env bash
# bench_test.sh: the decisive TEST benchmark of issue 18 in the regime chosen on VAL
# (configs/main.cfg without its preset: no KL, lr 3e-5, 120 iterations). `cgrpo compare` trains
# every preset x seed on TRAIN subjects and evaluates each on the 30 TEST subjects; this script
# grows the seed list one seed at a time, so that after each round the report covers every preset
# with the seeds done so far, and copies report.md, report.json and the figures to
# docs/results/$BENCH_NAME/. Resumable: rerun it and finished runs and evaluations are kept.
# Options: BENCH_PRESETS (default "customized,naive-1-1,naive-1-1.5,sars-only,tdw-only"),
#          BENCH_SEEDS (default "1 2 3 4 5"), BENCH_OUT (default runs/bench_nokl120),
#          BENCH_NAME (default nokl120), BENCH_THREADS (default: the number of cores).
set -eu
cd "$(dirname "$0")/.."
presets=${BENCH_PRESETS:-customized,naive-1-1,naive-1-1.5,sars-only,tdw-only}
seeds=${BENCH_SEEDS:-1 2 3 4 5}
out=${BENCH_OUT:-runs/bench_nokl120}
name=${BENCH_NAME:-nokl120}
export OMP_NUM_THREADS=${BENCH_THREADS:-$(nproc 2>/dev/null || echo 2)}
export OMP_WAIT_POLICY=passive
keys=(--kl_beta 0 --lr 3e-5 --iterations 120) # configs/main.cfg less its preset
list=""
for s in $seeds; do
    list=${list:+$list,}$s
    echo "bench_test: presets $presets, seeds $list"
    build/cgrpo compare --out "$out" --presets "$presets" --seeds "$list" "${keys[@]}" --headline --quiet
    mkdir -p "docs/results/$name"
    cp "$out"/report.md "$out"/report.json "$out"/*.png "docs/results/$name/"
done
