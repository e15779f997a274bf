# cli_train.sh: `cgrpo train` end to end on tiny models made here (a 16x16 DiT from cgrpo pretrain,
# tiny identity and prompt encoders from cgrpo train-encoder): the run directory, presets and config
# resolution, bit-exact resume after a real SIGKILL in the middle of an iteration (and after
# --stop-after), and one-line errors with exit 2 for bad input. Seconds in all.
source "$(dirname "$0")/lib_cli.sh"
# tiny models run fastest on one thread; run "a" uses two, its resumed twin one (thread-count independence)
export OMP_NUM_THREADS=1

M=$TMP/models
tiny_grpo_models "$M"
mkdir -p "$TMP/m8"
check "8x8 identity reward" tiny_enc id 8 "$TMP/m8/id.safetensors"
cp "$M/prompt.safetensors" "$TMP/m8/prompt.safetensors"
TINY=$TINY_GRPO

# ---- help and presets -----------------------------------------------------------------------------------
check "help" "$CGRPO" train --help
grep -q "naive-1-1.5" "$TMP/out" && grep -q "timestep_fraction" "$TMP/out" && pass "help lists presets and keys" ||
    fail "help lists presets and keys" "$(head -n 3 "$TMP/out")"
preset_is() { # preset shaping weighting w_id w_prompt
    "$CGRPO" train --print-config --preset "$1" >"$TMP/out" 2>"$TMP/err" &&
        grep -qx "preset = $1" "$TMP/out" && grep -qx "shaping = $2" "$TMP/out" && grep -qx "weighting = $3" "$TMP/out" &&
        grep -qx "w_id = $4" "$TMP/out" && grep -qx "w_prompt = $5" "$TMP/out" && grep -qx "gamma = 0.4" "$TMP/out"
}
for p in "customized sars tdw 0.5 0.5" "naive-1-1 naive static 0.5 0.5" "naive-1-1.5 naive static 0.4 0.6" \
         "sars-only sars static 0.5 0.5" "tdw-only naive tdw 0.5 0.5"; do
    set -- $p
    preset_is "$@" && pass "preset $1 -> $2 + $3, w $4/$5" || fail "preset $1" "$(grep -E 'preset|shaping|weighting|w_' "$TMP/out")"
done
check "default config" "$CGRPO" train --print-config
grep -qx "preset = customized" "$TMP/out" && grep -qx "sampler = dance" "$TMP/out" && grep -qx "eta = 0.7" "$TMP/out" &&
    grep -qx "clip_eps = 0.0001" "$TMP/out" && grep -qx "timestep_fraction = 0.6" "$TMP/out" &&
    pass "defaults: customized, dance 0.7, eps 1e-4, fraction 0.6" || fail "defaults" "$(cat "$TMP/out")"
# DESIGN.md section 7's optimizer and shaping constants
grep -qx "beta1 = 0.9" "$TMP/out" && grep -qx "beta2 = 0.999" "$TMP/out" && grep -qx "adam_eps = 1e-08" "$TMP/out" &&
    grep -qx "weight_decay = 0.0001" "$TMP/out" && grep -qx "grad_clip = 1" "$TMP/out" && grep -qx "gamma = 0.4" "$TMP/out" &&
    grep -qx "adv_clamp = 5" "$TMP/out" && grep -qx "shaping = sars" "$TMP/out" && grep -qx "weighting = tdw" "$TMP/out" &&
    pass "defaults: AdamW 0.9 / 0.999 / 1e-8, decay 1e-4, clip 1, gamma 0.4, clamp 5, sars + tdw" ||
    fail "DESIGN defaults" "$(cat "$TMP/out")"
# the main job's defaults (README: chosen on the VAL subjects)
grep -qx "iterations = 40" "$TMP/out" && grep -qx "pairs = 4" "$TMP/out" && grep -qx "group_size = 8" "$TMP/out" &&
    grep -qx "steps = 10" "$TMP/out" && grep -qx "shared_noise = 0" "$TMP/out" && grep -qx "groups_per_step = 0" "$TMP/out" &&
    grep -qx "lr = 0.0001" "$TMP/out" && grep -qx "kl_beta = 1" "$TMP/out" &&
    pass "main-job defaults: 40 x (4 x 8), 10 steps, own noise, lr 1e-4, KL 1" ||
    fail "main-job defaults" "$(cat "$TMP/out")"
check "dance's own eta" "$CGRPO" train --print-config --eta 0
grep -qx "eta = 0.4" "$TMP/out" && pass "eta 0 resolves to dance's 0.4" || fail "dance eta" "$(grep eta "$TMP/out")"
check "flow sampler's eta" "$CGRPO" train --print-config --sampler flow --eta 0
grep -qx "eta = 0.7" "$TMP/out" && pass "sampler flow resolves eta 0.7" || fail "flow eta" "$(grep eta "$TMP/out")"
printf 'preset = naive-1-1.5   # the baseline\nsteps = 10\n' >"$TMP/p.cfg"
check "preset from a config file" "$CGRPO" train --print-config --config "$TMP/p.cfg" --w-id 0.3
grep -qx "shaping = naive" "$TMP/out" && grep -qx "w_prompt = 0.6" "$TMP/out" && grep -qx "w_id = 0.3" "$TMP/out" &&
    grep -qx "steps = 10" "$TMP/out" && pass "file preset, file key, option override" || fail "file preset" "$(cat "$TMP/out")"
check "--preset beats the file's preset" "$CGRPO" train --print-config --config "$TMP/p.cfg" --preset customized
grep -qx "shaping = sars" "$TMP/out" && grep -qx "weighting = tdw" "$TMP/out" && grep -qx "steps = 10" "$TMP/out" &&
    pass "--preset customized with the file's keys" || fail "--preset over file" "$(cat "$TMP/out")"

# ---- a run -------------------------------------------------------------------------------------------------
metric() { grep "\"iteration\":$2," "$1" | grep -o "\"$3\":[^,}]*" | cut -d: -f2; } # FILE ITERATION KEY
check "train 4 iterations" env OMP_NUM_THREADS=2 "$CGRPO" train --out "$TMP/a" $TINY
grep -Eq '^train: peak memory \(RSS\) [0-9]+ MiB$' "$TMP/err" && pass "a finished run prints its peak memory" ||
    fail "peak memory" "$(tail -n 2 "$TMP/err")"
for f in config.cfg metrics.jsonl ckpt.safetensors model.safetensors; do
    [ -s "$TMP/a/$f" ] && pass "run dir has $f" || fail "run dir has $f" "missing"
done
[ "$(wc -l <"$TMP/a/metrics.jsonl")" -eq 4 ] && pass "one metrics line per iteration" || fail "metrics lines" "$(wc -l <"$TMP/a/metrics.jsonl")"
for k in reward_id_mean reward_id_std reward_prompt_mean reward_prompt_std both_pos conflict both_neg adv_mean_step adv_abs_step \
         clip_frac approx_kl grad_norm grad_cos_id_prompt t_rollout t_reward t_update reward_id_gstd reward_prompt_gstd \
         copy_dist copy_corr_id copy_corr_prompt copy_corr_adv update_norm drift_norm grad_cos_halves; do
    grep -q "\"$k\":" "$TMP/a/metrics.jsonl" || fail "metrics key $k" "missing"
done
pass "metrics keys"
grep -q '"iteration":2,.*"grad_cos_id_prompt":-\?[0-9]' "$TMP/a/metrics.jsonl" && grep -q '"iteration":1,.*"grad_cos_id_prompt":null' "$TMP/a/metrics.jsonl" &&
    pass "gradient cosine every cos_every iterations" || fail "gradient cosine" "$(head -n 2 "$TMP/a/metrics.jsonl")"
c2=$(metric "$TMP/a/metrics.jsonl" 2 grad_cos_halves)
[ "$(metric "$TMP/a/metrics.jsonl" 1 grad_cos_halves)" = null ] && awk -v c="$c2" 'BEGIN { exit !(c >= -1 && c <= 1 && c != "") }' &&
    pass "split-half gradient cosine at cos_every, in [-1, 1]" || fail "grad_cos_halves" "iteration 2: $c2"
"$CGRPO" train --out "$TMP/p1" $TINY --pairs 1 --groups-per-step 1 --iterations 2 --quiet 2>/dev/null
[ "$(metric "$TMP/p1/metrics.jsonl" 2 grad_cos_halves)" = null ] && [ "$(metric "$TMP/p1/metrics.jsonl" 2 grad_cos_id_prompt)" != null ] &&
    pass "one group: no halves to compare (null)" || fail "grad_cos_halves with P 1" "$(metric "$TMP/p1/metrics.jsonl" 2 grad_cos_halves)"
# after the first update the drift from the base is that update; a positive number
u1=$(metric "$TMP/a/metrics.jsonl" 1 update_norm); d1=$(metric "$TMP/a/metrics.jsonl" 1 drift_norm)
[ -n "$u1" ] && [ "$u1" = "$d1" ] && awk -v u="$u1" 'BEGIN { exit !(u > 0) }' && pass "iteration 1: update_norm = drift_norm > 0" ||
    fail "update and drift norms" "update $u1 drift $d1"
grep -q "^train: iter 4/4 r_id" "$TMP/err" && grep -q "ETA" "$TMP/err" && pass "progress lines" || fail "progress" "$(head -c 300 "$TMP/err")"
# a GRPO checkpoint is a model too (dit_load_any takes its policy): the same samples as model.safetensors
prompt0=$("$CGRPO" world prompts --split test --subject 0 | head -n 1)
"$CGRPO" sample --model "$TMP/a/ckpt.safetensors" --split test --subject 0 --prompt "$prompt0" --n 2 --steps 2 \
    --out "$TMP/gck.png" --quiet 2>"$TMP/gck.err"
"$CGRPO" sample --model "$TMP/a/model.safetensors" --split test --subject 0 --prompt "$prompt0" --n 2 --steps 2 \
    --out "$TMP/gm.png" --quiet 2>>"$TMP/gck.err"
[ -s "$TMP/gck.png" ] && cmp -s "$TMP/gck.png" "$TMP/gm.png" && pass "GRPO checkpoint's policy == model file" ||
    fail "GRPO checkpoint as model" "$(head -c 300 "$TMP/gck.err")"
grep -qx "shaping = sars *# advantage aggregation" "$TMP/a/config.cfg" && pass "config.cfg resolved" || fail "config.cfg" "$(head -n 5 "$TMP/a/config.cfg")"
check "sample grids" "$CGRPO" train --out "$TMP/s" $TINY --iterations 3 --sample-every 2 --quiet
for f in samples/iter_000000.png samples/iter_000002.png samples/iter_000003.png; do
    [ -s "$TMP/s/$f" ] && pass "run dir has $f" || fail "run dir has $f" "missing"
done

# ---- kill -9 in the middle of iteration 3, resume: bit-identical -----------------------------------------
# (in a subshell whose stderr is dropped: bash reports the killed job there)
( CGRPO_TEST_KILL_AT_ITER=3 "$CGRPO" train --out "$TMP/b" $TINY --quiet >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc" ) 2>/dev/null
rc=$(cat "$TMP/rc")
[ "$rc" -eq 137 ] && pass "killed by SIGKILL in iteration 3" || fail "SIGKILL" "exit $rc"
"$CGRPO" inspect "$TMP/b/ckpt.safetensors" >"$TMP/out" 2>&1
grep -qx "iteration = 2" "$TMP/out" && pass "the checkpoint on disk is iteration 2's" || fail "killed checkpoint" "$(grep iteration "$TMP/out")"
check "resume after kill -9 (another thread count)" env OMP_NUM_THREADS=1 "$CGRPO" train --resume "$TMP/b" --quiet
for f in model.safetensors ckpt.safetensors config.cfg; do
    cmp -s "$TMP/a/$f" "$TMP/b/$f" && pass "kill -9 + resume bit-exact: $f" || fail "kill -9 + resume: $f" "differs"
done
for k in drift_norm copy_corr_adv reward_prompt_gstd; do
    [ "$(metric "$TMP/a/metrics.jsonl" 4 $k)" = "$(metric "$TMP/b/metrics.jsonl" 4 $k)" ] && pass "resumed $k equal" ||
        fail "resumed $k" "$(metric "$TMP/a/metrics.jsonl" 4 $k) vs $(metric "$TMP/b/metrics.jsonl" 4 $k)"
done
# without a reference policy the resumed run reads the base model file back for drift_norm
"$CGRPO" train --out "$TMP/k0a" $TINY --kl-beta 0 --quiet 2>/dev/null
"$CGRPO" train --out "$TMP/k0b" $TINY --kl-beta 0 --iterations 2 --quiet 2>/dev/null
"$CGRPO" train --resume "$TMP/k0b" --iterations 4 --quiet 2>/dev/null
d4=$(metric "$TMP/k0a/metrics.jsonl" 4 drift_norm)
[ -n "$d4" ] && [ "$d4" != null ] && [ "$d4" = "$(metric "$TMP/k0b/metrics.jsonl" 4 drift_norm)" ] &&
    pass "kl_beta 0: resumed drift_norm equal" || fail "kl_beta 0 resumed drift" "$d4 vs $(metric "$TMP/k0b/metrics.jsonl" 4 drift_norm)"
[ "$(wc -l <"$TMP/b/metrics.jsonl")" -eq 4 ] && pass "resumed metrics: 4 lines" || fail "resumed metrics" "$(cut -c1-20 "$TMP/b/metrics.jsonl")"

# ---- --stop-after 2, resume, extend ------------------------------------------------------------------------
check "stop after 2" "$CGRPO" train --out "$TMP/c" $TINY --stop-after 2 --quiet
[ ! -e "$TMP/c/model.safetensors" ] && pass "a stopped run has no final model" || fail "stopped run" "model.safetensors written"
check "resume to 4" "$CGRPO" train --resume "$TMP/c" --quiet
cmp -s "$TMP/a/model.safetensors" "$TMP/c/model.safetensors" && pass "stop + resume bit-exact" || fail "stop + resume" "differs"
check "extend to 5 iterations" "$CGRPO" train --resume "$TMP/c" --iterations 5 --quiet
[ "$(wc -l <"$TMP/c/metrics.jsonl")" -eq 5 ] && grep -qx "iterations = 5 *#.*" "$TMP/c/config.cfg" &&
    pass "resume with more iterations" || fail "extend" "$(wc -l <"$TMP/c/metrics.jsonl")"

# ---- the OpenBLAS kernel set: in the checkpoint; a resume on another set warns and goes on -------------------
grep -q "^blas.core = ." <("$CGRPO" inspect "$TMP/c/ckpt.safetensors") && pass "checkpoint records the kernel set" ||
    fail "checkpoint kernel set" "no blas.core"
if other_kernels; then
    check "stop after 1 on Prescott kernels" env OPENBLAS_CORETYPE=Prescott "$CGRPO" train --out "$TMP/k" $TINY --stop-after 1 --quiet
    check "resume on Core2 kernels" env OPENBLAS_CORETYPE=Core2 "$CGRPO" train --resume "$TMP/k" --stop-after 2 --quiet
    [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "^train: $KERNEL_WARNING" "$TMP/err" &&
        grep -qx "iteration = 2" <("$CGRPO" inspect "$TMP/k/ckpt.safetensors") &&
        pass "a resume on other kernels warns in one line and goes on" || fail "other-kernel resume" "$(head -c 400 "$TMP/err")"
else
    echo "skip kernel-set resume (OPENBLAS_CORETYPE cannot select Prescott and Core2 here)"
fi

# ---- bad input: exit 2, one line ---------------------------------------------------------------------------
check_exit 2 "unknown preset" "$CGRPO" train --preset naive-2 --out "$TMP/x"
grep -q "naive-2" "$TMP/err" && grep -q "customized" "$TMP/err" && pass "unknown preset named with the known ones" ||
    fail "unknown preset message" "$(cat "$TMP/err")"
check_exit 2 "unknown key" "$CGRPO" train --out "$TMP/x" --group-szie 4
grep -q "group_size" "$TMP/err" && pass "unknown key names the nearest" || fail "unknown key message" "$(cat "$TMP/err")"
printf 'pairs = 2\nclip_esp = 0.1\n' >"$TMP/typo.cfg"
check_exit 2 "unknown key in a config file" "$CGRPO" train --out "$TMP/x" --config "$TMP/typo.cfg"
grep -q "typo.cfg:2" "$TMP/err" && grep -q "clip_eps" "$TMP/err" && pass "config file key error names line and key" ||
    fail "config typo message" "$(cat "$TMP/err")"
check_exit 2 "bad value" "$CGRPO" train --out "$TMP/x" --group-size 1
check_exit 2 "missing model file" "$CGRPO" train --out "$TMP/x" --model "$TMP/nope.safetensors" --rewards-dir "$M"
grep -q "nope.safetensors" "$TMP/err" && pass "missing model named" || fail "missing model message" "$(cat "$TMP/err")"
check_exit 2 "missing reward file" "$CGRPO" train --out "$TMP/x" --model "$M/base.safetensors" --rewards-dir "$M/pre"
check_exit 2 "model/reward image size mismatch" "$CGRPO" train --out "$TMP/x" $TINY --rewards-dir "$TMP/m8"
grep -q "16x16" "$TMP/err" && grep -q "8x8" "$TMP/err" && pass "size mismatch names both sizes" || fail "size mismatch message" "$(cat "$TMP/err")"
check_exit 2 "--out and --resume" "$CGRPO" train --out "$TMP/x" --resume "$TMP/a"
check_exit 2 "resume a missing run" "$CGRPO" train --resume "$TMP/none"
check_exit 2 "resume with a changed key" "$CGRPO" train --resume "$TMP/a" --lr 0.5
grep -q "lr" "$TMP/err" && pass "changed key named" || fail "changed key message" "$(cat "$TMP/err")"
check_exit 2 "a directory that holds a run" "$CGRPO" train --out "$TMP/a" $TINY
cmp -s "$TMP/a/ckpt.safetensors" "$TMP/b/ckpt.safetensors" && pass "refused runs leave the checkpoint alone" ||
    fail "refused run" "checkpoint changed"

cli_summary cli_train
