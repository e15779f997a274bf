// cmd_train_encoder.c: `cgrpo train-encoder`: train a reward or evaluator encoder (train/enc_train.h)
// on SubjectBench, with progress, JSONL metrics, atomic checkpoints and bit-exact resume.
//
// Options come from an optional --config FILE of `key = value` lines (# comments, blank lines;
// keys are the long option names without "--") and then from the command line, which wins.
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "train/enc_train.h"

static const char *USAGE =
    "usage: cgrpo train-encoder --kind id|clip|attr --out RUN_DIR [options]\n"
    "Trains an encoder on SubjectBench renders (docs/rewards.md):\n"
    "  id    identity encoder: InfoNCE over two views of a subject (segmented reference or render vs render)\n"
    "  clip  image + text encoder: InfoNCE over (render, prompt) pairs\n"
    "  attr  classifier of scene, accessory, property and class\n"
    "Writes RUN_DIR/config.txt, metrics.jsonl, ckpt.safetensors and, at the end, model.safetensors\n"
    "(the weights with the best validation score).\n"
    "  --config FILE        key = value lines with the options below (the command line wins)\n"
    "  --export PATH        also write the final weights to PATH (e.g. models/id.safetensors)\n"
    "  --resume             continue RUN_DIR/ckpt.safetensors (same config; ends bit-identical)\n"
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

// Apply one option (name without "--"); returns 0, or -1 when the name is unknown.
static int apply(Opts *o, const char *key, const char *v) {
    EncTrainConfig *c = &o->c;
    char flag[80];
    snprintf(flag, sizeof(flag), "--%s", key);
    if (strcmp(key, "out") == 0) o->out = v;
    else if (strcmp(key, "export") == 0) o->export_path = v;
    else if (strcmp(key, "stop-at") == 0) o->stop_at = cli_parse_long(flag, v, 1, LONG_MAX);
    else if (strcmp(key, "progress") == 0) {
        if (strcmp(v, "on") && strcmp(v, "off")) cg_usage("--progress: '%s' is neither on nor off", v);
        o->progress = strcmp(v, "on") == 0;
    } else if (strcmp(key, "subjects-seed") == 0) c->subjects_seed = (uint64_t)cli_parse_long(flag, v, 0, LONG_MAX);
    else if (strcmp(key, "population") == 0) {
        int p = enc_population_from_name(v);
        if (p < 0) cg_usage("--population: '%s' is not reward, judge or all", v);
        c->population = (EncPopulation)p;
    } else if (strcmp(key, "seed") == 0) c->seed = (uint64_t)cli_parse_long(flag, v, 0, LONG_MAX);
    else if (strcmp(key, "noise") == 0) c->noise = (float)cli_parse_double(flag, v, 0, 1);
    else if (strcmp(key, "property-views") == 0) c->property_views = (int)cli_parse_long(flag, v, 0, 1);
    else if (strcmp(key, "aux-heads") == 0) {
        c->aux_heads = (int)cli_parse_long(flag, v, 0, 1);
        if (c->kind != ENC_ATTR) { // attr: refused by the config check
            c->vit.n_cls_heads = c->aux_heads ? (c->kind == ENC_ID ? ID_AUX_N_HEADS : ATTR_N_HEADS) : 0;
            for (int h = 0; h < c->vit.n_cls_heads; h++)
                c->vit.n_classes[h] = c->kind == ENC_ID ? id_aux_n_classes(h) : attr_n_classes(h);
        }
    } else if (strcmp(key, "aux-weight") == 0) c->aux_weight = (float)cli_parse_double(flag, v, 0, 100);
    else if (strcmp(key, "curriculum") == 0) c->curriculum = cli_parse_long(flag, v, 0, INT_MAX);
    else if (strcmp(key, "worlds") == 0) c->worlds = (int)cli_parse_long(flag, v, 1, ENC_MAX_WORLDS);
    else if (strcmp(key, "look-alikes") == 0) c->look_alikes = (int)cli_parse_long(flag, v, 0, 4096);
    else if (strcmp(key, "views") == 0) c->views = (int)cli_parse_long(flag, v, 2, 16);
    else if (strcmp(key, "focus") == 0) c->focus = (float)cli_parse_double(flag, v, 0.01, 100);
    else if (strcmp(key, "steps") == 0) c->steps = cli_parse_long(flag, v, 1, INT_MAX);
    else if (strcmp(key, "batch") == 0) c->batch = (int)cli_parse_long(flag, v, 2, 4096);
    else if (strcmp(key, "warmup") == 0) c->warmup = (int)cli_parse_long(flag, v, 0, INT_MAX);
    else if (strcmp(key, "lr") == 0) c->lr = (float)cli_parse_double(flag, v, 1e-8, 1);
    else if (strcmp(key, "lr-min") == 0) c->lr_min = (float)cli_parse_double(flag, v, 0, 1);
    else if (strcmp(key, "weight-decay") == 0) c->weight_decay = (float)cli_parse_double(flag, v, 0, 10);
    else if (strcmp(key, "grad-clip") == 0) c->grad_clip = (float)cli_parse_double(flag, v, 1e-6, 1e6);
    else if (strcmp(key, "eval-every") == 0) c->eval_every = (int)cli_parse_long(flag, v, 1, INT_MAX);
    else if (strcmp(key, "ckpt-every") == 0) c->ckpt_every = (int)cli_parse_long(flag, v, 1, INT_MAX);
    else if (strcmp(key, "log-every") == 0) c->log_every = (int)cli_parse_long(flag, v, 1, INT_MAX);
    else if (strcmp(key, "val-seeds") == 0) c->val_seeds = (int)cli_parse_long(flag, v, 1, 16);
    else if (strcmp(key, "img") == 0) c->vit.img = (int)cli_parse_long(flag, v, 8, 256);
    else if (strcmp(key, "patch") == 0) c->vit.patch = (int)cli_parse_long(flag, v, 1, 64);
    else if (strcmp(key, "width") == 0) c->vit.width = (int)cli_parse_long(flag, v, 4, 1024);
    else if (strcmp(key, "depth") == 0) c->vit.depth = (int)cli_parse_long(flag, v, 0, 24);
    else if (strcmp(key, "heads") == 0) c->vit.n_heads = (int)cli_parse_long(flag, v, 1, 64);
    else if (strcmp(key, "embed-dim") == 0) c->vit.embed_dim = c->text.embed_dim = (int)cli_parse_long(flag, v, 2, 1024);
    else if (strcmp(key, "text-width") == 0) c->text.width = (int)cli_parse_long(flag, v, 4, 1024);
    else if (strcmp(key, "text-depth") == 0) c->text.depth = (int)cli_parse_long(flag, v, 0, 24);
    else if (strcmp(key, "text-heads") == 0) c->text.n_heads = (int)cli_parse_long(flag, v, 1, 64);
    else return -1;
    return 0;
}

// key = value pairs of a config file (strings owned by the caller's buffer `text`)
typedef struct {
    char *keys[128], *values[128];
    int lines[128];
    int n;
} KeyValues;

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static char *read_config(const char *path, KeyValues *kv) {
    FILE *f = fopen(path, "rb");
    if (!f) cg_usage("--config: cannot open %s", path);
    char *text = NULL;
    size_t n = 0, cap = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF) {
        if (n + 2 > cap) text = cg_realloc(text, cap = cap ? 2 * cap : 4096);
        text[n++] = (char)ch;
        if (n > (1 << 20)) cg_usage("--config: %s is larger than 1 MiB", path);
    }
    fclose(f);
    text = cg_realloc(text, n + 1);
    text[n] = '\0';
    kv->n = 0;
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) cg_usage("%s:%d: expected 'key = value', got '%s'", path, lineno, s);
        *eq = '\0';
        if (kv->n == 128) cg_usage("%s: more than 128 settings", path);
        kv->keys[kv->n] = trim(s), kv->values[kv->n] = trim(eq + 1), kv->lines[kv->n] = lineno;
        if (!*kv->keys[kv->n] || !*kv->values[kv->n]) cg_usage("%s:%d: empty key or value", path, lineno);
        kv->n++;
    }
    return text;
}

int cmd_train_encoder(int argc, char **argv) {
    // pass 1: --help, --config and --kind (which picks the defaults)
    const char *config = NULL, *kind_name = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--resume") == 0) continue;
        if (strncmp(argv[i], "--", 2) != 0) cg_usage("train-encoder: unexpected argument '%s' (see --help)", argv[i]);
        if (i + 1 >= argc) cg_usage("train-encoder: %s needs a value", argv[i]);
        if (strcmp(argv[i], "--config") == 0) config = argv[i + 1];
        if (strcmp(argv[i], "--kind") == 0) kind_name = argv[i + 1];
        i++;
    }
    KeyValues kv = {0};
    char *text = config ? read_config(config, &kv) : NULL;
    for (int i = 0; i < kv.n && !kind_name; i++)
        if (strcmp(kv.keys[i], "kind") == 0) kind_name = kv.values[i];
    if (!kind_name) cg_usage("train-encoder: --kind is required (id, clip or attr)");
    int kind = enc_kind_from_name(kind_name);
    if (kind < 0) cg_usage("--kind: '%s' is not id, clip or attr", kind_name);

    Opts o;
    memset(&o, 0, sizeof(o));
    enc_train_defaults(&o.c, (EncKind)kind);
    o.progress = isatty(STDERR_FILENO);
    // pass 2: the file, then the command line
    for (int i = 0; i < kv.n; i++) {
        if (strcmp(kv.keys[i], "kind") == 0) continue;
        if (strcmp(kv.keys[i], "config") == 0 || strcmp(kv.keys[i], "resume") == 0)
            cg_usage("%s:%d: '%s' belongs on the command line", config, kv.lines[i], kv.keys[i]);
        if (apply(&o, kv.keys[i], kv.values[i]))
            cg_usage("%s:%d: unknown setting '%s' (see cgrpo train-encoder --help)", config, kv.lines[i], kv.keys[i]);
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0) {
            o.resume = 1;
            continue;
        }
        const char *key = argv[i] + 2, *v = argv[++i];
        if (strcmp(key, "config") == 0 || strcmp(key, "kind") == 0) continue;
        if (apply(&o, key, v)) cg_usage("train-encoder: unknown option '--%s' (see --help)", key);
    }
    if (!o.out) cg_usage("train-encoder: --out RUN_DIR is required");
    // checked before training, not after it: the file is written at the very end
    if (o.export_path) cli_check_file_dest("train-encoder: --export", o.export_path);

    char err[512];
    if (enc_train_config_check(&o.c, err, sizeof(err))) cg_usage("train-encoder: %s", err);
    EncTrainOptions to = {o.resume, o.stop_at, o.progress, o.export_path};
    int rc = enc_train(&o.c, o.out, &to, err, sizeof(err));
    free(text);
    if (rc) {
        fprintf(stderr, "cgrpo: train-encoder: %s\n", err);
        return rc == -2 ? CG_EXIT_USAGE : CG_EXIT_RUNTIME;
    }
    return 0;
}
