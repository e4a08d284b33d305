/*
 * test_faults.c - every call tablefs makes to its data store fails in turn,
 * in-process, and nothing is lost or left inconsistent (SQLite's I/O-error
 * test, applied to a filesystem).
 *
 * A fixed workload (writes that move a file out of line, overwrites,
 * truncates down and up, a write past the size after a shrink, a punched
 * hole, fsync, a rename over a file with data, unlinks, a re-create) runs on a filesystem whose file data goes
 * through a faulty: store. A clean run counts the data store calls it makes
 * (N); then for every K in 1..N a fresh filesystem runs the workload with
 * the K-th call failing with EIO (faulty:op=any,nth=K). Each step the
 * failure reaches must return -EIO and leave the files as they were before
 * it or as they would be after it, never anything else; the steps after it
 * must work, and from the fault on the files must match the model after
 * every step (a fault a step hides must not show later, as stale bytes
 * a grow brings back, say). Then the filesystem is closed, fsck must be clean, and after
 * reopening without faults every file must read back as the model says.
 * Run once with data in a dir: store and once in a rocksdb: store of its
 * own. Deterministic: no seed.
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

/* The steps, each a call on the filesystem and its effect on the model. */
static int step_run(struct tfs *fs, int i)
{
	uint64_t ino;
	int ret;

	switch (i) {
	case 0: return do_create(fs, F_N);
	case 1: return do_write(fs, F_N, 0, 70000, 1);
	case 2: return do_write(fs, F_A, 50000, 9000, 2);
	case 3: return do_truncate(fs, F_A, 30000);
	case 4: return do_truncate(fs, F_N, 200000);
	case 5:
		ret = ino_of(fs, F_N, &ino);
		return ret ? ret : tfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE |
						 FALLOC_FL_KEEP_SIZE, 0, 65536);
	case 6: return do_write(fs, F_S, 3000, 3000, 3);
	case 7:
		ret = ino_of(fs, F_A, &ino);
		return ret ? ret : tfs_fsync(fs, ino, false);
	case 8:
		return tfs_rename(fs, TFS_ROOT_INO, names[F_N], TFS_ROOT_INO,
				  names[F_A], 0);
	case 9: return do_write(fs, F_A, 199990, 20, 4);
	case 10: return tfs_unlink(fs, TFS_ROOT_INO, names[F_S]);
	case 11: return do_create(fs, F_S);
	case 12: return do_write(fs, F_S, 0, 10, 5);
	case 13: return do_write(fs, F_A, 10, 100000, 6);
	case 14: return do_truncate(fs, F_A, 40000);
	case 15: return do_truncate(fs, F_A, 150000);
	case 16: return do_write(fs, F_A, 0, 150000, 9);
	case 17: return do_truncate(fs, F_A, 20000);
	case 18: return do_write(fs, F_A, 120000, 10, 10);
	}
	return -EINVAL;
}

#define NSTEPS 19

static const char *const step_names[NSTEPS] = {
	"create n", "write n [0, 70000)", "overwrite a [50000, 59000)",
	"truncate a to 30000", "truncate n up to 200000",
	"punch n [0, 64K)", "write s past the inline size", "fsync a",
	"rename n over a", "write a at 199990", "unlink s", "create s",
	"write s 10 bytes", "overwrite a [10, 100010)",
	"truncate a down to 40000", "truncate a up to 150000",
	"overwrite a [0, 150000)", "truncate a down to 20000",
	"write a at 120000 past its size",
};

static void step_apply(struct model *m, int i)
{
	switch (i) {
	case 0: model_create(m, F_N); break;
	case 1: model_write(m, F_N, 0, 70000, 1); break;
	case 2: model_write(m, F_A, 50000, 9000, 2); break;
	case 3: model_truncate(m, F_A, 30000); break;
	case 4: model_truncate(m, F_N, 200000); break;
	case 5: memset(m->data[F_N], 0, 65536); break;
	case 6: model_write(m, F_S, 3000, 3000, 3); break;
	case 7: break;
	case 8:
		memcpy(m->data[F_A], m->data[F_N], CAP);
		m->size[F_A] = m->size[F_N];
		model_remove(m, F_N);
		break;
	case 9: model_write(m, F_A, 199990, 20, 4); break;
	case 10: model_remove(m, F_S); break;
	case 11: model_create(m, F_S); break;
	case 12: model_write(m, F_S, 0, 10, 5); break;
	case 13: model_write(m, F_A, 10, 100000, 6); break;
	case 14: model_truncate(m, F_A, 40000); break;
	case 15: model_truncate(m, F_A, 150000); break;
	case 16: model_write(m, F_A, 0, 150000, 9); break;
	case 17: model_truncate(m, F_A, 20000); break;
	case 18: model_write(m, F_A, 120000, 10, 10); break;
	}
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
	ret = tfs_mkfs_data(w->uri, w->data, 0, false, &err);
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

/*
 * Run the workload with data store call @k failing (0: none). Returns the
 * data store calls made (counted before the close), and in *@failed the
 * step that failed (-1 if none, NSTEPS if the open did).
 */
static uint64_t run_one(struct sweep *w, uint64_t k, int *failed)
{
	static struct model m, before;
	struct objstore_faulty_counters c = { 0 };
	struct mixfs_err err = { 0 };
	struct fsd_buf out = { 0 };
	char why[256], furi[300];
	struct tfs *fs;
	int ret;

	fresh_fs(w, &m);
	snprintf(furi, sizeof(furi), "faulty:op=any,nth=%" PRIu64 ":%s",
		 k ? k : UINT64_MAX / 2, w->data);
	*failed = -1;
	ret = tfs_open(w->uri, furi, false, &fs, &err);
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
			objstore_faulty_counters(fs->data, &c);
			if (!ret) {
				/* Once the fault has struck, even where the
				 * step hid it, every step must leave exactly
				 * what the model says (no stale bytes coming
				 * back later, say). */
				if (c.total_faults &&
				    differs(fs, &m, why, sizeof(why)))
					fail_msg("call %" PRIu64 " failed "
						 "unseen; after step '%s': %s",
						 k, step_names[i], why);
				continue;
			}
			if (ret != -EIO || *failed >= 0)
				fail_msg("call %" PRIu64 " failing: step '%s' "
					 "returned %d (%s)", k, step_names[i],
					 ret, strerror(-ret));
			*failed = i;
			/* All or nothing: the state before or after it. */
			if (!differs(fs, &before, why, sizeof(why)))
				m = before;
			else if (differs(fs, &m, why, sizeof(why)))
				fail_msg("call %" PRIu64 " failing in step "
					 "'%s': the files are neither as before "
					 "nor as after it: %s", k,
					 step_names[i], why);
		}
		objstore_faulty_counters(fs->data, &c);
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
	return c.total_calls;
}

static void sweep(const char *kind)
{
	struct sweep w = { .kind = kind };
	uint64_t n, k, fails = 0;
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
		fail_msg("only %" PRIu64 " data store calls: the workload does "
			 "not reach the data store", n);
	for (k = 1; k <= n; k++) {
		run_one(&w, k, &failed);
		if (failed >= 0) {
			fails++;
			per_step[failed]++;
		}
	}
	printf("# %s: %" PRIu64 " data store calls, each failed in turn; %"
	       PRIu64 " reached the caller as EIO:", kind, n, fails);
	for (int i = 0; i <= NSTEPS; i++)
		if (per_step[i])
			printf(" %s %d;", i == NSTEPS ? "open" : step_names[i],
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_dir_data_call_failing_loses_nothing),
		cmocka_unit_test(every_rocksdb_data_call_failing_loses_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
