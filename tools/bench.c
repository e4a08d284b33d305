/*
 * bench.c - `mixfs bench`: dispatch to the benchmarks that live beside
 * the libraries they measure.
 */
#include <stdio.h>
#include <string.h>

#include "tools/mixfs_cmds.h"

static const char usage[] =
"usage: mixfs bench WHAT [ARGS]\n"
"  (no benchmarks are built in yet)\n";

int mixfs_cmd_bench(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "mixfs bench: unknown benchmark\n%s", usage);
	return 2;
}
