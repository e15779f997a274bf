#!/usr/bin/env python3
"""peer_report.py: bench/results/peer.json and its markdown table from the files bench/peer.sh wrote.

  python3 bench/peer_report.py TMPDIR OUT.json     (bench/peer.sh calls it; standard library only)

TMPDIR holds, per thread count T: c_time_T.json (build/bench/bench_peer time), t_time_T.json
(torch_twin.py time), train_T/metrics.jsonl (cgrpo train), t_grpo_T.json (torch_twin.py grpo),
c_rss_T.txt and t_rss_T.txt (/usr/bin/time -v of those two); and check.json (torch_twin.py check),
env.json (what peer.sh recorded about the machine), torch_import_rss.txt.
"""
import json
import os
import sys

ITEMS = ["block_fwd", "block_fwd_bwd", "generator_fwd", "generator_fwd_bwd", "grpo_iteration"]


def load(path):
    with open(path) as f:
        return json.load(f)


def max_rss_mib(path):
    for line in open(path):
        if "Maximum resident set size" in line:
            return int(line.split(":")[-1]) / 1024.0
    raise SystemExit(f"{path}: no 'Maximum resident set size' line")


def cgrpo_iteration(metrics):
    """Mean of iterations 2..N (the first pays for page faults), rollout + reward + update."""
    rows = [json.loads(line) for line in open(metrics) if line.strip()]
    later = rows[1:] if len(rows) > 1 else rows
    m = {k: sum(r[k] for r in later) / len(later) for k in ("t_rollout", "t_reward", "t_update")}
    m["total"] = m["t_rollout"] + m["t_reward"] + m["t_update"]
    m["iterations"] = len(rows)
    return m


def main():
    tmp, out = sys.argv[1], sys.argv[2]
    env = load(os.path.join(tmp, "env.json"))
    threads = env["threads"]
    items, sgemm, block, rss, detail = [], {}, {}, {"cgrpo": {}, "torch": {}}, {}
    for t in threads:
        ct = load(os.path.join(tmp, f"c_time_{t}.json"))
        tt = load(os.path.join(tmp, f"t_time_{t}.json"))
        cg = cgrpo_iteration(os.path.join(tmp, f"train_{t}", "metrics.jsonl"))
        tg = load(os.path.join(tmp, f"t_grpo_{t}.json"))
        gi = ct["grpo_iteration"]
        for name in ITEMS:
            if name == "grpo_iteration":
                c_s, t_s, flop, sg_s = cg["total"], tg["mean_of_later"]["total"], gi["flop"], gi["sgemm_s"]
            else:
                it = ct["items"][name]
                c_s, t_s, flop, sg_s = it["s"], tt["items"][name], it["flop"], it["sgemm_s"]
            items.append({"name": name, "threads": t, "cgrpo_s": c_s, "torch_s": t_s, "ratio": t_s / c_s,
                          "cgrpo_gflops": flop / c_s * 1e-9, "sgemm_gflops": flop / sg_s * 1e-9, "gflop": flop * 1e-9})
        bb = ct["items"]["block_fwd_bwd"]
        sgemm[str(t)] = bb["flop"] / bb["sgemm_s"] * 1e-9
        block[str(t)] = bb["flop"] / bb["s"] * 1e-9
        rss["cgrpo"][str(t)] = max_rss_mib(os.path.join(tmp, f"c_rss_{t}.txt"))
        rss["torch"][str(t)] = max_rss_mib(os.path.join(tmp, f"t_rss_{t}.txt"))
        detail[str(t)] = {"cgrpo": cg, "torch": tg["mean_of_later"], "torch_iterations": len(tg["iterations"])}
    check = load(os.path.join(tmp, "check.json"))
    res = {
        "generated_by": "bash bench/peer.sh",
        "environment": env,
        "items": items,
        "sgemm_gflops": sgemm,
        "block_gflops": block,
        "peak_rss_mib": rss,
        "torch_import_rss_mib": max_rss_mib(os.path.join(tmp, "torch_import_rss.txt")),
        "grpo_iteration_phases": detail,
        "check": check,
        "notes": [
            "ratio = torch_s / cgrpo_s: above 1 cgrpo is faster",
            "block and generator items: B = 8 rows (one GRPO group), best of 3 rounds of the mean over >= min_s s; "
            "torch forwards run under torch.no_grad(), cgrpo's forward always saves its activations",
            "grpo_iteration: the default `cgrpo train` config without the gradient-cosine diagnostic (cos_every 0), "
            "mean of iterations 2..N; cgrpo's is rollout + reward + update from metrics.jsonl (real rewards, "
            "rendered references), the twin's uses RANDOM rewards and random references and prompts",
            "GFLOP/s count matrix products only (2 M N K over every product of the item, the same count for both); "
            "sgemm_gflops: plain OpenBLAS sgemm running exactly those products in the same run; grpo_iteration's "
            "count and sgemm time are its forwards and backwards (rollout, policy forward + backward, reference "
            "forward) at the generator items' figures",
            "peak_rss_mib: maximum resident set size of the whole process of --iters GRPO iterations (/usr/bin/time "
            "-v): cgrpo train also holds the reward models and the world, the twin holds torch's libraries "
            "(torch_import_rss_mib is `import torch` alone)",
        ],
    }
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")

    print(f"| item | threads | cgrpo s | torch s | torch / cgrpo | cgrpo GFLOP/s | sgemm GFLOP/s, same shapes |")
    print("|---|---|---|---|---|---|---|")
    for it in items:
        fmt = (lambda s: f"{s:.2f}") if it["name"] == "grpo_iteration" else (lambda s: f"{s * 1e3:.2f} ms")
        print(f"| {it['name']} | {it['threads']} | {fmt(it['cgrpo_s'])} | {fmt(it['torch_s'])} | {it['ratio']:.2f} | "
              f"{it['cgrpo_gflops']:.1f} | {it['sgemm_gflops']:.1f} |")
    print()
    for t in threads:
        c, tr = detail[str(t)]["cgrpo"], detail[str(t)]["torch"]
        print(f"GRPO iteration, {t} thread(s): cgrpo rollout {c['t_rollout']:.2f} s + reward {c['t_reward']:.2f} s + "
              f"update {c['t_update']:.2f} s; torch rollout {tr['t_rollout']:.2f} s + reward {tr['t_reward']:.3f} s "
              f"(random) + update {tr['t_update']:.2f} s; peak RSS cgrpo {rss['cgrpo'][str(t)]:.0f} MiB, torch "
              f"{rss['torch'][str(t)]:.0f} MiB (import torch alone {res['torch_import_rss_mib']:.0f} MiB)")
    load_note = env.get("background_busy_cores")
    if load_note is not None:
        print(f"background load before the run: {load_note:.2f} busy cores of {env.get('cores')}; "
              f"load average {env.get('loadavg_start')} at the start, {env.get('loadavg_end')} at the end")
    print(f"twin check: generator output {check['generator_out']:.1e}, gradients {check['generator_grads']:.1e}; "
          f"GRPO micro-batch gradients {check['grpo_grads']:.1e} (relative errors; details in {out})")


if __name__ == "__main__":
    main()
