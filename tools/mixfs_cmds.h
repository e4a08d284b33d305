/* mixfs_cmds.h - subcommands of the mixfs command kept in their own files. */
#ifndef MIXFS_TOOLS_CMDS_H
#define MIXFS_TOOLS_CMDS_H

/* mixfs events: print or follow a filesystem's events (mixfs_events.c). */
int mixfs_cmd_events(int argc, char **argv);
/* mixfs bench: benchmarks (bench.c). */
int mixfs_cmd_bench(int argc, char **argv);

#endif
