// cmd_inspect.c: placeholder until safetensors I/O lands.
#include <stdio.h>
#include "cli/cli.h"
int cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "cgrpo: inspect is not built yet\n"); return 1; }
