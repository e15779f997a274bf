// enc_data.h: the SubjectBench data that trains the reward and evaluator encoders
// (models/encoder.h; the loop is train/enc_train.h): populations of TRAIN subjects and the batches
// of each kind, rendered on the fly.
//
// Populations. The rewards and the evaluators train on disjoint halves of the TRAIN subjects of a
// subjects seed: ENC_POP_REWARD holds train subject i when i % 4 is 0 or 1, ENC_POP_JUDGE when it
// is 2 or 3. (Not "even / odd": world.h makes every even subject an object and every odd one a
// live subject, so an even/odd split would give the rewards no cat, dog or accessory at all. With
// i % 4 each half holds 100 objects and 100 live subjects.) VAL subjects select the model
// (the best validation score is what gets exported); TEST subjects are never seen in training.
//
// Determinism: batch `step` is a pure function of (seed, step): item b of its renders and noise of
// (seed, step, b), whatever the thread count.
#ifndef CGRPO_TRAIN_ENC_DATA_H
#define CGRPO_TRAIN_ENC_DATA_H

#include <stdint.h>

#include "models/encoder.h"
#include "world/prompts.h"
#include "world/world.h"

// At most this many subjects worlds feed one encoder's data (EncTrainConfig.worlds).
#define ENC_MAX_WORLDS 64

// ---- populations --------------------------------------------------------------------------------
typedef enum { ENC_POP_REWARD = 0, ENC_POP_JUDGE = 1, ENC_POP_ALL = 2 } EncPopulation;
const char *enc_population_name(EncPopulation p); // "reward", "judge", "all"
int enc_population_from_name(const char *name);   // -1 when unknown
// Does train subject `index` belong to population p?
int enc_population_has(EncPopulation p, int index);

// ---- training data ------------------------------------------------------------------------------

typedef struct {
    const Subject **pop; // (n) the population: TRAIN subjects of the worlds given to enc_data_init
    int n;
    int n_excluded;      // subjects of the extra worlds left out as too close to a VAL / TEST subject
    int S;              // image side
    uint64_t seed;      // data seed
    float noise;        // augmentation: each image gets N(0, sigma^2) pixel noise, sigma ~ U(0, noise)
    int property_views; // id: property-edited renders (red, purple, shiny, wet, cube) may be views
    long curriculum;    // id: > 0: the share of target views in a scene (not the plain studio)
                        // grows from 1/4 at step 0 to the uniform 20/21 at this step
    int look_alikes;    // id: > 0: a batch holds groups of this many subjects of one class (hard
                        // negatives side by side); 0: subjects drawn uniformly
    float focus;        // clip, attr: weight of accessory and property templates (others 1)
} EncData;

// The population is the `pop` half of the TRAIN split of worlds[0], then of worlds[1..n_worlds-1]
// (more subjects of the same kinds, for encoders that must generalize to unseen subjects). A
// subject of an extra world that differs from a VAL or TEST subject of worlds[0] in fewer than 2
// identity attributes is left out (n_excluded), the same margin the world keeps between its own
// TRAIN and TEST subjects (world.h), so that validation and test stay unseen. worlds must outlive d.
void enc_data_init(EncData *d, const World *worlds, int n_worlds, EncPopulation pop, int S, uint64_t seed,
                   float noise, int property_views);
// Subjects seed of world j of an encoder trained with `worlds`: subjects_seed + j.
uint64_t enc_world_seed(uint64_t subjects_seed, int j);
void enc_data_free(EncData *d);

// The B distinct population subjects of identity step `step` (B <= d->n). look_alikes k = 0: a
// uniform draw. k > 0: classes in a random order, each giving up to k of its subjects (drawn
// without replacement, adjacent in out), round after round until B are chosen.
void enc_id_subjects(const EncData *d, const Subject **out, long step, int B);

// Identity batch of step `step`: V views of the B subjects of enc_id_subjects, views (V B, S, S, 3) with row
// v B + b = view v of subject b, and labels (V B, ID_AUX_N_HEADS) their identity attributes, or
// NULL. View 0 is a segmented reference (40%), a plain reference (10%) or a target render (50%);
// views 1.. are target renders: poses 0..5, prompts of the subject's kind (scenes, accessories, the
// plain prompt; property edits only with property_views), random placements. B <= d->n.
void enc_id_batch(const EncData *d, float *views, int *labels, long step, int B, int V);

// CLIP batch: images (B, S, S, 3), tokens (B, TOK_MAX_TOKENS) and labels (B, ATTR_N_HEADS) or
// NULL: ENC_CLIP_GROUP prompts per subject (distinct templates among the 25 and the plain one,
// accessory and property templates weighted by d->focus), so that every image meets other prompts
// of the same subject in its batch, and no two equal prompt texts in one batch (unless one class
// has 7 or more subjects in it: 26 templates cannot go round, and its texts may then repeat).
#define ENC_CLIP_GROUP 4
void enc_clip_batch(const EncData *d, float *images, int *tokens, int *labels, long step, int B);
// Attribute batch: images (B, S, S, 3) and labels (B, ATTR_N_HEADS); templates drawn from the
// subject's 25 and the plain prompt, accessory and property ones with weight d->focus.
void enc_attr_batch(const EncData *d, float *images, int *labels, long step, int B);

#endif
