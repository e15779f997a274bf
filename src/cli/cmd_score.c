// cmd_score.c: `cgrpo score`: every reward and judge score of some images for one reference and
// one prompt, through the same reward objects the trainer uses (rl/reward.h). One JSON object per
// image on stdout, in argument order.
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/png.h"
#include "rl/reward.h"
#include "rl/reward_http.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/tokenizer.h"
#include "world/world.h"

static const char *USAGE =
    "usage: cgrpo score --reference REF --prompt \"TEXT\" [options] IMAGE...\n"
    "       cgrpo score --request FILE [--models DIR]\n"
    "Prints one JSON object per image with every reward and judge score (100 x cosine similarities;\n"
    "attr is 100 x the attribute judge's probability of the prompt's scene, accessory and property)\n"
    "and the attribute judge's predicted labels.\n"
    "  REF and IMAGE are PNG files of the models' size (32x32), or SubjectBench renders:\n"
    "    REF    subject:SPLIT:INDEX[:POSE]           reference photo (pose 0 by default)\n"
    "    IMAGE  subject:SPLIT:INDEX:TEMPLATE[:SEED]  target render of template 0..24 (-1: plain)\n"
    "  --prompt TEXT        a SubjectBench prompt, e.g. \"a sks dog in the snow\"\n"
    "  --models DIR         the weights directory (default models)\n"
    "  --rewards LIST       comma-separated subset of: id, prompt, judge-id, judge-id-plain,\n"
    "                       judge-clip-i, judge-clip-t, attr, id-pix (default all)\n"
    "  --mask MASK.png      the reference's subject mask (PNG reference only; default: estimated\n"
    "                       from the plain background)\n"
    "  --subjects-seed N    the SubjectBench population of subject:... arguments (default 1)\n"
    "  --request FILE       score a reward server request (docs/reward_protocol.md; - reads stdin)\n"
    "                       with the reward it names and print the answer, {\"scores\": [...]}, with\n"
    "                       every float exact (tools/reward_server.py serves cgrpo's rewards this way)\n"
    "Bad input (missing file, wrong size, unknown word, unknown subject, a bad request) exits 2 with\n"
    "one line.\n";

#define ALL_REWARDS "id,prompt,judge-id,judge-id-plain,judge-clip-i,judge-clip-t,attr,id-pix"

typedef struct {
    const char *reference, *prompt, *models, *rewards, *mask, *request;
    long subjects_seed;
    const char **images;
    int n_images;
} Opts;

static void parse_opts(Opts *o, int argc, char **argv) {
    *o = (Opts){NULL, NULL, "models", ALL_REWARDS, NULL, NULL, WORLD_DEFAULT_SUBJECTS_SEED, NULL, 0};
    o->images = cg_malloc((size_t)argc * sizeof(char *));
    const CliOpt opts[] = {
        CLI_S("--reference", &o->reference), CLI_S("--prompt", &o->prompt), CLI_S("--models", &o->models),
        CLI_S("--rewards", &o->rewards), CLI_S("--mask", &o->mask), CLI_S("--request", &o->request),
        CLI_L("--subjects-seed", &o->subjects_seed, 0, LONG_MAX),
    };
    const CliCommand cmd = {.name = "score", .usage = USAGE, .unknown_hint = " (see cgrpo score --help)",
                            .positional = o->images, .n_positional = &o->n_images};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (o->request) {
        if (o->reference || o->prompt || o->mask || o->n_images || o->rewards != (const char *)ALL_REWARDS)
            cg_usage("score: --request takes the images, prompts and reward from the request (only --models goes with it)");
        return;
    }
    if (!o->reference) cg_usage("score: --reference is required");
    if (!o->prompt) cg_usage("score: --prompt is required");
    if (o->n_images == 0) cg_usage("score: no images to score");
}

// A "subject:SPLIT:INDEX[:A[:B]]" argument: 1 with the subject and up to two numbers (n_nums of
// them), 0 when arg does not start with "subject:". Malformed -> exit 2.
static int parse_subject_arg(const char *arg, const World *w, const Subject **s, long nums[2], int *n_nums) {
    if (strncmp(arg, "subject:", 8) != 0) return 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", arg + 8);
    char *fields[4];
    int nf = 0;
    for (char *p = buf, *next; p; p = next) {
        next = strchr(p, ':');
        if (next) *next++ = '\0';
        if (nf == 4) cg_usage("'%s': too many fields (subject:SPLIT:INDEX[:A[:B]])", arg);
        fields[nf++] = p;
    }
    if (nf < 2) cg_usage("'%s': expected subject:SPLIT:INDEX", arg);
    int split = world_split_from_name(fields[0]);
    if (split < 0) cg_usage("'%s': '%s' is not a split (train, val or test)", arg, fields[0]);
    long v[3];
    for (int k = 1; k < nf; k++) {
        char *end;
        v[k - 1] = strtol(fields[k], &end, 10);
        if (end == fields[k] || *end) cg_usage("'%s': '%s' is not an integer", arg, fields[k]);
    }
    *s = v[0] >= 0 && v[0] <= INT_MAX ? world_subject(w, split, (int)v[0]) : NULL;
    if (!*s)
        cg_usage("'%s': subject %ld is out of range: the %s split has subjects 0..%d", arg, v[0], world_split_name(split),
                 world_split_count(split) - 1);
    *n_nums = nf - 2;
    for (int k = 0; k < *n_nums; k++) nums[k] = v[k + 1];
    return 1;
}

// Read a PNG of exactly S x S into img (S, S, 3) in [0, 1]; exit 2 with the reason otherwise.
static void load_png(float *img, const char *path, int S) {
    unsigned char *rgb = NULL;
    int W, H;
    char err[512];
    if (cg_png_read_rgb8(path, &rgb, &W, &H, err, sizeof(err))) cg_usage("%s", err);
    if (W != S || H != S) {
        free(rgb);
        cg_usage("%s is %dx%d, the reward models take %dx%d images", path, W, H, S, S);
    }
    for (size_t i = 0; i < (size_t)S * S * 3; i++) img[i] = rgb[i] / 255.0f;
    free(rgb);
}

static double round4(double x) { return round(x * 1e4) / 1e4; }

// --request FILE: read a reward server request (at most REWARD_HTTP_MAX_REQUEST bytes), score it
// with the reward it names, print the answer.
static int score_request(const Opts *o) {
    FILE *f = strcmp(o->request, "-") == 0 ? stdin : fopen(o->request, "rb");
    if (!f) cg_usage("--request: cannot open '%s': %s", o->request, strerror(errno));
    size_t len = 0, cap = 1 << 16;
    char *text = cg_malloc(cap);
    for (size_t got; (got = fread(text + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len > REWARD_HTTP_MAX_REQUEST) cg_usage("--request: larger than %zu bytes", REWARD_HTTP_MAX_REQUEST);
        if (len == cap) text = cg_realloc(text, cap *= 2);
    }
    if (ferror(f)) cg_usage("--request: cannot read '%s'", o->request);
    if (f != stdin) fclose(f);
    RewardHttpRequest req;
    char err[1024];
    if (reward_http_read_request(&req, text, len, err, sizeof err)) cg_usage("--request: %s", err);
    free(text);
    Reward *r = reward_create_by_name(req.reward, o->models, err, sizeof err);
    if (!r) cg_usage("--request: %s", err);
    float *scores = cg_malloc((size_t)req.batch.B * sizeof(float));
    if (reward_score(r, &req.batch, scores, err, sizeof err)) cg_usage("--request: %s", err);
    reward_http_write_answer(stdout, scores, req.batch.B);
    free(scores);
    reward_free(r);
    reward_http_request_free(&req);
    return 0;
}

int cmd_score(int argc, char **argv) {
    Opts o;
    parse_opts(&o, argc, argv);
    if (o.request) {
        free(o.images);
        return score_request(&o);
    }
    World *w = cg_malloc(sizeof(World));
    world_init(w, (uint64_t)o.subjects_seed);

    // the prompt: known words first (the tokenizer names an unknown word), then a SubjectBench prompt
    char err[512];
    int tokens[TOK_MAX_TOKENS];
    if (tok_encode(tokens, o.prompt, err, sizeof(err)) < 0) cg_usage("--prompt: %s", err);
    Prompt prompt;
    if (prompt_parse(&prompt, o.prompt, -1, err, sizeof(err))) cg_usage("--prompt: %s", err);

    RewardSet set;
    if (reward_set_create(&set, o.rewards, o.models, err, sizeof(err))) cg_usage("%s", err);
    int S = 0;
    for (int k = 0; k < set.n; k++) {
        if (S && set.r[k]->S && set.r[k]->S != S)
            cg_usage("the reward models take different image sizes (%d and %d)", S, set.r[k]->S);
        if (set.r[k]->S) S = set.r[k]->S;
    }
    if (!S) S = 32;
    const size_t per = (size_t)S * S * 3;

    // the reference, plain and segmented
    float *ref = cg_malloc(per * sizeof(float)), *seg = cg_malloc(per * sizeof(float));
    unsigned char *mask = cg_malloc((size_t)S * S);
    const Subject *subj = NULL;
    long nums[2];
    int n_nums;
    if (parse_subject_arg(o.reference, w, &subj, nums, &n_nums)) {
        if (n_nums > 1) cg_usage("--reference '%s': expected subject:SPLIT:INDEX[:POSE]", o.reference);
        long pose = n_nums ? nums[0] : 0;
        if (pose < 0 || pose > 1000) cg_usage("--reference '%s': pose %ld outside [0, 1000]", o.reference, pose);
        if (o.mask) cg_usage("--mask is for PNG references (a SubjectBench reference has its own mask)");
        render_reference(ref, mask, subj, (int)pose, S);
    } else {
        load_png(ref, o.reference, S);
        if (o.mask) {
            float *m3 = cg_malloc(per * sizeof(float));
            load_png(m3, o.mask, S);
            for (size_t i = 0; i < (size_t)S * S; i++) mask[i] = (unsigned char)(m3[i * 3] * 255.0f + 0.5f);
            free(m3);
        } else {
            reward_estimate_mask(mask, ref, S);
        }
    }
    const float fill[3] = {RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL};
    render_segment(seg, ref, mask, fill, S);

    // the images, every one validated before anything is printed
    const int N = o.n_images;
    float *images = cg_malloc(cg_mul_size((size_t)N, per) * sizeof(float));
    for (int i = 0; i < N; i++) {
        float *img = images + (size_t)i * per;
        const Subject *s;
        if (parse_subject_arg(o.images[i], w, &s, nums, &n_nums)) {
            if (n_nums < 1) cg_usage("'%s': expected subject:SPLIT:INDEX:TEMPLATE[:SEED]", o.images[i]);
            if (nums[0] < -1 || nums[0] >= PROMPT_N_TEMPLATES)
                cg_usage("'%s': template %ld outside [-1, %d]", o.images[i], nums[0], PROMPT_N_TEMPLATES - 1);
            long seed = n_nums > 1 ? nums[1] : 0;
            if (seed < 0) cg_usage("'%s': seed %ld < 0", o.images[i], seed);
            Prompt p;
            prompt_make(&p, s->cls, (int)nums[0]);
            render_target(img, NULL, s, &p, (uint64_t)seed, S);
        } else {
            load_png(img, o.images[i], S);
        }
    }

    // one batch: the same reference and prompt on every row (embedded once)
    float *refs_seg = cg_malloc(cg_mul_size((size_t)N, per) * sizeof(float));
    float *refs_plain = cg_malloc(cg_mul_size((size_t)N, per) * sizeof(float));
    int *toks = cg_malloc((size_t)N * TOK_MAX_TOKENS * sizeof(int));
    Prompt *prompts = cg_malloc((size_t)N * sizeof(Prompt));
    reward_from_render(images, images, (size_t)N * per);
    reward_from_render(seg, seg, per);
    reward_from_render(ref, ref, per);
    for (int i = 0; i < N; i++) {
        memcpy(refs_seg + (size_t)i * per, seg, per * sizeof(float));
        memcpy(refs_plain + (size_t)i * per, ref, per * sizeof(float));
        memcpy(toks + (size_t)i * TOK_MAX_TOKENS, tokens, sizeof(tokens));
        prompts[i] = prompt;
    }
    RewardBatch b = {N, S, images, refs_seg, refs_plain, toks, prompts, NULL};
    float *scores = cg_malloc((size_t)set.n * N * sizeof(float));
    if (reward_set_score(&set, &b, scores, err, sizeof(err))) cg_usage("%s", err);

    // attr predictions, when the attr judge is in the set
    EncModel *attr = NULL;
    for (int k = 0; k < set.n; k++)
        if (strcmp(set.r[k]->name, "attr") == 0) attr = reward_encoder(set.r[k]);
    float *probs[ATTR_N_HEADS] = {0};
    if (attr) {
        for (int h = 0; h < ATTR_N_HEADS; h++) probs[h] = cg_malloc((size_t)N * attr_n_classes(h) * sizeof(float));
        enc_attr_probs(attr, probs, images, N);
    }

    for (int i = 0; i < N; i++) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "image", o.images[i]);
        for (int k = 0; k < set.n; k++) cJSON_AddNumberToObject(obj, set.r[k]->name, round4(scores[(size_t)k * N + i]));
        if (attr) {
            cJSON *pred = cJSON_AddObjectToObject(obj, "attr_pred");
            for (int h = 0; h < ATTR_N_HEADS; h++) {
                const int C = attr_n_classes(h);
                const int best = vit_argmax(probs[h] + (size_t)i * C, C);
                cJSON_AddStringToObject(pred, attr_head_name(h), attr_label_name(h, best));
            }
        }
        char *line = cJSON_PrintUnformatted(obj);
        CG_CHECK(line != NULL, "printing JSON");
        puts(line);
        free(line);
        cJSON_Delete(obj);
    }
    for (int h = 0; h < ATTR_N_HEADS; h++) free(probs[h]);
    free(scores), free(prompts), free(toks), free(refs_plain), free(refs_seg), free(images);
    free(mask), free(seg), free(ref), free(w);
    free(o.images);
    reward_set_free(&set);
    return 0;
}
