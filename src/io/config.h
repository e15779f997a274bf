// config.h: a tiny `key = value` config-file reader and writer over a table of known keys.
//
// A command describes its settings as a C struct plus a table of ConfigKey rows (name, type,
// offsetof the field, allowed range, help). The same table then serves the config file, the
// command line (`--key value` overrides), the resolved config written into a run directory and
// the checkpoint metadata, so a setting has one name everywhere.
//
// File format, one setting per line:
//     # a comment            (whole line; also after a value: "lr = 3e-4   # peak")
//     width = 128
//     lr_schedule = constant
// Blank lines are ignored, spaces around '=' are optional, a key may appear once per file.
// Errors (returned with a one-line reason, never an exit):
//     unknown key    -> "configs/x.cfg:3: unknown key 'widht' (nearest: width)"
//     bad value      -> "configs/x.cfg:4: width = 'abc' is not an integer"
//     out of range   -> "configs/x.cfg:4: width = 0 is out of range [1, 4096]"
//
//   static const ConfigKey KEYS[] = {
//       {"width", CONFIG_INT, offsetof(MyCfg, width), 1, 4096, NULL, "model width"},
//       {"lr", CONFIG_FLOAT, offsetof(MyCfg, lr), 0, 1, NULL, "peak learning rate"},
//       {"schedule", CONFIG_CHOICE, offsetof(MyCfg, schedule), 0, 0, "constant|cosine", "lr schedule"},
//   };
//   if (config_read_file(path, &cfg, KEYS, n, err, sizeof err)) cg_usage("%s", err);
#ifndef CGRPO_IO_CONFIG_H
#define CGRPO_IO_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "io/checkpoint.h"

typedef enum {
    CONFIG_INT = 0,    // int field, decimal, within [lo, hi]
    CONFIG_U64 = 1,    // uint64_t field, decimal without sign (seeds); lo/hi ignored
    CONFIG_FLOAT = 2,  // float field, any strtof syntax, finite, within [lo, hi]
    CONFIG_CHOICE = 3, // int field holding the index of one word of `choices` ("a|b|c")
    CONFIG_STRING = 4, // char[CONFIG_MAX_VALUE] field: printable ASCII without '#', may be empty (a
                       // URL, the name of an environment variable); lo/hi ignored
} ConfigType;

typedef struct {
    const char *key;     // [a-z0-9_]+
    ConfigType type;
    size_t offset;       // offsetof(struct, field)
    double lo, hi;       // inclusive range of INT and FLOAT values
    const char *choices; // CONFIG_CHOICE: "word|word|..."; NULL otherwise
    const char *help;    // one line, written as a comment by config_write_file
} ConfigKey;

// The AdamW rows that the trainers' key tables share, for a struct T with float fields beta1, beta2,
// adam_eps and weight_decay (decay on matrices only, nn/optim.h).
#define CONFIG_ADAMW_KEYS(T)                                                                        \
    {"beta1", CONFIG_FLOAT, offsetof(T, beta1), 0, 0.99999, NULL, "AdamW"},                        \
    {"beta2", CONFIG_FLOAT, offsetof(T, beta2), 0, 0.9999999, NULL, "AdamW"},                      \
    {"adam_eps", CONFIG_FLOAT, offsetof(T, adam_eps), 0, 1, NULL, "AdamW"},                        \
    {"weight_decay", CONFIG_FLOAT, offsetof(T, weight_decay), 0, 10, NULL, "AdamW, matrices only"}

#define CONFIG_MAX_LINE 1024  // longest line of a config file
#define CONFIG_MAX_VALUE 128  // longest formatted value, NUL included (so a string holds 127 characters)

// The row of `key`, or NULL. Command-line spellings with '-' match '_' ("p-drop-ref").
const ConfigKey *config_find(const ConfigKey *keys, int n, const char *key);
// The known key nearest to `key` by edit distance (for "did you mean").
const char *config_nearest(const ConfigKey *keys, int n, const char *key);

// Parse `value` strictly into obj's field for `key`. 0, or -1 with a reason naming the key
// (unknown key with the nearest known one, unparsable value, value out of range or not a choice).
int config_set(void *obj, const ConfigKey *keys, int n, const char *key, const char *value, char *err,
               size_t errlen);
// The field of row k as text that config_set parses back to the same bits (floats in the
// shortest form that round-trips, e.g. "0.0003"; choices as their word).
void config_format(char *buf, size_t len, const void *obj, const ConfigKey *k);
// 1 when row k's field is the same in a and b (compared as formatted text).
int config_same(const void *a, const void *b, const ConfigKey *k);
// Help text: one line per key, "  KEY  DEFAULT  HELP[: CHOICES]", the key padded to key_width.
void config_print_help(FILE *f, const void *defaults, const ConfigKey *keys, int n, int key_width);
// --print-config: "key = value" per key, as config_write_file writes them (without comments).
void config_print_values(FILE *f, const void *obj, const ConfigKey *keys, int n);

// The line syntax alone, without a key table (for a command whose settings are not all in one
// table): fn is called for each `key = value` line of text in order, key and value trimmed, the
// comment cut off (the value may be empty). A non-zero return stops the reading; err is then fn's
// reason after "WHAT:LINE: ". Syntax errors as config_parse_text.
typedef int (*ConfigLineFn)(void *ctx, const char *key, const char *value, int line, char *err, size_t errlen);
int config_each_line(const char *text, const char *what, ConfigLineFn fn, void *ctx, char *err, size_t errlen);
// config_each_line over a file, read as config_read_file reads it.
int config_read_file_lines(const char *path, ConfigLineFn fn, void *ctx, char *err, size_t errlen);

// Apply every `key = value` line of text. `what` names the source in messages (a path).
// seen (n) or NULL: set to 1 for each key the text sets; a key set twice is an error.
int config_parse_text(void *obj, const ConfigKey *keys, int n, const char *text, const char *what,
                      unsigned char *seen, char *err, size_t errlen);
// Read a file and apply it (config_parse_text). Missing or unreadable file -> -1 with the reason.
int config_read_file(const char *path, void *obj, const ConfigKey *keys, int n, char *err, size_t errlen);
// Write every key of obj as `key = value  # help`, after `header` (comment lines, may be NULL),
// atomically (temp file + fsync + rename).
int config_write_file(const char *path, const void *obj, const ConfigKey *keys, int n, const char *header,
                      char *err, size_t errlen);

// ---- checkpoint metadata: "cfg.<key>" = the formatted value --------------------------------------

// Sets "cfg.<key>" for every key of obj (how a checkpoint or model file records its run's config).
void config_meta_set(CkptMeta *meta, const void *obj, const ConfigKey *keys, int n);
// Checks that meta has "cfg.<key>" = obj's value for every key except those skip(key) accepts (skip
// may be NULL). 0, or -1 with ckpt_meta_expect's reason for the first that differs.
int config_meta_expect(const CkptMeta *meta, const void *obj, const ConfigKey *keys, int n, int (*skip)(const char *key),
                       char *err, size_t errlen);

// 1 if name is one of names[0..n), else 0 (e.g. the keys a resumed run may change).
int config_name_in(const char *name, const char *const *names, int n);

#endif
