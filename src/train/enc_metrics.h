// enc_metrics.h: how good are the reward and evaluator encoders? Measured on ground-truth
// renders of one split (VAL for model selection during training, TEST for the shipped numbers of
// `cgrpo eval-rewards`, which averages over worlds with eval/reward_metrics.h), with the same
// scores the rewards give (100 x cosine of unit embeddings, see rl/reward.h):
//
//   identity retrieval  for every target render of subject s: is s's reference the best-scoring
//                       one among the split's references? (top-1 among the split's subjects)
//   identity ordering   pairs (render of s, render of s' != s with the same prompt template, seed
//                       and so the same placement): does s's reference score the first above the
//                       second?
//   prompt retrieval    for every render of (s, template t): is t the best-scoring of the subject's
//                       25 prompt texts?
//   prompt ordering     pairs (render of (s, t), render of (s, t' != t), same seed): does prompt t
//                       score the first above the second?
//   attributes          per head of the attr model: accuracy over all renders, and over the renders
//                       whose prompt has that attribute ("present": scene prompts for the scene
//                       head, and so on).
// "ctx" (recontextualization + accessorization) means the 20 scene / accessory templates 0..19;
// "prop" the 5 property edits 20..24, which change identity cues on purpose and are reported apart.
#ifndef CGRPO_TRAIN_ENC_METRICS_H
#define CGRPO_TRAIN_ENC_METRICS_H

#include <stdint.h>

#include "models/encoder.h"
#include "world/prompts.h"
#include "world/world.h"

// The renders of a split: every subject x 25 templates x n_seeds render seeds.
typedef struct {
    int split, S, n_subjects, n_seeds;
    const Subject **subjects; // (n_subjects)
    long n_images;            // n_subjects * 25 * n_seeds; image index ((s * 25) + t) * n_seeds + k
    float *images;            // (n_images, S, S, 3) in [-1, 1]
    float *ref_seg;           // (n_subjects, S, S, 3) segmented reference (pose 0), [-1, 1]
    float *ref_plain;         // (n_subjects, S, S, 3) plain reference (pose 0), [-1, 1]
    Prompt *prompts;          // (n_subjects * 25)
    int *tokens;              // (n_subjects * 25, TOK_MAX_TOKENS)
} RmSet;

// Render seed k of every (subject, template) is cg_rng_stream(RM_STREAM_RENDER, seed, k), the same
// for every subject and template, so that pairs compare equal placements.
#define RM_STREAM_RENDER 0x524d53455430ULL // "RMSET0"
void rm_set_build(RmSet *set, const World *w, int split, int S, int n_seeds, uint64_t seed);
void rm_set_free(RmSet *set);

enum { RM_REF_SEG = 0, RM_REF_PLAIN = 1 };

typedef struct {
    double top1_ctx, top1_prop, top1_all; // identity retrieval, share in [0, 1]
    double top1_kind[4];                  // ... by PromptKind of the render (scene, accessory, property)
    long n_kind[4];
    double order_ctx, order_prop;         // identity ordering, share of pairs in [0, 1]
    double mean_true, std_true;           // score of a render against its own reference
    double mean_other;                    // ... against the other subjects' references
    double mean_true_prop;                // own-reference score of property-edit renders
    long n_ctx, n_prop, pairs_ctx, pairs_prop;
} RmIdentity;

typedef struct {
    double top1_all, top1_kind[4]; // prompt retrieval, overall and by PromptKind (scene, acc, prop)
    long n_kind[4];
    double order;                  // prompt ordering, share of pairs
    double mean_true, std_true;    // score of a render against its own prompt
    double mean_other;             // ... against the subject's other 24 prompts
    long n, pairs;
} RmPrompt;

typedef struct {
    double acc_all[ATTR_N_HEADS];     // over every render
    double acc_present[ATTR_N_HEADS]; // over renders whose prompt has that attribute (class: all)
    long n_all, n_present[ATTR_N_HEADS];
} RmAttr;

// Identity metrics of an encoder's image embeddings (id, or the image tower of a clip model)
// against the segmented (RM_REF_SEG) or plain (RM_REF_PLAIN) references.
void rm_identity(EncModel *m, const RmSet *set, int ref_kind, RmIdentity *out);
// Prompt metrics of a clip model.
void rm_prompt(EncModel *m, const RmSet *set, RmPrompt *out);
// Attribute accuracies of an attr model.
void rm_attr(EncModel *m, const RmSet *set, RmAttr *out);

// The same metrics from precomputed outputs (what the three above call after running the model):
// emb (n_images, D) unit rows of set->images; ref (n_subjects, D) of the references;
// txt (n_subjects * 25, D) of set->tokens; probs[h] (n_images, attr_n_classes(h)).
void rm_identity_from_emb(const RmSet *set, const float *emb, const float *ref, int D, RmIdentity *out);
void rm_prompt_from_emb(const RmSet *set, const float *emb, const float *txt, int D, RmPrompt *out);
void rm_attr_from_probs(const RmSet *set, const float *const probs[ATTR_N_HEADS], RmAttr *out);

// The validation score that selects a model while it trains, in [0, 1]: id -> identity top1_ctx
// against segmented references; clip -> prompt top1_all; attr -> the mean of acc_present over the
// scene, accessory and property heads. *name receives "id_top1_ctx", "prompt_top1" or
// "attr_acc_present".
double rm_selection_score(EncModel *m, const RmSet *set, const char **name);
// The name rm_selection_score gives its score for an encoder of this kind (EncKind).
const char *rm_selection_name(int kind);

#endif
