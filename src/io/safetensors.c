// safetensors.c: the strict reader and the atomic writer declared in safetensors.h.
//
// Reading, in order: the 8-byte length, the header bytes (length bounds, UTF-8, no control bytes,
// starts with '{'), the JSON (cJSON; a NUL-terminated copy so cJSON can never read past it), each
// entry (fields, dtype, shape, offsets, byte size), duplicate names (sorted, adjacent compare) and
// finally the layout of the data buffer (sorted by offset: no overlap, no gap, no trailing bytes).
#include "io/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"

// ---- dtypes ----------------------------------------------------------------------------------------

static const struct {
    const char *name;
    size_t size;
} DTYPES[ST_N_DTYPES] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1},
    [ST_I16] = {"I16", 2},   [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_I32] = {"I32", 4},   [ST_U32] = {"U32", 4}, [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8}, [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(st_dtype d) { return (unsigned)d < ST_N_DTYPES ? DTYPES[d].name : "?"; }
size_t st_dtype_size(st_dtype d) { return (unsigned)d < ST_N_DTYPES ? DTYPES[d].size : 0; }

int st_dtype_parse(const char *s, st_dtype *out) {
    for (int d = 0; d < ST_N_DTYPES; d++)
        if (strcmp(s, DTYPES[d].name) == 0) {
            *out = (st_dtype)d;
            return 0;
        }
    return -1;
}

// ---- half precision --------------------------------------------------------------------------------

static float bits_to_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint32_t f32_to_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

// f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    if (exp == 0x1F) return bits_to_f32(sign | 0x7F800000u | (man << 13)); // inf, NaN
    if (exp != 0) return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13)); // 127 - 15 = 112
    float v = (float)man * 0x1p-24f; // zero or subnormal: man * 2^-24, exact in f32
    return sign ? -v : v;
}

uint16_t st_f32_to_f16(float x) {
    uint32_t u = f32_to_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00u | (uint16_t)((a >> 13) & 0x3FFu); // quiet NaN
    if (a >= 0x477FF000u) return sign | 0x7C00u; // >= 65520 = 65504 + half an ulp: rounds to inf
    if (a >= 0x38800000u) {                      // >= 2^-14: a normal f16
        uint32_t r = a - 0x38000000u;            // rebias the exponent (112 << 23)
        r += 0x0FFFu + ((r >> 13) & 1u);         // round to nearest, ties to even
        return sign | (uint16_t)(r >> 13);
    }
    if (a <= 0x33000000u) return sign; // <= 2^-25, half the smallest subnormal: ties to even 0
    // subnormal: count units of 2^-24; the mantissa with its hidden bit, shifted right and rounded
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    unsigned shift = 126u - (a >> 23); // 14 .. 24
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++; // may carry into the smallest normal: correct
    return sign | (uint16_t)q;
}

// bf16: the upper half of an f32.
float st_bf16_to_f32(uint16_t b) { return bits_to_f32((uint32_t)b << 16); }

uint16_t st_f32_to_bf16(float x) {
    uint32_t u = f32_to_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u); // quiet NaN
    u += 0x7FFFu + ((u >> 16) & 1u); // round to nearest, ties to even (overflows to inf correctly)
    return (uint16_t)(u >> 16);
}

// ---- small helpers ---------------------------------------------------------------------------------

static void check_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    CG_CHECK(first == 1, "safetensors I/O assumes a little-endian host");
}

// A short, printable, one-line rendering of an untrusted string for error messages: control bytes
// become '?', and long strings are cut with "...". Returns out.
static const char *printable(const char *s, char *out, size_t outlen) {
    size_t j = 0, i = 0;
    for (; s[i] && j + 4 < outlen; i++) out[j++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) ? '?' : s[i];
    if (s[i]) {
        while (j > 0 && j + 4 > outlen) j--;
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}
#define PNAME_LEN 72

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

static uint64_t read_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

// A JSON number that must be a non-negative integer that a double holds exactly (<= 2^53).
// Returns NULL and sets *out, or a reason ("is negative", ...).
static const char *json_size(const cJSON *v, size_t *out) {
    if (!cJSON_IsNumber(v)) return "is not a number";
    double d = v->valuedouble;
    if (!isfinite(d)) return "is not finite";
    if (d < 0) return "is negative";
    if (d != floor(d)) return "is not an integer";
    if (d > 9007199254740992.0) return "is too large (above 2^53)";
    *out = (size_t)d;
    return NULL;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Returns the first string that occurs twice among strs[0..n), or NULL. Sorts a copy: O(n log n).
static const char *find_duplicate(const char *const *strs, size_t n) {
    if (n < 2) return NULL;
    const char **sorted = cg_malloc(n * sizeof *sorted);
    memcpy(sorted, strs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
    free(sorted);
    return dup;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = cg_malloc(n);
    memcpy(p, s, n);
    return p;
}

// ---- reading ---------------------------------------------------------------------------------------

void st_close(st_file *f) {
    if (!f) return;
    if (f->tensors)
        for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    if (f->meta_keys)
        for (size_t i = 0; i < f->n_meta; i++) free(f->meta_keys[i]);
    if (f->meta_values)
        for (size_t i = 0; i < f->n_meta; i++) free(f->meta_values[i]);
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

// The header bytes before JSON parsing: UTF-8, no control bytes but JSON whitespace (cJSON would
// otherwise skip any byte <= 32 as whitespace), no escaped NUL (cJSON would cut the string there),
// and an object start as the very first byte (as the reference implementation requires).
static int check_header_bytes(const unsigned char *h, size_t n, char *err, size_t errlen) {
    if (h[0] != '{') return cg_errf(err, errlen, "header does not start with '{' (byte 0x%02x)", h[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned c = h[i];
        if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return cg_errf(err, errlen, "header has a control byte 0x%02x at offset %zu", c, i);
    }
    if (!utf8_valid(h, n)) return cg_errf(err, errlen, "header is not valid UTF-8");
    for (size_t i = 0; i + 1 < n; i++) {
        if (h[i] != '\\') continue;
        if (h[i + 1] == 'u' && n - i >= 6 && memcmp(h + i + 2, "0000", 4) == 0)
            return cg_errf(err, errlen, "header has an escaped NUL character (\\u0000) in a string");
        i++; // skip the escaped character, so that "\\u0000" (an escaped backslash) is fine
    }
    return 0;
}

// The "__metadata__" object: string -> string, keys unique.
static int parse_metadata(const cJSON *meta, st_file *f, char *err, size_t errlen) {
    char pn[PNAME_LEN];
    if (!cJSON_IsObject(meta)) return cg_errf(err, errlen, "\"__metadata__\" is not an object");
    size_t n = 0;
    for (const cJSON *c = meta->child; c; c = c->next) n++;
    f->meta_keys = cg_calloc(n, sizeof *f->meta_keys);
    f->meta_values = cg_calloc(n, sizeof *f->meta_values);
    f->n_meta = n;
    size_t i = 0;
    for (const cJSON *c = meta->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c) || !c->valuestring)
            return cg_errf(err, errlen, "metadata value for key '%s' is not a string",
                           printable(c->string, pn, sizeof pn));
        f->meta_keys[i] = dup_str(c->string);
        f->meta_values[i] = dup_str(c->valuestring);
    }
    const char *dup = find_duplicate((const char *const *)f->meta_keys, n);
    if (dup) return cg_errf(err, errlen, "duplicate metadata key '%s'", printable(dup, pn, sizeof pn));
    return 0;
}

// One tensor entry: {"dtype": str, "shape": [ints], "data_offsets": [begin, end]}, nothing else.
static int parse_tensor(const cJSON *e, st_tensor *t, size_t data_len, char *err, size_t errlen) {
    char pn[PNAME_LEN];
    const char *nm = printable(e->string, pn, sizeof pn);
    if (!cJSON_IsObject(e)) return cg_errf(err, errlen, "entry '%s' is not an object", nm);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const cJSON **slot = strcmp(c->string, "dtype") == 0          ? &dtype
                             : strcmp(c->string, "shape") == 0        ? &shape
                             : strcmp(c->string, "data_offsets") == 0 ? &offs
                                                                      : NULL;
        char fn[PNAME_LEN];
        if (!slot) return cg_errf(err, errlen, "tensor '%s' has an unknown field '%s'", nm, printable(c->string, fn, sizeof fn));
        if (*slot) return cg_errf(err, errlen, "tensor '%s' has field '%s' twice", nm, c->string);
        *slot = c;
    }
    if (!dtype) return cg_errf(err, errlen, "tensor '%s' has no \"dtype\"", nm);
    if (!shape) return cg_errf(err, errlen, "tensor '%s' has no \"shape\"", nm);
    if (!offs) return cg_errf(err, errlen, "tensor '%s' has no \"data_offsets\"", nm);

    char dn[PNAME_LEN];
    if (!cJSON_IsString(dtype) || !dtype->valuestring) return cg_errf(err, errlen, "tensor '%s': dtype is not a string", nm);
    if (st_dtype_parse(dtype->valuestring, &t->dtype) != 0)
        return cg_errf(err, errlen, "tensor '%s' has unknown dtype '%s'", nm, printable(dtype->valuestring, dn, sizeof dn));

    if (!cJSON_IsArray(shape)) return cg_errf(err, errlen, "tensor '%s': shape is not an array", nm);
    int ndim = 0;
    int has_zero = 0;
    for (const cJSON *c = shape->child; c; c = c->next, ndim++) {
        if (ndim == ST_MAX_DIMS) return cg_errf(err, errlen, "tensor '%s' has more than %d dimensions", nm, ST_MAX_DIMS);
        const char *why = json_size(c, &t->shape[ndim]);
        if (why) return cg_errf(err, errlen, "tensor '%s': shape dimension %d %s", nm, ndim, why);
        if (t->shape[ndim] == 0) has_zero = 1;
    }
    t->ndim = ndim;
    size_t numel = 1;
    if (has_zero) numel = 0;
    else
        for (int d = 0; d < ndim; d++) {
            if (numel > SIZE_MAX / t->shape[d]) return cg_errf(err, errlen, "tensor '%s': the product of its shape overflows", nm);
            numel *= t->shape[d];
        }
    size_t esize = st_dtype_size(t->dtype);
    if (numel > SIZE_MAX / esize) return cg_errf(err, errlen, "tensor '%s': its byte size overflows", nm);
    t->numel = numel;
    t->nbytes = numel * esize;

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return cg_errf(err, errlen, "tensor '%s': data_offsets is not an array of two integers", nm);
    size_t begin = 0, end = 0;
    const char *why = json_size(offs->child, &begin);
    if (why) return cg_errf(err, errlen, "tensor '%s': data_offsets begin %s", nm, why);
    why = json_size(offs->child->next, &end);
    if (why) return cg_errf(err, errlen, "tensor '%s': data_offsets end %s", nm, why);
    if (begin > end) return cg_errf(err, errlen, "tensor '%s': data_offsets begin %zu > end %zu", nm, begin, end);
    if (end > data_len)
        return cg_errf(err, errlen, "tensor '%s': data_offsets end %zu is past the data buffer (%zu bytes)", nm, end, data_len);
    if (end - begin != t->nbytes)
        return cg_errf(err, errlen, "tensor '%s': data_offsets span %zu bytes but %s with %zu elements needs %zu",
                       nm, end - begin, DTYPES[t->dtype].name, numel, t->nbytes);
    t->offset = begin;
    return 0;
}

// qsort over pointers to tensors: by begin offset, then by end offset.
static int cmp_tensor_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    size_t xe = x->offset + x->nbytes, ye = y->offset + y->nbytes;
    return xe < ye ? -1 : xe > ye;
}

// The tensors must tile [0, data_len) exactly: sorted by offset, each starts where the last ended.
static int check_layout(const st_file *f, char *err, size_t errlen) {
    char pa[PNAME_LEN], pb[PNAME_LEN];
    size_t n = f->n_tensors;
    const st_tensor **order = cg_malloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = &f->tensors[i];
    qsort(order, n, sizeof *order, cmp_tensor_offset);
    size_t pos = 0;
    const st_tensor *prev = NULL;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const st_tensor *t = order[i];
        if (t->offset < pos)
            rc = cg_errf(err, errlen, "tensors '%s' and '%s' overlap in the data buffer",
                         printable(prev->name, pa, sizeof pa), printable(t->name, pb, sizeof pb));
        else if (t->offset > pos)
            rc = cg_errf(err, errlen, "data bytes [%zu, %zu) belong to no tensor (a gap before '%s')", pos,
                         t->offset, printable(t->name, pa, sizeof pa));
        pos = t->offset + t->nbytes;
        prev = t;
    }
    if (rc == 0 && pos != f->data_len)
        rc = cg_errf(err, errlen, "data bytes [%zu, %zu) belong to no tensor (trailing bytes)", pos, f->data_len);
    free(order);
    return rc;
}

// The length field against the file size (len >= 8).
static int check_header_length(uint64_t n64, size_t len, char *err, size_t errlen) {
    if (n64 > ST_MAX_HEADER)
        return cg_errf(err, errlen, "header length %llu is absurdly large (limit %zu bytes)", (unsigned long long)n64, ST_MAX_HEADER);
    if (n64 > len - 8)
        return cg_errf(err, errlen, "header length %llu runs past the end of the file (%zu bytes follow the length)",
                       (unsigned long long)n64, len - 8);
    return 0;
}

int st_parse(const unsigned char *buf, size_t len, st_file *f, char *err, size_t errlen) {
    check_little_endian();
    memset(f, 0, sizeof *f);
    if (len == 0) return cg_errf(err, errlen, "file is empty");
    if (len < 8) return cg_errf(err, errlen, "file is %zu bytes, shorter than the 8-byte header length", len);
    uint64_t n64 = read_u64_le(buf);
    if (check_header_length(n64, len, err, errlen) != 0) return -1;
    size_t hlen = (size_t)n64;
    if (hlen < 2) return cg_errf(err, errlen, "header length %zu is too short for a JSON object", hlen);
    const unsigned char *h = buf + 8;
    if (check_header_bytes(h, hlen, err, errlen) != 0) return -1;

    char *copy = cg_malloc(hlen + 1); // NUL-terminated, exactly sized: cJSON cannot run past it
    memcpy(copy, h, hlen);
    copy[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, hlen, &end, 0);
    int rc = 0;
    char pn[PNAME_LEN];
    if (!root) {
        rc = cg_errf(err, errlen, "header is not valid JSON");
        goto done;
    }
    for (const char *p = end; p < copy + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = cg_errf(err, errlen, "header has bytes after the JSON object (at offset %zu)", (size_t)(p - copy));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = cg_errf(err, errlen, "header is not a JSON object");
        goto done;
    }
    f->header_len = hlen;
    f->data = buf + 8 + hlen;
    f->data_len = len - 8 - hlen;

    size_t n_entries = 0, n_metaobj = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) n_metaobj++;
        else n_entries++;
    }
    if (n_metaobj > 1) {
        rc = cg_errf(err, errlen, "duplicate \"__metadata__\" entry");
        goto done;
    }
    f->tensors = cg_calloc(n_entries, sizeof *f->tensors);
    f->n_tensors = n_entries;
    size_t i = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if ((rc = parse_metadata(c, f, err, errlen)) != 0) goto done;
            continue;
        }
        if (c->string[0] == '\0') {
            rc = cg_errf(err, errlen, "a tensor has an empty name");
            goto done;
        }
        f->tensors[i].name = dup_str(c->string);
        if ((rc = parse_tensor(c, &f->tensors[i], f->data_len, err, errlen)) != 0) goto done;
        i++;
    }
    {
        const char **names = cg_malloc((n_entries ? n_entries : 1) * sizeof *names);
        for (size_t k = 0; k < n_entries; k++) names[k] = f->tensors[k].name;
        const char *dup = find_duplicate(names, n_entries);
        if (dup) rc = cg_errf(err, errlen, "duplicate tensor name '%s'", printable(dup, pn, sizeof pn));
        free(names);
        if (rc) goto done;
    }
    rc = check_layout(f, err, errlen);
done:
    cJSON_Delete(root);
    free(copy);
    if (rc) st_close(f);
    return rc;
}

int st_open(const char *path, st_file *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cg_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cg_errf(err, errlen, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cg_errf(err, errlen, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)(SIZE_MAX / 2)) {
        close(fd);
        return cg_errf(err, errlen, "%s: file is too large to read (%lld bytes)", path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    // Check the length field against the real size before reading (and allocating for) the rest.
    if (size >= 8) {
        unsigned char lenbuf[8];
        char why[200];
        if (pread(fd, lenbuf, 8, 0) == 8 && check_header_length(read_u64_le(lenbuf), size, why, sizeof why) != 0) {
            close(fd);
            return cg_errf(err, errlen, "%s: %s", path, why);
        }
    }
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return cg_errf(err, errlen, "%s: cannot allocate %zu bytes to read it", path, size);
    }
    size_t have = 0;
    while (have < size) {
        ssize_t r = pread(fd, buf + have, size - have, (off_t)have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            if (r == 0) return cg_errf(err, errlen, "%s: file shrank while reading (%zu of %zu bytes)", path, have, size);
            return cg_errf(err, errlen, "%s: read failed: %s", path, strerror(e));
        }
        have += (size_t)r;
    }
    close(fd);
    char why[400];
    if (st_parse(buf, size, f, why, sizeof why) != 0) {
        free(buf);
        return cg_errf(err, errlen, "%s: %s", path, why);
    }
    f->owned = buf;
    return 0;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

size_t st_total_params(const st_file *f) {
    size_t total = 0;
    for (size_t i = 0; i < f->n_tensors; i++) total += f->tensors[i].numel;
    return total;
}

int st_get_f32(const st_file *f, const char *name, float *dst, size_t count, char *err, size_t errlen) {
    char pn[PNAME_LEN];
    const st_tensor *t = st_find(f, name);
    if (!t) return cg_errf(err, errlen, "no tensor named '%s'", printable(name, pn, sizeof pn));
    if (count != t->numel)
        return cg_errf(err, errlen, "tensor '%s' has %zu elements, the caller expects %zu",
                       printable(name, pn, sizeof pn), t->numel, count);
    const unsigned char *p = f->data + t->offset;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, p, t->nbytes);
        return 0;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < count; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            dst[i] = t->dtype == ST_F16 ? st_f16_to_f32(h) : st_bf16_to_f32(h);
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < count; i++) {
            double d;
            memcpy(&d, p + 8 * i, sizeof d);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return cg_errf(err, errlen, "tensor '%s' has dtype %s, which does not convert to float",
                       printable(name, pn, sizeof pn), DTYPES[t->dtype].name);
    }
}

// ---- writing ---------------------------------------------------------------------------------------

typedef struct {
    char *p;
    size_t len, cap;
} strbuf;

static void sb_putn(strbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap = cg_mul_size(cap, 2);
        b->p = cg_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf(strbuf *b, const char *fmt, ...) CG_PRINTF(2, 3);
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    CG_CHECK(n >= 0 && (size_t)n < sizeof tmp, "sb_printf is for short numbers only");
    sb_putn(b, tmp, (size_t)n);
}

// A JSON string literal: quotes, backslashes and control bytes escaped; UTF-8 passes through.
static void sb_json_string(strbuf *b, const char *s) {
    sb_putn(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"') sb_puts(b, "\\\"");
        else if (c == '\\') sb_puts(b, "\\\\");
        else if (c == '\n') sb_puts(b, "\\n");
        else if (c == '\t') sb_puts(b, "\\t");
        else if (c == '\r') sb_puts(b, "\\r");
        else if (c < 0x20) sb_printf(b, "\\u%04x", c);
        else sb_putn(b, (const char *)&c, 1);
    }
    sb_putn(b, "\"", 1);
}

// Validate the request and compute each tensor's byte size. Returns 0 or -1 + reason.
static int validate_write(const st_write_tensor *ts, size_t n, const char *const *mk, const char *const *mv,
                          size_t n_meta, size_t *nbytes, char *err, size_t errlen) {
    char pn[PNAME_LEN];
    for (size_t i = 0; i < n; i++) {
        const st_write_tensor *t = &ts[i];
        if (!t->name || !t->name[0]) return cg_errf(err, errlen, "tensor %zu has no name", i);
        const char *nm = printable(t->name, pn, sizeof pn);
        if (!utf8_valid((const unsigned char *)t->name, strlen(t->name)))
            return cg_errf(err, errlen, "tensor name '%s' is not valid UTF-8", nm);
        if (strcmp(t->name, "__metadata__") == 0) return cg_errf(err, errlen, "\"__metadata__\" is reserved, not a tensor name");
        if ((unsigned)t->dtype >= ST_N_DTYPES) return cg_errf(err, errlen, "tensor '%s' has an invalid dtype %d", nm, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
            return cg_errf(err, errlen, "tensor '%s' has %d dimensions (0 .. %d allowed)", nm, t->ndim, ST_MAX_DIMS);
        if (t->ndim > 0 && !t->shape) return cg_errf(err, errlen, "tensor '%s' has no shape array", nm);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] > 9007199254740992ull) return cg_errf(err, errlen, "tensor '%s': dimension %d is too large", nm, d);
            if (t->shape[d] != 0 && numel > SIZE_MAX / t->shape[d]) return cg_errf(err, errlen, "tensor '%s': size overflows", nm);
            numel *= t->shape[d];
        }
        size_t es = DTYPES[t->dtype].size;
        if (numel > SIZE_MAX / es) return cg_errf(err, errlen, "tensor '%s': size overflows", nm);
        nbytes[i] = numel * es;
        if (nbytes[i] > 0 && !t->data) return cg_errf(err, errlen, "tensor '%s' has no data", nm);
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (!mk || !mv || !mk[i] || !mv[i]) return cg_errf(err, errlen, "metadata entry %zu is missing its key or value", i);
        if (!utf8_valid((const unsigned char *)mk[i], strlen(mk[i])) || !utf8_valid((const unsigned char *)mv[i], strlen(mv[i])))
            return cg_errf(err, errlen, "metadata entry '%s' is not valid UTF-8", printable(mk[i], pn, sizeof pn));
    }
    const char **names = cg_malloc((n ? n : 1) * sizeof *names);
    for (size_t i = 0; i < n; i++) names[i] = ts[i].name;
    const char *dup = find_duplicate(names, n);
    int rc = dup ? cg_errf(err, errlen, "duplicate tensor name '%s'", printable(dup, pn, sizeof pn)) : 0;
    free(names);
    if (rc) return rc;
    dup = n_meta ? find_duplicate(mk, n_meta) : NULL;
    if (dup) return cg_errf(err, errlen, "duplicate metadata key '%s'", printable(dup, pn, sizeof pn));
    return 0;
}

// fsync the directory holding path, so that the rename itself is durable. Best effort: some file
// systems refuse fsync on directories, and the data is already safe in the file by then.
static void fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? dup_str(path) : dup_str(".");
    if (slash) dir[slash == path ? 1 : (size_t)(slash - path)] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int st_write(const char *path, const st_write_tensor *tensors, size_t n, const char *const *meta_keys,
             const char *const *meta_values, size_t n_meta, char *err, size_t errlen) {
    check_little_endian();
    size_t *nbytes = cg_malloc((n ? n : 1) * sizeof *nbytes);
    if (validate_write(tensors, n, meta_keys, meta_values, n_meta, nbytes, err, errlen) != 0) {
        free(nbytes);
        return -1;
    }

    // The header, in the order given, metadata first (as Python's writer does).
    strbuf h = {0};
    sb_puts(&h, "{");
    if (n_meta > 0) {
        sb_puts(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_puts(&h, ",");
            sb_json_string(&h, meta_keys[i]);
            sb_puts(&h, ":");
            sb_json_string(&h, meta_values[i]);
        }
        sb_puts(&h, "}");
    }
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const st_write_tensor *t = &tensors[i];
        if (i || n_meta) sb_puts(&h, ",");
        sb_json_string(&h, t->name);
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", DTYPES[t->dtype].name);
        for (int d = 0; d < t->ndim; d++) sb_printf(&h, d ? ",%zu" : "%zu", t->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%zu,", offset);
        offset += nbytes[i];
        sb_printf(&h, "%zu]}", offset);
    }
    sb_puts(&h, "}");
    while (h.len % 8 != 0) sb_puts(&h, " "); // data then starts 8-byte aligned
    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++) lenbytes[i] = (unsigned char)((uint64_t)h.len >> (8 * i));

    // Temp file in the same directory (rename is atomic only within one file system).
    size_t plen = strlen(path);
    char *tmp = cg_malloc(plen + 16);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int rc = 0;
    FILE *fp = NULL;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = cg_errf(err, errlen, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0644) != 0) {
        rc = cg_errf(err, errlen, "%s: cannot set permissions: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    fp = fdopen(fd, "wb");
    if (!fp) {
        rc = cg_errf(err, errlen, "%s: fdopen failed: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    int ok = fwrite(lenbytes, 1, 8, fp) == 8 && fwrite(h.p, 1, h.len, fp) == h.len;
    for (size_t i = 0; i < n && ok; i++)
        if (nbytes[i] > 0) ok = fwrite(tensors[i].data, 1, nbytes[i], fp) == nbytes[i];
    if (ok) ok = fflush(fp) == 0;
    if (ok) ok = fsync(fileno(fp)) == 0;
    if (!ok) {
        rc = cg_errf(err, errlen, "%s: writing failed: %s", path, strerror(errno));
        fclose(fp);
        goto fail;
    }
    if (fclose(fp) != 0) {
        rc = cg_errf(err, errlen, "%s: closing failed: %s", path, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = cg_errf(err, errlen, "%s: cannot rename the temporary file over it: %s", path, strerror(errno));
        goto fail;
    }
    fsync_parent_dir(path);
    goto out;
fail:
    unlink(tmp);
out:
    free(tmp);
    free(h.p);
    free(nbytes);
    return rc;
}

int st_write_f32(const char *path, const char *const *names, const size_t *const *shapes,
                 const int *ndims, const float *const *data, size_t n, const char *const *meta_keys,
                 const char *const *meta_values, size_t n_meta, char *err, size_t errlen) {
    st_write_tensor *ts = cg_calloc(n ? n : 1, sizeof *ts);
    for (size_t i = 0; i < n; i++)
        ts[i] = (st_write_tensor){.name = names[i], .dtype = ST_F32, .ndim = ndims[i], .shape = shapes[i], .data = data[i]};
    int rc = st_write(path, ts, n, meta_keys, meta_values, n_meta, err, errlen);
    free(ts);
    return rc;
}
