// encoder.h: the reward and evaluator encoders as savable models (`cgrpo train-encoder` trains
// them, train/enc_train.h; rl/reward.h scores with them). See docs/design.md and docs/rewards.md.
//
// Three kinds of encoder model, all built on the ViT of models/vit.h:
//   id    image encoder trained contrastively (InfoNCE) on two views of the same subject: a
//         segmented (or plain) reference photo or a target render, against a target render of
//         another prompt, pose and placement. The identity reward and the "DINO" judge.
//   clip  image encoder + text encoder (models/textenc.h) trained contrastively on (target render,
//         prompt tokens) pairs. The prompt reward, and the "CLIP-I" / "CLIP-T" judges.
//   attr  image encoder with classification heads: which scene, accessory, property and class a
//         render shows (ATTR_* below). The attribute judge.
//
// The heads' classes are SubjectBench's (world/prompts.h, world/world.h), and a clip model's text
// tower reads world/tokenizer.h's tokens: this is the one model file that knows the world.
//
// Images entering a model are (N, S, S, 3) HWC in [-1, 1] (the generator's range): a render
// x in [0, 1] enters as 2x - 1.
#ifndef CGRPO_MODELS_ENCODER_H
#define CGRPO_MODELS_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "models/textenc.h"
#include "models/vit.h"
#include "world/prompts.h"
#include "world/world.h"

typedef enum { ENC_ID = 0, ENC_CLIP = 1, ENC_ATTR = 2, ENC_N_KINDS = 3 } EncKind;
const char *enc_kind_name(EncKind k);      // "id", "clip", "attr"
int enc_kind_from_name(const char *name);  // EncKind, or -1 when unknown

// ---- attribute heads ----------------------------------------------------------------------------
// The attr model's heads, in head order, each with a "none" class at its end.
enum { ATTR_SCENE = 0, ATTR_ACCESSORY = 1, ATTR_PROPERTY = 2, ATTR_CLASS = 3, ATTR_N_HEADS = 4 };
#define ATTR_SCENE_NONE PROMPT_N_SCENES          // 20: no scene (studio backdrop)
#define ATTR_ACCESSORY_NONE PROMPT_N_ACCESSORIES // 10
#define ATTR_PROPERTY_NONE PROMPT_N_PROPERTIES   // 5
int attr_n_classes(int head);            // 21, 11, 6, 15
const char *attr_head_name(int head);    // "scene", "accessory", "property", "class"
// "jungle", ..., "none"; class words for ATTR_CLASS
const char *attr_label_name(int head, int label);
// Ground-truth labels (ATTR_N_HEADS) of a prompt's target render.
void attr_labels(int labels[ATTR_N_HEADS], const Prompt *p);

// ---- identity-attribute heads of the id encoder (optional, EncTrainConfig.aux_heads) ----------
// An id encoder may carry ID_AUX_N_HEADS classification heads on its pooled feature that name the
// subject's identity attributes; trained with a cross-entropy next to the InfoNCE loss, they make
// the encoder find the subject in a cluttered scene much sooner (docs/rewards.md has the numbers).
// The embedding, and so the reward, is still the contrastive one.
enum { IDA_BODY = 0, IDA_MAIN = 1, IDA_PATTERN = 2, IDA_SECOND = 3, ID_AUX_N_HEADS = 4 };
int id_aux_n_classes(int head); // body = class x shape (45), main colour (12), pattern (8),
                                // second colour (14 + "none" when the pattern is none: 15)
void id_aux_labels(int labels[ID_AUX_N_HEADS], const Subject *s);

// ---- models -------------------------------------------------------------------------------------

typedef struct {
    EncKind kind;
    ViT img;     // the image encoder (attr: with ATTR_N_HEADS heads)
    TextEnc txt; // ENC_CLIP only; zeroed otherwise
} EncModel;

// The default shapes of each kind (32x32 images, patch 8; attr gets its heads). tcfg may be NULL.
void enc_default_configs(EncKind kind, ViTConfig *vcfg, TextEncConfig *tcfg);
// Does (vcfg, tcfg) fit an encoder of `kind`? RGB images; attr: the ATTR_* heads; id, clip: a
// logit scale and no heads or the optional ones (ID_AUX_* on id, ATTR_* on clip); clip: a text
// config on the tokenizer's vocabulary and length with the image tower's embed_dim. 0, or -1 with
// a reason. (The layer shapes themselves are vit_config_check's and textenc_config_check's.)
int enc_model_config_check(EncKind kind, const ViTConfig *vcfg, const TextEncConfig *tcfg, char *err, size_t errlen);
// Build a model for batches of up to max_B images (and prompts). tcfg is used for ENC_CLIP only
// (its embed_dim must equal vcfg's). 0, or -1 with a reason (bad config).
int enc_model_create(EncModel *m, EncKind kind, const ViTConfig *vcfg, const TextEncConfig *tcfg,
                     int max_B, char *err, size_t errlen);
// Image tower from seed, text tower from seed + 1.
void enc_model_init(EncModel *m, uint64_t seed);
void enc_model_free(EncModel *m);
void enc_model_zero_grad(EncModel *m);
size_t enc_model_n_params(const EncModel *m);

// The model's tensors as checkpoint sections, names prefixed by `prefix` (id / attr: prefix +
// the ViT's names; clip: prefix + "image." / prefix + "text."), over the buffers img_buf (the
// image table's layout) and txt_buf (NULL unless clip). Returns the number of sections (1 or 2).
int enc_model_sections(const EncModel *m, CkptSection out[2], char names[2][64], const char *prefix,
                       float *img_buf, float *txt_buf);
// Metadata keys that describe a model config: "kind" = "encoder-<kind>", "vit.*", and "text.*"
// when kind is ENC_CLIP (tcfg is read only then).
void enc_config_meta(CkptMeta *meta, EncKind kind, const ViTConfig *vcfg, const TextEncConfig *tcfg);
// enc_config_meta of the model's own config.
void enc_model_config_meta(const EncModel *m, CkptMeta *meta);
// Read a model config from such metadata: 0, or -1 with a reason.
int enc_model_config_from_meta(const CkptMeta *meta, EncKind *kind, ViTConfig *vcfg, TextEncConfig *tcfg,
                               char *err, size_t errlen);

// Weights only (plain tensor names as in enc_model_sections with prefix ""), the config metadata
// and `extra` metadata (may be NULL), written atomically.
int enc_model_save(const EncModel *m, const char *path, const CkptMeta *extra, char *err, size_t errlen);
// Create m from a weights file (its config comes from the file's metadata) and load it.
// want_kind: an EncKind the file must hold, or -1 for any. meta_out may be NULL.
int enc_model_load(EncModel *m, const char *path, int want_kind, int max_B, CkptMeta *meta_out,
                   char *err, size_t errlen);

// Unit-norm embeddings: emb (N, D) of images (N, S, S, 3) in [-1, 1] (any N, in chunks of max_B).
void enc_embed_images(EncModel *m, float *emb, const float *img, int N);
// emb (N, D) of prompts tokens (N, TOK_MAX_TOKENS); ENC_CLIP only.
void enc_embed_texts(EncModel *m, float *emb, const int *tokens, int N);
// ENC_ATTR only: softmax probabilities probs[h] (N, attr_n_classes(h)) for every head.
void enc_attr_probs(EncModel *m, float *const probs[ATTR_N_HEADS], const float *img, int N);

#endif
