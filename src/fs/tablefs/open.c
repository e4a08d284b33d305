/*
 * open.c - making, opening and closing a tablefs: the metadata store, the
 * file data store it records (or a data= store for one mount), the
 * orphans and leftovers an earlier mount left, and a cache: data store's
 * warnings wired to the mount's events.
 *
 * What it deliberately does not do: any filesystem operation (tablefs.c)
 * or record layout (inode.c).
 */
#include "fs/tablefs/internal.h"
#include "events/events.h"
#include "objstore/objstore_cache.h"
#include "objstore/objstore_rocksdb.h"
#ifdef MIXFS_HAVE_RADOS
#include "objstore/objstore_rados.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

/* --- opening ------------------------------------------------------------ */

static char *uri_with_size(const char *uri, uint64_t size)
{
	char *out;

	if (!size)
		return strdup(uri);
	if (asprintf(&out, "%s%csize=%llu", uri, strchr(uri, '?') ? '&' : '?',
		     (unsigned long long)size) < 0)
		return NULL;
	return out;
}

/*
 * The data store's URI as recorded (@rec) made openable: a dir: or
 * rocksdb: path that does not start with '/' is relative to the rocksdb:
 * store's directory (never to the working directory of whoever opens it).
 */
char *tfs_data_uri_resolve(const char *meta_uri, const char *rec)
{
	const char *path = meta_uri + strlen("rocksdb:");
	size_t plen = strcspn(path, "?");
	size_t slen = !strncmp(rec, "dir:", 4) ? 4 :
		      !strncmp(rec, "rocksdb:", 8) ? 8 : 0;
	char *out;

	if (!slen || rec[slen] == '/' || strncmp(meta_uri, "rocksdb:", 8))
		return strdup(rec);
	if (asprintf(&out, "%.*s%.*s/%s", (int)slen, rec, (int)plen, path,
		     rec + slen) < 0)
		return NULL;
	return out;
}

int tfs_data_uri_check(const char *data, struct mixfs_err *err)
{
	static const char *const schemes[] = {
		"dir", "rocksdb", "rados", "cache", "faulty", NULL,
	};
	size_t n = strcspn(data, ":");

	if (!strcmp(data, "same"))
		return 0;
	if (data[n] == ':' && n == 3 && !strncmp(data, "mem", 3))
		return mixfs_err_set(err, -EINVAL,
			"file data store '%s': a mem: store keeps nothing once it is closed (use dir:PATH, rocksdb:PATH or rados:POOL)",
			data);
	for (const char *const *p = schemes; data[n] == ':' && *p; p++) {
		if (strlen(*p) != n || strncmp(data, *p, n))
			continue;
		if (!data[n + 1] || data[n + 1] == '?')
			return mixfs_err_set(err, -EINVAL,
				"file data store '%s' names no place (as in dir:data or rados:POOL)",
				data);
		return 0;
	}
	return mixfs_err_set(err, -EINVAL,
		"file data store '%s': unknown store scheme (use dir:PATH, rocksdb:PATH, rados:POOL, cache:..., or 'same' for the metadata's own database)",
		data);
}

/*
 * The warning hook of a cache: data store: its local trouble becomes
 * events of the mount (none before the events are open or after they
 * close: the pointer is set before the first request and cleared after
 * the last).
 */
static void cache_warn(void *arg, enum objstore_cache_warning what, int code,
		       uint64_t id, uint64_t off, const char *msg)
{
	struct tfs *fs = arg;
	struct evt *ev = fs->mount.events;
	const char *name = strerrorname_np(code < 0 ? -code : code);
	char num[24], at[24];

	if (!ev)
		return;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)id);
	snprintf(at, sizeof(at), "%llu", (unsigned long long)off);
	switch (what) {
	case OBJSTORE_CACHE_LOCAL_FAILED:
		evt_emit(ev, EVT_CACHE_DEGRADED, "errno", name ? name : "?",
			 "ino", num, "offset", at, "message", msg, NULL);
		break;
	case OBJSTORE_CACHE_LOCAL_RECOVERED:
		evt_emit(ev, EVT_CACHE_OK, "message", msg, NULL);
		break;
	case OBJSTORE_CACHE_REPAIRED:
		if (tfs_in_scrub())	/* the scrub reports it, path and all */
			break;
		evt_emit(ev, EVT_CHECKSUM_CORRECTED, "op", "read", "ino", num,
			 "offset", at, "where", "cache", NULL);
		break;
	}
}

/*
 * A forced open (force=1 in a rados: URI, alone or behind cache:) that
 * broke another client's lock leaves its sentence in @err as a note:
 * code 0, so that a later error still replaces it.
 */
static void note_broken_lock(struct objstore *s, struct mixfs_err *err)
{
#ifdef MIXFS_HAVE_RADOS
	const char *broke;

	if (objstore_is_cache(s))
		s = objstore_cache_remote(s);
	broke = objstore_rados_broken_lock(s);
	if (broke && err && !err->code)
		snprintf(err->msg, sizeof(err->msg), "file data store: %s",
			 broke);
#else
	(void)s;
	(void)err;
#endif
}

/* Open the data store recorded (or given) for @fs's metadata at @uri. */
static int open_data(struct tfs *fs, const char *uri, const char *rec,
		     uint64_t size, unsigned flags, struct mixfs_err *err)
{
	char *resolved = tfs_data_uri_resolve(uri, rec), *full;
	int ret;

	if (!resolved)
		return -ENOMEM;
	full = uri_with_size(resolved, size);
	free(resolved);
	if (!full)
		return -ENOMEM;
	ret = objstore_open(full, flags, &fs->data, err);
	if (ret) {
		/* The URI up to its query: the store's own message names
		 * the rest, and a holder's name must fit in the sentence. */
		mixfs_err_prefix(err, ret, "file data store %.*s",
				 (int)strcspn(rec, "?"), rec);
		fs->data = fs->meta;
	} else {
		note_broken_lock(fs->data, err);
		if (objstore_is_cache(fs->data))
			objstore_cache_set_warn(fs->data, cache_warn, fs);
	}
	free(full);
	return ret;
}

static int open_meta(const char *uri, unsigned flags, struct objstore **out,
		     rocksdb_t **db, struct mixfs_err *err)
{
	int ret = objstore_open(uri, flags, out, err);

	if (ret)
		return ret;
	*db = objstore_rocksdb_handle(*out);
	if (!*db) {
		objstore_close(*out);
		*out = NULL;
		return mixfs_err_set(err, -EINVAL,
			"tablefs keeps its metadata in RocksDB: use a rocksdb: store, not '%s'",
			uri);
	}
	return 0;
}

static int wipe_cb(void *arg, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	(void)val;
	(void)vlen;
	if (klen && *(const char *)key != OBJSTORE_ROCKSDB_PREFIX)
		tfs_txn_del(arg, key, klen);
	return 0;
}

/* Remove every object of @s (mkfs --force). */
static int remove_all_objects(struct objstore *s, struct mixfs_err *err)
{
	uint64_t cursor = 0, ids[256];
	size_t n, i;
	int ret;

	for (;;) {
		ret = objstore_list(s, &cursor, ids, 256, &n, err);
		if (ret || n == 0)
			return ret;
		for (i = 0; i < n; i++) {
			ret = objstore_remove(s, ids[i], err);
			if (ret && ret != -ENOENT)
				return ret;
		}
	}
}

/*
 * mkfs --force over a filesystem whose data lives in a store of its own
 * (its 'D' record) that the new one will not use: empty that store too,
 * or its objects would stay behind, owned by nothing. A store already
 * gone is nothing to empty.
 */
static int remove_old_data(struct tfs *fs, const char *uri,
			   const char *data_uri, struct mixfs_err *err)
{
	unsigned char dkey[1] = { TFS_K_DATA };
	struct objstore *old;
	struct tfs_txn t;
	char *v, *rec, *resolved;
	size_t vlen;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_txn_get(&t, dkey, 1, &v, &vlen);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	rec = strndup(v, vlen);
	rocksdb_free(v);
	if (!rec)
		return -ENOMEM;
	if (data_uri && !strcmp(rec, data_uri)) {
		free(rec);
		return 0;	/* emptied as the new store */
	}
	resolved = tfs_data_uri_resolve(uri, rec);
	ret = resolved ? objstore_open(resolved, 0, &old, err) : -ENOMEM;
	free(resolved);
	if (ret == -ENOENT || ret == -EINVAL) {	/* gone, or never usable */
		mixfs_err_clear(err);
		free(rec);
		return 0;
	}
	if (!ret) {
		ret = remove_all_objects(old, err);
		objstore_close(old);
	}
	if (ret)
		mixfs_err_prefix(err, ret, "emptying the old file data store %s",
				 rec);
	free(rec);
	return ret;
}

/* A data store named at mkfs without --force must hold nothing: its
 * objects could be another filesystem's data. */
static int data_store_empty(struct objstore *s, const char *rec,
			    struct mixfs_err *err)
{
	struct objstore_statfs st;
	int ret = objstore_statfs(s, &st, err);

	if (ret)
		return ret;
	if (st.objects)
		return mixfs_err_set(err, -EEXIST,
			"the file data store %s already holds %llu objects (use --force to empty it)",
			rec, (unsigned long long)st.objects);
	return 0;
}

static int alloc_fs(struct tfs **out)
{
	struct tfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	fs->ropts = rocksdb_readoptions_create();
	fs->wopts = rocksdb_writeoptions_create();
	fs->wopts_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(fs->wopts_sync, 1);
	pthread_mutex_init(&fs->lock, NULL);
	fs->inline_max = TFS_INLINE_MAX_DEFAULT;
	if (fsd_itable_init(&fs->refs)) {
		free(fs);
		return -ENOMEM;
	}
	if (fsd_itable_init(&fs->opens)) {
		fsd_itable_release(&fs->refs);
		free(fs);
		return -ENOMEM;
	}
	*out = fs;
	return 0;
}

static void free_fs(struct tfs *fs)
{
	if (fs->data && fs->data != fs->meta)
		objstore_close(fs->data);
	objstore_close(fs->meta);
	rocksdb_readoptions_destroy(fs->ropts);
	rocksdb_writeoptions_destroy(fs->wopts);
	rocksdb_writeoptions_destroy(fs->wopts_sync);
	fsd_itable_release(&fs->refs);
	fsd_itable_release(&fs->opens);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

/*
 * @u without its force=1 query parameters: force= breaks a lock for the
 * open it is given to (mkfs's), and must not be recorded, or every later
 * mount would break the lock of a live holder.
 */
static char *uri_without_force(const char *u)
{
	char *out = strdup(u), *p;
	size_t n = strlen("force=1");

	if (!out)
		return NULL;
	p = out;
	while ((p = strstr(p, "force=1"))) {
		if (p == out || (p[-1] != '?' && p[-1] != '&') ||
		    (p[n] && p[n] != '&')) {
			p++;
			continue;
		}
		if (p[n] == '&')	/* "force=1&": the next takes its place */
			memmove(p, p + n + 1, strlen(p + n + 1) + 1);
		else			/* the last: drop its '?' or '&' too */
			*--p = '\0';
	}
	return out;
}

int tfs_mkfs(const char *uri, uint64_t size, bool force,
	     struct mixfs_err *err)
{
	return tfs_mkfs_data(uri, NULL, size, force, err);
}

int tfs_mkfs_data(const char *uri, const char *data_uri, uint64_t size,
		  bool force, struct mixfs_err *err)
{
	struct tfs *fs;
	struct tfs_txn t;
	struct tfs_inode root;
	unsigned char key[1] = { TFS_K_SUPER }, dkey[1] = { TFS_K_DATA };
	char *v, *full, *rec = NULL;
	size_t vlen;
	int ret;

	if (data_uri && !strcmp(data_uri, "same"))
		data_uri = NULL;
	ret = data_uri ? tfs_data_uri_check(data_uri, err) : 0;
	if (ret)
		return ret;
	if (data_uri && !(rec = uri_without_force(data_uri)))
		return -ENOMEM;
	ret = alloc_fs(&fs);
	if (ret) {
		free(rec);
		return ret;
	}
	full = uri_with_size(uri, size);
	if (!full) {
		free(rec);
		free_fs(fs);
		return -ENOMEM;
	}
	ret = open_meta(full, OBJSTORE_OPEN_CREATE, &fs->meta, &fs->db, err);
	free(full);
	if (ret)
		goto out;
	fs->data = fs->meta;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_txn_get(&t, key, 1, &v, &vlen);
	if (ret == 0) {
		rocksdb_free(v);
		if (!force) {
			ret = mixfs_err_set(err, -EEXIST,
				"%s already holds a filesystem (use --force to overwrite it)",
				uri);
			goto out;
		}
		ret = remove_old_data(fs, uri, rec, err);
		if (ret)
			goto out;
	} else if (ret != -ENOENT) {
		goto out;
	}
	if (data_uri) {
		ret = open_data(fs, uri, data_uri, size, OBJSTORE_OPEN_CREATE,
				err);
		if (ret)
			goto out;
		ret = force ? 0 : data_store_empty(fs->data, rec, err);
		if (!ret)
			ret = remove_all_objects(fs->data, err);
		if (ret)
			goto out;
	}
	ret = remove_all_objects(fs->meta, err);
	if (ret)
		goto out;

	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out;
	ret = tfs_txn_scan(&t, "", 0, "", 0, wipe_cb, &t);
	if (ret)
		goto out_abort;
	uuid_generate(fs->uuid);
	tfs_super_write(&t, fs->uuid, fs->inline_max);
	tfs_next_ino_write(&t, TFS_ROOT_INO + 1);
	if (rec)
		tfs_txn_put(&t, dkey, 1, rec, strlen(rec));

	memset(&root, 0, sizeof(root));
	root.ino = TFS_ROOT_INO;
	root.r.version = 1;
	root.r.mode = S_IFDIR | 0755;
	root.r.nlink = 2;
	root.r.parent = TFS_ROOT_INO;
	root.r.uid = getuid();
	root.r.gid = getgid();
	tfs_now(&root.r.ctime);
	root.r.atime = root.r.mtime = root.r.btime = root.r.ctime;
	ret = dir_kv_create(&t.kv, TFS_ROOT_INO, 0, err);
	if (!ret)
		ret = tfs_inode_put(&t, &root);
	if (ret)
		goto out_abort;
	ret = tfs_txn_commit(&t, true);
	if (ret)
		mixfs_err_set(err, ret, "writing the new filesystem failed");
	goto out;
out_abort:
	tfs_txn_abort(&t);
out:
	free_fs(fs);
	free(rec);
	return ret;
}

int tfs_open(const char *uri, const char *data_uri, bool readonly,
	     struct tfs **out, struct mixfs_err *err)
{
	struct tfs *fs;
	unsigned flags = readonly ? OBJSTORE_OPEN_READONLY : 0;
	int ret;

	ret = alloc_fs(&fs);
	if (ret)
		return ret;
	fs->readonly = readonly;
	ret = open_meta(uri, flags, &fs->meta, &fs->db, err);
	if (ret)
		goto out_free;
	fs->data = fs->meta;
	ret = tfs_super_read(fs, err);
	if (ret)
		goto out_free;
	if (data_uri) {
		ret = open_data(fs, uri, data_uri, 0,
				flags | OBJSTORE_OPEN_CREATE, err);
	} else {
		struct tfs_txn t;
		unsigned char dkey[1] = { TFS_K_DATA };
		char *v, *rec;
		size_t vlen;

		tfs_txn_begin_read(fs, &t);
		ret = tfs_txn_get(&t, dkey, 1, &v, &vlen);
		if (ret == 0) {
			rec = strndup(v, vlen);
			rocksdb_free(v);
			ret = rec ? open_data(fs, uri, rec, 0, flags, err)
				  : -ENOMEM;
			free(rec);
		} else if (ret == -ENOENT) {
			ret = 0;	/* data in the metadata store */
		}
	}
	if (ret)
		goto out_free;
	if (!readonly) {
		ret = tfs_free_orphans(fs);
		if (!ret && !data_uri)
			ret = tfs_free_leftovers(fs);
		if (ret) {
			mixfs_err_set(err, ret, "freeing orphan inodes failed");
			goto out_free;
		}
	}
	*out = fs;
	return 0;
out_free:
	free_fs(fs);
	return ret;
}

void tfs_close(struct tfs *fs)
{
	if (!fs)
		return;
	if (!fs->readonly) {
		tfs_free_orphans(fs);
		/* data before the sizes that cover it, as in tfs_fsync() */
		if (fs->data != fs->meta)
			objstore_sync(fs->data, NULL);
		objstore_sync(fs->meta, NULL);
	}
	free_fs(fs);
}
