#!/usr/bin/env bash
# sweep_val.sh [GRID]: the trainer's settings swept on the VALIDATION subjects (issue 18). GRID
# (default configs/sweeps/val.txt) has one probe per line: NAME and `cgrpo train` flags. Each probe
# runs once per preset and seed, as runs/probes/NAME.PRESET.sSEED (scripts/probe_val.sh: train on
# TRAIN subjects, evaluate on the 40 VAL subjects x the main job's 8 prompts), and after every
# probe the table is rewritten: docs/results/sweep_val.md and .json (tools/sweep_table.py: paired
# changes against the base, customized against naive, the training diagnostics). TEST subjects are
# never touched. Rerunning skips finished probes and resumes an interrupted one.
#   bash scripts/sweep_val.sh                                  # the whole grid
#   SWEEP_ONLY="nokl kl3" SWEEP_SEEDS="1 2" bash scripts/sweep_val.sh
# Options: SWEEP_PRESETS (default "naive-1-1 customized"), SWEEP_SEEDS (default "1"),
#          SWEEP_ONLY (probe names to run; default all), SWEEP_OUT (default docs/results/sweep_val),
#          SWEEP_PRIOR (an earlier table's JSON whose results are kept for probes whose run
#          directories are gone, e.g. on a fresh clone; default: SWEEP_OUT.json when it exists),
#          PROBE_THREADS (scripts/probe_val.sh).
set -eu
cd "$(dirname "$0")/.."
grid=${1:-configs/sweeps/val.txt}
[ -r "$grid" ] || { echo "sweep_val: cannot read grid file $grid" >&2; exit 2; }
presets=${SWEEP_PRESETS:-naive-1-1 customized}
seeds=${SWEEP_SEEDS:-1}
only=${SWEEP_ONLY:-}
out=${SWEEP_OUT:-docs/results/sweep_val}
prior=${SWEEP_PRIOR-$out.json}
table() { python3 tools/sweep_table.py --grid "$grid" --probes runs/probes --out "$out" ${prior:+--prior "$prior"}; }
while read -r name flags; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ -n "$only" ] && ! printf ' %s ' "$only" | grep -q " $name "; then continue; fi
    for seed in $seeds; do
        for preset in $presets; do
            probe=$name.$preset.s$seed
            if [ -s "runs/probes/$probe/eval_val/images.jsonl" ]; then continue; fi
            echo "sweep_val: $probe ($flags)"
            # shellcheck disable=SC2086 # the flags are words
            bash scripts/probe_val.sh "$probe" --preset "$preset" --seed "$seed" $flags </dev/null
            table
        done
    done
done <"$grid"
table
