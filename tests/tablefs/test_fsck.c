/*
 * test_fsck.c - tablefs's fsck against every single-record corruption.
 *
 * A small but varied filesystem is built once in-process (directories
 * three deep, inline and multi-chunk files, hard links, symlinks, device
 * nodes, extended attributes, and an unlinked file still open, which
 * leaves an orphan mark) and snapshotted with a RocksDB checkpoint while
 * it is open. Its records are read into memory. Then, for every record and
 * every kind of damage (a byte of the value flipped, the value zeroed, the
 * value cut short, the record deleted, a byte of the key flipped), a fresh
 * store is written from the records with that one change, and:
 *
 *   - fsck must report a problem, unless the damage is in a field that no
 *     other record repeats (undetectable(), each class named there: the
 *     format keeps no checksum over metadata), or leaves a value the format
 *     allows and that means the same (a counter moved up);
 *   - fsck --repair must leave nothing: a second check is clean;
 *   - the filesystem must open, take a new file, and every file that the
 *     damaged record does not belong to must read back intact (contents,
 *     symlink target, extended attributes), at its path or, when a
 *     directory record was hit, in /lost+found as "#INO". Opening a store
 *     costs ~20 ms (more under the sanitizers), so the default run does
 *     this for one case in VERIFY_EVERY, the long run for every case.
 *
 * Seeded: byte positions and flip masks come from MIXFS_SEED (printed);
 * MIXFS_LONG=1 flips every byte position of records up to 256 bytes (16
 * of larger ones) instead of three, and cuts values three ways.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "fs/tablefs/fsck.h"	/* fk_run: a check on an open database */
#include "fs/tablefs/tablefs.h"
#include "objstore/objstore_rocksdb.h"

/* Cases whose repaired store is opened and read back: every one with
 * MIXFS_LONG=1, else one in VERIFY_EVERY (opening costs ~20 ms). */
#define VERIFY_EVERY	8

#define CHECK(cond, ...) do { if (!(cond)) fail_msg(__VA_ARGS__); } while (0)

/* --- the filesystem ----------------------------------------------------- */

enum { W_FILE, W_DIR, W_LINK, W_FIFO, W_CHR };

struct want {
	const char *path;
	int kind;
	size_t len;		/* files: bytes; links: target below */
	const char *target;
	const char *xname, *xval;
	uint64_t ino;		/* filled while building */
	const char *hardlink_of;
};

static struct want wants[] = {
	{ "a", W_DIR, 0, NULL, "user.dir", "yes", 0, NULL },
	{ "a/b", W_DIR, 0, NULL, NULL, NULL, 0, NULL },
	{ "a/b/c", W_DIR, 0, NULL, NULL, NULL, 0, NULL },
	{ "small", W_FILE, 100, NULL, "user.color", "blue", 0, NULL },
	{ "empty", W_FILE, 0, NULL, NULL, NULL, 0, NULL },
	{ "a/inline", W_FILE, 4000, NULL, NULL, NULL, 0, NULL },
	{ "big", W_FILE, 150000, NULL, "trusted.tag", "0123456789abcdef", 0, NULL },
	{ "a/b/mid", W_FILE, 70000, NULL, NULL, NULL, 0, NULL },
	{ "a/b/c/deep", W_FILE, 5000, NULL, NULL, NULL, 0, NULL },
	{ "a/smalllink", W_FILE, 100, NULL, NULL, NULL, 0, "small" },
	{ "a/b/c/biglink", W_FILE, 150000, NULL, NULL, NULL, 0, "big" },
	{ "sym", W_LINK, 0, "a/b/c", NULL, NULL, 0, NULL },
	{ "a/sym2", W_LINK, 0, "../small", NULL, NULL, 0, NULL },
	{ "fifo", W_FIFO, 0, NULL, NULL, NULL, 0, NULL },
	{ "chr", W_CHR, 0, NULL, NULL, NULL, 0, NULL },
};
#define NWANT (sizeof(wants) / sizeof(wants[0]))

static void fill(unsigned char *p, size_t len, const char *path)
{
	unsigned s = 0;

	for (const char *q = path; *q; q++)
		s = s * 31 + (unsigned char)*q;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(s + i * 131 + (i >> 9));
}

/* --- records ------------------------------------------------------------ */

struct rec {
	unsigned char *k, *v;
	size_t klen, vlen;
};

struct state {
	char dir[64];
	char base[128];		/* the checkpoint */
	char work[128];
	char uri[160];
	struct rec *recs;
	size_t nrec;
	rocksdb_t *db;		/* the work store while open */
	struct tfs *fs;		/* the work store while verify has it */
	uint64_t orphan_ino;
	uint64_t seed;
	bool longrun;
	unsigned injected, detected, undetectable, quiet_harmless, verified;
};

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void rmtree(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t mkpath(struct tfs *fs, const struct want *w)
{
	static const struct tfs_cred cred = { 1000, 1000 };
	const char *slash = strrchr(w->path, '/');
	uint64_t parent = TFS_ROOT_INO;
	char dirpart[64];
	struct stat st;
	int ret = 0;

	if (slash) {
		snprintf(dirpart, sizeof(dirpart), "%.*s",
			 (int)(slash - w->path), w->path);
		for (size_t i = 0; i < NWANT; i++)
			if (!strcmp(wants[i].path, dirpart))
				parent = wants[i].ino;
	}
	slash = slash ? slash + 1 : w->path;
	if (w->hardlink_of) {
		for (size_t i = 0; i < NWANT; i++)
			if (!strcmp(wants[i].path, w->hardlink_of))
				ret = tfs_link(fs, wants[i].ino, parent, slash,
					       &st);
	} else if (w->kind == W_DIR) {
		ret = tfs_mkdir(fs, parent, slash, 0755, &cred, &st);
	} else if (w->kind == W_LINK) {
		ret = tfs_symlink(fs, parent, slash, w->target, &cred, &st);
	} else if (w->kind == W_FIFO) {
		ret = tfs_mknod(fs, parent, slash, S_IFIFO | 0644, 0, &cred, &st);
	} else if (w->kind == W_CHR) {
		ret = tfs_mknod(fs, parent, slash, S_IFCHR | 0600,
				makedev(1, 3), &cred, &st);
	} else {
		ret = tfs_mknod(fs, parent, slash, S_IFREG | 0644, 0, &cred,
				&st);
	}
	CHECK(!ret, "making %s: %s", w->path, strerror(-ret));
	if (w->kind == W_FILE && !w->hardlink_of && w->len) {
		unsigned char *buf = malloc(w->len);

		fill(buf, w->len, w->path);
		CHECK(tfs_write(fs, st.st_ino, 0, buf, w->len) ==
		      (ssize_t)w->len, "writing %s", w->path);
		free(buf);
	}
	if (w->xname)
		CHECK(!tfs_setxattr(fs, st.st_ino, w->xname, w->xval,
				    strlen(w->xval), 0), "xattr on %s", w->path);
	return st.st_ino;
}

static void build(struct state *s)
{
	struct mixfs_err err = { 0 };
	char uri[160], *e = NULL;
	struct tfs *fs;
	struct stat st;
	rocksdb_checkpoint_t *cp;
	static const struct tfs_cred cred = { 1000, 1000 };
	unsigned char buf[10000];
	int ret;

	snprintf(uri, sizeof(uri), "rocksdb:%s/build", s->dir);
	ret = tfs_mkfs(uri, 0, false, &err);
	CHECK(!ret, "mkfs: %s", mixfs_err_msg(&err, ret));
	ret = tfs_open(uri, NULL, false, &fs, &err);
	CHECK(!ret, "open: %s", mixfs_err_msg(&err, ret));
	for (size_t i = 0; i < NWANT; i++)
		wants[i].ino = mkpath(fs, &wants[i]);
	/* an unlinked file still open: orphan mark, data not yet freed */
	CHECK(!tfs_mknod(fs, TFS_ROOT_INO, "gone", S_IFREG | 0644, 0, &cred,
			 &st), "making gone");
	s->orphan_ino = st.st_ino;
	fill(buf, sizeof(buf), "gone");
	CHECK(tfs_write(fs, st.st_ino, 0, buf, sizeof(buf)) == sizeof(buf),
	      "writing gone");
	CHECK(!tfs_open_file(fs, st.st_ino), "opening gone");
	CHECK(!tfs_unlink(fs, TFS_ROOT_INO, "gone"), "unlinking gone");
	cp = rocksdb_checkpoint_object_create(fs->db, &e);
	CHECK(!e, "checkpoint: %s", e);
	rocksdb_checkpoint_create(cp, s->base, 0, &e);
	CHECK(!e, "checkpoint: %s", e);
	rocksdb_checkpoint_object_destroy(cp);
	tfs_close_file(fs, st.st_ino);
	tfs_close(fs);
}

static void load(struct state *s)
{
	rocksdb_options_t *o = objstore_rocksdb_options();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *e = NULL;
	rocksdb_t *db = rocksdb_open(o, s->base, &e);
	size_t cap = 0;
	char kinds[256];

	CHECK(!e, "opening the checkpoint: %s", e);
	it = rocksdb_create_iterator(db, ro);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &vl);
		struct rec *r;

		if (s->nrec == cap) {
			cap = cap ? cap * 2 : 64;
			s->recs = realloc(s->recs, cap * sizeof(*r));
		}
		r = &s->recs[s->nrec++];
		r->k = malloc(kl);
		r->v = malloc(vl + 1);
		memcpy(r->k, k, kl);
		memcpy(r->v, v, vl);
		r->klen = kl;
		r->vlen = vl;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_close(db);
	rocksdb_options_destroy(o);
	for (size_t i = 0; i < s->nrec; i++)
		kinds[i] = (char)s->recs[i].k[0];
	kinds[s->nrec < 255 ? s->nrec : 255] = '\0';
	for (const char *k = "SNidxro"; *k; k++)
		CHECK(memchr(kinds, *k, strlen(kinds)),
		      "the filesystem has no '%c' record to damage", *k);
}

static int rec_cmp(const unsigned char *k, size_t klen, const struct rec *r)
{
	int c = memcmp(k, r->k, klen < r->klen ? klen : r->klen);

	return c ? c : (klen > r->klen) - (klen < r->klen);
}

static const struct rec *rec_find(struct state *s, const unsigned char *k,
				  size_t klen, size_t *at)
{
	size_t lo = 0, hi = s->nrec;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = rec_cmp(k, klen, &s->recs[mid]);

		if (!c) {
			*at = mid;
			return &s->recs[mid];
		}
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static rocksdb_t *open_work(struct state *s, bool create)
{
	rocksdb_options_t *o = objstore_rocksdb_options();
	char *e = NULL;
	rocksdb_t *db;

	rocksdb_options_set_create_if_missing(o, create);
	/* A small memtable, so RocksDB does not reserve
	 * a 70 MiB write-ahead log on every open (slow on tmpfs). */
	rocksdb_options_set_write_buffer_size(o, 4u << 20);
	rocksdb_options_set_manifest_preallocation_size(o, 64u << 10);
	db = rocksdb_open(o, s->work, &e);
	rocksdb_options_destroy(o);
	CHECK(!e, "opening the work store: %s", e);
	return db;
}

/*
 * Make the work store hold the records, with record @skip replaced by
 * @k/@v (k NULL: deleted). Only what differs from the records is written:
 * the store holds the previous case's repaired state.
 */
static rocksdb_t *write_store(struct state *s, size_t skip,
			      const unsigned char *k, size_t klen,
			      const unsigned char *v, size_t vlen)
{
	rocksdb_t *db;

	if (s->fs) {	/* left open by a failed case */
		tfs_close(s->fs);
		s->fs = NULL;
	}
	db = s->db ? s->db : open_work(s, false);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
	bool *seen = calloc(s->nrec + 1, sizeof(bool));
	char *e = NULL;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl, at;
		const char *ik = rocksdb_iter_key(it, &kl);
		const char *iv = rocksdb_iter_value(it, &vl);
		const struct rec *r = rec_find(s, (const unsigned char *)ik,
					       kl, &at);

		if (!r) {
			rocksdb_writebatch_delete(b, ik, kl);
			continue;
		}
		seen[at] = true;
		if (vl != r->vlen || memcmp(iv, r->v, vl))
			rocksdb_writebatch_put(b, ik, kl, (const char *)r->v,
					       r->vlen);
	}
	rocksdb_iter_destroy(it);
	for (size_t i = 0; i < s->nrec; i++)
		if (!seen[i])
			rocksdb_writebatch_put(b, (const char *)s->recs[i].k,
				s->recs[i].klen, (const char *)s->recs[i].v,
				s->recs[i].vlen);
	free(seen);
	if (skip < s->nrec)
		rocksdb_writebatch_delete(b, (const char *)s->recs[skip].k,
					  s->recs[skip].klen);
	if (k)
		rocksdb_writebatch_put(b, (const char *)k, klen,
				       (const char *)v, vlen);
	rocksdb_write(db, wo, b, &e);
	CHECK(!e, "writing the work store: %s", e);
	rocksdb_writebatch_destroy(b);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_readoptions_destroy(ro);
	s->db = db;
	return db;
}

/* Close the work store (tfs_open needs it to itself). */
static void close_work(struct state *s)
{
	if (s->db)
		rocksdb_close(s->db);
	s->db = NULL;
}

/* --- which damage the format cannot show -------------------------------- */

/* Offsets in struct tfs_irec (host order, as written by inode.c). */
#define IR_MODE		4
#define IR_UID		8
#define IR_NLINK	16
#define IR_SIZE		24
#define IR_RDEV		32
#define IR_ATIME	48
#define IR_END		112

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/*
 * Non-NULL (the reason) when record @r changed into @v/@vlen (key
 * unchanged) differs only where the format holds no redundancy, or into a
 * value the format allows with the same meaning.
 */
static const char *undetectable(const struct rec *r, const unsigned char *v,
				size_t vlen)
{
	size_t first = SIZE_MAX, last = 0;

	if (vlen == r->vlen) {
		for (size_t i = 0; i < vlen; i++)
			if (v[i] != r->v[i]) {
				if (first == SIZE_MAX)
					first = i;
				last = i;
			}
		if (first == SIZE_MAX)
			return "no change";
	}
	switch (r->k[0]) {
	case 'x':
		return "extended attribute values have no checksum";
	case 'S':
		if (vlen == r->vlen && first >= 24)
			return "the superblock's UUID is any 16 bytes";
		if (vlen == r->vlen && first >= 20 && last < 24 &&
		    rd32(v + 20) <= 65536 && rd32(v + 20) >= 4000)
			return "any inline limit at least the largest inline file is valid";
		return NULL;
	case 'N':
		if (vlen == 8 && be64(v) > be64(r->v) &&
		    be64(v) <= UINT64_C(0xffffffffffff0000))
			return "a higher inode counter is valid";
		return NULL;
	case 'i':
		if (vlen != r->vlen)
			return NULL;
		if (first >= IR_UID && last < IR_NLINK)
			return "owner and group have no checksum";
		if (first >= IR_MODE && last < IR_UID &&
		    !((rd32(v + IR_MODE) ^ rd32(r->v + IR_MODE)) & ~07777u))
			return "permission bits have no checksum";
		if (first >= IR_SIZE && last < IR_SIZE + 8 &&
		    S_ISREG(rd32(r->v + IR_MODE)) && (r->v[1] & 0x01) &&
		    rd64(v + IR_SIZE) < rd64(r->v + IR_SIZE))
			return "a smaller size over an object's data is what a crash leaves";
		if (first >= IR_RDEV && last < IR_RDEV + 8 &&
		    S_ISCHR(rd32(r->v + IR_MODE)))
			return "device numbers have no checksum";
		if (first >= IR_ATIME && last < IR_END) {
			size_t f = (first - IR_ATIME) % 16, l = (last - IR_ATIME) % 16;

			if (first / 16 == last / 16 && f <= l && l < 8)
				return "times have no checksum";
			if (first / 16 == last / 16 && f >= 8 && l < 12 &&
			    rd32(v + IR_ATIME + (first - IR_ATIME) / 16 * 16 + 8) <
			    1000000000u)
				return "nanoseconds below a second have no checksum";
		}
		if (first >= IR_END) {
			if (S_ISLNK(rd32(r->v + IR_MODE)) &&
			    memchr(v + IR_END, 0, vlen - IR_END))
				return NULL;
			return "inline data and symlink targets have no checksum";
		}
		return NULL;
	case 'd':
		if (r->klen == 10 && vlen == 24 && first >= 8 && last < 16 &&
		    be64(v + 8) > be64(r->v + 8) &&
		    be64(v + 8) <= (UINT64_C(1) << 63))
			return "a higher next cookie is valid";
		return NULL;
	case 'o':
		if (r->klen == 2 && r->k[1] == 'H' && vlen == r->vlen &&
		    first >= 24)
			return "the store's UUID and capacity have no checksum";
		if (r->klen == 2 && r->k[1] == 'C' && vlen == r->vlen &&
		    first < 8 && last < 8 && rd64(v) > rd64(r->v))
			return "a higher next object id is valid";
		if (r->klen == 10 && r->k[1] == 'M' && vlen == r->vlen &&
		    first >= 16 && last < 24)
			return "object times have no checksum";
		if (r->klen == 10 && r->k[1] == 'M' && vlen == r->vlen &&
		    first >= 24 && last < 28 && rd32(v + 24) < 1000000000u)
			return "object times have no checksum";
		return NULL;
	}
	return NULL;
}

/* A name fsck accepts for an extended attribute. */
static bool attr_name_ok(const unsigned char *n, size_t len)
{
	if (memchr(n, 0, len))
		return false;
	return (len > 5 && !memcmp(n, "user.", 5)) ||
	       (len > 8 && !memcmp(n, "trusted.", 8)) ||
	       (len > 9 && !memcmp(n, "security.", 9));
}

/* --- one case ----------------------------------------------------------- */

/* The inode a record belongs to (0: none: superblock, counters, ...). */
static uint64_t owner(const unsigned char *k, size_t klen)
{
	if ((k[0] == 'i' || k[0] == 'x' || k[0] == 'r') && klen >= 9)
		return be64(k + 1);
	if (k[0] == 'o' && klen >= 10 && k[1] != 'H' && k[1] != 'C')
		return be64(k + 2);
	return 0;
}

static int lookup_path(struct tfs *fs, const char *path, struct stat *st)
{
	char buf[128], *save = NULL, *part;
	uint64_t ino = TFS_ROOT_INO;
	int ret = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, "/", &save); part && !ret;
	     part = strtok_r(NULL, "/", &save)) {
		ret = tfs_lookup(fs, ino, part, st);
		ino = st->st_ino;
	}
	return ret;
}

static void verify(struct state *s, const char *what, uint64_t hit,
		   uint64_t hit2, bool dir_hit)
{
	struct mixfs_err err = { 0 };
	struct tfs *fs;
	struct stat st;
	static const struct tfs_cred cred = { 0, 0 };
	unsigned char *got = malloc(200000), *exp = malloc(200000);
	int ret = tfs_open(s->uri, NULL, false, &fs, &err);

	CHECK(!ret, "%s: repaired store does not open: %s", what,
	      mixfs_err_msg(&err, ret));
	s->fs = fs;
	for (size_t i = 0; i < NWANT; i++) {
		const struct want *w = &wants[i];
		char lf[64], tgt[64];

		if (w->ino == hit || w->ino == hit2)
			continue;
		ret = lookup_path(fs, w->path, &st);
		if (ret && dir_hit) {
			snprintf(lf, sizeof(lf), "lost+found/#%llu",
				 (unsigned long long)w->ino);
			ret = lookup_path(fs, lf, &st);
			if (ret && w->kind == W_DIR)
				continue;	/* its name was the record hit */
			if (ret) {	/* a name lost, another kept: by ino */
				ret = tfs_getattr(fs, w->ino, &st);
				if (!ret && st.st_nlink == 0)
					ret = -ENOENT;
			}
		}
		CHECK(!ret, "%s: %s is gone after repair", what, w->path);
		CHECK(st.st_ino == w->ino, "%s: %s is inode %llu, was %llu",
		      what, w->path, (unsigned long long)st.st_ino,
		      (unsigned long long)w->ino);
		if (w->kind == W_FILE) {
			CHECK((size_t)st.st_size == w->len,
			      "%s: %s has %lld bytes, want %zu", what, w->path,
			      (long long)st.st_size, w->len);
			fill(exp, w->len, w->hardlink_of ? w->hardlink_of :
			     w->path);
			CHECK(tfs_read(fs, w->ino, 0, got, w->len) ==
			      (ssize_t)w->len && !memcmp(got, exp, w->len),
			      "%s: %s reads back different", what, w->path);
		} else if (w->kind == W_LINK) {
			CHECK(tfs_readlink(fs, w->ino, tgt, sizeof(tgt)) > 0 &&
			      !strcmp(tgt, w->target),
			      "%s: %s points elsewhere", what, w->path);
		}
		if (w->xname) {
			char v[64];
			ssize_t n = tfs_getxattr(fs, w->ino, w->xname, v,
						 sizeof(v));

			CHECK(n == (ssize_t)strlen(w->xval) &&
			      !memcmp(v, w->xval, (size_t)n),
			      "%s: %s lost its attribute %s", what, w->path,
			      w->xname);
		}
	}
	ret = tfs_mknod(fs, TFS_ROOT_INO, "after-repair", S_IFREG | 0644, 0,
			&cred, &st);
	CHECK(!ret, "%s: repaired filesystem refuses a new file: %s", what,
	      strerror(-ret));
	CHECK(tfs_write(fs, st.st_ino, 0, "x", 1) == 1,
	      "%s: repaired filesystem refuses a write", what);
	tfs_close(fs);
	s->fs = NULL;
	free(got);
	free(exp);
}

/* Whether the store holds inode @be_ino (8 bytes, big-endian). */
static bool inode_exists(const struct state *s, const unsigned char *be_ino)
{
	for (size_t i = 0; i < s->nrec; i++)
		if (s->recs[i].klen == 9 && s->recs[i].k[0] == 'i' &&
		    !memcmp(s->recs[i].k + 1, be_ino, 8))
			return true;
	return false;
}

static void run_case(struct state *s, size_t idx, const char *kind,
		     const unsigned char *k, size_t klen,
		     const unsigned char *v, size_t vlen)
{
	const struct rec *r = &s->recs[idx];
	struct fsd_buf out = { 0 };
	struct mixfs_err err = { 0 };
	char what[200], hex[40] = "";
	const char *why = NULL;
	bool key_changed = !k || klen != r->klen || memcmp(k, r->k, klen);
	rocksdb_t *db;
	int ret;

	for (size_t i = 0; i < r->klen && i < 12; i++)
		snprintf(hex + 2 * i, 3, "%02x", r->k[i]);
	snprintf(what, sizeof(what), "record %zu (key %s, %zu bytes) %s (seed %llu)",
		 idx, hex, r->klen, kind, (unsigned long long)s->seed);
	if (!key_changed)
		why = undetectable(r, v, vlen);
	else if (r->k[0] == 'x' && !k)
		why = "a deleted extended attribute leaves no trace";
	else if (r->k[0] == 'x' && k[0] == 'x' && klen == r->klen &&
		 !memcmp(k, r->k, 9) && attr_name_ok(k + 9, klen - 9))
		why = "extended attribute names have no checksum";
	else if (r->k[0] == 'x' && k[0] == 'x' && klen == r->klen &&
		 !memcmp(k + 9, r->k + 9, klen - 9) && inode_exists(s, k + 1))
		why = "an extended attribute moved to another inode has no checksum";
	if (why && !strcmp(why, "no change"))
		return;
	s->injected++;
	db = write_store(s, idx, k, klen, v, vlen);
	ret = fk_run(db, s->uri, false, &out, &err);
	if (ret > 0 || ret < 0) {
		s->detected++;
	} else {
		CHECK(why, "%s: fsck found nothing", what);
		if (strstr(why, "no checksum") || strstr(why, "no trace"))
			s->undetectable++;
		else
			s->quiet_harmless++;
	}
	fsd_buf_release(&out);
	memset(&err, 0, sizeof(err));
	ret = fk_run(db, s->uri, true, &out, &err);
	CHECK(ret == 0, "%s: repair left %d problems: %s\n%.*s", what, ret,
	      ret < 0 ? mixfs_err_msg(&err, ret) : "", (int)out.len,
	      out.data ? out.data : "");
	for (const char *l = out.data; l && l < out.data + out.len;
	     l = strchr(l, '\n') + 1) {
		const char *nl = strchr(l, '\n');

		CHECK(nl && (memmem(l, (size_t)(nl - l), ": ", 2) ||
			     !strncmp(l, "made /", 6)),
		      "%s: repair line without what was done: %.*s", what,
		      (int)(nl ? nl - l : 40), l);
	}
	fsd_buf_release(&out);
	ret = fk_run(db, s->uri, false, &out, &err);
	CHECK(ret == 0 && out.len == 0, "%s: check after repair: %d: %.*s",
	      what, ret, (int)out.len, out.data ? out.data : "");
	fsd_buf_release(&out);
	if (!s->longrun && (s->injected + s->seed) % VERIFY_EVERY)
		return;
	close_work(s);
	s->verified++;
	/* a flipped key may land on another record and replace it */
	verify(s, what, owner(r->k, r->klen), k ? owner(k, klen) : 0,
	       r->k[0] == 'd' || key_changed || r->k[0] == 'i');
}

/* --- tests -------------------------------------------------------------- */

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* What the @p-th flip of record @idx xors its byte with: all bits for
 * the first two positions (first and last byte), then seeded bits. */
static unsigned mask(struct state *s, size_t idx, size_t p)
{
	uint64_t x = (s->seed + 1) * 0xBF58476D1CE4E5B9ull + idx * 131 + p;

	if (p < 2)
		return 0xff;
	return 1 + (unsigned)(rnd(&x) % 255);
}

/* Byte positions to flip in a field of @n bytes. */
static size_t positions(struct state *s, size_t n, size_t idx, size_t *pos,
			size_t max)
{
	uint64_t x = s->seed * 0x9E3779B97F4A7C15ull + idx + 1;
	size_t np = 0;

	if (!n)
		return 0;
	if (s->longrun && n <= 256) {
		for (size_t i = 0; i < n && np < max; i++)
			pos[np++] = i;
		return np;
	}
	pos[np++] = 0;
	if (n > 1)
		pos[np++] = n - 1;
	if (n > 2)
		pos[np++] = 1 + rnd(&x) % (n - 2);
	if (s->longrun)
		for (int i = 0; i < 13 && np < max; i++)
			pos[np++] = rnd(&x) % n;
	return np;
}

static void clean_store_checks_clean_and_repair_changes_nothing(void **st)
{
	struct state *s = *st;
	struct fsd_buf out = { 0 };
	struct mixfs_err err = { 0 };
	int ret;

	write_store(s, SIZE_MAX, NULL, 0, NULL, 0);
	close_work(s);
	ret = tfs_fsck(s->uri, false, &out, &err);
	CHECK(ret == 0 && out.len == 0, "clean store: %d: %.*s%s", ret,
	      (int)out.len, out.data ? out.data : "",
	      ret < 0 ? mixfs_err_msg(&err, ret) : "");
	ret = tfs_fsck(s->uri, true, &out, &err);
	CHECK(ret == 0 && out.len == 0, "repair of a clean store: %d: %.*s",
	      ret, (int)out.len, out.data ? out.data : "");
	verify(s, "clean store", 0, 0, false);
}

static void every_value_byte_flip_is_found_and_repaired(void **st)
{
	struct state *s = *st;

	for (size_t i = 0; i < s->nrec; i++) {
		const struct rec *r = &s->recs[i];
		size_t pos[300], np = positions(s, r->vlen, i, pos, 300);
		unsigned char *v = malloc(r->vlen + 1);

		for (size_t p = 0; p < np; p++) {
			char kind[48];

			memcpy(v, r->v, r->vlen);
			v[pos[p]] ^= mask(s, i, p);
			snprintf(kind, sizeof(kind), "value byte %zu xor %#x",
				 pos[p], mask(s, i, p));
			run_case(s, i, kind, r->k, r->klen, v, r->vlen);
		}
		free(v);
	}
}

static void every_zeroed_value_is_found_and_repaired(void **st)
{
	struct state *s = *st;

	for (size_t i = 0; i < s->nrec; i++) {
		const struct rec *r = &s->recs[i];
		unsigned char *v = calloc(1, r->vlen + 1);

		run_case(s, i, "value zeroed", r->k, r->klen, v, r->vlen);
		free(v);
	}
}

static void every_truncated_value_is_found_and_repaired(void **st)
{
	struct state *s = *st;

	for (size_t i = 0; i < s->nrec; i++) {
		const struct rec *r = &s->recs[i];
		size_t cuts[3] = { r->vlen / 2, r->vlen ? r->vlen - 1 : 0, 0 };
		size_t nc = s->longrun ? 3 : 1;

		for (size_t c = 0; c < nc; c++) {
			char kind[48];

			if (cuts[c] >= r->vlen || (c && cuts[c] == cuts[0]))
				continue;
			snprintf(kind, sizeof(kind), "value cut to %zu bytes",
				 cuts[c]);
			run_case(s, i, kind, r->k, r->klen, r->v, cuts[c]);
		}
	}
}

static void every_deleted_record_is_found_and_repaired(void **st)
{
	struct state *s = *st;

	for (size_t i = 0; i < s->nrec; i++)
		run_case(s, i, "deleted", NULL, 0, NULL, 0);
}

static void every_key_byte_flip_is_found_and_repaired(void **st)
{
	struct state *s = *st;

	for (size_t i = 0; i < s->nrec; i++) {
		const struct rec *r = &s->recs[i];
		size_t pos[300], np = positions(s, r->klen, i, pos, 300);
		unsigned char *k = malloc(r->klen);

		for (size_t p = 0; p < np; p++) {
			char kind[48];

			memcpy(k, r->k, r->klen);
			k[pos[p]] ^= mask(s, i + 7919, p);
			snprintf(kind, sizeof(kind), "key byte %zu xor %#x",
				 pos[p], mask(s, i + 7919, p));
			run_case(s, i, kind, k, r->klen, r->v, r->vlen);
		}
		free(k);
	}
}

static int setup(void **st)
{
	struct state *s = calloc(1, sizeof(*s));
	const char *seed = getenv("MIXFS_SEED"), *l = getenv("MIXFS_LONG");
	struct stat sb;

	snprintf(s->dir, sizeof(s->dir), "%s/mixfs-fsck-XXXXXX",
		 stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->base, sizeof(s->base), "%s/base", s->dir);
	snprintf(s->work, sizeof(s->work), "%s/work", s->dir);
	snprintf(s->uri, sizeof(s->uri), "rocksdb:%s", s->work);
	s->seed = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);
	s->longrun = l && !strcmp(l, "1");
	printf("# seed %llu (MIXFS_SEED)%s\n", (unsigned long long)s->seed,
	       s->longrun ? ", long run" : "");
	build(s);
	load(s);
	rocksdb_close(open_work(s, true));
	*st = s;
	return 0;
}

static int teardown(void **st)
{
	struct state *s = *st;

	printf("# %u corruptions injected over %zu records: %u found by fsck, "
	       "%u in fields without a checksum (not findable), %u harmless "
	       "(valid and same meaning); %u repaired stores opened and read "
	       "back\n", s->injected, s->nrec, s->detected, s->undetectable,
	       s->quiet_harmless, s->verified);
	close_work(s);
	if (s->fs)
		tfs_close(s->fs);
	for (size_t i = 0; i < s->nrec; i++) {
		free(s->recs[i].k);
		free(s->recs[i].v);
	}
	free(s->recs);
	rmtree(s->dir);
	free(s);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_store_checks_clean_and_repair_changes_nothing),
		cmocka_unit_test(every_value_byte_flip_is_found_and_repaired),
		cmocka_unit_test(every_zeroed_value_is_found_and_repaired),
		cmocka_unit_test(every_truncated_value_is_found_and_repaired),
		cmocka_unit_test(every_deleted_record_is_found_and_repaired),
		cmocka_unit_test(every_key_byte_flip_is_found_and_repaired),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
