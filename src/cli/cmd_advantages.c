// cmd_advantages.c: `cgrpo advantages`: GRPO advantages for rewards given as CSV on stdin, through
// the same library calls the trainer uses (adv_group_advantages in rl/advantage.h).
//
// Input, one sample per line:  group,r_id,r_prompt
//   - an optional header line `group,r_id,r_prompt` is accepted as the first non-blank line;
//   - blank lines (only spaces, tabs, CR) are ignored; spaces and tabs around fields are trimmed;
//   - a group is the set of lines whose first field is the same string (exact match after
//     trimming), consecutive or not; groups come out in the order of their first line, samples
//     within a group in input order (that position is `index`, from 0);
//   - every group needs >= 2 samples; rewards must be finite numbers within float range.
// Output: the header `group,index,step,advantage`, then one line per sample and step 0..N-1,
// advantages printed with %.9g (enough to round-trip a float).
// Bad input -> one line on stderr naming the line number, exit 2. Nothing is printed on stdout
// unless the whole input is valid.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "rl/advantage.h"

#define HEADER_IN "group,r_id,r_prompt"
#define HEADER_OUT "group,index,step,advantage"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrpo advantages [options] < rewards.csv\n"
            "Reads lines `group,r_id,r_prompt` (optional header line, blank lines ignored; lines\n"
            "with the same group value form one group, consecutive or not; each group needs >= 2\n"
            "samples) and prints `group,index,step,advantage` for every sample and step.\n"
            "  --shaping S    naive | sars | harmonic | min | max       (default sars)\n"
            "  --weighting W  static | tdw (time-dependent weights)      (default tdw)\n"
            "  --gamma G      bonus scale of sars / harmonic             (default 0.4)\n"
            "  --w-id W       static identity weight                     (default 0.5)\n"
            "  --w-prompt W   static prompt weight                       (default 0.5)\n"
            "  --clamp C      advantages are clamped to [-C, C]          (default 5)\n"
            "  --steps N      steps of the schedule; tdw maps them onto 25 (default 25)\n"
            "  -h, --help     this text\n"
            "min / max use min(A_id, A_prompt) / max(...) as the whole advantage (no weights).\n");
}

typedef struct {
    char *name;
    size_t first_line; // input line of its first sample, for messages
    float *rewards;    // (n, 2): identity, prompt
    int n, cap;
} Group;

typedef struct {
    Group *groups;
    int n_groups, cap_groups;
    int *table; // open addressing: group index or -1; size table_size, a power of two
    size_t table_size;
} GroupSet;

static uint64_t hash_str(const char *s) { // FNV-1a
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void table_rebuild(GroupSet *gs, size_t size) {
    free(gs->table);
    gs->table = cg_malloc(size * sizeof(int));
    for (size_t i = 0; i < size; i++) gs->table[i] = -1;
    gs->table_size = size;
    for (int gi = 0; gi < gs->n_groups; gi++) {
        size_t i = hash_str(gs->groups[gi].name) & (size - 1);
        while (gs->table[i] >= 0) i = (i + 1) & (size - 1);
        gs->table[i] = gi;
    }
}

// the group called `name`, created (first seen at `line`) if new
static Group *group_get(GroupSet *gs, const char *name, size_t line) {
    if ((size_t)(gs->n_groups + 1) * 2 > gs->table_size) table_rebuild(gs, gs->table_size ? gs->table_size * 2 : 64);
    size_t mask = gs->table_size - 1, i = hash_str(name) & mask;
    for (; gs->table[i] >= 0; i = (i + 1) & mask)
        if (strcmp(gs->groups[gs->table[i]].name, name) == 0) return &gs->groups[gs->table[i]];
    if (gs->n_groups == gs->cap_groups) {
        gs->cap_groups = gs->cap_groups ? gs->cap_groups * 2 : 16;
        gs->groups = cg_realloc(gs->groups, (size_t)gs->cap_groups * sizeof(Group));
    }
    Group *g = &gs->groups[gs->n_groups];
    memset(g, 0, sizeof(*g));
    size_t len = strlen(name);
    g->name = cg_malloc(len + 1);
    memcpy(g->name, name, len + 1);
    g->first_line = line;
    gs->table[i] = gs->n_groups++;
    return g;
}

static void group_push(Group *g, float r_id, float r_pr) {
    if (g->n == INT32_MAX / 4) cg_usage("group '%s' has too many samples", g->name);
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->rewards = cg_realloc(g->rewards, cg_mul_size((size_t)g->cap, 2 * sizeof(float)));
    }
    g->rewards[2 * (size_t)g->n] = r_id;
    g->rewards[2 * (size_t)g->n + 1] = r_pr;
    g->n++;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

// parses a trimmed field as a finite number within float range, or exits 2 naming the line
static float parse_reward(const char *field, const char *what, size_t line) {
    char *end = NULL;
    double v = strtod(field, &end); // overflow gives +-HUGE_VAL, caught as not finite
    if (end == field || *end != '\0') cg_usage("line %zu: %s '%s' is not a number", line, what, field);
    if (!isfinite(v)) cg_usage("line %zu: %s '%s' is not a finite number", line, what, field);
    if (fabs(v) > FLT_MAX) cg_usage("line %zu: %s '%s' is out of float range", line, what, field);
    return (float)v;
}

static void read_groups(FILE *in, GroupSet *gs) {
    char *buf = NULL;
    size_t cap = 0, line = 0;
    int seen_data = 0; // a non-blank line was seen (the header may only come first)
    ssize_t len;
    while ((len = getline(&buf, &cap, in)) >= 0) {
        line++;
        if (memchr(buf, '\0', (size_t)len)) cg_usage("line %zu: contains a NUL byte", line);
        char *s = trim(buf);
        if (*s == '\0') continue;
        if (!seen_data) {
            seen_data = 1;
            if (strcmp(s, HEADER_IN) == 0) continue;
        }
        char *f[3];
        int nf = 0;
        for (char *p = s;; p++) {
            char *comma = strchr(p, ',');
            if (nf == 3) cg_usage("line %zu: expected 3 fields group,r_id,r_prompt, got more", line);
            f[nf++] = p;
            if (!comma) break;
            *comma = '\0';
            p = comma;
        }
        if (nf != 3) cg_usage("line %zu: expected 3 fields group,r_id,r_prompt, got %d", line, nf);
        char *name = trim(f[0]);
        if (*name == '\0') cg_usage("line %zu: empty group name", line);
        float r_id = parse_reward(trim(f[1]), "r_id", line);
        float r_pr = parse_reward(trim(f[2]), "r_prompt", line);
        group_push(group_get(gs, name, line), r_id, r_pr);
    }
    if (ferror(in)) cg_die("reading stdin failed");
    free(buf);
}

static void parse_shaping(const char *flag, const char *v, void *dst) {
    (void)flag;
    if (shaping_parse(v, dst) != 0) cg_usage("--shaping: '%s' is not one of naive, sars, harmonic, min, max", v);
}

static void parse_weighting(const char *flag, const char *v, void *dst) {
    (void)flag;
    if (weighting_parse(v, dst) != 0) cg_usage("--weighting: '%s' is not one of static, tdw", v);
}

int cmd_advantages(int argc, char **argv) {
    AdvConfig cfg = adv_config_default();
    int n_steps = 25;
    const CliOpt opts[] = {
        CLI_FN("--shaping", parse_shaping, &cfg.shaping), CLI_FN("--weighting", parse_weighting, &cfg.weighting),
        CLI_D("--gamma", &cfg.gamma, 0.0, 100.0), CLI_D("--w-id", &cfg.w_id, 0.0, 100.0),
        CLI_D("--w-prompt", &cfg.w_prompt, 0.0, 100.0), CLI_D("--clamp", &cfg.clamp, 1e-6, 1e6),
        CLI_I("--steps", &n_steps, 1, 10000),
    };
    // every option takes one value; an unknown one is named as such even as the last argument
    const CliCommand cmd = {.name = "advantages", .print_usage = usage, .lookup_first = 1, .needs_bare = 1,
                            .unknown_hint = " (try cgrpo advantages --help)"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    char err[256];
    if (adv_config_check(&cfg, err, sizeof(err)) != 0) cg_usage("advantages: %s", err);

    GroupSet gs = {0};
    read_groups(stdin, &gs);
    if (gs.n_groups == 0) cg_usage("advantages: no samples on stdin (expected lines group,r_id,r_prompt)");
    int max_n = 0;
    for (int gi = 0; gi < gs.n_groups; gi++) {
        Group *g = &gs.groups[gi];
        if (g->n < 2)
            cg_usage("line %zu: group '%s' has 1 sample; a group needs at least 2", g->first_line, g->name);
        if (g->n > max_n) max_n = g->n;
    }

    float *z = cg_malloc(cg_mul_size((size_t)max_n, 2 * sizeof(float)));             // (G, 2)
    float *adv = cg_malloc(cg_mul_size(cg_mul_size((size_t)max_n, (size_t)n_steps), sizeof(float))); // (G, N)
    printf("%s\n", HEADER_OUT);
    for (int gi = 0; gi < gs.n_groups; gi++) {
        Group *g = &gs.groups[gi];
        if (adv_group_advantages(&cfg, adv, z, g->rewards, g->n, n_steps, err, sizeof(err)) != 0)
            cg_usage("group '%s' (first line %zu): %s", g->name, g->first_line, err);
        for (int s = 0; s < g->n; s++)
            for (int t = 0; t < n_steps; t++)
                printf("%s,%d,%d,%.9g\n", g->name, s, t, (double)adv[(size_t)s * n_steps + t]);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) cg_die("writing stdout failed");

    free(adv);
    free(z);
    for (int gi = 0; gi < gs.n_groups; gi++) {
        free(gs.groups[gi].name);
        free(gs.groups[gi].rewards);
    }
    free(gs.groups);
    free(gs.table);
    return 0;
}
