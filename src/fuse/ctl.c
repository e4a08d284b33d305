/*
 * ctl.c - the `.mixfs/` control directory and the events a mount serves.
 *
 * The layer's fuse_lowlevel_ops table is the driver's table with a handful
 * of entries replaced by functions that answer requests for control inodes
 * (>= FSD_CTL_INO_BASE) and pass everything else to the driver unchanged.
 * Nothing is cached or locked on the way to the driver.
 *
 * Control files keep per-open state in struct ctl_handle: the answer text
 * for ctl and socket, an events reader for events.
 */
#include "fuse/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

enum {
	CTL_DIR = FSD_CTL_INO_BASE + 1,
	CTL_FILE = FSD_CTL_INO_BASE + 2,
	CTL_EVENTS = FSD_CTL_INO_BASE + 3,
	CTL_SOCKET = FSD_CTL_INO_BASE + 4,
};

static const struct {
	const char *name;
	fuse_ino_t ino;
	bool needs_events;
} ctl_files[] = {
	{ "ctl", CTL_FILE, false },
	{ "events", CTL_EVENTS, true },
	{ "socket", CTL_SOCKET, true },
};
#define NCTL (sizeof(ctl_files) / sizeof(ctl_files[0]))

struct ctl_handle {
	fuse_ino_t ino;
	pthread_mutex_t lock;		/* protects everything below */
	struct fsd_buf answer;		/* ctl, socket: text to read */
	size_t rpos;			/* ctl: next byte of answer to read */
	struct evt_reader *reader;	/* events */
	struct fuse_pollhandle *ph;	/* events: poll to notify */
	bool nonblock;
};

static struct fsd_mount *mount_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static bool is_ctl(fuse_ino_t ino)
{
	return ino >= FSD_CTL_INO_BASE;
}

static struct ctl_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct ctl_handle *)(uintptr_t)fi->fh;
}

/* Count a request handed to the driver (see enum fsd_op). */
static void count(fuse_req_t req, enum fsd_op op)
{
	__atomic_fetch_add(&mount_of(req)->ops[op].n, 1, __ATOMIC_RELAXED);
}

static const char *const op_names[FSD_OP_COUNT] = {
	[FSD_OP_LOOKUP] = "lookup", [FSD_OP_GETATTR] = "getattr",
	[FSD_OP_SETATTR] = "setattr", [FSD_OP_OPEN] = "open",
	[FSD_OP_READ] = "read", [FSD_OP_WRITE] = "write",
	[FSD_OP_CREATE] = "create", [FSD_OP_MKDIR] = "mkdir",
	[FSD_OP_SYMLINK] = "symlink", [FSD_OP_LINK] = "link",
	[FSD_OP_UNLINK] = "unlink", [FSD_OP_RMDIR] = "rmdir",
	[FSD_OP_RENAME] = "rename", [FSD_OP_READDIR] = "readdir",
	[FSD_OP_FSYNC] = "fsync", [FSD_OP_STATFS] = "statfs",
};

/* Does control inode @ino exist on this mount? */
static bool ctl_exists(struct fsd_mount *m, fuse_ino_t ino)
{
	if (ino == CTL_DIR)
		return true;
	for (size_t i = 0; i < NCTL; i++)
		if (ctl_files[i].ino == ino)
			return !ctl_files[i].needs_events || m->events;
	return false;
}

/*
 * Control inodes belong to the daemon's user: root's mount is root's, a
 * user's own mount (through fusermount3) is that user's, so that its
 * owner can read `ctl` (mixfs status, mixfs umount) where mode 0600 owned
 * by root would shut the owner out.
 */
static void ctl_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = geteuid();
	st->st_gid = getegid();
	if (ino == CTL_DIR) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | (ino == CTL_FILE ? 0600 : 0444);
		st->st_nlink = 1;
	}
}

/* --- commands ----------------------------------------------------------- */

/* Every watch, as "watch_N: space low 10% ok 15%" and "watch_N_fired: 0"
 * (1 from the _low event to the _ok event): a number of its own, so that
 * status --prometheus makes it a gauge. */
static void status_watches(struct evt *ev, struct fsd_buf *out)
{
	struct evt_watch w[EVT_METRIC_COUNT * EVT_WATCH_MAX];
	size_t n = evt_watch_list(ev, w, sizeof(w) / sizeof(w[0]));

	fsd_buf_printf(out, "watches: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char lo[32], ok[32];

		evt_level_format(&w[i].low, lo, sizeof(lo));
		evt_level_format(&w[i].ok, ok, sizeof(ok));
		fsd_buf_printf(out, "watch_%u: %s low %s ok %s\n", w[i].id,
			       w[i].metric == EVT_METRIC_SPACE ? "space"
							       : "inodes",
			       lo, ok);
		fsd_buf_printf(out, "watch_%u_fired: %d\n", w[i].id,
			       w[i].fired);
	}
}

/* Error counters since the mount, from the events emitted and the store
 * calls reported. */
static void status_errors(struct evt *ev, struct fsd_buf *out)
{
	struct evt_stats st;

	evt_stats(ev, &st);
	fsd_buf_printf(out, "errors_io: %llu\n",
		       (unsigned long long)st.emitted[EVT_IO_ERROR]);
	fsd_buf_printf(out, "errors_checksum: %llu\n",
		       (unsigned long long)st.emitted[EVT_CHECKSUM_ERROR]);
	fsd_buf_printf(out, "errors_checksum_corrected: %llu\n",
		       (unsigned long long)st.emitted[EVT_CHECKSUM_CORRECTED]);
	fsd_buf_printf(out, "store_outages: %llu\n",
		       (unsigned long long)st.emitted[EVT_STORE_UNAVAILABLE]);
	fsd_buf_printf(out, "store_failed_calls: %llu\n",
		       (unsigned long long)st.store_failures);
	fsd_buf_printf(out, "store_stalled_calls: %llu\n",
		       (unsigned long long)st.store_stalls);
	fsd_buf_printf(out, "store_calls_in_flight: %zu\n",
		       st.calls_in_flight);
}

static void ctl_status(struct fsd_mount *m, struct fsd_buf *out)
{
	fsd_buf_printf(out, "driver: %s\n", m->driver->name);
	fsd_buf_printf(out, "store: %s\n", m->uri ? m->uri : "");
	fsd_buf_printf(out, "mountpoint: %s\n",
		       m->mountpoint ? m->mountpoint : "");
	fsd_buf_printf(out, "pid: %ld\n", (long)getpid());
	fsd_buf_printf(out, "mounted_at: %lld\n", (long long)m->mounted_at);
	fsd_buf_printf(out, "readonly: %d\n", m->opts.readonly);
	if (m->events) {
		struct evt_stats st;

		evt_stats(m->events, &st);
		fsd_buf_printf(out, "events_socket: %s\n", m->socket);
		fsd_buf_printf(out, "events_last_seq: %llu\n",
			       (unsigned long long)st.last_seq);
		fsd_buf_printf(out, "errors: %s\n",
			       evt_errors_name(m->opts.ev.errors));
		fsd_buf_printf(out, "store_available: %d\n",
			       !evt_store_down(m->events));
		fsd_buf_printf(out, "store_timeout_ms: %u\n",
			       m->opts.ev.store_timeout_ms);
		if (m->feed)
			fsd_buf_printf(out, "events_feed_clients: %zu\n",
				       evt_feed_clients(m->feed));
		status_errors(m->events, out);
		status_watches(m->events, out);
	}
	for (int i = 0; i < FSD_OP_COUNT; i++)
		fsd_buf_printf(out, "ops_%s: %llu\n", op_names[i],
			       (unsigned long long)__atomic_load_n(
				       &m->ops[i].n, __ATOMIC_RELAXED));
	if (m->driver->status)
		m->driver->status(m, out);
}

static int ctl_command(struct fsd_mount *m, const char *cmd,
		       struct fsd_buf *out, struct mixfs_err *err)
{
	if (!strcmp(cmd, "status")) {
		ctl_status(m, out);
		return 0;
	}
	if (!strcmp(cmd, "help")) {
		fsd_buf_printf(out, "commands: status, help%s%s\n",
			       m->events ? ", threshold space|inodes LOW [OK], "
			       "threshold list, threshold remove ID, "
			       "events status" : "",
			       m->driver->ctl ? ", and the driver's" : "");
		return 0;
	}
	if (m->events) {
		char text[4096];
		int ret = evt_ctl(m->events, cmd, text, sizeof(text), err);

		if (ret >= 0) {
			fsd_buf_printf(out, "%s", text);
			return 0;
		}
		if (ret != -ENOENT)
			return ret;
		mixfs_err_clear(err);
	}
	if (m->driver->ctl)
		return m->driver->ctl(m, cmd, out, err);
	return mixfs_err_set(err, -EINVAL, "unknown command '%s' (try help)",
			     cmd);
}

/* --- requests on control inodes ----------------------------------------- */

static void ctl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd_mount *m = mount_of(req);
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (parent == FUSE_ROOT_ID) {
		e.ino = CTL_DIR;
	} else if (parent == CTL_DIR) {
		for (size_t i = 0; i < NCTL; i++)
			if (!strcmp(name, ctl_files[i].name) &&
			    ctl_exists(m, ctl_files[i].ino))
				e.ino = ctl_files[i].ino;
	}
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ctl_stat(e.ino, &e.attr);
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	e.generation = 1;
	fuse_reply_entry(req, &e);
}

static void wake_reader(void *arg)
{
	struct ctl_handle *h = arg;

	pthread_mutex_lock(&h->lock);
	if (h->ph) {
		fuse_lowlevel_notify_poll(h->ph);
		fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
	}
	pthread_mutex_unlock(&h->lock);
}

static void free_handle(struct ctl_handle *h)
{
	evt_reader_close(h->reader);	/* no wake after this returns */
	if (h->ph)
		fuse_pollhandle_destroy(h->ph);
	pthread_mutex_destroy(&h->lock);
	fsd_buf_release(&h->answer);
	free(h);
}

static void ctl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);
	struct ctl_handle *h;
	int ret = 0;

	if (ino == CTL_DIR || !ctl_exists(m, ino)) {
		fuse_reply_err(req, ino == CTL_DIR ? EISDIR : ENOENT);
		return;
	}
	if (ino != CTL_FILE && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* Commands come from root or the mount's owner only. The kernel's
	 * check of mode 0600 (default_permissions) says the same, but the
	 * promise should not rest on a mount option. The check is at open,
	 * as for any file: a descriptor handed on carries the right. */
	if (ino == CTL_FILE) {
		const struct fuse_ctx *c = fuse_req_ctx(req);

		if (c->uid != 0 && c->uid != geteuid()) {
			fuse_reply_err(req, EACCES);
			return;
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->ino = ino;
	h->nonblock = fi->flags & O_NONBLOCK;
	pthread_mutex_init(&h->lock, NULL);
	if (ino == CTL_FILE)
		ctl_status(m, &h->answer);
	else if (ino == CTL_SOCKET)
		fsd_buf_printf(&h->answer, "%s\n", m->socket);
	else
		ret = evt_reader_open(m->events, EVT_FROM_NOW, wake_reader, h,
				      &h->reader, NULL);
	if (ret) {
		free_handle(h);
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;	/* size 0 in stat must not stop reads */
	fi->nonseekable = ino == CTL_EVENTS;
	if (fuse_reply_open(req, fi))
		free_handle(h);
}

/* An events read returns the events that came since the last read, or 0
 * bytes when none did (EAGAIN with O_NONBLOCK): it never holds a request
 * thread waiting. Followers poll() the file, or use the socket feed. */
static void events_read(fuse_req_t req, struct ctl_handle *h, size_t size)
{
	char *buf = malloc(size);
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	n = evt_reader_read(h->reader, buf, size);
	pthread_mutex_unlock(&h->lock);
	if (n > 0)
		fuse_reply_buf(req, buf, (size_t)n);
	else if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (h->nonblock)
		fuse_reply_err(req, EAGAIN);
	else
		fuse_reply_buf(req, NULL, 0);
	free(buf);
}

static void ctl_read(fuse_req_t req, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct ctl_handle *h = handle_of(fi);

	if (h->ino == CTL_EVENTS) {
		events_read(req, h, size);
		return;
	}
	char *buf = NULL;
	size_t n = 0;

	pthread_mutex_lock(&h->lock);
	/* ctl reads from where the last read ended, and a command restarts
	 * its answer: `echo cmd >&3; cat <&3` reads the whole answer though
	 * the file offset moved past it. socket reads by offset. */
	if (h->ino == CTL_FILE)
		off = (off_t)h->rpos;
	if (off >= 0 && (size_t)off < h->answer.len) {
		n = h->answer.len - (size_t)off;
		if (n > size)
			n = size;
		buf = malloc(n);
		if (buf) {
			memcpy(buf, h->answer.data + off, n);
			h->rpos = (size_t)off + n;
		}
	}
	pthread_mutex_unlock(&h->lock);
	/* The reply is the last use of @h: once the caller has its answer
	 * it may close, and the release may free @h in another thread. */
	if (n && !buf)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void ctl_write(fuse_req_t req, const char *buf, size_t size,
		      struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);
	struct ctl_handle *h = handle_of(fi);
	struct mixfs_err err = { 0 };
	char cmd[512];
	size_t n = size;
	int ret;

	if (h->ino != CTL_FILE) {
		fuse_reply_err(req, EBADF);
		return;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n >= sizeof(cmd)) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	memcpy(cmd, buf, n);
	cmd[n] = '\0';
	pthread_mutex_lock(&h->lock);
	h->answer.len = 0;
	h->rpos = 0;
	ret = ctl_command(m, cmd, &h->answer, &err);
	if (ret < 0) {
		h->answer.len = 0;
		fsd_buf_printf(&h->answer, "error: %s\n",
			       mixfs_err_msg(&err, ret));
	}
	pthread_mutex_unlock(&h->lock);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

static void ctl_poll(fuse_req_t req, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph)
{
	struct ctl_handle *h = handle_of(fi);
	unsigned revents = POLLIN;

	if (h->ino == CTL_EVENTS) {
		pthread_mutex_lock(&h->lock);
		if (ph) {
			if (h->ph)
				fuse_pollhandle_destroy(h->ph);
			h->ph = ph;
			ph = NULL;
		}
		revents = evt_reader_poll(h->reader) > 0 ? POLLIN : 0;
		pthread_mutex_unlock(&h->lock);
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
}

/* The control directory lists ".", ".." and its files. */
static void ctl_readdir(fuse_req_t req, size_t size, off_t off, bool plus)
{
	struct fsd_mount *m = mount_of(req);
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < (off_t)(NCTL + 2); i++) {
		struct fuse_entry_param e;
		const char *name;
		size_t n;

		memset(&e, 0, sizeof(e));
		if (i < 2) {		/* no lookup reference for dots */
			name = i == 0 ? "." : "..";
			ctl_stat(CTL_DIR, &e.attr);
			e.attr.st_ino = i == 0 ? CTL_DIR : FUSE_ROOT_ID;
		} else {
			if (!ctl_exists(m, ctl_files[i - 2].ino))
				continue;
			name = ctl_files[i - 2].name;
			e.ino = ctl_files[i - 2].ino;
			ctl_stat(e.ino, &e.attr);
			e.attr_timeout = e.entry_timeout = 1.0;
		}
		if (plus)
			n = fuse_add_direntry_plus(req, buf + used,
						   size - used, name, &e, i + 1);
		else
			n = fuse_add_direntry(req, buf + used, size - used,
					      name, &e.attr, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* --- the wrapped entries of the table ----------------------------------- */

static void fsd_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (is_ctl(parent) ||
	    (parent == FUSE_ROOT_ID && !strcmp(name, FSD_CTL_NAME)))
		ctl_lookup(req, parent, name);
	else {
		count(req, FSD_OP_LOOKUP);
		mount_of(req)->driver->ll->lookup(req, parent, name);
	}
}

static void fsd_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fsd_mount *m = mount_of(req);

	if (is_ctl(ino) || !m->driver->ll->forget)
		fuse_reply_none(req);
	else
		m->driver->ll->forget(req, ino, nlookup);
}

static void fsd_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	struct fsd_mount *m = mount_of(req);
	size_t n = 0;

	/* Drop control inodes from the batch in place; the driver sees the
	 * rest as one batch, as the kernel sent it. */
	for (size_t i = 0; i < count; i++)
		if (!is_ctl(forgets[i].ino))
			forgets[n++] = forgets[i];
	if (m->driver->ll->forget_multi)
		m->driver->ll->forget_multi(req, n, forgets);
	else
		fuse_reply_none(req);
}

static void fsd_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct stat st;

	if (!is_ctl(ino)) {
		count(req, FSD_OP_GETATTR);
		mount_of(req)->driver->ll->getattr(req, ino, fi);
		return;
	}
	ctl_stat(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void fsd_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct stat st;

	if (!is_ctl(ino)) {
		count(req, FSD_OP_SETATTR);
		mount_of(req)->driver->ll->setattr(req, ino, attr, to_set, fi);
		return;
	}
	/* `echo cmd > ctl` truncates first: accept a truncation to 0. */
	if (ino != CTL_FILE || (to_set & ~FUSE_SET_ATTR_SIZE) ||
	    attr->st_size != 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	ctl_stat(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void fsd_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_ctl(ino))
		ctl_open(req, ino, fi);
	else {
		count(req, FSD_OP_OPEN);
		mount_of(req)->driver->ll->open(req, ino, fi);
	}
}

static void fsd_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	if (is_ctl(ino))
		ctl_read(req, size, off, fi);
	else {
		count(req, FSD_OP_READ);
		mount_of(req)->driver->ll->read(req, ino, size, off, fi);
	}
}

static void fsd_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	if (is_ctl(ino))
		ctl_write(req, buf, size, fi);
	else {
		count(req, FSD_OP_WRITE);
		mount_of(req)->driver->ll->write(req, ino, buf, size, off, fi);
	}
}

static void fsd_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (!is_ctl(ino)) {
		mount_of(req)->driver->ll->release(req, ino, fi);
		return;
	}
	free_handle(handle_of(fi));
	fuse_reply_err(req, 0);
}

static void fsd_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);

	if (!is_ctl(ino) && m->driver->ll->flush)
		m->driver->ll->flush(req, ino, fi);
	else
		fuse_reply_err(req, is_ctl(ino) ? 0 : ENOSYS);
}

static void fsd_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph)
{
	struct fsd_mount *m = mount_of(req);

	if (is_ctl(ino)) {
		ctl_poll(req, fi, ph);
	} else if (m->driver->ll->poll) {
		m->driver->ll->poll(req, ino, fi, ph);
	} else {
		/* As the kernel does without a poll op: always ready. */
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLOUT);
	}
}

static void fsd_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (!is_ctl(ino)) {
		mount_of(req)->driver->ll->opendir(req, ino, fi);
		return;
	}
	if (ino != CTL_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

static void fsd_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	if (is_ctl(ino))
		ctl_readdir(req, size, off, false);
	else {
		count(req, FSD_OP_READDIR);
		mount_of(req)->driver->ll->readdir(req, ino, size, off, fi);
	}
}

static void fsd_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	if (is_ctl(ino))
		ctl_readdir(req, size, off, true);
	else {
		count(req, FSD_OP_READDIR);
		mount_of(req)->driver->ll->readdirplus(req, ino, size, off,
						       fi);
	}
}

static void fsd_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);

	if (!is_ctl(ino) && m->driver->ll->releasedir)
		m->driver->ll->releasedir(req, ino, fi);
	else
		fuse_reply_err(req, 0);
}

static void fsd_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	struct fsd_mount *m = mount_of(req);

	if (!is_ctl(ino) && m->driver->ll->getxattr)
		m->driver->ll->getxattr(req, ino, name, size);
	else
		fuse_reply_err(req, is_ctl(ino) ? ENODATA : ENOSYS);
}

static void fsd_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fsd_mount *m = mount_of(req);

	if (!is_ctl(ino) && m->driver->ll->listxattr)
		m->driver->ll->listxattr(req, ino, size);
	else if (is_ctl(ino) && size == 0)
		fuse_reply_xattr(req, 0);
	else if (is_ctl(ino))
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_err(req, ENOSYS);
}

/*
 * Requests that create, remove or sync: counted and passed on. Those that
 * name a control inode are refused here, so that the driver never sees
 * one (the directory is mode 0555, but root is not held back by that).
 */
static bool refuse_ctl(fuse_req_t req, fuse_ino_t a, fuse_ino_t b)
{
	if (!is_ctl(a) && !is_ctl(b))
		return false;
	fuse_reply_err(req, EPERM);
	return true;
}

static void fsd_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	if (refuse_ctl(req, parent, parent))
		return;
	count(req, FSD_OP_CREATE);
	mount_of(req)->driver->ll->mknod(req, parent, name, mode, rdev);
}

static void fsd_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	if (refuse_ctl(req, parent, parent))
		return;
	count(req, FSD_OP_CREATE);
	mount_of(req)->driver->ll->create(req, parent, name, mode, fi);
}

static void fsd_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	if (refuse_ctl(req, parent, parent))
		return;
	count(req, FSD_OP_MKDIR);
	mount_of(req)->driver->ll->mkdir(req, parent, name, mode);
}

static void fsd_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	if (refuse_ctl(req, parent, parent))
		return;
	count(req, FSD_OP_SYMLINK);
	mount_of(req)->driver->ll->symlink(req, link, parent, name);
}

static void fsd_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	if (refuse_ctl(req, ino, newparent))
		return;
	count(req, FSD_OP_LINK);
	mount_of(req)->driver->ll->link(req, ino, newparent, newname);
}

static void fsd_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (refuse_ctl(req, parent, parent))
		return;
	count(req, FSD_OP_UNLINK);
	mount_of(req)->driver->ll->unlink(req, parent, name);
}

static void fsd_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (refuse_ctl(req, parent, parent))
		return;
	count(req, FSD_OP_RMDIR);
	mount_of(req)->driver->ll->rmdir(req, parent, name);
}

static void fsd_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	if (refuse_ctl(req, parent, newparent))
		return;
	count(req, FSD_OP_RENAME);
	mount_of(req)->driver->ll->rename(req, parent, name, newparent,
					  newname, flags);
}

static void fsd_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	if (is_ctl(ino)) {
		fuse_reply_err(req, 0);	/* nothing of ours to sync */
		return;
	}
	count(req, FSD_OP_FSYNC);
	mount_of(req)->driver->ll->fsync(req, ino, datasync, fi);
}

static void fsd_statfs(fuse_req_t req, fuse_ino_t ino)
{
	count(req, FSD_OP_STATFS);
	mount_of(req)->driver->ll->statfs(req, ino);
}

void fsd_ctl_build_ops(struct fuse_lowlevel_ops *ll,
		       const struct fuse_lowlevel_ops *drv)
{
	*ll = *drv;
	ll->lookup = fsd_lookup;
	ll->forget = fsd_forget;
	ll->forget_multi = fsd_forget_multi;
	ll->getattr = fsd_getattr;
	ll->setattr = fsd_setattr;
	ll->open = fsd_open;
	ll->read = fsd_read;
	ll->write = fsd_write;
	ll->release = fsd_release;
	ll->flush = fsd_flush;
	ll->poll = fsd_poll;
	ll->opendir = fsd_opendir;
	ll->readdir = fsd_readdir;
	if (drv->readdirplus)
		ll->readdirplus = fsd_readdirplus;
	ll->releasedir = fsd_releasedir;
	ll->getxattr = fsd_getxattr;
	ll->listxattr = fsd_listxattr;
	/* write_buf would bypass fsd_write for the control file. */
	ll->write_buf = NULL;
	/* Counted only; an entry the driver leaves out stays out. */
	if (drv->mknod)
		ll->mknod = fsd_mknod;
	if (drv->create)
		ll->create = fsd_create;
	if (drv->mkdir)
		ll->mkdir = fsd_mkdir;
	if (drv->symlink)
		ll->symlink = fsd_symlink;
	if (drv->link)
		ll->link = fsd_link;
	if (drv->unlink)
		ll->unlink = fsd_unlink;
	if (drv->rmdir)
		ll->rmdir = fsd_rmdir;
	if (drv->rename)
		ll->rename = fsd_rename;
	if (drv->fsync)
		ll->fsync = fsd_fsync;
	if (drv->statfs)
		ll->statfs = fsd_statfs;
}

/* --- events ------------------------------------------------------------- */

int fsd_events_open(struct fsd_mount *m, const unsigned char uuid[16],
		    struct evt_store *store, struct mixfs_err *err)
{
	struct evt_config cfg;
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.uuid, uuid, 16);
	cfg.ring = m->opts.ev.ring;
	cfg.keep = m->opts.ev.keep;
	cfg.store = store;
	cfg.store_timeout_ms = m->opts.ev.store_timeout_ms;
	ret = evt_open(&cfg, &m->events, err);
	if (ret)
		return ret;
	ret = evt_opts_apply(&m->opts.ev, m->events, err);
	if (ret) {
		evt_close(m->events);
		m->events = NULL;
		return ret;
	}
	if (m->opts.ev.socket[0]) {
		snprintf(m->socket, sizeof(m->socket), "%s", m->opts.ev.socket);
	} else {
		char u[37];
		const char *run = getenv("XDG_RUNTIME_DIR");

		uuid_unparse(uuid, u);
		if (geteuid() == 0 || !run || !*run)
			run = "/run";
		snprintf(m->socket, sizeof(m->socket), "%s/mixfs/%s.sock",
			 run, u);
	}
	return 0;
}

void fsd_events_close(struct fsd_mount *m)
{
	evt_close(m->events);
	m->events = NULL;
}

int fsd_events_mounted(struct fsd_mount *m, struct mixfs_err *err)
{
	struct evt_feed_config fc;
	char dir[108], *slash;
	int ret;

	if (!m->events)
		return 0;
	evt_set_mount(m->events, m->mountpoint);
	snprintf(dir, sizeof(dir), "%s", m->socket);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);	/* /run/mixfs: the feed checks the rest */
	}
	memset(&fc, 0, sizeof(fc));
	fc.path = m->socket;
	ret = evt_feed_start(m->events, &fc, &m->feed, err);
	if (ret)
		return mixfs_err_prefix(err, ret, "event feed at %s", m->socket);
	evt_emit(m->events, EVT_MOUNTED, "driver", m->driver->name,
		 "store", m->uri ? m->uri : "", NULL);
	return 0;
}

void fsd_events_unmounted(struct fsd_mount *m)
{
	if (!m->events)
		return;
	evt_emit(m->events, EVT_UNMOUNTED, NULL);
	evt_feed_stop(m->feed);
	m->feed = NULL;
}

enum evt_errors fsd_io_error(struct fsd_mount *m, const char *op,
			     uint64_t ino, int rc)
{
	enum evt_errors act = m->opts.ev.errors;

	if (m->events)
		act = evt_io_error(m->events, act, op, ino, NULL, rc);
	if (act == EVT_ERRORS_REMOUNT_RO && !m->opts.readonly) {
		m->opts.readonly = true;
		if (m->events)
			evt_emit(m->events, EVT_REMOUNTED_RO, "op", op, NULL);
	} else if (act == EVT_ERRORS_UNMOUNT && m->se) {
		fuse_session_exit(m->se);
	}
	return act;
}
