# cli_train_encoder.sh: `cgrpo train-encoder` end to end on tiny models: the run directory's files,
# an interrupted run resumed from its checkpoint ending bit-identical to an uninterrupted one (cmp),
# also from the stored config alone and from a run directory of the older layout (config.txt),
# config files, and one-line exit-2 errors for bad input.
source "$(dirname "$0")/lib_cli.sh"

TINY=(--width 16 --depth 1 --heads 2 --embed-dim 8 --text-width 16 --text-depth 1 --text-heads 2
      --batch 4 --steps 6 --warmup 2 --eval-every 3 --ckpt-every 2 --log-every 1 --progress off)

check "id: 6 steps" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/a" --export "$TMP/a_export.safetensors"
for f in config.cfg metrics.jsonl ckpt.safetensors model.safetensors; do
    [ -s "$TMP/a/$f" ] && pass "run dir has $f" || fail "run dir has $f" "missing"
done
cmp -s "$TMP/a/model.safetensors" "$TMP/a_export.safetensors" && pass "--export writes the model" ||
    fail "--export" "differs from run_dir/model.safetensors"
check_exit 2 "--export into a missing directory" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/noexp" \
    --export "$TMP/no/such/dir/id.safetensors"
grep -q "directory .*no/such/dir does not exist" "$TMP/err" && [ ! -e "$TMP/noexp/metrics.jsonl" ] &&
    pass "--export into a missing directory: refused before training" || fail "--export missing dir" "$(head -c 300 "$TMP/err")"
check_exit 2 "--export naming a directory" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/noexp" --export "$TMP/"
grep -q "names a directory, not a file" "$TMP/err" && [ ! -e "$TMP/noexp/metrics.jsonl" ] &&
    pass "--export naming a directory: refused before training" || fail "--export dir" "$(head -c 300 "$TMP/err")"
n=$(grep -c '"loss"' "$TMP/a/metrics.jsonl"); v=$(grep -c '"val_metric":"id_top1_ctx"' "$TMP/a/metrics.jsonl")
[ "$n" -eq 6 ] && [ "$v" -eq 2 ] && pass "metrics: 6 step lines, 2 validation lines" ||
    fail "metrics lines" "$n step lines, $v validation lines"
grep -q '^kind = id ' "$TMP/a/config.cfg" && grep -q '^population = reward ' "$TMP/a/config.cfg" &&
    grep -q '^width = 16 ' "$TMP/a/config.cfg" && pass "config.cfg records the run" ||
    fail "config.cfg" "$(head -c 300 "$TMP/a/config.cfg")"

# interrupted after step 3, resumed: the same bytes as the uninterrupted run
check "id: stop at step 3" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/b" --stop-at 3
[ ! -e "$TMP/b/model.safetensors" ] && pass "no model before the end" || fail "stopped run" "wrote a model"
check "id: resume" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/b" --resume
cmp "$TMP/a/model.safetensors" "$TMP/b/model.safetensors" >"$TMP/cmp" 2>&1 && pass "resumed model bit-identical" ||
    fail "resumed model" "$(cat "$TMP/cmp")"
cmp "$TMP/a/ckpt.safetensors" "$TMP/b/ckpt.safetensors" >"$TMP/cmp" 2>&1 && pass "resumed checkpoint bit-identical" ||
    fail "resumed checkpoint" "$(cat "$TMP/cmp")"
strip() { sed -E 's/,"img_per_s":[0-9.]+//' "$1"; }
[ "$(strip "$TMP/a/metrics.jsonl")" = "$(strip "$TMP/b/metrics.jsonl")" ] && pass "resumed metrics equal (but speed)" ||
    fail "resumed metrics" "differ"

# a resume needs no more than the run directory: its config.cfg holds the settings
check "id: stop at step 3 (2)" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/b2" --stop-at 3
check "id: resume from config.cfg" "$CGRPO" train-encoder --out "$TMP/b2" --resume --progress off
cmp -s "$TMP/a/model.safetensors" "$TMP/b2/model.safetensors" && pass "resumed from config.cfg: model bit-identical" ||
    fail "resume from config.cfg" "models differ"

# a run directory of the older layout (before config.cfg): config.txt, the checkpoint's key names;
# resumed from it alone, it ends as the uninterrupted run and gains a config.cfg
check "id: stop at step 3 (old layout)" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/old" --stop-at 3
rm "$TMP/old/config.cfg"
cat >"$TMP/old/config.txt" <<'EOF'
kind=encoder-id
vit.img=32
vit.patch=8
vit.width=16
vit.depth=1
vit.heads=2
vit.embed_dim=8
vit.logit_scale=1
vit.classes=
train.subjects_seed=1
train.population=reward
train.seed=1
train.steps=6
train.batch=4
train.warmup=2
train.lr=0.00100000005
train.lr_min=4.99999987e-05
train.weight_decay=9.99999975e-05
train.grad_clip=1
train.noise=0.0500000007
train.property_views=0
train.aux_heads=0
train.aux_weight=1
train.curriculum=0
train.views=2
train.focus=1
train.eval_every=3
train.ckpt_every=2
train.log_every=1
train.val_seeds=1
EOF
check "id: resume from config.txt" "$CGRPO" train-encoder --out "$TMP/old" --resume --progress off
cmp -s "$TMP/a/model.safetensors" "$TMP/old/model.safetensors" && cmp -s "$TMP/a/ckpt.safetensors" "$TMP/old/ckpt.safetensors" &&
    pass "resumed from config.txt: model and checkpoint bit-identical" || fail "resume from config.txt" "files differ"
# (the text tower's keys, which an id run does not use, are absent from config.txt: defaults there)
[ -s "$TMP/old/config.cfg" ] && [ "$(grep -v '^text_' "$TMP/a/config.cfg")" = "$(grep -v '^text_' "$TMP/old/config.cfg")" ] &&
    pass "the old run directory gains config.cfg" || fail "config.cfg after an old-layout resume" "$(ls "$TMP/old")"

# the OpenBLAS kernel set is recorded in the checkpoint, not in the model; a resume on another set warns
grep -q "^blas.core = ." <("$CGRPO" inspect "$TMP/a/ckpt.safetensors") && pass "checkpoint records the kernel set" ||
    fail "checkpoint kernel set" "no blas.core"
grep -q "blas.core" <("$CGRPO" inspect "$TMP/a/model.safetensors") && fail "model file" "records the kernel set" ||
    pass "model file does not record the kernel set"
if other_kernels; then
    check "stop at 3 on Prescott kernels" env OPENBLAS_CORETYPE=Prescott "$CGRPO" train-encoder --kind id "${TINY[@]}" \
        --out "$TMP/k" --stop-at 3
    check "resume on Core2 kernels" env OPENBLAS_CORETYPE=Core2 "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/k" --resume
    [ "$(grep -c warning "$TMP/err")" -eq 1 ] && grep -q "^train-encoder: $KERNEL_WARNING" "$TMP/err" &&
        [ -s "$TMP/k/model.safetensors" ] && pass "a resume on other kernels warns once and finishes" ||
        fail "other-kernel resume" "$(head -c 400 "$TMP/err")"
else
    echo "skip kernel-set resume (OPENBLAS_CORETYPE cannot select Prescott and Core2 here)"
fi

# the same for the clip and attr recipes (identity-attribute heads on the id one)
for kind in clip attr; do
    check "$kind: 6 steps" "$CGRPO" train-encoder --kind $kind "${TINY[@]}" --out "$TMP/$kind.a"
    check "$kind: stop at 4" "$CGRPO" train-encoder --kind $kind "${TINY[@]}" --out "$TMP/$kind.b" --stop-at 4
    check "$kind: resume" "$CGRPO" train-encoder --kind $kind "${TINY[@]}" --out "$TMP/$kind.b" --resume
    cmp -s "$TMP/$kind.a/model.safetensors" "$TMP/$kind.b/model.safetensors" && pass "$kind: resume bit-identical" ||
        fail "$kind: resume" "models differ"
done
check "id with identity heads" "$CGRPO" train-encoder --kind id --aux-heads 1 "${TINY[@]}" --steps 2 --out "$TMP/aux"
grep -q '"acc_main"' "$TMP/aux/metrics.jsonl" && pass "identity heads logged" || fail "identity heads" "no acc_main"

# a config file gives the same run as the flags; the command line wins over the file
cat >"$TMP/tiny.cfg" <<'EOF'
# tiny id recipe
kind = id
width = 16
depth = 1
heads = 2
embed-dim = 8
batch = 4
steps = 6
warmup = 2
eval-every = 3     # validation
ckpt-every = 2
log-every = 1
lr = 0.5           # overridden on the command line
EOF
check "--config" "$CGRPO" train-encoder --config "$TMP/tiny.cfg" --lr 0.001 --progress off --out "$TMP/c"
cmp -s "$TMP/a/model.safetensors" "$TMP/c/model.safetensors" && pass "config file = flags" || fail "config file" "model differs"

# bad input: one line on stderr, exit 2
check_exit 2 "resume with another config" "$CGRPO" train-encoder --kind id "${TINY[@]}" --lr 0.002 --out "$TMP/b" --resume
grep -q "train.lr" "$TMP/err" && pass "mismatch names the key" || fail "mismatch message" "$(cat "$TMP/err")"
check_exit 2 "resume without checkpoint" "$CGRPO" train-encoder --kind id "${TINY[@]}" --out "$TMP/none" --resume
check_exit 2 "unknown kind" "$CGRPO" train-encoder --kind dino --out "$TMP/x"
check_exit 2 "no kind" "$CGRPO" train-encoder --out "$TMP/x"
check_exit 2 "no --out" "$CGRPO" train-encoder --kind id
check_exit 2 "unknown option" "$CGRPO" train-encoder --kind id --out "$TMP/x" --widht 3
check_exit 2 "bad number" "$CGRPO" train-encoder --kind id --out "$TMP/x" --steps 1e3
check_exit 2 "width not a multiple of heads" "$CGRPO" train-encoder --kind id --out "$TMP/x" --width 30 --heads 4
check_exit 2 "identity heads on attr" "$CGRPO" train-encoder --kind attr --aux-heads 1 --out "$TMP/x"
echo "widht = 3" >"$TMP/bad.cfg"
check_exit 2 "unknown config key" "$CGRPO" train-encoder --kind id --config "$TMP/bad.cfg" --out "$TMP/x"
check_exit 2 "missing config file" "$CGRPO" train-encoder --kind id --config "$TMP/nope.cfg" --out "$TMP/x"
check "help" "$CGRPO" train-encoder --help
grep -q -- "--resume" "$TMP/out" && pass "help lists --resume" || fail "help" "no --resume"

cli_summary cli_train_encoder
