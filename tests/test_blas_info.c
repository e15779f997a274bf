// test_blas_info.c: the OpenBLAS kernel-set name and the resume warning of nn/blas_info.h: silent
// for a checkpoint of the same set or one that recorded none (checkpoints from before the key),
// one stderr line naming both sets and the OPENBLAS_CORETYPE that selects the checkpoint's otherwise.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nn/blas_info.h"
#include "test.h"

// blas_core_warn(who, recorded) with stderr captured into out (NUL-terminated); returns its result
static int warn_captured(const char *who, const char *recorded, char *out, size_t len) {
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    if (!tmp || saved < 0) return -1;
    dup2(fileno(tmp), STDERR_FILENO);
    int rc = blas_core_warn(who, recorded);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, len - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return rc;
}

static void test_core_name(void) {
    const char *core = blas_core();
    EXPECT(core && *core, "kernel set name '%s'", core ? core : "(null)");
    EXPECT(strncmp(blas_build(), "OpenBLAS", 8) == 0, "build '%s'", blas_build());
}

static void test_warn(void) {
    char out[1024];
    EXPECT(warn_captured("t", NULL, out, sizeof out) == 0 && out[0] == '\0', "no recorded set: '%s'", out);
    EXPECT(warn_captured("t", blas_core(), out, sizeof out) == 0 && out[0] == '\0', "same set: '%s'", out);
    EXPECT(warn_captured("pretrain", "NoSuchCore", out, sizeof out) == 1, "another set is reported");
    char want[256];
    snprintf(want, sizeof want, "pretrain: warning: the checkpoint was written with OpenBLAS's NoSuchCore kernels "
             "and this process runs %s ones", blas_core());
    EXPECT(strncmp(out, want, strlen(want)) == 0, "message '%s'", out);
    EXPECT(strstr(out, "OPENBLAS_CORETYPE=NoSuchCore") != NULL, "names the setting: '%s'", out);
    const char *nl = strchr(out, '\n');
    EXPECT(nl && nl[1] == '\0', "one line: '%s'", out);
}

int main(void) {
    RUN(test_core_name);
    RUN(test_warn);
    return test_summary("blas_info");
}
