/*
 * model.c - the POSIX crash model of model.h: current state, what each
 * fsync acknowledged, what became possible since, and the check of a
 * real tree after a crash.
 *
 * Deliberately not modelled: permissions, times, link counts, xattrs
 * (fsck checks link counts; the POSIX suites check the rest), and any
 * ordering among unacknowledged changes (POSIX promises none).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

struct mver {
	unsigned char *data;
	size_t size;
	/* A write that extended the file may be cut short by the crash
	 * (the kernel splits it into several requests): any size from the
	 * one before it up to @size may show. */
	size_t size_lo;
	uint64_t step;		/* the operation that made this version */
};

struct mname;

struct mnode {
	struct mnode *all_next;	/* every node, for freeing */
	int id;			/* creation order, for messages */
	bool dir;
	uint64_t ino;		/* st_ino on the real filesystem, 0: unknown */
	/* files: vers[0] is the acknowledged contents (or the empty file
	 * the create made), the last one the current contents */
	struct mver *vers;
	int nvers;
	uint64_t data_ack;	/* step of the acknowledging fsync, 0: none */
	/* directories */
	struct mname *names;
	int nnames, cap;
	uint64_t dir_ack;	/* step of the last acknowledged fsync */
	bool visited;		/* during model_check */
	int refs;		/* names that show or may show it */
};

/* A name in a directory: hist[0] is its binding as of the directory's
 * last acknowledged fsync (NULL: absent), the rest every binding since;
 * cur the binding now. A name absent both then and now is dropped. */
struct mname {
	char name[NAME_MAX + 1];
	struct mnode *cur;
	struct mnode **hist;
	int nhist;
};

struct model {
	struct mnode *root;
	struct mnode *all;
	int nnodes;
	uint64_t acks;
	bool sizes_only;	/* no bytes kept: for predicting results */
};

/* --- data ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

unsigned char crash_data_byte(uint64_t seed, uint64_t off)
{
	return (unsigned char)(mix64(seed * 0x100000001b3ull + (off >> 3)) >>
			       ((off & 7) * 8));
}

void crash_data_fill(uint64_t seed, uint64_t off, unsigned char *buf,
		     size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = crash_data_byte(seed, off + i);
}

/* --- operations by name ------------------------------------------------ */

static const char *const cop_names[COP_NR] = {
	[COP_CREATE] = "create", [COP_MKDIR] = "mkdir", [COP_RMDIR] = "rmdir",
	[COP_UNLINK] = "unlink", [COP_LINK] = "link", [COP_RENAME] = "rename",
	[COP_WRITE] = "write", [COP_TRUNCATE] = "truncate",
	[COP_FSYNC] = "fsync", [COP_FDATASYNC] = "fdatasync",
};

const char *cop_name(enum cop op)
{
	return op < COP_NR ? cop_names[op] : "?";
}

int cop_parse(const char *name)
{
	for (int i = 0; i < COP_NR; i++)
		if (!strcmp(name, cop_names[i]))
			return i;
	return -1;
}

int cop_format(const struct cop_rec *op, char *buf, size_t size)
{
	switch (op->op) {
	case COP_LINK:
	case COP_RENAME:
		return snprintf(buf, size, "%s %s %s", cop_name(op->op),
				op->path, op->path2);
	case COP_WRITE:
		return snprintf(buf, size, "%s %s %llu %llu %llu",
				cop_name(op->op), op->path,
				(unsigned long long)op->off,
				(unsigned long long)op->len,
				(unsigned long long)op->seed);
	case COP_TRUNCATE:
		return snprintf(buf, size, "%s %s %llu", cop_name(op->op),
				op->path, (unsigned long long)op->off);
	default:
		return snprintf(buf, size, "%s %s", cop_name(op->op),
				op->path);
	}
}

/* --- nodes and names ------------------------------------------------------- */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		abort();
	return p;
}

static struct mnode *node_new(struct model *m, bool dir, uint64_t ino,
			      uint64_t step)
{
	struct mnode *n = xcalloc(1, sizeof(*n));

	n->id = ++m->nnodes;
	n->dir = dir;
	n->ino = ino;
	if (!dir) {
		n->vers = xcalloc(1, sizeof(*n->vers));
		n->vers[0].step = step;
		n->nvers = 1;
	}
	n->all_next = m->all;
	m->all = n;
	return n;
}

static void node_free(struct mnode *n)
{
	for (int i = 0; i < n->nvers; i++)
		free(n->vers[i].data);
	free(n->vers);
	for (int i = 0; i < n->nnames; i++)
		free(n->names[i].hist);
	free(n->names);
	free(n);
}

struct model *model_new(void)
{
	struct model *m = xcalloc(1, sizeof(*m));

	m->root = node_new(m, true, 0, 0);
	return m;
}

struct model *model_new_sizes_only(void)
{
	struct model *m = model_new();

	m->sizes_only = true;
	return m;
}

void model_free(struct model *m)
{
	struct mnode *n, *next;

	if (!m)
		return;
	for (n = m->all; n; n = next) {
		next = n->all_next;
		node_free(n);
	}
	free(m);
}

uint64_t model_acks(const struct model *m)
{
	return m->acks;
}

static struct mname *name_find(struct mnode *d, const char *name)
{
	for (int i = 0; i < d->nnames; i++)
		if (!strcmp(d->names[i].name, name))
			return &d->names[i];
	return NULL;
}

static struct mnode *lookup(struct mnode *d, const char *name)
{
	struct mname *n = name_find(d, name);

	return n ? n->cur : NULL;
}

static void hist_add(struct mname *n, struct mnode *x)
{
	for (int i = 0; i < n->nhist; i++)
		if (n->hist[i] == x)
			return;
	n->hist = xrealloc(n->hist, (n->nhist + 1) * sizeof(*n->hist));
	n->hist[n->nhist++] = x;
	if (x)
		x->refs++;
}

/* A name no longer may show @x. Once none may, a file's contents can
 * never be looked at again: a long run would otherwise keep every
 * version of every file it ever deleted. */
static void unref(struct mnode *x)
{
	if (!x || --x->refs > 0 || x->dir)
		return;
	for (int i = 0; i < x->nvers; i++)
		free(x->vers[i].data);
	x->vers[0] = x->vers[x->nvers - 1];
	x->vers[0].data = NULL;
	x->vers[0].size = 0;
	x->nvers = 1;
}

/* Bind @name in @d to @x (NULL: remove it); the old binding stays
 * possible until @d's entries are acknowledged. */
static void bind(struct mnode *d, const char *name, struct mnode *x)
{
	struct mname *n = name_find(d, name);

	if (!n) {
		if (!x)
			return;
		if (d->nnames == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 8;
			d->names = xrealloc(d->names,
					    d->cap * sizeof(*d->names));
		}
		n = &d->names[d->nnames++];
		memset(n, 0, sizeof(*n));
		snprintf(n->name, sizeof(n->name), "%s", name);
		hist_add(n, NULL);
	}
	n->cur = x;
	hist_add(n, x);
}

static void ack_dir(struct model *m, struct mnode *d, uint64_t step)
{
	int j = 0;

	for (int i = 0; i < d->nnames; i++) {
		struct mname *n = &d->names[i];

		for (int k = 0; k < n->nhist; k++)
			if (n->hist[k] != n->cur)
				unref(n->hist[k]);
		if (!n->cur) {
			free(n->hist);
			continue;
		}
		n->hist[0] = n->cur;
		n->nhist = 1;
		d->names[j++] = *n;
	}
	d->nnames = j;
	d->dir_ack = step;
	m->acks++;
}

static void ack_file(struct model *m, struct mnode *f, uint64_t step)
{
	for (int i = 0; i < f->nvers - 1; i++)
		free(f->vers[i].data);
	f->vers[0] = f->vers[f->nvers - 1];
	f->vers[0].size_lo = f->vers[0].size;
	f->nvers = 1;
	f->data_ack = step;
	m->acks++;
}

static bool dir_empty(const struct mnode *d)
{
	for (int i = 0; i < d->nnames; i++)
		if (d->names[i].cur)
			return false;
	return true;
}

/* --- paths ----------------------------------------------------------------- */

/*
 * Walk @path from the root through the current bindings: *@dir gets the
 * directory holding the last component (NULL for "."), @leaf its name,
 * *@node what it is bound to (NULL: nothing). -ENOENT or -ENOTDIR when
 * a directory on the way is missing or is a file.
 */
static int resolve(struct model *m, const char *path, struct mnode **dir,
		   char *leaf, struct mnode **node)
{
	char buf[CRASH_PATH_MAX];
	struct mnode *d = m->root;
	char *p, *slash;

	if (!strcmp(path, ".")) {
		*dir = NULL;
		leaf[0] = 0;
		*node = m->root;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	p = buf;
	while ((slash = strchr(p, '/'))) {
		struct mnode *x;

		*slash = 0;
		x = lookup(d, p);
		if (!x)
			return -ENOENT;
		if (!x->dir)
			return -ENOTDIR;
		d = x;
		p = slash + 1;
	}
	*dir = d;
	snprintf(leaf, NAME_MAX + 1, "%s", p);
	*node = lookup(d, p);
	return 0;
}

static struct mnode *node_at(struct model *m, const char *path)
{
	struct mnode *d, *x;
	char leaf[NAME_MAX + 1];

	return resolve(m, path, &d, leaf, &x) ? NULL : x;
}

bool model_is_dir(struct model *m, const char *path)
{
	struct mnode *x = node_at(m, path);

	return x && x->dir;
}

bool model_exists(struct model *m, const char *path)
{
	return node_at(m, path) != NULL;
}

uint64_t model_size(struct model *m, const char *path)
{
	struct mnode *x = node_at(m, path);

	return x && !x->dir ? x->vers[x->nvers - 1].size : 0;
}

int model_versions(struct model *m, const char *path)
{
	struct mnode *x = node_at(m, path);

	return x && !x->dir ? x->nvers : 0;
}

/* Is @inner the same as @outer or below it? */
static bool path_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	return !strncmp(inner, outer, n) && (inner[n] == 0 || inner[n] == '/');
}

/* --- predicting and applying ----------------------------------------------- */

long model_predict(struct model *m, const struct cop_rec *op)
{
	struct mnode *d, *x, *d2, *y;
	char leaf[NAME_MAX + 1], leaf2[NAME_MAX + 1];
	int ret = resolve(m, op->path, &d, leaf, &x);

	if (ret)
		return ret;
	if (!d && op->op != COP_FSYNC && op->op != COP_FDATASYNC)
		return -EINVAL;		/* the root itself */
	switch (op->op) {
	case COP_CREATE:
	case COP_MKDIR:
		return x ? -EEXIST : 0;
	case COP_RMDIR:
		if (!x)
			return -ENOENT;
		if (!x->dir)
			return -ENOTDIR;
		return dir_empty(x) ? 0 : -ENOTEMPTY;
	case COP_UNLINK:
		if (!x)
			return -ENOENT;
		return x->dir ? -EISDIR : 0;
	case COP_WRITE:
	case COP_TRUNCATE:
		if (!x)
			return -ENOENT;
		if (x->dir)
			return -EISDIR;
		return op->op == COP_WRITE ? (long)op->len : 0;
	case COP_FSYNC:
	case COP_FDATASYNC:
		return x ? 0 : -ENOENT;
	case COP_LINK:
	case COP_RENAME:
		break;
	default:
		return -EINVAL;
	}
	if (!x)
		return -ENOENT;
	ret = resolve(m, op->path2, &d2, leaf2, &y);
	if (ret)
		return ret;
	if (!d2)
		return op->op == COP_LINK ? -EEXIST : -EBUSY;
	if (op->op == COP_LINK) {
		if (x->dir)
			return -EPERM;
		return y ? -EEXIST : 0;
	}
	if (y == x)
		return 0;	/* two names of one inode: nothing happens */
	if (x->dir) {
		if (path_within(op->path2, op->path))
			return -EINVAL;
		if (y && !y->dir)
			return -ENOTDIR;
		if (y && !dir_empty(y))
			return -ENOTEMPTY;
		return 0;
	}
	if (y && y->dir)
		return -EISDIR;
	return 0;
}

/* A new current version of @f: a copy of the current one, resized to
 * @size (zeros past the old end). */
static struct mver *push_version(struct model *m, struct mnode *f,
				 size_t size, uint64_t step)
{
	struct mver *cur = &f->vers[f->nvers - 1], *v;
	unsigned char *data = m->sizes_only ? NULL : xcalloc(size ? size : 1, 1);

	if (data && cur->size && size)
		memcpy(data, cur->data, cur->size < size ? cur->size : size);
	f->vers = xrealloc(f->vers, (f->nvers + 1) * sizeof(*f->vers));
	v = &f->vers[f->nvers++];
	v->data = data;
	v->size = size;
	v->size_lo = size;
	v->step = step;
	return v;
}

static void apply(struct model *m, const struct cop_rec *op, long ret,
		  uint64_t ino, uint64_t step, bool ack)
{
	struct mnode *d, *x, *d2, *y;
	char leaf[NAME_MAX + 1], leaf2[NAME_MAX + 1];
	struct mver *v;
	size_t end, old;

	resolve(m, op->path, &d, leaf, &x);
	switch (op->op) {
	case COP_CREATE:
	case COP_MKDIR:
		bind(d, leaf, node_new(m, op->op == COP_MKDIR, ino, step));
		break;
	case COP_RMDIR:
	case COP_UNLINK:
		bind(d, leaf, NULL);
		break;
	case COP_LINK:
		resolve(m, op->path2, &d2, leaf2, &y);
		bind(d2, leaf2, x);
		break;
	case COP_RENAME:
		resolve(m, op->path2, &d2, leaf2, &y);
		if (y == x)
			break;
		bind(d2, leaf2, x);
		bind(d, leaf, NULL);
		break;
	case COP_WRITE:
		if (ret <= 0)
			break;
		end = op->off + (size_t)ret;
		old = x->vers[x->nvers - 1].size;
		v = push_version(m, x, end > old ? end : old, step);
		v->size_lo = old;
		if (v->data)
			crash_data_fill(op->seed, op->off, v->data + op->off,
					(size_t)ret);
		break;
	case COP_TRUNCATE:
		push_version(m, x, op->off, step);
		break;
	case COP_FSYNC:
	case COP_FDATASYNC:
		if (!ack)
			break;
		if (x->dir)
			ack_dir(m, x, step);
		else
			ack_file(m, x, step);
		break;
	default:
		break;
	}
}

int model_apply(struct model *m, const struct cop_rec *op, long ret,
		uint64_t ino, uint64_t step)
{
	long want = model_predict(m, op);

	if (want < 0)
		return -EINVAL;
	apply(m, op, ret, ino, step, true);
	return 0;
}

void model_apply_maybe(struct model *m, const struct cop_rec *op,
		       uint64_t step)
{
	long want = model_predict(m, op);

	if (want >= 0)
		apply(m, op, want, 0, step, false);
}

/* --- listing --------------------------------------------------------------- */

struct list_ctx {
	bool dirs;
	char **paths;
	int *depth;
	int max, n;
};

static void list_walk(struct mnode *d, const char *path, int depth,
		      struct list_ctx *c)
{
	char sub[CRASH_PATH_MAX];

	if (c->dirs && c->n < c->max) {
		if (c->depth)
			c->depth[c->n] = depth;
		c->paths[c->n++] = strdup(path);
	}
	for (int i = 0; i < d->nnames; i++) {
		struct mnode *x = d->names[i].cur;

		if (!x)
			continue;
		/* Paths the workloads make are far shorter than sub. */
		if (!strcmp(path, ".") ?
		    snprintf(sub, sizeof(sub), "%s", d->names[i].name) < 0 :
		    snprintf(sub, sizeof(sub), "%s/%s", path,
			     d->names[i].name) >= (int)sizeof(sub))
			abort();
		if (x->dir) {
			list_walk(x, sub, depth + 1, c);
		} else if (!c->dirs && c->n < c->max) {
			if (c->depth)
				c->depth[c->n] = depth + 1;
			c->paths[c->n++] = strdup(sub);
		}
	}
}

int model_list(struct model *m, bool dirs, char **paths, int *depth, int max)
{
	struct list_ctx c = { dirs, paths, depth, max, 0 };

	list_walk(m->root, ".", 0, &c);
	for (int i = 0; i < c.n; i++)
		if (!paths[i])
			abort();
	return c.n;
}

void model_free_paths(char **paths, int n)
{
	for (int i = 0; i < n; i++)
		free(paths[i]);
}

/* --- checking -------------------------------------------------------------- */

struct check_ctx {
	FILE *out;
	const char *tag;
	int bad;
	long names, files;
	long older;		/* found in an allowed state but not the last */
	unsigned char *buf;
};

static void describe(const struct mnode *x, char *buf, size_t size)
{
	if (!x)
		snprintf(buf, size, "absent");
	else if (x->ino)
		snprintf(buf, size, "%s #%d (ino %llu)",
			 x->dir ? "directory" : "file", x->id,
			 (unsigned long long)x->ino);
	else
		snprintf(buf, size, "%s #%d", x->dir ? "directory" : "file",
			 x->id);
}

static void allowed_list(const struct mname *n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = 0;
	for (int i = 0; i < n->nhist && used + 1 < size; i++) {
		char one[96];

		describe(n->hist[i], one, sizeof(one));
		used += snprintf(buf + used, size - used, "%s%s",
				 i ? " or " : "", one);
	}
}

/* Compare the file at @path with the versions of @f; returns 0 when it
 * matches, else fills @why. */
static int file_matches(struct check_ctx *c, const struct mnode *f,
			const char *path, char *why, size_t wsize)
{
	ssize_t got;
	size_t size = 0;
	bool size_ok = false;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		snprintf(why, wsize, "open failed: %s", strerror(errno));
		return -1;
	}
	while (size < CRASH_FILE_MAX + 1 &&
	       (got = read(fd, c->buf + size, CRASH_FILE_MAX + 1 - size)) > 0)
		size += (size_t)got;
	close(fd);
	if (got < 0) {
		snprintf(why, wsize, "read failed at byte %zu: %s", size,
			 strerror(errno));
		return -1;
	}
	for (int i = 0; i < f->nvers; i++)
		size_ok |= f->vers[i].size_lo <= size && size <= f->vers[i].size;
	if (!size_ok) {
		size_t used = snprintf(why, wsize, "size is %zu; allowed:",
				       size);

		for (int i = 0; i < f->nvers && used < wsize; i++) {
			const struct mver *v = &f->vers[i];

			if (v->size_lo < v->size)
				used += snprintf(why + used, wsize - used,
						 " %zu-%zu", v->size_lo,
						 v->size);
			else
				used += snprintf(why + used, wsize - used,
						 " %zu", v->size);
			used += snprintf(why + used, wsize - used,
					 " (step %llu)",
					 (unsigned long long)v->step);
		}
		return -1;
	}
	if (f->nvers > 1 && (size != f->vers[f->nvers - 1].size ||
			     memcmp(c->buf, f->vers[f->nvers - 1].data, size)))
		c->older++;
	for (size_t p = 0; p < size; p++) {
		bool ok = false;

		for (int i = 0; i < f->nvers && !ok; i++) {
			const struct mver *v = &f->vers[i];

			ok = c->buf[p] == (p < v->size ? v->data[p] : 0);
		}
		if (!ok) {
			size_t used = snprintf(why, wsize,
					       "byte %zu is 0x%02x; allowed:",
					       p, c->buf[p]);

			for (int i = 0; i < f->nvers && used < wsize; i++) {
				const struct mver *v = &f->vers[i];

				used += snprintf(why + used, wsize - used,
						 " 0x%02x (step %llu)",
						 p < v->size ? v->data[p] : 0,
						 (unsigned long long)v->step);
			}
			return -1;
		}
	}
	return 0;
}

static void check_dir(struct check_ctx *c, struct mnode *d, const char *path);

static void check_name(struct check_ctx *c, struct mnode *d,
		       const struct mname *n, const char *dpath)
{
	char path[PATH_MAX], allowed[512], why[512] = "";
	const struct mnode *x = NULL;
	bool absent_ok = false, any = false;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dpath, n->name);
	c->names++;
	allowed_list(n, allowed, sizeof(allowed));
	for (int i = 0; i < n->nhist; i++)
		absent_ok |= !n->hist[i];
	if (lstat(path, &st)) {
		if (errno == ENOENT && absent_ok) {
			c->older += n->cur != NULL;
			return;
		}
		c->bad++;
		fprintf(c->out, "%s%s: %s; allowed: %s (entries of its "
			"directory acknowledged at step %llu)\n", c->tag, path,
			errno == ENOENT ? "missing" : strerror(errno), allowed,
			(unsigned long long)d->dir_ack);
		return;
	}
	for (int i = 0; i < n->nhist; i++) {
		struct mnode *h = n->hist[i];

		if (!h || h->dir != !!S_ISDIR(st.st_mode) ||
		    (!h->dir && !S_ISREG(st.st_mode)) ||
		    (h->ino && h->ino != st.st_ino))
			continue;
		any = true;
		c->older += h != n->cur;
		if (h->dir) {
			check_dir(c, h, path);
			return;
		}
		c->files++;
		if (!file_matches(c, h, path, why, sizeof(why)))
			return;
		x = h;
	}
	c->bad++;
	if (!any)
		fprintf(c->out, "%s%s: found %s (ino %llu); allowed: %s "
			"(entries of its directory acknowledged at step "
			"%llu)\n", c->tag, path,
			S_ISDIR(st.st_mode) ? "a directory" :
			S_ISREG(st.st_mode) ? "a file" : "something else",
			(unsigned long long)st.st_ino, allowed,
			(unsigned long long)d->dir_ack);
	else
		fprintf(c->out, "%s%s: contents of file #%d (data "
			"acknowledged at step %llu) differ: %s\n", c->tag,
			path, x->id, (unsigned long long)x->data_ack, why);
}

static void check_dir(struct check_ctx *c, struct mnode *d, const char *path)
{
	DIR *dir;
	struct dirent *e;

	if (d->visited)
		return;
	d->visited = true;
	for (int i = 0; i < d->nnames; i++)
		check_name(c, d, &d->names[i], path);
	dir = opendir(path);
	if (!dir) {
		c->bad++;
		fprintf(c->out, "%s%s: cannot list the directory: %s\n",
			c->tag, path, strerror(errno));
		return;
	}
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (name_find(d, e->d_name))
			continue;
		c->bad++;
		fprintf(c->out, "%s%s/%s: present, but its absence was "
			"acknowledged (entries of the directory acknowledged "
			"at step %llu)\n", c->tag, path, e->d_name,
			(unsigned long long)d->dir_ack);
	}
	closedir(dir);
}

int model_check(struct model *m, const char *root, FILE *out,
		const char *tag, long *names, long *files, long *older)
{
	struct check_ctx c = { out, tag, 0, 0, 0, 0, NULL };

	c.buf = xcalloc(CRASH_FILE_MAX + 1, 1);
	for (struct mnode *n = m->all; n; n = n->all_next)
		n->visited = false;
	check_dir(&c, m->root, root);
	free(c.buf);
	if (names)
		*names = c.names;
	if (files)
		*files = c.files;
	if (older)
		*older = c.older;
	return c.bad;
}
