#!/usr/bin/env python3
"""twin_advantages.py: an independent reference for `cgrpo advantages` (src/rl/advantage.c,
src/rl/weighting.c, src/cli/cmd_advantages.c), written from DESIGN.md section 7 and the facts
checked in the paper's public code (Safeoffellow/Customized-GRPO, train/train_customized_grpo.py):

  z        per reward and group: (r - mean) / (std + 1e-8), std unbiased (n - 1); a reward equal
           across the group gives z = 0 exactly
  weights  static (w_id, w_prompt), or TDW on a 25-step scale: w_pr(t) = 0.7 for t < 6,
           0.3 + 0.4 (1 - sigmoid(0.8 (t - 10))) for 6 <= t < 22, 0.5 for t >= 22; w_id = 1 - w_pr;
           step i of N is evaluated at t = floor((i + 0.5) * 25 / N)
  naive    w_pr A_pr + w_id A_id
  sars     w_pr A_pr + w_id A_id + b, b = +gamma tanh(A_pr A_id) if A_pr > 0 or A_id > 0, else -gamma tanh(...)
  harmonic w_pr A_pr + w_id A_id + gamma A_pr A_id / (A_pr + A_id + 1e-6)   (0 if that denominator is 0)
  min/max  min(A_pr, A_id) / max(A_pr, A_id), the whole advantage
  then clamp to [-clamp, clamp].

Precision model: the C library takes rewards as float32 and stores z-scores as float32, so this
twin rounds the parsed rewards and the z-scores to float32 and does everything else in float64.

Usage:
  python3 tools/twin_advantages.py fixtures [--out tests/fixtures/advantages] [--seed 20240611]
      writes input.csv (only if absent, or with --regen-input), cases.txt ("name|flags" per line)
      and expected_<name>.csv for each case; tests/cli_advantages.sh compares `cgrpo advantages`
      against them.
  python3 tools/twin_advantages.py run [--shaping ...] [--weighting ...] [...] < rewards.csv
      prints what `cgrpo advantages` with the same flags should print.
"""
import argparse
import math
import os
import sys

import numpy as np

HEADER_IN = "group,r_id,r_prompt"
HEADER_OUT = "group,index,step,advantage"

# (name, flags) of the fixture cases; the flags are passed verbatim to `cgrpo advantages`
CASES = [
    ("default", ""),
    ("sars_static", "--weighting static --w-id 0.4 --w-prompt 0.6 --gamma 0.5"),
    ("harmonic_tdw10", "--shaping harmonic --steps 10"),
    ("min3", "--shaping min --steps 3"),
    ("max3_static", "--shaping max --weighting static --steps 3"),
    ("naive_static", "--shaping naive --weighting static --w-id 1 --w-prompt 1.5 --steps 2"),
    ("naive_tdw50", "--shaping naive --steps 50"),
    ("sars_clamp1", "--steps 7 --clamp 1 --gamma 1"),
]


def f32(x):
    return float(np.float32(x))


# ---- parsing: the input rules of cmd_advantages, written again -------------------------------------

def parse_rewards(text):
    """-> list of (name, [(r_id, r_pr), ...]) in order of first appearance; rewards rounded to f32"""
    groups = {}
    order = []
    first = True
    for line in text.split("\n"):
        s = line.strip(" \t\r")
        if not s:
            continue
        if first:
            first = False
            if s == HEADER_IN:
                continue
        fields = [f.strip(" \t\r") for f in s.split(",")]
        if len(fields) != 3:
            raise ValueError("bad line: %r" % line)
        name, a, b = fields
        r = (f32(float(a)), f32(float(b)))
        if not all(math.isfinite(v) for v in r):
            raise ValueError("non-finite reward: %r" % line)
        if name not in groups:
            groups[name] = []
            order.append(name)
        groups[name].append(r)
    return [(n, groups[n]) for n in order]


# ---- the math --------------------------------------------------------------------------------------

def zscores(values):
    """values: list of floats (one reward over a group) -> float32-rounded z-scores"""
    n = len(values)
    if all(v == values[0] for v in values):
        return [0.0] * n
    mean = 0.0
    for v in values:
        mean += v
    mean /= n
    var = 0.0
    for v in values:
        var += (v - mean) ** 2
    std = math.sqrt(var / (n - 1))
    return [f32((v - mean) / (std + 1e-8)) for v in values]


def tdw_prompt_weight(t):
    if t < 6:
        return 0.7
    if t >= 22:
        return 0.5
    sig = 1.0 / (1.0 + math.exp(-0.8 * (t - 10.0)))
    return 0.3 + 0.4 * (1.0 - sig)


def weights(opts, step, n_steps):
    """-> (w_id, w_pr)"""
    if opts.weighting == "static":
        return opts.w_id, opts.w_prompt
    t = math.floor((step + 0.5) * 25.0 / n_steps)
    w_pr = tdw_prompt_weight(t)
    return 1.0 - w_pr, w_pr


def advantage(opts, a_id, a_pr, step):
    if opts.shaping == "min":
        a = min(a_pr, a_id)
    elif opts.shaping == "max":
        a = max(a_pr, a_id)
    else:
        w_id, w_pr = weights(opts, step, opts.steps)
        a = w_pr * a_pr + w_id * a_id
        if opts.shaping == "sars":
            p = a_pr * a_id
            a += opts.gamma * math.tanh(p) if (a_pr > 0 or a_id > 0) else -opts.gamma * math.tanh(p)
        elif opts.shaping == "harmonic":
            den = a_pr + a_id + 1e-6
            a += 0.0 if den == 0 else opts.gamma * a_pr * a_id / den
    return max(-opts.clamp, min(opts.clamp, a))


def run(opts, text):
    out = [HEADER_OUT]
    for name, rows in parse_rewards(text):
        if len(rows) < 2:
            raise ValueError("group %s has 1 sample" % name)
        z_id = zscores([r[0] for r in rows])
        z_pr = zscores([r[1] for r in rows])
        for i in range(len(rows)):
            for s in range(opts.steps):
                out.append("%s,%d,%d,%.12g" % (name, i, s, advantage(opts, z_id[i], z_pr[i], s)))
    return "\n".join(out) + "\n"


def flag_parser():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--shaping", default="sars", choices=["naive", "sars", "harmonic", "min", "max"])
    p.add_argument("--weighting", default="tdw", choices=["static", "tdw"])
    p.add_argument("--gamma", type=float, default=0.4)
    p.add_argument("--w-id", dest="w_id", type=float, default=0.5)
    p.add_argument("--w-prompt", dest="w_prompt", type=float, default=0.5)
    p.add_argument("--clamp", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=25)
    return p


# ---- the fixture input ------------------------------------------------------------------------------

def make_input(seed):
    """A CSV exercising the input rules and every branch of the math (see the comments)."""
    rng = np.random.default_rng(seed)
    lines = [HEADER_IN]
    sizes = {"s0p0": 12, "s0p1": 8, "s1p0": 4, "s1p1": 3, "s2p0": 2, "7": 6}
    rows = []
    for name, n in sizes.items():
        for _ in range(n):
            # identity: cosine x 100 around 75; prompt: image-text score around 28
            rows.append((name, "%.4f" % (75 + 6 * rng.standard_normal()), "%.3f" % (28 + 2 * rng.standard_normal())))
    # interleave s0p0 and s0p1 so that groups are not consecutive
    a = [r for r in rows if r[0] == "s0p0"]
    b = [r for r in rows if r[0] == "s0p1"]
    rest = [r for r in rows if r[0] not in ("s0p0", "s0p1")]
    mixed = []
    for i in range(max(len(a), len(b))):
        mixed += a[i:i + 1] + b[i:i + 1]
    for k, (name, x, y) in enumerate(mixed + rest):
        if k == 3:
            lines.append("")  # a blank line
            lines.append(" %s ,\t%s , %s " % (name, x, y))  # spaces and tabs around fields
        elif k == 5:
            lines.append("%s,%s,%s\r" % (name, x, y))  # a CRLF line
        else:
            lines.append("%s,%s,%s" % (name, x, y))
    # identity equal across the group (z_id = 0 exactly), prompt varies; one number in exponent form
    for y in ["27.5", "2.95e1", "26", "31.25", "28"]:
        lines.append("equal_id,83.25,%s" % y)
    # everything equal: every advantage is 0
    for _ in range(4):
        lines.append("equal_all,0.1,0.3")
    # anti-correlated: z = (-1, 0, 1) against (1, 0, -1); harmonic's denominator is 1e-6 -> clamped
    for x, y in [(1, 3), (2, 2), (3, 1)]:
        lines.append("anti,%d,%d" % (x, y))
    # one outlier among 28: z = 27 / sqrt(28) = 5.10 on both rewards -> clamped at 5
    lines.append("outlier,100,-20")
    for _ in range(27):
        lines.append("outlier,1,-40")
    # negative rewards and the smallest group
    lines.append("neg,-3.5,-0.25")
    lines.append("neg,-1.5,-0.75")
    return "\n".join(lines) + "\n"


def write_fixtures(out_dir, seed, regen):
    os.makedirs(out_dir, exist_ok=True)
    inp = os.path.join(out_dir, "input.csv")
    if regen or not os.path.exists(inp):
        with open(inp, "w", newline="") as f:
            f.write(make_input(seed))
    with open(inp, newline="") as f:
        text = f.read()
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        for name, flags in CASES:
            f.write("%s|%s\n" % (name, flags))
    for name, flags in CASES:
        opts = flag_parser().parse_args(flags.split())
        with open(os.path.join(out_dir, "expected_%s.csv" % name), "w") as f:
            f.write(run(opts, text))
    print("wrote %d cases to %s" % (len(CASES), out_dir))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        opts = flag_parser().parse_args(sys.argv[2:])
        sys.stdout.write(run(opts, sys.stdin.read()))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", nargs="?", default="fixtures", choices=["fixtures"])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "advantages"))
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--regen-input", action="store_true")
    args = p.parse_args()
    write_fixtures(os.path.normpath(args.out), args.seed, args.regen_input)


if __name__ == "__main__":
    main()
