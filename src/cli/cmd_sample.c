// cmd_sample.c: `cgrpo sample`: draw K images of a subject with a trained DiT and write a grid
// (reference | sample 1 | ... | sample K), nearest-neighbour upscaled for visibility.
//
// The subject comes from a reference PNG (resized to the model's size when it differs: area
// average to shrink, bilinear to grow, with a note on stderr) or from SubjectBench (subjects seed,
// split, index, reference pose). The prompt goes through the tokenizer; in subject mode it must
// be a prompt of the subject's class (prompt_parse).
//
// Determinism: sample k starts from the noise of Philox stream cg_rng_stream(SAMPLE_STREAM_INIT, k, 0)
// under --seed, so with the ODE sampler sample k is the same image for any --n (up to the BLAS
// rounding of the batch layout, see layers.h); SDE samplers draw their step noise per chunk of
// SAMPLE_CHUNK samples. Two runs with the same arguments write the same bytes.
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/rng.h"
#include "core/timer.h"
#include "flow/sampler.h"
#include "flow/schedule.h"
#include "io/checkpoint.h"
#include "io/png.h"
#include "io/sheet.h"
#include "models/dit.h"
#include "train/data.h"
#include "train/pretrain.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/tokenizer.h"
#include "world/world.h"

#define SAMPLE_STREAM_INIT 0x53414d5000000001ull // "SAMP" 1: initial noise of sample k
#define SAMPLE_STREAM_SDE 0x53414d5000000002ull  // SDE step noise of the chunk starting at k
#define SAMPLE_CHUNK 16                          // samples per model batch
#define SAMPLE_MAX_N 256

static const char *USAGE =
    "usage: cgrpo sample --model FILE [--lora ADAPTERS] (--reference REF.png | [--subjects-seed N] --split S --subject I [--pose K])\n"
    "                    --prompt \"TEXT\" --out GRID.png [--n 4] [--seed 0] [--steps 25] [--sampler ode|dance|flow]\n"
    "                    [--eta E] [--cfg-ref 1] [--cfg-txt 1] [--shift 3] [--zoom 4] [--quiet]\n"
    "Draws --n images with a DiT model (a model.safetensors, or a pretraining ckpt.safetensors whose EMA weights\n"
    "are used) and writes one row: the reference, then the samples, each upscaled --zoom times.\n"
    "  --lora ADAPTERS        LoRA adapters of FILE (a LoRA run's lora.safetensors or ckpt.safetensors) added on top\n"
    "  --reference REF.png    the subject's reference photo; another size is resized to the model's (a note says so)\n"
    "  --split/--subject      a SubjectBench subject instead (default subjects seed 1); --pose picks its reference\n"
    "                         photo (0 = centred); the prompt must name the subject's class\n"
    "  --prompt               e.g. \"a sks dog wearing a santa hat\" (unknown words are an error)\n"
    "  --sampler              ode (default, deterministic Euler), dance or flow (SDEs with noise level --eta)\n"
    "  --cfg-ref, --cfg-txt   guidance scales: v = v_none + r (v_ref - v_none) + t (v_full - v_ref); 1 1 = none\n"
    "  --shift                time shift of the sigma schedule (3)\n"
    "Bad input exits with status 2 and one line on stderr.\n";

typedef struct {
    const char *model, *lora, *reference, *prompt, *out;
    long subjects_seed, subject, pose, n, seed, steps, zoom;
    int split, subject_given, quiet;
    const char *sampler;
    double eta, cfg_ref, cfg_txt, shift;
    int eta_given;
} Opts;

static void parse(Opts *o, int argc, char **argv) {
    *o = (Opts){0};
    o->subjects_seed = WORLD_DEFAULT_SUBJECTS_SEED, o->split = -1, o->n = 4, o->steps = 25, o->zoom = 4;
    o->sampler = "ode", o->cfg_ref = 1.0, o->cfg_txt = 1.0, o->shift = FLOW_DEFAULT_SHIFT;
    const CliOpt opts[] = {
        CLI_F("--quiet", &o->quiet),
        CLI_S("--model", &o->model), CLI_S("--lora", &o->lora), CLI_S("--reference", &o->reference), CLI_S("--prompt", &o->prompt),
        CLI_S("--out", &o->out),
        CLI_L("--subjects-seed", &o->subjects_seed, 0, LONG_MAX),
        CLI_FN("--split", cli_parse_split, &o->split),
        CLI_LG("--subject", &o->subject, 0, INT_MAX, &o->subject_given), CLI_L("--pose", &o->pose, 0, 1000),
        CLI_L("--n", &o->n, 1, SAMPLE_MAX_N), CLI_L("--seed", &o->seed, 0, LONG_MAX),
        CLI_L("--steps", &o->steps, 1, 1000), CLI_L("--zoom", &o->zoom, 1, 16),
        CLI_S("--sampler", &o->sampler),
        CLI_DG("--eta", &o->eta, 0.0, 10.0, &o->eta_given), CLI_D("--cfg-ref", &o->cfg_ref, -100.0, 100.0),
        CLI_D("--cfg-txt", &o->cfg_txt, -100.0, 100.0), CLI_D("--shift", &o->shift, 1e-3, 1e3),
    };
    const CliCommand cmd = {.name = "sample", .usage = USAGE, .needs_hint = " (see cgrpo sample --help)",
                            .unknown_hint = " (see cgrpo sample --help)"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!o->model) cg_usage("sample: --model FILE is required");
    if (!o->prompt) cg_usage("sample: --prompt \"TEXT\" is required");
    if (!o->out) cg_usage("sample: --out GRID.png is required");
    int subject_mode = o->split >= 0 || o->subject_given;
    if ((o->reference != NULL) == subject_mode)
        cg_usage("sample: give either --reference REF.png or a SubjectBench subject (--split S --subject I)");
    if (subject_mode && (o->split < 0 || !o->subject_given))
        cg_usage("sample: a SubjectBench subject needs both --split and --subject");
}

// Load a model file or the EMA weights of a pretraining checkpoint. Exits 2 with the reason.
static void load_model(DiTModel *m, const char *path, int max_B) {
    char err[1024];
    if (dit_load_any(path, m, max_B, NULL, err, sizeof err)) cg_usage("--model: %s", err);
    if (m->cfg.channels != DATA_CHANNELS)
        cg_usage("--model: %s has %d channels, cgrpo draws RGB (3)", path, m->cfg.channels);
    if (m->cfg.vocab < TOK_VOCAB_SIZE)
        cg_usage("--model: %s has a vocabulary of %d tokens, the tokenizer needs %d", path, m->cfg.vocab, TOK_VOCAB_SIZE);
}

// One axis of a resize: out[o * so] from in[i * si], n_in -> n_out. Shrinking averages the input
// area each output pixel covers; growing (or equal) interpolates linearly between pixel centres.
static void resample_1d(float *out, size_t so, const float *in, size_t si, int n_in, int n_out) {
    if (n_out < n_in) {
        const double r = (double)n_in / (double)n_out;
        for (int o = 0; o < n_out; o++) {
            const double a = o * r, b = (o + 1) * r;
            double acc = 0.0;
            for (int i = (int)floor(a); i < n_in && i < (int)ceil(b); i++) {
                double lo = a > i ? a : i, hi = b < i + 1 ? b : i + 1;
                if (hi > lo) acc += (hi - lo) * (double)in[(size_t)i * si];
            }
            out[(size_t)o * so] = (float)(acc / r);
        }
        return;
    }
    for (int o = 0; o < n_out; o++) {
        double x = ((double)o + 0.5) * (double)n_in / (double)n_out - 0.5;
        if (x < 0.0) x = 0.0;
        int i0 = (int)floor(x);
        if (i0 > n_in - 1) i0 = n_in - 1;
        const int i1 = i0 + 1 < n_in ? i0 + 1 : n_in - 1;
        const double f = x - i0;
        out[(size_t)o * so] = (float)((1.0 - f) * in[(size_t)i0 * si] + f * in[(size_t)i1 * si]);
    }
}

// img (H, W, 3) -> out (S, S, 3), separable (rows, then columns).
static void resize_rgb(float *out, const float *img, int W, int H, int S) {
    float *tmp = cg_malloc((size_t)H * (size_t)S * 3 * sizeof(float)); // (H, S, 3)
    for (int y = 0; y < H; y++)
        for (int c = 0; c < 3; c++)
            resample_1d(tmp + (size_t)y * S * 3 + c, 3, img + (size_t)y * W * 3 + c, 3, W, S);
    for (int x = 0; x < S; x++)
        for (int c = 0; c < 3; c++)
            resample_1d(out + (size_t)x * 3 + c, (size_t)S * 3, tmp + (size_t)x * 3 + c, (size_t)S * 3, H, S);
    free(tmp);
}

// The reference PNG as (S, S, 3) in [0, 1].
static void read_reference(float *ref, const char *path, int S, int quiet) {
    unsigned char *rgb = NULL;
    int W = 0, H = 0;
    char err[1024];
    if (cg_png_read_rgb8(path, &rgb, &W, &H, err, sizeof err)) cg_usage("--reference: %s", err);
    const size_t n = (size_t)W * (size_t)H * 3;
    float *img = cg_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) img[i] = (float)rgb[i] / 255.0f;
    free(rgb);
    if (W == S && H == S) {
        memcpy(ref, img, n * sizeof(float));
    } else {
        resize_rgb(ref, img, W, H, S);
        if (!quiet)
            fprintf(stderr, "cgrpo: note: %s is %dx%d, resized to the model's %dx%d (%s%s)\n", path, W, H, S, S,
                    W > S || H > S ? "area average" : "bilinear", W != H ? "; aspect ratio not kept" : "");
    }
    free(img);
}

int cmd_sample(int argc, char **argv) {
    Opts o;
    parse(&o, argc, argv);
    char err[1024];
    flow_sampler fs = {FLOW_ODE, 0.0f, FLOW_INIT_GIVEN, (uint64_t)o.seed, 0};
    if (flow_kind_parse(o.sampler, &fs.kind, err, sizeof err)) cg_usage("--sampler: %s", err);
    fs.eta = o.eta_given ? (float)o.eta : flow_kind_default_eta(fs.kind);
    if (flow_sampler_check(&fs, err, sizeof err)) cg_usage("sample: %s", err);
    if (flow_schedule_check((int)o.steps, (float)o.shift, err, sizeof err)) cg_usage("sample: %s", err);

    // input errors first, before the model is loaded and the sampling runs
    cli_check_file_dest("sample: --out", o.out);
    int ids[TOK_MAX_TOKENS];
    int n_words = tok_encode(ids, o.prompt, err, sizeof err);
    if (n_words < 0) cg_usage("--prompt: %s", err);
    World *world = NULL;
    const Subject *subj = NULL;
    if (!o.reference) {
        world = cg_malloc(sizeof(World));
        world_init(world, (uint64_t)o.subjects_seed);
        subj = world_subject(world, o.split, (int)o.subject);
        if (!subj)
            cg_usage("--subject %ld is out of range: the %s split has subjects 0..%d", o.subject,
                     world_split_name(o.split), world_split_count(o.split) - 1);
        Prompt p;
        if (prompt_parse(&p, o.prompt, subj->cls, err, sizeof err)) cg_usage("--prompt: %s", err);
    }

    const int K = (int)o.n, chunk = K < SAMPLE_CHUNK ? K : SAMPLE_CHUNK;
    const int guided = !(o.cfg_ref == 1.0 && o.cfg_txt == 1.0);
    DiTModel m;
    load_model(&m, o.model, guided ? 3 * chunk : chunk);
    DiTLora lora;
    if (o.lora) cli_attach_lora(&m, &lora, o.lora, o.model);
    const int S = m.cfg.img, Lt = m.cfg.text_len;
    if (n_words > Lt) cg_usage("--prompt has %d words; this model reads at most %d tokens", n_words, Lt);
    const size_t n = dit_image_floats(&m.cfg);

    float *ref01 = cg_malloc(n * sizeof(float)); // the reference in [0, 1] for the grid
    if (o.reference) read_reference(ref01, o.reference, S, o.quiet);
    else render_reference(ref01, NULL, subj, (int)o.pose, S);
    float *ref = cg_malloc((size_t)chunk * n * sizeof(float)); // (chunk, S, S, 3) in [-1, 1]
    int *tokens = cg_malloc((size_t)chunk * (size_t)Lt * sizeof(int));
    for (int b = 0; b < chunk; b++) {
        data_to_model_range(ref + (size_t)b * n, ref01, n);
        memcpy(tokens + (size_t)b * Lt, ids, (size_t)Lt * sizeof(int));
    }

    float *sigmas = cg_malloc(((size_t)o.steps + 1) * sizeof(float));
    flow_sigmas(sigmas, (int)o.steps, (float)o.shift);
    float *x = cg_malloc((size_t)K * n * sizeof(float)); // all samples
    DiTVelocity vctx = {&m, ref, tokens, (float)o.cfg_ref, (float)o.cfg_txt};
    const double t0 = cg_now();
    for (int first = 0; first < K; first += chunk) {
        const int B = K - first < chunk ? K - first : chunk;
        float *xb = x + (size_t)first * n;
        for (int b = 0; b < B; b++)
            cg_rng_fill_normal(xb + (size_t)b * n, n, fs.seed, cg_rng_stream(SAMPLE_STREAM_INIT, (uint64_t)(first + b), 0), 0);
        fs.stream = cg_rng_stream(SAMPLE_STREAM_SDE, (uint64_t)first, 0);
        flow_sample(xb, NULL, NULL, dit_velocity, &vctx, sigmas, (int)o.steps, &fs, B, n);
    }
    const double dt = cg_now() - t0;

    // the grid: reference | samples, on a dark background
    const int z = (int)o.zoom, cell = S * z, gap = 2 * z;
    const long Wt = gap + (long)(K + 1) * (cell + gap) + gap, Ht = cell + 2L * gap;
    if (Wt * Ht > CG_PNG_MAX_PIXELS || Wt > CG_PNG_MAX_SIDE) cg_usage("sample: the grid would be %ldx%ld, too large", Wt, Ht);
    Sheet grid;
    if (sheet_create(&grid, (int)Wt, (int)Ht, 40, err, sizeof err)) cg_usage("sample: %s", err);
    sheet_put_float(&grid, gap, gap, ref01, S, z, SHEET_UNIT_RANGE);
    float *img = cg_malloc(n * sizeof(float));
    for (int k = 0; k < K; k++) {
        data_to_unit_range(img, x + (size_t)k * n, n);
        sheet_put_float(&grid, gap + (k + 1) * (cell + gap) + gap, gap, img, S, z, SHEET_UNIT_RANGE);
    }
    if (sheet_write_png(&grid, o.out, err, sizeof err)) cg_usage("--out: %s", err);
    if (!o.quiet)
        fprintf(stderr, "sample: %d images, %ld %s steps%s, %.2f s (%.2f images/s)\n", K, o.steps,
                flow_kind_name(fs.kind), guided ? " with guidance (3 forwards per step)" : "", dt, K / dt);

    sheet_free(&grid);
    free(img), free(x), free(sigmas), free(tokens), free(ref), free(ref01), free(world);
    if (o.lora) dit_lora_free(&lora);
    dit_free(&m);
    return 0;
}
