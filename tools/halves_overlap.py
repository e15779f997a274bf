#!/usr/bin/env python3
"""halves_overlap.py [K] [BIN]: do the reward and judge halves (TRAIN subjects i % 4 in {0, 1} and
{2, 3}) of subjects seeds 1..K share a subject? Compares the identity attributes that
`cgrpo world list` prints (class, shape, main colour, pattern, second colour, marks) and prints how
many attribute sets the halves share, with and without the marks. (The --worlds leave-out rule only
removes subjects, so it cannot add a shared one.)"""
import subprocess
import sys

K = int(sys.argv[1]) if len(sys.argv) > 1 else 32
BIN = sys.argv[2] if len(sys.argv) > 2 else "build/cgrpo"
full = ({}, {})  # half -> {attributes: count}
nomarks = (set(), set())
for seed in range(1, K + 1):
    out = subprocess.run([BIN, "world", "list", "--subjects-seed", str(seed), "--split", "train"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.strip().split("\n"):
        index, word, _kind, attrs = line.split("\t")[:4]
        a = dict(kv.split("=", 1) for kv in attrs.split())
        key = (word, a.get("shape"), a.get("main"), a.get("pattern"), a.get("second"), a.get("marks", ""))
        half = 0 if int(index) % 4 in (0, 1) else 1
        full[half][key] = full[half].get(key, 0) + 1
        nomarks[half].add(key[:5])
n = [sum(h.values()) for h in full]
print(f"seeds 1..{K}: reward half {n[0]} subjects, judge half {n[1]}")
print(f"attribute sets in both halves, marks included: {len(set(full[0]) & set(full[1]))}")
print(f"attribute sets in both halves, marks left out: {len(nomarks[0] & nomarks[1])} "
      f"(of {len(nomarks[0])} / {len(nomarks[1])})")
