/*
 * dir_internal.h - what dir.c (the store: header, ids, objects, attributes,
 * listing, sync) and dir_data.c (object data: segments, checksums, reads,
 * writes, truncate, punch) share: the on-disk constants, the store and
 * object structures, and a few small helpers. The layout itself is
 * described at the top of dir.c.
 *
 * Not a public header: nothing outside the dir: backend includes it.
 */
#ifndef MIXFS_OBJSTORE_DIR_INTERNAL_H
#define MIXFS_OBJSTORE_DIR_INTERNAL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "objstore/backend.h"

#define CHUNK		4096u
#define SEG_SHIFT	40
#define SEG_SIZE	(UINT64_C(1) << SEG_SHIFT)
#define BATCH_CHUNKS	64u	/* chunks read and verified per pread */
#define HEADER_NAME	"mixfs-store"
#define HEADER_MAGIC	"mixfs-objstore dir"
#define META_MAGIC	"MXOBJ001"
#define ATTR_MAGIC	"MXATTR01"

/* The meta file of an object: 32 bytes, little-endian. */
struct meta_head {
	char magic[8];		/* META_MAGIC */
	uint64_t size;		/* logical size */
	uint64_t chunks;	/* chunks with a non-zero checksum */
	uint64_t reserved;	/* 0 */
};

struct dir_store {
	struct objstore base;
	char *path;
	int dirfd, objfd, lockfd, idfd;	/* set at open, never change */
	pthread_rwlock_t lock;		/* shared to look, exclusive to change */
	uint64_t capacity;		/* 0: host free space + used */
	/* The fields below change only under the exclusive lock. */
	uint64_t next_id;		/* every id ever used is below it */
	bool ids_exhausted;		/* UINT64_MAX was used */
	uint64_t used_chunks;
	uint64_t objects;
	uint64_t *dirty;		/* ids changed since the last sync */
	size_t ndirty, dirty_cap;
	bool dirty_dir;			/* objects/ or next-id changed */
};

/* An open object, for the length of one call. */
struct obj {
	uint64_t id;
	int odfd, mfd;		/* its directory and meta file */
	uint64_t size, chunks;	/* from the meta file */
};

/* One open segment of an object. */
struct seg {
	uint64_t no;		/* object offset >> SEG_SHIFT */
	int dfd, sfd;		/* data and checksums; -1 when absent */
	uint64_t dsize;		/* bytes in the data file */
	uint64_t nsums;		/* checksums in the .sum file */
};

static inline struct dir_store *to_dir(struct objstore *s)
{
	return container_of(s, struct dir_store, base);
}

/* --- small helpers ------------------------------------------------------ */

/* Record "object <id>: <message>" and return @code. */
__attribute__((format(printf, 4, 5)))
static inline int oerr(struct mixfs_err *err, int code, uint64_t id,
		const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mixfs_err_set(err, code, "object %016" PRIx64 ": %s", id, msg);
}

/* Read up to @len bytes at @off; returns the count (short only at EOF). */
static inline ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static inline int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}


static inline int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A directory stream of its own for @name under @dirfd: a dup() of an
 * open directory would share its read position with other readers. */
static inline DIR *dir_stream(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

/* --- shared between dir.c and dir_data.c --------------------------------- */

/* Note that @id is about to change (sync will fsync it). Exclusive lock. */
int objstore_dir_dirty_mark(struct dir_store *ds, uint64_t id,
			    struct mixfs_err *err);
/* Open object @id and load its meta file; @rw to change it. */
int objstore_dir_obj_open(struct dir_store *ds, uint64_t id, bool rw,
			  struct obj *o, struct mixfs_err *err);
void objstore_dir_obj_close(struct obj *o);
int objstore_dir_meta_save(const struct obj *o, struct mixfs_err *err);

/* The data ops, in dir_data.c. */
ssize_t objstore_dir_read(struct objstore *s, uint64_t id, uint64_t off,
			  void *buf, size_t len, struct mixfs_err *err);
int objstore_dir_write(struct objstore *s, uint64_t id, uint64_t off,
		       const void *buf, size_t len, struct mixfs_err *err);
int objstore_dir_truncate(struct objstore *s, uint64_t id, uint64_t size,
			  struct mixfs_err *err);
int objstore_dir_punch(struct objstore *s, uint64_t id, uint64_t off,
		       uint64_t len, struct mixfs_err *err);
int objstore_dir_stat(struct objstore *s, uint64_t id,
		      struct objstore_stat *st, struct mixfs_err *err);

#endif
