#!/usr/bin/env bash
# main.sh: install dependencies, build, and run cgrpo's main job:
#   1. evaluate the shipped base generator on the 30 held-out TEST subjects of SubjectBench
#   2. fine-tune it with Customized-GRPO (`cgrpo train --config configs/main.cfg`: preset customized
#      = SARS + TDW, no KL, lr 3e-5, 120 iterations, the regime chosen on VAL in issue 18) on TRAIN
#      subjects, with the shipped identity and prompt rewards
#   3. evaluate the fine-tuned generator the same way and print base vs trained
# Everything lands in runs/main/. An interrupted job continues where it stopped when run again
# (the training resumes bit-exactly from its checkpoint; finished steps are not redone).
# Options: MAIN_OUT=DIR (default runs/main), MAIN_THREADS=N (default: the number of cores),
# MAIN_WAIT_POLICY=active (spin at barriers: faster on an otherwise idle machine, bench/bench_threads.sh).
set -eu
cd "$(dirname "$0")/.."
source scripts/deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
export OMP_NUM_THREADS=${MAIN_THREADS:-$(nproc 2>/dev/null || echo 2)}
export OMP_WAIT_POLICY=${MAIN_WAIT_POLICY:-passive} # idle OpenMP threads sleep instead of spinning on a shared machine
out=${MAIN_OUT:-runs/main}
cg=build/cgrpo
base=models/base.safetensors
# held-out evaluation: all 30 test subjects x 8 of the 25 prompts (scenes 0 4 8, scene or accessory
# 12 16, properties 20 22 24), one ODE image each from fixed noise
evalopts=(--split test --prompts 0,4,8,12,16,20,22,24 --steps 20 --quiet)
mkdir -p "$out"
t0=$(date +%s)

echo "== 1/3 the base generator on the held-out test subjects =="
if [ ! -s "$out/eval_base/results.json" ]; then
    $cg eval --model "$base" --out "$out/eval_base" "${evalopts[@]}" >"$out/eval_base.txt"
fi
sed -n '1,12p' "$out/eval_base.txt"

echo "== 2/3 Customized-GRPO fine-tuning (cgrpo train --config configs/main.cfg) =="
if [ -s "$out/train/model.safetensors" ]; then
    echo "   already trained: $out/train/model.safetensors"
elif [ -s "$out/train/ckpt.safetensors" ]; then
    $cg train --resume "$out/train"
else
    $cg train --config configs/main.cfg --model "$base" --rewards-dir models --out "$out/train"
fi
$cg plot --jsonl "$out/train/metrics.jsonl" --x iteration --y reward_id_mean,reward_prompt_mean \
    --label "identity reward (id)","prompt reward (prompt)" --title "Customized-GRPO: rewards of the rollouts" \
    --xlabel iteration --ylabel "mean reward of the iteration" --out "$out/train/rewards.png"

echo "== 3/3 the fine-tuned generator on the same test subjects, against the base =="
$cg eval --model "$out/train/model.safetensors" --out "$out/eval_trained" "${evalopts[@]}" \
    --baseline "$out/eval_base/results.json" >"$out/eval_trained.txt"
cat "$out/eval_trained.txt"
echo "done in $(($(date +%s) - t0)) s: $out/ (eval_base/, train/, eval_trained/; grids grid_*.png, curves train/rewards.png)"
