/*
 * random.c - the random crash workload: seeded operations over a small
 * set of names in a tree two directories deep, so that operations
 * collide (renames over existing files, links to renamed files, writes
 * to files about to be replaced), with fsyncs of files and directories
 * sprinkled in and common durable idioms (write, fsync, rename over the
 * old file, fsync the directory) run as plans of several steps.
 *
 * It knows nothing of the filesystem under it and never reads back what
 * it wrote; the checker does that after the crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define PLAN_MAX	8
#define LIST_MAX	256
#define MAX_FILE	(400u << 10)
#define MAX_VERSIONS	24	/* the checker keeps each one in memory */

static const char *const file_names[] = { "f0", "f1", "f2", "f3", "t0" };
static const char *const dir_names[] = { "d0", "d1" };

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t x = (r->s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

struct plan {
	struct cop_rec op[PLAN_MAX];
	int n;
};

static struct cop_rec *plan_add(struct plan *p, enum cop op, const char *path)
{
	struct cop_rec *c = &p->op[p->n++];

	memset(c, 0, sizeof(*c));
	c->op = op;
	snprintf(c->path, sizeof(c->path), "%s", path);
	return c;
}

static void parent_of(const char *path, char *out)
{
	char buf[CRASH_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(out, CRASH_PATH_MAX, "%s", dirname(buf));
}

static void join(char *out, const char *dir, const char *name)
{
	if (!strcmp(dir, "."))
		snprintf(out, CRASH_PATH_MAX, "%s", name);
	else if (snprintf(out, CRASH_PATH_MAX, "%s/%s", dir, name) >=
		 CRASH_PATH_MAX)
		abort();
}

/* A random existing file (false if there is none). */
static bool pick_file(struct model *m, struct rng *r, char *out)
{
	char *paths[LIST_MAX];
	int n = model_list(m, false, paths, NULL, LIST_MAX);

	if (n)
		snprintf(out, CRASH_PATH_MAX, "%s", paths[below(r, n)]);
	model_free_paths(paths, n);
	return n > 0;
}

/* A random existing directory at most @maxdepth deep ("." is 0). */
static void pick_dir(struct model *m, struct rng *r, int maxdepth, char *out)
{
	char *paths[LIST_MAX], *ok[LIST_MAX];
	int depth[LIST_MAX], k = 0;
	int n = model_list(m, true, paths, depth, LIST_MAX);

	for (int i = 0; i < n; i++)
		if (depth[i] <= maxdepth)
			ok[k++] = paths[i];
	snprintf(out, CRASH_PATH_MAX, "%s", ok[below(r, k)]);
	model_free_paths(paths, n);
}

/* A name for a new file, or (1 in 4) one that may be a directory. */
static void pick_target(struct model *m, struct rng *r, char *out)
{
	char dir[CRASH_PATH_MAX];

	pick_dir(m, r, 2, dir);
	if (below(r, 4))
		join(out, dir, file_names[below(r, 5)]);
	else
		join(out, dir, dir_names[below(r, 2)]);
}

static void random_write(struct model *m, struct rng *r, struct cop_rec *c)
{
	uint64_t size = model_size(m, c->path), len, off;

	switch (below(r, 4)) {
	case 0: len = 1 + below(r, 100); break;
	case 1: len = 100 + below(r, 4000); break;	/* stays inline */
	case 2: len = 4097 + below(r, 61440); break;
	default: len = 65537 + below(r, 140000); break;	/* > 64 KiB */
	}
	switch (below(r, 10)) {
	case 0: case 1: case 2: case 3: off = size; break;	/* append */
	case 4: case 5: case 6: off = 0; break;
	case 7: case 8: off = below(r, size + 1); break;
	default: off = size + below(r, 8192); break;		/* a hole */
	}
	if (off > MAX_FILE - 1)
		off = below(r, MAX_FILE / 2);
	if (off + len > MAX_FILE)
		len = MAX_FILE - off;
	c->off = off;
	c->len = len;
	c->seed = rnd(r);
}

static uint64_t random_size(struct model *m, struct rng *r, const char *path)
{
	static const uint64_t edges[] = { 0, 4095, 4096, 4097, 65536, 65537 };
	uint64_t size = model_size(m, path);

	switch (below(r, 4)) {
	case 0: return edges[below(r, 6)];
	case 1: return below(r, size + 1);
	case 2: return size + below(r, 100000);
	default: return 0;
	}
}

static void plan_write(struct plan *p, struct model *m, struct rng *r,
		       const char *path)
{
	random_write(m, r, plan_add(p, COP_WRITE, path));
}

static void make_plan(struct model *m, struct rng *r, struct plan *p)
{
	char f[CRASH_PATH_MAX], g[CRASH_PATH_MAX], dir[CRASH_PATH_MAX];
	bool have = pick_file(m, r, f);
	unsigned w = (unsigned)below(r, 100);

	p->n = 0;
	if (have && model_versions(m, f) >= MAX_VERSIONS) {
		plan_add(p, COP_FSYNC, f);
		return;
	}
	if (!have || w < 8) {			/* create */
		pick_target(m, r, g);
		plan_add(p, COP_CREATE, g);
	} else if (w < 16) {			/* durable create */
		pick_target(m, r, g);
		plan_add(p, COP_CREATE, g);
		plan_write(p, m, r, g);
		p->op[1].off = 0;
		plan_add(p, COP_FSYNC, g);
		parent_of(g, dir);
		plan_add(p, COP_FSYNC, dir);
	} else if (w < 36) {
		plan_write(p, m, r, f);
	} else if (w < 43) {
		plan_add(p, COP_TRUNCATE, f)->off = random_size(m, r, f);
	} else if (w < 49) {			/* replace by rename */
		pick_dir(m, r, 2, dir);
		join(g, dir, "t0");
		plan_add(p, COP_CREATE, g);
		plan_write(p, m, r, g);
		p->op[1].off = 0;
		plan_add(p, COP_FSYNC, g);
		snprintf(plan_add(p, COP_RENAME, g)->path2, CRASH_PATH_MAX,
			 "%s", f);
		parent_of(f, g);
		plan_add(p, COP_FSYNC, g);
		if (strcmp(g, dir))
			plan_add(p, COP_FSYNC, dir);
	} else if (w < 53) {
		pick_dir(m, r, 1, dir);
		join(g, dir, dir_names[below(r, 2)]);
		plan_add(p, COP_MKDIR, g);
	} else if (w < 56) {
		pick_dir(m, r, 2, g);
		plan_add(p, COP_RMDIR, g);
	} else if (w < 62) {
		plan_add(p, COP_UNLINK, f);
	} else if (w < 66) {
		pick_target(m, r, g);
		snprintf(plan_add(p, COP_LINK, f)->path2, CRASH_PATH_MAX,
			 "%s", g);
	} else if (w < 80) {			/* rename, sometimes durable */
		if (!below(r, 5))
			pick_dir(m, r, 2, f);
		pick_target(m, r, g);
		snprintf(plan_add(p, COP_RENAME, f)->path2, CRASH_PATH_MAX,
			 "%s", g);
		if (below(r, 2)) {
			parent_of(f, dir);
			plan_add(p, COP_FSYNC, dir);
			parent_of(g, f);
			if (strcmp(f, dir))
				plan_add(p, COP_FSYNC, f);
		}
	} else if (w < 88) {
		plan_add(p, COP_FSYNC, f);
	} else if (w < 91) {
		plan_add(p, COP_FDATASYNC, f);
	} else if (w < 95) {
		pick_dir(m, r, 2, dir);
		plan_add(p, COP_FSYNC, dir);
	} else {				/* file and its directory */
		plan_add(p, COP_FSYNC, f);
		parent_of(f, dir);
		plan_add(p, COP_FSYNC, dir);
	}
}

int crash_random(struct journal *j, const struct random_opts *o, FILE *out)
{
	struct rng r = { o->seed };
	struct plan p;

	while (j->step < o->max_steps) {
		make_plan(j->m, &r, &p);
		for (int i = 0; i < p.n && j->step < o->max_steps; i++) {
			if (o->kill_step && j->step + 1 == o->kill_step) {
				if (o->cut_dir)
					crash_shutdown(o->cut_dir);
				else if (o->kill_pid > 0)
					kill(o->kill_pid, SIGKILL);
			}
			journal_run(j, &p.op[i]);
			if (j->mismatches)
				return 1;
			if (j->gone) {
				fprintf(out, "filesystem went away at step "
					"%" PRIu64 "; %" PRIu64 " fsyncs "
					"acknowledged\n", j->step,
					model_acks(j->m));
				return 0;
			}
		}
	}
	journal_printf(j, "E");
	fprintf(out, "%" PRIu64 " steps done; %" PRIu64 " fsyncs "
		"acknowledged\n", j->step, model_acks(j->m));
	return 0;
}
