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

# Hand-computed values through the CLI (issue 6: every SARS quadrant, the variants, naive and TDW at
# steps 0 5 6 10 14 21 22 24 of a 25-step schedule). Input: three groups of two samples.
#   A: (1,1) (2,2)  sample 0 both negative, sample 1 both positive: A_id = A_pr = -+z
#   B: (1,2) (2,1)  both in conflict: sample 0 A_id = -z, A_pr = +z; sample 1 the reverse
#   C: r_id 1 and 1 + 2^-23, r_pr 5 and 5: A_id = -+ze, A_pr = 0 exactly (equal rewards)
# z = 0.5 / (sqrt(0.5) + 1e-8) = 0.70710677119 (unbiased std of two values 1 apart: sqrt(0.5));
# ze = (d/2) / (d/sqrt(2) + 1e-8), d = 2^-23: 0.63211695647 (0.70710678 without the 1e-8: this
# group pins the epsilon). tanh(z^2) = 0.46211714, so 0.4 tanh(z^2) = 0.18484686.
# TDW w_pr(t) at t = 0 5 6 10 14 21 22 24: 0.7 0.7 0.684333711 0.5 0.315666289 0.300060284 0.5 0.5
#   (0.3 + 0.4 (1 - sigmoid(0.8 (t - 10))) for 6 <= t < 22), w_id = 1 - w_pr.
# sars_tdw:  both-pos z (w_pr + w_id) + 0.4 tanh(z^2) = 0.89195363 at every step; conflict
#            (w_pr - w_id) z - 0.18484686 (B0) and (w_id - w_pr) z - 0.18484686 (B1); C: w_id(t) ze.
# harmonic:  0.5 A_pr + 0.5 A_id + 0.4 A_pr A_id / (A_pr + A_id + 1e-6): both-pos z + 0.4 z^2 / (2 z +
#            1e-6); conflict -0.4 z^2 / 1e-6 = -2e5, clamped to -5; C: the term is 0.
# min / max: the whole advantage, no weights: min(A_id, A_pr) / max(A_id, A_pr).
printf 'A,1,1\nA,2,2\nB,1,2\nB,2,1\nC,1,5\nC,1.00000011920928955078125,5\n' >"$TMP/hand.csv"
while IFS='|' read -r name flags rows; do
    [ -n "$name" ] || continue
    # shellcheck disable=SC2086  # the flags are meant to split
    if ! "$CGRPO" advantages --steps 25 $flags <"$TMP/hand.csv" >"$TMP/hand_out.csv" 2>"$TMP/err"; then
        fail "hand $name" "exit $? ($(head -c 200 "$TMP/err"))"; continue
    fi
    if msg=$(awk -F, -v rows="$rows" '
        BEGIN { n = split(rows, r, ";"); split("0 5 6 10 14 21 22 24", st, " ")
                for (i = 1; i <= n; i++) { split(r[i], f, " "); for (k = 1; k <= 8; k++) want[f[1] "," st[k]] = f[k + 1] } }
        NR > 1 { key = $1 $2 "," $3
                 if (key in want) { seen++; d = $4 - want[key]; if (d < 0) d = -d; a = want[key]; if (a < 0) a = -a
                     if (d > 2e-6 * a + 1e-7) { printf "%s%s step %s: %s, by hand %s; ", $1, $2, $3, $4, want[key]; bad++ } } }
        END { if (seen != 48) printf "%d of 48 values found", seen; exit (bad > 0 || seen != 48) }' "$TMP/hand_out.csv"); then
        pass "hand $name (48 values)"
    else fail "hand $name" "$msg"; fi
done <<'EOF'
sars_tdw||A0 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363;A1 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363;B0 0.09799585 0.09799585 0.0758403718 -0.184846858 -0.445534089 -0.467604312 -0.184846858 -0.184846858;B1 -0.467689567 -0.467689567 -0.445534089 -0.184846858 0.0758403718 0.0979105954 -0.184846858 -0.184846858;C0 -0.189635087 -0.189635087 -0.199538014 -0.316058478 -0.432578943 -0.442443763 -0.316058478 -0.316058478;C1 0.189635087 0.189635087 0.199538014 0.316058478 0.432578943 0.442443763 0.316058478 0.316058478
sars_static|--weighting static|A0 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363 -0.89195363;A1 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363 0.89195363;B0 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858;B1 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858 -0.184846858;C0 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478;C1 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478
naive_static|--shaping naive --weighting static --w-id 0.4 --w-prompt 0.6|A0 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771;A1 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771;B0 0.141421354 0.141421354 0.141421354 0.141421354 0.141421354 0.141421354 0.141421354 0.141421354;B1 -0.141421354 -0.141421354 -0.141421354 -0.141421354 -0.141421354 -0.141421354 -0.141421354 -0.141421354;C0 -0.252846783 -0.252846783 -0.252846783 -0.252846783 -0.252846783 -0.252846783 -0.252846783 -0.252846783;C1 0.252846783 0.252846783 0.252846783 0.252846783 0.252846783 0.252846783 0.252846783 0.252846783
naive_tdw|--shaping naive|A0 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771;A1 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771;B0 0.282842708 0.282842708 0.26068723 0 -0.26068723 -0.282757454 0 0;B1 -0.282842708 -0.282842708 -0.26068723 0 0.26068723 0.282757454 0 0;C0 -0.189635087 -0.189635087 -0.199538014 -0.316058478 -0.432578943 -0.442443763 -0.316058478 -0.316058478;C1 0.189635087 0.189635087 0.199538014 0.316058478 0.432578943 0.442443763 0.316058478 0.316058478
harmonic_static|--shaping harmonic --weighting static|A0 -0.848528225 -0.848528225 -0.848528225 -0.848528225 -0.848528225 -0.848528225 -0.848528225 -0.848528225;A1 0.848528025 0.848528025 0.848528025 0.848528025 0.848528025 0.848528025 0.848528025 0.848528025;B0 -5 -5 -5 -5 -5 -5 -5 -5;B1 -5 -5 -5 -5 -5 -5 -5 -5;C0 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478 -0.316058478;C1 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478 0.316058478
min|--shaping min|A0 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771;A1 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771;B0 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771;B1 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771;C0 -0.632116956 -0.632116956 -0.632116956 -0.632116956 -0.632116956 -0.632116956 -0.632116956 -0.632116956;C1 0 0 0 0 0 0 0 0
max|--shaping max|A0 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771 -0.707106771;A1 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771;B0 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771;B1 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771 0.707106771;C0 0 0 0 0 0 0 0 0;C1 0.632116956 0.632116956 0.632116956 0.632116956 0.632116956 0.632116956 0.632116956 0.632116956
EOF

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
