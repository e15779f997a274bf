#!/usr/bin/env bash
# bench_threads.sh: GRPO iteration time and ODE sampling rate of the shipped models at 1 and 2
# OpenMP threads (passive and active waiting), so that the thread setting of the main job is chosen
# by a measurement. Run it on an otherwise idle machine:
#   bash bench/bench_threads.sh            # about 3 minutes on 2 cores
# Prints one line per setting: the mean rollout, reward and update seconds of iterations 2..N
# (the first one pays for page faults and allocation) and the evaluation's images per second.
set -eu
cd "$(dirname "$0")/.."
make -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
iters=${BENCH_ITERS:-4}
subjects=10 prompts=0,4,8,12,16,20,22,24
images=$((subjects * $(echo "$prompts" | tr , "\n" | wc -l))) # one image per (subject, prompt)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for setting in "1 passive" "2 passive" "2 active"; do
    set -- $setting
    d=$tmp/t$1$2
    OMP_NUM_THREADS=$1 OMP_WAIT_POLICY=$2 build/cgrpo train --out "$d" --iterations "$iters" --cos_every 0 \
        --sample_every 0 --ckpt_every 0 --quiet
    t0=$(date +%s.%N)
    OMP_NUM_THREADS=$1 OMP_WAIT_POLICY=$2 build/cgrpo eval --model models/base.safetensors --out "$d/eval" \
        --subjects "$subjects" --prompts "$prompts" --quiet >/dev/null
    t1=$(date +%s.%N)
    python3 - "$d" "$1" "$2" "$t0" "$t1" "$images" <<'EOF'
import json, sys
d, n, pol, t0, t1, images = sys.argv[1:]
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")][1:]
m = lambda k: sum(r[k] for r in rows) / len(rows)
print(f"threads {n} {pol:7s}: iteration rollout {m('t_rollout'):.2f} s, reward {m('t_reward'):.2f} s, "
      f"update {m('t_update'):.2f} s, total {m('t_rollout') + m('t_reward') + m('t_update'):.2f} s "
      f"(mean of iterations 2..{len(rows) + 1}); eval {int(images) / (float(t1) - float(t0)):.1f} images/s ({images} images, 20 ODE steps)")
EOF
done
