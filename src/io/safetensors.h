// safetensors.h: read and write the safetensors format (https://huggingface.co/docs/safetensors).
//
//   bytes [0, 8)        u64 little-endian N: length of the JSON header
//   bytes [8, 8 + N)    UTF-8 JSON object: tensor name -> {"dtype": "F32", "shape": [2, 3],
//                       "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
//                       string -> string. Writers pad the header with spaces to a multiple of 8.
//   bytes [8 + N, EOF)  the data buffer; offsets are relative to its start, row-major, little-endian.
//
// Reading is strict: every malformed input is rejected with a one-line reason (never an exit, never
// an over-read), so the parser can be driven by a fuzzer. The tensors must cover the data buffer
// exactly: no overlaps, no gaps, no trailing bytes (the reference implementation checks the same).
//
//   st_file f;  char err[256];
//   if (st_open("model.safetensors", &f, err, sizeof err) != 0) cg_usage("%s", err);
//   const st_tensor *t = st_find(&f, "blocks.0.attn.w");         // NULL when absent
//   st_get_f32(&f, "blocks.0.attn.w", dst, 128 * 128, err, sizeof err);  // F32/F16/BF16 -> float
//   st_close(&f);
//
// Writing is atomic: a temp file in the target's directory, fflush + fsync, then rename() over the
// target (and an fsync of the directory), so a crash leaves either the old file or the new one.
#ifndef CGRPO_IO_SAFETENSORS_H
#define CGRPO_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8                         // tensors of higher rank are rejected
#define ST_MAX_HEADER ((size_t)100 << 20)     // 100 MiB, the reference implementation's limit

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64,
    ST_N_DTYPES
} st_dtype;

const char *st_dtype_name(st_dtype d);   // "F32", ...
size_t st_dtype_size(st_dtype d);        // bytes per element
int st_dtype_parse(const char *s, st_dtype *out); // 0 on success, -1 if unknown

typedef struct {
    char *name;                 // owned, non-empty, valid UTF-8
    st_dtype dtype;
    int ndim;                   // 0 (a scalar) .. ST_MAX_DIMS
    size_t shape[ST_MAX_DIMS];  // shape[0 .. ndim)
    size_t numel;               // product of shape (1 for a scalar, 0 if a dim is 0)
    size_t offset;              // byte offset of the first element within the data buffer
    size_t nbytes;              // numel * st_dtype_size(dtype)
} st_tensor;

typedef struct {
    st_tensor *tensors;         // (n_tensors), in header order
    size_t n_tensors;
    char **meta_keys;           // (n_meta), owned, in header order
    char **meta_values;         // (n_meta), owned
    size_t n_meta;
    const unsigned char *data;  // the data buffer (points into `owned` or the caller's buffer)
    size_t data_len;            // bytes
    size_t header_len;          // N, the JSON header length in bytes
    unsigned char *owned;       // the whole file when read by st_open, else NULL
} st_file;

// Parse and validate an in-memory file image. On success f->data points INTO buf: keep buf alive
// while using f. Returns 0, or -1 with a one-line reason in err (f is then empty: st_close is a no-op).
int st_parse(const unsigned char *buf, size_t len, st_file *f, char *err, size_t errlen);
// Read a whole file (size validated before reading) and parse it; the reason names the path.
int st_open(const char *path, st_file *f, char *err, size_t errlen);
// Free everything (safe on a zeroed or failed st_file).
void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name); // NULL if absent
const char *st_meta(const st_file *f, const char *key);       // NULL if absent
size_t st_total_params(const st_file *f);                      // sum of numel

// Copy tensor `name` into dst as floats: F32 as is, F16 and BF16 widened exactly, F64 narrowed
// (rounded to nearest). `count` must equal the tensor's element count. Returns 0 or -1 + reason
// (absent name, count mismatch, dtype that is not a float type).
int st_get_f32(const st_file *f, const char *name, float *dst, size_t count, char *err, size_t errlen);

// One tensor to write. data holds numel * st_dtype_size(dtype) bytes in little-endian order.
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;                   // 0 .. ST_MAX_DIMS
    const size_t *shape;        // (ndim); may be NULL when ndim == 0
    const void *data;
} st_write_tensor;

// Write tensors (in the order given, data contiguous) and metadata (may be n_meta = 0 and NULL
// arrays) atomically to path. Names must be non-empty, unique, valid UTF-8 and not "__metadata__";
// metadata keys unique and valid UTF-8. Returns 0, or -1 with a reason; on failure the temp file is
// removed and an existing file at path is untouched.
int st_write(const char *path, const st_write_tensor *tensors, size_t n, const char *const *meta_keys,
             const char *const *meta_values, size_t n_meta, char *err, size_t errlen);
// The common case: n F32 tensors; shapes[i] has ndims[i] entries, data[i] their product floats.
int st_write_f32(const char *path, const char *const *names, const size_t *const *shapes,
                 const int *ndims, const float *const *data, size_t n, const char *const *meta_keys,
                 const char *const *meta_values, size_t n_meta, char *err, size_t errlen);

// Half-precision conversions. Widening is exact; narrowing rounds to nearest, ties to even,
// overflows to +-inf, keeps NaN a NaN (quiet) and produces subnormals where due.
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t b);
uint16_t st_f32_to_f16(float x);
uint16_t st_f32_to_bf16(float x);

#endif
