# cli_pretrain.sh: `cgrpo pretrain` end to end with a tiny config (seconds): the run directory,
# bit-exact resume (2N steps == N steps + --resume for N more, compared with cmp, also across
# thread counts), and one-line errors for bad configs, bad resumes, corrupt checkpoints (exit 2)
# and divergence (exit 1).
source "$(dirname "$0")/lib_cli.sh"

cat >"$TMP/tiny.cfg" <<'EOF'
# a model that trains in a fraction of a second
width = 16
depth = 1
heads = 2
batch = 2
img = 32
warmup = 2
val_samples = 4   # fixed validation samples
val_every = 3
log_every = 2
ckpt_every = 2
EOF

check "help" "$CGRPO" pretrain --help
grep -q "ckpt_every" "$TMP/out" && pass "help lists the keys" || fail "help lists the keys" "$(head -n 3 "$TMP/out")"
check "print-config" "$CGRPO" pretrain --print-config --config "$TMP/tiny.cfg" --steps 6
grep -qx "width = 16" "$TMP/out" && grep -qx "steps = 6" "$TMP/out" && grep -qx "lr = 0.0003" "$TMP/out" &&
    pass "resolved config: file, option, default" || fail "resolved config" "$(head -n 5 "$TMP/out")"

# a full run of 6 steps (2 threads) and 3 + 3 resumed (1 thread, then 2)
check "pretrain 6 steps" env OMP_NUM_THREADS=2 "$CGRPO" pretrain --config "$TMP/tiny.cfg" --steps 6 --out "$TMP/a"
for f in config.cfg metrics.jsonl ckpt.safetensors model.safetensors; do
    [ -s "$TMP/a/$f" ] && pass "run dir has $f" || fail "run dir has $f" "missing"
done
grep -q "^pretrain: step 6/6 loss" "$TMP/err" && grep -q "ETA" "$TMP/err" &&
    pass "plain progress lines when stderr is not a terminal" || fail "progress lines" "$(head -c 300 "$TMP/err")"
# metrics: steps 0 (initial validation), 2, 3 (validation), 4, 6 (validation, last)
steps=$(sed -E 's/^\{"step":([0-9]+),.*\}$/\1/' "$TMP/a/metrics.jsonl" | tr '\n' ' ')
[ "$steps" = "0 2 3 4 6 " ] && pass "one metrics line per logged step" || fail "metrics steps" "$steps"
[ "$(grep -c '"val_loss_ema":' "$TMP/a/metrics.jsonl")" -eq 3 ] && grep -q '"images_per_s":' "$TMP/a/metrics.jsonl" &&
    grep -q '"grad_norm":' "$TMP/a/metrics.jsonl" && pass "metrics keys" || fail "metrics keys" "$(cat "$TMP/a/metrics.jsonl")"
grep -qx "width = 16 *# DiT width C" "$TMP/a/config.cfg" && pass "config.cfg written" || fail "config.cfg" "$(head -n 4 "$TMP/a/config.cfg")"

check "pretrain 3 steps" env OMP_NUM_THREADS=1 "$CGRPO" pretrain --config "$TMP/tiny.cfg" --steps 3 --out "$TMP/b" --quiet
[ ! -s "$TMP/err" ] && pass "--quiet is quiet" || fail "--quiet" "$(head -c 200 "$TMP/err")"
check "resume to 6 steps" env OMP_NUM_THREADS=2 "$CGRPO" pretrain --resume "$TMP/b" --steps 6 --quiet
[ ! -s "$TMP/err" ] && pass "a resume on the same BLAS kernels prints nothing" || fail "same-kernel resume" "$(head -c 300 "$TMP/err")"
for f in ckpt.safetensors model.safetensors config.cfg; do
    cmp -s "$TMP/a/$f" "$TMP/b/$f" && pass "resume bit-exact: $f" || fail "resume bit-exact: $f" "differs"
done
steps=$(sed -E 's/^\{"step":([0-9]+),.*\}$/\1/' "$TMP/b/metrics.jsonl" | tr '\n' ' ')
[ "$steps" = "0 2 3 4 6 " ] && pass "resumed metrics continue" || fail "resumed metrics" "$steps"
check "resume a finished run" "$CGRPO" pretrain --resume "$TMP/b" --quiet
cmp -s "$TMP/a/ckpt.safetensors" "$TMP/b/ckpt.safetensors" && pass "no-op resume keeps the checkpoint" ||
    fail "no-op resume" "checkpoint changed"

# --stop-at: a 6-step schedule run in pieces (stop at 3, resume and stop at 5, resume to the end)
# equals the uninterrupted run; each piece leaves the EMA model of its step
check "stop-at 3" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --steps 6 --out "$TMP/s" --stop-at 3
grep -q "stopped at step 3 of 6" "$TMP/err" && pass "stop-at says where it stopped" || fail "stop-at message" "$(tail -n 2 "$TMP/err")"
grep -qx "step = 3" <("$CGRPO" inspect "$TMP/s/model.safetensors") && pass "stop-at model is step 3" ||
    fail "stop-at model step" "$("$CGRPO" inspect "$TMP/s/model.safetensors" | grep step)"
cp "$TMP/s/model.safetensors" "$TMP/s3.safetensors"
rm "$TMP/s/model.safetensors"
check "stop-at on a checkpoint at that step" "$CGRPO" pretrain --resume "$TMP/s" --stop-at 3 --quiet
cmp -s "$TMP/s/model.safetensors" "$TMP/s3.safetensors" && pass "stop-at on the checkpoint's step re-exports the same model" ||
    fail "re-export" "differs"
check "resume, stop-at 5" "$CGRPO" pretrain --resume "$TMP/s" --stop-at 5 --quiet
check "resume to the end" "$CGRPO" pretrain --resume "$TMP/s" --quiet
for f in ckpt.safetensors model.safetensors; do
    cmp -s "$TMP/a/$f" "$TMP/s/$f" && pass "run in pieces bit-exact: $f" || fail "run in pieces: $f" "differs"
done
# the OpenBLAS kernel set: recorded in checkpoints (not in model files); a resume on another set
# warns and goes on. Prescott (SSE3) and Core2 (SSSE3) kernels run on any x86-64 CPU.
core=$("$CGRPO" version | sed -n 's/^blas.core: //p')
[ -n "$core" ] && pass "version names the kernel set ($core)" || fail "version" "$("$CGRPO" version 2>&1 | head -c 300)"
grep -qx "blas.core = $core" <("$CGRPO" inspect "$TMP/a/ckpt.safetensors") && pass "checkpoint records the kernel set" ||
    fail "checkpoint kernel set" "$("$CGRPO" inspect "$TMP/a/ckpt.safetensors" | grep blas)"
grep -q "blas.core" <("$CGRPO" inspect "$TMP/a/model.safetensors") && fail "model file" "records the kernel set" ||
    pass "model files do not record the kernel set"
if other_kernels; then
    check "3 steps on Prescott kernels" env OPENBLAS_CORETYPE=Prescott "$CGRPO" pretrain --config "$TMP/tiny.cfg" --steps 6 \
        --stop-at 3 --out "$TMP/k" --quiet
    check "resume on Core2 kernels" env OPENBLAS_CORETYPE=Core2 "$CGRPO" pretrain --resume "$TMP/k" --quiet
    [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
        grep -q "^pretrain: $KERNEL_WARNING" "$TMP/err" &&
        pass "a resume on other kernels warns in one line" || fail "other-kernel resume" "$(head -c 400 "$TMP/err")"
    grep -qx "step = 6" <("$CGRPO" inspect "$TMP/k/model.safetensors") && pass "and the run goes on to the end" ||
        fail "other-kernel resume" "did not finish"
else
    echo "skip kernel-set resume (OPENBLAS_CORETYPE cannot select Prescott and Core2 here)"
fi
check_exit 2 "stop-at below the checkpoint" "$CGRPO" pretrain --resume "$TMP/s" --stop-at 2
check_exit 2 "stop-at beyond steps" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --steps 6 --out "$TMP/x" --stop-at 7
check_exit 2 "stop-at not a number" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --out "$TMP/x" --stop-at soon

# bad usage and bad configs: exit 2, one line
printf 'width = 16\nwidht = 8\n' >"$TMP/typo.cfg"
check_exit 2 "unknown config key" "$CGRPO" pretrain --config "$TMP/typo.cfg" --out "$TMP/x"
grep -q "widht" "$TMP/err" && grep -q "nearest: width" "$TMP/err" && grep -q "typo.cfg:2" "$TMP/err" &&
    pass "unknown key named with the nearest one and the line" || fail "unknown key message" "$(cat "$TMP/err")"
printf 'batch = lots\n' >"$TMP/bad.cfg"
check_exit 2 "bad config value" "$CGRPO" pretrain --config "$TMP/bad.cfg" --out "$TMP/x"
grep -q "batch" "$TMP/err" && grep -q "lots" "$TMP/err" && pass "bad value named with its key" ||
    fail "bad value message" "$(cat "$TMP/err")"
check_exit 2 "bad option value" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --lr fast --out "$TMP/x"
grep -q "lr" "$TMP/err" && grep -q "fast" "$TMP/err" && pass "bad option value named" || fail "bad option" "$(cat "$TMP/err")"
check_exit 2 "unknown option" "$CGRPO" pretrain --widht 8 --out "$TMP/x"
grep -q "width" "$TMP/err" && pass "unknown option suggests a key" || fail "unknown option message" "$(cat "$TMP/err")"
check_exit 2 "missing config file" "$CGRPO" pretrain --config "$TMP/none.cfg" --out "$TMP/x"
check_exit 2 "width not divisible by heads" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --heads 3 --out "$TMP/x"
check_exit 2 "no --out" "$CGRPO" pretrain --config "$TMP/tiny.cfg"
check_exit 2 "a new run over an existing one" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --out "$TMP/a"
check_exit 2 "--config with --resume" "$CGRPO" pretrain --resume "$TMP/a" --config "$TMP/tiny.cfg"

# bad resumes: exit 2, one line, naming what is wrong
check_exit 2 "resume a missing dir" "$CGRPO" pretrain --resume "$TMP/missing"
check_exit 2 "resume with another width" "$CGRPO" pretrain --resume "$TMP/a" --width 32
grep -q "width" "$TMP/err" && pass "conflicting key named" || fail "conflict message" "$(cat "$TMP/err")"
check_exit 2 "resume with fewer steps" "$CGRPO" pretrain --resume "$TMP/a" --steps 2
cp -r "$TMP/a" "$TMP/c"
sed -i 's/^lr = 0.0003 /lr = 0.001 /' "$TMP/c/config.cfg"
check_exit 2 "config.cfg edited behind the checkpoint" "$CGRPO" pretrain --resume "$TMP/c" --steps 8
grep -q "cfg.lr" "$TMP/err" && pass "checkpoint/config mismatch named" || fail "mismatch message" "$(cat "$TMP/err")"
check "another config" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --width 24 --steps 2 --out "$TMP/w24" --quiet
cp "$TMP/a/config.cfg" "$TMP/c/config.cfg"
cp "$TMP/w24/ckpt.safetensors" "$TMP/c/ckpt.safetensors"
check_exit 2 "checkpoint of another config" "$CGRPO" pretrain --resume "$TMP/c" --steps 8
grep -q "width" "$TMP/err" && pass "checkpoint of another config: mismatch named" || fail "other config" "$(cat "$TMP/err")"
size=$(stat -c %s "$TMP/a/ckpt.safetensors")
head -c $((size / 2)) "$TMP/a/ckpt.safetensors" >"$TMP/c/ckpt.safetensors"
check_exit 2 "truncated checkpoint" "$CGRPO" pretrain --resume "$TMP/c" --steps 8
cp "$TMP/a/ckpt.safetensors" "$TMP/c/ckpt.safetensors"
printf '\x55' | dd of="$TMP/c/ckpt.safetensors" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
check_exit 2 "damaged checkpoint data" "$CGRPO" pretrain --resume "$TMP/c" --steps 8
printf 'garbage' >"$TMP/c/ckpt.safetensors"
check_exit 2 "garbage checkpoint" "$CGRPO" pretrain --resume "$TMP/c" --steps 8

# divergence: AdamW with eps = 0 divides 0 by 0 where a gradient is exactly 0 (the zero-initialized
# output layer makes most of them 0 at step 1): exit 1, one line, no checkpoint written
check_exit 1 "divergence stops the run" "$CGRPO" pretrain --config "$TMP/tiny.cfg" --adam-eps 0 --steps 4 --out "$TMP/nan" --quiet
grep -q "diverged" "$TMP/err" && [ ! -e "$TMP/nan/ckpt.safetensors" ] && [ ! -e "$TMP/nan/model.safetensors" ] &&
    pass "divergence message, no checkpoint of NaN weights" || fail "divergence" "$(cat "$TMP/err"; ls "$TMP/nan")"

cli_summary cli_pretrain
