# lib_cli.sh: helpers for tests/cli_*.sh scripts (sourced). $CGRPO is the binary under test.
# check NAME CMD...      : the command must exit 0
# check_exit N NAME CMD... : the command must exit N and print exactly one line on stderr
cli_passed=0; cli_failed=0
: "${CGRPO:?set CGRPO to the cgrpo binary}"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
pass() { cli_passed=$((cli_passed + 1)); echo "ok   $1"; }
fail() { cli_failed=$((cli_failed + 1)); echo "FAIL $1: $2"; }
check() {
    local name=$1; shift
    if "$@" >"$TMP/out" 2>"$TMP/err"; then pass "$name"; else fail "$name" "exit $? ($(head -c 300 "$TMP/err"))"; fi
}
check_exit() {
    local want=$1 name=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
    local nl; nl=$(wc -l <"$TMP/err")
    if [ "$rc" -ne "$want" ]; then fail "$name" "exit $rc, wanted $want ($(head -c 300 "$TMP/err"))"
    elif [ "$nl" -ne 1 ]; then fail "$name" "stderr has $nl lines, wanted one: $(head -c 300 "$TMP/err")"
    else pass "$name"; fi
}
cli_summary() { echo "$1: $cli_passed passed, $cli_failed failed"; [ "$cli_failed" -eq 0 ]; }
# other_kernels: true when OPENBLAS_CORETYPE can select the Prescott and Core2 kernel sets here (any
# x86-64 CPU, with a DYNAMIC_ARCH OpenBLAS such as Debian's), for tests of a resume on other kernels
other_kernels() {
    [ "$(OPENBLAS_CORETYPE=Prescott "$CGRPO" version | sed -n 's/^blas.core: //p')" = Prescott ] &&
        [ "$(OPENBLAS_CORETYPE=Core2 "$CGRPO" version | sed -n 's/^blas.core: //p')" = Core2 ]
}
KERNEL_WARNING="warning: the checkpoint was written with OpenBLAS's Prescott kernels and this process runs Core2 ones.*OPENBLAS_CORETYPE=Prescott"
# tiny_encoders DIR RUNS: the five reward and judge files (id, prompt, judge_id, judge_clip, attr) as
# tiny one-step models in DIR, their runs in RUNS/r1..r5 (five checks); for tests of commands that
# read a models directory, not of the weights' quality
TINY_ENC=(--width 16 --depth 1 --heads 2 --embed-dim 8 --text-width 16 --text-depth 1 --text-heads 2
          --batch 4 --steps 1 --warmup 0 --progress off)
tiny_encoders() {
    local m=$1 runs=$2
    mkdir -p "$m"
    check "tiny id" "$CGRPO" train-encoder --kind id "${TINY_ENC[@]}" --out "$runs/r1" --export "$m/id.safetensors"
    check "tiny prompt" "$CGRPO" train-encoder --kind clip "${TINY_ENC[@]}" --out "$runs/r2" --export "$m/prompt.safetensors"
    check "tiny judge id" "$CGRPO" train-encoder --kind id --population judge --seed 2 "${TINY_ENC[@]}" --out "$runs/r3" \
        --export "$m/judge_id.safetensors"
    check "tiny judge clip" "$CGRPO" train-encoder --kind clip --population judge --seed 2 "${TINY_ENC[@]}" \
        --out "$runs/r4" --export "$m/judge_clip.safetensors"
    check "tiny attr" "$CGRPO" train-encoder --kind attr --population judge "${TINY_ENC[@]}" --out "$runs/r5" \
        --export "$m/attr.safetensors"
}
# tiny_grpo_models DIR: what `cgrpo train` reads, tiny, in DIR (three checks): base.safetensors (a
# 16x16 DiT from two pretraining steps, its run in DIR/pre), id.safetensors and prompt.safetensors
# (one-step 16x16 encoders); TINY_GRPO: a tiny training recipe on them (4 iterations of 2 x 3)
tiny_enc() { # kind img out
    "$CGRPO" train-encoder --kind "$1" --out "$TMP/enc_$1_$2_$(basename "$3" .safetensors)" --steps 1 --batch 4 \
        --img "$2" --width 8 --depth 1 --heads 2 --embed-dim 8 --text-width 8 --text-depth 1 --text-heads 2 \
        --eval-every 1 --val-seeds 1 --export "$3" --progress off
}
tiny_grpo_models() {
    local m=$1
    mkdir -p "$m"
    check "tiny base model" "$CGRPO" pretrain --out "$m/pre" --steps 2 --img 16 --width 16 --depth 1 --heads 2 --tdim 16 \
        --batch 2 --val-samples 2 --quiet
    cp "$m/pre/model.safetensors" "$m/base.safetensors"
    check "tiny identity reward" tiny_enc id 16 "$m/id.safetensors"
    check "tiny prompt reward" tiny_enc clip 16 "$m/prompt.safetensors"
    TINY_GRPO="--model $m/base.safetensors --rewards-dir $m --iterations 4 --pairs 2 --group-size 3 --steps 4 --lr 1e-3
               --inner-epochs 2 --groups-per-step 1 --ckpt-every 1 --sample-every 0 --cos-every 2"
}
# ---- the reliability tests' runs (cli_kill.sh, cli_faults.sh) ------------------------------------
# rel_setup DIR STEPS ITERATIONS: tiny GRPO models in DIR (three checks) and REL_PRE / REL_ENC /
# REL_GRPO, recipes of the three trainers (STEPS steps of pretrain and train-encoder, ITERATIONS of
# train) that checkpoint at every step (and write sample grids: train).
# rel_cmd KIND RUN_DIR: REL_CMD = the command that starts the run of KIND (pretrain, train or
# train-encoder) in RUN_DIR, or continues it when RUN_DIR holds a checkpoint.
rel_setup() {
    tiny_grpo_models "$1"
    REL_PRE=(--steps "$2" --img 16 --width 16 --depth 1 --heads 2 --tdim 16 --batch 2 --val-samples 2 --val-every 4
             --log-every 1 --ckpt-every 1)
    REL_ENC=(--kind id --steps "$2" --batch 4 --img 16 --width 8 --depth 1 --heads 2 --embed-dim 8 --text-width 8
             --text-depth 1 --text-heads 2 --eval-every 4 --log-every 1 --ckpt-every 1 --val-seeds 1 --progress off)
    REL_GRPO="${TINY_GRPO/--iterations 4/--iterations $3} --sample-every 2"
}
rel_cmd() {
    local kind=$1 dir=$2 more=()
    [ -e "$dir/ckpt.safetensors" ] && more=(--resume)
    case $kind in
    pretrain) if [ ${#more[@]} -gt 0 ]; then REL_CMD=("$CGRPO" pretrain --resume "$dir" --quiet)
              else REL_CMD=("$CGRPO" pretrain --out "$dir" "${REL_PRE[@]}" --quiet); fi ;;
    train) if [ ${#more[@]} -gt 0 ]; then REL_CMD=("$CGRPO" train --resume "$dir" --quiet)
           else REL_CMD=("$CGRPO" train --out "$dir" $REL_GRPO --quiet); fi ;;
    train-encoder) REL_CMD=("$CGRPO" train-encoder "${REL_ENC[@]}" --out "$dir" "${more[@]}") ;;
    esac
}
# rel_same KIND A B: the run directories A and B end with the same checkpoint and model, byte for byte
rel_same() {
    cmp -s "$2/ckpt.safetensors" "$3/ckpt.safetensors" && cmp -s "$2/model.safetensors" "$3/model.safetensors"
}
