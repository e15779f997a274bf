// textenc.h: the text tower of the CLIP-style image-text scorer (docs/design.md), and
// the contrastive step that trains it together with an image encoder (vit.h).
//
//   tokens (B, Lt) ids in [0, V), 0 = PAD (tokenizer.h pads prompts to TOK_MAX_TOKENS = 16)
//   -> token embedding (V, C) + learned pos embed (Lt, C)
//   -> L ViT blocks with key_mask = (token != PAD)  -> final affine LayerNorm
//   -> mean over the non-PAD positions (B, C)  -> linear C -> D  -> L2 normalize -> emb (B, D)
//
// PAD positions never influence the embedding of a prompt: they are masked out as attention keys
// (probability exactly 0) and left out of the pooling, and every other layer is row-wise. So the
// PAD embedding row and the positional rows under PADs can hold anything: the embedding is
// bit-identical (tests/test_vit.c checks it) and their gradients are exactly 0.
// A prompt with no token at all (every id PAD) is still defined: its row attends to and pools
// over all Lt positions. No training recipe uses it.
//
// Buffers as in vit.h: the model owns params, grads, AdamW moments m, v (same layout, m and v
// start at 0), and activations for up to max_B prompts; forward/backward never allocate.
// Bit-identical for any number of OpenMP threads.
#ifndef CGRPO_MODELS_TEXTENC_H
#define CGRPO_MODELS_TEXTENC_H

#include <stddef.h>
#include <stdint.h>

#include "models/vit.h"
#include "nn/optim.h"

#define TEXTENC_PAD 0

typedef struct {
    int max_len;   // Lt, tokens per prompt (16 for SubjectBench prompts)
    int vocab;     // V, including PAD = 0
    int width;     // C
    int depth;     // L (0 allowed)
    int n_heads;   // NH, C % NH == 0
    int embed_dim; // D, must equal the image encoder's D to be trained against it
} TextEncConfig;

// 0 if usable, else -1 with a one-line reason in err.
int textenc_config_check(const TextEncConfig *cfg, char *err, size_t errlen);

// Pointers into a flat parameter (or gradient) buffer.
typedef struct {
    float *tok;    // (V, C)  "tok_embed.weight"  decay 0
    float *pos;    // (Lt, C) "pos_embed"         decay 0
    //                        "blocks.<l>.*", "norm.weight", "norm.bias": in ViTTrunk
    float *proj_w; // (D, C)  "proj.weight"       decay 1
    float *proj_b; // (D)     "proj.bias"         decay 0
} TextEncWeights;

typedef struct {
    TextEncConfig cfg;
    int max_B;
    ParamTable table;
    float *params, *grads, *m, *v; // (table.total) each, owned
    TextEncWeights w, g;
    ViTTrunk trunk;
    int B;                   // batch of the last forward
    int *tokens;             // (B, Lt) copy of the input ids
    unsigned char *mask;     // (B, Lt) key mask: 1 = a real token (or every position of an empty prompt)
    int *count;              // (B) positions pooled per prompt
    ViTHead head;            // pooled (B, C) and the projection
    float *emb;              // (B, D) OUTPUT: unit-norm embeddings
    float *demb;             // (max_B, D) training-step scratch
} TextEnc;

int textenc_create(TextEnc *m, const TextEncConfig *cfg, int max_B, char *err, size_t errlen);
void textenc_free(TextEnc *m);
// From a seed (Philox stream cg_rng_stream(TEXTENC_RNG_PURPOSE, 0, 0)), in table order: token and
// pos embeddings N(0, 0.02^2), blocks as vit_block_init, LayerNorm 1 / 0, proj xavier-uniform,
// biases 0. Zeroes grads and the AdamW moments.
#define TEXTENC_RNG_PURPOSE 0x54585430ULL // "TXT0"
void textenc_init(TextEnc *m, uint64_t seed);
void textenc_zero_grad(TextEnc *m);

// tokens (B, Lt) with ids in [0, V) (dies otherwise: ids come from the tokenizer, not users),
// 1 <= B <= max_B -> m->emb (B, D).
void textenc_forward(TextEnc *m, const int *tokens, int B);
// Accumulates (+=) into m->grads from demb (B, D) of the last forward.
void textenc_backward(TextEnc *m, const float *demb);
// emb (N, D) for N prompts tokens (N, Lt), in chunks of max_B.
void textenc_embed(TextEnc *m, float *emb, const int *tokens, int N);

// CLIP step: images (B, img, img, CH) and their prompts tokens (B, Lt), B <= both max_B;
// loss = infonce(img_emb, txt_emb, scale) with the image encoder's logit_scale (clamped as in
// vit_identity_step); backward into both encoders and logit_scale. Needs img->cfg.logit_scale
// and equal embed_dims. The caller zeroes both grads before and steps both optimizers after.
ContrastiveResult clip_step(ViT *img, TextEnc *txt, const float *images, const int *tokens, int B);
// clip_step without the towers' backward: the forward of both, the loss, its gradient in img->demb
// and txt->demb (overwritten) and in the logit scale (accumulated). The caller adds what else it
// trains on this forward (e.g. classification heads) and calls vit_backward and textenc_backward.
ContrastiveResult clip_loss(ViT *img, TextEnc *txt, const float *images, const int *tokens, int B);

#endif
