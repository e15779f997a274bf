#!/usr/bin/env bash
# cli_interop.sh: safetensors files cross between cgrpo and Python's `safetensors` package, both ways.
# Python writes the pattern (tools/safetensors_interop.py), cgrpo's reader checks it (the
# test_safetensors program's --check-pattern mode) and `cgrpo inspect` lists it; cgrpo's writer
# writes the pattern and Python checks it. Skipped (counted as passed, marked) without Python's
# safetensors + numpy.
set -u
. "$(dirname "$0")/lib_cli.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
TS=$(dirname "$CGRPO")/tests/test_safetensors
PY=$root/tools/safetensors_interop.py

if ! python3 -c "import safetensors, numpy" 2>/dev/null; then
    echo "note: python3 with safetensors and numpy is not importable; interop checks skipped"
    pass "python -> cgrpo (skipped: python safetensors not importable)"
    pass "cgrpo -> python (skipped: python safetensors not importable)"
    cli_summary cli_interop
    exit $?
fi
if [ ! -x "$TS" ]; then
    fail "test helper" "$TS is not built"
    cli_summary cli_interop
    exit 1
fi

check "python writes the pattern" python3 "$PY" write "$TMP/py.safetensors"
check "cgrpo reads python's file" "$TS" --check-pattern "$TMP/py.safetensors"
check "cgrpo inspect python's file" "$CGRPO" inspect "$TMP/py.safetensors"
# Python orders tensors by dtype alignment and metadata by hash: compare sorted lines
sort "$TMP/out" >"$TMP/got"
LC_ALL=C sort >"$TMP/want" <<'EOF'
pattern.f32 F32 [3, 5]
pattern.f16 F16 [2, 2, 3]
pattern.scalar F32 []
pattern.empty F32 [0, 4]
pattern.f64 F64 [4]
source = python-safetensors
note = héllo "quoted" \ back
5 tensors, 32 parameters
EOF
LC_ALL=C sort "$TMP/got" -o "$TMP/got"
if cmp -s "$TMP/got" "$TMP/want"; then pass "inspect output of python's file"; else fail "inspect output of python's file" "$(diff "$TMP/want" "$TMP/got" | head -c 400)"; fi

check "cgrpo writes the pattern" "$TS" --write-pattern "$TMP/c.safetensors"
check "python reads cgrpo's file" python3 "$PY" check "$TMP/c.safetensors"
# and the checkers can fail: a file with the wrong values is refused by both
python3 - "$TMP/py.safetensors" "$TMP/bad.safetensors" <<'EOF'
import sys, numpy as np
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1]); t["pattern.f32"] = t["pattern.f32"] + np.float32(0.125)
save_file(t, sys.argv[2], metadata={"source": "x", "note": 'h\u00e9llo "quoted" \\ back'})
EOF
check_exit 1 "cgrpo refuses a wrong value" "$TS" --check-pattern "$TMP/bad.safetensors"
check_exit 1 "python refuses a wrong value" python3 "$PY" check "$TMP/bad.safetensors"

cli_summary cli_interop
