#!/usr/bin/env bash
# cli_inspect.sh: `cgrpo inspect` on a good file (exact output) and on malformed files (exit 2,
# exactly one line on stderr). The files are made here with printf: no fixtures, no Python.
set -u
export LC_ALL=C # ${#s} counts bytes
. "$(dirname "$0")/lib_cli.sh"

# le64 N: the 8 bytes of N as a little-endian u64
le64() {
    local n=$1 i
    for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf '%03o' $(( (n >> (8 * i)) & 255 )))"; done
}
# mkst FILE HEADER [DATA_BYTES]: length + header padded with spaces to 8 bytes + DATA_BYTES zero bytes
mkst() {
    local f=$1 h=$2 nd=${3:-0}
    while [ $(( ${#h} % 8 )) -ne 0 ]; do h="$h "; done
    { le64 ${#h}; printf '%s' "$h"; head -c "$nd" /dev/zero; } >"$f"
}
# mkraw FILE LENGTH HEADER [DATA_BYTES]: a length field that need not match the header
mkraw() {
    { le64 "$2"; printf '%s' "$3"; head -c "${4:-0}" /dev/zero; } >"$1"
}

T='"dtype":"F32"'
mkst "$TMP/good.safetensors" \
    '{"__metadata__":{"format":"pt","step":"1200"},"embed.weight":{"dtype":"F32","shape":[64,128],"data_offsets":[0,32768]},"blocks.0.b":{"dtype":"BF16","shape":[128],"data_offsets":[32768,33024]},"scale":{"dtype":"F16","shape":[],"data_offsets":[33024,33026]}}' \
    33026
cat >"$TMP/want" <<'EOF'
embed.weight F32 [64, 128]
blocks.0.b BF16 [128]
scale F16 []
format = pt
step = 1200
3 tensors, 8321 parameters
EOF
check "inspect good file" "$CGRPO" inspect "$TMP/good.safetensors"
if cmp -s "$TMP/out" "$TMP/want"; then pass "inspect output"; else fail "inspect output" "$(diff "$TMP/want" "$TMP/out" | head -c 400)"; fi

mkst "$TMP/empty_header.safetensors" '{}'
check "inspect empty header" "$CGRPO" inspect "$TMP/empty_header.safetensors"
if [ "$(cat "$TMP/out")" = "0 tensors, 0 parameters" ]; then pass "empty header output"; else fail "empty header output" "$(head -c 200 "$TMP/out")"; fi

check "inspect --help" "$CGRPO" inspect --help
if grep -q "usage: cgrpo inspect" "$TMP/out"; then pass "--help prints usage"; else fail "--help prints usage" "no usage line"; fi

# usage errors
check_exit 2 "no file" "$CGRPO" inspect
check_exit 2 "two files" "$CGRPO" inspect "$TMP/good.safetensors" "$TMP/good.safetensors"
check_exit 2 "unknown option" "$CGRPO" inspect --bogus "$TMP/good.safetensors"
check_exit 2 "missing file" "$CGRPO" inspect "$TMP/nope.safetensors"
check_exit 2 "directory" "$CGRPO" inspect "$TMP"

# malformed files: each exit 2 with one stderr line
: >"$TMP/m_empty"
printf 'abc' >"$TMP/m_short"
mkraw "$TMP/m_len_past_end" 1000 '{}'
mkraw "$TMP/m_len_absurd" 72057594037927936 '{}'
mkst "$TMP/m_bad_json" '{"a":{"dtype":'
mkst "$TMP/m_not_object" '[1, 2]'
mkst "$TMP/m_entry_not_object" '{"a":[1]}'
mkst "$TMP/m_missing_field" "{\"a\":{$T,\"shape\":[1]}}" 4
mkst "$TMP/m_bad_dtype" '{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}' 4
mkst "$TMP/m_negative_dim" "{\"a\":{$T,\"shape\":[-2],\"data_offsets\":[0,4]}}" 4
mkst "$TMP/m_huge_shape" "{\"a\":{$T,\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}" 4
mkst "$TMP/m_offsets_past_end" "{\"a\":{$T,\"shape\":[4],\"data_offsets\":[0,16]}}" 8
mkst "$TMP/m_size_mismatch" "{\"a\":{$T,\"shape\":[3],\"data_offsets\":[0,8]}}" 8
mkst "$TMP/m_overlap" "{\"a\":{$T,\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{$T,\"shape\":[2],\"data_offsets\":[4,12]}}" 12
mkst "$TMP/m_gap" "{\"a\":{$T,\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{$T,\"shape\":[1],\"data_offsets\":[8,12]}}" 12
mkst "$TMP/m_duplicate" "{\"a\":{$T,\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{$T,\"shape\":[1],\"data_offsets\":[4,8]}}" 8
mkst "$TMP/m_meta_not_string" '{"__metadata__":{"k":3}}'
mkst "$TMP/m_newline_name" '{"a\nb":5}'
for f in "$TMP"/m_*; do
    check_exit 2 "malformed $(basename "$f")" "$CGRPO" inspect "$f"
done
# the reason names the file and says what is wrong
"$CGRPO" inspect "$TMP/m_overlap" 2>"$TMP/err" >/dev/null
if grep -q "m_overlap: tensors 'a' and 'b' overlap" "$TMP/err"; then pass "overlap reason"; else fail "overlap reason" "$(cat "$TMP/err")"; fi
"$CGRPO" inspect "$TMP/m_gap" 2>"$TMP/err" >/dev/null
if grep -q "belong to no tensor" "$TMP/err"; then pass "gap reason"; else fail "gap reason" "$(cat "$TMP/err")"; fi

# cgrpo version: the BLAS build, its kernel set and the OpenMP threads, one key each; --version the same
check "version" env OMP_NUM_THREADS=3 "$CGRPO" version
grep -q "^blas: OpenBLAS " "$TMP/out" && grep -q "^blas.core: [A-Za-z0-9]" "$TMP/out" && grep -qx "openmp.threads: 3" "$TMP/out" &&
    [ "$(wc -l <"$TMP/out")" -eq 3 ] && pass "version: blas, blas.core, openmp.threads" || fail "version output" "$(cat "$TMP/out")"
cp "$TMP/out" "$TMP/version"
check "--version" env OMP_NUM_THREADS=3 "$CGRPO" --version
cmp -s "$TMP/out" "$TMP/version" && pass "--version is version" || fail "--version" "$(cat "$TMP/out")"
check "version --help" "$CGRPO" version --help
check_exit 2 "version with an argument" "$CGRPO" version extra

cli_summary cli_inspect
