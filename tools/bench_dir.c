/*
 * bench_dir.c - how directory operations scale with directory size, for
 * each strategy: grows one directory to 10^6 entries (or -n N) and, at
 * 10^3, 10^4, 10^5 and 10^6 entries, times inserts, lookups that hit and
 * miss, removes, a full readdir, and (linear) rebuilding the in-memory
 * index from the stream.
 *
 * Backings are the test backings of tests/dirlib/tb.h: linear over a
 * memory buffer and over an objstore "mem:" object, kv over RocksDB in a
 * temporary directory with a WriteBatchWithIndex committed after every
 * timed operation (one operation, one batch, as tablefs does; WAL off, so
 * it measures the library and RocksDB's memtable, not the disk).
 *
 * Not a test: it prints figures and checks only that calls succeed.
 * Usage: bench_dir [-n MAX_ENTRIES] [-s linear|linear-obj|kv]...
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tb.h"

#define WINDOW	10000	/* timed operations per measurement */

int mixfs_bench_dir(int argc, char **argv);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int name_of(char *buf, uint64_t i)
{
	return sprintf(buf, "file-%010llu.dat", (unsigned long long)i);
}

static int must(int ret, const char *what, struct mixfs_err *err)
{
	if (ret) {
		fprintf(stderr, "bench_dir: %s: %s\n", what,
			mixfs_err_msg(err, ret));
		exit(1);
	}
	return 0;
}

static int count_entry(void *arg, const struct dir_entry *e)
{
	(void)e;
	++*(uint64_t *)arg;
	return 0;
}

struct bench {
	enum tb_kind kind;
	struct tb *t;
	struct dir d;
	struct mixfs_err err;
	uint64_t n;		/* entries now: names 0..n-1 */
	uint64_t rng;
};

/* Insert names n..to-1, committing every @every operations. */
static void fill(struct bench *b, uint64_t to, unsigned every)
{
	char name[64];

	for (; b->n < to; b->n++) {
		int len = name_of(name, b->n);

		must(dir_insert(&b->d, name, (size_t)len, b->n + 1, DT_REG,
				&b->err), "insert", &b->err);
		if ((b->n + 1) % every == 0)
			tb_commit(b->t, false);
	}
	tb_commit(b->t, false);
}

static void measure(struct bench *b)
{
	char name[64];
	struct dir_entry e;
	double t0, ins, hit, miss, rem, rd, build = -1;
	uint64_t listed = 0, base = b->n;

	/* inserts at this size, each its own operation */
	t0 = now();
	for (int i = 0; i < WINDOW; i++) {
		int len = name_of(name, base + i);

		must(dir_insert(&b->d, name, (size_t)len, base + i + 1, DT_REG,
				&b->err), "insert", &b->err);
		tb_commit(b->t, false);
	}
	ins = (now() - t0) / WINDOW;
	b->n += WINDOW;
	t0 = now();
	for (int i = 0; i < WINDOW; i++) {
		int len = name_of(name, tb_rand(&b->rng) % b->n);

		must(dir_lookup(&b->d, name, (size_t)len, &e, &b->err),
		     "lookup", &b->err);
	}
	hit = (now() - t0) / WINDOW;
	t0 = now();
	for (int i = 0; i < WINDOW; i++) {
		int len = name_of(name, b->n + 1000000000ull +
				  tb_rand(&b->rng) % 1000000);

		if (dir_lookup(&b->d, name, (size_t)len, &e, NULL) != -ENOENT)
			must(-EIO, "lookup of a missing name", NULL);
	}
	miss = (now() - t0) / WINDOW;
	/* remove what the timed inserts added */
	t0 = now();
	for (int i = 0; i < WINDOW; i++) {
		int len = name_of(name, base + i);

		must(dir_remove(&b->d, name, (size_t)len, NULL, &b->err),
		     "remove", &b->err);
		tb_commit(b->t, false);
	}
	rem = (now() - t0) / WINDOW;
	b->n = base;
	t0 = now();
	must(dir_iterate(&b->d, 0, count_entry, &listed, &b->err), "iterate",
	     &b->err);
	rd = (now() - t0) / (listed ? listed : 1);
	if (listed != b->n)
		must(-EIO, "readdir count", NULL);
	if (tb_is_linear(b->t)) {
		uint64_t count;

		dir_stream_release(tb_stream(b->t, 0));
		t0 = now();
		must(dir_count(&b->d, &count, &b->err), "count", &b->err);
		build = now() - t0;
	}
	printf("%-15s %9llu %9.2f %9.2f %9.2f %9.2f %9.3f", tb_kind_name[b->kind],
	       (unsigned long long)b->n, ins * 1e6, hit * 1e6, miss * 1e6,
	       rem * 1e6, rd * 1e6);
	if (build >= 0)
		printf(" %9.1f", build * 1e3);
	printf("\n");
	fflush(stdout);
}

static void run(enum tb_kind kind, uint64_t max)
{
	struct bench b = { .kind = kind, .rng = 42 };
	uint64_t sizes[] = { 1000, 10000, 100000, 1000000, 10000000 };
	double t0 = now();

	b.t = tb_open(kind);
	must(tb_create(b.t, 0, 0, &b.d, &b.err), "create", &b.err);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) &&
	     sizes[i] <= max; i++) {
		fill(&b, sizes[i], kind == TB_KV_ROCKSDB ? 1000 : 1);
		measure(&b);
	}
	dir_release(&b.d);
	tb_close(b.t);
	fprintf(stderr, "# %s: %.1f s in all\n", tb_kind_name[kind],
		now() - t0);
}

int mixfs_bench_dir(int argc, char **argv)
{
	uint64_t max = 1000000;
	bool want[TB_KINDS] = { false }, any = false;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:h")) != -1) {
		switch (opt) {
		case 'n':
			max = strtoull(optarg, NULL, 0);
			break;
		case 's':
			if (!strcmp(optarg, "linear"))
				want[TB_LINEAR_MEM] = true;
			else if (!strcmp(optarg, "linear-obj"))
				want[TB_LINEAR_OBJ] = true;
			else if (!strcmp(optarg, "kv"))
				want[TB_KV_ROCKSDB] = true;
			else
				goto usage;
			any = true;
			break;
		default:
			goto usage;
		}
	}
	if (!any)
		want[TB_LINEAR_MEM] = want[TB_LINEAR_OBJ] =
			want[TB_KV_ROCKSDB] = true;
	printf("# microseconds per operation (readdir: per entry); linear "
	       "index rebuild in ms\n");
	printf("%-15s %9s %9s %9s %9s %9s %9s %9s\n", "strategy", "entries",
	       "insert", "hit", "miss", "remove", "readdir", "rebuild");
	for (int k = 0; k < TB_KINDS; k++)
		if (want[k])
			run((enum tb_kind)k, max);
	return 0;
usage:
	fprintf(stderr, "usage: bench_dir [-n MAX_ENTRIES] "
		"[-s linear|linear-obj|kv]...\n");
	return 2;
}

#ifdef MIXFS_BENCH_DIR_MAIN
int main(int argc, char **argv)
{
	return mixfs_bench_dir(argc, argv);
}
#endif
