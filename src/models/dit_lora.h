// dit_lora.h: LoRA adapters for the DiT's blocks (issue 21): low-rank updates of the linears of
// every block over a frozen base model (nn/lora.h for the layer),
//
//   W x + (alpha / R) B (A x)     A (R, in) small random, B (out, R) zero: step 0 is the base
//
// Targets (any subset, default all): qkv "attn.qkv" (3C, C), proj "attn.proj" (C, C), fc1
// "mlp.fc1" (4C, C), fc2 "mlp.fc2" (C, 4C). The adapters' tensors form a ParamTable of their own,
// with gradients and AdamW moments of the same layout, so that the trainer's optimizer, clipping,
// gradient sums and checkpoints run over the adapters alone:
//   "blocks.<l>.attn.qkv.lora_A" (R, C)   "blocks.<l>.attn.qkv.lora_B" (3C, R)   decay 1, ...
// in block order, then target order.
//
//   DiTLora a; dit_lora_create(&a, &base.cfg, 8, 8.0f, DIT_LORA_ALL, base.max_B);
//   dit_lora_init(&a, seed);  a.base_hash = dit_params_hash(&base);
//   dit_lora_attach(&base, &a);        // forward adds the adapters, backward fills a.grads only
//   ...  dit_lora_save(&a, path, NULL, err, sizeof err);
//
// Files: the tensors under "lora." + the table names; metadata: the DiT config (dit_config_to_meta),
// lora.rank, lora.alpha, lora.targets and lora.base_fnv1a64, the FNV-1a 64 of the base's parameter
// floats (dit_params_hash), so that adapters are never applied to another base. A LoRA GRPO
// checkpoint has the same tensors and keys (plus the moments), so dit_lora_load reads both.
#ifndef CGRPO_MODELS_DIT_LORA_H
#define CGRPO_MODELS_DIT_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "models/dit.h"
#include "nn/lora.h"
#include "nn/optim.h"

enum { DIT_LORA_QKV, DIT_LORA_PROJ, DIT_LORA_FC1, DIT_LORA_FC2, DIT_LORA_N_TARGETS };
#define DIT_LORA_ALL ((1 << DIT_LORA_N_TARGETS) - 1)
#define DIT_LORA_TARGETS_DEFAULT "qkv,proj,fc1,fc2"
#define DIT_LORA_MAX_RANK 4096
#define DIT_LORA_PREFIX "lora."

// A comma-separated list of target names ("qkv,fc2") into a bit mask (1 << DIT_LORA_*). 0, or -1
// with a one-line reason (an unknown or repeated name, an empty list).
int dit_lora_parse_targets(const char *list, int *mask, char *err, size_t errlen);
// The list of a mask, in target order ("qkv,proj,fc1,fc2").
void dit_lora_format_targets(char *out, size_t n, int mask);

typedef struct {
    DiTConfig cfg;            // the base's shape
    int rank, targets, max_B; // R; the target mask; the rows of work (max_B T) forward may run
    float alpha;              // scale alpha / R
    uint64_t base_hash;       // dit_params_hash of the base the adapters belong to
    ParamTable table;
    float *params, *grads;    // (table.total) each
    float *adam_m, *adam_v;   // (table.total) each, zeroed by create
    LoraLinear *lin;          // (L, DIT_LORA_N_TARGETS): the adapted linears
    DiTBlockLora *blocks;     // (L): what the blocks read (dit_block.h)
    float *mem, *work;        // params, grads, moments; work u, du (max_B T R) each
} DiTLora;

// Parameters (A random, B 0) of one rank: the adapters' parameter count for (cfg, rank, targets).
size_t dit_lora_param_count(const DiTConfig *cfg, int rank, int targets);
// Builds the table and allocates everything (zero). Dies on bad arguments (a bug: check user input
// first): rank in [1, DIT_LORA_MAX_RANK], targets a non-empty mask, alpha > 0, max_B >= 1.
void dit_lora_create(DiTLora *a, const DiTConfig *cfg, int rank, float alpha, int targets, int max_B);
void dit_lora_free(DiTLora *a);
// A ~ U(-1/sqrt(in), 1/sqrt(in)) from Philox streams keyed by (block, target), B = 0; zeroes the
// gradients and the moments.
void dit_lora_init(DiTLora *a, uint64_t seed);
void dit_lora_zero_grad(DiTLora *a);

// FNV-1a 64 (io/checkpoint.h) of m's parameter floats, in table order.
uint64_t dit_params_hash(const DiTModel *m);

// Points m's blocks at the adapters (m's shape must be a's and m->max_B <= a->max_B; dies
// otherwise) and freezes the base (dit.h lora_attached). detach undoes it.
void dit_lora_attach(DiTModel *m, DiTLora *a);
void dit_lora_detach(DiTModel *m);
// m's weights += (alpha / R) B A for every adapted linear (m is then the merged model; detached).
void dit_lora_merge(DiTModel *m, const DiTLora *a);

// The lora.* keys (rank, alpha, targets, base hash) into meta.
void dit_lora_to_meta(const DiTLora *a, CkptMeta *meta);
// The lora.* keys of a file: 0, or -1 with a reason (a missing or malformed key).
int dit_lora_from_meta(const CkptMeta *meta, int *rank, float *alpha, int *targets, uint64_t *base_hash, char *err,
                       size_t errlen);
// 0 when the adapters' base hash is base's, else -1: "WHAT holds adapters of another base model
// (its base has fnv1a64 X, BASE_NAME has Y)".
int dit_lora_check_base(uint64_t want, const DiTModel *base, const char *what, const char *base_name, char *err,
                        size_t errlen);
// The adapter file: the tensors under DIT_LORA_PREFIX, the DiT config, the lora.* keys and extra
// (may be NULL). Atomic.
int dit_lora_save(const DiTLora *a, const char *path, const CkptMeta *extra, char *err, size_t errlen);
// Creates *a from an adapter file or a LoRA GRPO checkpoint, for base (same DiT config and base
// hash, else refused naming both) and batches of up to max_B. On failure *a is left unallocated.
int dit_lora_load(const char *path, const DiTModel *base, const char *base_name, DiTLora *a, int max_B, char *err,
                  size_t errlen);

#endif
