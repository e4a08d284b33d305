/*
 * workload.c - the two workloads of the crash tests (workload.h).
 *
 * The random one: seeded operations over a small set of names in a tree
 * a few directories deep, so that operations collide (renames over
 * existing files, links to renamed files, writes to files about to be
 * replaced), with fsyncs of files and directories sprinkled in and
 * common durable idioms (write, fsync, rename over the old file, fsync
 * the directory) run as plans of several steps.
 *
 * ACE: every short sequence of metadata operations, the approach of
 * CrashMonkey (Mohan et al., OSDI 2018): over a fixed small set of names,
 * each operation followed by fsyncs of what it touched, so that after a
 * crash at the end of the sequence all of it must be there. Each
 * sequence starts from the same state, built in its own directory:
 *   foo      1000 bytes (inline); bar absent
 *   A/       holding A/foo, 70000 bytes (in an object)
 *   B/       empty
 * Sequences in which some operation fails on a POSIX filesystem (rmdir of
 * a missing directory, rename over a non-empty one, ...) are pruned by
 * the model before anything runs, so the count is the same everywhere.
 *
 * Neither knows anything of the filesystem under it nor reads back what
 * it wrote; the crash itself and the check are the driver scripts' and
 * model_check's.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

static void parent_of(const char *path, char *out)
{
	char buf[CRASH_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(out, CRASH_PATH_MAX, "%s", dirname(buf));
}

/* --- the random workload ------------------------------------------------ */

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

	if (o->cut_dir && o->cut_after_ms &&
	    crash_cut_after(o->cut_dir, o->cut_after_ms)) {
		fprintf(out, "cannot start the power-cut thread\n");
		return 1;
	}
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

/* --- ACE: every short sequence --------------------------------------------- */

#define ACE_OPS_MAX	64
#define ACE_LEN_MAX	4

static const char *const ace_files[] = { "foo", "bar", "A/foo", "A/bar" };
static const char *const ace_dirs[] = { "A", "B" };
#define NFILES (sizeof(ace_files) / sizeof(ace_files[0]))
#define NDIRS (sizeof(ace_dirs) / sizeof(ace_dirs[0]))

static struct cop_rec ace_ops[ACE_OPS_MAX];
static int ace_nops;

static struct cop_rec *op_add(enum cop op, const char *path, const char *path2)
{
	struct cop_rec *c = &ace_ops[ace_nops++];

	memset(c, 0, sizeof(*c));
	c->op = op;
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (path2)
		snprintf(c->path2, sizeof(c->path2), "%s", path2);
	return c;
}

static void ace_init(void)
{
	if (ace_nops)
		return;
	for (size_t i = 0; i < NFILES; i++)
		op_add(COP_CREATE, ace_files[i], NULL);
	for (size_t i = 0; i < NDIRS; i++)
		op_add(COP_MKDIR, ace_dirs[i], NULL);
	for (size_t i = 0; i < NDIRS; i++)
		op_add(COP_RMDIR, ace_dirs[i], NULL);
	for (size_t i = 0; i < NFILES; i++)
		for (size_t k = 0; k < NFILES; k++)
			if (i != k)
				op_add(COP_LINK, ace_files[i], ace_files[k]);
	for (size_t i = 0; i < NFILES; i++)
		op_add(COP_UNLINK, ace_files[i], NULL);
	for (size_t i = 0; i < NFILES; i++)
		for (size_t k = 0; k < NFILES; k++)
			if (i != k)
				op_add(COP_RENAME, ace_files[i], ace_files[k]);
	for (size_t i = 0; i < NDIRS; i++)
		for (size_t k = 0; k < NDIRS; k++)
			if (i != k)
				op_add(COP_RENAME, ace_dirs[i], ace_dirs[k]);
	for (size_t i = 0; i < NFILES; i++) {
		struct cop_rec *c;

		/* Overwrite the start (inline files stay inline). */
		c = op_add(COP_WRITE, ace_files[i], NULL);
		c->off = 0;
		c->len = 3000;
		c->seed = 1000 + i;
		/* Append past 64 KiB: an inline file moves to an object.
		 * The offset is fixed when the sequence runs. */
		c = op_add(COP_WRITE, ace_files[i], NULL);
		c->off = UINT64_MAX;
		c->len = 70000;
		c->seed = 2000 + i;
	}
	for (size_t i = 0; i < NFILES; i++) {
		op_add(COP_TRUNCATE, ace_files[i], NULL)->off = 500;
		op_add(COP_TRUNCATE, ace_files[i], NULL)->off = 90000;
	}
	for (size_t i = 0; i < NFILES; i++)
		op_add(COP_FSYNC, ace_files[i], NULL);
}

static void prefixed(char *out, const char *dir, const char *path)
{
	if (!strcmp(path, "."))
		snprintf(out, CRASH_PATH_MAX, "%s", dir);
	else
		snprintf(out, CRASH_PATH_MAX, "%s/%s", dir, path);
}

/* Operation @k of the list as it runs in directory @dir of model @m. */
static void op_in(struct model *m, int k, const char *dir, struct cop_rec *c)
{
	*c = ace_ops[k];
	prefixed(c->path, dir, ace_ops[k].path);
	if (c->op == COP_LINK || c->op == COP_RENAME)
		prefixed(c->path2, dir, ace_ops[k].path2);
	if (c->op == COP_WRITE && c->off == UINT64_MAX)
		c->off = model_size(m, c->path);
}

/* The fsyncs that make operation @c durable, in @out; returns how many. */
static int touched(const struct cop_rec *c, struct cop_rec *out)
{
	char a[CRASH_PATH_MAX], b[CRASH_PATH_MAX];
	int n = 0;

	memset(out, 0, 3 * sizeof(*out));
	for (int i = 0; i < 3; i++)
		out[i].op = COP_FSYNC;
	switch (c->op) {
	case COP_CREATE:
	case COP_MKDIR:
		snprintf(out[n++].path, CRASH_PATH_MAX, "%s", c->path);
		parent_of(c->path, out[n++].path);
		break;
	case COP_RMDIR:
	case COP_UNLINK:
		parent_of(c->path, out[n++].path);
		break;
	case COP_LINK:
		snprintf(out[n++].path, CRASH_PATH_MAX, "%s", c->path2);
		parent_of(c->path2, out[n++].path);
		break;
	case COP_RENAME:
		parent_of(c->path, a);
		parent_of(c->path2, b);
		snprintf(out[n++].path, CRASH_PATH_MAX, "%s", a);
		if (strcmp(a, b))
			snprintf(out[n++].path, CRASH_PATH_MAX, "%s", b);
		break;
	case COP_WRITE:
	case COP_TRUNCATE:
		snprintf(out[n++].path, CRASH_PATH_MAX, "%s", c->path);
		break;
	default:
		break;
	}
	return n;
}

/* The starting state in directory @dir. */
static int setup_ops(const char *dir, struct cop_rec *out)
{
	static const struct { enum cop op; const char *p; uint64_t len; } s[] = {
		{ COP_MKDIR, ".", 0 }, { COP_MKDIR, "A", 0 },
		{ COP_MKDIR, "B", 0 }, { COP_CREATE, "foo", 0 },
		{ COP_WRITE, "foo", 1000 }, { COP_CREATE, "A/foo", 0 },
		{ COP_WRITE, "A/foo", 70000 }, { COP_FSYNC, "foo", 0 },
		{ COP_FSYNC, "A/foo", 0 }, { COP_FSYNC, "A", 0 },
		{ COP_FSYNC, "B", 0 }, { COP_FSYNC, ".", 0 },
	};
	int n = (int)(sizeof(s) / sizeof(s[0]));

	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].op = s[i].op;
		prefixed(out[i].path, dir, s[i].p);
		out[i].len = s[i].len;
		out[i].seed = 7 + (uint64_t)i;
	}
	/* The sequence's directory is an entry of the batch's root. */
	memset(&out[n], 0, sizeof(out[n]));
	out[n].op = COP_FSYNC;
	snprintf(out[n].path, CRASH_PATH_MAX, ".");
	return n + 1;
}

/* Would the sequence @seq (@len operations) run without a failure? */
static bool seq_valid(const int *seq, int len)
{
	struct cop_rec setup[16], c, f[3];
	struct model *m = model_new_sizes_only();
	bool ok = true;
	int n = setup_ops("s", setup);

	for (int i = 0; i < n; i++)
		model_apply(m, &setup[i], (long)setup[i].len, 0, 0);
	for (int i = 0; i < len && ok; i++) {
		long r;

		op_in(m, seq[i], "s", &c);
		r = model_predict(m, &c);
		ok = r >= 0;
		if (ok) {
			model_apply(m, &c, r, 0, 0);
			for (int k = touched(&c, f); k-- > 0;)
				ok &= model_apply(m, &f[k], 0, 0, 0) == 0;
		}
	}
	model_free(m);
	return ok;
}

typedef long (*seq_fn)(void *arg, long index, const int *seq, int n);

struct walk {
	int seq[ACE_LEN_MAX];
	int len;		/* of the sequences being listed */
	long index;
	seq_fn fn;
	void *arg;
};

/* Extend the valid prefix seq[0 .. @depth - 1] by every operation;
 * prefixes that fail are not extended (nothing longer can succeed). */
static long extend(struct walk *w, int depth)
{
	for (int k = 0; k < ace_nops; k++) {
		long r;

		w->seq[depth] = k;
		if (!seq_valid(w->seq, depth + 1))
			continue;
		if (depth + 1 < w->len) {
			r = extend(w, depth + 1);
		} else {
			r = w->fn ? w->fn(w->arg, w->index, w->seq, w->len) : 0;
			w->index++;
		}
		if (r)
			return r;
	}
	return 0;
}

/* Call @fn for every valid sequence of 1..@len operations, shortest
 * first, with its index; stops when @fn returns non-zero (and returns
 * that). *@count gets the number of sequences. */
static long for_each_seq(int len, seq_fn fn, void *arg, long *count)
{
	struct walk w = { .fn = fn, .arg = arg };
	long r = 0;

	ace_init();
	if (len > ACE_LEN_MAX)
		len = ACE_LEN_MAX;
	for (w.len = 1; w.len <= len && !r; w.len++)
		r = extend(&w, 0);
	*count = w.index;
	return r;
}

long crash_ace_count(int len)
{
	long count = 0;

	for_each_seq(len, NULL, NULL, &count);
	return count;
}

struct run_ctx {
	struct journal *j;
	long from, count, ran;
};

/* 0, or -1 if the result was not POSIX's, -2 if the filesystem went. */
static long run(struct journal *j, const struct cop_rec *c)
{
	long r = journal_run(j, c);

	if (j->gone)
		return -2;
	return j->mismatches || r < 0 ? -1 : 0;
}

static long run_one(void *arg, long index, const int *seq, int n)
{
	struct run_ctx *x = arg;
	struct cop_rec setup[16], c, f[3];
	char dir[CRASH_PATH_MAX], desc[CRASH_PATH_MAX * 2 + 64];
	long r;
	int ns;

	if (index < x->from)
		return 0;
	if (index >= x->from + x->count)
		return 1;
	snprintf(dir, sizeof(dir), "s%ld", index);
	journal_printf(x->j, "# sequence %ld in %s:", index, dir);
	for (int i = 0; i < n; i++) {
		cop_format(&ace_ops[seq[i]], desc, sizeof(desc));
		journal_printf(x->j, "#   %s", desc);
	}
	ns = setup_ops(dir, setup);
	for (int i = 0; i < ns; i++)
		if ((r = run(x->j, &setup[i])))
			return r;
	for (int i = 0; i < n; i++) {
		op_in(x->j->m, seq[i], dir, &c);
		if ((r = run(x->j, &c)))
			return r;
		for (int k = 0, nf = touched(&c, f); k < nf; k++)
			if ((r = run(x->j, &f[k])))
				return r;
	}
	x->ran++;
	return 0;
}

long crash_ace_run(struct journal *j, int len, long from, long count)
{
	struct run_ctx x = { j, from, count, 0 };
	long total, r;

	r = for_each_seq(len, run_one, &x, &total);
	if (r < 0)
		return r;
	return x.ran;
}
