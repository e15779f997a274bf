// cmd_world.c: placeholder until SubjectBench lands.
#include <stdio.h>
#include "cli/cli.h"
int cmd_world(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "cgrpo: world is not built yet\n"); return 1; }
