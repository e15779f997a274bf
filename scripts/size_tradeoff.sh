#!/usr/bin/env bash
# size_tradeoff.sh: the generator's size/quality trade-off at a fixed compute budget (issue 4).
# Three DiT sizes train with the base recipe (configs/pretrain_base.cfg: data, batch 16, AdamW, EMA,
# warm-up) on a constant learning rate, each for a number of steps that costs about the same time
# on one thread; the validation loss of the EMA weights on the fixed VAL samples is logged every 250
# steps with the elapsed time. Writes runs/size_tradeoff/<size>/ and runs/size_tradeoff/val_loss.png
# (validation loss against wall-clock seconds, one line per size) and prints the final losses.
# Resumable: a rerun continues each size from its checkpoint. One thread per run, sizes in turn.
#   bash scripts/size_tradeoff.sh            # about 3 x 25 min on one thread
# Options: TRADEOFF_SCALE=F multiplies every step budget (0.1 for a quick look; runs/size_tradeoff_xF/).
set -eu
cd "$(dirname "$0")/.."
make -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
cg=build/cgrpo
out=runs/size_tradeoff
scale=${TRADEOFF_SCALE:-1}
[ "$scale" = 1 ] || out=${out}_x$scale # a scaled run never mixes with the full one
mkdir -p "$out"
# name width depth heads steps: steps ~ inversely proportional to the per-step cost measured by
# bench_nn's DiT block times (fwd + bwd per block x depth): w96 d4 ~0.4x, w128 d6 1x, w192 d8 ~2.4x
sizes=("small 96 4 4 3600" "base 128 6 4 1500" "large 192 8 6 620")
files=(); labels=()
for s in "${sizes[@]}"; do
    set -- $s
    name=$1 width=$2 depth=$3 heads=$4
    steps=$(awk -v s="$5" -v f="$scale" 'BEGIN { n = int(s * f); print n < 10 ? 10 : n }')
    d=$out/$name
    if [ -s "$d/model.safetensors" ]; then echo "$name: done"
    elif [ -s "$d/ckpt.safetensors" ]; then $cg pretrain --resume "$d" --quiet
    else
        $cg pretrain --config configs/pretrain_base.cfg --out "$d" --quiet --width "$width" --depth "$depth" \
            --heads "$heads" --steps "$steps" --lr_schedule constant --warmup 200 --val_every 250 --ckpt_every 250
    fi
    files+=("$d/metrics.jsonl"); labels+=("$name (w$width d$depth)")
done
(IFS=,; $cg plot --jsonl "${files[*]}" --x elapsed_s --y val_loss_ema --label "${labels[*]}" --logy \
    --title "Generator size vs validation loss at equal compute (1 thread)" --xlabel "seconds" \
    --ylabel "val loss (EMA weights)" --out "$out/val_loss.png")
for f in "${files[@]}"; do
    grep '"val_loss_ema"' "$f" | tail -n 1 | sed "s|^|$(dirname "$f" | xargs basename): |"
done
