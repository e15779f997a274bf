// reward.h: rewards and judges as named objects with one batched scoring function, so that the
// GRPO trainer combines any set of them by name from its config, evaluation uses the same code,
// and a reward of another kind (another process, a server) plugs in without touching either.
//
//   char err[256];
//   Reward *id = reward_create_by_name("id", "models", err, sizeof err);      // NULL + reason
//   RewardBatch b = {.B = B, .S = 32, .images = imgs, .ref_seg = refs};     // what id needs
//   float scores[B];
//   if (reward_score(id, &b, scores, err, sizeof err)) ...;                  // -1 + reason
//   reward_free(id);
//
// Built-in rewards (each reads one weights file of the models directory, made by
// `cgrpo train-encoder`, see docs/rewards.md):
//
//   name            file                      score of image i                        needs
//   id              id.safetensors            100 cos(E(image), E(segmented ref))     ref_seg
//   prompt          prompt.safetensors        100 cos(E_img(image), E_txt(prompt))    tokens
//   judge-id        judge_id.safetensors      100 cos(E(image), E(segmented ref))     ref_seg   "DINO"
//   judge-id-plain  judge_id.safetensors      100 cos(E(image), E(plain ref))         ref_plain "DINO" (plain)
//   judge-clip-i    judge_clip.safetensors    100 cos(E_img(image), E_img(plain ref)) ref_plain "CLIP-I"
//   judge-clip-t    judge_clip.safetensors    100 cos(E_img(image), E_txt(prompt))    tokens    "CLIP-T"
//   attr            attr.safetensors          100 P(scene, accessory and property of  prompts
//                                             the prompt), heads taken as independent
//   id-pix          id.safetensors            50 cos(E(image), E(segmented ref))      ref_seg
//                                             + 50 pixcos(image, segmented ref)
//
// id-pix is the copy-sensitive identity reward of issue 18 (docs/subjectbench.md, "Copy-paste"):
// the paper's DINO-Seg reward pays for reproducing the reference's layout, pose and colours, while
// `id` was trained to be invariant to them, so that on the generator's own rollouts copying the
// reference does not pay in `id`. pixcos is the cosine of the two images' pixel vectors after each
// has its own mean removed (0 when either is constant): a pasted reference scores near 100 on it.
//
// Scale: every similarity is 100 x cosine (in [-100, 100]), as the paper's code scores DINO. For
// the prompt reward this is a fixed scale rather than the learned logit scale, so values do not
// move with the model's temperature; docs/rewards.md gives the measured spread of each. The GRPO
// trainer z-scores rewards per group, so the scale only matters for logs.
//
// Images: every image in a RewardBatch is (S, S, 3) HWC float in [-1, 1], the generator's range
// (a render x in [0, 1] enters as 2x - 1, see reward_from_render). Scoring a group whose rows
// share one reference (or prompt) embeds it once: equal consecutive rows are embedded once.
//
// Writing another reward: allocate a Reward with malloc, fill name, needs, S, score, free and
// state, and hand it to the trainer like a built-in one; reward_free calls r->free(r) and then
// frees r. The `http` kind (rl/reward_http.h) is one such: its scores come from a reward server.
#ifndef CGRPO_RL_REWARD_H
#define CGRPO_RL_REWARD_H

#include <stddef.h>

#include "models/encoder.h"
#include "world/prompts.h"
#include "world/world.h"

#define REWARD_NAME_MAX 32

typedef struct {
    int B;                          // images to score
    int S;                          // image side
    const float *images;            // (B, S, S, 3) in [-1, 1]
    const float *ref_seg;           // (B, S, S, 3) in [-1, 1]: segmented reference of row i, or NULL
    const float *ref_plain;         // (B, S, S, 3) in [-1, 1]: plain reference of row i, or NULL
    const int *tokens;              // (B, TOK_MAX_TOKENS) prompt token ids of row i, or NULL
    const Prompt *prompts;          // (B) parsed prompt of row i, or NULL
    const Subject *const *subjects; // (B) SubjectBench subject of row i when known, or NULL
} RewardBatch;

// Which fields of a RewardBatch a reward reads (Reward.needs).
enum { REWARD_NEEDS_SEG = 1, REWARD_NEEDS_PLAIN = 2, REWARD_NEEDS_TOKENS = 4, REWARD_NEEDS_PROMPTS = 8 };

typedef struct Reward Reward;
struct Reward {
    char name[REWARD_NAME_MAX];
    int needs; // REWARD_NEEDS_* bits
    int S;     // the image side it takes, 0 for any
    // scores (B): one per image. 0, or -1 with a one-line reason in err.
    int (*score)(Reward *r, const RewardBatch *b, float *scores, char *err, size_t errlen);
    void (*free)(Reward *r); // releases state (not r itself); may be NULL
    void *state;
};

// Cosine of a and b (n floats) after subtracting each one's mean; 0 when either is constant.
double reward_pixel_cosine(const float *a, const float *b, size_t n);

// The built-in rewards, in the table order above.
int reward_n_builtin(void);
const char *reward_builtin_name(int i);
const char *reward_builtin_file(int i);        // e.g. "id.safetensors"
const char *reward_builtin_description(int i); // one line

// Create built-in reward `name`, loading its weights file from models_dir. NULL with a reason
// (unknown name with the list of known ones, missing or malformed file, wrong model kind).
Reward *reward_create_by_name(const char *name, const char *models_dir, char *err, size_t errlen);
// Check that b carries what r needs (and the right image side), then score. 0, or -1 + reason.
int reward_score(Reward *r, const RewardBatch *b, float *scores, char *err, size_t errlen);
void reward_free(Reward *r); // NULL is fine

// The encoder model behind a built-in reward (models/encoder.h EncModel), for callers that want
// more than the score (cgrpo score prints the attr model's predicted labels); NULL for others.
EncModel *reward_encoder(Reward *r);

// A set of rewards from a comma-separated list of names ("id,prompt").
typedef struct {
    Reward **r; // (n)
    int n;
} RewardSet;
int reward_set_create(RewardSet *set, const char *names, const char *models_dir, char *err, size_t errlen);
// scores (n, B): row k holds reward k's scores. 0, or -1 + reason (naming the reward).
int reward_set_score(RewardSet *set, const RewardBatch *b, float *scores, char *err, size_t errlen);
void reward_set_free(RewardSet *set);

// ---- inputs -------------------------------------------------------------------------------------

// dst (n) = 2 src - 1: a [0, 1] render (or PNG / 255) into the rewards' [-1, 1] range. dst may be src.
void reward_from_render(float *dst, const float *src, size_t n);

// Estimate the subject's mask of a reference photo on a plain background (a PNG with no mask):
// the background colour is the per-channel median of the border pixels, and a pixel's coverage
// ramps from 0 at colour distance REWARD_MASK_LO to 255 at REWARD_MASK_HI (Euclidean, [0,1] RGB),
// and near-background holes that the border cannot reach through near-background pixels (a white
// patch inside a light subject) are set to 255, unless they have the background colour itself
// (within REWARD_MASK_LO / 2: the gap inside a teapot's handle). img (S, S, 3) in [0, 1], mask (S, S).
// On renderer references (background 0.9 grey) the background comes out exactly 0 and the
// renderer's subject pixels subject; tests/test_reward.c measures it.
#define REWARD_MASK_LO 0.03f
#define REWARD_MASK_HI 0.12f
void reward_estimate_mask(unsigned char *mask, const float *img, int S);

#endif
