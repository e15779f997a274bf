#!/usr/bin/env bash
# run.sh BUILD_DIR: run every test program in BUILD_DIR/tests and every tests/cli_*.sh script
# (with CGRPO=BUILD_DIR/cgrpo), add up their "N passed, N failed" lines and end with the total.
# A program that crashes or prints no summary counts as one failure.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
passed=0; failed=0; bad=()
run_one() { # name, command...
    local name=$1; shift
    local out rc line p f
    out=$("$@" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 20
        echo "FAIL $name: exited $rc without a summary line"
        failed=$((failed + 1)); bad+=("$name"); return
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    [ "$f" -ne 0 ] && { printf '%s\n' "$out" | grep -E 'FAIL' | head -n 30; bad+=("$name"); }
    echo "$line"
    passed=$((passed + p)); failed=$((failed + f))
}
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for s in "$root"/tests/cli_*.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s")" env CGRPO="$root/$build/cgrpo" bash "$s"
done
[ ${#bad[@]} -gt 0 ] && echo "failing: ${bad[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
