#!/usr/bin/env python3
"""peer_report.py: bench/results/peer.json and its markdown table from the files bench/peer.sh wrote.

  python3 bench/peer_report.py TMPDIR OUT.json     (bench/peer.sh calls it; standard library only)

TMPDIR holds, per thread count T and repeat R: c_time_T_R.json (build/bench/bench_peer time),
t_time_T_R.json (torch_twin.py time), and per MODE (reuse: the update reuses the rollout's
forwards, cgrpo train's default; recompute: --forward-cache-mb 0 and torch_twin.py --recompute)
train_MODE_T_R/metrics.jsonl (cgrpo train), t_grpo_MODE_T_R.json (torch_twin.py grpo),
c_rss_MODE_T_R.txt and t_rss_MODE_T_R.txt (/usr/bin/time -v of those two); and
check.json (torch_twin.py check), env.json (what peer.sh recorded about the machine),
torch_import_rss.txt. Each side's figure of an item is its fastest over the repeats (the block and
generator items are already the best of 3 rounds; the GRPO iteration is the fastest of iterations
2..N of every run); the means are kept next to them.
"""
import json
import os
import sys

ITEMS = ["block_fwd", "block_fwd_bwd", "generator_fwd", "generator_fwd_bwd", "grpo_iteration",
         "grpo_iteration_recompute"]
MODES = {"grpo_iteration": "reuse", "grpo_iteration_recompute": "recompute"}


def load(path):
    with open(path) as f:
        return json.load(f)


def max_rss_mib(path):
    for line in open(path):
        if "Maximum resident set size" in line:
            return int(line.split(":")[-1]) / 1024.0
    raise SystemExit(f"{path}: no 'Maximum resident set size' line")


PHASES = ("t_rollout", "t_reward", "t_update")


def cgrpo_iterations(metrics):
    """Iterations 2..N of a cgrpo train run (the first pays for page faults): rollout, reward, update, total."""
    rows = [json.loads(line) for line in open(metrics) if line.strip()]
    rows = rows[1:] if len(rows) > 1 else rows
    return [dict({k: r[k] for k in PHASES}, total=sum(r[k] for k in PHASES)) for r in rows]


def torch_iterations(path):
    rows = load(path)["iterations"]
    return rows[1:] if len(rows) > 1 else rows


def summarize(rows):
    fastest = min(rows, key=lambda r: r["total"])
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in PHASES + ("total",)}
    return {"fastest": {k: fastest[k] for k in PHASES + ("total",)}, "mean": mean, "iterations": len(rows)}


def main():
    tmp, out = sys.argv[1], sys.argv[2]
    env = load(os.path.join(tmp, "env.json"))
    threads = env["threads"]
    repeats = range(1, env["repeat"] + 1)
    items, sgemm, block, detail = [], {}, {}, {}
    rss = {m: {"cgrpo": {}, "torch": {}} for m in ("reuse", "recompute")}
    for t in threads:
        f = lambda pat: [os.path.join(tmp, pat.format(t=t, r=r)) for r in repeats]
        cts = [load(p) for p in f("c_time_{t}_{r}.json")]
        tts = [load(p) for p in f("t_time_{t}_{r}.json")]
        grpo = {}
        for m in ("reuse", "recompute"):
            cg = summarize([row for p in f("train_" + m + "_{t}_{r}") for row in
                            cgrpo_iterations(os.path.join(p, "metrics.jsonl"))])
            tg = summarize([row for p in f("t_grpo_" + m + "_{t}_{r}.json") for row in torch_iterations(p)])
            grpo[m] = (cg, tg)
            rss[m]["cgrpo"][str(t)] = max(max_rss_mib(p) for p in f("c_rss_" + m + "_{t}_{r}.txt"))
            rss[m]["torch"][str(t)] = max(max_rss_mib(p) for p in f("t_rss_" + m + "_{t}_{r}.txt"))
        detail[str(t)] = {m: {"cgrpo": grpo[m][0], "torch": grpo[m][1]} for m in grpo}
        ct0 = cts[0]  # FLOP counts are the same in every repeat; sgemm and item seconds: the fastest
        sg_of = lambda name: min(c["items"][name]["sgemm_s"] for c in cts)
        for name in ITEMS:
            if name in MODES:
                cg, tg = grpo[MODES[name]]
                pick = (lambda gi: gi) if MODES[name] == "reuse" else (lambda gi: gi["recompute"])
                c_s, t_s, flop = cg["fastest"]["total"], tg["fastest"]["total"], pick(ct0["grpo_iteration"])["flop"]
                sg_s = min(pick(c["grpo_iteration"])["sgemm_s"] for c in cts)
                means = {"cgrpo_mean_s": cg["mean"]["total"], "torch_mean_s": tg["mean"]["total"]}
            else:
                c_all = [c["items"][name]["s"] for c in cts]
                t_all = [x["items"][name] for x in tts]
                c_s, t_s, flop, sg_s = min(c_all), min(t_all), ct0["items"][name]["flop"], sg_of(name)
                means = {"cgrpo_runs_s": c_all, "torch_runs_s": t_all}
            items.append(dict({"name": name, "threads": t, "cgrpo_s": c_s, "torch_s": t_s, "ratio": t_s / c_s,
                               "cgrpo_gflops": flop / c_s * 1e-9, "torch_gflops": flop / t_s * 1e-9,
                               "sgemm_gflops": flop / sg_s * 1e-9, "gflop": flop * 1e-9}, **means))
        bb = ct0["items"]["block_fwd_bwd"]
        sgemm[str(t)] = bb["flop"] / sg_of("block_fwd_bwd") * 1e-9
        block[str(t)] = bb["flop"] / min(c["items"]["block_fwd_bwd"]["s"] for c in cts) * 1e-9
    check = load(os.path.join(tmp, "check.json"))
    res = {
        "generated_by": "bash bench/peer.sh",
        "environment": env,
        "items": items,
        "sgemm_gflops": sgemm,
        "block_gflops": block,
        "peak_rss_mib": rss["reuse"],
        "peak_rss_mib_recompute": rss["recompute"],
        "torch_import_rss_mib": max_rss_mib(os.path.join(tmp, "torch_import_rss.txt")),
        "grpo_iteration_phases": detail,
        "check": check,
        "notes": [
            "ratio = torch_s / cgrpo_s: above 1 cgrpo is faster",
            "each side's seconds are its fastest over the repeats (load from other processes only adds time); "
            "the runs and means are kept next to them",
            "block and generator items: B = 8 rows (one GRPO group), best of 3 rounds of the mean over >= min_s s; "
            "torch forwards run under torch.no_grad(), cgrpo's forward always saves its activations",
            "grpo_iteration: the default `cgrpo train` config without the gradient-cosine diagnostic (cos_every 0), "
            "the fastest of iterations 2..N of every run; cgrpo's is rollout + reward + update from metrics.jsonl "
            "(real rewards, rendered references), the twin's uses RANDOM rewards and random references and prompts; "
            "grpo_iteration as cgrpo train runs by default (the update reuses the rollout's forwards of the trained "
            "steps; the twin keeps their autograd graphs), grpo_iteration_recompute with those forwards rerun "
            "(--forward-cache-mb 0, torch_twin.py --recompute)",
            "GFLOP/s count matrix products only (2 M N K over every product of the item, the same count for both); "
            "sgemm_gflops: plain OpenBLAS sgemm running exactly those products in the same run; grpo_iteration's "
            "count and sgemm time are its forwards and backwards (rollout, policy forward + backward, reference "
            "forward) at the generator items' figures",
            "peak_rss_mib (reuse) and peak_rss_mib_recompute: maximum resident set size of the whole process of "
            "--iters GRPO iterations (/usr/bin/time -v): cgrpo train also holds the reward models and the world, "
            "the twin holds torch's libraries (torch_import_rss_mib is `import torch` alone)",
        ],
    }
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")

    print("| item | threads | cgrpo | torch | torch / cgrpo | cgrpo GFLOP/s | torch GFLOP/s | sgemm GFLOP/s, same shapes |")
    print("|---|---|---|---|---|---|---|---|")
    for it in items:
        fmt = (lambda s: f"{s:.2f} s") if it["name"].startswith("grpo_iteration") else (lambda s: f"{s * 1e3:.2f} ms")
        print(f"| {it['name']} | {it['threads']} | {fmt(it['cgrpo_s'])} | {fmt(it['torch_s'])} | {it['ratio']:.2f} | "
              f"{it['cgrpo_gflops']:.1f} | {it['torch_gflops']:.1f} | {it['sgemm_gflops']:.1f} |")
    print()
    for t in threads:
        for m in ("reuse", "recompute"):
            d = detail[str(t)][m]
            c, tr = d["cgrpo"]["fastest"], d["torch"]["fastest"]
            print(f"GRPO iteration ({m}), {t} thread(s), fastest (mean {d['cgrpo']['mean']['total']:.2f} s / "
                  f"{d['torch']['mean']['total']:.2f} s): cgrpo rollout {c['t_rollout']:.2f} s + reward "
                  f"{c['t_reward']:.2f} s + update {c['t_update']:.2f} s; torch rollout {tr['t_rollout']:.2f} s + "
                  f"update {tr['t_update']:.2f} s; peak RSS cgrpo {rss[m]['cgrpo'][str(t)]:.0f} MiB, torch "
                  f"{rss[m]['torch'][str(t)]:.0f} MiB")
    print(f"import torch alone: {res['torch_import_rss_mib']:.0f} MiB")
    load_note = env.get("background_busy_cores")
    if load_note is not None:
        print(f"background load before the run: {load_note:.2f} busy cores of {env.get('cores')}; "
              f"load average {env.get('loadavg_start')} at the start, {env.get('loadavg_end')} at the end")
    print(f"twin check: generator output {check['generator_out']:.1e}, gradients {check['generator_grads']:.1e}; "
          f"GRPO micro-batch gradients {check['grpo_grads']:.1e} (relative errors; details in {out})")


if __name__ == "__main__":
    main()
