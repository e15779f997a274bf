// fuzz_ckpt_meta.c: libFuzzer target for checkpoint metadata (io/checkpoint.h over
// io/safetensors.h): for every file st_parse accepts, the metadata as ckpt_meta_from_file reads
// it, the strict number and RNG readers on the keys the trainers read, the DiT config from the
// metadata (which must then match itself) and ckpt_meta_expect.
//   make fuzz && build-fuzz/fuzz_ckpt_meta -dict=tests/fuzz_ckpt_meta.dict CORPUS tests/fuzz/ckpt_meta
#include "fuzz.h"
#include "io/checkpoint.h"
#include "models/dit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const INTS[] = {"step", "iteration", "opt_step", "best.step", "cfg.steps", "dit.width"};
    st_file f;
    char err[512];
    err[0] = '\0';
    if (st_parse(data, size, &f, err, sizeof err) != 0) return 0;
    CkptMeta m;
    ckpt_meta_from_file(&f, &m);
    for (int i = 0; i < m.n; i++)
        if (ckpt_meta_get(&m, m.keys[i]) != m.values[i] && strcmp(ckpt_meta_get(&m, m.keys[i]), m.values[i])) abort();
    for (size_t k = 0; k < sizeof INTS / sizeof INTS[0]; k++) {
        uint64_t u;
        long l;
        if (ckpt_meta_get_u64(&m, INTS[k], &u, err, sizeof err)) fuzz_one_line(err);
        if (ckpt_meta_get_int(&m, INTS[k], 0, 1L << 30, &l, err, sizeof err)) fuzz_one_line(err);
        else if (l < 0 || l > (1L << 30)) abort();
    }
    cg_rng r;
    if (ckpt_meta_get_rng(&m, "rng", &r, err, sizeof err)) fuzz_one_line(err);
    DiTConfig cfg;
    if (dit_config_from_meta(&m, &cfg, err, sizeof err)) fuzz_one_line(err);
    else if (dit_config_match_meta(&m, &cfg, err, sizeof err)) abort(); // a config matches its own metadata
    if (ckpt_meta_expect(&m, "format", "cgrpo-grpo-ckpt-1", err, sizeof err)) fuzz_one_line(err);
    ckpt_meta_free(&m);
    st_close(&f);
    return 0;
}
