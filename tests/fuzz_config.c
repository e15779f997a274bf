// fuzz_config.c: libFuzzer target for config files (io/config.h): the text as `key = value`
// lines applied to the configs of cgrpo train, cgrpo pretrain and cgrpo train-encoder (whose key
// tables cover every value kind: ints, floats, u64, words, flags), each of which must then still
// print.
//   make fuzz && build-fuzz/fuzz_config -dict=tests/fuzz_config.dict CORPUS tests/fuzz/config
#include <stdio.h>

#include "fuzz.h"
#include "io/config.h"
#include "rl/trainer.h"
#include "train/enc_train.h"
#include "train/pretrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void config_try(void *obj, const ConfigKey *keys, int n, const char *text) {
    char err[1024];
    unsigned char seen[256];
    if (n > (int)sizeof seen) abort();
    if (config_parse_text(obj, keys, n, text, "fuzz.cfg", seen, err, sizeof err)) {
        fuzz_one_line(err);
        return;
    }
    char buf[512];
    for (int k = 0; k < n; k++) config_format(buf, sizeof buf, obj, &keys[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    int n;
    TrainConfig t = train_config_default();
    const ConfigKey *keys = train_config_keys(&n);
    config_try(&t, keys, n, text);
    PretrainConfig p = pretrain_config_default();
    keys = pretrain_config_keys(&n);
    config_try(&p, keys, n, text);
    EncTrainConfig e;
    enc_train_defaults(&e, ENC_CLIP);
    keys = enc_train_config_keys(&n);
    config_try(&e, keys, n, text);
    free(text);
    return 0;
}
