/*
 * workload.h - the two workloads the crash tests run through a mount
 * (workload.c): a seeded random one that runs until the daemon is killed
 * under it, and every short sequence of operations (ACE).
 */
#ifndef MIXFS_CRASH_WORKLOAD_H
#define MIXFS_CRASH_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "journal.h"

struct random_opts {
	uint64_t seed;
	uint64_t max_steps;	/* stop (and record E) after this many */
	uint64_t kill_step;	/* 0, or before this step: */
	pid_t kill_pid;		/* SIGKILL this process, */
	const char *cut_dir;	/* or crash_shutdown() this filesystem */
	unsigned cut_after_ms;	/* or, with cut_dir, cut it this long after
				 * the start, whatever is running then */
};

/*
 * Run the random workload in @j's tree until the filesystem goes away or
 * max_steps are done. Returns 0, or 1 if a result differed from POSIX
 * (described on j->log). Progress goes to @out.
 */
int crash_random(struct journal *j, const struct random_opts *o, FILE *out);

/* The number of sequences of 1..@len operations that do not fail. */
long crash_ace_count(int len);

/*
 * Run sequences @from .. @from + @count - 1 (in crash_ace_count's order)
 * of 1..@len operations, each in its own directory s<index> of @j's tree
 * set up from the same starting state, each operation followed by fsyncs
 * of what it touched. Returns how many ran, or -1 if a result differed
 * from POSIX (described on j->log), or -2 if the filesystem went away.
 */
long crash_ace_run(struct journal *j, int len, long from, long count);

#endif
