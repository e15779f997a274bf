// test_checkpoint.c: checkpoint files (io/checkpoint.h) and DiT model files (models/dit.h):
// bit-exact round trips of several sections and their metadata, strict validation (missing,
// misshapen, unexpected tensors, wrong config, truncated and damaged files: each an error with a
// one-line reason, never a crash, and the destination untouched), and the atomic writer leaving an
// existing checkpoint intact when a write fails.
//
//   test_checkpoint                      run the tests
//   test_checkpoint --write-dit PATH     write a small DiT model file (for checks from Python)
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/dit.h"
#include "scratch.h"
#include "test.h"

// ---- helpers ---------------------------------------------------------------------------------------

static char g_dir_template[] = "/tmp/cgrpo_ckpt_test.XXXXXX";
static const char *g_dir;

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

// A table with tensors of rank 1 to 4, and four sections over it (model, ema, adam_m, adam_v).
typedef struct {
    ParamTable t;
    float *buf[4];
    CkptSection s[4];
} Sections;

static const char *SECTION_PREFIX[4] = {"model.", "ema.", "adam_m.", "adam_v."};

static void sections_make(Sections *S, uint64_t seed) {
    param_table_init(&S->t);
    int s1[] = {7}, s2[] = {3, 5}, s3[] = {2, 3, 4}, s4[] = {2, 1, 3, 2};
    param_table_add(&S->t, "bias", 1, s1, 0);
    param_table_add(&S->t, "blocks.0.w", 2, s2, 1);
    param_table_add(&S->t, "cube", 3, s3, 1);
    param_table_add(&S->t, "four.d", 4, s4, 0);
    for (int k = 0; k < 4; k++) {
        S->buf[k] = cg_malloc(S->t.total * sizeof(float));
        cg_rng_fill_normal(S->buf[k], S->t.total, seed, (uint64_t)k, 0);
        S->s[k] = (CkptSection){SECTION_PREFIX[k], &S->t, S->buf[k]};
    }
    // values whose bits a careless writer would lose
    float *m = S->buf[0];
    m[0] = -0.0f, m[1] = 1e-40f, m[2] = INFINITY, m[3] = -INFINITY, m[4] = 3.4028235e38f;
    uint32_t nan_bits = 0x7fc01234u;
    memcpy(&m[5], &nan_bits, 4);
}

static void sections_free(Sections *S) {
    for (int k = 0; k < 4; k++) free(S->buf[k]);
    param_table_free(&S->t);
}

static DiTConfig tiny_config(int width) {
    DiTConfig c = {.img = 8, .patch = 4, .channels = 3, .width = width, .depth = 2, .heads = 2,
                   .text_len = 4, .vocab = 10, .tdim = 8};
    return c;
}

// a DiT with every parameter random (the zero-init heads too, so a round trip is a real test)
static void tiny_model(DiTModel *m, int width, uint64_t seed) {
    DiTConfig c = tiny_config(width);
    dit_create(m, &c, 2);
    dit_init(m, seed);
    cg_rng_fill_normal(m->params, m->table.total, seed, 77, 0);
}

// ---- metadata -------------------------------------------------------------------------------------

static void test_metadata(void) {
    char err[256];
    CkptMeta m;
    ckpt_meta_init(&m);
    ckpt_meta_set(&m, "a", "1");
    ckpt_meta_set(&m, "b", "two");
    ckpt_meta_set(&m, "a", "one"); // replaces, keeps the order
    EXPECT(m.n == 2 && !strcmp(m.keys[0], "a") && !strcmp(ckpt_meta_get(&m, "a"), "one"), "replace");
    EXPECT(ckpt_meta_get(&m, "zz") == NULL, "absent key");
    ckpt_meta_set(&m, "a", ckpt_meta_get(&m, "a")); // a value that points into itself
    EXPECT(!strcmp(ckpt_meta_get(&m, "a"), "one"), "self-assignment");

    uint64_t u = 0;
    ckpt_meta_set_u64(&m, "big", UINT64_MAX);
    EXPECT(ckpt_meta_get_u64(&m, "big", &u, err, sizeof err) == 0 && u == UINT64_MAX, "u64 max: %s", err);
    const char *bad_u64[] = {"", "-1", " 1", "1 ", "+1", "1x", "0x10", "18446744073709551616", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_u64 / sizeof bad_u64[0]; i++) {
        ckpt_meta_set(&m, "u", bad_u64[i]);
        err[0] = '\0';
        EXPECT(ckpt_meta_get_u64(&m, "u", &u, err, sizeof err) == -1 && strstr(err, "'u'") && one_line(err),
               "u64 '%s' accepted or bad reason '%s'", bad_u64[i], err);
    }
    EXPECT(ckpt_meta_get_u64(&m, "nope", &u, err, sizeof err) == -1 && strstr(err, "nope"), "missing: %s", err);
    long l = 0;
    ckpt_meta_set_int(&m, "i", -42);
    EXPECT(ckpt_meta_get_int(&m, "i", -100, 100, &l, err, sizeof err) == 0 && l == -42, "int: %s", err);
    EXPECT(ckpt_meta_get_int(&m, "i", 0, 100, &l, err, sizeof err) == -1 && strstr(err, "outside"), "range: %s", err);
    ckpt_meta_set(&m, "i", "-");
    EXPECT(ckpt_meta_get_int(&m, "i", -100, 100, &l, err, sizeof err) == -1, "'-' accepted");

    cg_rng r = cg_rng_make(0xfeedfacecafebeefULL, 12345), back;
    for (int i = 0; i < 7; i++) cg_rng_u32(&r);
    ckpt_meta_set_rng(&m, "rng", &r);
    EXPECT(!strcmp(ckpt_meta_get(&m, "rng.seed"), "18369614221190020847"), "seed as decimal: %s",
           ckpt_meta_get(&m, "rng.seed"));
    EXPECT(ckpt_meta_get_rng(&m, "rng", &back, err, sizeof err) == 0 && back.seed == r.seed && back.stream == r.stream &&
               back.index == r.index && back.index == 7,
           "rng round trip: %s", err);
    EXPECT(cg_rng_u64(&back) == cg_rng_u64(&r), "the restored rng continues the same sequence");

    ckpt_meta_set(&m, "dit.width", "192");
    EXPECT(ckpt_meta_expect(&m, "dit.width", "192", err, sizeof err) == 0, "equal values");
    EXPECT(ckpt_meta_expect(&m, "dit.width", "128", err, sizeof err) == -1 &&
               !strcmp(err, "checkpoint has dit.width=192, this run wants 128"), "message: %s", err);
    EXPECT(ckpt_meta_expect(&m, "dit.depth", "6", err, sizeof err) == -1 && strstr(err, "no dit.depth"), "absent: %s", err);
    ckpt_meta_free(&m);
    EXPECT(m.n == 0 && m.keys == NULL, "freed meta is empty");
}

// ---- round trips ----------------------------------------------------------------------------------

static void test_roundtrip_bit_exact(void) {
    char path[512], err[256] = "";
    path_in(path, sizeof path, "train.ckpt");
    Sections S, D;
    sections_make(&S, 1);
    sections_make(&D, 2); // other contents
    CkptMeta meta, got;
    ckpt_meta_init(&meta);
    ckpt_meta_set(&meta, "kind", "test");
    ckpt_meta_set_u64(&meta, "step", 1234567);
    cg_rng r = cg_rng_make(99, 7);
    r.index = 1ull << 40;
    ckpt_meta_set_rng(&meta, "rng", &r);
    ckpt_meta_set(&meta, "data.cursor", "17");
    ckpt_meta_set(&meta, "note", "h\xc3\xa9llo \"quoted\" \\ back\nline");
    ckpt_meta_set(&meta, CKPT_CHECKSUM_KEY, "stale"); // replaced by the writer
    EXPECT(ckpt_save(path, S.s, 4, &meta, err, sizeof err) == 0, "save: %s", err);
    EXPECT(ckpt_load(path, D.s, 4, &got, 0, err, sizeof err) == 0, "load: %s", err);
    for (int k = 0; k < 4; k++)
        EXPECT(memcmp(S.buf[k], D.buf[k], S.t.total * sizeof(float)) == 0, "section %s differs", SECTION_PREFIX[k]);
    // the metadata comes back in order, minus the checksum key
    EXPECT(got.n == meta.n - 1, "%d keys back, %d saved (one is the checksum)", got.n, meta.n);
    for (int i = 0; i < got.n && i < meta.n; i++)
        EXPECT(!strcmp(got.keys[i], meta.keys[i]) && !strcmp(got.values[i], meta.values[i]), "key %d: %s=%s vs %s=%s", i,
               got.keys[i], got.values[i], meta.keys[i], meta.values[i]);
    cg_rng back;
    EXPECT(ckpt_meta_get_rng(&got, "rng", &back, err, sizeof err) == 0 && back.index == r.index, "rng: %s", err);
    // the file is plain safetensors: names, shapes and the checksum in the header
    st_file f;
    EXPECT(st_open(path, &f, err, sizeof err) == 0, "st_open: %s", err);
    const st_tensor *t = st_find(&f, "adam_v.four.d");
    EXPECT(t && t->dtype == ST_F32 && t->ndim == 4 && t->shape[0] == 2 && t->shape[3] == 2, "adam_v.four.d in the file");
    EXPECT(f.n_tensors == 16, "%zu tensors", f.n_tensors);
    const char *sum = st_meta(&f, CKPT_CHECKSUM_KEY);
    EXPECT(sum && strlen(sum) == 16, "checksum %s", sum ? sum : "(none)");
    st_close(&f);
    // metadata only
    CkptMeta only;
    EXPECT(ckpt_read_meta(path, &only, err, sizeof err) == 0 && only.n == got.n, "read_meta: %s", err);
    ckpt_meta_free(&only);
    // one section out of four, the others ignored on request (and refused without it)
    memset(D.buf[1], 0, D.t.total * sizeof(float));
    EXPECT(ckpt_load(path, &D.s[1], 1, NULL, CKPT_IGNORE_EXTRA, err, sizeof err) == 0, "ema only: %s", err);
    EXPECT(memcmp(S.buf[1], D.buf[1], S.t.total * sizeof(float)) == 0, "ema section differs");
    EXPECT(ckpt_load(path, &D.s[1], 1, NULL, 0, err, sizeof err) == -1 && strstr(err, "unexpected tensor 'model.bias'"),
           "extras refused: %s", err);
    ckpt_meta_free(&meta);
    ckpt_meta_free(&got);
    sections_free(&S);
    sections_free(&D);
    unlink(path);
}

static void test_dit_model_file(void) {
    char path[512], err[256] = "";
    path_in(path, sizeof path, "dit.safetensors");
    DiTModel m, back;
    tiny_model(&m, 8, 3);
    CkptMeta extra;
    ckpt_meta_init(&extra);
    ckpt_meta_set(&extra, "recipe", "cgrpo pretrain --seed 3");
    ckpt_meta_set(&extra, "dit.width", "999"); // the real config wins over a stray extra key
    EXPECT(dit_save(&m, path, &extra, err, sizeof err) == 0, "dit_save: %s", err);
    EXPECT(dit_load(path, &back, 3, err, sizeof err) == 0, "dit_load: %s", err);
    EXPECT(!memcmp(&back.cfg, &m.cfg, sizeof m.cfg) && back.max_B == 3, "config from the file");
    EXPECT(back.table.total == m.table.total && !memcmp(back.params, m.params, m.table.total * sizeof(float)),
           "weights differ after the round trip");
    // same weights, same velocity
    size_t n = dit_image_floats(&m.cfg);
    float *x = cg_malloc(2 * n * sizeof(float)), *v1 = cg_malloc(2 * n * sizeof(float)), *v2 = cg_malloc(2 * n * sizeof(float));
    cg_rng_fill_normal(x, 2 * n, 1, 1, 0);
    float sigma[2] = {0.2f, 0.9f};
    int tok[8] = {1, 2, 3, 0, 4, 5, 0, 0};
    dit_forward(&m, v1, x, sigma, x, tok, NULL, NULL, 2);
    dit_forward(&back, v2, x, sigma, x, tok, NULL, NULL, 2);
    EXPECT(memcmp(v1, v2, 2 * n * sizeof(float)) == 0, "loaded model predicts other bits");
    CkptMeta meta;
    EXPECT(ckpt_read_meta(path, &meta, err, sizeof err) == 0, "read_meta: %s", err);
    EXPECT(meta.n == 11 && !strcmp(ckpt_meta_get(&meta, "kind"), "dit") && !strcmp(ckpt_meta_get(&meta, "dit.width"), "8") &&
               !strcmp(ckpt_meta_get(&meta, "recipe"), "cgrpo pretrain --seed 3"),
           "metadata of the model file (%d keys)", meta.n);
    EXPECT(dit_config_match_meta(&meta, &m.cfg, err, sizeof err) == 0, "own config: %s", err);
    ckpt_meta_free(&meta);
    dit_free(&back);

    // a training checkpoint with model / ema / adam sections: dit_load_section picks one
    char tpath[512];
    path_in(tpath, sizeof tpath, "train_dit.ckpt");
    float *ema = cg_malloc(m.table.total * sizeof(float));
    for (size_t i = 0; i < m.table.total; i++) ema[i] = 0.5f * m.params[i];
    CkptSection s[4] = {{"model.", &m.table, m.params}, {"ema.", &m.table, ema},
                        {"adam_m.", &m.table, m.adam_m}, {"adam_v.", &m.table, m.adam_v}};
    CkptMeta tm;
    ckpt_meta_init(&tm);
    dit_config_to_meta(&m.cfg, &tm);
    ckpt_meta_set_u64(&tm, "step", 10);
    EXPECT(ckpt_save(tpath, s, 4, &tm, err, sizeof err) == 0, "save training checkpoint: %s", err);
    EXPECT(dit_load_section(tpath, "ema.", &back, 1, err, sizeof err) == 0, "load ema: %s", err);
    EXPECT(!memcmp(back.params, ema, m.table.total * sizeof(float)), "ema weights differ");
    dit_free(&back);
    // a training checkpoint is not a model file: dit_load names the problem
    EXPECT(dit_load(tpath, &back, 1, err, sizeof err) == -1 && strstr(err, "no tensor 'patch_embed.weight'") && one_line(err),
           "training checkpoint as a model file: %s", err);
    ckpt_meta_free(&tm);
    ckpt_meta_free(&extra);
    free(ema), free(x), free(v1), free(v2);
    dit_free(&m);
    unlink(path);
    unlink(tpath);
}

// ---- validation -----------------------------------------------------------------------------------

static void test_other_config_refused(void) {
    char path[512], err[256] = "";
    path_in(path, sizeof path, "w8.safetensors");
    DiTModel m;
    tiny_model(&m, 8, 4);
    EXPECT(dit_save(&m, path, NULL, err, sizeof err) == 0, "save: %s", err);
    CkptMeta meta;
    EXPECT(ckpt_read_meta(path, &meta, err, sizeof err) == 0, "read: %s", err);
    DiTConfig want = tiny_config(16);
    EXPECT(dit_config_match_meta(&meta, &want, err, sizeof err) == -1 &&
               !strcmp(err, "checkpoint has dit.width=8, this run wants 16"), "message: %s", err);
    want = tiny_config(8);
    want.depth = 3;
    EXPECT(dit_config_match_meta(&meta, &want, err, sizeof err) == -1 && strstr(err, "dit.depth=2, this run wants 3"),
           "depth: %s", err);
    ckpt_meta_set(&meta, "kind", "vit");
    EXPECT(dit_config_match_meta(&meta, &m.cfg, err, sizeof err) == -1 && strstr(err, "kind=vit"), "kind: %s", err);
    ckpt_meta_free(&meta);

    // loading the tensors into a model of another width fails naming a tensor and both shapes
    DiTModel other;
    DiTConfig c16 = tiny_config(16);
    dit_create(&other, &c16, 1);
    CkptSection s = {"", &other.table, other.params};
    EXPECT(ckpt_load(path, &s, 1, NULL, 0, err, sizeof err) == -1 &&
               strstr(err, "tensor 'patch_embed.weight' has shape [8, 48], expected [16, 48]"), "shape: %s", err);
    dit_free(&other);

    // a model file whose config metadata is broken or insane is refused before anything is built
    st_file f;
    EXPECT(st_open(path, &f, err, sizeof err) == 0, "open: %s", err);
    struct { const char *key, *value, *expect; } cases[] = {
        {"dit.width", "abc", "'dit.width' = 'abc' is not an integer"},
        {"dit.width", "7", "not a multiple of heads"},
        {"dit.width", "4096", "needs"},             // config asks for more parameters than the file holds
        {"dit.heads", "", "'dit.heads' = '' is not an integer"},
        {"kind", "vit", "kind=vit"},
        {"dit.vocab", "99999999999", "outside"},
    };
    char bpath[512];
    path_in(bpath, sizeof bpath, "badmeta.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char **mk = cg_malloc(f.n_meta * sizeof(char *)), **mv = cg_malloc(f.n_meta * sizeof(char *));
        for (size_t j = 0; j < f.n_meta; j++) {
            mk[j] = f.meta_keys[j];
            mv[j] = strcmp(f.meta_keys[j], cases[i].key) ? f.meta_values[j] : cases[i].value;
        }
        st_write_tensor *ts = cg_malloc(f.n_tensors * sizeof(st_write_tensor));
        for (size_t j = 0; j < f.n_tensors; j++)
            ts[j] = (st_write_tensor){f.tensors[j].name, f.tensors[j].dtype, f.tensors[j].ndim, f.tensors[j].shape,
                                      f.data + f.tensors[j].offset};
        EXPECT(st_write(bpath, ts, f.n_tensors, mk, mv, f.n_meta, err, sizeof err) == 0, "write: %s", err);
        DiTModel b;
        err[0] = '\0';
        EXPECT(dit_load(bpath, &b, 1, err, sizeof err) == -1 && strstr(err, cases[i].expect) && one_line(err),
               "%s=%s: '%s'", cases[i].key, cases[i].value, err);
        free(mk), free(mv), free(ts);
    }
    st_close(&f);
    dit_free(&m);
    unlink(path);
    unlink(bpath);
}

// Files written directly with st_write: a missing tensor, a wrong shape, a wrong dtype, an extra
// tensor. Each is refused naming the tensor, and the destination buffers are not touched.
static void test_missing_wrong_shape_unexpected(void) {
    char path[512], err[256];
    path_in(path, sizeof path, "hand.safetensors");
    Sections S;
    sections_make(&S, 5);
    const CkptSection *model = &S.s[0];
    float sentinel[64];
    for (int i = 0; i < 64; i++) sentinel[i] = 12345.0f;
    float *dst = cg_malloc(S.t.total * sizeof(float));
    CkptSection into = {"model.", &S.t, dst};

    enum { MISSING, SHAPE, DTYPE, EXTRA, NCASES };
    const char *expect[NCASES] = {"has no tensor 'model.cube' (expected shape [2, 3, 4])",
                                  "tensor 'model.four.d' has shape [2, 3, 2], expected [2, 1, 3, 2]",
                                  "tensor 'model.bias' has dtype I32",
                                  "unexpected tensor 'model.extra' (shape [3])"};
    for (int c = 0; c < NCASES; c++) {
        st_write_tensor ts[8];
        size_t shapes[8][4];
        int32_t ints[7] = {0};
        int n = 0;
        for (int j = 0; j < S.t.n; j++) {
            const ParamSpec *p = &S.t.specs[j];
            if (c == MISSING && !strcmp(p->name, "cube")) continue;
            char *name = cg_malloc(PARAM_NAME_MAX + 8);
            snprintf(name, PARAM_NAME_MAX + 8, "model.%s", p->name);
            for (int d = 0; d < p->ndim; d++) shapes[n][d] = (size_t)p->shape[d];
            ts[n] = (st_write_tensor){name, ST_F32, p->ndim, shapes[n], model->data + p->offset};
            if (c == SHAPE && !strcmp(p->name, "four.d")) ts[n].ndim = 3, shapes[n][0] = 2, shapes[n][1] = 3, shapes[n][2] = 2;
            if (c == DTYPE && !strcmp(p->name, "bias")) ts[n].dtype = ST_I32, ts[n].data = ints;
            n++;
        }
        static size_t three[] = {3};
        static float extra[3] = {1, 2, 3};
        if (c == EXTRA) ts[n++] = (st_write_tensor){"model.extra", ST_F32, 1, three, extra};
        EXPECT(st_write(path, ts, (size_t)n, NULL, NULL, 0, err, sizeof err) == 0, "write case %d: %s", c, err);
        for (int j = 0; j < n; j++)
            if (strcmp(ts[j].name, "model.extra")) free((void *)ts[j].name);
        for (size_t i = 0; i < S.t.total; i++) dst[i] = sentinel[i % 64];
        err[0] = '\0';
        EXPECT(ckpt_load(path, &into, 1, NULL, 0, err, sizeof err) == -1 && strstr(err, expect[c]) && strstr(err, path) &&
                   one_line(err),
               "case %d: '%s'", c, err);
        size_t touched = 0;
        for (size_t i = 0; i < S.t.total; i++) touched += dst[i] != sentinel[i % 64];
        EXPECT(touched == 0, "case %d: a failed load wrote %zu values", c, touched);
    }
    // a file without a checksum (as Python writes it) is accepted when everything else is right
    EXPECT(ckpt_save(path, model, 1, NULL, err, sizeof err) == 0, "save: %s", err);
    st_file f;
    EXPECT(st_open(path, &f, err, sizeof err) == 0, "open: %s", err);
    st_write_tensor ts[8];
    for (size_t j = 0; j < f.n_tensors; j++)
        ts[j] = (st_write_tensor){f.tensors[j].name, f.tensors[j].dtype, f.tensors[j].ndim, f.tensors[j].shape,
                                  f.data + f.tensors[j].offset};
    char p2[512];
    path_in(p2, sizeof p2, "nosum.safetensors");
    EXPECT(st_write(p2, ts, f.n_tensors, NULL, NULL, 0, err, sizeof err) == 0, "write: %s", err);
    st_close(&f);
    EXPECT(ckpt_load(p2, &into, 1, NULL, 0, err, sizeof err) == 0, "no checksum: %s", err);
    EXPECT(memcmp(dst, model->data, S.t.total * sizeof(float)) == 0, "values");
    EXPECT(ckpt_load("/nonexistent/x.ckpt", &into, 1, NULL, 0, err, sizeof err) == -1 && one_line(err), "no file");
    free(dst);
    sections_free(&S);
    unlink(path);
    unlink(p2);
}

// Truncated and damaged files: every cut and every flipped header byte is an error with a one-line
// reason (or, for a flip that leaves a valid file, a clean load); every flipped data byte is caught
// by the checksum. Run under ASan/UBSan by `make sanitize`.
static void test_truncated_and_corrupt(void) {
    char path[512], bad[512], err[256];
    path_in(path, sizeof path, "good.safetensors");
    path_in(bad, sizeof bad, "bad.safetensors");
    DiTModel m;
    tiny_model(&m, 8, 6);
    EXPECT(dit_save(&m, path, NULL, err, sizeof err) == 0, "save: %s", err);
    size_t len = 0;
    unsigned char *buf = test_read_file(path, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    const size_t data0 = 8 + (size_t)hlen;
    EXPECT(buf && data0 < len, "file layout");
    if (!buf || data0 >= len) return;

    // truncations: all of the first 600 bytes, then every 97th
    int refused = 0, cuts = 0, reasons = 1;
    for (size_t cut = 0; cut < len; cut += cut < 600 ? 1 : 97) {
        scratch_write(bad, buf, cut);
        DiTModel b;
        err[0] = '\0';
        int rc = dit_load(bad, &b, 1, err, sizeof err);
        refused += rc == -1;
        reasons &= one_line(err);
        if (rc == 0) dit_free(&b);
        cuts++;
    }
    EXPECT(refused == cuts, "%d of %d truncated files were accepted", cuts - refused, cuts);
    EXPECT(reasons, "a truncated file gave no one-line reason");

    // flipped bytes in the header: refused with a reason, or (a flip inside a metadata value, say)
    // a valid file that loads; never a crash
    int header_refused = 0, header_n = 0;
    reasons = 1;
    for (size_t i = 0; i < data0; i++) {
        unsigned char saved = buf[i];
        buf[i] ^= (unsigned char)(1u << (i % 7));
        scratch_write(bad, buf, len);
        buf[i] = saved;
        DiTModel b;
        err[0] = '\0';
        int rc = dit_load(bad, &b, 1, err, sizeof err);
        if (rc == 0) dit_free(&b);
        else reasons &= one_line(err);
        header_refused += rc == -1;
        header_n++;
    }
    EXPECT(reasons, "a damaged header gave no one-line reason");
    EXPECT(header_refused > header_n * 9 / 10, "only %d of %d damaged headers refused", header_refused, header_n);

    // flipped bytes in the data: always caught by the checksum
    int data_refused = 0, data_n = 0;
    for (size_t i = data0; i < len; i += 13) {
        buf[i] ^= 0x10;
        scratch_write(bad, buf, len);
        buf[i] ^= 0x10;
        DiTModel b;
        err[0] = '\0';
        int rc = dit_load(bad, &b, 1, err, sizeof err);
        if (rc == 0) dit_free(&b);
        data_refused += rc == -1 && strstr(err, "corrupt") && strstr(err, "checksum") != NULL;
        data_n++;
    }
    EXPECT(data_refused == data_n, "%d of %d damaged data buffers loaded without complaint (last: %s)",
           data_n - data_refused, data_n, err);
    printf("     %d truncations refused; %d of %d header flips refused; %d of %d data flips caught by the checksum\n",
           refused, header_refused, header_n, data_refused, data_n);
    // the untouched file still loads
    DiTModel b;
    EXPECT(dit_load(path, &b, 1, err, sizeof err) == 0, "good file: %s", err);
    dit_free(&b);
    free(buf);
    dit_free(&m);
    unlink(path);
    unlink(bad);
}

// ---- the atomic writer ------------------------------------------------------------------------------

static void test_failed_write_keeps_old_checkpoint(void) {
    char path[512], dpath[512], err[256] = "";
    path_in(path, sizeof path, "keep.ckpt");
    Sections S;
    sections_make(&S, 8);
    EXPECT(ckpt_save(path, S.s, 4, NULL, err, sizeof err) == 0, "first save: %s", err);
    size_t len0 = 0, len1 = 0;
    unsigned char *orig = test_read_file(path, &len0);
    int entries = scratch_count_entries(g_dir);

    // the disk fills up while the new checkpoint is written (RLIMIT_FSIZE below its size)
    DiTModel big;
    DiTConfig c = tiny_config(64);
    dit_create(&big, &c, 1);
    dit_init(&big, 1);
    CkptSection bs = {"model.", &big.table, big.params};
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = old;
    lim.rlim_cur = 16384;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    int lim_ok = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    int rc = ckpt_save(path, &bs, 1, NULL, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    EXPECT(lim_ok, "setrlimit failed");
    EXPECT(rc == -1 && one_line(err), "a write over the size limit succeeded: '%s'", err);
    dit_free(&big);

    // the target is a directory: the rename fails, the directory stays
    path_in(dpath, sizeof dpath, "adir");
    mkdir(dpath, 0755);
    EXPECT(ckpt_save(dpath, S.s, 4, NULL, err, sizeof err) == -1 && one_line(err), "rename onto a directory: %s", err);
    struct stat st;
    EXPECT(stat(dpath, &st) == 0 && S_ISDIR(st.st_mode), "the directory survived");
    rmdir(dpath);
    // a directory that does not exist
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/no/such/dir/x.ckpt", g_dir);
    EXPECT(ckpt_save(mpath, S.s, 4, NULL, err, sizeof err) == -1 && one_line(err), "missing dir: %s", err);

    unsigned char *after = test_read_file(path, &len1);
    EXPECT(after && len1 == len0 && memcmp(orig, after, len0) == 0, "the old checkpoint changed");
    EXPECT(scratch_count_entries(g_dir) == entries, "%d entries in the scratch dir, want %d (no temp files left)",
           scratch_count_entries(g_dir), entries);
    // and it still loads
    Sections D;
    sections_make(&D, 9);
    EXPECT(ckpt_load(path, D.s, 4, NULL, 0, err, sizeof err) == 0, "reload: %s", err);
    for (int k = 0; k < 4; k++) EXPECT(!memcmp(S.buf[k], D.buf[k], S.t.total * sizeof(float)), "section %d", k);
    sections_free(&D);
    free(orig);
    free(after);
    sections_free(&S);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-dit") == 0) {
        DiTModel m;
        tiny_model(&m, 8, 1);
        char err[256];
        int rc = dit_save(&m, argv[2], NULL, err, sizeof err);
        if (rc) fprintf(stderr, "%s\n", err);
        dit_free(&m);
        return rc ? 1 : 0;
    }
    g_dir = scratch_dir(g_dir_template);
    RUN(test_metadata);
    RUN(test_roundtrip_bit_exact);
    RUN(test_dit_model_file);
    RUN(test_other_config_refused);
    RUN(test_missing_wrong_shape_unexpected);
    RUN(test_truncated_and_corrupt);
    RUN(test_failed_write_keeps_old_checkpoint);
    scratch_remove(g_dir);
    return test_summary("checkpoint");
}
