/* events_stub.c - `mixfs events` until the events command is built. */
#include <stdio.h>

#include "tools/mixfs_cmds.h"

int mixfs_cmd_events(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "mixfs events: not built\n");
	return 2;
}
