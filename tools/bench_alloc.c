/*
 * bench_alloc.c - `mixfs bench alloc`: speed, memory and fragmentation of
 * each block allocator (src/alloclib) on a large space.
 *
 * For each implementation, on --blocks blocks (default 16 Mi: 64 GiB of
 * 4 KiB blocks):
 *   fill        single-block allocations, each after the previous one,
 *               from empty to full (the cheapest case for both);
 *   fragmented  half the blocks freed in random runs of 1-8, then a
 *               steady state of allocate (1-16 blocks near a random goal)
 *               and free (a random earlier allocation);
 *   churn       files written by four interleaved writers in 64 KiB
 *               appends (goal = the file's last block + 1), filled to
 *               90 % and then deleted and rewritten at random until three
 *               times the space has been written: how many extents a
 *               1 MiB file ends up in;
 *   serialise   size of the serialised map, and the time to write it and
 *               load it back, full and fragmented.
 * Memory is the allocator's own heap (balloc_stat().mem_bytes) per million
 * blocks (Mi = 2^20). Rates and times are per CPU second.
 *
 * The logic is mixfs_bench_alloc(argc, argv) so that the mixfs command can
 * call it; built alone (with MIXFS_BENCH_ALLOC_MAIN) it is its own program.
 * It is a measurement, not a test: it asserts nothing about speed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloclib/balloc.h"

int mixfs_bench_alloc(int argc, char **argv);

#define BS 4096

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

/* CPU time of this process: the allocators are single-threaded, and a
 * busy machine then skews the figures less than wall-clock time would. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double per_mi(const struct balloc *a)
{
	struct balloc_stat st;

	balloc_stat(a, &st);
	return (double)st.mem_bytes / ((double)st.nblocks / (1 << 20));
}

static int die(const char *what, int ret, const struct mixfs_err *err)
{
	fprintf(stderr, "bench alloc: %s: %s\n", what, mixfs_err_msg(err, ret));
	return ret;
}

/* --- serialise and load back --------------------------------------------- */

static int bench_serial(const struct balloc *a, const char *state)
{
	struct mixfs_err err = { 0 };
	size_t cap = balloc_serial_size(a), len;
	void *buf = malloc(cap);
	struct balloc b;
	double t0, t1, t2;
	int ret;

	if (!buf)
		return -ENOMEM;
	t0 = now();
	ret = balloc_serialise(a, buf, cap, &len, &err);
	t1 = now();
	if (ret == 0)
		ret = balloc_load(&b, balloc_kind(a), buf, len, &err);
	t2 = now();
	free(buf);
	if (ret < 0)
		return die("serialise", ret, &err);
	balloc_release(&b);
	printf("  serialised %-10s %10.2f MiB   write %7.1f ms   load %7.1f ms\n",
	       state, (double)len / (1 << 20), (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	return 0;
}

/* --- fill and fragmented steady state ------------------------------------ */

static int bench_fill(struct balloc *a)
{
	struct mixfs_err err = { 0 };
	struct balloc_extent x = { 0, 0 };
	uint64_t n = 0;
	double t0 = now(), t;
	int ret;

	while ((ret = balloc_alloc(a, NULL, x.start + x.len, 1, 1, &x, &err)) == 0)
		n++;
	t = now() - t0;
	if (ret != -ENOSPC || balloc_count_free(a) != 0)
		return die("fill", ret, &err);
	printf("  fill       %12.0f allocs/s   (%" PRIu64 " single blocks)\n",
	       (double)n / t, n);
	return 0;
}

static int bench_fragmented(struct balloc *a, struct rng *r, uint64_t ops)
{
	struct mixfs_err err = { 0 };
	struct balloc_extent *live;
	uint64_t b = 0, i, nlive = 0;
	double t0, t;
	int ret;

	/* from full: free runs of 1-8 blocks separated by used runs of 1-8 */
	while (b < a->nblocks) {
		uint64_t len = 1 + below(r, 8);

		if (len > a->nblocks - b)
			len = a->nblocks - b;
		ret = balloc_free(a, b, len, &err);
		if (ret < 0)
			return die("fragment", ret, &err);
		b += len + 1 + below(r, 8);
	}
	printf("  fragmented: %.1f %% free, longest run %" PRIu64 ", memory %.0f bytes per Mi blocks\n",
	       100.0 * (double)balloc_count_free(a) / (double)a->nblocks,
	       balloc_largest_free(a), per_mi(a));
	ret = bench_serial(a, "fragmented");
	if (ret < 0)
		return ret;

	live = malloc(1002 * sizeof(*live));
	if (!live)
		return -ENOMEM;
	t0 = now();
	for (i = 0; i < ops; i++) {
		ret = balloc_alloc(a, NULL, below(r, a->nblocks), 1,
				   1 + below(r, 16), &live[nlive], &err);
		if (ret < 0)
			break;
		nlive++;
		if (nlive > 1000 || below(r, 2)) {
			uint64_t k = below(r, nlive);

			ret = balloc_free(a, live[k].start, live[k].len, &err);
			if (ret < 0)
				break;
			live[k] = live[--nlive];
		}
	}
	t = now() - t0;
	free(live);
	if (ret < 0)
		return die("fragmented steady state", ret, &err);
	printf("  fragmented %12.0f allocs/s   (alloc 1-16 near a random goal, with frees)\n",
	       (double)ops / t);
	return 0;
}

/* --- churn: how contiguous do files stay? ------------------------------- */

struct file {
	uint64_t size, written;		/* blocks */
	uint64_t goal;
	uint32_t next, cap;		/* extents */
	struct balloc_extent *ext;
};

struct churn {
	struct balloc *a;
	struct rng *r;
	struct file *files;
	uint64_t nfiles, capfiles;
	uint64_t used;			/* blocks held by files */
	uint64_t allocs;
	uint64_t mib_files, mib_extents;	/* 1 MiB files finished in churn */
	int counting;
};

static uint64_t file_size(struct rng *r)
{
	uint64_t p = below(r, 100);

	if (p < 55)
		return 1 + below(r, 16);	/* up to 64 KiB */
	if (p < 85)
		return 17 + below(r, 240);	/* up to 1 MiB */
	if (p < 95)
		return 256;			/* exactly 1 MiB */
	return 257 + below(r, 2048);		/* up to 9 MiB */
}

static int add_extent(struct file *f, uint64_t start, uint64_t len)
{
	if (f->next && f->ext[f->next - 1].start + f->ext[f->next - 1].len == start) {
		f->ext[f->next - 1].len += len;
		return 0;
	}
	if (f->next == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 2;
		struct balloc_extent *e = realloc(f->ext, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		f->ext = e;
		f->cap = cap;
	}
	f->ext[f->next].start = start;
	f->ext[f->next].len = len;
	f->next++;
	return 0;
}

/* Append up to 16 blocks (one 64 KiB write) to @f. 1 when it is complete. */
static int append(struct churn *c, struct file *f)
{
	struct mixfs_err err = { 0 };
	uint64_t want = f->size - f->written;
	struct balloc_extent x;
	int ret;

	if (want > 16)
		want = 16;
	while (want) {
		ret = balloc_alloc(c->a, NULL, f->goal, 1, want, &x, &err);
		if (ret < 0)
			return die("churn append", ret, &err);
		c->allocs++;
		ret = add_extent(f, x.start, x.len);
		if (ret < 0)
			return ret;
		f->goal = x.start + x.len;
		f->written += x.len;
		c->used += x.len;
		want -= x.len;
	}
	return f->written == f->size;
}

/* Write four new files at once, interleaving their appends. */
static int write_files(struct churn *c)
{
	struct file *fs[4];
	int i, live = 0, ret;

	if (c->nfiles + 4 > c->capfiles) {
		uint64_t cap = c->capfiles ? c->capfiles * 2 : 4096;
		struct file *v = realloc(c->files, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->files = v;
		c->capfiles = cap;
	}
	for (i = 0; i < 4; i++) {
		struct file *f = &c->files[c->nfiles++];

		memset(f, 0, sizeof(*f));
		f->size = file_size(c->r);
		/* a new file starts in its directory's area */
		f->goal = below(c->r, 64) * (c->a->nblocks / 64);
		fs[i] = f;
	}
	while (live < 4) {
		live = 0;
		for (i = 0; i < 4; i++) {
			if (fs[i]->written == fs[i]->size) {
				live++;
				continue;
			}
			ret = append(c, fs[i]);
			if (ret < 0)
				return ret;
		}
	}
	if (c->counting)
		for (i = 0; i < 4; i++)
			if (fs[i]->size == 256) {
				c->mib_files++;
				c->mib_extents += fs[i]->next;
			}
	return 0;
}

static int delete_file(struct churn *c, uint64_t k)
{
	struct mixfs_err err = { 0 };
	struct file *f = &c->files[k];
	uint32_t i;
	int ret;

	for (i = 0; i < f->next; i++) {
		ret = balloc_free(c->a, f->ext[i].start, f->ext[i].len, &err);
		if (ret < 0)
			return die("churn delete", ret, &err);
	}
	c->used -= f->size;
	free(f->ext);
	c->files[k] = c->files[--c->nfiles];
	return 0;
}

static int bench_churn(struct balloc *a, struct rng *r)
{
	struct churn c = { .a = a, .r = r };
	uint64_t target = a->nblocks / 10 * 9, written = 0, i;
	double t0 = now(), t;
	int ret = 0;

	/* leave room for four maximal files above the target */
	while (c.used + 4 * 2304 < target && ret == 0)
		ret = write_files(&c);
	c.counting = 1;
	while (written < 3 * a->nblocks && ret == 0) {
		uint64_t before;

		while (c.used + 4 * 2304 >= target && c.nfiles && ret == 0)
			ret = delete_file(&c, below(r, c.nfiles));
		before = c.used;
		if (ret == 0)
			ret = write_files(&c);
		written += c.used - before;
	}
	t = now() - t0;
	if (ret == 0)
		printf("  churn      %12.0f allocs/s   mean extents per 1 MiB file %.2f (%" PRIu64 " files), memory %.0f bytes per Mi blocks\n",
		       (double)c.allocs / t,
		       c.mib_files ? (double)c.mib_extents / (double)c.mib_files : 0.0,
		       c.mib_files, per_mi(a));
	for (i = 0; i < c.nfiles; i++)
		free(c.files[i].ext);
	free(c.files);
	return ret;
}

/* --- driver ---------------------------------------------------------- */

static int bench_kind(const char *kind, uint64_t nblocks, uint64_t seed,
		      uint64_t ops)
{
	struct mixfs_err err = { 0 };
	struct rng r = { seed };
	struct balloc a;
	int ret;

	printf("%s allocator, %" PRIu64 " blocks of %d bytes\n", kind, nblocks, BS);
	ret = balloc_init(&a, kind, nblocks, BS, &err);
	if (ret < 0)
		return die("init", ret, &err);
	printf("  empty: memory %.0f bytes per Mi blocks\n", per_mi(&a));
	ret = bench_fill(&a);
	if (ret == 0) {
		printf("  full: memory %.0f bytes per Mi blocks\n", per_mi(&a));
		ret = bench_serial(&a, "full");
	}
	if (ret == 0)
		ret = bench_fragmented(&a, &r, ops);
	balloc_release(&a);
	if (ret < 0)
		return ret;

	ret = balloc_init(&a, kind, nblocks, BS, &err);
	if (ret < 0)
		return die("init", ret, &err);
	ret = bench_churn(&a, &r);
	balloc_release(&a);
	return ret;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mixfs bench alloc [--blocks N] [--kind bitmap|extent] [--ops N] [--seed N]\n");
}

int mixfs_bench_alloc(int argc, char **argv)
{
	uint64_t nblocks = 16ULL << 20, seed = 1, ops = 2000000;
	const char *only = NULL;
	const char *const *k;
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			usage();
			return 2;
		}
		if (strcmp(argv[i], "--blocks") == 0)
			nblocks = strtoull(v, NULL, 0);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(v, NULL, 0);
		else if (strcmp(argv[i], "--ops") == 0)
			ops = strtoull(v, NULL, 0);
		else if (strcmp(argv[i], "--kind") == 0)
			only = v;
		else {
			usage();
			return 2;
		}
		i++;
	}
	if (nblocks < 4096 || ops == 0) {
		fprintf(stderr, "bench alloc: need at least 4096 blocks and one op\n");
		return 2;
	}
	for (k = balloc_kinds; *k; k++) {
		if (only && strcmp(only, *k) != 0)
			continue;
		ret = bench_kind(*k, nblocks, seed, ops);
		if (ret < 0)
			return 1;
	}
	return 0;
}

#ifdef MIXFS_BENCH_ALLOC_MAIN
int main(int argc, char **argv)
{
	return mixfs_bench_alloc(argc, argv);
}
#endif
