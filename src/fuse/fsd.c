/*
 * fsd.c - the thin FUSE layer: options, the session loop, and the `.mixfs/`
 * control directory.
 *
 * The layer's own fuse_lowlevel_ops table is the driver's table with a
 * handful of entries replaced by functions that answer requests for control
 * inodes (>= FSD_CTL_INO_BASE) and pass everything else to the driver
 * unchanged. Nothing is cached or locked on the way.
 */
#include "fuse/fsd.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct fsd_mount *mount_of(fuse_req_t req);

/* --- text buffer -------------------------------------------------------- */

void fsd_buf_printf(struct fsd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->data, cap);

		if (!p)
			return;	/* answers are best effort under OOM */
		b->data = p;
		b->cap = cap;
	}
}

void fsd_buf_release(struct fsd_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* --- options ------------------------------------------------------------ */

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 1024)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int fsd_opts_parse(struct fsd_opts *o, const char *text,
		   struct mixfs_err *err)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	if (!o->max_threads)
		o->max_threads = 8;
	if (!text)
		return 0;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ro")) {
			o->readonly = true;
		} else if (!strcmp(tok, "rw")) {
			o->readonly = false;
		} else if (!strcmp(tok, "allow_other")) {
			o->allow_other = true;
		} else if (!strcmp(tok, "nonempty")) {
			o->nonempty = true;
		} else if (!strcmp(tok, "debug")) {
			o->debug = true;
		} else if (!strcmp(tok, "default_permissions")) {
			/* always on */
		} else if (!strncmp(tok, "max_threads=", 12)) {
			if (parse_uint(tok + 12, &o->max_threads))
				ret = mixfs_err_set(err, -EINVAL,
					"option max_threads wants 1..1024, not '%s'",
					tok + 12);
		} else if (tok[0] == '=' ) {
			ret = mixfs_err_set(err, -EINVAL,
				"malformed option '%s'", tok);
		} else {
			char **p = realloc(o->drv, (o->ndrv + 1) * sizeof(*p));

			if (!p || !(p[o->ndrv] = strdup(tok))) {
				if (p)
					o->drv = p;
				ret = -ENOMEM;
				break;
			}
			o->drv = p;
			o->ndrv++;
		}
	}
	free(copy);
	return ret;
}

void fsd_opts_release(struct fsd_opts *o)
{
	size_t i;

	for (i = 0; i < o->ndrv; i++)
		free(o->drv[i]);
	free(o->drv);
	o->drv = NULL;
	o->ndrv = 0;
}

const char *fsd_opts_get(const struct fsd_opts *o, const char *key)
{
	size_t i, n = strlen(key);

	for (i = 0; i < o->ndrv; i++) {
		const char *d = o->drv[i];

		if (!strncmp(d, key, n) && (d[n] == '=' || d[n] == '\0'))
			return d[n] == '=' ? d + n + 1 : d + n;
	}
	return NULL;
}

/* --- control directory -------------------------------------------------- */

enum {
	CTL_DIR = FSD_CTL_INO_BASE + 1,
	CTL_FILE = FSD_CTL_INO_BASE + 2,
};

/* Per-open state of .mixfs/ctl: the answer to read back. */
struct ctl_handle {
	pthread_mutex_t lock;
	struct fsd_buf answer;
};

static bool is_ctl(fuse_ino_t ino)
{
	return ino >= FSD_CTL_INO_BASE;
}

static void ctl_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = 0;
	st->st_gid = 0;
	if (ino == CTL_DIR) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
	}
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
		fsd_buf_printf(out, "commands: status, help%s\n",
			       m->driver->ctl ? ", and the driver's" : "");
		return 0;
	}
	if (m->driver->ctl)
		return m->driver->ctl(m, cmd, out, err);
	return mixfs_err_set(err, -EINVAL, "unknown command '%s'", cmd);
}

static void ctl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (parent == CTL_DIR && !strcmp(name, "ctl"))
		e.ino = CTL_FILE;
	else if (parent == FUSE_ROOT_ID && !strcmp(name, FSD_CTL_NAME))
		e.ino = CTL_DIR;
	else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ctl_stat(e.ino, &e.attr);
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	e.generation = 1;
	fuse_reply_entry(req, &e);
}

static void fsd_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd_mount *m = mount_of(req);

	if (is_ctl(parent) ||
	    (parent == FUSE_ROOT_ID && !strcmp(name, FSD_CTL_NAME)))
		ctl_lookup(req, parent, name);
	else
		m->driver->ll->lookup(req, parent, name);
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
	size_t i, n = 0;

	/* Drop control inodes from the batch in place; the driver sees the
	 * rest as one batch, as the kernel sent it. */
	for (i = 0; i < count; i++)
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
	struct fsd_mount *m = mount_of(req);
	struct stat st;

	if (!is_ctl(ino)) {
		m->driver->ll->getattr(req, ino, fi);
		return;
	}
	ctl_stat(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void fsd_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);
	struct stat st;

	if (!is_ctl(ino)) {
		m->driver->ll->setattr(req, ino, attr, to_set, fi);
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
	struct fsd_mount *m = mount_of(req);
	struct ctl_handle *h;

	if (!is_ctl(ino)) {
		m->driver->ll->open(req, ino, fi);
		return;
	}
	if (ino != CTL_FILE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&h->lock, NULL);
	ctl_status(m, &h->answer);
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;	/* size 0 in stat must not stop reads */
	fi->nonseekable = 0;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fsd_buf_release(&h->answer);
		free(h);
	}
}

static void fsd_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);
	struct ctl_handle *h;

	if (!is_ctl(ino)) {
		m->driver->ll->read(req, ino, size, off, fi);
		return;
	}
	h = (struct ctl_handle *)(uintptr_t)fi->fh;
	pthread_mutex_lock(&h->lock);
	if (off < 0 || (size_t)off >= h->answer.len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, h->answer.data + off,
			       size < h->answer.len - (size_t)off ?
			       size : h->answer.len - (size_t)off);
	pthread_mutex_unlock(&h->lock);
}

static void fsd_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);
	struct mixfs_err err = { 0 };
	struct ctl_handle *h;
	char cmd[512];
	size_t n = size;
	int ret;

	(void)off;
	if (!is_ctl(ino)) {
		m->driver->ll->write(req, ino, buf, size, off, fi);
		return;
	}
	h = (struct ctl_handle *)(uintptr_t)fi->fh;
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

static void fsd_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);
	struct ctl_handle *h;

	if (!is_ctl(ino)) {
		m->driver->ll->release(req, ino, fi);
		return;
	}
	h = (struct ctl_handle *)(uintptr_t)fi->fh;
	if (h) {
		pthread_mutex_destroy(&h->lock);
		fsd_buf_release(&h->answer);
		free(h);
	}
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

static void fsd_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);

	if (!is_ctl(ino)) {
		m->driver->ll->opendir(req, ino, fi);
		return;
	}
	if (ino != CTL_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

/* The control directory lists ".", ".." and "ctl". */
static void ctl_readdir(fuse_req_t req, size_t size, off_t off, bool plus)
{
	static const struct { const char *name; fuse_ino_t ino; } ents[] = {
		{ ".", CTL_DIR }, { "..", FUSE_ROOT_ID }, { "ctl", CTL_FILE },
	};
	char *buf = malloc(size);
	size_t used = 0;
	off_t i;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off; i < (off_t)(sizeof(ents) / sizeof(ents[0])); i++) {
		struct fuse_entry_param e;
		size_t n;

		memset(&e, 0, sizeof(e));
		e.ino = ents[i].ino;
		ctl_stat(e.ino == FUSE_ROOT_ID ? CTL_DIR : e.ino, &e.attr);
		e.attr.st_ino = e.ino;
		if (plus && i >= 2) {
			e.attr_timeout = e.entry_timeout = 1.0;
			n = fuse_add_direntry_plus(req, buf + used, size - used,
						   ents[i].name, &e, i + 1);
		} else if (plus) {
			/* "." and ".." carry no lookup reference. */
			e.ino = 0;
			e.attr.st_ino = ents[i].ino;
			n = fuse_add_direntry_plus(req, buf + used, size - used,
						   ents[i].name, &e, i + 1);
		} else {
			n = fuse_add_direntry(req, buf + used, size - used,
					      ents[i].name, &e.attr, i + 1);
		}
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fsd_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);

	if (is_ctl(ino))
		ctl_readdir(req, size, off, false);
	else
		m->driver->ll->readdir(req, ino, size, off, fi);
}

static void fsd_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	struct fsd_mount *m = mount_of(req);

	if (is_ctl(ino))
		ctl_readdir(req, size, off, true);
	else
		m->driver->ll->readdirplus(req, ino, size, off, fi);
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

/* --- session ------------------------------------------------------------ */

static struct fsd_mount *mount_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The driver's table with the control-directory entries wrapped. Entries
 * the driver leaves NULL stay NULL where the wrapper would only forward. */
static void build_ops(struct fuse_lowlevel_ops *ll,
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
	ll->opendir = fsd_opendir;
	ll->readdir = fsd_readdir;
	if (drv->readdirplus)
		ll->readdirplus = fsd_readdirplus;
	ll->releasedir = fsd_releasedir;
	ll->getxattr = fsd_getxattr;
	ll->listxattr = fsd_listxattr;
	/* write_buf would bypass fsd_write for the control file. */
	ll->write_buf = NULL;
}

static int check_mountpoint(const char *mp, bool nonempty,
			    struct mixfs_err *err)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (stat(mp, &st) < 0)
		return mixfs_err_set(err, -errno, "mount point %s: %s", mp,
				     strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mixfs_err_set(err, -ENOTDIR,
				     "mount point %s is not a directory", mp);
	if (nonempty)
		return 0;
	d = opendir(mp);
	if (!d)
		return mixfs_err_set(err, -errno, "mount point %s: %s", mp,
				     strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	if (n)
		return mixfs_err_set(err, -ENOTEMPTY,
			"mount point %s is not empty (use -o nonempty to mount over it)",
			mp);
	return 0;
}

int fsd_serve(struct fsd_mount *m, const char *mountpoint, int ready_fd,
	      struct mixfs_err *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	char fsname[300], subtype[64];
	int ret;

	m->mounted_at = time(NULL);
	m->mountpoint = mountpoint;
	build_ops(&m->ll, m->driver->ll);

	ret = check_mountpoint(mountpoint, m->opts.nonempty, err);
	if (ret)
		return ret;
	if (access("/dev/fuse", R_OK | W_OK) < 0)
		return mixfs_err_set(err, -ENODEV,
			"/dev/fuse is missing or not usable (%s): load the fuse module or install fuse3",
			strerror(errno));

	snprintf(fsname, sizeof(fsname), "-ofsname=mixfs:%s",
		 m->uri ? m->uri : m->driver->name);
	/* fsname must not contain commas: libfuse would split it. */
	for (char *p = fsname + 9; *p; p++)
		if (*p == ',')
			*p = ';';
	snprintf(subtype, sizeof(subtype), "-osubtype=mixfs.%s",
		 m->driver->name);
	if (fuse_opt_add_arg(&args, "mixfs") ||
	    fuse_opt_add_arg(&args, fsname) ||
	    fuse_opt_add_arg(&args, subtype) ||
	    fuse_opt_add_arg(&args, "-odefault_permissions") ||
	    (m->opts.readonly && fuse_opt_add_arg(&args, "-oro")) ||
	    ((m->opts.allow_other || geteuid() == 0) &&
	     fuse_opt_add_arg(&args, "-oallow_other")) ||
	    (m->opts.debug && fuse_opt_add_arg(&args, "-d"))) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_args;
	}

	m->se = fuse_session_new(&args, &m->ll, sizeof(m->ll), m);
	if (!m->se) {
		ret = mixfs_err_set(err, -EINVAL,
				    "could not start a FUSE session");
		goto out_args;
	}
	if (fuse_set_signal_handlers(m->se)) {
		ret = mixfs_err_set(err, -EIO, "could not set signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(m->se, mountpoint)) {
		ret = mixfs_err_set(err, -EIO, "could not mount on %s",
				    mountpoint);
		goto out_signals;
	}
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "0", 1);

		(void)w;
		close(ready_fd);
	}

	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_unmount;
	}
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, m->opts.max_threads);
	ret = fuse_session_loop_mt(m->se, cfg);
	if (ret > 0)
		ret = 0;	/* terminated by a signal: a clean stop */
	else if (ret < 0)
		mixfs_err_set(err, ret, "FUSE session loop failed: %s",
			      strerror(-ret));
	fuse_loop_cfg_destroy(cfg);
out_unmount:
	fuse_session_unmount(m->se);
out_signals:
	fuse_remove_signal_handlers(m->se);
out_session:
	fuse_session_destroy(m->se);
	m->se = NULL;
out_args:
	fuse_opt_free_args(&args);
	return ret;
}

/* --- inode reference table ---------------------------------------------- */

struct fsd_iref {
	uint64_t ino;		/* 0: empty slot */
	uint64_t count;
};

int fsd_itable_init(struct fsd_itable *t)
{
	memset(t, 0, sizeof(*t));
	t->nslots = 1024;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void fsd_itable_release(struct fsd_itable *t)
{
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	t->slots = NULL;
}

static size_t iref_hash(uint64_t ino, size_t nslots)
{
	return (size_t)((ino * UINT64_C(0x9e3779b97f4a7c15)) >> 20) &
	       (nslots - 1);
}

static struct fsd_iref *iref_find(struct fsd_iref *slots, size_t nslots,
				  uint64_t ino)
{
	size_t i = iref_hash(ino, nslots);

	while (slots[i].ino && slots[i].ino != ino)
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

static int iref_grow(struct fsd_itable *t)
{
	size_t n = t->nslots * 2, i;
	struct fsd_iref *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].ino)
			*iref_find(slots, n, t->slots[i].ino) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return 0;
}

int fsd_itable_ref(struct fsd_itable *t, uint64_t ino, uint64_t n)
{
	struct fsd_iref *r;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	if ((t->used + 1) * 2 > t->nslots)
		ret = iref_grow(t);
	if (!ret) {
		r = iref_find(t->slots, t->nslots, ino);
		if (!r->ino) {
			r->ino = ino;
			t->used++;
		}
		r->count += n;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* Remove slot @i keeping every probe chain intact (backward shift). */
static void iref_delete(struct fsd_itable *t, size_t i)
{
	size_t mask = t->nslots - 1, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!t->slots[j].ino)
			break;
		size_t h = iref_hash(t->slots[j].ino, t->nslots);

		/* Move j back to i if its home is not in (i, j]. */
		if ((j > i && (h <= i || h > j)) ||
		    (j < i && (h <= i && h > j))) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].ino = 0;
	t->slots[i].count = 0;
	t->used--;
}

uint64_t fsd_itable_unref(struct fsd_itable *t, uint64_t ino, uint64_t n)
{
	struct fsd_iref *r;
	uint64_t left = 0;

	pthread_mutex_lock(&t->lock);
	r = iref_find(t->slots, t->nslots, ino);
	if (r->ino) {
		r->count = r->count > n ? r->count - n : 0;
		left = r->count;
		if (!left)
			iref_delete(t, (size_t)(r - t->slots));
	}
	pthread_mutex_unlock(&t->lock);
	return left;
}

uint64_t fsd_itable_count(struct fsd_itable *t, uint64_t ino)
{
	uint64_t c;

	pthread_mutex_lock(&t->lock);
	c = iref_find(t->slots, t->nslots, ino)->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}
