#!/usr/bin/env python3
"""Interop check between cgrpo's safetensors code and Python's `safetensors` package.

    safetensors_interop.py write PATH   write the pattern file with safetensors.numpy.save_file
    safetensors_interop.py check PATH   load PATH (e.g. written by cgrpo) and verify the pattern

The pattern is defined identically in tests/test_safetensors.c (--write-pattern / --check-pattern):
element i of tensor k is ((i * 37 + k * 11) % 101 - 50) / 8, exact in F16, F32 and F64.
Exit status 0 when all is well, 1 with a one-line reason otherwise, 2 on bad usage.
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

NOTE = 'h\u00e9llo "quoted" \\ back'

# name -> (numpy dtype, shape, k); k = None means an empty tensor
PATTERN = {
    "pattern.f32": (np.float32, (3, 5), 0),
    "pattern.f16": (np.float16, (2, 2, 3), 1),
    "pattern.scalar": (np.float32, (), 2),
    "pattern.empty": (np.float32, (0, 4), None),
    "pattern.f64": (np.float64, (4,), 3),
}


def pattern_values(shape, k, dtype):
    n = int(np.prod(shape)) if shape else 1
    i = np.arange(n, dtype=np.int64)
    v = ((i * 37 + k * 11) % 101 - 50).astype(np.float64) / 8.0
    return v.astype(dtype).reshape(shape)


def write(path):
    tensors = {}
    for name, (dtype, shape, k) in PATTERN.items():
        tensors[name] = np.zeros(shape, dtype) if k is None else pattern_values(shape, k, dtype)
    save_file(tensors, path, metadata={"source": "python-safetensors", "note": NOTE})


def check(path):
    with safe_open(path, framework="numpy") as f:
        keys = set(f.keys())
        if keys != set(PATTERN):
            return "tensors are %s, want %s" % (sorted(keys), sorted(PATTERN))
        meta = f.metadata() or {}
        if meta.get("note") != NOTE:
            return "metadata note is %r, want %r" % (meta.get("note"), NOTE)
        if "source" not in meta:
            return "metadata has no 'source'"
        for name, (dtype, shape, k) in PATTERN.items():
            t = f.get_tensor(name)
            if t.dtype != np.dtype(dtype) or t.shape != shape:
                return "%s is %s %s, want %s %s" % (name, t.dtype, t.shape, np.dtype(dtype), shape)
            want = np.zeros(shape, dtype) if k is None else pattern_values(shape, k, dtype)
            if not np.array_equal(t, want):
                bad = np.flatnonzero(t.reshape(-1) != want.reshape(-1))[0]
                return "%s[%d] = %r, want %r" % (name, bad, t.reshape(-1)[bad], want.reshape(-1)[bad])
    return None


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "check"):
        print("usage: safetensors_interop.py write|check PATH", file=sys.stderr)
        return 2
    if argv[1] == "write":
        write(argv[2])
        return 0
    try:
        why = check(argv[2])
    except Exception as e:  # a file Python's reader rejects: report it in one line
        why = "python safetensors could not read it: %s" % str(e).replace("\n", " ")
    if why:
        print("interop check failed: %s: %s" % (argv[2], why), file=sys.stderr)
        return 1
    print("pattern ok: %s" % argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
