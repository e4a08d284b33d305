/*
 * fsck.c - check every invariant of a tablefs store that is not mounted.
 *
 * Reads every inode record into a sorted array, walks every directory
 * through dirlib, then compares: entries point at live inodes of the right
 * type, link counts match the entries, directories have one parent, no
 * inode is unreachable unless it is a recorded orphan, the inode counter is
 * past every inode, each data object belongs to an inode that says so, and
 * every byte of data reads back with a good checksum. It reports problems
 * in words; it does not repair yet (--repair says so).
 */
#include "fs/tablefs/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fsck_ino {
	uint64_t ino;
	struct tfs_irec r;
	uint64_t links;		/* entries naming it */
	uint64_t subdirs;	/* for directories: entries that are dirs */
	uint64_t dentry_parent;	/* a directory naming this directory */
	bool orphan;
};

struct fsck {
	struct tfs *fs;
	struct fsd_buf *out;
	struct fsck_ino *inos;
	size_t n, cap;
	int problems;
	int err;
};

static void problem(struct fsck *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct fsck *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fsd_buf_printf(c->out, "%s\n", line);
	c->problems++;
}

static struct fsck_ino *find(struct fsck *c, uint64_t ino)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->inos[mid].ino == ino)
			return &c->inos[mid];
		if (c->inos[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int inode_cb(void *arg, const void *key, size_t klen, const void *val,
		    size_t vlen)
{
	struct fsck *c = arg;
	struct fsck_ino *fi;

	if (klen != 9) {
		problem(c, "inode key of %zu bytes (want 9)", klen);
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct fsck_ino *p = realloc(c->inos, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->inos = p;
		c->cap = cap;
	}
	fi = &c->inos[c->n];
	memset(fi, 0, sizeof(*fi));
	fi->ino = tfs_get_be64(key + 1);
	if (vlen < sizeof(fi->r) ||
	    *(const uint8_t *)val != 1 /* version, first byte */) {
		problem(c, "inode %llu: record of %zu bytes is corrupt",
			(unsigned long long)fi->ino, vlen);
		return 0;
	}
	memcpy(&fi->r, val, sizeof(fi->r));
	if (!(fi->r.flags & TFS_I_OBJECT) && S_ISREG(fi->r.mode) &&
	    vlen - sizeof(fi->r) > fi->r.size)
		problem(c, "inode %llu: %zu inline bytes but size %llu",
			(unsigned long long)fi->ino, vlen - sizeof(fi->r),
			(unsigned long long)fi->r.size);
	c->n++;
	return 0;
}

static int orphan_mark_cb(void *arg, const void *key, size_t klen,
			  const void *val, size_t vlen)
{
	struct fsck *c = arg;
	struct fsck_ino *fi;

	(void)val;
	(void)vlen;
	if (klen != 9)
		return 0;
	fi = find(c, tfs_get_be64(key + 1));
	if (fi)
		fi->orphan = true;
	else
		problem(c, "orphan mark for missing inode %llu",
			(unsigned long long)tfs_get_be64(key + 1));
	return 0;
}

struct walk {
	struct fsck *c;
	struct fsck_ino *dir;
};

static int entry_cb(void *arg, const struct dir_entry *e)
{
	struct walk *w = arg;
	struct fsck *c = w->c;
	struct fsck_ino *t = find(c, e->ino);

	if (!t) {
		problem(c, "directory %llu: entry '%s' points at missing inode %llu",
			(unsigned long long)w->dir->ino, e->name,
			(unsigned long long)e->ino);
		return 0;
	}
	t->links++;
	if (((t->r.mode & S_IFMT) >> 12) != e->type)
		problem(c, "directory %llu: entry '%s' has type %u, inode %llu has mode %o",
			(unsigned long long)w->dir->ino, e->name, e->type,
			(unsigned long long)e->ino, t->r.mode);
	if (S_ISDIR(t->r.mode)) {
		w->dir->subdirs++;
		if (t->dentry_parent)
			problem(c, "directory %llu has a second name '%s' in %llu",
				(unsigned long long)t->ino, e->name,
				(unsigned long long)w->dir->ino);
		t->dentry_parent = w->dir->ino;
	}
	return 0;
}

static void check_objects(struct fsck *c)
{
	struct tfs *fs = c->fs;
	uint64_t cursor = 0, ids[256];
	char *buf = malloc(1 << 20);
	size_t n;

	if (!buf) {
		c->err = -ENOMEM;
		return;
	}
	while (!objstore_list(fs->data, &cursor, ids, 256, &n, NULL) && n) {
		for (size_t i = 0; i < n; i++) {
			struct fsck_ino *t = find(c, ids[i]);
			struct objstore_stat st;
			struct mixfs_err err = { 0 };
			uint64_t off = 0;

			if (ids[i] == TFS_EVENTS_OBJ)
				continue;	/* the event log */
			if (!t || !(t->r.flags & TFS_I_OBJECT)) {
				problem(c, "object %llu belongs to no inode",
					(unsigned long long)ids[i]);
				continue;
			}
			if (objstore_stat(fs->data, ids[i], &st, NULL))
				continue;
			if (st.size != t->r.size)
				problem(c, "inode %llu: size %llu but its object holds %llu bytes",
					(unsigned long long)ids[i],
					(unsigned long long)t->r.size,
					(unsigned long long)st.size);
			while (off < st.size) {
				ssize_t r = objstore_read(fs->data, ids[i], off,
							  buf, 1 << 20, &err);
				if (r <= 0) {
					if (r < 0)
						problem(c, "inode %llu: data unreadable: %s",
							(unsigned long long)ids[i],
							mixfs_err_msg(&err, (int)r));
					break;
				}
				off += (uint64_t)r;
			}
		}
	}
	free(buf);
}

int tfs_fsck(const char *uri, bool repair, struct fsd_buf *out,
	     struct mixfs_err *err)
{
	unsigned char pi[1] = { TFS_K_INODE }, po[1] = { TFS_K_ORPHAN };
	struct fsck c;
	struct tfs *fs;
	struct tfs_txn t;
	int ret;

	ret = tfs_open(uri, NULL, true, &fs, err);
	if (ret)
		return ret;
	memset(&c, 0, sizeof(c));
	c.fs = fs;
	c.out = out;
	tfs_txn_begin_read(fs, &t);
	ret = tfs_txn_scan(&t, pi, 1, pi, 1, inode_cb, &c);
	if (!ret)
		ret = tfs_txn_scan(&t, po, 1, po, 1, orphan_mark_cb, &c);
	if (ret)
		goto out;
	if (!find(&c, TFS_ROOT_INO) || !S_ISDIR(find(&c, TFS_ROOT_INO)->r.mode))
		problem(&c, "the root directory (inode 1) is missing");

	for (size_t i = 0; i < c.n; i++) {
		struct walk w = { &c, &c.inos[i] };
		struct mixfs_err derr = { 0 };
		struct dir d;

		if (!S_ISDIR(c.inos[i].r.mode) || c.inos[i].r.nlink == 0)
			continue;
		ret = dir_kv_init(&d, &t.kv, c.inos[i].ino, &derr);
		if (!ret) {
			ret = dir_iterate(&d, DIR_COOKIE_FIRST - 1, entry_cb,
					  &w, &derr);
			dir_release(&d);
		}
		if (ret) {
			problem(&c, "directory %llu: %s",
				(unsigned long long)c.inos[i].ino,
				mixfs_err_msg(&derr, ret));
			ret = 0;
		}
	}

	for (size_t i = 0; i < c.n; i++) {
		struct fsck_ino *fi = &c.inos[i];
		unsigned long long ino = fi->ino;

		if (ino >= fs->next_ino)
			problem(&c, "inode %llu is past the inode counter %llu",
				ino, (unsigned long long)fs->next_ino);
		if (fi->orphan) {
			if (fi->links)
				problem(&c, "inode %llu is marked orphan but has %llu names",
					ino, (unsigned long long)fi->links);
			continue;
		}
		if (S_ISDIR(fi->r.mode)) {
			uint64_t want = 2 + fi->subdirs;

			if (ino != TFS_ROOT_INO && fi->links != 1)
				problem(&c, "directory %llu has %llu names (want 1)",
					ino, (unsigned long long)fi->links);
			if (fi->r.nlink != want)
				problem(&c, "directory %llu: link count %llu, want %llu",
					ino, (unsigned long long)fi->r.nlink,
					(unsigned long long)want);
			if (ino != TFS_ROOT_INO && fi->dentry_parent &&
			    fi->r.parent != fi->dentry_parent)
				problem(&c, "directory %llu: parent %llu, but named in %llu",
					ino, (unsigned long long)fi->r.parent,
					(unsigned long long)fi->dentry_parent);
		} else if (fi->r.nlink != fi->links) {
			problem(&c, "inode %llu: link count %llu, but %llu names",
				ino, (unsigned long long)fi->r.nlink,
				(unsigned long long)fi->links);
		}
		if (!fi->links && ino != TFS_ROOT_INO)
			problem(&c, "inode %llu is unreachable (no name, not an orphan)",
				ino);
	}
	check_objects(&c);
	if (repair && c.problems)
		fsd_buf_printf(out, "repair is not supported yet: nothing was changed\n");
out:
	if (c.err && !ret)
		ret = c.err;
	free(c.inos);
	tfs_close(fs);
	if (ret)
		return mixfs_err_set(err, ret, "checking failed: %s",
				     strerror(-ret));
	return c.problems;
}
