#!/usr/bin/env bash
# bench_mpi.sh: data-parallel GRPO on this machine (issue 20). One process at 1 and at 2 threads and
# mpirun -np 2 at 1 thread per rank train MPI_ITERS iterations of the main job's config
# (configs/main.cfg: P 4 x G 8, 10 steps, no KL) from the shipped models, and the split of an
# iteration is read from metrics.jsonl (t_rollout, t_reward, t_update, t_allreduce; the fastest
# of iterations 2..N). Every run has room for all 24 kept forwards (rl/forward_cache.h): one
# process 3072 MiB, each of two ranks 1536 MiB for its 12. Writes bench/results/mpi.json.
#   bash bench/bench_mpi.sh          # about 3 minutes on 2 idle cores; needs make MPI=1
# Settings: MPI_ITERS (4), MPI_OUT (bench/results/mpi.json), BUILD (build: the MPI-free binary).
# Timings are as good as the machine is quiet: the background load is recorded next to them.
set -eu
cd "$(dirname "$0")/.."
iters=${MPI_ITERS:-4}
out=${MPI_OUT:-bench/results/mpi.json}
build=${BUILD:-build}
[ -x "$build/cgrpo" ] && [ -x build-mpi/cgrpo ] || { echo "bench_mpi: needs $build/cgrpo and build-mpi/cgrpo (make; make MPI=1)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=passive OMPI_MCA_btl_vader_single_copy_mechanism=none
busy=$(python3 -c "
import time
def idle():
    f=[int(x) for x in open('/proc/stat').readline().split()[1:]]; return f[3]+f[4], sum(f)
a=idle(); time.sleep(2); b=idle(); import os
print(round((1-(b[0]-a[0])/(b[1]-a[1]))*os.cpu_count(),2))")
args=(--config configs/main.cfg --iterations "$iters" --sample-every 0 --cos-every 0 --ckpt-every 0 --quiet)
echo "bench_mpi: background load $busy busy cores"
OMP_NUM_THREADS=1 "$build"/cgrpo train --out "$tmp/np1t1" "${args[@]}" --forward-cache-mb 3072
OMP_NUM_THREADS=2 "$build"/cgrpo train --out "$tmp/np1t2" "${args[@]}" --forward-cache-mb 3072
OMP_NUM_THREADS=1 mpirun --allow-run-as-root -np 2 build-mpi/cgrpo train --out "$tmp/np2t1" "${args[@]}" --forward-cache-mb 1536
params=$("$build"/cgrpo inspect models/base.safetensors | sed -nE 's/^[0-9]+ tensors, ([0-9]+) parameters$/\1/p')
[ -n "$params" ] || { echo "bench_mpi: cannot read the parameter count of models/base.safetensors" >&2; exit 1; }
python3 - "$tmp" "$out" "$busy" "$iters" "$params" <<'EOF'
import json, sys
tmp, out, busy, iters, params = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = []
for name, np_, th in (("np1t1", 1, 1), ("np1t2", 1, 2), ("np2t1", 2, 1)):
    m = [json.loads(l) for l in open(f"{tmp}/{name}/metrics.jsonl")][1:]  # iteration 1 warms up
    best = min(m, key=lambda d: d["t_rollout"] + d["t_reward"] + d["t_diag"] + d["t_update"])
    it = best["t_rollout"] + best["t_reward"] + best["t_diag"] + best["t_update"]
    rows.append({"ranks": np_, "threads_per_rank": th, "iteration_s": round(it, 3),
                 "rollout_s": round(best["t_rollout"], 3), "reward_s": round(best["t_reward"], 3),
                 "update_s": round(best["t_update"], 3), "allreduce_s": round(best.get("t_allreduce") or 0.0, 4)})
res = {"config": "configs/main.cfg", "iterations": iters, "background_busy_cores": busy,
       "parameters": params, "allreduce_bytes": params * 4, "runs": rows}
json.dump(res, open(out, "w"), indent=1)
print("| ranks x threads | iteration s | rollout s | reward s | update s | of it all-reduce s |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['ranks']} x {r['threads_per_rank']} | {r['iteration_s']:.2f} | {r['rollout_s']:.2f} | {r['reward_s']:.2f} | "
          f"{r['update_s']:.2f} | {r['allreduce_s']:.3f} |")
EOF
echo "bench_mpi: wrote $out"
