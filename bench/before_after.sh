#!/usr/bin/env bash
# before_after.sh [REV]: one GRPO iteration of the default config with the code of commit REV
# (default 2695365, the start of issue 19) against this checkout's, in one run on one machine.
#   bash bench/before_after.sh             # about 4 minutes on 2 idle cores, builds REV once
# REV is built in a detached worktree under /tmp (make build/cgrpo); this checkout's binary is
# $BUILD/cgrpo (default build). For each thread count of BA_THREADS ("1 2") and each of BA_REPEAT (2)
# rounds, both sides train BA_ITERS (3) iterations of the trainer's defaults from the shipped models
# (no samples, no gradient-cosine diagnostic, a checkpoint at the end), the side that goes first
# alternating; an iteration's time is the fastest of iterations 2..N (rollout + reward + update).
# The two sides' final checkpoints must hold the same tensors (the speed-ups change no result);
# the run fails otherwise. Writes bench/results/before_after.json and prints the ratio old / new.
# BA_EXTRA: more `cgrpo train` flags for both sides (e.g. "--kl-beta 0", the main job's regime).
# Timings are as good as the machine is quiet: the background load is recorded next to them.
set -eu
cd "$(dirname "$0")/.."
rev=${1:-2695365}
threads=${BA_THREADS:-1 2}
repeat=${BA_REPEAT:-2}
iters=${BA_ITERS:-3}
build=${BUILD:-build}
out=${BA_OUT:-bench/results/before_after.json}
git rev-parse --verify -q "$rev^{commit}" >/dev/null || { echo "before_after: unknown commit '$rev'" >&2; exit 2; }
[ -x "$build/cgrpo" ] || { echo "before_after: no $build/cgrpo (run make first)" >&2; exit 2; }
old_tree=/tmp/cgrpo-before-$(git rev-parse --short "$rev")
if [ ! -x "$old_tree/build/cgrpo" ]; then
    [ -d "$old_tree" ] || git worktree add -q --detach "$old_tree" "$rev"
    make -C "$old_tree" -j"$(nproc 2>/dev/null || echo 2)" build/cgrpo >/tmp/cgrpo-before-build.log 2>&1 ||
        { tail -n 20 /tmp/cgrpo-before-build.log; echo "before_after: building $rev failed" >&2; exit 1; }
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=passive
busy=$(python3 -c "
import os, time
def idle():
    f = [int(x) for x in open('/proc/stat').readline().split()[1:]]; return f[3] + f[4], sum(f)
a = idle(); time.sleep(2); b = idle(); print(round((1 - (b[0] - a[0]) / (b[1] - a[1])) * os.cpu_count(), 2))")
echo "before_after: $rev against $(git rev-parse --short HEAD), background load $busy busy cores"
args=(--model models/base.safetensors --rewards-dir models --iterations "$iters" --sample-every 0 --cos-every 0
      --ckpt-every 0 --quiet ${BA_EXTRA:-})
for t in $threads; do
    for r in $(seq 1 "$repeat"); do
        order="old new"; [ $((r % 2)) -eq 0 ] && order="new old"
        for side in $order; do
            bin=$build/cgrpo; [ "$side" = old ] && bin=$old_tree/build/cgrpo
            OMP_NUM_THREADS=$t "$bin" train --out "$tmp/$side.t$t.r$r" "${args[@]}"
        done
    done
done
python3 - "$tmp" "$out" "$busy" "$rev" "$(git rev-parse --short HEAD)" "$threads" "$repeat" "${BA_EXTRA:-}" <<'EOF'
import json, struct, sys
tmp, out, busy, rev, head, threads, repeat, extra = sys.argv[1:9]
def tensors(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: d[v['data_offsets'][0]:v['data_offsets'][1]] for k, v in h.items() if k != '__metadata__'}
def best(d):
    m = [json.loads(l) for l in open(f"{d}/metrics.jsonl")][1:]
    return min(x["t_rollout"] + x["t_reward"] + x["t_update"] for x in m)
rows, same = [], True
for t in threads.split():
    o = min(best(f"{tmp}/old.t{t}.r{r}") for r in range(1, int(repeat) + 1))
    n = min(best(f"{tmp}/new.t{t}.r{r}") for r in range(1, int(repeat) + 1))
    a, b = tensors(f"{tmp}/old.t{t}.r1/ckpt.safetensors"), tensors(f"{tmp}/new.t{t}.r1/ckpt.safetensors")
    eq = a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    same = same and eq
    rows.append({"threads": int(t), "old_s": round(o, 3), "new_s": round(n, 3), "ratio": round(o / n, 3),
                 "same_checkpoint": eq})
json.dump({"old": rev, "new": head, "config": "trainer defaults (P 4 x G 8, 10 steps, KL beta 1)", "extra_flags": extra,
           "background_busy_cores": float(busy), "items": rows}, open(out, "w"), indent=1)
print("| threads | old | new | old / new | same checkpoint tensors |")
print("|---|---|---|---|---|")
for x in rows:
    print(f"| {x['threads']} | {x['old_s']:.2f} s | {x['new_s']:.2f} s | {x['ratio']:.2f} | {'yes' if x['same_checkpoint'] else 'NO'} |")
sys.exit(0 if same else 1)
EOF
