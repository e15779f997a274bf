// data.h: the pretraining batch maker. (reference, prompt, target) triples drawn on the fly from
// SubjectBench, with the flow-matching noise level, noise and classifier-free-guidance dropout.
//
// Everything about sample b of step s is a pure function of (seed, s, b) through counter-based
// Philox streams (core/rng.h), so a resumed run needs only the step, and nothing depends on the
// number of threads or on how the batch is split:
//   draws (stream cg_rng_stream(DATA_STREAM_*_DRAWS, s, b)), in this order:
//     subject        uniform over the split's subjects
//     template       uniform over -1..24: the plain prompt "a sks <class>" (studio backdrop) or one
//                    of the 25 DreamBench templates of the subject's kind (prompts.h)
//     pose           reference photo index, uniform over [0, ref_poses)
//     render seed    64 bits: the target's placement and scene details (render_target)
//     sigma          logit-normal: sigmoid(sigma_loc + sigma_scale z), z ~ N(0, 1)
//     drop_ref       1 with probability p_drop_ref
//     drop_txt       1 with probability p_drop_txt (independent of drop_ref)
//   noise (stream cg_rng_stream(DATA_STREAM_*_NOISE, s, b)): element j is Philox block j.
// Training batches use the TRAIN split and the run's seed; the validation set uses the VAL split,
// its own seed and stream tags, step 0 and b = its sample index, and never drops a condition.
//
// Images are HWC floats in [-1, 1] (renderer's [0, 1] mapped by 2 x - 1); targets x0 and
// references are rendered in parallel over b (OpenMP); the renderer is pure, so the bytes do not
// depend on the thread count.
#ifndef CGRPO_TRAIN_DATA_H
#define CGRPO_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "world/world.h"

#define DATA_STREAM_TRAIN_DRAWS 0x4441544100000001ull // "DATA" 1
#define DATA_STREAM_TRAIN_NOISE 0x4441544100000002ull
#define DATA_STREAM_VAL_DRAWS 0x4441544100000003ull
#define DATA_STREAM_VAL_NOISE 0x4441544100000004ull

#define DATA_CHANNELS 3
#define DATA_MAX_POSES 64

typedef struct {
    int img;            // image side S
    int text_len;       // tokens per sample (Lt), >= data_max_prompt_words(), <= TOK_MAX_TOKENS
    int ref_poses;      // reference pose drawn from [0, ref_poses), 1..DATA_MAX_POSES
    float p_drop_ref;   // probability of dropping the reference (CFG), [0, 1]
    float p_drop_txt;   // probability of dropping the prompt (CFG), [0, 1]
    float sigma_loc;    // logit-normal location (0: centred on sigma = 0.5)
    float sigma_scale;  // logit-normal scale (1), > 0
} DataConfig;

// One sample's discrete draws (what data_make rendered; for tests and diagnostics).
typedef struct {
    int subject;          // index within the split
    int template_index;   // -1 (plain) .. 24
    int pose;             // reference pose index
    uint64_t render_seed; // render_target seed
    float sigma;          // noise level in (0, 1)
    unsigned char drop_ref, drop_txt;
} DataDraw;

typedef struct {
    int max_B, S, text_len;
    size_t n;                           // floats per image: S * S * 3
    float *x0;                          // (max_B, S, S, 3) targets in [-1, 1]
    float *ref;                         // (max_B, S, S, 3) references in [-1, 1]
    float *noise;                       // (max_B, S, S, 3) N(0, 1)
    float *sigma;                       // (max_B)
    int *tokens;                        // (max_B, text_len) prompt ids, PAD (0) after the words
    unsigned char *drop_ref, *drop_txt; // (max_B)
    DataDraw *draws;                    // (max_B)
} DataBatch;

// img 32, text_len 16, ref_poses 6, p_drop_ref 0.1, p_drop_txt 0.1, sigma_loc 0, sigma_scale 1
DataConfig data_config_default(void);
// 0, or -1 with a one-line reason naming the field.
int data_config_check(const DataConfig *c, char *err, size_t errlen);
// The most words of any prompt the batch maker can draw (plain or template, any class): 13.
int data_max_prompt_words(void);

void data_batch_alloc(DataBatch *bt, const DataConfig *c, int max_B);
void data_batch_free(DataBatch *bt);

// The draws of sample b of step `step` from the stream tagged `draws_tag` over `n_subjects`
// subjects (pure). p_drop_* of c are used as given (the validation set passes a config with 0).
void data_draw(DataDraw *d, const DataConfig *c, uint64_t seed, uint64_t draws_tag, uint64_t step, int b,
               int n_subjects);

// Training batch of step `step`: samples 0..B-1 from the TRAIN split of w. 1 <= B <= max_B.
void data_make_train(DataBatch *bt, const DataConfig *c, const World *w, uint64_t seed, uint64_t step, int B);
// Validation samples first .. first + B - 1 (VAL split, no dropout) into slots 0..B-1.
void data_make_val(DataBatch *bt, const DataConfig *c, const World *w, uint64_t val_seed, int first, int B);

// Float image in [0, 1] -> [-1, 1] and back (n values; out may alias in).
void data_to_model_range(float *out, const float *in, size_t n);
void data_to_unit_range(float *out, const float *in, size_t n);

#endif
