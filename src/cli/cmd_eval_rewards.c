// cmd_eval_rewards.c: `cgrpo eval-rewards`: how good are the shipped reward and judge models, on
// ground-truth renders of subjects no model trained on (eval/reward_metrics.h). Prints a table
// with the thresholds and writes the numbers as JSON. With --worlds K it measures the test
// subjects of K subjects worlds, each world on its own (retrieval among that world's subjects),
// and gates the mean over the worlds.
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/timer.h"
#include "eval/reward_metrics.h"
#include "models/encoder.h"
#include "train/enc_data.h"

static const char *USAGE =
    "usage: cgrpo eval-rewards --out FILE.json [options]\n"
    "Measures the reward and judge models of a models directory on ground-truth renders of one split\n"
    "(every subject x 25 prompts x K render seeds): identity retrieval and ordering (id, judge-id,\n"
    "CLIP-I), prompt retrieval and ordering (prompt, CLIP-T), attribute accuracy (attr).\n"
    "  --models DIR         weights directory (default models); missing files are skipped\n"
    "  --subjects-seed N    SubjectBench population (default 1)\n"
    "  --worlds K           measure populations N..N+K-1 one by one and report their mean (default 1)\n"
    "  --split S            test (default) | val | train\n"
    "  --seeds K            render seeds per (subject, prompt) (default 4)\n"
    "  --out FILE.json      where the numbers go\n";

typedef struct {
    const char *models, *out;
    long subjects_seed, seeds, worlds;
    int split;
} Opts;

static void parse_opts(Opts *o, int argc, char **argv) {
    *o = (Opts){"models", NULL, WORLD_DEFAULT_SUBJECTS_SEED, 4, 1, SPLIT_TEST};
    const CliOpt opts[] = {
        CLI_S("--models", &o->models), CLI_S("--out", &o->out),
        CLI_L("--subjects-seed", &o->subjects_seed, 0, LONG_MAX), CLI_L("--seeds", &o->seeds, 1, 16),
        CLI_L("--worlds", &o->worlds, 1, 1000),
        CLI_FN("--split", cli_parse_split, &o->split),
    };
    const CliCommand cmd = {.name = "eval-rewards", .usage = USAGE, .unknown_hint = " (see --help)"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!o->out) cg_usage("eval-rewards: --out FILE.json is required");
    cli_check_file_dest("eval-rewards: --out", o->out); // before measuring: the file is written at the end
    if (o->subjects_seed > LONG_MAX - o->worlds) cg_usage("--subjects-seed %ld + --worlds %ld overflows", o->subjects_seed, o->worlds);
}

// one table row; threshold < 0: none
static void row(const char *model, const char *metric, double v, double threshold, int *n_fail) {
    const char *verdict = "";
    if (threshold >= 0) {
        verdict = v >= threshold ? "ok" : "BELOW";
        if (v < threshold) (*n_fail)++;
    }
    if (threshold >= 0) printf("  %-14s %-52s %8.4f   >= %.2f %s\n", model, metric, v, threshold, verdict);
    else printf("  %-14s %-52s %8.4f\n", model, metric, v);
}

// The named fields of a metrics struct (eval/reward_metrics.h) as a JSON object, in their order.
static cJSON *fields_json(const RmFields *fs, const void *r) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < fs->n; i++) {
        const RmField *f = &fs->f[i];
        const char *p = (const char *)r + f->offset;
        if (f->name) cJSON_AddNumberToObject(o, f->name, f->count ? (double)*(const long *)p : *(const double *)p);
    }
    return o;
}

static void identity_rows(const char *name, const char *what, const RmIdentity *r, int gated, int *n_fail) {
    char m[96];
    snprintf(m, sizeof(m), "identity top-1 vs %s, scene+accessory", what);
    row(name, m, r->top1_ctx, gated ? 0.95 : -1, n_fail);
    row(name, "  scene prompts", r->top1_kind[PROMPT_SCENE], -1, n_fail);
    row(name, "  accessory prompts", r->top1_kind[PROMPT_ACCESSORY], -1, n_fail);
    snprintf(m, sizeof(m), "identity top-1 vs %s, property edits", what);
    row(name, m, r->top1_prop, -1, n_fail);
    snprintf(m, sizeof(m), "true subject > other subject, same scene (pairs)");
    row(name, m, r->order_ctx, gated ? 0.95 : -1, n_fail);
    printf("  %-14s %-52s %8.2f +- %.2f (others %.2f, property edits %.2f)\n", name, "score of the true reference",
           r->mean_true, r->std_true, r->mean_other, r->mean_true_prop);
}

static void prompt_rows(const char *name, const RmPrompt *r, int *n_fail) {
    row(name, "prompt top-1 among the subject's 25 prompts", r->top1_all, 0.90, n_fail);
    row(name, "  scene prompts", r->top1_kind[PROMPT_SCENE], -1, n_fail);
    row(name, "  accessory prompts", r->top1_kind[PROMPT_ACCESSORY], -1, n_fail);
    row(name, "  property prompts", r->top1_kind[PROMPT_PROPERTY], -1, n_fail);
    row(name, "true render > render of another prompt (pairs)", r->order, 0.95, n_fail);
    printf("  %-14s %-52s %8.2f +- %.2f (other prompts %.2f)\n", name, "score of the true prompt", r->mean_true,
           r->std_true, r->mean_other);
}

static const struct {
    const char *key, *file;
    EncKind kind;
} FILES[] = {{"id", "id.safetensors", ENC_ID},
             {"prompt", "prompt.safetensors", ENC_CLIP},
             {"judge_id", "judge_id.safetensors", ENC_ID},
             {"judge_clip", "judge_clip.safetensors", ENC_CLIP},
             {"attr", "attr.safetensors", ENC_ATTR}};
enum { N_FILES = sizeof(FILES) / sizeof(FILES[0]), F_ID = 0, F_PROMPT = 1 };

// What one model file measures on one split.
typedef struct {
    RmIdentity seg, plain; // id files against segmented / plain references (plain: the judge only)
    RmPrompt prompt;       // clip files
    RmIdentity clip_i;     // the judge's image tower against plain references (CLIP-I)
    RmAttr attr;           // attr
} FileResult;

static void measure_file(int f, EncModel *m, const RmSet *set, FileResult *r) {
    memset(r, 0, sizeof(*r));
    if (FILES[f].kind == ENC_ID) {
        rm_identity(m, set, RM_REF_SEG, &r->seg);
        if (f != F_ID) rm_identity(m, set, RM_REF_PLAIN, &r->plain); // the judge scores both ways ("DINO")
    } else if (FILES[f].kind == ENC_CLIP) {
        rm_prompt(m, set, &r->prompt);
        if (f != F_PROMPT) rm_identity(m, set, RM_REF_PLAIN, &r->clip_i);
    } else {
        rm_attr(m, set, &r->attr);
    }
}

// r[0..K-1] (one file, world by world) -> out, field by field (rm_fields_mean)
static void mean_file(int f, const FileResult *r, int K, FileResult *out) {
    memset(out, 0, sizeof(*out));
#define MEAN_FIELD(fields, field) rm_fields_mean(&fields, &r[0].field, sizeof(FileResult), K, &out->field)
    if (FILES[f].kind == ENC_ID) {
        MEAN_FIELD(RM_IDENTITY_FIELDS, seg);
        if (f != F_ID) MEAN_FIELD(RM_IDENTITY_FIELDS, plain);
    } else if (FILES[f].kind == ENC_CLIP) {
        MEAN_FIELD(RM_PROMPT_FIELDS, prompt);
        if (f != F_PROMPT) MEAN_FIELD(RM_IDENTITY_FIELDS, clip_i);
    } else {
        MEAN_FIELD(RM_ATTR_FIELDS, attr);
    }
#undef MEAN_FIELD
}

// The gated headline numbers of a file (1 or 3 values), for the per-world lines.
enum { HL_MAX = 3 };
typedef struct {
    int n;
    double v[HL_MAX];
} Headline;

static Headline headline(int f, const FileResult *r) {
    if (FILES[f].kind == ENC_ID) return (Headline){1, {r->seg.top1_ctx}};
    if (FILES[f].kind == ENC_CLIP) return (Headline){1, {r->prompt.top1_all}};
    return (Headline){3, {r->attr.acc_present[ATTR_SCENE], r->attr.acc_present[ATTR_ACCESSORY],
                          r->attr.acc_present[ATTR_PROPERTY]}};
}

static void print_headlines(const char *label, const Headline *h, const int *present) {
    printf("  %-12s", label);
    for (int f = 0; f < N_FILES; f++) {
        if (!present[f]) continue;
        printf(" %s", FILES[f].key);
        for (int j = 0; j < h[f].n; j++) printf("%s%.3f", j ? "/" : " ", h[f].v[j]);
    }
    printf("\n");
}

// The numbers of one file into j.
static void file_json(int f, const FileResult *r, cJSON *j) {
    if (FILES[f].kind == ENC_ID) {
        cJSON_AddItemToObject(j, "vs_segmented_reference", fields_json(&RM_IDENTITY_FIELDS, &r->seg));
        if (f != F_ID) cJSON_AddItemToObject(j, "vs_plain_reference", fields_json(&RM_IDENTITY_FIELDS, &r->plain));
    } else if (FILES[f].kind == ENC_CLIP) {
        cJSON_AddItemToObject(j, "prompt", fields_json(&RM_PROMPT_FIELDS, &r->prompt));
        if (f != F_PROMPT) cJSON_AddItemToObject(j, "clip_i", fields_json(&RM_IDENTITY_FIELDS, &r->clip_i));
    } else {
        cJSON *ja = cJSON_AddObjectToObject(j, "accuracy");
        cJSON *jp = cJSON_AddObjectToObject(j, "accuracy_present");
        for (int h = 0; h < ATTR_N_HEADS; h++) {
            cJSON_AddNumberToObject(ja, attr_head_name(h), r->attr.acc_all[h]);
            cJSON_AddNumberToObject(jp, attr_head_name(h), r->attr.acc_present[h]);
        }
    }
}

// The table rows of one file; gated rows below their threshold count into *n_fail.
static void file_rows(int f, const FileResult *r, int *n_fail) {
    const char *key = FILES[f].key;
    if (FILES[f].kind == ENC_ID) {
        identity_rows(key, "seg. ref", &r->seg, 1, n_fail);
        if (f != F_ID) identity_rows(key, "plain ref", &r->plain, 0, n_fail);
    } else if (FILES[f].kind == ENC_CLIP) {
        prompt_rows(key, &r->prompt, n_fail);
        if (f != F_PROMPT) identity_rows("judge_clip_i", "plain ref", &r->clip_i, 0, n_fail);
    } else {
        for (int h = 0; h < ATTR_N_HEADS; h++) {
            // gated: is the prompted scene / accessory / property recognized (docs/design.md)
            char name[64];
            snprintf(name, sizeof(name), "%s accuracy, all renders", attr_head_name(h));
            row("attr", name, r->attr.acc_all[h], -1, n_fail);
            snprintf(name, sizeof(name), "%s accuracy, renders of %s prompts", attr_head_name(h), attr_head_name(h));
            if (h != ATTR_CLASS) row("attr", name, r->attr.acc_present[h], 0.95, n_fail);
        }
    }
}

int cmd_eval_rewards(int argc, char **argv) {
    Opts o;
    parse_opts(&o, argc, argv);
    const double t0 = cg_now();
    const int K = (int)o.worlds;

    EncModel models[N_FILES];
    int present[N_FILES], n_present = 0, S = 0;
    CkptMeta metas[N_FILES];
    char err[512], path[4096];
    for (int f = 0; f < N_FILES; f++) {
        snprintf(path, sizeof(path), "%s/%s", o.models, FILES[f].file);
        present[f] = access(path, F_OK) == 0;
        ckpt_meta_init(&metas[f]);
        if (!present[f]) continue;
        if (enc_model_load(&models[f], path, FILES[f].kind, 64, &metas[f], err, sizeof(err))) cg_usage("%s", err);
        if (S && models[f].img.cfg.img != S) cg_usage("%s takes %d px images, another model %d", path, models[f].img.cfg.img, S);
        S = models[f].img.cfg.img;
        n_present++;
    }
    if (!n_present) cg_usage("eval-rewards: no model file in %s (id, prompt, judge_id, judge_clip, attr .safetensors)", o.models);

    // results[f * K + k]: file f, world k (a file's worlds are contiguous for mean_file)
    FileResult *results = cg_calloc((size_t)K * N_FILES, sizeof(FileResult));
    Headline low[N_FILES]; // the lowest world of every headline number
    World *w = cg_malloc(sizeof(World));
    int n_subjects = 0;
    long n_images = 0;
    cJSON *per_world = K > 1 ? cJSON_CreateArray() : NULL;
    for (int k = 0; k < K; k++) {
        const long seed = o.subjects_seed + k;
        world_init(w, (uint64_t)seed);
        RmSet set;
        rm_set_build(&set, w, o.split, S, (int)o.seeds, 0);
        n_subjects = set.n_subjects, n_images = set.n_images;
        if (k == 0) {
            char seeds[64];
            if (K == 1) snprintf(seeds, sizeof seeds, "seed %ld", seed);
            else snprintf(seeds, sizeof seeds, "seeds %ld..%ld, one world at a time", seed, seed + K - 1);
            printf("eval-rewards: %s split of subjects %s: %d subjects x 25 prompts x %ld render seeds = %ld renders%s\n",
                   world_split_name(o.split), seeds, set.n_subjects, o.seeds, set.n_images, K > 1 ? " each" : "");
            if (o.split != SPLIT_TEST) printf("  (not the test split: models may have trained on these subjects)\n");
        }
        Headline h[N_FILES];
        cJSON *jwm = NULL;
        if (per_world) {
            cJSON *jw = cJSON_CreateObject();
            cJSON_AddNumberToObject(jw, "subjects_seed", (double)seed);
            jwm = cJSON_AddObjectToObject(jw, "models");
            cJSON_AddItemToArray(per_world, jw);
        }
        for (int f = 0; f < N_FILES; f++) {
            if (!present[f]) continue;
            FileResult *r = &results[f * K + k];
            measure_file(f, &models[f], &set, r);
            h[f] = headline(f, r);
            if (k == 0) low[f] = h[f];
            for (int i = 0; i < h[f].n; i++)
                if (h[f].v[i] < low[f].v[i]) low[f].v[i] = h[f].v[i];
            // per world: the numbers go to the JSON and the headline line; the table is the mean's
            if (jwm) file_json(f, r, cJSON_AddObjectToObject(jwm, FILES[f].key));
        }
        if (K > 1) {
            char label[32];
            snprintf(label, sizeof(label), "seed %ld:", seed);
            print_headlines(label, h, present);
        }
        rm_set_free(&set);
    }
    free(w);

    FileResult mean[N_FILES];
    for (int f = 0; f < N_FILES; f++)
        if (present[f]) mean_file(f, &results[f * K], K, &mean[f]);
    if (K > 1) {
        print_headlines("lowest:", low, present);
        printf("  mean over the %d worlds (the thresholds apply to the mean):\n", K);
    }

    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "subjects_seed", (double)o.subjects_seed);
    if (K > 1) cJSON_AddNumberToObject(root, "worlds", K);
    cJSON_AddStringToObject(root, "split", world_split_name(o.split));
    cJSON_AddNumberToObject(root, "n_subjects", n_subjects);
    cJSON_AddNumberToObject(root, "render_seeds", (double)o.seeds);
    cJSON_AddNumberToObject(root, "n_renders", (double)n_images);
    cJSON *jm = cJSON_AddObjectToObject(root, "models");
    int n_fail = 0;
    for (int f = 0; f < N_FILES; f++) {
        if (!present[f]) {
            printf("  %-14s (no %s/%s)\n", FILES[f].key, o.models, FILES[f].file);
            continue;
        }
        cJSON *j = cJSON_AddObjectToObject(jm, FILES[f].key);
        cJSON_AddStringToObject(j, "file", FILES[f].file);
        const char *pop = ckpt_meta_get(&metas[f], "train.population");
        cJSON_AddStringToObject(j, "trained_on", pop ? pop : "unknown");
        // the worlds whose train subjects it saw: train.subjects_seed .. + train.worlds - 1
        long a, nw = 1;
        char why[256];
        if (ckpt_meta_get_int(&metas[f], "train.subjects_seed", 0, LONG_MAX / 2, &a, why, sizeof why) == 0 &&
            (!ckpt_meta_get(&metas[f], "train.worlds") ||
             ckpt_meta_get_int(&metas[f], "train.worlds", 1, ENC_MAX_WORLDS, &nw, why, sizeof why) == 0)) {
            const long b = a + nw - 1;
            cJSON *tw = cJSON_AddArrayToObject(j, "trained_worlds");
            cJSON_AddItemToArray(tw, cJSON_CreateNumber((double)a));
            cJSON_AddItemToArray(tw, cJSON_CreateNumber((double)b));
            if (a <= o.subjects_seed + K - 1 && b >= o.subjects_seed)
                printf("  %-14s (trained on the train subjects of seeds %ld..%ld: held-out subjects of a seen world)\n",
                       FILES[f].key, a, b);
        }
        cJSON_AddNumberToObject(j, "params", (double)enc_model_n_params(&models[f]));
        file_rows(f, &mean[f], &n_fail);
        file_json(f, &mean[f], j);
    }
    if (per_world) cJSON_AddItemToObject(root, "per_world", per_world);
    double secs = cg_now() - t0;
    printf("eval-rewards: %d measure(s) below threshold; %.1f s\n", n_fail, secs);
    cJSON_AddNumberToObject(root, "below_threshold", n_fail);
    cJSON_AddNumberToObject(root, "seconds", secs);
    char *text = cJSON_Print(root);
    FILE *fo = fopen(o.out, "wb");
    if (!fo) cg_usage("--out: cannot write %s", o.out);
    fputs(text, fo);
    fputc('\n', fo);
    if (fclose(fo)) cg_usage("--out: cannot write %s", o.out);
    free(text);
    cJSON_Delete(root);
    free(results);
    for (int f = 0; f < N_FILES; f++) {
        if (present[f]) enc_model_free(&models[f]);
        ckpt_meta_free(&metas[f]);
    }
    return 0;
}
