// enc_data.c: the SubjectBench batches that train the encoders, drawn on the fly: populations,
// identity views, (render, prompt) pairs and attribute labels. See enc_data.h.
#include "train/enc_data.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "world/render.h"
#include "world/tokenizer.h"

// RNG purposes of the data maker (cg_rng_stream(purpose, step, b))
#define ENC_STREAM_PICK 0x454e43504b31ULL // "ENCPK1": which subjects a step uses
#define ENC_STREAM_ITEM 0x454e43495431ULL // "ENCIT1": one item's views, prompt, placement, noise

// ---- populations ------------------------------------------------------------------------------------

static const char *const POP_NAMES[3] = {"reward", "judge", "all"};

const char *enc_population_name(EncPopulation p) { return p >= 0 && p <= ENC_POP_ALL ? POP_NAMES[p] : "?"; }

int enc_population_from_name(const char *name) {
    for (int p = 0; p <= ENC_POP_ALL; p++)
        if (strcmp(name, POP_NAMES[p]) == 0) return p;
    return -1;
}

int enc_population_has(EncPopulation p, int index) {
    if (p == ENC_POP_ALL) return 1;
    int reward_half = index % 4 < 2; // 0, 1 (an object and a live subject) | 2, 3
    return p == ENC_POP_REWARD ? reward_half : !reward_half;
}

// ---- training data ----------------------------------------------------------------------------------

uint64_t enc_world_seed(uint64_t subjects_seed, int j) { return subjects_seed + (uint64_t)j; }

// does s come within `margin` identity attributes of a VAL or TEST subject of w?
static int near_held_out(const World *w, const Subject *s, int margin) {
    const int splits[2] = {SPLIT_VAL, SPLIT_TEST};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < world_split_count(splits[k]); i++)
            if (subject_distance(s, world_subject(w, splits[k], i)) < margin) return 1;
    return 0;
}

void enc_data_init(EncData *d, const World *worlds, int n_worlds, EncPopulation pop, int S, uint64_t seed,
                   float noise, int property_views) {
    CG_CHECK(n_worlds >= 1, "encoder data needs at least one world, got %d", n_worlds);
    memset(d, 0, sizeof(*d));
    d->S = S, d->seed = seed, d->noise = noise, d->property_views = property_views;
    d->focus = 1.0f;
    d->pop = cg_malloc(cg_mul_size((size_t)n_worlds, WORLD_N_TRAIN) * sizeof(*d->pop));
    for (int j = 0; j < n_worlds; j++)
        for (int i = 0; i < WORLD_N_TRAIN; i++) {
            if (!enc_population_has(pop, i)) continue;
            const Subject *s = world_subject(&worlds[j], SPLIT_TRAIN, i);
            if (j > 0 && near_held_out(&worlds[0], s, 2)) d->n_excluded++;
            else d->pop[d->n++] = s;
        }
}

void enc_data_free(EncData *d) {
    free(d->pop);
    memset(d, 0, sizeof(*d));
}

// B distinct population subjects for `step` (a partial Fisher-Yates shuffle; wraps when B > n)
static void pick_subjects(const EncData *d, const Subject **out, long step, int B) {
    int *perm = cg_malloc((size_t)d->n * sizeof(int));
    for (int i = 0; i < d->n; i++) perm[i] = i;
    cg_rng rng = cg_rng_make(d->seed, cg_rng_stream(ENC_STREAM_PICK, (uint64_t)step, 0));
    int m = B < d->n ? B : d->n;
    for (int i = 0; i < m; i++) {
        int j = i + (int)cg_rng_below(&rng, (uint32_t)(d->n - i));
        int tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
    for (int b = 0; b < B; b++) out[b] = d->pop[perm[b % d->n]];
    free(perm);
}

// In place: a uniform random order of a (n), Fisher-Yates.
static void shuffle_ints(int *a, int n, cg_rng *rng) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)cg_rng_below(rng, (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

// Look-alike batches (enc_id_subjects with k > 0): the population's subjects by class, each class
// shuffled, the classes in a shuffled order; then rounds of up to k subjects per class.
static void pick_look_alikes(const EncData *d, const Subject **out, long step, int B, int k) {
    int *by_class = cg_malloc((size_t)d->n * sizeof(int)); // population positions, grouped by class
    int start[WORLD_N_CLASSES + 1] = {0}, taken[WORLD_N_CLASSES] = {0}, order[WORLD_N_CLASSES];
    for (int i = 0; i < d->n; i++) start[d->pop[i]->cls + 1]++;
    for (int c = 0; c < WORLD_N_CLASSES; c++) start[c + 1] += start[c];
    int fill[WORLD_N_CLASSES];
    memcpy(fill, start, sizeof fill);
    for (int i = 0; i < d->n; i++) by_class[fill[d->pop[i]->cls]++] = i;
    cg_rng rng = cg_rng_make(d->seed, cg_rng_stream(ENC_STREAM_PICK, (uint64_t)step, 1));
    for (int c = 0; c < WORLD_N_CLASSES; c++) {
        shuffle_ints(by_class + start[c], start[c + 1] - start[c], &rng);
        order[c] = c;
    }
    shuffle_ints(order, WORLD_N_CLASSES, &rng);
    int b = 0;
    while (b < B) {
        for (int o = 0; o < WORLD_N_CLASSES && b < B; o++) {
            const int c = order[o];
            for (int j = 0; j < k && b < B && start[c] + taken[c] < start[c + 1]; j++, taken[c]++)
                out[b++] = d->pop[by_class[start[c] + taken[c]]];
        }
    }
    free(by_class);
}

void enc_id_subjects(const EncData *d, const Subject **out, long step, int B) {
    CG_CHECK(B >= 1 && B <= d->n && d->look_alikes >= 0, "identity batch of %d, %d subjects, look_alikes %d", B, d->n,
             d->look_alikes);
    if (d->look_alikes > 0) pick_look_alikes(d, out, step, B, d->look_alikes);
    else pick_subjects(d, out, step, B);
}

// [0, 1] render -> [-1, 1] model input, plus N(0, sigma^2) noise with sigma ~ U(0, noise)
static void to_model_input(float *img, size_t n, float noise, cg_rng *rng) {
    float sigma = noise > 0 ? noise * (float)cg_rng_uniform(rng) : 0.0f;
    for (size_t i = 0; i < n; i++) img[i] = 2.0f * img[i] - 1.0f;
    if (sigma > 0)
        for (size_t i = 0; i < n; i++) img[i] += sigma * (float)cg_rng_normal(rng);
}

// a random template: with probability 1 - p_scene the plain prompt (-1, the studio backdrop),
// else uniform over 0..19 (scenes, or accessories for live subjects) and property edits 20..24
// when with_props
static int random_template(int with_props, double p_scene, cg_rng *rng) {
    double u = cg_rng_uniform(rng);
    int n = with_props ? PROMPT_N_TEMPLATES : PROMPT_N_TEMPLATES - PROMPT_N_PROPERTIES;
    int t = (int)cg_rng_below(rng, (uint32_t)n);
    return u < p_scene ? t : -1;
}

static void render_random_target(float *img, const Subject *s, int with_props, double p_scene, int S, cg_rng *rng) {
    Prompt p;
    prompt_make(&p, s->cls, random_template(with_props, p_scene, rng));
    render_target(img, NULL, s, &p, cg_rng_u64(rng), S);
}

// The identity curriculum: the share of target views drawn in a scene or with an accessory (the
// rest in the plain studio) grows linearly from 1/4 at step 0 to all at step d->curriculum.
static double scene_share(const EncData *d, long step) {
    if (d->curriculum <= 0 || step >= d->curriculum) return 20.0 / 21.0; // as uniform over the 21 prompts
    return 0.25 + (20.0 / 21.0 - 0.25) * (double)step / (double)d->curriculum;
}

void enc_id_batch(const EncData *d, float *views, int *labels, long step, int B, int V) {
    CG_CHECK(B >= 1 && B <= d->n && V >= 2, "identity batch %d x %d views, %d subjects", B, V, d->n);
    const Subject **subj = cg_malloc((size_t)B * sizeof(*subj));
    enc_id_subjects(d, subj, step, B);
    const int S = d->S;
    const size_t per = (size_t)S * S * 3;
    const double p_scene = scene_share(d, step);
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        cg_rng rng = cg_rng_make(d->seed, cg_rng_stream(ENC_STREAM_ITEM, (uint64_t)step, (uint64_t)b));
        for (int v = 0; v < V; v++) {
            float *img = views + ((size_t)v * B + b) * per;
            double u = v == 0 ? cg_rng_uniform(&rng) : 1.0; // view 0: a reference or a render
            int pose = (int)cg_rng_below(&rng, 6);
            if (u < 0.4) render_segmented_reference(img, NULL, subj[b], pose, S);
            else if (u < 0.5) render_reference(img, NULL, subj[b], pose, S);
            else render_random_target(img, subj[b], d->property_views, p_scene, S, &rng);
            to_model_input(img, per, d->noise, &rng);
            if (labels) id_aux_labels(labels + ((size_t)v * B + b) * ID_AUX_N_HEADS, subj[b]);
        }
    }
    free(subj);
}

// The kind of template t (-1..24) for a subject of class cls.
static PromptKind template_kind(int cls, int t) {
    if (t < 0) return PROMPT_PLAIN;
    if (t >= PROMPT_N_TEMPLATES - PROMPT_N_PROPERTIES) return PROMPT_PROPERTY;
    return t >= 10 && world_class_kind(cls) == KIND_LIVE ? PROMPT_ACCESSORY : PROMPT_SCENE;
}

// Draw a template of -1..24 for class cls, with weight d->focus for accessory and property
// templates and 1 for the others, among those with avail[t + 1] != 0; -1 - 1 = -2 when none is.
static int draw_template(const EncData *d, int cls, const unsigned char *avail, cg_rng *rng) {
    enum { NT = PROMPT_N_TEMPLATES + 1 };
    double w[NT], total = 0;
    for (int t = -1; t < PROMPT_N_TEMPLATES; t++) {
        PromptKind k = template_kind(cls, t);
        w[t + 1] = avail[t + 1] ? (k == PROMPT_ACCESSORY || k == PROMPT_PROPERTY ? d->focus : 1.0) : 0.0;
        total += w[t + 1];
    }
    double u = cg_rng_uniform(rng) * total;
    for (int t = -1; t < PROMPT_N_TEMPLATES; t++) {
        if (w[t + 1] <= 0) continue;
        if (u < w[t + 1]) return t;
        u -= w[t + 1];
    }
    for (int t = PROMPT_N_TEMPLATES - 1; t >= -1; t--) // rounding: the last available one
        if (w[t + 1] > 0) return t;
    return -2;
}

void enc_clip_batch(const EncData *d, float *images, int *tokens, int *labels, long step, int B) {
    const int G = (B + ENC_CLIP_GROUP - 1) / ENC_CLIP_GROUP; // subjects in the batch
    CG_CHECK(B >= 1 && G <= d->n, "clip batch %d needs %d subjects, the population has %d", B, G, d->n);
    const Subject **subj = cg_malloc((size_t)G * sizeof(*subj));
    pick_subjects(d, subj, step, G);
    // templates: per subject, draws without replacement among the (class, template) pairs the batch
    // does not hold yet, so that no two rows share a prompt text
    enum { NT = PROMPT_N_TEMPLATES + 1 };
    unsigned char avail[WORLD_N_CLASSES][NT];
    memset(avail, 1, sizeof(avail));
    int *tmpl = cg_malloc((size_t)B * sizeof(int));
    for (int g = 0; g < G; g++) {
        cg_rng rng = cg_rng_make(d->seed, cg_rng_stream(ENC_STREAM_PICK, (uint64_t)step, (uint64_t)g + 1));
        int cls = subj[g]->cls;
        for (int b = g * ENC_CLIP_GROUP; b < B && b < (g + 1) * ENC_CLIP_GROUP; b++) {
            tmpl[b] = draw_template(d, cls, avail[cls], &rng);
            if (tmpl[b] < -1) { // one class filled all 26 templates (7 or more of its subjects in the batch):
                memset(avail[cls], 1, NT); // from here on its texts may repeat
                for (int b2 = g * ENC_CLIP_GROUP; b2 < b; b2++) avail[cls][tmpl[b2] + 1] = 0;
                tmpl[b] = draw_template(d, cls, avail[cls], &rng);
            }
            avail[cls][tmpl[b] + 1] = 0;
        }
    }
    const int S = d->S;
    const size_t per = (size_t)S * S * 3;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        cg_rng rng = cg_rng_make(d->seed, cg_rng_stream(ENC_STREAM_ITEM, (uint64_t)step, (uint64_t)b));
        const Subject *s = subj[b / ENC_CLIP_GROUP];
        Prompt p;
        prompt_make(&p, s->cls, tmpl[b]);
        float *img = images + (size_t)b * per;
        render_target(img, NULL, s, &p, cg_rng_u64(&rng), S);
        to_model_input(img, per, d->noise, &rng);
        char err[128];
        int n = tok_encode(tokens + (size_t)b * TOK_MAX_TOKENS, p.text, err, sizeof(err));
        CG_CHECK(n > 0, "tokenizing a template prompt: %s", err);
        if (labels) attr_labels(labels + (size_t)b * ATTR_N_HEADS, &p);
    }
    free(tmpl);
    free(subj);
}

void enc_attr_batch(const EncData *d, float *images, int *labels, long step, int B) {
    const Subject **subj = cg_malloc((size_t)B * sizeof(*subj));
    pick_subjects(d, subj, step, B);
    const int S = d->S;
    const size_t per = (size_t)S * S * 3;
    unsigned char all[PROMPT_N_TEMPLATES + 1];
    memset(all, 1, sizeof(all));
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        cg_rng rng = cg_rng_make(d->seed, cg_rng_stream(ENC_STREAM_ITEM, (uint64_t)step, (uint64_t)b));
        Prompt p;
        prompt_make(&p, subj[b]->cls, draw_template(d, subj[b]->cls, all, &rng));
        float *img = images + (size_t)b * per;
        render_target(img, NULL, subj[b], &p, cg_rng_u64(&rng), S);
        to_model_input(img, per, d->noise, &rng);
        attr_labels(labels + (size_t)b * ATTR_N_HEADS, &p);
    }
    free(subj);
}
