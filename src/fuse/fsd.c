/*
 * fsd.c - the thin FUSE layer: options, the session loop, and the inode
 * reference table helper. The control directory and events are in ctl.c.
 */
#include "fuse/internal.h"

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

/* 1: an events option, taken; 0: not one; <0: a malformed one. */
static int events_option(struct fsd_opts *o, char *tok, struct mixfs_err *err)
{
	char *eq = strchr(tok, '=');
	int ret;

	if (eq)
		*eq = '\0';
	ret = evt_opts_parse_one(&o->ev, tok, eq ? eq + 1 : NULL, err);
	if (eq)
		*eq = '=';
	return ret;
}

/*
 * Cut the next option off *@p, in place: options end at a ',' that no
 * backslash escapes (as in libfuse's option parser), so a value may hold
 * commas: data=faulty:op=write\,count=2:mem:. NULL at the end.
 */
static char *next_option(char **p)
{
	char *tok = *p, *in = *p, *out = *p;

	while (*tok == ',')
		tok = in = out = tok + 1;
	if (!*tok)
		return NULL;
	for (; *in && *in != ','; in++) {
		if (*in == '\\' && in[1])
			in++;
		*out++ = *in;
	}
	*p = *in ? in + 1 : in;
	*out = '\0';
	return tok;
}

int fsd_opts_parse(struct fsd_opts *o, const char *text,
		   struct mixfs_err *err)
{
	char *copy, *tok, *rest;
	int ret = 0;

	if (!o->max_threads) {
		o->max_threads = 8;
		evt_opts_init(&o->ev);
	}
	if (!text)
		return 0;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	rest = copy;
	while (!ret && (tok = next_option(&rest))) {
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
		} else if ((ret = events_option(o, tok, err)) != 0) {
			ret = ret < 0 ? ret : 0;
		} else if (tok[0] == '=') {
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
	if (!ret)
		ret = evt_opts_finish(&o->ev, err);
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

/* --- session ------------------------------------------------------------ */

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
	fsd_ctl_build_ops(&m->ll, m->driver->ll);

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
	ret = fsd_events_mounted(m, err);
	if (ret)
		goto out_unmount;
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "0", 1);

		(void)w;
		close(ready_fd);
	}

	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		fsd_events_unmounted(m);
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
	fsd_events_unmounted(m);
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
