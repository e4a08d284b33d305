/*
 * dir.c - the dir: backend: objects as plain host files in a directory.
 *
 * A teaching example: every byte lives in a file you can look at with ls
 * and xxd. The store directory holds
 *
 *   mixfs-store          the header, five text lines: what this is, the
 *                        format version, the UUID, the chunk size and the
 *                        capacity (0: the host file system's)
 *   lock                 flock()ed while the store is open
 *   next-id              the next fresh id, in decimal
 *   objects/<id>/        one directory per object, <id> in 16 hex digits:
 *       meta             size and count of chunks holding data
 *       attr             attributes, when there are any
 *       <seg>            data of segment <seg> (hex): bytes from
 *                        <seg> * 1 TiB on, sparse (holes are host holes)
 *       <seg>.sum        per 4 KiB chunk of it a pair of XXH3-64
 *                        checksums: now, and at the last sync
 *
 * Why segments: an object may be 2^60 bytes, far past what a host file can
 * be (16 TiB on ext4). Nearly every object has only segment 0, i.e. one
 * data file. Why a directory per object: an object's files are found and
 * removed together, and create and remove are one rename each (a new
 * object is built as <id>.tmp and renamed into place; a removed one is
 * renamed to <id>.dead and then emptied), so a crash never leaves half an
 * object visible. Leftover .tmp and .dead directories are cleared at open.
 *
 * Attributes live in a sidecar file rather than host xattrs: host xattrs
 * cap a value at one block on ext4 (OBJSTORE_ATTR_MAX is 64 KiB), need
 * user xattr support on tmpfs, and are invisible to ls and cp. The file is
 * small and rewritten whole (temporary file + rename) on each change.
 *
 * Checksums: pair i of a segment's .sum file (16 bytes at i*16, two
 * little-endian 64-bit values) covers its chunk i, bytes [i*4K, (i+1)*4K)
 * as they read (zeros past the end of the data file). A checksum of 0
 * stands for a chunk of zeros (never written, or punched). A computed
 * checksum of 0 is stored as 1 (one value in 2^64 loses its check).
 * Reads verify every chunk they touch and fail -EBADMSG naming the object
 * and offset; writes that cover part of a chunk verify its old bytes
 * first.
 *
 * Why pairs: the data file and the .sum file reach the disk apart. A sync
 * fsyncs checksums before data, and the host writes dirty pages back on
 * its own in between, so after a power cut a chunk changed since the last
 * sync may hold its old bytes under its new checksum. The first value of
 * a pair covers the chunk as it is now, the second as it was at the last
 * completed sync; a read accepts either, which is exactly the set of
 * states a cut can leave when the checksums reach the disk first. Both
 * sit in one 4 KiB block of the .sum file and are written by one pwrite,
 * so the disk holds both old or both new. The second value is kept
 * through any number of changes until the next sync (the open object
 * remembers which chunks changed since: dir_data.c, and dir_cache.c
 * while the object is out of its cache), and a completed
 * sync sets it equal to the first again, so that a stale state no longer
 * passes. A chunk with nothing synced yet has 0 there: zeros pass.
 * Cutting and punching a data file are changes of the host's metadata,
 * which its journal commits at anyone's fsync, ahead of any plain write:
 * the chunks they drop get the pair (0, synced), fdatasynced first, and
 * a truncate cuts the .sum file before the data file (dir_data.c,
 * seg_truncate()). Data past what the checksums or the object's size
 * cover is an append written back ahead of them: not the object's.
 * Version 1 stores (the header says which) keep one checksum per chunk
 * and go on working in that layout, without this.
 *
 * URI: dir:PATH[?size=N][&cache=N]. size= sets the capacity (kept in the
 * header); cache= is how many idle objects stay open between calls
 * (default 256, fewer when the process may open few files; 0 opens and
 * closes an object's files on every call).
 *
 * Open objects: the most recently used objects keep their directory,
 * meta and data files open, with their size and chunk count in memory
 * (dir_cache.c). Only this store changes the files (the lock file sees to
 * that), so what is kept stays true; a remove closes the object's files
 * before the rename, a truncate closes those of the segments it deletes,
 * and a change that fails part way drops the object so the next call
 * reads its files afresh.
 *
 * Locking: a read-write lock per store, and one per object. A call on one
 * object shares the store lock and takes the object's lock, shared to
 * look and exclusive to change, so calls on different objects run side by
 * side, and reads of one object too. Create, remove and sync, which
 * change the objects directory or visit every object, hold the store lock
 * alone. Counters, the dirty set and the cache sit under a mutex held
 * only for a few instructions.
 *
 * What it deliberately does not do: no journal, so transactions are not
 * atomic (the front end applies their steps one by one) and a host I/O
 * error in the middle of a write may leave it partly applied: the
 * checksums then make the torn chunks read as -EBADMSG instead of wrong
 * data. No ordering of data against checksums between syncs: a chunk
 * whose new bytes the host wrote back before its new checksum, and the
 * power went in between, reads as -EBADMSG (docs/objstore.md, "Power
 * loss", says how rare that is and what closing it would cost). No
 * caching of data or attributes beyond the host's own page cache. No
 * fsync at close: completed calls are in the host kernel already;
 * objstore_sync() is what survives power loss.
 * Listing reads the whole objects directory on every call, which is fine
 * up to some hundred thousand objects.
 *
 * Files: this one opens the store and handles ids, objects, attributes,
 * listing and sync; dir_cache.c keeps objects open; dir_data.c reads and
 * changes object data; dir_internal.h holds what they share.
 */
#include "objstore/dir_internal.h"

#include <endian.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <uuid/uuid.h>

/* --- small helpers ------------------------------------------------------ */

/* Parse a name of exactly 16 hex digits followed by @suffix. */
static bool id_parse(const char *name, const char *suffix, uint64_t *id)
{
	char *end;

	if (strlen(name) != 16 + strlen(suffix) || strcmp(name + 16, suffix) ||
	    strspn(name, "0123456789abcdef") < 16)
		return false;
	*id = strtoull(name, &end, 16);
	return *id != 0;
}

/* Remove directory @name under @dirfd with the files in it. */
static int rm_dir(int parent, const char *name)
{
	DIR *d = dir_stream(parent, name);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR) ? -errno : 0;
}

/* --- the dirty set: what sync must fsync -------------------------------- */

/* Note that @id is about to change. Called before the change, so that a
 * failure to remember it (-ENOMEM) leaves the object untouched. */
static int dirty_mark_locked(struct dir_store *ds, uint64_t id,
			     struct mixfs_err *err)
{
	if (ds->ndirty && ds->dirty[ds->ndirty - 1] == id)
		return 0;
	if (ds->ndirty && ds->ndirty == ds->dirty_cap) {
		size_t i, n = 0;

		qsort(ds->dirty, ds->ndirty, sizeof(uint64_t), u64_cmp);
		for (i = 0; i < ds->ndirty; i++)
			if (!n || ds->dirty[n - 1] != ds->dirty[i])
				ds->dirty[n++] = ds->dirty[i];
		ds->ndirty = n;
	}
	/* Grow only when the set is still more than half full after
	 * dropping duplicates: it stays within twice the objects changed. */
	if (ds->dirty_cap == 0 || ds->ndirty * 2 > ds->dirty_cap) {
		size_t cap = ds->dirty_cap ? ds->dirty_cap * 2 : 64;
		uint64_t *p = realloc(ds->dirty, cap * sizeof(*p));

		if (!p)
			return mixfs_err_set(err, -ENOMEM, "out of memory");
		ds->dirty = p;
		ds->dirty_cap = cap;
	}
	ds->dirty[ds->ndirty++] = id;
	return 0;
}

int objstore_dir_dirty_mark(struct dir_store *ds, uint64_t id,
			    struct mixfs_err *err)
{
	int ret;

	pthread_mutex_lock(&ds->mu);
	ret = dirty_mark_locked(ds, id, err);
	pthread_mutex_unlock(&ds->mu);
	return ret;
}

/* --- the store header and opening ---------------------------------------- */

static int header_write(struct dir_store *ds, struct mixfs_err *err)
{
	char text[256], uuid[37];
	int fd, n, ret;

	uuid_unparse_lower(ds->base.uuid, uuid);
	n = snprintf(text, sizeof(text), HEADER_MAGIC "\nversion %u\nuuid %s\n"
		     "chunk-size %u\ncapacity %" PRIu64 "\n",
		     ds->pairs ? DIR_FORMAT : DIR_FORMAT_V1, uuid, CHUNK,
		     ds->capacity);
	fd = openat(ds->dirfd, HEADER_NAME ".tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ret = fd < 0 ? -errno : pwrite_full(fd, text, (size_t)n, 0);
	if (!ret && fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (!ret && renameat(ds->dirfd, HEADER_NAME ".tmp", ds->dirfd,
			     HEADER_NAME))
		ret = -errno;
	if (!ret && fsync(ds->dirfd))
		ret = -errno;
	if (ret)
		return mixfs_err_set(err, ret, "%s: writing the store header: %s",
				     ds->path, strerror(-ret));
	return 0;
}

static int header_read(struct dir_store *ds, uint64_t *capacity,
		       struct mixfs_err *err)
{
	char text[512], magic[64] = "", uuid[64];
	unsigned version, chunk;
	unsigned long long cap;
	const char *rest;
	ssize_t n;
	int fd;

	fd = openat(ds->dirfd, HEADER_NAME, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -errno : pread_full(fd, text, sizeof(text) - 1, 0);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return mixfs_err_set(err, (int)n, "%s/%s: %s", ds->path,
				     HEADER_NAME, strerror((int)-n));
	text[n] = '\0';
	sscanf(text, "%63[^\n]", magic);
	if (strcmp(magic, HEADER_MAGIC))
		return mixfs_err_set(err, -EPROTO,
			"%s is not a dir: object store: its %s begins '%.40s', not '%s'",
			ds->path, HEADER_NAME, magic, HEADER_MAGIC);
	rest = text + strlen(HEADER_MAGIC);
	if (sscanf(rest, "\nversion %u\n", &version) != 1)
		return mixfs_err_set(err, -EUCLEAN, "%s/%s has no version line",
				     ds->path, HEADER_NAME);
	if (version > DIR_FORMAT || version == 0)
		return mixfs_err_set(err, -EPROTO,
			"%s has format version %u; this code reads versions "
			"%u to %u (a newer mixfs made it: open it with that)",
			ds->path, version, DIR_FORMAT_V1, DIR_FORMAT);
	if (sscanf(rest, "\nversion %*u\nuuid %63s\nchunk-size %u\ncapacity %llu",
		   uuid, &chunk, &cap) != 3 || uuid_parse(uuid, ds->base.uuid))
		return mixfs_err_set(err, -EUCLEAN, "%s/%s is corrupt",
				     ds->path, HEADER_NAME);
	if (chunk != CHUNK)
		return mixfs_err_set(err, -EPROTO,
			"%s uses %u-byte chunks; this code reads %u", ds->path,
			chunk, CHUNK);
	ds->base.format_version = version;
	ds->pairs = version >= DIR_FORMAT;
	*capacity = cap;
	return 0;
}

static int counter_write(struct dir_store *ds, uint64_t next,
			 struct mixfs_err *err)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%020" PRIu64 "\n", next);
	int ret = pwrite_full(ds->idfd, text, (size_t)n, 0);

	if (ret)
		return mixfs_err_set(err, ret, "%s/next-id: %s", ds->path,
				     strerror(-ret));
	return 0;
}

/* True if the directory holds nothing but what a store creation leaves
 * before its header is in place (an interrupted create). */
static int dir_is_blank(int dirfd, bool *blank)
{
	static const char *const ours[] = {
		".", "..", "lock", "objects", "next-id", HEADER_NAME ".tmp", NULL,
	};
	DIR *d = dir_stream(dirfd, ".");
	struct dirent *de;

	if (!d)
		return -errno;
	*blank = true;
	while ((de = readdir(d))) {
		const char *const *p;

		for (p = ours; *p && strcmp(*p, de->d_name); p++)
			;
		if (!*p)
			*blank = false;
	}
	closedir(d);
	return 0;
}

/* Open or make the directory and decide whether a store is there. */
static int store_find(struct dir_store *ds, unsigned flags, bool *exists,
		      struct mixfs_err *err)
{
	bool create = flags & OBJSTORE_OPEN_CREATE, blank = false;
	int ret;

	ds->dirfd = open(ds->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ds->dirfd < 0 && errno == ENOENT && create) {
		if (mkdir(ds->path, 0755) && errno != EEXIST)
			return mixfs_err_set(err, -errno, "creating %s: %s",
					     ds->path, strerror(errno));
		ds->dirfd = open(ds->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (ds->dirfd < 0 && errno == ENOENT)
		return mixfs_err_set(err, -ENOENT,
			"no store at %s (no such directory)", ds->path);
	if (ds->dirfd < 0)
		return mixfs_err_set(err, -errno, "%s: %s", ds->path,
				     strerror(errno));
	*exists = faccessat(ds->dirfd, HEADER_NAME, F_OK, 0) == 0;
	if (*exists && create && (flags & OBJSTORE_OPEN_EXCL))
		return mixfs_err_set(err, -EEXIST,
			"a store already exists at %s", ds->path);
	if (*exists)
		return 0;
	ret = dir_is_blank(ds->dirfd, &blank);
	if (ret)
		return mixfs_err_set(err, ret, "%s: %s", ds->path,
				     strerror(-ret));
	if (!blank)
		return mixfs_err_set(err, -EPROTO,
			"%s holds other files and no %s: it is not a dir: object store",
			ds->path, HEADER_NAME);
	if (!create)
		return mixfs_err_set(err, -ENOENT,
			"no store at %s (empty directory; open with create to make one)",
			ds->path);
	return 0;
}

static int store_lock(struct dir_store *ds, bool readonly,
		      struct mixfs_err *err)
{
	ds->lockfd = openat(ds->dirfd, "lock", (readonly ? O_RDONLY :
			    O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
	if (ds->lockfd < 0 && readonly && errno == ENOENT)
		ds->lockfd = openat(ds->dirfd, ".", O_RDONLY | O_CLOEXEC);
	if (ds->lockfd < 0)
		return mixfs_err_set(err, -errno, "%s/lock: %s", ds->path,
				     strerror(errno));
	if (flock(ds->lockfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return mixfs_err_set(err, -EBUSY,
			"store %s is already open (by another process or handle)",
			ds->path);
	return mixfs_err_set(err, -errno, "%s/lock: %s", ds->path,
			     strerror(errno));
}

static int store_create(struct dir_store *ds, struct mixfs_err *err)
{
	int ret;

	if (mkdirat(ds->dirfd, "objects", 0755) && errno != EEXIST)
		return mixfs_err_set(err, -errno, "%s/objects: %s", ds->path,
				     strerror(errno));
	ds->idfd = openat(ds->dirfd, "next-id",
			  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ds->idfd < 0)
		return mixfs_err_set(err, -errno, "%s/next-id: %s", ds->path,
				     strerror(errno));
	ret = counter_write(ds, 1, err);
	if (!ret && fsync(ds->idfd))
		ret = mixfs_err_set(err, -errno, "%s/next-id: %s", ds->path,
				    strerror(errno));
	close(ds->idfd);
	ds->idfd = -1;
	if (ret)
		return ret;
	uuid_generate(ds->base.uuid);
	ds->pairs = true;
	return header_write(ds, err);
}

/* Count objects and used chunks; clear what interrupted creates and
 * removes left. An object whose meta is corrupt counts no chunks: its
 * reads report the corruption. */
static int store_scan(struct dir_store *ds, bool readonly,
		      struct mixfs_err *err)
{
	DIR *d = dir_stream(ds->dirfd, "objects");
	struct dirent *de;

	if (!d)
		return mixfs_err_set(err, -errno, "%s/objects: %s", ds->path,
				     strerror(errno));
	while ((de = readdir(d))) {
		uint64_t id, chunks;
		bool blank = false;

		if (!readonly && (id_parse(de->d_name, ".tmp", &id) ||
				  id_parse(de->d_name, ".dead", &id))) {
			rm_dir(ds->objfd, de->d_name);
			continue;
		}
		if (!id_parse(de->d_name, "", &id))
			continue;
		ds->objects++;
		if (id == UINT64_MAX)
			ds->ids_exhausted = true;
		else if (id >= ds->next_id)
			ds->next_id = id + 1;
		if (!objstore_dir_peek_chunks(ds, id, &chunks, &blank))
			ds->used_chunks += chunks;
		/* Created, never synced, its meta lost in a power cut:
		 * whatever its other files hold was never synced either. */
		if (blank && !readonly)
			objstore_dir_clear_blank(ds, id);
	}
	closedir(d);
	return 0;
}

static int store_load(struct dir_store *ds, bool readonly,
		      struct mixfs_err *err)
{
	char text[32], *end;
	ssize_t n;

	ds->objfd = openat(ds->dirfd, "objects", O_RDONLY | O_DIRECTORY |
			   O_CLOEXEC);
	if (ds->objfd < 0)
		return mixfs_err_set(err, errno == ENOENT ? -EUCLEAN : -errno,
			"%s/objects: %s", ds->path, strerror(errno));
	ds->idfd = openat(ds->dirfd, "next-id",
			  (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	n = ds->idfd < 0 ? -errno :
		pread_full(ds->idfd, text, sizeof(text) - 1, 0);
	if (n < 0)
		return mixfs_err_set(err, n == -ENOENT ? -EUCLEAN : (int)n,
				     "%s/next-id: %s", ds->path,
				     strerror((int)-n));
	text[n] = '\0';
	errno = 0;
	ds->next_id = strtoull(text, &end, 10);
	if (errno || end == text || *end != '\n' || ds->next_id == 0)
		return mixfs_err_set(err, -EUCLEAN, "%s/next-id is corrupt",
				     ds->path);
	return store_scan(ds, readonly, err);
}

static int dir_close(struct objstore *s);

/*
 * How many idle objects to keep open: @asked if the URI said (cache=N),
 * else DIR_CACHE_OBJECTS, but never so many that the cache's files
 * (2 + 2 * OBJ_SEGS per object at most) would take more than an eighth
 * of the process's limit on open files, which the caller needs too.
 */
static size_t cache_bound(bool given, uint64_t asked)
{
	struct rlimit rl;
	uint64_t most;

	if (given)
		return (size_t)asked;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return DIR_CACHE_OBJECTS;
	most = (uint64_t)rl.rlim_cur / 8 / (2 + 2 * OBJ_SEGS);
	return most < DIR_CACHE_OBJECTS ? (size_t)most : DIR_CACHE_OBJECTS;
}

static int dir_open(const char *rest, unsigned flags, struct objstore **out,
		    struct mixfs_err *err)
{
	static const char *const known[] = { "size", "cache", NULL };
	bool readonly = flags & OBJSTORE_OPEN_READONLY, exists = false;
	uint64_t size = 0, stored = 0, cache = 0;
	struct dir_store *ds;
	const char *query;
	char val[64];
	int ret;

	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	ds->dirfd = ds->objfd = ds->lockfd = ds->idfd = -1;
	ds->readonly = readonly;
	pthread_rwlock_init(&ds->lock, NULL);
	pthread_mutex_init(&ds->mu, NULL);
	ds->base.ops = &objstore_dir_ops;
	ret = objstore_uri_split(rest, &ds->path, &query);
	if (ret)
		goto out_close;
	ret = objstore_uri_check_keys(query, known, err);
	if (ret)
		goto out_close;
	ret = objstore_uri_param(query, "size", val, sizeof(val));
	if (ret == 1 && (objstore_parse_size(val, &size) || size == 0))
		ret = -EINVAL;
	if (ret < 0) {
		mixfs_err_set(err, ret, "dir: bad size in '%s' (try size=10G)",
			      query);
		goto out_close;
	}
	ret = objstore_uri_param(query, "cache", val, sizeof(val));
	if (ret == 1 && (objstore_parse_size(val, &cache) ||
			 cache > DIR_CACHE_MAX))
		ret = -EINVAL;
	if (ret < 0) {
		mixfs_err_set(err, ret, "dir: bad cache in '%s' (a count of "
			      "objects kept open, 0 to %u)", query,
			      DIR_CACHE_MAX);
		goto out_close;
	}
	if (objstore_dir_cache_init(ds, cache_bound(ret == 1, cache))) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_close;
	}
	if (!ds->path[0]) {
		ret = mixfs_err_set(err, -EINVAL,
			"dir: URI needs a directory, as in dir:/var/lib/store");
		goto out_close;
	}
	ret = store_find(ds, flags, &exists, err);
	if (!ret)
		ret = store_lock(ds, readonly, err);
	/* Someone may have made the store between the look and the lock. */
	if (!ret && !exists && faccessat(ds->dirfd, HEADER_NAME, F_OK, 0))
		ret = store_create(ds, err);
	if (!ret)
		ret = header_read(ds, &stored, err);
	if (ret)
		goto out_close;
	ds->capacity = size ? size : stored;
	if (size && size != stored && !readonly) {
		ret = header_write(ds, err);
		if (ret)
			goto out_close;
	}
	ret = store_load(ds, readonly, err);
	if (ret)
		goto out_close;
	ds->base.caps = OBJSTORE_CAP_PERSISTENT | OBJSTORE_CAP_CHECKSUM |
			OBJSTORE_CAP_DURABLE_SYNC | OBJSTORE_CAP_SEEK_HOLES;
	*out = &ds->base;
	return 0;

out_close:
	dir_close(&ds->base);
	return ret;
}

static int dir_close(struct objstore *s)
{
	struct dir_store *ds = to_dir(s);

	if (ds->idfd >= 0)
		close(ds->idfd);
	if (ds->objfd >= 0)
		close(ds->objfd);
	if (ds->dirfd >= 0)
		close(ds->dirfd);
	if (ds->lockfd >= 0)
		close(ds->lockfd);	/* last: releases the flock */
	objstore_dir_cache_release(ds);
	pthread_mutex_destroy(&ds->mu);
	pthread_rwlock_destroy(&ds->lock);
	free(ds->dirty);
	free(ds->path);
	free(ds);
	return 0;
}

/* --- creating and removing objects -------------------------------------- */

static int create_locked(struct dir_store *ds, uint64_t id,
			 struct mixfs_err *err)
{
	struct obj o = { .id = id };
	char tmp[32], name[32];
	bool placed = false;
	int ret;

	ret = objstore_dir_dirty_mark(ds, id, err);
	if (ret)
		return ret;
	id_name(tmp, id, ".tmp");
	id_name(name, id, "");
	rm_dir(ds->objfd, tmp);
	if (mkdirat(ds->objfd, tmp, 0755))
		return oerr(err, -errno, id, "%s", strerror(errno));
	o.odfd = openat(ds->objfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	o.mfd = o.odfd < 0 ? -1 : openat(o.odfd, "meta", O_RDWR | O_CREAT |
					 O_CLOEXEC, 0644);
	ret = o.mfd < 0 ? oerr(err, -errno, id, "%s", strerror(errno)) :
			  objstore_dir_meta_save(&o, err);
	if (o.mfd >= 0)
		close(o.mfd);
	if (o.odfd >= 0)
		close(o.odfd);
	/* The rename claims the id: it fails if the object exists. */
	if (!ret && renameat2(ds->objfd, tmp, ds->objfd, name, RENAME_NOREPLACE))
		ret = errno == EEXIST ?
			mixfs_err_set(err, -EEXIST, "object %016" PRIx64 " exists", id) :
			oerr(err, -errno, id, "%s", strerror(errno));
	placed = !ret;
	if (!ret && !ds->ids_exhausted && id >= ds->next_id)
		ret = counter_write(ds, id == UINT64_MAX ? id : id + 1, err);
	if (ret) {
		rm_dir(ds->objfd, placed ? name : tmp);
		return ret;
	}
	if (id == UINT64_MAX)
		ds->ids_exhausted = true;
	else if (id >= ds->next_id)
		ds->next_id = id + 1;
	pthread_mutex_lock(&ds->mu);
	ds->objects++;
	ds->dirty_dir = true;
	pthread_mutex_unlock(&ds->mu);
	return 0;
}

static int dir_create(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	int ret;

	pthread_rwlock_wrlock(&ds->lock);
	ret = create_locked(ds, id, err);
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

static int dir_create_fresh(struct objstore *s, uint64_t *id,
			    struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	uint64_t fresh;
	int ret;

	pthread_rwlock_wrlock(&ds->lock);
	/* next_id is past every id ever used, so it is fresh. */
	fresh = ds->next_id;
	if (ds->ids_exhausted)
		ret = mixfs_err_set(err, -ENOSPC, "no unused object ids left");
	else
		ret = create_locked(ds, fresh, err);
	if (!ret)
		*id = fresh;
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

static int dir_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	char name[32], dead[32];
	uint64_t chunks = 0;
	struct obj *o;
	int ret;

	pthread_rwlock_wrlock(&ds->lock);
	ret = objstore_dir_get(ds, id, false, &o, NULL);
	if (!ret) {
		chunks = o->chunks;
		objstore_dir_put(ds, o, false);
	}
	if (ret == -EUCLEAN)	/* a corrupt object can still go; its */
		ret = 0;	/* chunks were not counted at open either */
	if (ret) {
		ret = ret == -ENOENT ?
			mixfs_err_set(err, ret, "no object %016" PRIx64, id) :
			oerr(err, ret, id, "%s", strerror(-ret));
		goto out_unlock;
	}
	/* Nobody holds it (the lock is ours alone): close its files now,
	 * so that no later call reaches the removed object through them. */
	objstore_dir_drop(ds, id);
	id_name(name, id, "");
	id_name(dead, id, ".dead");
	rm_dir(ds->objfd, dead);
	if (renameat(ds->objfd, name, ds->objfd, dead)) {
		ret = oerr(err, -errno, id, "%s", strerror(errno));
		goto out_unlock;
	}
	rm_dir(ds->objfd, dead);
	pthread_mutex_lock(&ds->mu);
	ds->objects--;
	ds->used_chunks -= chunks < ds->used_chunks ? chunks :
			   ds->used_chunks;
	ds->dirty_dir = true;
	pthread_mutex_unlock(&ds->mu);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

static int dir_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		    size_t max, size_t *n, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	uint64_t *all = NULL, id;
	size_t nall = 0, cap = 0;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	pthread_rwlock_rdlock(&ds->lock);
	d = dir_stream(ds->dirfd, "objects");
	if (!d) {
		ret = mixfs_err_set(err, -errno, "%s/objects: %s", ds->path,
				    strerror(errno));
		goto out_unlock;
	}
	while ((de = readdir(d))) {
		if (!id_parse(de->d_name, "", &id) || id <= *cursor)
			continue;
		if (nall == cap) {
			uint64_t *p = realloc(all, (cap = cap * 2 + 256) * 8);

			if (!p) {
				ret = mixfs_err_set(err, -ENOMEM, "out of memory");
				goto out_close;
			}
			all = p;
		}
		all[nall++] = id;
	}
	if (nall)
		qsort(all, nall, sizeof(*all), u64_cmp);
	*n = nall < max ? nall : max;
	if (*n) {
		memcpy(ids, all, *n * sizeof(*ids));
		*cursor = ids[*n - 1];
	}
out_close:
	closedir(d);
	free(all);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

/* --- attributes ---------------------------------------------------------- */

/*
 * The attr file: ATTR_MAGIC, then records sorted by name, each a le32 name
 * length, a le32 value length, the name and the value. Loaded whole;
 * entries point into the loaded buffer (or, when setting, the caller's).
 */
struct attr_ent {
	const char *name;
	size_t nlen;
	const unsigned char *val;
	size_t vlen;
};

struct attrs {
	unsigned char *buf;
	struct attr_ent *ent;	/* room for one more than n */
	size_t n;
};

static int attr_cmp(const struct attr_ent *e, const char *name, size_t nlen)
{
	int c = memcmp(e->name, name, e->nlen < nlen ? e->nlen : nlen);

	return c ? c : (e->nlen > nlen) - (e->nlen < nlen);
}

static int attrs_parse(const struct obj *o, struct attrs *a, size_t len,
		       struct mixfs_err *err)
{
	size_t pos = 8, cap = len / 8 + 1;

	if (len < 8 || memcmp(a->buf, ATTR_MAGIC, 8))
		return oerr(err, -EUCLEAN, o->id, "attr file has no header");
	a->ent = malloc(cap * sizeof(*a->ent));
	if (!a->ent)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	while (pos < len) {
		struct attr_ent *e = &a->ent[a->n];
		uint32_t nl, vl;

		if (len - pos < 8)
			goto out_corrupt;
		memcpy(&nl, a->buf + pos, 4);
		memcpy(&vl, a->buf + pos + 4, 4);
		e->nlen = le32toh(nl);
		e->vlen = le32toh(vl);
		e->name = (const char *)a->buf + pos + 8;
		e->val = a->buf + pos + 8 + e->nlen;
		if (e->nlen == 0 || e->nlen > OBJSTORE_ATTR_NAME_MAX ||
		    e->vlen > OBJSTORE_ATTR_MAX ||
		    len - pos - 8 < e->nlen + e->vlen ||
		    memchr(e->name, '\0', e->nlen) ||
		    (a->n && attr_cmp(e - 1, e->name, e->nlen) >= 0))
			goto out_corrupt;
		a->n++;
		pos += 8 + e->nlen + e->vlen;
	}
	return 0;

out_corrupt:
	return oerr(err, -EUCLEAN, o->id, "attr file is corrupt at byte %zu",
		    pos);
}

/* Load the attributes of the open object @o into @a. */
static int attrs_load(const struct obj *o, struct attrs *a,
		      struct mixfs_err *err)
{
	int fd = openat(o->odfd, "attr", O_RDONLY | O_CLOEXEC), ret = 0;
	struct stat st;
	ssize_t got;

	if (fd < 0 && errno == ENOENT) {	/* no attributes yet */
		a->ent = malloc(sizeof(*a->ent));
		return a->ent ? 0 : mixfs_err_set(err, -ENOMEM, "out of memory");
	}
	if (fd < 0 || fstat(fd, &st)) {
		ret = oerr(err, -errno, o->id, "attr file: %s", strerror(errno));
		goto out_close;
	}
	a->buf = malloc((size_t)st.st_size + 1);
	if (!a->buf) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_close;
	}
	got = pread_full(fd, a->buf, (size_t)st.st_size, 0);
	if (got < 0)
		ret = oerr(err, (int)got, o->id, "attr file: %s",
			   strerror((int)-got));
	else
		ret = attrs_parse(o, a, (size_t)got, err);
out_close:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Index of @name in @a, or -1; *@at is where it would be inserted. */
static long attrs_find(const struct attrs *a, const char *name, size_t *at)
{
	size_t nlen = strlen(name), i;
	int c = 1;

	for (i = 0; i < a->n && (c = attr_cmp(&a->ent[i], name, nlen)) < 0; i++)
		;
	*at = i;
	return i < a->n && c == 0 ? (long)i : -1;
}

/* Replace the attr file of @o with @a (none: remove it). */
static int attrs_save(const struct obj *o, const struct attrs *a,
		      struct mixfs_err *err)
{
	unsigned char *buf, *p;
	size_t len = 8, i;
	int fd, ret;

	if (a->n == 0) {
		if (unlinkat(o->odfd, "attr", 0) && errno != ENOENT)
			return oerr(err, -errno, o->id, "attr file: %s",
				    strerror(errno));
		return 0;
	}
	for (i = 0; i < a->n; i++)
		len += 8 + a->ent[i].nlen + a->ent[i].vlen;
	p = buf = malloc(len);
	if (!buf)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	memcpy(p, ATTR_MAGIC, 8);
	for (p += 8, i = 0; i < a->n; i++) {
		const struct attr_ent *e = &a->ent[i];
		uint32_t nl = htole32((uint32_t)e->nlen);
		uint32_t vl = htole32((uint32_t)e->vlen);

		memcpy(p, &nl, 4);
		memcpy(p + 4, &vl, 4);
		memcpy(p + 8, e->name, e->nlen);
		if (e->vlen)
			memcpy(p + 8 + e->nlen, e->val, e->vlen);
		p += 8 + e->nlen + e->vlen;
	}
	fd = openat(o->odfd, "attr.tmp", O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);
	ret = fd < 0 ? -errno : pwrite_full(fd, buf, len, 0);
	if (fd >= 0)
		close(fd);
	if (!ret && renameat(o->odfd, "attr.tmp", o->odfd, "attr"))
		ret = -errno;
	free(buf);
	if (ret) {
		unlinkat(o->odfd, "attr.tmp", 0);
		return oerr(err, ret, o->id, "writing attributes: %s",
			    strerror(-ret));
	}
	return 0;
}

/*
 * Take object @id, exclusive if @rw, and load its attributes into @a.
 * Whatever it returns, finish with attrs_end(), passing *@o (NULL when
 * the object could not be taken).
 */
static int attrs_begin(struct dir_store *ds, uint64_t id, bool rw,
		       struct obj **o, struct attrs *a, struct mixfs_err *err)
{
	int ret = 0;

	memset(a, 0, sizeof(*a));
	*o = NULL;
	pthread_rwlock_rdlock(&ds->lock);
	if (rw)
		ret = objstore_dir_dirty_mark(ds, id, err);
	if (!ret)
		ret = objstore_dir_get(ds, id, rw, o, err);
	if (!ret)
		ret = attrs_load(*o, a, err);
	return ret;
}

static void attrs_end(struct dir_store *ds, struct obj *o, struct attrs *a)
{
	/* A failed change leaves the attr file whole (it is replaced by a
	 * rename) and touches nothing the cache holds. */
	if (o)
		objstore_dir_put(ds, o, false);
	free(a->buf);
	free(a->ent);
	pthread_rwlock_unlock(&ds->lock);
}

static ssize_t dir_getattr(struct objstore *s, uint64_t id, const char *name,
			   void *buf, size_t size, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	const struct attr_ent *e = NULL;
	struct attrs a;
	struct obj *o;
	size_t at;
	long i;
	ssize_t ret = attrs_begin(ds, id, false, &o, &a, err);

	if (!ret && (i = attrs_find(&a, name, &at)) >= 0)
		e = &a.ent[i];
	if (!ret && !e)
		ret = oerr(err, -ENODATA, id, "no attribute '%s'", name);
	else if (!ret && size && size < e->vlen)
		ret = oerr(err, -ERANGE, id, "attribute '%s' is %zu bytes, "
			   "more than %zu", name, e->vlen, size);
	else if (!ret)
		ret = (ssize_t)e->vlen;
	if (ret > 0 && size)
		memcpy(buf, e->val, e->vlen);
	attrs_end(ds, o, &a);
	return ret;
}

static int dir_setattr(struct objstore *s, uint64_t id, const char *name,
		       const void *val, size_t len, struct mixfs_err *err)
{
	struct attr_ent e = { name, strlen(name), val, len };
	struct dir_store *ds = to_dir(s);
	struct attrs a;
	struct obj *o;
	size_t at;
	long i;
	int ret = attrs_begin(ds, id, true, &o, &a, err);

	if (!ret) {
		i = attrs_find(&a, name, &at);
		if (i < 0) {	/* attrs_load left room for one more */
			memmove(&a.ent[at + 1], &a.ent[at],
				(a.n - at) * sizeof(e));
			i = (long)at;
			a.n++;
		}
		a.ent[i] = e;
		ret = attrs_save(o, &a, err);
	}
	attrs_end(ds, o, &a);
	return ret;
}

static int dir_rmattr(struct objstore *s, uint64_t id, const char *name,
		      struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	struct attrs a;
	struct obj *o;
	size_t at;
	long i = -1;
	int ret = attrs_begin(ds, id, true, &o, &a, err);

	if (!ret && (i = attrs_find(&a, name, &at)) < 0)
		ret = oerr(err, -ENODATA, id, "no attribute '%s'", name);
	if (!ret) {
		memmove(&a.ent[i], &a.ent[i + 1],
			(a.n - (size_t)i - 1) * sizeof(a.ent[0]));
		a.n--;
		ret = attrs_save(o, &a, err);
	}
	attrs_end(ds, o, &a);
	return ret;
}

static ssize_t dir_listattr(struct objstore *s, uint64_t id, char *buf,
			    size_t size, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	size_t total = 0, i;
	struct attrs a;
	struct obj *o;
	ssize_t ret = attrs_begin(ds, id, false, &o, &a, err);

	for (i = 0; !ret && i < a.n; i++)
		total += a.ent[i].nlen + 1;
	if (!ret && size && size < total)
		ret = oerr(err, -ERANGE, id, "attribute names need %zu bytes, "
			   "more than %zu", total, size);
	for (i = 0; !ret && size && i < a.n; i++) {
		memcpy(buf, a.ent[i].name, a.ent[i].nlen);
		buf[a.ent[i].nlen] = '\0';
		buf += a.ent[i].nlen + 1;
	}
	attrs_end(ds, o, &a);
	return ret ? ret : (ssize_t)total;
}

/* --- whole store --------------------------------------------------------- */

/* How long a host free-space figure is used before asking again. */
#define VFS_TTL_NS	(100 * 1000 * 1000)

/*
 * Host bytes free to us, at most VFS_TTL_NS old. A file system keeping
 * its data here asks after every change of space (for its threshold
 * events), and fstatvfs() cost about as much as the rest of a small
 * write's bookkeeping; a tenth of a second is far below any threshold
 * watcher's reaction time. Called with ds->mu held; the system call is
 * made under it, so concurrent callers wait for one answer instead of all
 * asking.
 */
static int vfs_avail(struct dir_store *ds, uint64_t *avail,
		     struct mixfs_err *err)
{
	struct statvfs vfs;
	struct timespec now;
	int64_t age;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	age = (int64_t)(now.tv_sec - ds->vfs_when.tv_sec) * 1000000000 +
	      (now.tv_nsec - ds->vfs_when.tv_nsec);
	if (!ds->vfs_known || age < 0 || age >= VFS_TTL_NS) {
		if (fstatvfs(ds->dirfd, &vfs))
			return mixfs_err_set(err, -errno, "%s: statvfs: %s",
					     ds->path, strerror(errno));
		ds->vfs_avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		ds->vfs_when = now;
		ds->vfs_known = true;
	}
	*avail = ds->vfs_avail;
	return 0;
}

static int dir_statfs(struct objstore *s, struct objstore_statfs *st,
		      struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	uint64_t avail = 0;
	int ret = 0;

	pthread_mutex_lock(&ds->mu);
	st->used = ds->used_chunks * CHUNK;
	st->objects = ds->objects;
	st->capacity = ds->capacity;
	if (!ds->capacity)
		ret = vfs_avail(ds, &avail, err);
	if (!ret && !ds->capacity)
		st->capacity = avail + st->used;
	pthread_mutex_unlock(&ds->mu);
	return ret;
}

/* A segment's data file: a name of hex digits alone. */
static bool is_data_file(const char *name)
{
	return name[0] && strspn(name, "0123456789abcdef") == strlen(name);
}

/*
 * fsync every file of object @id and its directory: the checksum, meta
 * and attribute files first, the data files after them. A power cut in
 * between leaves each chunk changed since the last sync with its new
 * pair of checksums over its old or new bytes, both of which the pair
 * accepts; the other way round (new bytes under old checksums) would
 * match neither.
 */
static int sync_object(struct dir_store *ds, uint64_t id)
{
	struct dirent *de;
	char name[32];
	int pass, ret = 0;
	DIR *d;

	id_name(name, id, "");
	d = dir_stream(ds->objfd, name);
	if (!d)
		return errno == ENOENT ? 0 : -errno;	/* removed since */
	for (pass = 0; pass < 2 && !ret; pass++) {
		rewinddir(d);
		while ((de = readdir(d)) && !ret) {
			int fd;

			if (de->d_name[0] == '.' ||
			    is_data_file(de->d_name) != (pass == 1))
				continue;
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
			if (fd < 0 && errno != ENOENT)
				ret = -errno;
			if (fd >= 0 && fsync(fd))
				ret = -errno;
			if (fd >= 0)
				close(fd);
		}
	}
	if (!ret && fsync(dirfd(d)))
		ret = -errno;
	closedir(d);
	return ret;
}

static int dir_sync(struct objstore *s, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	size_t i;
	int ret = 0;

	pthread_rwlock_wrlock(&ds->lock);
	for (i = 0; i < ds->ndirty && !ret; i++)
		ret = sync_object(ds, ds->dirty[i]);
	if (!ret && ds->dirty_dir && (fsync(ds->idfd) || fsync(ds->objfd)))
		ret = -errno;
	/* The dirty set changes under mu, but only by calls that hold the
	 * store lock shared: reading it here needs no more than ours. */
	if (ret) {
		mixfs_err_set(err, ret, "%s: sync: %s", ds->path,
			      strerror(-ret));
	} else {
		objstore_dir_settle_all(ds);
		pthread_mutex_lock(&ds->mu);
		ds->ndirty = 0;
		ds->dirty_dir = false;
		pthread_mutex_unlock(&ds->mu);
	}
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

const struct objstore_ops objstore_dir_ops = {
	.version = 1,
	.scheme = "dir",
	.open = dir_open,
	.close = dir_close,
	.create = dir_create,
	.create_fresh = dir_create_fresh,
	.remove = dir_remove,
	.read = objstore_dir_read,
	.write = objstore_dir_write,
	.truncate = objstore_dir_truncate,
	.punch = objstore_dir_punch,
	.stat = objstore_dir_stat,
	.seek = objstore_dir_seek,
	.list = dir_list,
	.getattr = dir_getattr,
	.setattr = dir_setattr,
	.rmattr = dir_rmattr,
	.listattr = dir_listattr,
	.statfs = dir_statfs,
	.sync = dir_sync,
};
