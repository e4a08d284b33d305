/*
 * test_faults.c - every call tablefs makes to its stores fails in turn,
 * in-process, and nothing is lost or left inconsistent (SQLite's I/O-error
 * test, applied to a filesystem).
 *
 * A fixed workload (writes that move a file out of line, overwrites,
 * truncates down and up, a write past the size after a shrink, a punched
 * hole, fsync, a rename over a file with data, unlinks, a re-create) runs
 * on a filesystem whose file data goes through a faulty: store. A clean
 * run counts the data store calls it makes (N); then for every K in 1..N
 * a fresh copy of the filesystem runs the workload with the K-th call
 * failing with EIO (faulty:op=any,nth=K). The step the failure reaches
 * must return -EIO and leave the files as before it (then, tried again,
 * it must work), as after it, or, for a write, with its bytes inside the
 * old size and the old size; from the fault on, the files must match the
 * model after every step (a fault a step hides must not show later, as
 * stale bytes a grow brings back, say). Then fsck must be clean and,
 * reopened without faults, every file must read back as the model says.
 *
 * Run with data in a dir: store, in a rocksdb: store of its own, and
 * failing the metadata's own RocksDB calls instead (tfs_meta_faults();
 * data in the same database, the default layout): every third of those in
 * the default run, all of them with MIXFS_LONG=1. Deterministic: no seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/tablefs/tablefs.h"
#include "objstore/objstore_faulty.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE	0x01
#define FALLOC_FL_PUNCH_HOLE	0x02
#endif

#define CAP	(256 * 1024)	/* no file grows past this */

enum { F_A, F_S, F_N, NFILES };
static const char *const names[NFILES] = { "a", "s", "n" };

struct model {
	bool exists[NFILES];
	size_t size[NFILES];
	unsigned char data[NFILES][CAP];
};

static const struct tfs_cred cred = { 1000, 1000 };

/* --- the workload -------------------------------------------------------- */

static void fill(unsigned char *p, size_t len, unsigned seed, size_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 37 + (off + i) * 131 +
				       ((off + i) >> 9));
}

static int ino_of(struct tfs *fs, int f, uint64_t *ino)
{
	struct stat st;
	int ret = tfs_lookup(fs, TFS_ROOT_INO, names[f], &st);

	*ino = st.st_ino;
	return ret;
}

static int do_write(struct tfs *fs, int f, size_t off, size_t len,
		    unsigned seed)
{
	static unsigned char buf[CAP];
	uint64_t ino;
	ssize_t n;
	int ret = ino_of(fs, f, &ino);

	if (ret)
		return ret;
	fill(buf, len, seed, off);
	n = tfs_write(fs, ino, off, buf, len);
	if (n >= 0 && (size_t)n != len)
		fail_msg("short write of %zu bytes to %s: %zd", len, names[f],
			 n);
	return n < 0 ? (int)n : 0;
}

static void model_write(struct model *m, int f, size_t off, size_t len,
			unsigned seed)
{
	fill(m->data[f] + off, len, seed, off);
	if (off + len > m->size[f])
		m->size[f] = off + len;
}

static int do_truncate(struct tfs *fs, int f, size_t size)
{
	struct stat attr, st;
	uint64_t ino;
	int ret = ino_of(fs, f, &ino);

	if (ret)
		return ret;
	memset(&attr, 0, sizeof(attr));
	attr.st_size = (off_t)size;
	return tfs_setattr(fs, ino, &attr, FUSE_SET_ATTR_SIZE, &st);
}

static void model_truncate(struct model *m, int f, size_t size)
{
	if (size < m->size[f])
		memset(m->data[f] + size, 0, m->size[f] - size);
	m->size[f] = size;
}

static int do_create(struct tfs *fs, int f)
{
	struct stat st;

	return tfs_mknod(fs, TFS_ROOT_INO, names[f], S_IFREG | 0644, 0, &cred,
			 &st);
}

static void model_create(struct model *m, int f)
{
	m->exists[f] = true;
	m->size[f] = 0;
	memset(m->data[f], 0, CAP);
}

static void model_remove(struct model *m, int f)
{
	m->exists[f] = false;
	m->size[f] = 0;
	memset(m->data[f], 0, CAP);
}

/* The steps: each a call on the filesystem and its effect on the model. */
enum kind { CREATE, WRITE, TRUNCATE, PUNCH, FSYNC, RENAME, UNLINK };

static const struct step {
	const char *name;
	enum kind kind;
	int f;			/* the file (RENAME: the source, over a) */
	size_t off, len;	/* WRITE, PUNCH; TRUNCATE: off is the size */
	unsigned seed;		/* WRITE */
} steps[] = {
	{ "create n", CREATE, F_N, 0, 0, 0 },
	{ "write n [0, 70000)", WRITE, F_N, 0, 70000, 1 },
	{ "overwrite a [50000, 59000)", WRITE, F_A, 50000, 9000, 2 },
	{ "truncate a to 30000", TRUNCATE, F_A, 30000, 0, 0 },
	{ "truncate n up to 200000", TRUNCATE, F_N, 200000, 0, 0 },
	{ "punch n [0, 64K)", PUNCH, F_N, 0, 65536, 0 },
	{ "write s past the inline size", WRITE, F_S, 3000, 3000, 3 },
	{ "fsync a", FSYNC, F_A, 0, 0, 0 },
	{ "rename n over a", RENAME, F_N, 0, 0, 0 },
	{ "write a at 199990", WRITE, F_A, 199990, 20, 4 },
	{ "unlink s", UNLINK, F_S, 0, 0, 0 },
	{ "create s", CREATE, F_S, 0, 0, 0 },
	{ "write s 10 bytes", WRITE, F_S, 0, 10, 5 },
	{ "overwrite a [10, 100010)", WRITE, F_A, 10, 100000, 6 },
	{ "truncate a down to 40000", TRUNCATE, F_A, 40000, 0, 0 },
	{ "truncate a up to 150000", TRUNCATE, F_A, 150000, 0, 0 },
	{ "overwrite a [0, 150000)", WRITE, F_A, 0, 150000, 9 },
	{ "truncate a down to 20000", TRUNCATE, F_A, 20000, 0, 0 },
	{ "write a at 120000 past its size", WRITE, F_A, 120000, 10, 10 },
};
#define NSTEPS ((int)(sizeof(steps) / sizeof(steps[0])))

static int step_run(struct tfs *fs, int i)
{
	const struct step *p = &steps[i];
	uint64_t ino;
	int ret;

	switch (p->kind) {
	case CREATE:
		return do_create(fs, p->f);
	case WRITE:
		return do_write(fs, p->f, p->off, p->len, p->seed);
	case TRUNCATE:
		return do_truncate(fs, p->f, p->off);
	case PUNCH:
		ret = ino_of(fs, p->f, &ino);
		return ret ? ret : tfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE |
						 FALLOC_FL_KEEP_SIZE, p->off,
						 p->len);
	case FSYNC:
		ret = ino_of(fs, p->f, &ino);
		return ret ? ret : tfs_fsync(fs, ino, false);
	case RENAME:
		return tfs_rename(fs, TFS_ROOT_INO, names[p->f], TFS_ROOT_INO,
				  names[F_A], 0);
	case UNLINK:
		return tfs_unlink(fs, TFS_ROOT_INO, names[p->f]);
	}
	return -EINVAL;
}

static void step_apply(struct model *m, int i)
{
	const struct step *p = &steps[i];

	switch (p->kind) {
	case CREATE:
		model_create(m, p->f);
		break;
	case WRITE:
		model_write(m, p->f, p->off, p->len, p->seed);
		break;
	case TRUNCATE:
		model_truncate(m, p->f, p->off);
		break;
	case PUNCH:
		memset(m->data[p->f] + p->off, 0, p->len);
		break;
	case FSYNC:
		break;
	case RENAME:
		memcpy(m->data[F_A], m->data[p->f], CAP);
		m->size[F_A] = m->size[p->f];
		model_remove(m, p->f);
		break;
	case UNLINK:
		model_remove(m, p->f);
		break;
	}
}

/*
 * A failed write may have put its bytes in the object before the batch
 * with the new size and times failed: what it wrote inside the old size
 * shows, the size is the old one. Where a store cannot take back bytes it
 * has written, that is the most a failed write can leave (as with a
 * failed write() on any filesystem, the range it covered is undefined;
 * nothing outside it changes).
 */
static void step_landed(struct model *m, const struct model *before, int i)
{
	const struct step *p = &steps[i];
	size_t end = p->off + p->len;

	*m = *before;
	if (p->kind != WRITE || p->off >= before->size[p->f])
		return;
	if (end > before->size[p->f])
		end = before->size[p->f];
	fill(m->data[p->f] + p->off, end - p->off, p->seed, p->off);
}

/* --- checking ------------------------------------------------------------ */

/* NULL if the filesystem holds what @m says, else what differs. */
static const char *differs(struct tfs *fs, const struct model *m,
			   char *why, size_t whylen)
{
	static unsigned char buf[CAP + 1];

	for (int f = 0; f < NFILES; f++) {
		struct stat st;
		int ret = tfs_lookup(fs, TFS_ROOT_INO, names[f], &st);
		ssize_t n;

		if (ret == -ENOENT && !m->exists[f])
			continue;
		if (ret || !m->exists[f]) {
			snprintf(why, whylen, "%s: lookup gave %d, model says "
				 "it %s", names[f], ret,
				 m->exists[f] ? "exists" : "does not exist");
			return why;
		}
		if ((size_t)st.st_size != m->size[f]) {
			snprintf(why, whylen, "%s: size %lld, model %zu",
				 names[f], (long long)st.st_size, m->size[f]);
			return why;
		}
		n = tfs_read(fs, st.st_ino, 0, buf, sizeof(buf));
		if (n != (ssize_t)m->size[f]) {
			snprintf(why, whylen, "%s: read gave %zd of %zu bytes",
				 names[f], n, m->size[f]);
			return why;
		}
		for (size_t i = 0; i < m->size[f]; i++) {
			if (buf[i] != m->data[f][i]) {
				snprintf(why, whylen, "%s: byte %zu is 0x%02x, "
					 "model 0x%02x", names[f], i, buf[i],
					 m->data[f][i]);
				return why;
			}
		}
	}
	return NULL;
}

/* --- one run ------------------------------------------------------------- */

struct sweep {
	const char *kind;	/* "dir" or "rocksdb" */
	char dir[64];
	char uri[128];		/* the metadata store */
	char data[128];		/* the data store, as recorded */
	bool have_base;		/* dir.base holds the starting state */
	bool meta;		/* fail the metadata's RocksDB calls instead */
};

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

/*
 * A fresh filesystem holding a (100000 bytes, in an object) and s (1000
 * bytes, inline), and the model to match. Made once and kept beside the
 * run's directory; each run starts from a copy, at the same place, since
 * the metadata records the data store's path.
 */
static void fresh_fs(struct sweep *w, struct model *m)
{
	static struct model base;
	struct mixfs_err err = { 0 };
	char cmd[300];
	struct tfs *fs;
	int ret;

	nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (w->have_base) {
		snprintf(cmd, sizeof(cmd), "cp -a %s.base %s", w->dir, w->dir);
		if (system(cmd))
			fail_msg("%s failed", cmd);
		*m = base;
		return;
	}
	if (mkdir(w->dir, 0755))
		fail_msg("mkdir %s: %s", w->dir, strerror(errno));
	ret = tfs_mkfs_data(w->uri, w->meta ? NULL : w->data, 0, false, &err);
	if (ret)
		fail_msg("mkfs: %s", mixfs_err_msg(&err, ret));
	ret = tfs_open(w->uri, NULL, false, &fs, &err);
	if (ret)
		fail_msg("open: %s", mixfs_err_msg(&err, ret));
	memset(&base, 0, sizeof(base));
	model_create(&base, F_A);
	model_create(&base, F_S);
	if (do_create(fs, F_A) || do_create(fs, F_S) ||
	    do_write(fs, F_A, 0, 100000, 7) || do_write(fs, F_S, 0, 1000, 8))
		fail_msg("making the starting files failed");
	model_write(&base, F_A, 0, 100000, 7);
	model_write(&base, F_S, 0, 1000, 8);
	tfs_close(fs);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s.base", w->dir, w->dir);
	if (system(cmd))
		fail_msg("%s failed", cmd);
	w->have_base = true;
	*m = base;
}

/* The calls counted so far, and in *@struck whether the fault fired. */
static uint64_t count_calls(const struct sweep *w, struct tfs *fs,
			    bool *struck)
{
	struct objstore_faulty_counters c = { 0 };

	if (w->meta) {
		uint64_t n = tfs_meta_calls(fs);

		*struck = n >= __atomic_load_n(&fs->meta_fail_at,
					       __ATOMIC_RELAXED);
		return n;
	}
	objstore_faulty_counters(fs->data, &c);
	*struck = c.total_faults > 0;
	return c.total_calls;
}

/*
 * Run the workload with data store call @k failing (0: none). Returns the
 * data store calls made (counted before the close), and in *@failed the
 * step that failed (-1 if none, NSTEPS if the open did).
 */
static uint64_t run_one(struct sweep *w, uint64_t k, int *failed)
{
	static struct model m, before, landed;
	struct mixfs_err err = { 0 };
	uint64_t calls = 0;
	bool struck = false;
	struct fsd_buf out = { 0 };
	char why[256], furi[300];
	struct tfs *fs;
	int ret;

	fresh_fs(w, &m);
	snprintf(furi, sizeof(furi), "faulty:op=any,nth=%" PRIu64 ":%s",
		 k ? k : UINT64_MAX / 2, w->data);
	*failed = -1;
	ret = tfs_open(w->uri, w->meta ? NULL : furi, false, &fs, &err);
	if (!ret && w->meta)
		tfs_meta_faults(fs, k ? k : UINT64_MAX / 2);
	if (ret) {
		if (ret != -EIO)
			fail_msg("call %" PRIu64 " failing: the open failed with "
				 "%d (%s), not -EIO", k, ret,
				 mixfs_err_msg(&err, ret));
		*failed = NSTEPS;
	} else {
		for (int i = 0; i < NSTEPS; i++) {
			before = m;
			step_apply(&m, i);
			ret = step_run(fs, i);
			calls = count_calls(w, fs, &struck);
			if (!ret) {
				/* Once the fault has struck, even where the
				 * step hid it, every step must leave exactly
				 * what the model says (no stale bytes coming
				 * back later, say). */
				if (struck && k <= calls &&
				    differs(fs, &m, why, sizeof(why)))
					fail_msg("call %" PRIu64 " failed "
						 "unseen; after step '%s': %s",
						 k, steps[i].name, why);
				continue;
			}
			if (ret != -EIO || *failed >= 0)
				fail_msg("call %" PRIu64 " failing: step '%s' "
					 "returned %d (%s)", k, steps[i].name,
					 ret, strerror(-ret));
			*failed = i;
			/* All or nothing: the state before or after it (or,
			 * for a write, its bytes without its size). */
			step_landed(&landed, &before, i);
			if (!differs(fs, &before, why, sizeof(why)) ||
			    !differs(fs, &landed, why, sizeof(why))) {
				/* Undone: it works once tried again, as a
				 * user would (the fault struck once). */
				ret = step_run(fs, i);
				if (ret)
					fail_msg("call %" PRIu64 " failing: "
						 "step '%s' failed again with "
						 "%d", k, steps[i].name, ret);
			}
			if (differs(fs, &m, why, sizeof(why)))
				fail_msg("call %" PRIu64 " failing in step "
					 "'%s': the files are neither as before "
					 "nor as after it: %s", k,
					 steps[i].name, why);
		}
		calls = count_calls(w, fs, &struck);
		tfs_meta_faults(fs, 0);
		tfs_close(fs);
	}
	ret = tfs_fsck(w->uri, false, &out, &err);
	if (ret)
		fail_msg("call %" PRIu64 " failing (step %d): fsck found %d "
			 "problems: %.*s%s", k, *failed, ret, (int)out.len,
			 out.data ? out.data : "", ret < 0 ?
			 mixfs_err_msg(&err, ret) : "");
	fsd_buf_release(&out);
	ret = tfs_open(w->uri, NULL, false, &fs, &err);
	if (ret)
		fail_msg("call %" PRIu64 " failing: reopening without faults: "
			 "%s", k, mixfs_err_msg(&err, ret));
	if (differs(fs, &m, why, sizeof(why)))
		fail_msg("call %" PRIu64 " failing (step %d): after reopening: "
			 "%s", k, *failed, why);
	tfs_close(fs);
	return calls;
}

static bool getenv_long(void)
{
	const char *v = getenv("MIXFS_LONG");

	return v && !strcmp(v, "1");
}

static void sweep(const char *kind)
{
	struct sweep w = { .kind = kind, .meta = !strcmp(kind, "meta") };
	uint64_t n, k, stride, tried = 0, fails = 0;
	int failed, per_step[NSTEPS + 1] = { 0 };

	/* In memory where there is a tmpfs: the runs sync often, and what
	 * is tested is what reaches the caller, not the disk. */
	snprintf(w.dir, sizeof(w.dir), "%s/mixfs-faults-%s-%d",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", kind,
		 (int)getpid());
	snprintf(w.uri, sizeof(w.uri), "rocksdb:%s/db", w.dir);
	snprintf(w.data, sizeof(w.data), "%s:%s/data", kind, w.dir);
	n = run_one(&w, 0, &failed);
	if (failed != -1)
		fail_msg("the workload failed without faults at step %d",
			 failed);
	if (n < NSTEPS)
		fail_msg("only %" PRIu64 " calls: the workload does not reach "
			 "the store", n);
	/* The metadata's calls are many: every third in the default run,
	 * all of them with MIXFS_LONG=1. */
	stride = w.meta && !getenv_long() ? 3 : 1;
	for (k = 1; k <= n; k += stride) {
		run_one(&w, k, &failed);
		tried++;
		if (failed >= 0) {
			fails++;
			per_step[failed]++;
		}
	}
	printf("# %s: %" PRIu64 " %s calls, %" PRIu64 " of them failed in "
	       "turn; %" PRIu64 " reached the caller as EIO:", kind, n,
	       w.meta ? "RocksDB (metadata)" : "data store", tried, fails);
	for (int i = 0; i <= NSTEPS; i++)
		if (per_step[i])
			printf(" %s %d;", i == NSTEPS ? "open" : steps[i].name,
			       per_step[i]);
	printf("\n");
	nftw(w.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	strcat(w.dir, ".base");
	nftw(w.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void every_dir_data_call_failing_loses_nothing(void **state)
{
	(void)state;
	sweep("dir");
}

static void every_rocksdb_data_call_failing_loses_nothing(void **state)
{
	(void)state;
	sweep("rocksdb");
}

/* Data in the metadata's own database, the default layout. */
static void every_metadata_call_failing_loses_nothing(void **state)
{
	(void)state;
	sweep("meta");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_dir_data_call_failing_loses_nothing),
		cmocka_unit_test(every_rocksdb_data_call_failing_loses_nothing),
		cmocka_unit_test(every_metadata_call_failing_loses_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
