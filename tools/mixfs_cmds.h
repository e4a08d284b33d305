/* mixfs_cmds.h - subcommands of the mixfs command kept in their own files. */
#ifndef MIXFS_TOOLS_CMDS_H
#define MIXFS_TOOLS_CMDS_H

#include <stddef.h>
#include <stdio.h>

/* mixfs events: print or follow a filesystem's events (mixfs_events.c). */
int mixfs_cmd_events(int argc, char **argv);
/* mixfs bench: benchmarks (bench.c). */
int mixfs_cmd_bench(int argc, char **argv);
/*
 * mixfs status --prometheus (mixfs_prom.c): print @n filesystems' status
 * texts (the control file's "key: value" lines) as Prometheus metrics,
 * labelled with @mountpoints. 0, or -1 when out of memory.
 */
int mixfs_print_prometheus(FILE *f, const char *const *mountpoints,
			   const char *const *texts, size_t n);

#endif
