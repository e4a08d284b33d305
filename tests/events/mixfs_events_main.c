/* mixfs_events_main.c - `mixfs-events`, the events subcommand as a program
 * of its own, so its tests need not wait for the whole `mixfs` command. */
#include "mixfs_events.h"

int main(int argc, char **argv)
{
	argv[0] = "events";
	return mixfs_cmd_events(argc, argv);
}
