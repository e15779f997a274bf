// bench_render.c: SubjectBench renderer speed on one thread, at 32x32 and 64x64.
// Targets cycle over the 30 test subjects x 25 prompts with a new seed each; references cycle over
// the subjects and 4 poses. Each measurement runs for about `seconds` (argv[1], default 1).
// Prints one line per size:
//   render 32x32: targets N images/s, references M images/s (one thread)
#include <stdio.h>
#include <stdlib.h>

#include "core/check.h"
#include "core/timer.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/world.h"

static double rate(const World *w, int S, int references, double seconds, float *img, unsigned char *mask) {
    Prompt prompts[WORLD_N_TEST][PROMPT_N_TEMPLATES];
    for (int i = 0; i < WORLD_N_TEST; i++)
        for (int t = 0; t < PROMPT_N_TEMPLATES; t++) prompt_make(&prompts[i][t], world_subject(w, SPLIT_TEST, i)->cls, t);
    long n = 0;
    double t0 = cg_now(), t1 = t0;
    volatile float sink = 0;
    while (t1 - t0 < seconds) {
        for (int k = 0; k < 100; k++, n++) {
            int i = (int)(n % WORLD_N_TEST), t = (int)((n / WORLD_N_TEST) % PROMPT_N_TEMPLATES);
            const Subject *s = world_subject(w, SPLIT_TEST, i);
            if (references) render_reference(img, mask, s, (int)(n % 4), S);
            else render_target(img, mask, s, &prompts[i][t], (uint64_t)n, S);
            sink += img[0];
        }
        t1 = cg_now();
    }
    (void)sink;
    return (double)n / (t1 - t0);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(seconds > 0)) seconds = 1.0;
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    const int sizes[2] = {32, 64};
    for (int k = 0; k < 2; k++) {
        int S = sizes[k];
        float *img = cg_malloc(sizeof(float) * 3 * (size_t)S * (size_t)S);
        unsigned char *mask = cg_malloc((size_t)S * (size_t)S);
        double tg = rate(w, S, 0, seconds, img, mask), rf = rate(w, S, 1, seconds, img, mask);
        printf("render %dx%d: targets %.0f images/s, references %.0f images/s (one thread)\n", S, S, tg, rf);
        free(img);
        free(mask);
    }
    free(w);
    return 0;
}
