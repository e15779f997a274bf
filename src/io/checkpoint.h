// checkpoint.h: checkpoints as ONE safetensors file (io/safetensors.h, atomic temp + fsync + rename)
// holding named sections of flat float buffers laid out by a ParamTable, plus string metadata.
//
//   tensor names:  section prefix + table name, e.g. "model.blocks.0.ada.weight",
//                  "ema.blocks.0.ada.weight", "adam_m.…", "adam_v.…" (a prefix may be "" for a
//                  shipped model whose tensors carry their plain names)
//   metadata:      strings only: the model config ("dit.width" = "128", ...), "kind", "step",
//                  RNG state ("rng.seed" / "rng.stream" / "rng.index" as decimal u64), and whatever
//                  else the caller adds (data cursor, ...). ckpt_save adds one key of its own,
//                  CKPT_CHECKSUM_KEY: an FNV-1a 64 checksum of the data buffer, so that a file whose
//                  tensor bytes were damaged is refused on load (safetensors has no checksum of its
//                  own). Files without the key (written by Python, say) load without the check.
//
//   CkptMeta meta; ckpt_meta_init(&meta);
//   ckpt_meta_set(&meta, "kind", "dit");
//   ckpt_meta_set_u64(&meta, "step", step);
//   ckpt_meta_set_rng(&meta, "rng", &rng);
//   CkptSection s[] = {{"model.", &table, params}, {"adam_m.", &table, m}, {"adam_v.", &table, v}};
//   if (ckpt_save(path, s, 3, &meta, err, sizeof err)) cg_die("%s", err);
//   ...
//   CkptMeta got;                                           // filled by ckpt_load
//   if (ckpt_load(path, s, 3, &got, 0, err, sizeof err)) cg_usage("%s", err);
//   if (ckpt_meta_expect(&got, "dit.width", "128", err, sizeof err)) cg_usage("%s", err);
//
// Loading is strict: every tensor that the sections expect must be present with exactly the
// table's shape and a float dtype (the error names the tensor and both shapes), and the file may
// hold no other tensor (the error names one) unless CKPT_IGNORE_EXTRA is passed. Nothing is copied
// into the destination buffers until the whole file has been validated, so a failed load leaves
// them untouched. Every function that reads a file returns 0, or -1 with a one-line reason.
#ifndef CGRPO_IO_CHECKPOINT_H
#define CGRPO_IO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/check.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/optim.h"

#define CKPT_CHECKSUM_KEY "ckpt.fnv1a64"

// FNV-1a 64 continued from h over n bytes (start: CKPT_FNV_OFFSET): the checksum of CKPT_CHECKSUM_KEY.
#define CKPT_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t ckpt_fnv1a64(uint64_t h, const void *data, size_t n);

// ---- metadata: an ordered list of unique string keys with string values ----------------------------

typedef struct {
    char **keys;   // (n) owned
    char **values; // (n) owned
    int n, cap;
} CkptMeta;

void ckpt_meta_init(CkptMeta *m);
void ckpt_meta_free(CkptMeta *m); // and re-init, so it may be reused
// Set key to value (replacing an existing value; new keys are appended in order).
void ckpt_meta_set(CkptMeta *m, const char *key, const char *value);
void ckpt_meta_setf(CkptMeta *m, const char *key, const char *fmt, ...) CG_PRINTF(3, 4);
void ckpt_meta_set_u64(CkptMeta *m, const char *key, uint64_t value); // decimal
void ckpt_meta_set_int(CkptMeta *m, const char *key, long value);     // decimal
const char *ckpt_meta_get(const CkptMeta *m, const char *key);       // NULL when absent

// Strict decimal parsing of a value: absent key, empty string, sign (u64), junk or out of range
// -> -1 with a reason naming the key and the value.
int ckpt_meta_get_u64(const CkptMeta *m, const char *key, uint64_t *out, char *err, size_t errlen);
int ckpt_meta_get_int(const CkptMeta *m, const char *key, long lo, long hi, long *out, char *err,
                      size_t errlen);

// RNG state as three decimal u64: prefix.seed, prefix.stream, prefix.index (prefix e.g. "rng").
void ckpt_meta_set_rng(CkptMeta *m, const char *prefix, const cg_rng *r);
int ckpt_meta_get_rng(const CkptMeta *m, const char *prefix, cg_rng *out, char *err, size_t errlen);

// 0 when key is present with exactly the value want, else -1 with
// "checkpoint has KEY=VALUE, this run wants WANT" (or "checkpoint has no KEY, ...").
int ckpt_meta_expect(const CkptMeta *m, const char *key, const char *want, char *err, size_t errlen);

// ---- sections -------------------------------------------------------------------------------------

typedef struct {
    const char *prefix;      // prepended to every table name ("model.", "ema.", "" ...)
    const ParamTable *table; // names, shapes and offsets
    float *data;             // table->total floats: read by save, written by load
} CkptSection;

#define CKPT_IGNORE_EXTRA 1 // ckpt_load flag: tensors outside the sections are allowed (and skipped)

// Write every section's tensors (F32, in section then table order) and the metadata, plus
// CKPT_CHECKSUM_KEY (a caller's value for that key is replaced), atomically to path.
int ckpt_save(const char *path, const CkptSection *sections, int n_sections, const CkptMeta *meta,
              char *err, size_t errlen);

// Read path, validate it against the sections (see the header comment), verify the checksum when
// the file has one, then fill every section's data (F16/BF16/F64 files are widened/narrowed to
// float). meta_out (or NULL) receives the file's metadata minus CKPT_CHECKSUM_KEY; it is
// initialized by the call and left empty on failure. flags: 0 or CKPT_IGNORE_EXTRA.
int ckpt_load(const char *path, const CkptSection *sections, int n_sections, CkptMeta *meta_out,
              int flags, char *err, size_t errlen);

// Only the metadata (minus the checksum key), e.g. to build a model from its config before
// loading its tensors. The file is still fully validated as safetensors.
int ckpt_read_meta(const char *path, CkptMeta *meta_out, char *err, size_t errlen);

// The same two steps on a file that is already open (st_open), so that a caller who needs the
// metadata first reads the file once. `what` names the file in messages (usually its path).
void ckpt_meta_from_file(const st_file *f, CkptMeta *meta_out);
int ckpt_load_file(const st_file *f, const char *what, const CkptSection *sections, int n_sections,
                   int flags, char *err, size_t errlen);

#endif
