# cli_advantages.sh: `cgrpo advantages` against the outputs of the Python twin
# (tools/twin_advantages.py, fixtures in tests/fixtures/advantages/), plus bad input and usage.
# The advantages must agree to |a - b| <= 1e-6 |b| + 1e-9 (relative; the tiny absolute floor is
# for exact zeros); group, index and step must match exactly, line by line.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib_cli.sh"
FIX="$here/fixtures/advantages"

# compare ACTUAL EXPECTED: same header, same rows in the same order, advantages within tolerance
compare() {
    awk -F, -v tol=1e-6 '
        NR == FNR { want[FNR] = $0; n = FNR; next }
        { got[FNR] = $0; m = FNR }
        END {
            if (m != n) { printf "%d lines, expected %d\n", m, n; exit 1 }
            if (got[1] != want[1]) { printf "header \"%s\", expected \"%s\"\n", got[1], want[1]; exit 1 }
            bad = 0
            for (i = 2; i <= n; i++) {
                split(got[i], g, ","); split(want[i], w, ",")
                if (g[1] != w[1] || g[2] != w[2] || g[3] != w[3]) {
                    printf "line %d: \"%s\", expected \"%s\"\n", i, got[i], want[i]; exit 1
                }
                d = g[4] - w[4]; if (d < 0) d = -d
                a = w[4]; if (a < 0) a = -a
                if (g[4] == "" || d > tol * a + 1e-9) {
                    if (bad < 5) printf "line %d: %s, expected %s\n", i, got[i], want[i]
                    bad++
                }
            }
            if (bad) { printf "%d values off\n", bad; exit 1 }
        }' "$2" "$1"
}

# every fixture case: name|flags
while IFS='|' read -r name flags; do
    [ -n "$name" ] || continue
    # shellcheck disable=SC2086  # the flags are meant to split
    if "$CGRPO" advantages $flags <"$FIX/input.csv" >"$TMP/adv_$name.csv" 2>"$TMP/adv_err"; then
        if msg=$(compare "$TMP/adv_$name.csv" "$FIX/expected_$name.csv" 2>&1); then pass "twin $name"
        else fail "twin $name" "$msg"; fi
    else
        fail "twin $name" "exit $? ($(head -c 300 "$TMP/adv_err"))"
    fi
done <"$FIX/cases.txt"

# sanity of the comparison itself: a perturbed value must be caught
awk -F, 'NR == 2 { $4 = $4 + 1e-4; OFS = ","; $0 = $1 "," $2 "," $3 "," $4 } { print }' \
    "$FIX/expected_default.csv" >"$TMP/perturbed.csv"
if compare "$TMP/perturbed.csv" "$FIX/expected_default.csv" >/dev/null 2>&1; then fail "compare catches a difference" "it did not"
else pass "compare catches a difference"; fi

# usage
check "help" "$CGRPO" advantages --help
if grep -q -- '--shaping' "$TMP/out"; then pass "help lists flags"; else fail "help lists flags" "$(head -c 200 "$TMP/out")"; fi
printf 'a,1,2\na,2,1\n' >"$TMP/ok.csv"
check "two samples" sh -c '"$0" advantages --steps 1 --weighting static <"$1"' "$CGRPO" "$TMP/ok.csv"
# by hand: z_id = (-0.7071, 0.7071), z_pr = (0.7071, -0.7071) (std sqrt(0.5) + 1e-8); static 0.5 / 0.5
# cancels, and both are in conflict: A = 0.4 tanh(-0.49999998586) = -0.18484686 for both samples
if awk -F, 'NR == 1 { ok = ($0 == "group,index,step,advantage") }
            NR > 1 { d = $4 + 0.18484686; if (d < 0) d = -d; if (d > 1e-7 || $3 != 0) ok = 0 }
            END { exit !(ok && NR == 3) }' "$TMP/out"; then pass "two samples value"
else fail "two samples value" "$(head -c 300 "$TMP/out")"; fi

# bad flags
check_exit 2 "unknown flag" sh -c '"$0" advantages --bogus <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "bad shaping" sh -c '"$0" advantages --shaping tanh <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "bad weighting" sh -c '"$0" advantages --weighting dynamic <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "steps 0" sh -c '"$0" advantages --steps 0 <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "steps not a number" sh -c '"$0" advantages --steps ten <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "gamma missing" sh -c '"$0" advantages --gamma <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "gamma nan" sh -c '"$0" advantages --gamma nan <"$1"' "$CGRPO" "$TMP/ok.csv"
check_exit 2 "clamp 0" sh -c '"$0" advantages --clamp 0 <"$1"' "$CGRPO" "$TMP/ok.csv"

# bad input: exit 2, one line naming the line number, nothing on stdout
bad_input() { # name, expected text in the message, input
    local name=$1 want=$2
    printf '%b' "$3" >"$TMP/bad.csv"
    check_exit 2 "$name" sh -c '"$0" advantages <"$1"' "$CGRPO" "$TMP/bad.csv"
    if grep -q -- "$want" "$TMP/err" && [ ! -s "$TMP/out" ]; then pass "$name: message"
    else fail "$name: message" "wanted '$want', got: $(head -c 200 "$TMP/err"); stdout $(wc -c <"$TMP/out") bytes"; fi
}
bad_input "two fields" "line 3" 'a,1,2\na,2,1\na,3\n'
bad_input "four fields" "line 2" 'a,1,2\na,2,1,0\n'
bad_input "not a number" "line 2: r_id" 'a,1,2\na,x,1\n'
bad_input "trailing junk" "line 1: r_prompt" 'a,1,2abc\na,2,1\n'
bad_input "empty field" "line 2" 'a,1,2\na,,1\n'
bad_input "nan" "line 4" 'group,r_id,r_prompt\na,1,2\n\na,2,nan\n'
bad_input "inf" "line 2" 'a,1,2\na,inf,1\n'
bad_input "beyond float" "line 2" 'a,1,2\na,1e39,1\n'
bad_input "empty group name" "line 1" ',1,2\n,2,1\n'
bad_input "one-sample group" "group 'b'" 'a,1,2\nb,5,5\na,2,1\n'
bad_input "one-sample group line" "line 2" 'a,1,2\nb,5,5\na,2,1\n'
bad_input "header not first" "line 2" 'a,1,2\ngroup,r_id,r_prompt\na,2,1\n'
bad_input "empty input" "no samples" ''
bad_input "only a header" "no samples" 'group,r_id,r_prompt\n\n'

cli_summary "cli_advantages"
