#!/usr/bin/env python3
"""sweep_table.py: the table of the VAL sweep (scripts/sweep_val.sh, issue 18).

For every probe of the grid that has finished (runs/probes/NAME.PRESET.sSEED/eval_val/images.jsonl)
it computes, against the base's VAL evaluation (runs/probes/val_base/images.jsonl):
  - the paired change of identity, CLIP-T, CLIP-I and attribute accuracy: the mean over the VAL
    images of (probe - base) on the same image (same subject, prompt and noise), and its standard
    error (std of the differences / sqrt(n)); over several seeds, the mean of the per-seed changes
    and the seed-level SE (std of the per-seed changes / sqrt(seeds));
  - the same change for customized against naive-1-1 (same probe and seed);
  - training diagnostics from metrics.jsonl (rl/diagnostics.h): the final kl_ref, the mean update
    norm, the final drift from the base, the mean within-group std of both rewards, and the mean
    correlations of copiness with the identity reward, the prompt reward and the advantage.
With --prior OLD.json the per-seed results of OLD (an earlier OUT.json) are kept for the probes and
seeds whose run directories are gone (a fresh clone has none): the table grows over sessions
instead of forgetting what was measured. Writes OUT.md and OUT.json. Only the Python standard library.
"""
import argparse
import json
import math
import os
import sys

METRICS = ["identity", "clip_t", "clip_i", "attr_acc"]
DIAG = ["kl_ref", "update_norm", "drift_norm", "reward_id_gstd", "reward_prompt_gstd", "copy_corr_id",
        "copy_corr_prompt", "copy_corr_adv", "conflict"]


def read_grid(path):
    probes = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, flags = line.partition(" ")
            probes.append((name, " ".join(flags.split())))
    return probes


def read_images(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                rows[(r["subject"], r["template"], r["k"])] = r
    return rows


KINDS = ["scene", "accessory", "property"]


def paired(a, b, key, kind=None):
    """Mean and SE of a - b over the images both have (of one prompt kind when given)."""
    d = [a[k][key] - b[k][key] for k in a if k in b and (kind is None or b[k].get("kind") == kind)]
    n = len(d)
    if n == 0:
        return None
    m = sum(d) / n
    se = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
    return {"delta": m, "se": se, "n": n}


def seed_level(per_seed):
    """Mean of per-seed deltas; with one seed its image-level SE, else std over seeds / sqrt(n)."""
    ds = [p["delta"] for p in per_seed]
    n = len(ds)
    m = sum(ds) / n
    if n == 1:
        return {"delta": m, "se": per_seed[0]["se"], "seeds": 1, "se_kind": "images"}
    se = math.sqrt(sum((x - m) ** 2 for x in ds) / (n - 1) / n)
    return {"delta": m, "se": se, "seeds": n, "se_kind": "seeds"}


def vs_naive(c, nv, key):
    """Customized minus naive-1-1 on one seed: paired per image when both have their image rows; for
    results kept from an earlier table (no rows), the difference of the two changes against the base,
    which is the same mean since both are paired over the same base images, with the SE kept from
    that table when it had one."""
    if "_imgs" in c and "_imgs" in nv:
        return paired(c["_imgs"], nv["_imgs"], key)
    se = c.get("vs_naive", {}).get(key, {}).get("se", float("nan"))
    return {"delta": c["vs_base"][key]["delta"] - nv["vs_base"][key]["delta"], "se": se,
            "n": c["vs_base"][key].get("n")}


def read_metrics(path):
    lines = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(json.loads(line))
    return lines


def mean_of(lines, key):
    v = [x[key] for x in lines if x.get(key) is not None]
    return sum(v) / len(v) if v else None


def diagnostics(lines):
    d = {"iterations": len(lines)}
    last = lines[-1] if lines else {}
    d["kl_ref"] = last.get("kl_ref")
    d["drift_norm"] = last.get("drift_norm")
    for k in ["update_norm", "reward_id_gstd", "reward_prompt_gstd", "copy_corr_id", "copy_corr_prompt",
              "copy_corr_adv", "conflict"]:
        d[k] = mean_of(lines, k)
    return d


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:+.{digits}f}" if digits >= 0 else f"{x:.3g}"


def fmt_delta(c, digits=2):
    if c is None:
        return "-"
    return f"{c['delta']:+.{digits}f} ± {c['se']:.{digits}f}"


def plain(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", required=True)
    ap.add_argument("--probes", default="runs/probes")
    ap.add_argument("--out", required=True, help="OUT.md and OUT.json are written")
    ap.add_argument("--eval", default="eval_val", help="each probe's evaluation directory (default eval_val)")
    ap.add_argument("--base", default="val_base", help="the base's evaluation directory under PROBES (default val_base)")
    ap.add_argument("--title", default="VAL sweep of the trainer's settings (issue 18)")
    ap.add_argument("--note", default="", help="a paragraph after the title")
    ap.add_argument("--prior", default="", help="an earlier OUT.json: its per-seed results are kept for the "
                    "probes and seeds whose run directories are gone (the directories win where both exist)")
    a = ap.parse_args()
    base_path = os.path.join(a.probes, a.base, "images.jsonl")
    if not os.path.exists(base_path):
        print(f"sweep_table: {base_path} does not exist (run scripts/probe_val.sh first)", file=sys.stderr)
        return 2
    base = read_images(base_path)
    grid = read_grid(a.grid)
    prior = {}  # (probe, preset) -> {seed: per-seed entry} from the earlier table
    if a.prior and os.path.exists(a.prior):
        with open(a.prior) as f:
            for row in json.load(f).get("probes", []):
                for preset, e in row.get("presets", {}).items():
                    prior[(row["name"], preset)] = {int(s): v for s, v in e.get("per_seed", {}).items()}
                cvn = row.get("customized_vs_naive")  # its image-level SE per seed, where it had one
                if cvn and (row["name"], "customized") in prior:
                    per = cvn.get("per_seed") or ({str(cvn["seeds"][0]): {k: cvn[k] for k in METRICS}}
                                                  if len(cvn["seeds"]) == 1 else {})
                    for s, v in per.items():
                        if int(s) in prior[(row["name"], "customized")]:
                            prior[(row["name"], "customized")][int(s)]["vs_naive"] = v
    rows = []
    for name, flags in grid:
        by_preset = {}
        for d in sorted(os.listdir(a.probes)):
            if not d.startswith(name + "."):
                continue
            parts = d[len(name) + 1:].rsplit(".s", 1)
            if len(parts) != 2 or not parts[1].isdigit():
                continue
            preset, seed = parts[0], int(parts[1])
            img = os.path.join(a.probes, d, a.eval, "images.jsonl")
            if not os.path.exists(img):
                continue
            by_preset.setdefault(preset, {})[seed] = d
        for (pname, preset), seeds in prior.items():
            for seed in seeds:
                if pname == name:
                    by_preset.setdefault(preset, {}).setdefault(seed, None)
        row = {"name": name, "flags": flags, "presets": {}}
        for preset, seeds in sorted(by_preset.items()):
            per_seed = {}
            for seed, d in sorted(seeds.items()):
                if d is None:  # kept from the earlier table: no per-image rows
                    per_seed[seed] = dict(prior[(name, preset)][seed], prior=True)
                    continue
                imgs = read_images(os.path.join(a.probes, d, a.eval, "images.jsonl"))
                mpath = os.path.join(a.probes, d, "metrics.jsonl")
                per_seed[seed] = {
                    "dir": d,
                    "vs_base": {k: paired(imgs, base, k) for k in METRICS},
                    "vs_base_kind": {kd: {k: paired(imgs, base, k, kd) for k in ["identity", "clip_t"]} for kd in KINDS},
                    "attr_acc": sum(r["attr_acc"] for r in imgs.values()) / len(imgs),
                    "diag": diagnostics(read_metrics(mpath)) if os.path.exists(mpath) else {},
                    "_imgs": imgs,
                }
            entry = {
                "seeds": sorted(per_seed),
                "vs_base": {k: seed_level([per_seed[s]["vs_base"][k] for s in per_seed]) for k in METRICS},
                "vs_base_kind": {kd: {k: seed_level([per_seed[s]["vs_base_kind"][kd][k] for s in per_seed])
                                      for k in ["identity", "clip_t"]} for kd in KINDS
                                 if all(per_seed[s]["vs_base_kind"][kd]["identity"] for s in per_seed)},
                "attr_acc": sum(per_seed[s]["attr_acc"] for s in per_seed) / len(per_seed),
                "diag": {k: (sum(per_seed[s]["diag"][k] for s in per_seed if per_seed[s]["diag"].get(k) is not None) /
                             max(1, sum(1 for s in per_seed if per_seed[s]["diag"].get(k) is not None)))
                         if any(per_seed[s]["diag"].get(k) is not None for s in per_seed) else None
                         for k in DIAG + ["iterations"]},
                "per_seed": per_seed,
            }
            row["presets"][preset] = entry
        if "customized" in row["presets"] and "naive-1-1" in row["presets"]:
            c, nv = row["presets"]["customized"]["per_seed"], row["presets"]["naive-1-1"]["per_seed"]
            common = sorted(set(c) & set(nv))
            if common:
                per = {s: {k: vs_naive(c[s], nv[s], k) for k in METRICS} for s in common}
                row["customized_vs_naive"] = {k: seed_level([per[s][k] for s in common]) for k in METRICS}
                row["customized_vs_naive"]["seeds"] = common
                row["customized_vs_naive"]["per_seed"] = {str(s): v for s, v in per.items()}
                for s in common:
                    c[s]["vs_naive"] = per[s]
        rows.append(row)
    for row in rows:  # drop the image tables before writing
        for e in row["presets"].values():
            for s in e["per_seed"].values():
                s.pop("_imgs", None)

    n_base = len(base)
    md = [f"# {a.title}", ""] + ([a.note, ""] if a.note else []) + [
          f"Written by `bash scripts/sweep_val.sh {a.grid}` (`tools/sweep_table.py`). Every probe trains the shipped "
          "base (`models/base.safetensors`) on TRAIN subjects with the trainer's defaults plus the flags shown, once per "
          "preset and seed, and is evaluated on the 40 VAL subjects x the main job's 8 prompts "
          f"({n_base} images, ODE, fixed noise); the TEST subjects are never used. Changes are paired per image against "
          "the base (same subject, prompt and noise): mean ± SE (one seed: SE over the images; several: over the seeds).",
          "",
          "Diagnostics (means over the iterations of `metrics.jsonl`, rl/diagnostics.h): `kl` the final KL to the base "
          "(`kl_ref`, 0 without a reference), `upd` the mean update norm, `drift` ||θ - θ_base|| at the end, "
          "`sd_id` / `sd_pr` the mean within-group std of the identity / prompt reward, `c_id` / `c_pr` / `c_adv` the "
          "mean within-group correlation of copiness (minus the pixel distance to the reference) with the identity "
          "reward, the prompt reward and the trained advantage (`c_adv` > 0: the update pushes towards copying).", "",
          "| probe | flags | preset | seeds | Δ identity | Δ CLIP-T | Δ CLIP-I | Δ attr acc | attr acc | kl | upd | drift "
          "| sd_id | sd_pr | c_id | c_pr | c_adv |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pending = []
    for row in rows:
        if not row["presets"]:
            pending.append(f"`{row['name']}` ({row['flags'] or 'defaults'})")
            continue
        for preset, e in row["presets"].items():
            v, dg = e["vs_base"], e["diag"]
            md.append(f"| {row['name']} | `{row['flags'] or '(defaults)'}` | {preset} | {len(e['seeds'])} | "
                      f"{fmt_delta(v['identity'])} | {fmt_delta(v['clip_t'])} | {fmt_delta(v['clip_i'])} | "
                      f"{fmt_delta(v['attr_acc'], 3)} | {e['attr_acc']:.3f} | {plain(dg.get('kl_ref'))} | "
                      f"{plain(dg.get('update_norm'))} | {plain(dg.get('drift_norm'))} | {plain(dg.get('reward_id_gstd'))} | "
                      f"{plain(dg.get('reward_prompt_gstd'))} | {plain(dg.get('copy_corr_id'), 2)} | "
                      f"{plain(dg.get('copy_corr_prompt'), 2)} | {plain(dg.get('copy_corr_adv'), 2)} |")
    md += ["", "## By prompt kind (Δ identity / Δ CLIP-T against the base)", "",
           "Property edits (red, shiny, cube shaped) change the subject, so identity and prompt following conflict "
           "there by design; scenes barely conflict.", "",
           "| probe | preset | seeds | " + " | ".join(f"{kd} Δ identity | {kd} Δ CLIP-T" for kd in KINDS) + " |",
           "|---|---|---|" + "---|---|" * len(KINDS)]
    for row in rows:
        for preset, e in row["presets"].items():
            cells = []
            for kd in KINDS:
                v = e["vs_base_kind"].get(kd)
                cells += [fmt_delta(v["identity"]) if v else "-", fmt_delta(v["clip_t"]) if v else "-"]
            md.append(f"| {row['name']} | {preset} | {len(e['seeds'])} | " + " | ".join(cells) + " |")
    md += ["", "## Customized-GRPO against naive-1-1 (same probe and seed, paired per image)", "",
           "| probe | seeds | Δ identity | Δ CLIP-T | Δ CLIP-I | Δ attr acc |", "|---|---|---|---|---|---|"]
    for row in rows:
        c = row.get("customized_vs_naive")
        if c:
            md.append(f"| {row['name']} | {len(c['seeds'])} | {fmt_delta(c['identity'])} | {fmt_delta(c['clip_t'])} | "
                      f"{fmt_delta(c['clip_i'])} | {fmt_delta(c['attr_acc'], 3)} |")
    if pending:
        md += ["", "Not run yet: " + ", ".join(pending) + "."]
    md.append("")
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    tmp = a.out + ".md.tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(md))
    os.replace(tmp, a.out + ".md")
    tmp = a.out + ".json.tmp"
    with open(tmp, "w") as f:
        json.dump({"split": "val", "base_images": n_base, "probes": rows}, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, a.out + ".json")
    print(f"sweep_table: {sum(1 for r in rows if r['presets'])} of {len(rows)} probes -> {a.out}.md, {a.out}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
