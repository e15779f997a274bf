#!/usr/bin/env bash
# cli_sweep_table.sh: tools/sweep_table.py (the VAL sweep's table) on constructed probes whose paired
# changes are known: a probe equal to the base, one with identity +1 on even subjects and +2 on odd
# ones (mean 1.5, SE computable by hand), a customized-vs-naive comparison over two seeds with the
# seed-level SE, diagnostics read from metrics.jsonl, and the refusal without a base evaluation.
set -u
source "$(dirname "$0")/lib_cli.sh"
if ! command -v python3 >/dev/null; then echo "cli_sweep_table: 0 passed, 0 failed"; exit 0; fi
tool="$(dirname "$0")/../tools/sweep_table.py"
P=$TMP/probes
mkdir -p "$P/val_base"
python3 - "$P" <<'PY'
import json, os, sys
p = sys.argv[1]
def write(d, f):
    os.makedirs(os.path.join(p, d), exist_ok=True)
    with open(os.path.join(p, d, "images.jsonl") if d == "val_base" else os.path.join(p, d, "eval_val", "images.jsonl"), "w") as o:
        for s in range(4):
            for t in (0, 20):
                r = {"subject": s, "template": t, "k": 0, "identity": 50.0 + s, "clip_t": 60.0 + t / 10, "clip_i": 1.0,
                     "attr_acc": 1.0 if t == 0 else 0.0}
                f(r, s, t)
                o.write(json.dumps(r) + "\n")
write("val_base", lambda r, s, t: None)
os.makedirs(os.path.join(p, "a.naive-1-1.s1", "eval_val"))
os.makedirs(os.path.join(p, "a.naive-1-1.s2", "eval_val"))
os.makedirs(os.path.join(p, "a.customized.s1", "eval_val"))
os.makedirs(os.path.join(p, "a.customized.s2", "eval_val"))
write("a.naive-1-1.s1", lambda r, s, t: None)
write("a.naive-1-1.s2", lambda r, s, t: r.update(clip_t=r["clip_t"] - 1.0))
write("a.customized.s1", lambda r, s, t: r.update(identity=r["identity"] + (1.0 if s % 2 == 0 else 2.0)))
write("a.customized.s2", lambda r, s, t: r.update(identity=r["identity"] + 3.0, clip_t=r["clip_t"] + 1.0))
with open(os.path.join(p, "a.customized.s1", "metrics.jsonl"), "w") as o:
    o.write(json.dumps({"iteration": 1, "update_norm": 0.5, "drift_norm": 0.5, "kl_ref": 0.0, "copy_corr_adv": 0.2}) + "\n")
    o.write(json.dumps({"iteration": 2, "update_norm": 1.5, "drift_norm": 1.8, "kl_ref": 0.0, "copy_corr_adv": None}) + "\n")
PY
printf '# grid\na --kl_beta 0\nb --lr 1\n' >"$TMP/grid.txt"
check "table" python3 "$tool" --grid "$TMP/grid.txt" --probes "$P" --out "$TMP/sw"
python3 - "$TMP/sw.json" >"$TMP/got" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = d["probes"][0]
c1 = a["presets"]["customized"]["per_seed"]["1"]["vs_base"]["identity"]
print("c1", round(c1["delta"], 9), round(c1["se"], 9))
c = a["presets"]["customized"]["vs_base"]
print("cust", round(c["identity"]["delta"], 9), round(c["identity"]["se"], 9), c["identity"]["se_kind"])
v = a["customized_vs_naive"]
print("vs", round(v["clip_t"]["delta"], 9), round(v["clip_t"]["se"], 9))
dg = a["presets"]["customized"]["diag"]
print("diag", dg["update_norm"], dg["drift_norm"], dg["copy_corr_adv"])
print("pending", d["probes"][1]["presets"] == {})
PY
# seed 1: differences 1 2 1 2 1 2 1 2 (8 images): mean 1.5, sd sqrt(2/7), SE sqrt(2/7)/sqrt(8) = 0.188982237
grep -qx "c1 1.5 0.188982237" "$TMP/got" && pass "paired change and SE over images" || fail "per image" "$(cat "$TMP/got")"
# seeds 1 and 2: deltas 1.5 and 3: mean 2.25, SE = sd(1.5, 3) / sqrt(2) = 0.75
grep -qx "cust 2.25 0.75 seeds" "$TMP/got" && pass "seed-level SE" || fail "seed level" "$(cat "$TMP/got")"
# CLIP-T customized - naive: seed 1 0, seed 2 +2: mean 1, SE 1
grep -qx "vs 1.0 1.0" "$TMP/got" && pass "customized vs naive" || fail "vs naive" "$(cat "$TMP/got")"
grep -qx "diag 1.0 1.8 0.2" "$TMP/got" && pass "diagnostics: mean update, final drift, nulls skipped" || fail "diag" "$(cat "$TMP/got")"
grep -qx "pending True" "$TMP/got" && grep -q 'Not run yet: `b`' "$TMP/sw.md" && pass "unrun probe listed" ||
    fail "pending" "$(tail -n 2 "$TMP/sw.md")"
# a table kept across lost run directories: seed 2's directories are gone, --prior keeps its results
mv "$P/a.customized.s2" "$TMP/gone_c2"; mv "$P/a.naive-1-1.s2" "$TMP/gone_n2"
check "table with --prior" python3 "$tool" --grid "$TMP/grid.txt" --probes "$P" --out "$TMP/sw2" --prior "$TMP/sw.json"
python3 - "$TMP/sw2.json" >"$TMP/got2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = d["probes"][0]
c = a["presets"]["customized"]["vs_base"]
print("cust", round(c["identity"]["delta"], 9), round(c["identity"]["se"], 9), c["identity"]["se_kind"])
v = a["customized_vs_naive"]
print("vs", round(v["clip_t"]["delta"], 9), round(v["clip_t"]["se"], 9))
print("kept", a["presets"]["customized"]["per_seed"]["2"].get("prior"), a["presets"]["customized"]["per_seed"]["1"].get("prior"))
PY
grep -qx "cust 2.25 0.75 seeds" "$TMP/got2" && grep -qx "vs 1.0 1.0" "$TMP/got2" && grep -qx "kept True None" "$TMP/got2" &&
    pass "--prior keeps the lost seeds' results" || fail "prior" "$(cat "$TMP/got2")"
# seed 1 kept as well, then the table rebuilt from that table: the same customized-vs-naive figures
mv "$P/a.customized.s1" "$TMP/gone_c1"; mv "$P/a.naive-1-1.s1" "$TMP/gone_n1"
python3 "$tool" --grid "$TMP/grid.txt" --probes "$P" --out "$TMP/sw3" --prior "$TMP/sw2.json" >/dev/null
python3 "$tool" --grid "$TMP/grid.txt" --probes "$P" --out "$TMP/sw4" --prior "$TMP/sw3.json" >/dev/null
python3 -c '
import json, sys
for f in sys.argv[1:]:
    v = json.load(open(f))["probes"][0]["customized_vs_naive"]["identity"]
    print(round(v["delta"], 9), round(v["se"], 9))' "$TMP/sw.json" "$TMP/sw4.json" >"$TMP/got3"
[ "$(sort -u "$TMP/got3" | wc -l)" -eq 1 ] && pass "a table rebuilt from itself is unchanged" || fail "rebuilt" "$(cat "$TMP/got3")"
mv "$TMP/gone_c1" "$P/a.customized.s1"; mv "$TMP/gone_n1" "$P/a.naive-1-1.s1"
# one seed: its image-level SE of customized vs naive survives the lost directories
mkdir -p "$TMP/one"; cp -r "$P/val_base" "$P/a.customized.s1" "$P/a.naive-1-1.s1" "$TMP/one/"
python3 "$tool" --grid "$TMP/grid.txt" --probes "$TMP/one" --out "$TMP/o1" >/dev/null
rm -r "$TMP/one/a.customized.s1" "$TMP/one/a.naive-1-1.s1"
python3 "$tool" --grid "$TMP/grid.txt" --probes "$TMP/one" --out "$TMP/o2" --prior "$TMP/o1.json" >/dev/null
python3 -c '
import json, sys
for f in sys.argv[1:]:
    v = json.load(open(f))["probes"][0]["customized_vs_naive"]["identity"]
    print(round(v["delta"], 9), round(v["se"], 9), v["se_kind"])' "$TMP/o1.json" "$TMP/o2.json" >"$TMP/got4"
[ "$(sort -u "$TMP/got4" | wc -l)" -eq 1 ] && grep -q "images" "$TMP/got4" && ! grep -q nan "$TMP/got4" &&
    pass "one kept seed keeps its image-level SE" || fail "one seed" "$(cat "$TMP/got4")"
mv "$TMP/gone_c2" "$P/a.customized.s2"; mv "$TMP/gone_n2" "$P/a.naive-1-1.s2"
rm -f "$P/val_base/images.jsonl"
check_exit 2 "no base evaluation" python3 "$tool" --grid "$TMP/grid.txt" --probes "$P" --out "$TMP/sw"
cli_summary cli_sweep_table
