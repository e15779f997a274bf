# cli_lora.sh: LoRA end to end on the tiny models of lib_cli.sh: `cgrpo train --lora-rank R` (only the
# adapters are trained and checkpointed, with the base's hash), a bit-exact resume after SIGKILL,
# `cgrpo lora merge`, `cgrpo sample --lora` against the merged model, and one-line refusals with exit 2
# (adapters of another base, bad keys, a file without adapters). Seconds in all.
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1

M=$TMP/models
tiny_grpo_models "$M"
L="$TINY_GRPO --lora-rank 4 --lora-alpha 8 --lr 0.05"

# ---- a LoRA run ------------------------------------------------------------------------------------------
check "LoRA train 4 iterations" "$CGRPO" train --out "$TMP/a" $L
for f in config.cfg metrics.jsonl ckpt.safetensors lora.safetensors model.safetensors; do
    [ -s "$TMP/a/$f" ] && pass "LoRA run dir has $f" || fail "LoRA run dir has $f" "missing"
done
grep -Eq '^train: LoRA rank 4, alpha 8, targets qkv,proj,fc1,fc2: [0-9]+ trainable parameters' "$TMP/err" &&
    pass "progress names the trainable parameters" || fail "LoRA progress line" "$(head -n 3 "$TMP/err")"
"$CGRPO" inspect "$TMP/a/ckpt.safetensors" >"$TMP/ck" 2>&1
! grep -q '^model\.' "$TMP/ck" && ! grep -q '^ref\.' "$TMP/ck" && grep -q '^lora\.blocks\.0\.mlp\.fc2\.lora_B F32 \[16, 4\]' "$TMP/ck" &&
    grep -q '^adam_m\.blocks\.0\.attn\.qkv\.lora_A F32 \[4, 16\]' "$TMP/ck" && grep -Eq '^lora\.base_fnv1a64 = [0-9a-f]{16}$' "$TMP/ck" &&
    pass "the checkpoint holds the adapters, their moments and the base's hash only" || fail "LoRA checkpoint" "$(head -n 5 "$TMP/ck")"
u1=$(grep '"iteration":1,' "$TMP/a/metrics.jsonl" | grep -o '"update_norm":[^,]*' | cut -d: -f2)
awk -v u="$u1" 'BEGIN { exit !(u > 0) }' && pass "the adapters move (update_norm $u1)" || fail "LoRA update" "update_norm $u1"

# ---- kill -9 in iteration 3, resume on another thread count: bit-identical ---------------------------------
( CGRPO_TEST_KILL_AT_ITER=3 "$CGRPO" train --out "$TMP/b" $L --quiet >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc" ) 2>/dev/null
[ "$(cat "$TMP/rc")" -eq 137 ] && pass "LoRA run killed in iteration 3" || fail "SIGKILL" "exit $(cat "$TMP/rc")"
check "LoRA resume after kill -9" env OMP_NUM_THREADS=2 "$CGRPO" train --resume "$TMP/b" --quiet
for f in ckpt.safetensors lora.safetensors model.safetensors; do
    cmp -s "$TMP/a/$f" "$TMP/b/$f" && pass "LoRA kill -9 + resume bit-exact: $f" || fail "LoRA resume: $f" "differs"
done

# ---- merge, sample with adapters --------------------------------------------------------------------------
check "lora merge" "$CGRPO" lora merge --model "$M/base.safetensors" --lora "$TMP/a/ckpt.safetensors" --out "$TMP/merged.safetensors"
prompt0=$("$CGRPO" world prompts --split test --subject 0 | head -n 1)
S=(--split test --subject 0 --prompt "$prompt0" --n 2 --steps 3 --quiet)
check "sample --lora" "$CGRPO" sample --model "$M/base.safetensors" --lora "$TMP/a/lora.safetensors" "${S[@]}" --out "$TMP/s_lora.png"
check "sample merged" "$CGRPO" sample --model "$TMP/merged.safetensors" "${S[@]}" --out "$TMP/s_merged.png"
check "sample the run's model" "$CGRPO" sample --model "$TMP/a/model.safetensors" "${S[@]}" --out "$TMP/s_model.png"
cmp -s "$TMP/s_lora.png" "$TMP/s_merged.png" && cmp -s "$TMP/s_lora.png" "$TMP/s_model.png" &&
    pass "base + adapters == merged model (8-bit images; tests/test_lora.c: float velocities within 1e-5)" ||
    fail "merged vs adapters" "the images differ"

# ---- refusals: one line, exit 2 ----------------------------------------------------------------------------
check "another model" "$CGRPO" train --out "$TMP/full" $TINY_GRPO --iterations 1 --quiet
check_exit 2 "adapters on another base" "$CGRPO" sample --model "$TMP/full/model.safetensors" --lora "$TMP/a/lora.safetensors" \
    "${S[@]}" --out "$TMP/x.png"
grep -q "another base model" "$TMP/err" && pass "hash mismatch named" || fail "hash mismatch message" "$(cat "$TMP/err")"
check_exit 2 "merge onto another base" "$CGRPO" lora merge --model "$TMP/full/model.safetensors" --lora "$TMP/a/lora.safetensors" \
    --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && pass "a refused merge writes nothing" || fail "refused merge" "file written"
check_exit 2 "a file without adapters" "$CGRPO" sample --model "$M/base.safetensors" --lora "$M/base.safetensors" "${S[@]}" --out "$TMP/x.png"
grep -q "holds no LoRA adapters" "$TMP/err" && pass "no adapters named" || fail "no adapters message" "$(cat "$TMP/err")"
check_exit 2 "adapters as --model" "$CGRPO" sample --model "$TMP/a/lora.safetensors" "${S[@]}" --out "$TMP/x.png"
grep -q "holds LoRA adapters, not a model" "$TMP/err" && pass "adapters as a model named" || fail "adapters as model" "$(cat "$TMP/err")"
check_exit 2 "unknown target" "$CGRPO" train --out "$TMP/x" $L --lora-targets qkv,attn
grep -q "unknown target 'attn'" "$TMP/err" && pass "unknown target named" || fail "unknown target" "$(cat "$TMP/err")"
check_exit 2 "negative rank" "$CGRPO" train --out "$TMP/x" $L --lora-rank -1
check_exit 2 "resume with another rank" "$CGRPO" train --resume "$TMP/a" --lora-rank 8
# the base file of a stopped LoRA run replaced: the resume refuses it
cp "$M/base.safetensors" "$TMP/base_copy.safetensors"
check "LoRA stop after 1" "$CGRPO" train --out "$TMP/c" ${L/$M\/base.safetensors/$TMP/base_copy.safetensors} --stop-after 1 --quiet
cp "$TMP/full/model.safetensors" "$TMP/base_copy.safetensors"
check_exit 2 "resume on a changed base" "$CGRPO" train --resume "$TMP/c" --quiet
grep -q "another base model" "$TMP/err" && pass "changed base named" || fail "changed base message" "$(cat "$TMP/err")"
check_exit 2 "lora without a subcommand" "$CGRPO" lora

cli_summary cli_lora
