// cmd_train_encoder.c: `cgrpo train-encoder`: train a reward or evaluator encoder (train/enc_train.h)
// on SubjectBench, with progress, JSONL metrics, atomic checkpoints and bit-exact resume.
//
// Settings are the keys of enc_train_config_keys plus the options out, export, stop-at and
// progress. They are resolved in this order, the later winning: the defaults of the kind; on
// --resume the run directory's stored config (RUN_DIR/config.cfg, or config.txt of an older run);
// an optional --config FILE of `key = value` lines (# comments, blank lines; '-' or '_' alike);
// the command line. The kind comes from the first of command line, file and stored config that
// names it.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/config.h"
#include "train/enc_train.h"

static const char *USAGE =
    "usage: cgrpo train-encoder --kind id|clip|attr --out RUN_DIR [options]\n"
    "Trains an encoder on SubjectBench renders (docs/rewards.md):\n"
    "  id    identity encoder: InfoNCE over two views of a subject (segmented reference or render vs render)\n"
    "  clip  image + text encoder: InfoNCE over (render, prompt) pairs\n"
    "  attr  classifier of scene, accessory, property and class\n"
    "Writes RUN_DIR/config.cfg (the resolved config), metrics.jsonl, ckpt.safetensors and, at the end,\n"
    "model.safetensors (the weights with the best validation score).\n"
    "  --config FILE        key = value lines with the options below (the command line wins)\n"
    "  --export PATH        also write the final weights to PATH (e.g. models/id.safetensors)\n"
    "  --resume             continue RUN_DIR/ckpt.safetensors with RUN_DIR/config.cfg (options given\n"
    "                       again must match it; ends bit-identical)\n"
    "  --stop-at STEP       stop after STEP with a checkpoint, as if interrupted\n"
    "  --progress on|off    live progress line on stderr (default: on when stderr is a terminal)\n"
    " data\n"
    "  --subjects-seed N    SubjectBench population (default 1)\n"
    "  --population P       reward (train subjects i %% 4 in {0,1}) | judge (i %% 4 in {2,3}) | all\n"
    "  --worlds K           train on that half of the TRAIN subjects of subjects seeds N .. N+K-1\n"
    "                       (more subjects to generalize from; those within 1 identity attribute of a\n"
    "                       VAL or TEST subject of seed N are left out; default 1)\n"
    "  --seed N             model init and data (default 1)\n"
    "  --noise X            pixel-noise augmentation, sigma ~ U(0, X) in [-1,1] units (default 0.05)\n"
    "  --property-views 0|1 id: property-edited renders as positive views (default 0)\n"
    "  --aux-heads 0|1      id: also learn the subject's identity attributes (body, main colour,\n"
    "                       pattern, second colour) with heads on the pooled feature; clip: the\n"
    "                       prompt's scene, accessory, property and class on the image tower (default 0)\n"
    "  --focus X            clip, attr: weight of accessory and property templates (default 1)\n"
    "  --aux-weight X       weight of those heads' cross-entropy (default 1)\n"
    "  --curriculum N       id: the share of target views in scenes grows from 1/4 to all over the\n"
    "                       first N steps (the rest in the plain studio); 0 = off (default)\n"
    "  --look-alikes K      id: batches hold groups of K subjects of one class (hard negatives);\n"
    "                       0 = subjects drawn uniformly (default)\n"
    "  --views V            id: views per subject; 2 = InfoNCE between them (default), more =\n"
    "                       supervised contrastive loss over all views\n"
    " optimization\n"
    "  --steps N --batch N --warmup N --lr X --lr-min X --weight-decay X --grad-clip X\n"
    "                       (defaults 1000, 32, 50, 1e-3, 5e-5, 1e-4, 1.0); batch = pairs for id and\n"
    "                       clip, images for attr\n"
    "  --eval-every N --ckpt-every N --log-every N --val-seeds N   (defaults 100, 100, 10, 1)\n"
    " model\n"
    "  --img N --patch N --width N --depth N --heads N --embed-dim N   image encoder (32 8 96 4 4 64)\n"
    "  --text-width N --text-depth N --text-heads N                      text encoder (64 2 4)\n";

typedef struct {
    EncTrainConfig c;
    const char *out, *export_path;
    int resume, progress;
    long stop_at;
} Opts;

// One setting, from where it was read (what: a path, or NULL for the command line).
typedef struct {
    char *key, *value;
    const char *what;
    int line;
} Setting;

typedef struct {
    Setting *s;
    int n, cap;
    const char *what;
} Settings;

static char *copy(const char *s) {
    const size_t n = strlen(s) + 1;
    return memcpy(cg_malloc(n), s, n);
}

static void settings_add(Settings *l, const char *key, const char *value, int line) {
    if (l->n == l->cap) l->s = cg_realloc(l->s, (size_t)(l->cap = l->cap ? 2 * l->cap : 64) * sizeof(Setting));
    l->s[l->n++] = (Setting){copy(key), copy(value), l->what, line};
}

static int collect(void *ctx, const char *key, const char *value, int line, char *err, size_t errlen) {
    if (!*value) return cg_errf(err, errlen, "%s has no value", key);
    settings_add(ctx, key, value, line);
    return 0;
}

static void settings_free(Settings *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i].key), free(l->s[i].value);
    free(l->s);
}

// The value of the last setting named key, or NULL.
static const char *settings_get(const Settings *l, const char *key) {
    const char *v = NULL;
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->s[i].key, key) == 0) v = l->s[i].value;
    return v;
}

// Apply one setting: a command-line option or a key of the table. Bad input exits 2 naming it.
static void apply(Opts *o, const ConfigKey *keys, int nk, const Setting *s) {
    const char *key = s->key, *v = s->value;
    char where[4300], flag[80], err[512];
    snprintf(flag, sizeof flag, "--%s", key);
    if (s->what) snprintf(where, sizeof where, "%s:%d: ", s->what, s->line);
    else snprintf(where, sizeof where, "train-encoder: %s: ", flag);
    if (strcmp(key, "out") == 0) o->out = v;
    else if (strcmp(key, "export") == 0) o->export_path = v;
    else if (strcmp(key, "stop-at") == 0 || strcmp(key, "stop_at") == 0) o->stop_at = cli_parse_long(flag, v, 1, LONG_MAX);
    else if (strcmp(key, "progress") == 0) {
        if (strcmp(v, "on") && strcmp(v, "off")) cg_usage("%s'%s' is neither on nor off", where, v);
        o->progress = strcmp(v, "on") == 0;
    } else if (!config_find(keys, nk, key)) {
        if (s->what) cg_usage("%sunknown setting '%s' (nearest: %s; see cgrpo train-encoder --help)", where, key,
                              config_nearest(keys, nk, key));
        cg_usage("train-encoder: unknown option '%s' (nearest: --%s; see --help)", flag, config_nearest(keys, nk, key));
    } else if (config_set(&o->c, keys, nk, key, v, err, sizeof err)) {
        cg_usage("%s%s", where, err);
    }
}

int cmd_train_encoder(int argc, char **argv) {
    int nk;
    const ConfigKey *keys = enc_train_config_keys(&nk);
    // the command line as settings; --help, --resume and --config apart
    Settings cmd = {0}, file = {0}, stored = {0};
    const char *config = NULL;
    int resume = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--resume") == 0) {
            resume = 1;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0) cg_usage("train-encoder: unexpected argument '%s' (see --help)", argv[i]);
        if (i + 1 >= argc) cg_usage("train-encoder: %s needs a value", argv[i]);
        if (strcmp(argv[i], "--config") == 0) config = argv[i + 1];
        else settings_add(&cmd, argv[i] + 2, argv[i + 1], 0);
        i++;
    }
    char err[4600];
    file.what = config;
    if (config && config_read_file_lines(config, collect, &file, err, sizeof err)) cg_usage("--config: %s", err);
    for (int i = 0; i < file.n; i++)
        if (strcmp(file.s[i].key, "config") == 0 || strcmp(file.s[i].key, "resume") == 0)
            cg_usage("%s:%d: '%s' belongs on the command line", config, file.s[i].line, file.s[i].key);
    const char *out = settings_get(&cmd, "out") ? settings_get(&cmd, "out") : settings_get(&file, "out");
    char stored_path[4300];
    if (resume && out) {
        const char *name = NULL;
        stored.what = stored_path;
        int rc = enc_train_read_run_config(out, collect, &stored, &name, err, sizeof err);
        if (rc < 0) cg_usage("train-encoder: cannot resume: %s", err);
        if (rc == 0) snprintf(stored_path, sizeof stored_path, "%s/%s", out, name);
        // none stored: the command line alone, checked against the checkpoint as ever
    }
    const char *kind_name = settings_get(&cmd, "kind");
    if (!kind_name) kind_name = settings_get(&file, "kind");
    if (!kind_name) kind_name = settings_get(&stored, "kind");
    if (!kind_name) cg_usage("train-encoder: --kind is required (id, clip or attr)");
    int kind = enc_kind_from_name(kind_name);
    if (kind < 0) cg_usage("--kind: '%s' is not id, clip or attr", kind_name);

    Opts o;
    memset(&o, 0, sizeof(o));
    enc_train_defaults(&o.c, (EncKind)kind);
    o.progress = isatty(STDERR_FILENO);
    o.resume = resume;
    const Settings *order[3] = {&stored, &file, &cmd};
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < order[j]->n; i++)
            if (strcmp(order[j]->s[i].key, "kind") != 0) apply(&o, keys, nk, &order[j]->s[i]);
    enc_train_config_derive(&o.c);
    if (!o.out) cg_usage("train-encoder: --out RUN_DIR is required");
    // checked before training, not after it: the file is written at the very end
    if (o.export_path) cli_check_file_dest("train-encoder: --export", o.export_path);

    if (enc_train_config_check(&o.c, err, sizeof(err))) cg_usage("train-encoder: %s", err);
    EncTrainOptions to = {o.resume, o.stop_at, o.progress, o.export_path,
                          cli_test_fault("train-encoder", 1u << FAULT_LOSS | 1u << FAULT_WEIGHT)};
    const CgStatus st = enc_train(&o.c, o.out, &to, err, sizeof(err));
    settings_free(&cmd), settings_free(&file), settings_free(&stored);
    return cli_finish(st, "train-encoder: ", err);
}
