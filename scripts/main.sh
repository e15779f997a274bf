#!/usr/bin/env bash
# main.sh: install dependencies, build, and run cgrpo's main job.
# The Customized-GRPO trainer does not exist yet, so this runs the most complete end-to-end demo
# that does: the SubjectBench world of the default subjects seed (its 30 held-out test subjects as a
# contact sheet), and the advantage shaping of the trainer (naive vs SARS + TDW) on a sample group.
# Output goes to runs/demo/.
set -eu
cd "$(dirname "$0")/.."
source scripts/deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
out=runs/demo
mkdir -p "$out"
cg=build/cgrpo

echo "== SubjectBench: the 30 test subjects of subjects seed 1 =="
$cg world list --subjects-seed 1 --split test | head -n 6
echo "   ... (30 subjects; full list: $cg world list --subjects-seed 1 --split test)"
$cg world prompts --subjects-seed 1 --split test --subject 1 | sed -n '1p;11p;21p;25p' | sed 's/^/   prompt: /'
$cg world grid --subjects-seed 1 --split test --out "$out/test_subjects.png"
echo "   contact sheet: $out/test_subjects.png"

echo "== Advantages of one group of 4 samples (group,r_id,r_prompt) over a 25-step schedule =="
rewards="g,80,20
g,70,35
g,60,30
g,90,10"
echo "$rewards" | sed 's/^/   /'
for shaping in "naive --weighting static" "sars --weighting tdw"; do
    echo "   --shaping $shaping: advantage of each sample at steps 0 / 12 / 24"
    echo "$rewards" | $cg advantages --shaping $shaping --steps 25 |
        awk -F, 'NR > 1 && ($3 == 0 || $3 == 12 || $3 == 24) { a[$2] = a[$2] sprintf(" %8.4f", $4) }
                 END { for (i = 0; i < 4; i++) printf "     sample %d:%s\n", i, a[i] }'
done
echo "done: see $out/"
