// prompts.c: the DreamBench templates, building a Prompt from (class, template) and parsing a
// prompt string back into its structured form.
#include "world/prompts.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/check.h"
#include "world/tokenizer.h"
#include "world/world.h"

// The phrase after "a sks <class>", exact DreamBench wording.
static const char *const SCENE_PHRASES[PROMPT_N_SCENES] = {
    "in the jungle",
    "in the snow",
    "on the beach",
    "on a cobblestone street",
    "on top of pink fabric",
    "on top of a wooden floor",
    "with a city in the background",
    "with a mountain in the background",
    "with a blue house in the background",
    "on top of a purple rug in a forest",
    "with a wheat field in the background", // 10..19: object prompts only
    "with a tree and autumn leaves in the background",
    "with the Eiffel Tower in the background",
    "floating on top of water",
    "floating in an ocean of milk",
    "on top of green grass with sunflowers around it",
    "on top of a mirror",
    "on top of the sidewalk in a crowded street",
    "on top of a dirt road",
    "on top of a white rug",
};
static const char *const ACCESSORY_PHRASES[PROMPT_N_ACCESSORIES] = {
    "wearing a red hat",
    "wearing a santa hat",
    "wearing a rainbow scarf",
    "wearing a black top hat and a monocle",
    "in a chef outfit",
    "in a firefighter outfit",
    "in a police outfit",
    "wearing pink glasses",
    "wearing a yellow shirt",
    "in a purple wizard outfit",
};
// The words between "a" and "sks": "a red sks dog".
static const char *const PROPERTY_PHRASES[PROMPT_N_PROPERTIES] = {"red", "purple", "shiny", "wet",
                                                                  "cube shaped"};

static const char *const SCENE_NAMES[PROMPT_N_SCENES] = {
    "jungle",      "snow",         "beach",        "cobblestone", "pink_fabric",
    "wooden_floor", "city",        "mountain",     "blue_house",  "purple_rug_forest",
    "wheat_field", "autumn_tree",  "eiffel_tower", "water",       "milk",
    "sunflowers",  "mirror",       "crowded_sidewalk", "dirt_road", "white_rug"};
static const char *const ACCESSORY_NAMES[PROMPT_N_ACCESSORIES] = {
    "red_hat", "santa_hat", "rainbow_scarf", "top_hat_monocle", "chef",
    "firefighter", "police", "pink_glasses", "yellow_shirt", "wizard"};
static const char *const PROPERTY_NAMES[PROMPT_N_PROPERTIES] = {"red", "purple", "shiny", "wet", "cube"};

const char *prompt_kind_name(PromptKind kind) {
    switch (kind) {
    case PROMPT_PLAIN: return "plain";
    case PROMPT_SCENE: return "scene";
    case PROMPT_ACCESSORY: return "accessory";
    case PROMPT_PROPERTY: return "property";
    }
    return "?";
}

const char *prompt_item_name(PromptKind kind, int item) {
    if (kind == PROMPT_SCENE && item >= 0 && item < PROMPT_N_SCENES) return SCENE_NAMES[item];
    if (kind == PROMPT_ACCESSORY && item >= 0 && item < PROMPT_N_ACCESSORIES) return ACCESSORY_NAMES[item];
    if (kind == PROMPT_PROPERTY && item >= 0 && item < PROMPT_N_PROPERTIES) return PROPERTY_NAMES[item];
    if (kind == PROMPT_PLAIN) return "plain";
    return "?";
}

const char *prompt_phrase(PromptKind kind, int item) {
    if (kind == PROMPT_SCENE && item >= 0 && item < PROMPT_N_SCENES) return SCENE_PHRASES[item];
    if (kind == PROMPT_ACCESSORY && item >= 0 && item < PROMPT_N_ACCESSORIES) return ACCESSORY_PHRASES[item];
    if (kind == PROMPT_PROPERTY && item >= 0 && item < PROMPT_N_PROPERTIES) return PROPERTY_PHRASES[item];
    return "";
}

// (kind, item) of template t for a class kind.
static void template_item(int class_kind, int t, PromptKind *kind, int *item) {
    if (t < 0) *kind = PROMPT_PLAIN, *item = -1;
    else if (t < PROMPT_N_COMMON_SCENES) *kind = PROMPT_SCENE, *item = t;
    else if (t < 20 && class_kind == KIND_OBJECT) *kind = PROMPT_SCENE, *item = t;
    else if (t < 20) *kind = PROMPT_ACCESSORY, *item = t - 10;
    else *kind = PROMPT_PROPERTY, *item = t - 20;
}

void prompt_make(Prompt *p, int cls, int template_index) {
    CG_CHECK(cls >= 0 && cls < WORLD_N_CLASSES, "class %d", cls);
    CG_CHECK(template_index >= -1 && template_index < PROMPT_N_TEMPLATES, "template %d", template_index);
    memset(p, 0, sizeof(*p));
    p->template_index = template_index;
    p->cls = cls;
    template_item(world_class_kind(cls), template_index, &p->kind, &p->item);
    const char *word = world_class_word(cls);
    if (p->kind == PROMPT_PLAIN) snprintf(p->text, sizeof(p->text), "a sks %s", word);
    else if (p->kind == PROMPT_PROPERTY)
        snprintf(p->text, sizeof(p->text), "a %s sks %s", PROPERTY_PHRASES[p->item], word);
    else snprintf(p->text, sizeof(p->text), "a sks %s %s", word, prompt_phrase(p->kind, p->item));
}

// ---- parsing -----------------------------------------------------------------------------------

#define MAX_PARSE_WORDS 24
typedef struct {
    int n;
    char w[MAX_PARSE_WORDS][32]; // lower case
} Words;

static void split_words(Words *ws, const char *text) { // text is known to tokenize (short words)
    ws->n = 0;
    const char *p = text;
    while (*p && ws->n < MAX_PARSE_WORDS) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        size_t k = 0;
        while (*p && !isspace((unsigned char)*p)) {
            if (k + 1 < sizeof(ws->w[0])) ws->w[ws->n][k++] = (char)tolower((unsigned char)*p);
            p++;
        }
        ws->w[ws->n++][k] = '\0';
    }
}

// Join words [from, n) with single spaces.
static void join_words(char *dst, size_t cap, const Words *ws, int from) {
    size_t k = 0;
    dst[0] = '\0';
    for (int i = from; i < ws->n; i++) {
        int m = snprintf(dst + k, cap - k, "%s%s", i > from ? " " : "", ws->w[i]);
        if (m < 0 || (size_t)m >= cap - k) return;
        k += (size_t)m;
    }
}

// Match a class word at words[at...]; returns the class and sets *used, or -1.
static int match_class(const Words *ws, int at, int *used) {
    for (int c = 0; c < WORLD_N_CLASSES; c++) {
        char cw[32];
        snprintf(cw, sizeof(cw), "%s", world_class_word(c));
        char *second = strchr(cw, ' ');
        if (second) *second++ = '\0';
        if (at < ws->n && strcmp(ws->w[at], cw) == 0 &&
            (!second || (at + 1 < ws->n && strcmp(ws->w[at + 1], second) == 0))) {
            *used = second ? 2 : 1;
            return c;
        }
    }
    return -1;
}

int prompt_parse(Prompt *p, const char *text, int cls, char *err, size_t errlen) {
    int ids[TOK_MAX_TOKENS];
    char why[256];
    if (tok_encode(ids, text, why, sizeof(why)) < 0) return cg_errf(err, errlen, "%s", why);
    Words ws;
    split_words(&ws, text);
    if (ws.n < 3 || strcmp(ws.w[0], "a") != 0)
        return cg_errf(err, errlen, "a prompt starts with 'a sks <class>' or 'a <property> sks <class>'");

    // "a <property words> sks <class>" or "a sks <class> <phrase>"
    int sks_at = -1;
    for (int i = 1; i < ws.n; i++)
        if (strcmp(ws.w[i], "sks") == 0) {
            sks_at = i;
            break;
        }
    if (sks_at < 0) return cg_errf(err, errlen, "the prompt has no identifier token 'sks'");
    int used = 0, c = match_class(&ws, sks_at + 1, &used);
    if (c < 0)
        return cg_errf(err, errlen, "'sks' must be followed by a class word (e.g. 'sks %s'), found '%s'",
                       cls >= 0 ? world_class_word(cls) : "dog", sks_at + 1 < ws.n ? ws.w[sks_at + 1] : "");
    if (cls >= 0 && c != cls)
        return cg_errf(err, errlen, "the prompt names a %s but the subject is a %s", world_class_word(c),
                       world_class_word(cls));
    int kind = world_class_kind(c);
    char before[PROMPT_MAX_TEXT], after[PROMPT_MAX_TEXT];
    Words pre = ws;
    pre.n = sks_at;
    join_words(before, sizeof(before), &pre, 1);
    join_words(after, sizeof(after), &ws, sks_at + 1 + used);

    int t = -2; // template index found
    if (before[0] && after[0])
        return cg_errf(err, errlen, "a property ('%s') cannot be combined with a phrase ('%s')", before, after);
    if (before[0]) {
        for (int i = 0; i < PROMPT_N_PROPERTIES; i++)
            if (strcmp(before, PROPERTY_PHRASES[i]) == 0) t = 20 + i;
        if (t == -2)
            return cg_errf(err, errlen, "'%s' is not a property (red, purple, shiny, wet, cube shaped)", before);
    } else if (!after[0]) {
        t = -1;
    } else {
        for (int i = 0; i < PROMPT_N_SCENES && t == -2; i++)
            if (strcasecmp(after, SCENE_PHRASES[i]) == 0) {
                if (i >= PROMPT_N_COMMON_SCENES && kind == KIND_LIVE)
                    return cg_errf(err, errlen, "'%s' is an object prompt; a %s is a live subject (its list "
                                   "has accessories there)", SCENE_PHRASES[i], world_class_word(c));
                t = i;
            }
        for (int i = 0; i < PROMPT_N_ACCESSORIES && t == -2; i++)
            if (strcmp(after, ACCESSORY_PHRASES[i]) == 0) {
                if (kind == KIND_OBJECT)
                    return cg_errf(err, errlen, "'%s' is a live-subject prompt; a %s is an object",
                                   ACCESSORY_PHRASES[i], world_class_word(c));
                t = 10 + i;
            }
        if (t == -2)
            return cg_errf(err, errlen, "'%s' matches no DreamBench template after 'a sks %s'", after,
                           world_class_word(c));
    }
    prompt_make(p, c, t);
    return 0;
}
