// cmd_world.c: `cgrpo world`: SubjectBench from the command line.
//   list     one line per subject: index, class, kind, attributes
//   prompts  the 25 DreamBench prompts of a subject
//   render   a reference or target image (and mask) to PNG
//   grid     a contact sheet: references and all 25 prompts for a range of subjects
//   tokens   the token ids of a prompt
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/png.h"
#include "io/sheet.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/tokenizer.h"
#include "world/world.h"

#define MAX_CLI_SIZE 1024

static const char *USAGE =
    "usage: cgrpo world <list|prompts|render|grid|tokens> [options]\n"
    "  list    [--subjects-seed N] [--split train|val|test]\n"
    "          one line per subject: index, class word, kind (object/live), attributes (tab-separated)\n"
    "  prompts [--subjects-seed N] --split S --subject I\n"
    "          the subject's 25 DreamBench prompts, one per line\n"
    "  render  [--subjects-seed N] --split S --subject I (--reference | --prompt \"TEXT\") [--seed K]\n"
    "          --out FILE.png [--mask MASK.png] [--size 32]\n"
    "          --reference draws reference photo number K (0 = centred, upright); --prompt draws the\n"
    "          target with placement and scene details from seed K (default 0)\n"
    "  grid    [--subjects-seed N] [--split test] [--first I] [--count N] [--refs R] [--size 32]\n"
    "          [--zoom Z] [--seed K] [--prompts 0,1,...] --out FILE.png\n"
    "          contact sheet: per subject a row of R references (default 2), then the prompts (default\n"
    "          all 25, in template order: scenes 0-9 | scenes or accessories 10-19 | properties 20-24)\n"
    "  tokens  --prompt \"TEXT\"   the token ids (PAD = 0 up to 16)\n"
    "The default subjects seed is 1 (the documented benchmark). Errors in input exit with status 2.\n";

typedef struct {
    long subjects_seed;
    int split;      // -1 when not given
    long subject;
    int subject_given;
    int reference;  // --reference
    const char *prompt;
    long seed;
    const char *out, *mask;
    long size, zoom, first, count, refs;
    int seed_given;
    const char *prompt_list; // grid: comma-separated template indices
} Opts;

static void parse_opts(Opts *o, int argc, char **argv) {
    *o = (Opts){WORLD_DEFAULT_SUBJECTS_SEED, -1, -1, 0, 0, NULL, 0, NULL, NULL, 32, -1, 0, -1, 2, 0, NULL};
    const CliOpt opts[] = {
        CLI_F("--reference", &o->reference),
        CLI_L("--subjects-seed", &o->subjects_seed, 0, LONG_MAX),
        CLI_FN("--split", cli_parse_split, &o->split),
        CLI_LG("--subject", &o->subject, LONG_MIN, LONG_MAX, &o->subject_given),
        CLI_S("--prompt", &o->prompt),
        CLI_LG("--seed", &o->seed, 0, LONG_MAX, &o->seed_given),
        CLI_S("--out", &o->out), CLI_S("--mask", &o->mask),
        CLI_L("--size", &o->size, 8, MAX_CLI_SIZE), CLI_L("--zoom", &o->zoom, 1, 8),
        CLI_L("--first", &o->first, 0, LONG_MAX), CLI_L("--count", &o->count, 1, WORLD_N_SUBJECTS),
        CLI_L("--refs", &o->refs, 0, 6),
        CLI_S("--prompts", &o->prompt_list),
    };
    const size_t len = strlen(argv[1]) + 7;
    char *name = cg_malloc(len); // "world SUBCOMMAND", as messages name the command
    snprintf(name, len, "world %s", argv[1]);
    const CliCommand cmd = {.name = name, .usage = USAGE, .unknown_hint = " (see cgrpo world --help)"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc - 1, argv + 1);
    free(name);
}

static const Subject *pick_subject(const World *w, const Opts *o) {
    if (o->split < 0) cg_usage("--split is required (train, val or test)");
    if (!o->subject_given) cg_usage("--subject is required");
    const Subject *s = o->subject < 0 || o->subject > INT_MAX ? NULL : world_subject(w, o->split, (int)o->subject);
    if (!s)
        cg_usage("--subject %ld is out of range: the %s split has subjects 0..%d", o->subject,
                 world_split_name(o->split), world_split_count(o->split) - 1);
    return s;
}

static World *make_world(const Opts *o) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, (uint64_t)o->subjects_seed);
    return w;
}

static int world_list(const Opts *o) {
    World *w = make_world(o);
    for (int split = 0; split < WORLD_N_SPLITS; split++) {
        if (o->split >= 0 && split != o->split) continue;
        for (int i = 0; i < world_split_count(split); i++) {
            const Subject *s = world_subject(w, split, i);
            char attrs[256];
            subject_describe(s, attrs, sizeof(attrs));
            printf("%d\t%s\t%s\t%s split=%s\n", i, world_class_word(s->cls), world_kind_name(s->kind), attrs,
                   world_split_name(split));
        }
    }
    free(w);
    return 0;
}

static int world_prompts(const Opts *o) {
    World *w = make_world(o);
    const Subject *s = pick_subject(w, o);
    for (int t = 0; t < PROMPT_N_TEMPLATES; t++) {
        Prompt p;
        prompt_make(&p, s->cls, t);
        printf("%s\n", p.text);
    }
    free(w);
    return 0;
}

static void write_or_die(int rc, const char *err) {
    if (rc) cg_usage("%s", err);
}

static int world_render(const Opts *o) {
    if (!o->out) cg_usage("world render: --out FILE.png is required");
    if (o->reference == (o->prompt != NULL)) cg_usage("world render: give exactly one of --reference and --prompt");
    World *w = make_world(o);
    const Subject *s = pick_subject(w, o);
    int S = (int)o->size;
    size_t n = (size_t)S * (size_t)S;
    float *img = cg_malloc(3 * n * sizeof(float));
    unsigned char *mask = cg_malloc(n);
    char err[512];
    if (o->reference) {
        if (o->seed > INT_MAX) cg_usage("--seed: a reference pose index must be at most %d", INT_MAX);
        render_reference(img, mask, s, (int)o->seed, S);
    } else {
        Prompt p;
        if (prompt_parse(&p, o->prompt, s->cls, err, sizeof(err))) cg_usage("--prompt: %s", err);
        render_target(img, mask, s, &p, (uint64_t)o->seed, S);
    }
    write_or_die(cg_png_write_float_rgb(o->out, img, S, S, err, sizeof(err)), err);
    if (o->mask) write_or_die(cg_png_write_gray8(o->mask, mask, S, S, err, sizeof(err)), err);
    free(img);
    free(mask);
    free(w);
    return 0;
}

// "0,1,2,20" -> template indices, increasing and distinct; NULL -> all 25. Returns the count.
static int parse_template_list(const char *list, int out[PROMPT_N_TEMPLATES]) {
    if (!list) {
        for (int t = 0; t < PROMPT_N_TEMPLATES; t++) out[t] = t;
        return PROMPT_N_TEMPLATES;
    }
    int n = 0;
    char buf[256];
    if (strlen(list) >= sizeof(buf)) cg_usage("--prompts: the list is too long");
    strcpy(buf, list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int t = (int)cli_parse_long("--prompts", tok, 0, PROMPT_N_TEMPLATES - 1);
        if (n > 0 && t <= out[n - 1]) cg_usage("--prompts: template indices must increase (%d after %d)", t, out[n - 1]);
        out[n++] = t;
    }
    if (n == 0) cg_usage("--prompts: give template indices 0..24, e.g. 0,1,20");
    return n;
}

static int world_grid(const Opts *o) {
    if (!o->out) cg_usage("world grid: --out FILE.png is required");
    World *w = make_world(o);
    int split = o->split >= 0 ? o->split : SPLIT_TEST;
    int total = world_split_count(split);
    if (o->first >= total)
        cg_usage("--first %ld is out of range: the %s split has subjects 0..%d", o->first, world_split_name(split),
                 total - 1);
    int first = (int)o->first, count = o->count > 0 ? (int)o->count : total - first;
    if (first + count > total) count = total - first;
    int S = (int)o->size, z = o->zoom > 0 ? (int)o->zoom : (S <= 32 ? 2 : 1), refs = (int)o->refs;
    int templates[PROMPT_N_TEMPLATES], n_t = parse_template_list(o->prompt_list, templates);
    const int gap = 2 * z, group_gap = 4 * z; // between cells; between column groups
    int cell = S * z, n_groups = 0;
    for (int k = 1; k < n_t; k++) n_groups += templates[k] / 10 != templates[k - 1] / 10;
    // columns: refs | templates 0-9 | 10-19 | 20-24, each group separated by a wider gap
    int Wt = gap + refs * (cell + gap) + (refs ? group_gap : 0) + n_t * (cell + gap) + n_groups * group_gap;
    int Ht = gap + count * (cell + gap);
    if ((long)Wt * (long)Ht > CG_PNG_MAX_PIXELS) cg_usage("world grid: the sheet would be %dx%d, too large", Wt, Ht);
    char err[512];
    Sheet sheet;
    write_or_die(sheet_create(&sheet, Wt, Ht, 40, err, sizeof(err)), err);
    float *img = cg_malloc(3 * (size_t)S * (size_t)S * sizeof(float));
    for (int r = 0; r < count; r++) {
        const Subject *s = world_subject(w, split, first + r);
        int x = gap, y = gap + r * (cell + gap);
        for (int k = 0; k < refs; k++) {
            render_reference(img, NULL, s, k, S);
            sheet_put_float(&sheet, x, y, img, S, z, SHEET_UNIT_RANGE);
            x += cell + gap;
        }
        if (refs) x += group_gap;
        for (int k = 0; k < n_t; k++) {
            int t = templates[k];
            if (k > 0 && t / 10 != templates[k - 1] / 10) x += group_gap;
            Prompt p;
            prompt_make(&p, s->cls, t);
            uint64_t seed = (uint64_t)o->seed * 1000003u + (uint64_t)(first + r) * 101u + (uint64_t)t;
            render_target(img, NULL, s, &p, seed, S);
            sheet_put_float(&sheet, x, y, img, S, z, SHEET_UNIT_RANGE);
            x += cell + gap;
        }
    }
    write_or_die(sheet_write_png(&sheet, o->out, err, sizeof(err)), err);
    free(img);
    sheet_free(&sheet);
    free(w);
    return 0;
}

static int world_tokens(const Opts *o) {
    if (!o->prompt) cg_usage("world tokens: --prompt \"TEXT\" is required");
    int ids[TOK_MAX_TOKENS];
    char err[512];
    int n = tok_encode(ids, o->prompt, err, sizeof(err));
    if (n < 0) cg_usage("--prompt: %s", err);
    for (int i = 0; i < TOK_MAX_TOKENS; i++) printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    return 0;
}

int cmd_world(int argc, char **argv) {
    if (argc < 2) cg_usage("world needs a subcommand: list, prompts, render, grid or tokens (see cgrpo world --help)");
    if (cli_is_help(argv[1])) {
        fputs(USAGE, stdout);
        return 0;
    }
    Opts o;
    parse_opts(&o, argc, argv);
    if (strcmp(argv[1], "list") == 0) return world_list(&o);
    if (strcmp(argv[1], "prompts") == 0) return world_prompts(&o);
    if (strcmp(argv[1], "render") == 0) return world_render(&o);
    if (strcmp(argv[1], "grid") == 0) return world_grid(&o);
    if (strcmp(argv[1], "tokens") == 0) return world_tokens(&o);
    cg_usage("world: unknown subcommand '%s' (list, prompts, render, grid, tokens)", argv[1]);
}
