// prompts.h: DreamBench's 25 prompt templates in their exact wording, as structured prompts.
//
// Each subject kind has its own list of 25 (shared/data/dreambench_prompts_and_classes.txt):
//   template  0..9  : recontextualization, both kinds   "a sks dog in the jungle"       SCENE 0..9
//   template 10..19 : objects: more scenes               "a sks can on top of a mirror"  SCENE 10..19
//                     live:    accessorization           "a sks cat wearing a red hat"   ACCESSORY 0..9
//   template 20..24 : property modification, both kinds  "a red sks dog", "a cube shaped sks toy"
//                                                                                       PROPERTY 0..4
// so for objects the scene index equals the template index. The identifier token is "sks".
// cgrpo adds one prompt outside the 25: the plain "a sks <class>" (template_index -1, kind
// PROMPT_PLAIN), the subject on a neutral studio backdrop, for pretraining and for tests.
// A Prompt knows its ground truth (kind and item), so any prompt string can be parsed back.
#ifndef CGRPO_PROMPTS_H
#define CGRPO_PROMPTS_H

#include <stddef.h>

#define PROMPT_N_TEMPLATES 25
#define PROMPT_N_SCENES 20      // 0..9 for everyone, 10..19 object-only
#define PROMPT_N_COMMON_SCENES 10
#define PROMPT_N_ACCESSORIES 10 // live only
#define PROMPT_N_PROPERTIES 5
#define PROMPT_MAX_TEXT 96      // longest: "a sks stuffed animal on top of a purple rug in a forest" (55)

typedef enum { PROMPT_PLAIN = 0, PROMPT_SCENE = 1, PROMPT_ACCESSORY = 2, PROMPT_PROPERTY = 3 } PromptKind;

enum {
    SCENE_JUNGLE, SCENE_SNOW, SCENE_BEACH, SCENE_COBBLESTONE, SCENE_PINK_FABRIC, SCENE_WOODEN_FLOOR,
    SCENE_CITY, SCENE_MOUNTAIN, SCENE_BLUE_HOUSE, SCENE_PURPLE_RUG_FOREST,
    SCENE_WHEAT_FIELD, SCENE_AUTUMN_TREE, SCENE_EIFFEL_TOWER, SCENE_WATER, SCENE_MILK,
    SCENE_SUNFLOWERS, SCENE_MIRROR, SCENE_CROWDED_SIDEWALK, SCENE_DIRT_ROAD, SCENE_WHITE_RUG
};
enum {
    ACC_RED_HAT, ACC_SANTA_HAT, ACC_RAINBOW_SCARF, ACC_TOP_HAT_MONOCLE, ACC_CHEF, ACC_FIREFIGHTER,
    ACC_POLICE, ACC_PINK_GLASSES, ACC_YELLOW_SHIRT, ACC_WIZARD
};
enum { PROP_RED, PROP_PURPLE, PROP_SHINY, PROP_WET, PROP_CUBE };

typedef struct {
    int template_index;         // 0..24 in the list of the class's kind; -1 for the plain prompt
    PromptKind kind;            // what the prompt asks for
    int item;                   // scene 0..19, accessory 0..9 or property 0..4; -1 when plain
    int cls;                    // the class named in the text (CLS_*)
    char text[PROMPT_MAX_TEXT]; // canonical text, e.g. "a sks dog with the Eiffel Tower in the background"
} Prompt;

// The prompt `template_index` (0..24, or -1 for plain) of class `cls`. Dies on a bad index.
void prompt_make(Prompt *p, int cls, int template_index);
// Parse a prompt string (words compared case-insensitively, any run of spaces between words).
// cls >= 0: the text must name that class; cls == -1: any class. The template must belong to
// the list of the class's kind. Returns 0, or -1 with a one-line reason in err (unknown word
// with suggestions, another class, no matching template, template of the other kind).
int prompt_parse(Prompt *p, const char *text, int cls, char *err, size_t errlen);

// Short names for logs and reports: "jungle", "santa_hat", "cube", "plain".
const char *prompt_item_name(PromptKind kind, int item);
const char *prompt_kind_name(PromptKind kind); // "plain", "scene", "accessory", "property"
// The phrase after "a sks <class>" for a scene or accessory ("in the jungle"), or the words
// before "sks" for a property ("cube shaped").
const char *prompt_phrase(PromptKind kind, int item);

#endif
