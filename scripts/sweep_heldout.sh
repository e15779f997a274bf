#!/usr/bin/env bash
# sweep_heldout.sh [SUBJECTS_SEED] [GRID]: every finished probe of the VAL sweep (scripts/sweep_val.sh)
# and the base, evaluated again on the VAL subjects of another SubjectBench population (default
# subjects seed 101: no reward, judge or generator trained on it, and nothing was chosen with it),
# with the same 8 prompts; the table goes to docs/results/sweep_val_heldout_sSEED.{md,json}. Nothing
# is trained. Reruns skip finished evaluations; results of earlier sessions whose run directories are
# gone are kept from the table's JSON (tools/sweep_table.py --prior).
# Options: PROBE_CGRPO=BINARY (default build/cgrpo, built first), PROBE_THREADS=N.
set -eu
cd "$(dirname "$0")/.."
seed=${1:-101}
grid=${2:-configs/sweeps/val.txt}
case "$seed" in ''|*[!0-9]*) echo "sweep_heldout: subjects seed must be a number, got '$seed'" >&2; exit 2 ;; esac
[ "$seed" != 1 ] || { echo "sweep_heldout: subjects seed 1 is the population the sweep tuned on" >&2; exit 2; }
[ -r "$grid" ] || { echo "sweep_heldout: cannot read grid file $grid" >&2; exit 2; }
if [ -z "${PROBE_CGRPO:-}" ]; then
    make -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
fi
cg=${PROBE_CGRPO:-build/cgrpo}
export OMP_NUM_THREADS=${PROBE_THREADS:-$(nproc 2>/dev/null || echo 2)}
export OMP_WAIT_POLICY=passive
ev=eval_val_s$seed
evalopts=(--split val --subjects-seed "$seed" --prompts 0,4,8,12,16,20,22,24 --steps 20 --quiet)
p=runs/probes
if [ ! -s "$p/val_base_s$seed/images.jsonl" ]; then
    $cg eval --model models/base.safetensors --out "$p/val_base_s$seed" "${evalopts[@]}" >"$p/val_base_s$seed.txt"
fi
for d in "$p"/*/; do
    d=${d%/}
    [ -s "$d/model.safetensors" ] && [ -s "$d/eval_val/images.jsonl" ] || continue
    [ -s "$d/$ev/images.jsonl" ] && continue
    echo "sweep_heldout: $(basename "$d")"
    $cg eval --model "$d/model.safetensors" --out "$d/$ev" "${evalopts[@]}" >"$d/$ev.txt"
done
python3 tools/sweep_table.py --grid "$grid" --probes "$p" --eval "$ev" --base "val_base_s$seed" \
    --out "docs/results/sweep_val_heldout_s$seed" --prior "docs/results/sweep_val_heldout_s$seed.json" --title "The VAL sweep on a held-out population (subjects seed $seed)" \
    --note "The models of the VAL sweep (docs/results/sweep_val.md, trained on TRAIN subjects of subjects seed 1), evaluated on the 40 VAL subjects of subjects seed $seed instead, which nothing in cgrpo was trained or tuned on (\`bash scripts/sweep_heldout.sh $seed\`). Below, 'the 40 VAL subjects' are that population's."
