#!/usr/bin/env bash
# probe_val.sh NAME [cgrpo train flags...]: one probe of the trainer's settings on the VALIDATION
# subjects, the way the defaults of `cgrpo train` were chosen (src/rl/trainer.c, README): train the
# shipped base with the given flags on TRAIN subjects, evaluate on the 40 VAL subjects x the main job's
# 8 prompts, and print the changes against the base with their paired standard errors. The test
# subjects are never touched. Runs land in runs/probes/NAME/; the base's VAL evaluation is made once
# in runs/probes/val_base/. A rerun resumes an interrupted probe.
#   bash scripts/probe_val.sh kl1 --lr 1e-4 --kl_beta 1 --iterations 40
# Options: PROBE_THREADS=N (default: the number of cores), PROBE_CGRPO=BINARY (use this cgrpo
# binary as it is instead of building build/cgrpo: a long sweep unaffected by edits to the tree).
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/probe_val.sh NAME [cgrpo train flags...]" >&2; exit 2; }
name=$1; shift
if [ -z "${PROBE_CGRPO:-}" ]; then
    make -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
fi
export OMP_NUM_THREADS=${PROBE_THREADS:-$(nproc 2>/dev/null || echo 2)}
export OMP_WAIT_POLICY=passive
cg=${PROBE_CGRPO:-build/cgrpo}
out=runs/probes
evalopts=(--split val --prompts 0,4,8,12,16,20,22,24 --steps 20 --quiet)
mkdir -p "$out"
if [ ! -s "$out/val_base/results.json" ]; then
    $cg eval --model models/base.safetensors --out "$out/val_base" "${evalopts[@]}" >"$out/val_base.txt"
fi
d=$out/$name
if [ ! -s "$d/model.safetensors" ]; then
    if [ -s "$d/ckpt.safetensors" ]; then $cg train --resume "$d" --quiet
    else $cg train --model models/base.safetensors --rewards-dir models --out "$d" --quiet "$@"; fi
fi
$cg eval --model "$d/model.safetensors" --out "$d/eval_val" "${evalopts[@]}" \
    --baseline "$out/val_base/results.json" >"$d/eval_val.txt"
sed -n '/^baseline/,$p' "$d/eval_val.txt" | grep -E '^(baseline|metric)|overall'
