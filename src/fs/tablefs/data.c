/*
 * data.c - tablefs file contents, attributes and extended attributes.
 *
 * A regular file starts inline (its bytes in the inode record) and moves
 * to object <ino> of the data store when it grows past inline_max; it
 * never moves back (a file that was large once is likely to be again).
 * Object data is written before the inode record that makes it visible.
 */
#include "fs/tablefs/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* --- reading ------------------------------------------------------------ */

ssize_t tfs_read(struct tfs *fs, uint64_t ino, uint64_t off, void *buf,
		 size_t len)
{
	struct tfs_txn t;
	struct tfs_inode in;
	ssize_t n;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	if (S_ISDIR(in.r.mode)) {
		tfs_inode_release(&in);
		return -EISDIR;
	}
	if (off >= in.r.size) {
		tfs_inode_release(&in);
		return 0;
	}
	if (len > in.r.size - off)
		len = (size_t)(in.r.size - off);
	if (!(in.r.flags & TFS_I_OBJECT)) {
		size_t have = off < in.tail_len ? in.tail_len - off : 0;

		if (have > len)
			have = len;
		memcpy(buf, in.tail + off, have);
		memset((char *)buf + have, 0, len - have);
		tfs_inode_release(&in);
		return (ssize_t)len;
	}
	tfs_inode_release(&in);
	n = objstore_read(fs->data, ino, off, buf, len, NULL);
	if (n < 0)
		return n;
	/* The object may be shorter than the inode says after a crash
	 * between truncating the object and the inode: that reads as zeros. */
	if ((size_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
	return (ssize_t)len;
}

/* --- writing ------------------------------------------------------------ */

/* Move @in's inline data into its own object. */
static int to_object(struct tfs *fs, struct tfs_inode *in)
{
	int ret = objstore_create(fs->data, in->ino, NULL);

	if (ret == -EEXIST)	/* left over from a crash: start afresh */
		ret = objstore_truncate(fs->data, in->ino, 0, NULL);
	if (!ret && in->tail_len)
		ret = objstore_write(fs->data, in->ino, 0, in->tail,
				     in->tail_len, NULL);
	if (!ret && in->r.size > in->tail_len)
		ret = objstore_truncate(fs->data, in->ino, in->r.size, NULL);
	if (ret) {
		objstore_remove(fs->data, in->ino, NULL);	/* still inline */
		return ret;
	}
	tfs_inode_resize_tail(in, 0);
	in->r.flags |= TFS_I_OBJECT;
	return 0;
}

/*
 * A change that moved @in's data into a new object and then failed must
 * not leave the object behind: the inode record still says inline, so
 * nothing would ever free it. @flags: the inode's flags before the change.
 */
static void undo_object(struct tfs *fs, const struct tfs_inode *in,
			uint8_t flags)
{
	if (!(flags & TFS_I_OBJECT) && (in->r.flags & TFS_I_OBJECT))
		objstore_remove(fs->data, in->ino, NULL);
}

/*
 * Room for @need more bytes of file data. With the data in a store of its
 * own, each store is bounded by the size the filesystem was made with, so
 * each alone would let the two together hold twice that: the data must
 * also fit beside what the metadata store holds (its objects: the event
 * log). With one store, that store's own bound is the whole bound. A
 * statfs that fails leaves the decision to the store's write.
 */
static int room_for(struct tfs *fs, uint64_t need)
{
	struct objstore_statfs ds, ms;

	if (fs->data == fs->meta || !need ||
	    objstore_statfs(fs->data, &ds, NULL) ||
	    objstore_statfs(fs->meta, &ms, NULL))
		return 0;
	if (ds.used + ms.used > ds.capacity ||
	    need > ds.capacity - ds.used - ms.used)
		return -ENOSPC;
	return 0;
}

/* Load a regular file for a change under fs->lock. */
static int get_file(struct tfs_txn *t, uint64_t ino, struct tfs_inode *in)
{
	int ret = tfs_inode_get(t, ino, in);

	if (ret)
		return ret;
	if (S_ISDIR(in->r.mode)) {
		tfs_inode_release(in);
		return -EISDIR;
	}
	if (!S_ISREG(in->r.mode)) {
		tfs_inode_release(in);
		return -EINVAL;
	}
	return 0;
}

/*
 * Before the file grows past its size over bytes this change does not
 * write: data reaches the object before the inode record, so a crash can
 * leave the object longer than the file, and growing would show those
 * never-acknowledged bytes instead of zeros. Cut them first.
 */
static int drop_past_size(struct tfs *fs, const struct tfs_inode *in)
{
	struct objstore_stat st;
	int ret = objstore_stat(fs->data, in->ino, &st, NULL);

	if (ret || st.size <= in->r.size)
		return ret;
	return objstore_truncate(fs->data, in->ino, in->r.size, NULL);
}

/* Make the data of @in hold @size bytes (inline or object). */
static int set_size(struct tfs *fs, struct tfs_inode *in, uint64_t size)
{
	int ret;

	if (in->r.flags & TFS_I_OBJECT) {
		/* Shrinking: the caller cuts the object after its batch, so a
		 * crash leaves the old data or the new size, never zeros in
		 * place of data under the old size. */
		ret = size >= in->r.size ? drop_past_size(fs, in) : 0;
		if (!ret && size >= in->r.size)
			ret = objstore_truncate(fs->data, in->ino, size, NULL);
	} else if (size <= fs->inline_max) {
		ret = tfs_inode_resize_tail(in, (size_t)size);
	} else {
		ret = to_object(fs, in);
		if (!ret)
			ret = objstore_truncate(fs->data, in->ino, size, NULL);
	}
	if (!ret)
		in->r.size = size;
	return ret;
}

ssize_t tfs_write(struct tfs *fs, uint64_t ino, uint64_t off,
		  const void *buf, size_t len)
{
	struct tfs_txn t;
	struct tfs_inode in;
	uint64_t end;
	uint8_t flags;
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	/* POSIX: a write across the largest size stores what fits; only
	 * one that fits nothing fails. */
	if (off > OBJSTORE_MAX_SIZE || (len && off == OBJSTORE_MAX_SIZE))
		return -EFBIG;
	if (len > OBJSTORE_MAX_SIZE - off)
		len = (size_t)(OBJSTORE_MAX_SIZE - off);
	end = off + len;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = get_file(&t, ino, &in);
	if (ret)
		goto out_abort;
	flags = in.r.flags;
	/* What a write past the end adds; one inside the file may fill
	 * holes too, which the data store's own bound still catches. */
	ret = room_for(fs, end > in.r.size ?
		       end - (off > in.r.size ? off : in.r.size) : 0);
	if (!ret && !(in.r.flags & TFS_I_OBJECT) && end > fs->inline_max)
		ret = to_object(fs, &in);
	if (ret)
		goto out_in;
	if (in.r.flags & TFS_I_OBJECT) {
		if (off > in.r.size && (flags & TFS_I_OBJECT))
			ret = drop_past_size(fs, &in);	/* a gap to zero */
		if (!ret)
			ret = objstore_write(fs->data, ino, off, buf, len,
					     NULL);
	} else {
		if (end > in.tail_len)
			ret = tfs_inode_resize_tail(&in, (size_t)end);
		if (!ret)
			memcpy(in.tail + off, buf, len);
	}
	if (ret)
		goto out_in;
	if (end > in.r.size)
		in.r.size = end;
	tfs_now(&in.r.mtime);
	in.r.ctime = in.r.mtime;
	ret = tfs_inode_put(&t, &in);
	if (!ret)
		ret = tfs_txn_commit(&t, false);
	else
		tfs_txn_abort(&t);
	if (ret)
		undo_object(fs, &in, flags);
	tfs_inode_release(&in);
	pthread_mutex_unlock(&fs->lock);
	return ret ? ret : (ssize_t)len;
out_in:
	undo_object(fs, &in, flags);
	tfs_inode_release(&in);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

/* --- attributes --------------------------------------------------------- */

static void set_time(struct tfs_time *dst, const struct timespec *src,
		     bool now)
{
	if (now) {
		tfs_now(dst);
	} else {
		dst->sec = src->tv_sec;
		dst->nsec = (uint32_t)src->tv_nsec;
	}
}

/* chmod with ACLs: the access ACL, if any, takes the new bits. */
static int chmod_acl(struct tfs_txn *t, const struct tfs_inode *in)
{
	unsigned char key[9 + TFS_XATTR_NAME_MAX];
	size_t klen = tfs_key_xattr(key, in->ino, TFS_ACL_ACCESS);
	char *v;
	size_t vlen;
	int ret = tfs_txn_get(t, key, klen, &v, &vlen);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (!tfs_acl_valid(v, vlen)) {
		tfs_acl_chmod(v, vlen, in->r.mode);
		tfs_txn_put(t, key, klen, v, vlen);
	}
	rocksdb_free(v);
	return 0;
}

int tfs_setattr(struct tfs *fs, uint64_t ino, const struct stat *attr,
		int to_set, struct stat *out)
{
	uint64_t old_size = 0;
	uint8_t flags = 0;
	bool shrink;
	struct tfs_txn t;
	struct tfs_inode in;
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		goto out_abort;
	flags = in.r.flags;
	old_size = in.r.size;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(in.r.mode))
			ret = -EISDIR;
		else if (!S_ISREG(in.r.mode))
			ret = -EINVAL;
		else if ((uint64_t)attr->st_size > OBJSTORE_MAX_SIZE)
			ret = -EFBIG;
		else
			ret = set_size(fs, &in, (uint64_t)attr->st_size);
		if (ret)
			goto out_in;
		tfs_now(&in.r.mtime);
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		in.r.mode = (in.r.mode & S_IFMT) | (attr->st_mode & 07777);
		if (fs->acl && !S_ISLNK(in.r.mode))
			ret = chmod_acl(&t, &in);
		if (ret)
			goto out_in;
	}
	if (to_set & FUSE_SET_ATTR_KILL_SUID)
		in.r.mode &= ~(uint32_t)S_ISUID;
	/* Set-group-ID without group-execute marks mandatory locking, not
	 * a privilege: it stays (as the kernel's should_remove_suid()). */
	if ((to_set & FUSE_SET_ATTR_KILL_SGID) && (in.r.mode & S_IXGRP))
		in.r.mode &= ~(uint32_t)S_ISGID;
	if (to_set & FUSE_SET_ATTR_UID)
		in.r.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		in.r.gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		set_time(&in.r.atime, &attr->st_atim,
			 to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		set_time(&in.r.mtime, &attr->st_mtim,
			 to_set & FUSE_SET_ATTR_MTIME_NOW);
	if (to_set & FUSE_SET_ATTR_CTIME)
		set_time(&in.r.ctime, &attr->st_ctim, false);
	else
		tfs_now(&in.r.ctime);
	ret = tfs_inode_put(&t, &in);
	if (ret)
		goto out_in;
	/*
	 * A shrink of a file whose data is in a store of its own commits
	 * its batch synced before it cuts the object: the cut may reach the
	 * data store's disk at its next sync (or any journal commit of the
	 * host), before the metadata's log, and a power cut in between would
	 * leave the old size over bytes already gone.
	 */
	shrink = (in.r.flags & TFS_I_OBJECT) && in.r.size < old_size;
	ret = tfs_txn_commit(&t, shrink && fs->data != fs->meta);
	if (!ret)
		tfs_inode_to_stat(fs, &in, out);
	else
		undo_object(fs, &in, flags);
	/* The shrink set_size() left to us; if it fails, the excess past
	 * the size is harmless and cut before the file grows again. */
	if (!ret && shrink)
		objstore_truncate(fs->data, ino, in.r.size, NULL);
	tfs_inode_release(&in);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_in:
	undo_object(fs, &in, flags);
	tfs_inode_release(&in);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

/*
 * Make [@off, @end) inside the file's size take real space, so later
 * writes there cannot fail for lack of it: each piece is read and written
 * back, which turns holes into zeros and leaves data as it was. Inline
 * files hold their bytes already. Beyond the size (KEEP_SIZE) nothing is
 * reserved: the object store has no way to hold space past an object's end.
 */
static int allocate(struct tfs *fs, struct tfs_inode *in, uint64_t off,
		    uint64_t end)
{
	size_t piece = 1u << 20;
	char *buf;
	int ret = 0;

	if (end > in->r.size)
		end = in->r.size;
	if (!(in->r.flags & TFS_I_OBJECT) || off >= end)
		return 0;
	buf = malloc(piece);
	if (!buf)
		return -ENOMEM;
	while (!ret && off < end) {
		size_t n = end - off < piece ? (size_t)(end - off) : piece;
		ssize_t got = objstore_read(fs->data, in->ino, off, buf, n,
					    NULL);

		if (got < 0) {
			ret = (int)got;
			break;
		}
		memset(buf + got, 0, n - (size_t)got);
		ret = objstore_write(fs->data, in->ino, off, buf, n, NULL);
		off += n;
	}
	free(buf);
	return ret;
}

int tfs_fallocate(struct tfs *fs, uint64_t ino, int mode, uint64_t off,
		  uint64_t len)
{
	uint8_t flags = 0;
	struct tfs_txn t;
	struct tfs_inode in;
	uint64_t end;
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EINVAL;
	if (len == 0)
		return -EINVAL;
	if (off > OBJSTORE_MAX_SIZE || len > OBJSTORE_MAX_SIZE - off)
		return -EFBIG;
	end = off + len;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = get_file(&t, ino, &in);
	if (ret)
		goto out_abort;
	flags = in.r.flags;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		uint64_t stop = end < in.r.size ? end : in.r.size;

		if (off < stop && (in.r.flags & TFS_I_OBJECT))
			ret = objstore_punch(fs->data, ino, off, stop - off,
					     NULL);
		else if (off < stop && off < in.tail_len)
			memset(in.tail + off, 0,
			       (size_t)((stop < in.tail_len ? stop :
					 in.tail_len) - off));
		tfs_now(&in.r.mtime);
	} else {
		ret = room_for(fs, end > in.r.size ? end - in.r.size : 0);
		if (!ret && !(mode & FALLOC_FL_KEEP_SIZE) && end > in.r.size)
			ret = set_size(fs, &in, end);
		if (!ret)
			ret = allocate(fs, &in, off, end);
	}
	if (ret)
		goto out_in;
	tfs_now(&in.r.ctime);
	ret = tfs_inode_put(&t, &in);
	if (!ret)
		ret = tfs_txn_commit(&t, false);
	else
		tfs_txn_abort(&t);
	if (ret)
		undo_object(fs, &in, flags);
	tfs_inode_release(&in);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_in:
	undo_object(fs, &in, flags);
	tfs_inode_release(&in);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

/*
 * An inline file holds data up to the bytes it keeps and a hole from there
 * to its size (a truncate that grew it); a file with an object has the
 * object's holes, and a hole from the object's end to the file's (an
 * object left shorter by a crash reads as zeros there).
 */
int tfs_lseek(struct tfs *fs, uint64_t ino, off_t off, int whence,
	      off_t *out)
{
	struct tfs_txn t;
	struct tfs_inode in;
	uint64_t size, pos;
	mode_t mode;
	bool object;
	int ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	size = in.r.size;
	mode = in.r.mode;
	object = in.r.flags & TFS_I_OBJECT;
	pos = in.tail_len;	/* inline: where the hole begins */
	tfs_inode_release(&in);
	if (S_ISDIR(mode))
		return -EISDIR;
	if (off < 0 || (uint64_t)off >= size)
		return -ENXIO;
	if (object) {
		ret = objstore_seek(fs->data, ino, (uint64_t)off, whence, &pos,
				    NULL);
		if (ret == -ENXIO)	/* nothing but holes from @off on */
			pos = whence == SEEK_DATA ? size : (uint64_t)off;
		else if (ret)
			return ret;
		if (pos > size)
			pos = size;
	} else if (whence == SEEK_DATA) {
		pos = (uint64_t)off < pos ? (uint64_t)off : size;
	} else if (pos < (uint64_t)off) {
		pos = (uint64_t)off;
	}
	if (whence == SEEK_DATA && pos >= size)
		return -ENXIO;
	*out = (off_t)pos;
	return 0;
}

/* --- extended attributes ------------------------------------------------ */

static bool is_acl(const char *name)
{
	return !strcmp(name, TFS_ACL_ACCESS) || !strcmp(name, TFS_ACL_DEFAULT);
}

static int xattr_name_check(struct tfs *fs, const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -EINVAL;
	if (n > TFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (fs->acl && is_acl(name))
		return 0;
	if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8) &&
	    strncmp(name, "security.", 9))
		return -EOPNOTSUPP;	/* other system.*, ACLs without acl */
	return 0;
}

/*
 * Setting an ACL in @t for @in: the access ACL decides the permission
 * bits and is kept only where it says more than they can; an ACL of no
 * entries (or an access ACL the bits say all of) removes the xattr.
 * *@keep says whether to store the value.
 */
static int set_acl(struct tfs_inode *in, const char *name, const void *val,
		   size_t len, bool *keep)
{
	int ret = tfs_acl_valid(val, len);

	if (ret)
		return ret;
	*keep = len > 4;
	if (!strcmp(name, TFS_ACL_DEFAULT)) {
		if (!S_ISDIR(in->r.mode))
			return *keep ? -EACCES : 0;
		return 0;
	}
	if (*keep)
		*keep = tfs_acl_equiv_mode(val, len, &in->r.mode) == 1;
	return 0;
}

int tfs_setxattr(struct tfs *fs, uint64_t ino, const char *name,
		 const void *val, size_t len, int flags)
{
	unsigned char key[9 + TFS_XATTR_NAME_MAX];
	struct tfs_txn t;
	struct tfs_inode in;
	size_t klen;
	char *v;
	size_t vlen;
	bool keep = true;
	int ret = xattr_name_check(fs, name);

	if (ret)
		return ret;
	if (tfs_is_readonly(fs))
		return -EROFS;
	if (len > TFS_XATTR_SIZE_MAX)
		return -E2BIG;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		goto out_abort;
	if (!strncmp(name, "user.", 5) && !S_ISREG(in.r.mode) &&
	    !S_ISDIR(in.r.mode)) {
		ret = -EPERM;	/* as Linux: user.* only on files and dirs */
		goto out_in;
	}
	klen = tfs_key_xattr(key, ino, name);
	ret = tfs_txn_get(&t, key, klen, &v, &vlen);
	if (ret == 0) {
		rocksdb_free(v);
		ret = (flags & XATTR_CREATE) ? -EEXIST : 0;
	} else if (ret == -ENOENT) {
		ret = (flags & XATTR_REPLACE) ? -ENODATA : 0;
	}
	if (!ret && is_acl(name))
		ret = set_acl(&in, name, val, len, &keep);
	if (ret)
		goto out_in;
	if (keep)
		tfs_txn_put(&t, key, klen, val, len);
	else
		tfs_txn_del(&t, key, klen);
	tfs_now(&in.r.ctime);
	ret = tfs_inode_put(&t, &in);
	tfs_inode_release(&in);
	if (!ret)
		ret = tfs_txn_commit(&t, false);
	else
		tfs_txn_abort(&t);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_in:
	tfs_inode_release(&in);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

ssize_t tfs_getxattr(struct tfs *fs, uint64_t ino, const char *name,
		     void *buf, size_t size)
{
	unsigned char key[9 + TFS_XATTR_NAME_MAX];
	struct tfs_txn t;
	struct tfs_inode in;
	char *v;
	size_t vlen;
	int ret = xattr_name_check(fs, name);

	if (ret)
		return ret == -EOPNOTSUPP ? -ENODATA : ret;
	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	tfs_inode_release(&in);
	ret = tfs_txn_get(&t, key, tfs_key_xattr(key, ino, name), &v, &vlen);
	if (ret)
		return ret == -ENOENT ? -ENODATA : ret;
	if (size && vlen > size) {
		rocksdb_free(v);
		return -ERANGE;
	}
	if (size)
		memcpy(buf, v, vlen);
	rocksdb_free(v);
	return (ssize_t)vlen;
}

struct list_ctx {
	char *buf;
	size_t size, len;
};

static int list_cb(void *arg, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	struct list_ctx *c = arg;
	size_t n = klen - 9;

	(void)val;
	(void)vlen;
	if (c->size && c->len + n + 1 <= c->size) {
		memcpy(c->buf + c->len, (const char *)key + 9, n);
		c->buf[c->len + n] = '\0';
	}
	c->len += n + 1;
	return 0;
}

ssize_t tfs_listxattr(struct tfs *fs, uint64_t ino, char *buf, size_t size)
{
	unsigned char prefix[9];
	struct list_ctx c = { buf, size, 0 };
	struct tfs_txn t;
	struct tfs_inode in;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	tfs_inode_release(&in);
	tfs_key_ino(prefix, TFS_K_XATTR, ino);
	ret = tfs_txn_scan(&t, prefix, 9, prefix, 9, list_cb, &c);
	if (ret)
		return ret;
	if (size && c.len > size)
		return -ERANGE;
	return (ssize_t)c.len;
}

int tfs_removexattr(struct tfs *fs, uint64_t ino, const char *name)
{
	unsigned char key[9 + TFS_XATTR_NAME_MAX];
	struct tfs_txn t;
	struct tfs_inode in;
	size_t klen;
	char *v;
	size_t vlen;
	int ret = xattr_name_check(fs, name);

	if (ret)
		return ret == -EOPNOTSUPP ? -ENODATA : ret;
	if (tfs_is_readonly(fs))
		return -EROFS;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		goto out_abort;
	klen = tfs_key_xattr(key, ino, name);
	ret = tfs_txn_get(&t, key, klen, &v, &vlen);
	if (ret) {
		tfs_inode_release(&in);
		ret = ret == -ENOENT ? -ENODATA : ret;
		goto out_abort;
	}
	rocksdb_free(v);
	tfs_txn_del(&t, key, klen);
	tfs_now(&in.r.ctime);
	ret = tfs_inode_put(&t, &in);
	tfs_inode_release(&in);
	if (!ret)
		ret = tfs_txn_commit(&t, false);
	else
		tfs_txn_abort(&t);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}
