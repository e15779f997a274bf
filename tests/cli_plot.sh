# cli_plot.sh: `cgrpo plot`: line plots from JSONL metrics, the scatter from CSV, and bad input
# (exit 2 with one line on stderr, no PNG left behind). Pixels are checked by tests/test_plot.c;
# here: the files are PNGs of the asked size, deterministic, and change with what is drawn.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib_cli.sh"

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
png_size() { # "W H" from the IHDR chunk
    od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}
expect_png() { # name, file, "W H"
    if is_png "$2" && [ "$(png_size "$2")" = "$3" ]; then pass "$1"
    else fail "$1" "not a $3 PNG: $(head -c 8 "$2" 2>/dev/null | od -An -tx1) size $(png_size "$2" 2>/dev/null)"; fi
}

mkdir -p "$TMP/a" "$TMP/b"
for run in a b; do
    for s in 0 10 20 30 40 50; do
        printf '{"step": %d, "loss": %s, "reward_id": %s, "note": "x"}\n' "$s" "$(awk -v s=$s 'BEGIN { print 2 / (1 + s / 10) }')" \
            "$(awk -v s=$s -v r=$run 'BEGIN { print (r == "a" ? 0.5 : 0.6) + s / 200 }')"
        [ "$s" = 20 ] && printf '{"step": 25, "val_loss": 1.1}\n\n{"step": 26, "reward_id": null}\n'
    done >"$TMP/$run/metrics.jsonl"
done
M="$TMP/a/metrics.jsonl"

check "one key" "$CGRPO" plot --jsonl "$M" --y loss --out "$TMP/one.png"
expect_png "one key: default size" "$TMP/one.png" "640 400"
check "size" "$CGRPO" plot --jsonl "$M" --y loss --width 500 --height 300 --out "$TMP/size.png"
expect_png "size: 500x300" "$TMP/size.png" "500 300"
check "files x keys" "$CGRPO" plot --jsonl "$M,$TMP/b/metrics.jsonl" --y loss,reward_id --title "Runs" \
    --xlabel step --ylabel value --label A-loss,A-rid,B-loss,B-rid --out "$TMP/multi.png"
expect_png "files x keys: PNG" "$TMP/multi.png" "640 400"
check "logy, fixed x" "$CGRPO" plot --jsonl "$M" --y loss --logy --xmin 0 --xmax 60 --out "$TMP/log.png"
expect_png "logy: PNG" "$TMP/log.png" "640 400"
check "sparse key" "$CGRPO" plot --jsonl "$M" --y val_loss --out "$TMP/sparse.png"
"$CGRPO" plot --jsonl "$M" --y loss --out "$TMP/one_again.png" 2>/dev/null
if cmp -s "$TMP/one.png" "$TMP/one_again.png"; then pass "deterministic"; else fail "deterministic" "two runs differ"; fi
"$CGRPO" plot --jsonl "$M" --y loss --title "Other" --out "$TMP/titled.png" 2>/dev/null
if ! cmp -s "$TMP/one.png" "$TMP/titled.png"; then pass "title drawn"; else fail "title drawn" "same bytes"; fi

printf 'method,identity,prompt\nbase,0.76,7.87\nnaive 1:1,0.84,4.12\ncustomized,0.81,8.32\n' >"$TMP/pareto.csv"
check "scatter" "$CGRPO" plot --scatter "$TMP/pareto.csv" --title "Pareto" --out "$TMP/pareto.png"
expect_png "scatter: PNG" "$TMP/pareto.png" "640 400"
printf 'method,identity,prompt,id_std,prompt_std\n\nbase,0.76,7.87,0.01,0.1\nbase,0.77,7.9,0.01,0.1\nsars,0.8,8.1,0.02,0.2\n' >"$TMP/err.csv"
check "scatter with error bars" "$CGRPO" plot --scatter "$TMP/err.csv" --out "$TMP/err.png" --width 400 --height 400
expect_png "error bars: PNG" "$TMP/err.png" "400 400"
check "help" "$CGRPO" plot --help
if grep -q -- '--scatter' "$TMP/out"; then pass "help lists flags"; else fail "help lists flags" "$(head -c 200 "$TMP/out")"; fi

# bad input: exit 2, one line on stderr that contains WANT, and no PNG written
bad() { # name, want, args...
    local name=$1 want=$2; shift 2
    rm -f "$TMP/bad.png"
    check_exit 2 "$name" "$CGRPO" plot "$@"
    if grep -q -- "$want" "$TMP/err" && [ ! -e "$TMP/bad.png" ]; then pass "$name: message"
    else fail "$name: message" "wanted '$want', got: $(head -c 200 "$TMP/err"); png left: $([ -e "$TMP/bad.png" ] && echo yes)"; fi
}
bad "missing file" "nope.jsonl" --jsonl "$TMP/nope.jsonl" --y loss --out "$TMP/bad.png"
bad "key in no line" "no line has the key 'acc'" --jsonl "$M" --y loss,acc --out "$TMP/bad.png"
bad "x key in no line" "x key 'epoch'" --jsonl "$M" --x epoch --y loss --out "$TMP/bad.png"
bad "never together" "both 'step' and 'k'" --jsonl <(printf '{"step": 1}\n{"k": 2}\n') --y k --out "$TMP/bad.png"
printf '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}\n{"step": 2, "loss": }\n' >"$TMP/broken.jsonl"
bad "malformed JSONL" "broken.jsonl:3: malformed JSON" --jsonl "$TMP/broken.jsonl" --y loss --out "$TMP/bad.png"
bad "string value" "'note' is not a number" --jsonl "$M" --y note --out "$TMP/bad.png"
bad "nothing positive for logy" "no finite positive" --jsonl <(printf '{"step": 0, "d": -1}\n{"step": 1, "d": 0}\n') \
    --y d --logy --out "$TMP/bad.png"
bad "unwritable output" "/nonexistent/dir/x.png" --jsonl "$M" --y loss --out /nonexistent/dir/x.png
bad "labels count" "2 names for 1 lines" --jsonl "$M" --y loss --label a,b --out "$TMP/bad.png"
bad "empty list item" "empty item" --jsonl "$M" --y loss,,reward_id --out "$TMP/bad.png"
bad "no --out" "--out" --jsonl "$M" --y loss
bad "no --y" "--y" --jsonl "$M" --out "$TMP/bad.png"
bad "both modes" "one of --jsonl or --scatter" --jsonl "$M" --scatter "$TMP/pareto.csv" --y loss --out "$TMP/bad.png"
bad "neither mode" "one of --jsonl or --scatter" --out "$TMP/bad.png"
bad "unknown flag" "unknown option '--colour'" --jsonl "$M" --y loss --colour red --out "$TMP/bad.png"
bad "width too small" "--width" --jsonl "$M" --y loss --width 10 --out "$TMP/bad.png"
bad "half a range" "both ends" --jsonl "$M" --y loss --xmin 0 --out "$TMP/bad.png"
bad "empty range" "min < max" --jsonl "$M" --y loss --ymin 1 --ymax 1 --out "$TMP/bad.png"
bad_csv() { # name, want, csv text
    printf '%b' "$3" >"$TMP/bad.csv"
    bad "$1" "$2" --scatter "$TMP/bad.csv" --out "$TMP/bad.png"
}
bad_csv "csv: 4 fields" "bad.csv:3: expected label,x,y" 'm,x,y\na,1,2\nb,1,2,3\n'
bad_csv "csv: 2 fields" "bad.csv:2: expected label,x,y" 'm,x,y\na,1\n'
bad_csv "csv: not a number" "bad.csv:2: y 'high'" 'm,x,y\na,1,high\n'
bad_csv "csv: nan" "bad.csv:3: x 'nan'" 'm,x,y\na,1,2\nb,nan,2\n'
bad_csv "csv: negative error" "bad.csv:2: yerr -1 is negative" 'm,x,y,xe,ye\na,1,2,0,-1\n'
bad_csv "csv: empty label" "bad.csv:2: empty label" 'm,x,y\n ,1,2\n'
bad_csv "csv: no header" "bad.csv:1: expected a header" 'a,1,2\nb,2,3\n'
bad_csv "csv: header only" "no points" 'm,x,y\n\n'
bad_csv "csv: empty" "empty" ''
bad "csv: missing" "cannot open" --scatter "$TMP/none.csv" --out "$TMP/bad.png"

cli_summary "cli_plot"
