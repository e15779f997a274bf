// cmd_eval_rewards.c: `cgrpo eval-rewards`: how good are the shipped reward and judge models, on
// ground-truth renders of subjects no model trained on (eval/reward_metrics.h). Prints a table
// with the thresholds and writes the numbers as JSON.
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
#include "train/encoders.h"

static const char *USAGE =
    "usage: cgrpo eval-rewards --out FILE.json [options]\n"
    "Measures the reward and judge models of a models directory on ground-truth renders of one split\n"
    "(every subject x 25 prompts x K render seeds): identity retrieval and ordering (id, judge-id,\n"
    "CLIP-I), prompt retrieval and ordering (prompt, CLIP-T), attribute accuracy (attr).\n"
    "  --models DIR         weights directory (default models); missing files are skipped\n"
    "  --subjects-seed N    SubjectBench population (default 1)\n"
    "  --split S            test (default) | val | train\n"
    "  --seeds K            render seeds per (subject, prompt) (default 4)\n"
    "  --out FILE.json      where the numbers go\n";

typedef struct {
    const char *models, *out;
    long subjects_seed, seeds;
    int split;
} Opts;

static void parse_opts(Opts *o, int argc, char **argv) {
    *o = (Opts){"models", NULL, WORLD_DEFAULT_SUBJECTS_SEED, 4, SPLIT_TEST};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(USAGE, stdout);
            exit(0);
        }
        if (i + 1 >= argc) cg_usage("eval-rewards: %s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--models") == 0) o->models = v;
        else if (strcmp(a, "--out") == 0) o->out = v;
        else if (strcmp(a, "--subjects-seed") == 0) o->subjects_seed = cli_parse_long(a, v, 0, LONG_MAX);
        else if (strcmp(a, "--seeds") == 0) o->seeds = cli_parse_long(a, v, 1, 16);
        else if (strcmp(a, "--split") == 0) {
            o->split = world_split_from_name(v);
            if (o->split < 0) cg_usage("--split: '%s' is not a split (train, val or test)", v);
        } else cg_usage("eval-rewards: unknown option '%s' (see --help)", a);
    }
    if (!o->out) cg_usage("eval-rewards: --out FILE.json is required");
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

static cJSON *identity_json(const RmIdentity *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "top1_ctx", r->top1_ctx);
    cJSON_AddNumberToObject(o, "top1_prop", r->top1_prop);
    cJSON_AddNumberToObject(o, "top1_all", r->top1_all);
    cJSON_AddNumberToObject(o, "top1_scene", r->top1_kind[PROMPT_SCENE]);
    cJSON_AddNumberToObject(o, "top1_accessory", r->top1_kind[PROMPT_ACCESSORY]);
    cJSON_AddNumberToObject(o, "order_ctx", r->order_ctx);
    cJSON_AddNumberToObject(o, "order_prop", r->order_prop);
    cJSON_AddNumberToObject(o, "score_true_mean", r->mean_true);
    cJSON_AddNumberToObject(o, "score_true_std", r->std_true);
    cJSON_AddNumberToObject(o, "score_other_mean", r->mean_other);
    cJSON_AddNumberToObject(o, "score_true_prop_mean", r->mean_true_prop);
    cJSON_AddNumberToObject(o, "n_ctx", (double)r->n_ctx);
    cJSON_AddNumberToObject(o, "n_prop", (double)r->n_prop);
    cJSON_AddNumberToObject(o, "pairs_ctx", (double)r->pairs_ctx);
    cJSON_AddNumberToObject(o, "pairs_prop", (double)r->pairs_prop);
    return o;
}

static cJSON *prompt_json(const RmPrompt *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "top1", r->top1_all);
    cJSON_AddNumberToObject(o, "top1_scene", r->top1_kind[PROMPT_SCENE]);
    cJSON_AddNumberToObject(o, "top1_accessory", r->top1_kind[PROMPT_ACCESSORY]);
    cJSON_AddNumberToObject(o, "top1_property", r->top1_kind[PROMPT_PROPERTY]);
    cJSON_AddNumberToObject(o, "order", r->order);
    cJSON_AddNumberToObject(o, "score_true_mean", r->mean_true);
    cJSON_AddNumberToObject(o, "score_true_std", r->std_true);
    cJSON_AddNumberToObject(o, "score_other_mean", r->mean_other);
    cJSON_AddNumberToObject(o, "n", (double)r->n);
    cJSON_AddNumberToObject(o, "pairs", (double)r->pairs);
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

int cmd_eval_rewards(int argc, char **argv) {
    Opts o;
    parse_opts(&o, argc, argv);
    const double t0 = cg_now();
    World *w = cg_malloc(sizeof(World));
    world_init(w, (uint64_t)o.subjects_seed);

    static const struct {
        const char *key, *file;
        EncKind kind;
    } FILES[] = {{"id", "id.safetensors", ENC_ID},
                 {"prompt", "prompt.safetensors", ENC_CLIP},
                 {"judge_id", "judge_id.safetensors", ENC_ID},
                 {"judge_clip", "judge_clip.safetensors", ENC_CLIP},
                 {"attr", "attr.safetensors", ENC_ATTR}};
    enum { N_FILES = sizeof(FILES) / sizeof(FILES[0]) };
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

    RmSet set;
    rm_set_build(&set, w, o.split, S, (int)o.seeds, 0);
    printf("eval-rewards: %s split of subjects seed %ld: %d subjects x 25 prompts x %ld render seeds = %ld renders\n",
           world_split_name(o.split), o.subjects_seed, set.n_subjects, o.seeds, set.n_images);
    if (o.split != SPLIT_TEST) printf("  (not the test split: models may have trained on these subjects)\n");

    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "subjects_seed", (double)o.subjects_seed);
    cJSON_AddStringToObject(root, "split", world_split_name(o.split));
    cJSON_AddNumberToObject(root, "n_subjects", set.n_subjects);
    cJSON_AddNumberToObject(root, "render_seeds", (double)o.seeds);
    cJSON_AddNumberToObject(root, "n_renders", (double)set.n_images);
    cJSON *jm = cJSON_AddObjectToObject(root, "models");
    int n_fail = 0;
    for (int f = 0; f < N_FILES; f++) {
        if (!present[f]) {
            printf("  %-14s (no %s/%s)\n", FILES[f].key, o.models, FILES[f].file);
            continue;
        }
        EncModel *m = &models[f];
        cJSON *j = cJSON_AddObjectToObject(jm, FILES[f].key);
        cJSON_AddStringToObject(j, "file", FILES[f].file);
        const char *pop = ckpt_meta_get(&metas[f], "train.population");
        cJSON_AddStringToObject(j, "trained_on", pop ? pop : "unknown");
        cJSON_AddNumberToObject(j, "params", (double)enc_model_n_params(m));
        if (FILES[f].kind == ENC_ID) {
            RmIdentity seg, plain;
            rm_identity(m, &set, RM_REF_SEG, &seg);
            identity_rows(FILES[f].key, "seg. ref", &seg, 1, &n_fail);
            cJSON_AddItemToObject(j, "vs_segmented_reference", identity_json(&seg));
            if (f != 0) { // the judge also scores against the plain reference ("DINO" both ways)
                rm_identity(m, &set, RM_REF_PLAIN, &plain);
                identity_rows(FILES[f].key, "plain ref", &plain, 0, &n_fail);
                cJSON_AddItemToObject(j, "vs_plain_reference", identity_json(&plain));
            }
        } else if (FILES[f].kind == ENC_CLIP) {
            RmPrompt p;
            rm_prompt(m, &set, &p);
            prompt_rows(FILES[f].key, &p, &n_fail);
            cJSON_AddItemToObject(j, "prompt", prompt_json(&p));
            if (f != 1) { // CLIP-I: the judge's image tower against the plain reference
                RmIdentity ci;
                rm_identity(m, &set, RM_REF_PLAIN, &ci);
                identity_rows("judge_clip_i", "plain ref", &ci, 0, &n_fail);
                cJSON_AddItemToObject(j, "clip_i", identity_json(&ci));
            }
        } else {
            RmAttr a;
            rm_attr(m, &set, &a);
            cJSON *ja = cJSON_AddObjectToObject(j, "accuracy");
            cJSON *jp = cJSON_AddObjectToObject(j, "accuracy_present");
            for (int h = 0; h < ATTR_N_HEADS; h++) {
                // gated: is the prompted scene / accessory / property recognized (DESIGN.md section 8)
                char name[64];
                snprintf(name, sizeof(name), "%s accuracy, all renders", attr_head_name(h));
                row("attr", name, a.acc_all[h], -1, &n_fail);
                snprintf(name, sizeof(name), "%s accuracy, renders of %s prompts", attr_head_name(h), attr_head_name(h));
                if (h != ATTR_CLASS) row("attr", name, a.acc_present[h], 0.95, &n_fail);
                cJSON_AddNumberToObject(ja, attr_head_name(h), a.acc_all[h]);
                cJSON_AddNumberToObject(jp, attr_head_name(h), a.acc_present[h]);
            }
        }
    }
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
    rm_set_free(&set);
    for (int f = 0; f < N_FILES; f++) {
        if (present[f]) enc_model_free(&models[f]);
        ckpt_meta_free(&metas[f]);
    }
    free(w);
    return 0;
}
