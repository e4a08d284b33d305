/*
 * tablefs_fuse.c - FUSE requests onto tablefs's core calls, and the
 * driver's fsd table.
 *
 * Each handler converts arguments, calls one tfs_* function and replies
 * exactly once. Locks (fcntl and flock) are not implemented here, so the
 * kernel handles them locally: correct for a single-host mount.
 */
#include "fs/tablefs/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <uuid/uuid.h>

/*
 * Attributes and entries change only through this mount (the store is
 * opened exclusively), and the kernel itself invalidates what a request
 * changes: the parent after create or unlink, the inode after write,
 * link, unlink or rename. So what it caches stays true until it forgets
 * it, and a day is as good as forever: no revalidation round trips.
 */
#define TFS_TIMEOUT 86400.0

static struct tfs *fs_of(fuse_req_t req)
{
	struct fsd_mount *m = fuse_req_userdata(req);

	return container_of(m, struct tfs, mount);
}

/*
 * After a change of space or inode count: let the threshold watches see
 * the new figures. One statfs of the store (counters in memory, or one
 * statvfs of the host when no capacity was set).
 */
static void space_changed(struct tfs *fs)
{
	struct statvfs sv;

	if (!fs->mount.events || tfs_statfs(fs, &sv))
		return;
	evt_check_space(fs->mount.events, (uint64_t)sv.f_bfree * sv.f_frsize,
			(uint64_t)sv.f_blocks * sv.f_frsize);
	evt_check_inodes(fs->mount.events, sv.f_ffree, sv.f_files);
}

/*
 * Before a call that reaches the data store: the events watchdog then
 * sees it in flight, and reports a stall while it is still stuck. Every
 * store_begin() is ended by store_result().
 */
static unsigned store_begin(struct tfs *fs, const char *op)
{
	return fs->mount.events ? evt_call_begin(fs->mount.events, op) : 0;
}

/*
 * What the result of a store call means beyond the reply: success or a
 * transient failure counts towards store availability; a checksum failure
 * is reported as such and reaches the caller as EIO, as a bad sector
 * would; an I/O error goes to the errors= policy. Returns the result for
 * the reply.
 */
static int store_result(struct tfs *fs, unsigned call, int ret,
			const char *op, uint64_t ino)
{
	struct evt *ev = fs->mount.events;
	char num[24];

	if (!ev)
		return ret;
	evt_call_end(ev, call, ret, op);
	if (ret == -EBADMSG) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)ino);
		evt_emit(ev, EVT_CHECKSUM_ERROR, "op", op, "ino", num, NULL);
		return -EIO;
	}
	/* A transient failure that outlasted the retries is an I/O error to
	 * the caller (a timeout is not what read(2) or write(2) may say). */
	if (ret < 0 && evt_errno_transient(ret))
		ret = -EIO;
	if (ret == -EIO)
		fsd_io_error(&fs->mount, op, ino, ret);
	return ret;
}

/*
 * After a failed attempt of a request that reaches the data store: whether
 * to try it again. A transient failure (a store that timed out or lost its
 * connection) is retried for store_retry= (events.h), reported once as
 * store_unavailable; then the error reaches the caller. Only requests that
 * a failure leaves as they were are retried: read, write, truncate,
 * fallocate and fsync (tfs_* undo what a failed call changed).
 */
static bool retry(struct tfs *fs, struct evt_retry_state *st, int ret,
		  const char *op)
{
	return evt_retry_next(fs->mount.events, st,
			      fs->mount.opts.ev.store_retry_ms, ret, op);
}

static void cred_of(fuse_req_t req, struct tfs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	c->uid = ctx->uid;
	c->gid = ctx->gid;
}

static void reply_entry(fuse_req_t req, struct tfs *fs, int ret,
			const struct stat *st)
{
	struct fuse_entry_param e;

	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.generation = 1;	/* inode numbers are never reused */
	e.attr = *st;
	e.attr_timeout = TFS_TIMEOUT;
	e.entry_timeout = TFS_TIMEOUT;
	tfs_ref(fs, e.ino);
	if (fuse_reply_entry(req, &e))
		tfs_forget(fs, e.ino, 1);
}

/* reply_entry() for calls that made a new inode or name. */
static void reply_new_entry(fuse_req_t req, struct tfs *fs, int ret,
			    const struct stat *st)
{
	reply_entry(req, fs, ret, st);
	if (!ret)
		space_changed(fs);
}

static void tfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct tfs *fs = container_of((struct fsd_mount *)userdata, struct tfs,
				      mount);

	/* Large requests: fewer round trips for sequential I/O. */
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/*
	 * Nobody else changes the files, so a changed mtime never means
	 * stale pages: without this the kernel drops a file's whole page
	 * cache at the first read after each of our own writes.
	 */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/*
	 * Writes land in the page cache and reach us later, merged into
	 * large requests: a small write() costs no round trip. The kernel
	 * owns size and mtime while pages are dirty and sends them with
	 * setattr. It refetches st_blocks at close, not at fsync:
	 * tfs_ll_fsync() tells it to. The price: a write the store cannot
	 * take (ENOSPC, EIO) fails at fsync() or close(), not at write().
	 * Off unless -o writeback=on: the power-loss crash test loses data
	 * that fsync acknowledged in some runs with it (docs/tablefs.md).
	 */
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * -o acl: the kernel checks access against the ACLs (it needs
	 * default_permissions, which every mixfs mount has) and hands the
	 * umask to us, as a default ACL replaces it (acl.c). On a kernel
	 * without FUSE_POSIX_ACL setting an ACL fails with EOPNOTSUPP, as
	 * without the option.
	 */
	if (fs->acl && (conn->capable & FUSE_CAP_POSIX_ACL))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
}

static void tfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct tfs *fs = fs_of(req);
	struct stat st;
	int ret = tfs_lookup(fs, parent, name, &st);

	if (ret == -ENOENT) {
		/* A negative entry the kernel may cache. */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = TFS_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, fs, ret, &st);
}

static void tfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct tfs *fs = fs_of(req);

	fuse_reply_none(req);
	if (tfs_forget(fs, ino, nlookup))
		space_changed(fs);
}

static void tfs_ll_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	struct tfs *fs = fs_of(req);

	bool freed = false;

	for (size_t i = 0; i < count; i++)
		freed |= tfs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
	if (freed)
		space_changed(fs);
}

static void tfs_ll_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct stat st;
	int ret = tfs_getattr(fs_of(req), ino, &st);

	(void)fi;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, TFS_TIMEOUT);
}

static void tfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	struct stat st;
	struct evt_retry_state rs = EVT_RETRY_STATE_INIT;
	unsigned call = store_begin(fs, "setattr");
	int ret;

	do
		ret = tfs_setattr(fs, ino, attr, to_set, &st);
	while (ret < 0 && (to_set & FUSE_SET_ATTR_SIZE) &&
	       retry(fs, &rs, ret, "setattr"));
	ret = store_result(fs, call, ret, "setattr", ino);

	(void)fi;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, TFS_TIMEOUT);
	if (!ret && (to_set & FUSE_SET_ATTR_SIZE))
		space_changed(fs);
}

static void tfs_ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[TFS_SYMLINK_MAX + 1];
	ssize_t n = tfs_readlink(fs_of(req), ino, buf, sizeof(buf));

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_readlink(req, buf);
}

static void tfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, dev_t rdev)
{
	struct tfs *fs = fs_of(req);
	struct tfs_cred c;
	struct stat st;

	cred_of(req, &c);
	reply_new_entry(req, fs,
			tfs_mknod_umask(fs, parent, name, mode,
					fuse_req_ctx(req)->umask, rdev, &c, &st),
			&st);
}

static void tfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode)
{
	struct tfs *fs = fs_of(req);
	struct tfs_cred c;
	struct stat st;

	cred_of(req, &c);
	reply_new_entry(req, fs,
			tfs_mkdir_umask(fs, parent, name, mode,
					fuse_req_ctx(req)->umask, &c, &st),
			&st);
}

static void tfs_ll_symlink(fuse_req_t req, const char *link,
			   fuse_ino_t parent, const char *name)
{
	struct tfs *fs = fs_of(req);
	struct tfs_cred c;
	struct stat st;

	cred_of(req, &c);
	reply_new_entry(req, fs, tfs_symlink(fs, parent, name, link, &c, &st),
			&st);
}

static void tfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			const char *newname)
{
	struct tfs *fs = fs_of(req);
	struct stat st;

	reply_entry(req, fs, tfs_link(fs, ino, newparent, newname, &st), &st);
}

static void tfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct tfs *fs = fs_of(req);
	int ret = tfs_unlink(fs, parent, name);

	fuse_reply_err(req, -ret);
	if (!ret)
		space_changed(fs);
}

static void tfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct tfs *fs = fs_of(req);
	int ret = tfs_rmdir(fs, parent, name);

	fuse_reply_err(req, -ret);
	if (!ret)
		space_changed(fs);
}

static void tfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			  fuse_ino_t newparent, const char *newname,
			  unsigned int flags)
{
	struct tfs *fs = fs_of(req);
	int ret = tfs_rename(fs, parent, name, newparent, newname, flags);

	fuse_reply_err(req, -ret);
	if (!ret)
		space_changed(fs);
}

static void tfs_ll_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	struct stat st;
	int ret;

	/* Counted open before looking: an unlink from now on keeps the
	 * inode for us. */
	ret = tfs_open_file(fs, ino);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	ret = tfs_getattr(fs, ino, &st);

	if (!ret && S_ISDIR(st.st_mode))
		ret = -EISDIR;
	/*
	 * libfuse asks the kernel for atomic O_TRUNC: truncating is ours,
	 * and so is what truncate() would do besides: a caller without
	 * CAP_FSETID (uid 0 stands for it here) loses set-user-ID and
	 * set-group-ID, whatever the size was.
	 */
	if (!ret && (fi->flags & O_TRUNC)) {
		struct stat attr = { .st_size = 0 };
		int to_set = st.st_size ? FUSE_SET_ATTR_SIZE : 0;

		if (fuse_req_ctx(req)->uid != 0 &&
		    (st.st_mode & (S_ISUID | S_ISGID)))
			to_set |= FUSE_SET_ATTR_KILL_SUID |
				  FUSE_SET_ATTR_KILL_SGID;
		if (to_set)
			ret = tfs_setattr(fs, ino, &attr, to_set, &st);
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		tfs_close_file(fs, ino);
		return;
	}
	/* Only this mount changes the data: cached pages stay valid. */
	fi->keep_cache = !(fi->flags & O_TRUNC);
	if (fuse_reply_open(req, fi))
		tfs_close_file(fs, ino);	/* no release will come */
}

static void tfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct tfs_cred c;
	struct stat st;
	int ret;

	cred_of(req, &c);
	ret = tfs_create_umask(fs, parent, name, mode,
			       fuse_req_ctx(req)->umask, &c, &st);
	if (ret == -EEXIST && !(fi->flags & O_EXCL)) {
		/* Lost a race with another creator: open what is there. */
		ret = tfs_lookup(fs, parent, name, &st);
		if (!ret && S_ISDIR(st.st_mode))
			ret = -EISDIR;
		if (!ret)
			ret = tfs_open_file(fs, st.st_ino);
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = st.st_ino;
	e.generation = 1;
	e.attr = st;
	e.attr_timeout = TFS_TIMEOUT;
	e.entry_timeout = TFS_TIMEOUT;
	fi->keep_cache = 1;
	tfs_ref(fs, e.ino);
	if (fuse_reply_create(req, &e, fi)) {
		tfs_close_file(fs, e.ino);	/* no release will come */
		tfs_forget(fs, e.ino, 1);
	}
	space_changed(fs);
}

static void tfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	char *buf = malloc(size ? size : 1);
	struct evt_retry_state rs = EVT_RETRY_STATE_INIT;
	unsigned call;
	ssize_t n;

	(void)fi;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	call = store_begin(fs, "read");
	do
		n = tfs_read(fs, ino, (uint64_t)off, buf, size);
	while (n < 0 && retry(fs, &rs, (int)n, "read"));
	if (n < 0)
		n = store_result(fs, call, (int)n, "read", ino);
	else
		store_result(fs, call, 0, "read", ino);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void tfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	struct evt_retry_state rs = EVT_RETRY_STATE_INIT;
	unsigned call = store_begin(fs, "write");
	ssize_t n;

	do
		n = tfs_write(fs, ino, (uint64_t)off, buf, size);
	while (n < 0 && retry(fs, &rs, (int)n, "write"));

	(void)fi;
	if (n < 0) {
		fuse_reply_err(req, -store_result(fs, call, (int)n, "write",
						  ino));
		return;
	}
	store_result(fs, call, 0, "write", ino);
	fuse_reply_write(req, (size_t)n);
	space_changed(fs);
}

static void tfs_ll_release(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);

	(void)fi;
	fuse_reply_err(req, 0);
	if (tfs_close_file(fs, ino))
		space_changed(fs);
}

static void tfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	struct evt_retry_state rs = EVT_RETRY_STATE_INIT;
	unsigned call = store_begin(fs, "fsync");
	int ret;

	do
		ret = tfs_fsync(fs, ino, datasync);
	while (ret < 0 && retry(fs, &rs, ret, "fsync"));

	(void)fi;
	/* The data the kernel wrote back before this fsync changed the
	 * blocks in use; its cached attributes do not know. Attributes only:
	 * no page lock is taken, so this is safe inside the request. */
	if (!ret && fs->mount.se)
		fuse_lowlevel_notify_inval_inode(fs->mount.se, ino, -1, 0);
	fuse_reply_err(req, -store_result(fs, call, ret, "fsync", ino));
}

static void tfs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct stat st;
	int ret = tfs_getattr(fs_of(req), ino, &st);

	if (!ret && !S_ISDIR(st.st_mode))
		ret = -ENOTDIR;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fuse_reply_open(req, fi);
}

/*
 * Directory offsets: "." is at 0, ".." at 1, an entry with cookie c at c
 * (cookies start at 2). Each entry carries the offset of the next one.
 */
struct rd_ctx {
	fuse_req_t req;
	struct tfs *fs;
	bool plus;
	char *buf;
	size_t size, used;
	int err;
};

static int rd_add(struct rd_ctx *c, const char *name, uint64_t ino,
		  unsigned char type, off_t next, bool ref)
{
	size_t room = c->size - c->used, n;
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = ino;
	e.attr.st_mode = (mode_t)type << 12;
	if (!c->plus) {
		n = fuse_add_direntry(c->req, c->buf + c->used, room, name,
				      &e.attr, next);
		if (n > room)
			return 1;
		c->used += n;
		return 0;
	}
	if (ref) {
		int ret = tfs_getattr(c->fs, ino, &e.attr);

		if (ret == -ENOENT)
			return 0;	/* removed meanwhile: skip */
		if (ret) {
			c->err = ret;
			return 1;
		}
		e.ino = ino;
		e.generation = 1;
		e.attr_timeout = e.entry_timeout = TFS_TIMEOUT;
	}
	n = fuse_add_direntry_plus(c->req, c->buf + c->used, room, name, &e,
				   next);
	if (n > room)
		return 1;
	c->used += n;
	if (ref)
		tfs_ref(c->fs, ino);
	return 0;
}

static int rd_entry(void *arg, const char *name, uint64_t ino,
		    unsigned char type, uint64_t cookie)
{
	return rd_add(arg, name, ino, type, (off_t)cookie + 1, true);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, bool plus)
{
	struct rd_ctx c = { req, fs_of(req), plus, malloc(size), size, 0, 0 };
	uint64_t parent = ino;
	int ret = 0;

	if (!c.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off == 0 && rd_add(&c, ".", ino, DT_DIR, 1, false))
		goto reply;
	if (off <= 1) {
		ret = tfs_parent(c.fs, ino, &parent);
		if (ret || rd_add(&c, "..", parent, DT_DIR, 2, false))
			goto reply;
	}
	ret = tfs_readdir(c.fs, ino, off > 2 ? (uint64_t)off - 1 : 1,
			  rd_entry, &c);
	if (ret > 0)
		ret = 0;
reply:
	if (!ret)
		ret = c.err;
	if (ret && c.used == 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, c.buf, c.used);
	free(c.buf);
}

static void tfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void tfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			       off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void tfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			      struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void tfs_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			    struct fuse_file_info *fi)
{
	(void)fi;
	fuse_reply_err(req, -tfs_fsync(fs_of(req), ino, datasync));
}

static void tfs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int ret = tfs_statfs(fs_of(req), &sv);

	(void)ino;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_statfs(req, &sv);
}

static void tfs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    const char *value, size_t size, int flags)
{
	fuse_reply_err(req, -tfs_setxattr(fs_of(req), ino, name, value, size,
					  flags));
}

static void tfs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = tfs_getxattr(fs_of(req), ino, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/*
 * Drop the trusted.* names from the list @buf of @len bytes; returns the
 * new length. The kernel hides them from a caller without CAP_SYS_ADMIN
 * on local filesystems but passes FUSE's list through unfiltered.
 */
static size_t drop_trusted(char *buf, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(buf + in, len - in) + 1;

		if (strncmp(buf + in, "trusted.", 8)) {
			memmove(buf + out, buf + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

static void tfs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct tfs *fs = fs_of(req);
	/* uid 0 stands for CAP_SYS_ADMIN: FUSE does not pass capabilities */
	bool all = fuse_req_ctx(req)->uid == 0;
	char *buf = NULL;
	ssize_t n;

	if (all) {
		buf = size ? malloc(size) : NULL;
		if (size && !buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		n = tfs_listxattr(fs, ino, buf, size);
	} else {
		/* The whole list, filtered, then measured against @size. */
		do {
			free(buf);
			n = tfs_listxattr(fs, ino, NULL, 0);
			buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
			if (n >= 0 && !buf)
				n = -ENOMEM;
			if (n >= 0)
				n = tfs_listxattr(fs, ino, buf, (size_t)n + 1);
		} while (n == -ERANGE);	/* grew meanwhile */
		if (n >= 0)
			n = (ssize_t)drop_trusted(buf, (size_t)n);
		if (n >= 0 && size && (size_t)n > size)
			n = -ERANGE;
	}
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void tfs_ll_removexattr(fuse_req_t req, fuse_ino_t ino,
			       const char *name)
{
	fuse_reply_err(req, -tfs_removexattr(fs_of(req), ino, name));
}

static void tfs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			     off_t offset, off_t length,
			     struct fuse_file_info *fi)
{
	(void)fi;
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct tfs *fs = fs_of(req);
	struct evt_retry_state rs = EVT_RETRY_STATE_INIT;
	unsigned call = store_begin(fs, "fallocate");
	int ret;

	do
		ret = tfs_fallocate(fs, ino, mode, (uint64_t)offset,
				    (uint64_t)length);
	while (ret < 0 && retry(fs, &rs, ret, "fallocate"));
	ret = store_result(fs, call, ret, "fallocate", ino);

	fuse_reply_err(req, -ret);
	if (!ret)
		space_changed(fs);
}

static void tfs_ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off,
			 int whence, struct fuse_file_info *fi)
{
	struct tfs *fs = fs_of(req);
	off_t out;
	int ret;

	(void)fi;
	/*
	 * With the writeback cache the kernel holds data (and a size) we have
	 * not seen, and it does not flush before asking: it would take that
	 * data for a hole. ENOSYS makes it answer every lseek itself, the
	 * whole file counting as data.
	 */
	if (fs->writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	ret = tfs_lseek(fs, ino, off, whence, &out);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_lseek(req, out);
}

static void tfs_ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
				   off_t off_in, struct fuse_file_info *fi_in,
				   fuse_ino_t ino_out, off_t off_out,
				   struct fuse_file_info *fi_out, size_t len,
				   int flags)
{
	struct tfs *fs = fs_of(req);
	size_t chunk = 1u << 20, done = 0;
	char *buf;

	(void)fi_in;
	(void)fi_out;
	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	buf = malloc(chunk);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	while (done < len) {
		size_t want = len - done < chunk ? len - done : chunk;
		ssize_t n = tfs_read(fs, ino_in, (uint64_t)off_in + done, buf,
				     want);

		if (n <= 0) {
			if (n < 0 && done == 0) {
				free(buf);
				fuse_reply_err(req, (int)-n);
				return;
			}
			break;
		}
		n = tfs_write(fs, ino_out, (uint64_t)off_out + done, buf,
			      (size_t)n);
		if (n < 0) {
			if (done == 0) {
				free(buf);
				fuse_reply_err(req, (int)-n);
				return;
			}
			break;
		}
		done += (size_t)n;
		if ((size_t)n < want)
			break;	/* short: the largest file size, or EOF */
	}
	free(buf);
	fuse_reply_write(req, done);
}

static const struct fuse_lowlevel_ops tablefs_ll_ops = {
	.init = tfs_ll_init,
	.lookup = tfs_ll_lookup,
	.forget = tfs_ll_forget,
	.forget_multi = tfs_ll_forget_multi,
	.getattr = tfs_ll_getattr,
	.setattr = tfs_ll_setattr,
	.readlink = tfs_ll_readlink,
	.mknod = tfs_ll_mknod,
	.mkdir = tfs_ll_mkdir,
	.symlink = tfs_ll_symlink,
	.link = tfs_ll_link,
	.unlink = tfs_ll_unlink,
	.rmdir = tfs_ll_rmdir,
	.rename = tfs_ll_rename,
	.open = tfs_ll_open,
	.create = tfs_ll_create,
	.read = tfs_ll_read,
	.write = tfs_ll_write,
	/* No .flush: there is nothing to do at close(), and the ENOSYS
	 * that libfuse answers makes the kernel stop sending FLUSH. */
	.release = tfs_ll_release,
	.fsync = tfs_ll_fsync,
	.opendir = tfs_ll_opendir,
	.readdir = tfs_ll_readdir,
	.readdirplus = tfs_ll_readdirplus,
	.releasedir = tfs_ll_releasedir,
	.fsyncdir = tfs_ll_fsyncdir,
	.statfs = tfs_ll_statfs,
	.setxattr = tfs_ll_setxattr,
	.getxattr = tfs_ll_getxattr,
	.listxattr = tfs_ll_listxattr,
	.removexattr = tfs_ll_removexattr,
	.fallocate = tfs_ll_fallocate,
	.lseek = tfs_ll_lseek,
	.copy_file_range = tfs_ll_copy_file_range,
};

/* --- the driver's fsd table --------------------------------------------- */

static int drv_mkfs(const char *uri, const struct fsd_mkfs_args *a,
		    struct mixfs_err *err)
{
	/* tfs_mkfs_data() refuses a data URI it cannot use before it
	 * opens or changes anything. */
	return tfs_mkfs_data(uri, a->data ? a->data : "same",
			     a->size, a->force, err);
}

static int drv_open(const char *uri, const struct fsd_opts *o,
		    struct fsd_mount **out, struct mixfs_err *err)
{
	struct tfs *fs;
	const char *data = NULL;
	int ret;

	bool writeback = false;	/* see docs/tablefs.md */
	bool acl = false;

	for (size_t i = 0; i < o->ndrv; i++) {
		if (!strncmp(o->drv[i], "data=", 5))
			data = o->drv[i] + 5;
		else if (!strcmp(o->drv[i], "writeback=on"))
			writeback = true;
		else if (!strcmp(o->drv[i], "writeback=off"))
			writeback = false;
		else if (!strcmp(o->drv[i], "acl"))
			acl = true;
		else if (!strcmp(o->drv[i], "noacl"))
			acl = false;
		else
			return mixfs_err_set(err, -EINVAL,
				"tablefs does not know the option '%s'",
				o->drv[i]);
	}
	ret = tfs_open(uri, data, o->readonly, &fs, err);
	if (ret)
		return ret;
	fs->writeback = writeback;
	fs->acl = acl;
	fs->mount.opts = *o;
	if (!o->readonly) {
		/* The event log lives in the metadata store, so its sequence
		 * numbers continue across mounts. */
		ret = evt_store_objstore_open(fs->meta, TFS_EVENTS_OBJ, true,
					      &fs->evstore, err);
		if (!ret)
			ret = fsd_events_open(&fs->mount, fs->uuid,
					      fs->evstore, err);
		if (ret) {
			evt_store_close(fs->evstore);
			tfs_close(fs);
			return ret;
		}
	}
	*out = &fs->mount;
	return 0;
}

static void drv_close(struct fsd_mount *m)
{
	struct tfs *fs = container_of(m, struct tfs, mount);

	/* The scrub thread emits events: it ends first. */
	tfs_scrub_stop(fs);
	fsd_events_close(m);
	evt_store_close(fs->evstore);
	fs->evstore = NULL;
	tfs_close(fs);
}

static void drv_status(struct fsd_mount *m, struct fsd_buf *out)
{
	struct tfs *fs = container_of(m, struct tfs, mount);
	struct statvfs sv;
	char uuid[37];

	uuid_unparse(fs->uuid, uuid);
	fsd_buf_printf(out, "uuid: %s\n", uuid);
	fsd_buf_printf(out, "inline_max: %u\n", fs->inline_max);
	if (!tfs_statfs(fs, &sv)) {
		fsd_buf_printf(out, "space_total: %llu\n",
			       (unsigned long long)sv.f_blocks * sv.f_frsize);
		fsd_buf_printf(out, "space_free: %llu\n",
			       (unsigned long long)sv.f_bfree * sv.f_frsize);
	}
	fsd_buf_printf(out, "inodes_allocated: %llu\n",
		       (unsigned long long)(fs->next_ino - TFS_ROOT_INO));
	tfs_scrub_status(fs, false, out);
}

static int drv_ctl(struct fsd_mount *m, const char *cmd, struct fsd_buf *out,
		   struct mixfs_err *err)
{
	struct tfs *fs = container_of(m, struct tfs, mount);

	if (!strncmp(cmd, "scrub", 5) && (cmd[5] == ' ' || !cmd[5]))
		return tfs_scrub_ctl(fs, cmd + 5, out, err);
	return mixfs_err_set(err, -EINVAL,
		"unknown command '%s' (try help; tablefs adds scrub start [rate=MIB], scrub status, scrub cancel)",
		cmd);
}

const struct fsd_driver tablefs_driver = {
	.name = "tablefs",
	.summary = "metadata in RocksDB (TableFS), small files inline, data in an object store",
	.mkfs = drv_mkfs,
	.open = drv_open,
	.close = drv_close,
	.status = drv_status,
	.ctl = drv_ctl,
	.fsck = tfs_fsck,
	.ll = &tablefs_ll_ops,
};
