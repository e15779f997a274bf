# cli_mpi.sh: data-parallel `cgrpo train` under mpirun (issue 20) on tiny models made here. The MPI
# build (make MPI=1: build-mpi/cgrpo, or $CGRPO_MPI) with 2, 3 and 4 ranks must give the checkpoint,
# the model and the metrics of one process bit for bit (grad_order = groups), including a rank that
# owns no group; a rank killed by SIGKILL ends the job with mpirun's message and the last checkpoint
# intact, and --resume under mpirun ends equal to the uninterrupted run; bad input stops every rank
# with one message and exit 2; a LoRA run on 2 ranks equals one process; `cgrpo eval` under mpirun
# writes the files of one process. Without an MPI build (make test alone) it checks nothing and says
# so, unless CGRPO_MPI_REQUIRED=1 (scripts/test.sh), where a missing build fails. `cgrpo pretrain`
# under mpirun stays within 1e-5 of one process and resumes bit for bit.
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1
root=$(cd "$(dirname "$0")/.." && pwd)
MPI_BIN=${CGRPO_MPI:-$root/build-mpi/cgrpo}
if [ ! -x "$MPI_BIN" ] || ! command -v mpirun >/dev/null; then
    if [ "${CGRPO_MPI_REQUIRED:-0}" = 1 ]; then fail "MPI build" "no $MPI_BIN or no mpirun (make MPI=1; apt-get install openmpi-bin)"
    else echo "cli_mpi: no MPI build ($MPI_BIN) or no mpirun: nothing checked"; fi
    cli_summary cli_mpi
    exit $?
fi
# containers: no ptrace-based single copy between ranks; root is allowed; more ranks than cores
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { # NP ARGS...: the MPI build under mpirun
    local np=$1; shift
    timeout 120 mpirun --allow-run-as-root -np "$np" "$MPI_BIN" "$@"
}
# the same tensors (the safetensors headers may differ only in metadata)
same_tensors() {
    python3 - "$1" "$2" <<'EOF'
import json, struct, sys
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: d[v['data_offsets'][0]:v['data_offsets'][1]] for k, v in h.items() if k != '__metadata__'}
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a.keys() == b.keys() and all(a[k] == b[k] for k in a) else 1)
EOF
}
# metrics.jsonl without the timings
metrics_of() { python3 -c "
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l); print(json.dumps({k: v for k, v in d.items() if not k.startswith('t_') and k != 'elapsed_s'}, sort_keys=True))" "$1"; }

M=$TMP/models
tiny_grpo_models "$M"
# 3 groups over 2 ranks (one owns two), 2 epochs of 2-group optimizer steps, a KL reference, samples
# and the gradient-cosine diagnostic: every collective of the trainer
TINY="--model $M/base.safetensors --rewards-dir $M --iterations 3 --pairs 3 --group-size 3 --steps 4 --lr 1e-3
      --inner-epochs 2 --groups-per-step 2 --kl-beta 0.5 --ckpt-every 1 --sample-every 2 --cos-every 1 --quiet"

# ---- np N equals one process ------------------------------------------------------------------------------
check "one process, grad_order groups" "$MPI_BIN" train --out "$TMP/np1" $TINY --grad-order groups
for np in 2 3 4; do
    check "mpirun -np $np" mpi $np train --out "$TMP/np$np" $TINY
    same_tensors "$TMP/np1/ckpt.safetensors" "$TMP/np$np/ckpt.safetensors" && pass "np $np checkpoint = one process" ||
        fail "np $np checkpoint" "tensors differ from the single-process run"
    cmp -s "$TMP/np1/model.safetensors" "$TMP/np$np/model.safetensors" && pass "np $np model file = one process (cmp)" ||
        fail "np $np model" "model.safetensors differs"
    [ "$(metrics_of "$TMP/np1/metrics.jsonl")" = "$(metrics_of "$TMP/np$np/metrics.jsonl")" ] &&
        pass "np $np metrics = one process" || fail "np $np metrics" "metrics.jsonl differs"
done
grep -q "^grad_order = groups " "$TMP/np2/config.cfg" && pass "np 2 records grad_order = groups" ||
    fail "np 2 config" "$(grep grad_order "$TMP/np2/config.cfg")"
ls "$TMP/np2/samples/iter_000002.png" >/dev/null 2>&1 && pass "rank 0 writes the sample grids" || fail "np 2 samples" "none"
# the default order in one process is the published one, and the MPI-free build agrees with the MPI build
check "MPI-free build, grad_order groups" "$CGRPO" train --out "$TMP/plain" $TINY --grad-order groups
same_tensors "$TMP/np1/ckpt.safetensors" "$TMP/plain/ckpt.safetensors" && pass "MPI build = MPI-free build" ||
    fail "MPI vs MPI-free build" "tensors differ"

# ---- LoRA: the gradients summed over the ranks are the adapters' -------------------------------------------
check "LoRA, one process, grad_order groups" "$MPI_BIN" train --out "$TMP/lora1" $TINY --lora-rank 2 --grad-order groups
check "LoRA, mpirun -np 2" mpi 2 train --out "$TMP/lora2" $TINY --lora-rank 2
for f in ckpt.safetensors lora.safetensors model.safetensors; do
    same_tensors "$TMP/lora1/$f" "$TMP/lora2/$f" && pass "LoRA np 2 $f = one process" || fail "LoRA np 2 $f" "tensors differ"
done
[ "$(metrics_of "$TMP/lora1/metrics.jsonl")" = "$(metrics_of "$TMP/lora2/metrics.jsonl")" ] &&
    pass "LoRA np 2 metrics = one process" || fail "LoRA np 2 metrics" "metrics.jsonl differs"

# ---- a killed rank, and resume under mpirun ------------------------------------------------------------------
CGRPO_TEST_KILL_AT_ITER=2 CGRPO_TEST_KILL_RANK=1 mpi 2 train --out "$TMP/killed" $TINY >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -ne 0 ] && grep -q "rank 1" "$TMP/err" && pass "a killed rank ends the job (exit $rc, mpirun names rank 1)" ||
    fail "killed rank" "exit $rc: $(head -c 300 "$TMP/err")"
[ "$(wc -l <"$TMP/killed/metrics.jsonl")" -eq 1 ] && "$CGRPO" inspect "$TMP/killed/ckpt.safetensors" >"$TMP/out" 2>&1 &&
    grep -q "iteration = 1" "$TMP/out" && pass "the last good checkpoint (iteration 1) is intact" ||
    fail "checkpoint after the kill" "$(head -c 300 "$TMP/out")"
check "mpirun -np 2 --resume" mpi 2 train --resume "$TMP/killed" --quiet
same_tensors "$TMP/np1/ckpt.safetensors" "$TMP/killed/ckpt.safetensors" && pass "resumed run = uninterrupted run" ||
    fail "resume under MPI" "tensors differ"
[ "$(metrics_of "$TMP/np1/metrics.jsonl")" = "$(metrics_of "$TMP/killed/metrics.jsonl")" ] &&
    pass "resumed metrics = uninterrupted metrics" || fail "resumed metrics" "metrics.jsonl differs"

# ---- bad input stops every rank with one message ------------------------------------------------------------
mpi 2 train --out "$TMP/bad" $TINY --model "$TMP/nonexistent.safetensors" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && [ "$(grep -c "cannot open" "$TMP/err")" -ge 1 ] && pass "a missing model: exit 2 and its message" ||
    fail "missing model under mpirun" "exit $rc: $(head -c 300 "$TMP/err")"
check "one-process run (grad_order steps)" "$CGRPO" train --out "$TMP/steps" $TINY --iterations 1
mpi 2 train --resume "$TMP/steps" --iterations 2 --quiet >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && [ "$(grep -c "cfg.grad_order=steps" "$TMP/err")" -eq 1 ] &&
    pass "resuming a grad_order steps run on 2 ranks: exit 2, one message" ||
    fail "steps run under mpirun" "exit $rc: $(head -c 300 "$TMP/err")"
mpi 2 inspect "$M/base.safetensors" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && grep -q "only \`cgrpo pretrain\`, \`cgrpo train\` and \`cgrpo eval\` split" "$TMP/err" &&
    pass "other commands refuse mpirun -np 2" || fail "inspect under mpirun" "exit $rc: $(head -c 300 "$TMP/err")"

# ---- cgrpo pretrain: the ranks split every batch; within float rounding of one process -----------------------
# the largest |difference| of any tensor (weights, EMA, AdamW moments) of two checkpoints
max_diff() {
    python3 - "$1" "$2" <<'EOF'
import array, json, struct, sys
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: array.array('f', d[v['data_offsets'][0]:v['data_offsets'][1]]) for k, v in h.items() if k != '__metadata__'}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys()
print(max(abs(x - y) for k in a for x, y in zip(a[k], b[k])))
EOF
}
PRE="--steps 6 --img 16 --width 16 --depth 1 --heads 2 --tdim 16 --batch 4 --val-samples 2 --ckpt-every 2 --lr 1e-3
     --warmup 0 --quiet"
check "pretrain, one process" "$MPI_BIN" pretrain --out "$TMP/pre1" $PRE
check "pretrain, MPI-free build" "$CGRPO" pretrain --out "$TMP/pre0" $PRE
same_tensors "$TMP/pre0/ckpt.safetensors" "$TMP/pre1/ckpt.safetensors" && pass "pretrain: MPI build, one rank = MPI-free build" ||
    fail "pretrain one rank" "tensors differ"
for np in 2 3; do # 4 rows over 3 ranks: blocks of 2, 1, 1
    check "pretrain, mpirun -np $np" mpi $np pretrain --out "$TMP/pre$np" $PRE
    d=$(max_diff "$TMP/pre1/ckpt.safetensors" "$TMP/pre$np/ckpt.safetensors")
    python3 -c "import sys; sys.exit(0 if float('$d') <= 1e-5 else 1)" && pass "pretrain np $np within 1e-5 of one process ($d)" ||
        fail "pretrain np $np" "max |difference| $d"
done
check "pretrain np 2, stopped at step 3" mpi 2 pretrain --out "$TMP/pre2s" $PRE --stop-at 3
check "pretrain np 2, resumed" mpi 2 pretrain --resume "$TMP/pre2s" --quiet
cmp -s "$TMP/pre2/ckpt.safetensors" "$TMP/pre2s/ckpt.safetensors" && pass "pretrain np 2 resume = uninterrupted np 2 (cmp)" ||
    fail "pretrain resume under MPI" "checkpoints differ"

# ---- cgrpo eval: the ranks split the subjects, the files are the same --------------------------------------
EV="--model $root/models/base.safetensors --models $root/models --split val --subjects 3 --prompts 0,20 --steps 4 --quiet"
check "eval, one process" "$MPI_BIN" eval --out "$TMP/ev1" $EV
for np in 2 4; do # 4 ranks for 3 subjects: one rank evaluates none
    check "eval, mpirun -np $np" mpi $np eval --out "$TMP/ev$np" $EV
    cmp -s "$TMP/ev1/images.jsonl" "$TMP/ev$np/images.jsonl" && cmp -s "$TMP/ev1/results.json" "$TMP/ev$np/results.json" &&
        cmp -s "$TMP/ev1/grid_all.png" "$TMP/ev$np/grid_all.png" && pass "eval np $np: images.jsonl, results.json, grid (cmp)" ||
        fail "eval np $np" "outputs differ from one process"
done

cli_summary cli_mpi
