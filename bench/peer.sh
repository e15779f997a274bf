#!/usr/bin/env bash
# peer.sh: cgrpo against its PyTorch eager twin (bench/torch_twin.py), issue 19, in one run:
#   bash bench/peer.sh          # about 12 minutes on 2 cores; needs torch (pip install torch)
# 1. checks the twin: build/bench/bench_peer dumps cgrpo's generator output and gradients, one
#    block's, an SDE rollout, a GRPO micro-batch and an AdamW step on fixed inputs, and the twin
#    prints its relative error on each (it fails the run above 1e-4);
# 2. PEER_REPEAT times, at 1 and 2 threads (OMP_NUM_THREADS, torch.set_num_threads), each side
#    in turn (the first side alternates): the block and generator timings (bench_peer time,
#    torch_twin.py time; sgemm at the same shapes in the same run), then PEER_ITERS GRPO
#    iterations of the default config (`cgrpo train`, torch_twin.py grpo with random rewards)
#    under /usr/bin/time -v for the peak RSS, once as cgrpo train runs by default (the update
#    reuses the rollout's forwards of the trained steps) and once recomputing them
#    (--forward-cache-mb 0, torch_twin.py --recompute);
# 3. writes bench/results/peer.json (bench/peer_report.py) and prints its markdown table: each
#    side's fastest figure over the repeats (block and generator items: best of 3 rounds of the
#    mean over PEER_MIN_S s; the GRPO iteration: the fastest of iterations 2..N), the means kept too.
# Settings: PEER_ITERS (3 iterations per GRPO run), PEER_REPEAT (2), PEER_MIN_S (0.5 s per round),
# PEER_WAIT_POLICY (passive, the main job's default, for both), PEER_THREADS ("1 2"),
# PEER_OUT (bench/results/peer.json), BUILD (build).
# Timings are only as good as the machine is quiet: the background load is measured before the
# run and recorded in peer.json (environment.background_busy_cores).
set -eu
cd "$(dirname "$0")/.."
iters=${PEER_ITERS:-3}
repeat=${PEER_REPEAT:-2}
min_s=${PEER_MIN_S:-0.5}
wait_policy=${PEER_WAIT_POLICY:-passive}
threads=${PEER_THREADS:-1 2}
out=${PEER_OUT:-bench/results/peer.json}
build=${BUILD:-build}

python3 -c "import torch" 2>/dev/null || { echo "peer.sh: needs PyTorch (pip install torch, see tools/requirements.txt)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "peer.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
log=$(mktemp)
make -j2 BUILD="$build" "$build/cgrpo" "$build/bench/bench_peer" >"$log" 2>&1 || { tail -n 40 "$log"; rm -f "$log"; exit 1; }
rm -f "$log"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$out")"

# the machine and its background load (busy cores over one second, before anything of ours runs)
python3 - "$tmp/env.json" "$iters" "$min_s" "$wait_policy" "$threads" "$repeat" <<'EOF'
import json, os, platform, subprocess, sys, time
out, iters, min_s, wait, threads, repeat = sys.argv[1:]
def stat():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v), v[3] + v[4]
t0, i0 = stat(); time.sleep(1.0); t1, i1 = stat()
cores = os.cpu_count()
busy = cores * (1 - (i1 - i0) / max(1, t1 - t0))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
env = {"cpu": cpu, "cores": cores, "threads": [int(t) for t in threads.split()], "iters": int(iters), "repeat": int(repeat),
       "min_s": float(min_s), "omp_wait_policy": wait, "commit": git("rev-parse", "HEAD"),
       "src_modified": bool(git("status", "--porcelain", "src")), "background_busy_cores": round(busy, 2),
       "loadavg_start": open("/proc/loadavg").read().split()[0], "date": time.strftime("%Y-%m-%d %H:%M:%S")}
import warnings
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch without numpy
import torch
env["torch"] = torch.__version__
json.dump(env, open(out, "w"), indent=1)
print(f"peer.sh: {cpu}, {cores} cores, {busy:.2f} busy before the run (load average {env['loadavg_start']}); "
      f"commit {env['commit'][:10]}{' with modified src/' if env['src_modified'] else ''}; torch {env['torch']}")
EOF

echo "== 1. the twin against cgrpo on identical inputs"
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=$wait_policy "$build/bench/bench_peer" check "$tmp/check.safetensors"
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=$wait_policy python3 bench/torch_twin.py check "$tmp/check.safetensors" \
    --threads 2 --json "$tmp/check.json"
rm -f "$tmp/check.safetensors"
/usr/bin/time -v -o "$tmp/torch_import_rss.txt" python3 -c "import torch" 2>/dev/null

# one side's items at $t threads, repeat $r: its block and generator timings, then its GRPO iterations
run_cgrpo() {
    "$build/bench/bench_peer" time --min-s "$min_s" >"$tmp/c_time_${t}_$r.json"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); [print(f'cgrpo {k:18s} {v[\"s\"]*1e3:9.3f} ms  ({v[\"gflops\"]:.1f} GFLOP/s; sgemm at its shapes {v[\"sgemm_gflops\"]:.1f})') for k,v in d['items'].items()]" "$tmp/c_time_${t}_$r.json"
    # the default (the update reuses the rollout's forwards), then --forward-cache-mb 0 (it recomputes them)
    for mode in reuse recompute; do
        cache=(); [ $mode = recompute ] && cache=(--forward-cache-mb 0)
        /usr/bin/time -v -o "$tmp/c_rss_${mode}_${t}_$r.txt" "$build/cgrpo" train --out "$tmp/train_${mode}_${t}_$r" \
            --iterations "$iters" --cos_every 0 --sample_every 0 --ckpt_every 0 --quiet "${cache[@]}"
        python3 -c "import json,sys; [print('cgrpo grpo ($mode) iter {iteration}: rollout {t_rollout:.2f} s, reward {t_reward:.3f} s, update {t_update:.2f} s'.format(**json.loads(l))) for l in open(sys.argv[1])]" "$tmp/train_${mode}_${t}_$r/metrics.jsonl"
    done
}
run_torch() {
    python3 bench/torch_twin.py time --threads "$t" --min-s "$min_s" --json "$tmp/t_time_${t}_$r.json"
    for mode in reuse recompute; do
        flag=(); [ $mode = recompute ] && flag=(--recompute)
        /usr/bin/time -v -o "$tmp/t_rss_${mode}_${t}_$r.txt" python3 bench/torch_twin.py grpo --threads "$t" \
            --iters "$iters" --json "$tmp/t_grpo_${mode}_${t}_$r.json" "${flag[@]}"
    done
}
# Repeats alternate which side goes first, and the report keeps each side's fastest figure: load
# from other processes only ever adds time.
for r in $(seq 1 "$repeat"); do
    for t in $threads; do
        echo "== 2. repeat $r of $repeat, $t thread(s), OMP_WAIT_POLICY=$wait_policy"
        export OMP_NUM_THREADS=$t OMP_WAIT_POLICY=$wait_policy
        if [ $((r % 2)) -eq 1 ]; then run_cgrpo; run_torch; else run_torch; run_cgrpo; fi
    done
done
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); e['loadavg_end']=open('/proc/loadavg').read().split()[0]; json.dump(e,open(sys.argv[1],'w'),indent=1)" "$tmp/env.json"

echo "== 3. $out"
python3 bench/peer_report.py "$tmp" "$out"
