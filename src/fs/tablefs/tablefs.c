/*
 * tablefs.c - tablefs operations: namespace, attributes, data, xattrs.
 *
 * Each changing operation takes fs->lock, builds one RocksDB write batch
 * (struct tfs_txn) with the inode records and directory entries it touches,
 * and commits it; file data in the object store is written before the batch
 * that publishes it and removed after the batch that unpublishes it. What
 * this file deliberately does not do: caching (RocksDB's block cache and the
 * kernel's page cache are enough so far), permission checks (the kernel
 * does them with default_permissions), and making, opening and closing a
 * filesystem (open.c).
 */
#include "fs/tablefs/internal.h"
#include "objstore/objstore_rocksdb.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <uuid/uuid.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static unsigned char mode_to_dt(mode_t m)
{
	return (unsigned char)((m & S_IFMT) >> 12);	/* DT_* == S_IFMT >> 12 */
}

/* --- freeing inodes ----------------------------------------------------- */

/*
 * Free an unlinked inode (caller holds fs->lock): the data object first,
 * then the records with the orphan mark in one batch. A crash in between
 * leaves the orphan mark, and the next mount finishes the job.
 */
static int free_inode(struct tfs *fs, uint64_t ino)
{
	struct tfs_txn t;
	struct tfs_inode in;
	int ret;

	ret = tfs_txn_begin(fs, &t);
	if (ret)
		return ret;
	ret = tfs_inode_get(&t, ino, &in);
	if (ret) {
		tfs_txn_abort(&t);
		return ret == -ENOENT ? 0 : ret;
	}
	tfs_inode_release(&in);
	if (in.r.nlink) {	/* linked again meanwhile: keep it */
		unsigned char key[9];

		tfs_txn_del(&t, key, tfs_key_ino(key, TFS_K_ORPHAN, ino));
		return tfs_txn_commit(&t, false);
	}
	if (in.r.flags & TFS_I_OBJECT) {
		/* With data in a store of its own, the removal can reach the
		 * disk before the batch that took the file's last name (the
		 * stores are ordered only by fsync): make that batch durable
		 * first, or a power cut could bring the file back without its
		 * data. One log sync per file freed, in that layout only. */
		if (fs->data != fs->meta) {
			ret = objstore_sync(fs->meta, NULL);
			if (ret) {
				tfs_txn_abort(&t);
				return ret;
			}
		}
		ret = objstore_remove(fs->data, ino, NULL);
		if (ret && ret != -ENOENT) {
			tfs_txn_abort(&t);
			return ret;
		}
		ret = 0;	/* already gone: a crash after the removal */
	} else if (S_ISREG(in.r.mode)) {
		/* As remove_entry() does for an inline file: an object a
		 * crash left while it grew would have no owner. */
		objstore_remove(fs->data, ino, NULL);
	}
	if (S_ISDIR(in.r.mode)) {
		struct dir d;

		if (!dir_kv_init(&d, &t.kv, ino, NULL)) {
			ret = dir_destroy(&d, NULL);
			dir_release(&d);
		}
	}
	if (!ret)
		ret = tfs_inode_delete(&t, ino);
	if (ret) {
		tfs_txn_abort(&t);
		return ret;
	}
	return tfs_txn_commit(&t, false);
}

static int orphan_cb(void *arg, const void *key, size_t klen, const void *val,
		     size_t vlen)
{
	uint64_t **list = arg;

	(void)val;
	(void)vlen;
	if (klen == 9) {
		size_t n = (size_t)(*list)[0];
		uint64_t *p = realloc(*list, (n + 2) * sizeof(*p));

		if (!p)
			return -ENOMEM;
		p[n + 1] = tfs_get_be64((const unsigned char *)key + 1);
		p[0] = n + 1;
		*list = p;
	}
	return 0;
}

/* Free every orphan left by an earlier mount (crash or open files). */
int tfs_free_orphans(struct tfs *fs)
{
	struct tfs_txn t;
	unsigned char prefix[1] = { TFS_K_ORPHAN };
	uint64_t *list = calloc(1, sizeof(*list));
	int ret;

	if (!list)
		return -ENOMEM;
	tfs_txn_begin_read(fs, &t);
	ret = tfs_txn_scan(&t, prefix, 1, prefix, 1, orphan_cb, &list);
	for (uint64_t i = 0; !ret && i < list[0]; i++)
		ret = free_inode(fs, list[i + 1]);
	free(list);
	return ret;
}

/*
 * Remove the objects of a data store of its own numbered at or past the
 * inode counter: a power cut kept them and lost the batch that made their
 * inodes (the stores are ordered only by fsync). Nothing refers to them.
 * Not for a data= store given for one mount, which may be shared.
 */
int tfs_free_leftovers(struct tfs *fs)
{
	uint64_t cursor, ids[64];
	size_t n;
	int ret;

	if (fs->data == fs->meta)
		return 0;
	cursor = fs->next_ino - 1;
	do {
		ret = objstore_list(fs->data, &cursor, ids, 64, &n, NULL);
		for (size_t i = 0; !ret && i < n; i++) {
			if (ids[i] >= FSD_CTL_INO_BASE)
				continue;
			ret = objstore_remove(fs->data, ids[i], NULL);
			if (ret == -ENOENT)
				ret = 0;
		}
	} while (!ret && n);
	return ret;
}

/* --- lookups ------------------------------------------------------------ */

int tfs_getattr(struct tfs *fs, uint64_t ino, struct stat *st)
{
	struct tfs_txn t;
	struct tfs_inode in;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	tfs_inode_to_stat(fs, &in, st);
	tfs_inode_release(&in);
	return 0;
}

/* Look @name up in directory @parent through @t. */
static int lookup_in(struct tfs_txn *t, uint64_t parent, const char *name,
		     struct dir_entry *e)
{
	struct dir d;
	int ret = dir_kv_init(&d, &t->kv, parent, NULL);

	if (ret)
		return ret;
	ret = dir_lookup(&d, name, strlen(name), e, NULL);
	dir_release(&d);
	return ret;
}

int tfs_lookup(struct tfs *fs, uint64_t parent, const char *name,
	       struct stat *st)
{
	struct tfs_txn t;
	struct tfs_inode pin;
	struct dir_entry e;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, parent, &pin);
	if (ret)
		return ret;
	tfs_inode_release(&pin);
	if (!S_ISDIR(pin.r.mode))
		return -ENOTDIR;
	if (strlen(name) > DIR_NAME_MAX)
		return -ENAMETOOLONG;
	ret = lookup_in(&t, parent, name, &e);
	if (ret)
		return ret;
	return tfs_getattr(fs, e.ino, st);
}

int tfs_parent(struct tfs *fs, uint64_t ino, uint64_t *parent)
{
	struct tfs_txn t;
	struct tfs_inode in;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	tfs_inode_release(&in);
	if (!S_ISDIR(in.r.mode))
		return -ENOTDIR;
	*parent = in.r.parent;
	return 0;
}

/* --- creating ----------------------------------------------------------- */

static void touch(struct tfs_irec *r, bool mtime)
{
	tfs_now(&r->ctime);
	if (mtime)
		r->mtime = r->ctime;
}

/* Load directory @ino for a change through @t: must exist, be a directory
 * and not be removed. */
static int get_dir(struct tfs_txn *t, uint64_t ino, struct tfs_inode *in)
{
	int ret = tfs_inode_get(t, ino, in);

	if (ret)
		return ret;
	if (!S_ISDIR(in->r.mode)) {
		tfs_inode_release(in);
		return -ENOTDIR;
	}
	if (in->r.nlink == 0) {
		tfs_inode_release(in);
		return -ENOENT;
	}
	return 0;
}

/*
 * With ACLs, the new node @in (in @t) takes the default ACL of @parent,
 * which decides its permission bits in place of @umask: as its access
 * ACL where that says more than the bits, and a directory as its own
 * default ACL. Without one the umask applies. Symlinks have neither.
 */
static int inherit_acl(struct tfs *fs, struct tfs_txn *t, uint64_t parent,
		       struct tfs_inode *in, mode_t umask)
{
	unsigned char key[9 + TFS_XATTR_NAME_MAX];
	char *v;
	size_t vlen;
	int ret;

	if (S_ISLNK(in->r.mode))
		return 0;
	if (!fs->acl) {
		in->r.mode &= ~(uint32_t)(umask & 0777);
		return 0;
	}
	ret = tfs_txn_get(t, key, tfs_key_xattr(key, parent, TFS_ACL_DEFAULT),
			  &v, &vlen);
	if (ret == -ENOENT || (!ret && (tfs_acl_valid(v, vlen) || vlen <= 4))) {
		if (!ret)
			rocksdb_free(v);
		in->r.mode &= ~(uint32_t)(umask & 0777);
		return 0;
	}
	if (ret)
		return ret;
	if (S_ISDIR(in->r.mode))
		tfs_txn_put(t, key, tfs_key_xattr(key, in->ino,
						  TFS_ACL_DEFAULT), v, vlen);
	if (tfs_acl_create_masq(v, vlen, &in->r.mode))
		tfs_txn_put(t, key, tfs_key_xattr(key, in->ino, TFS_ACL_ACCESS),
			    v, vlen);
	rocksdb_free(v);
	return 0;
}

/*
 * Create a node of @mode in @parent with optional @tail (symlink target),
 * in one batch: new inode, directory entry, parent times and link count,
 * inode counter, inherited ACLs.
 */
static int create_node(struct tfs *fs, uint64_t parent, const char *name,
		       mode_t mode, mode_t umask, dev_t rdev, const char *tail,
		       const struct tfs_cred *c, bool open, struct stat *out)
{
	struct tfs_txn t;
	struct tfs_inode pin, in;
	struct dir_entry e;
	struct dir d;
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	ret = dir_name_check(name, strlen(name), 0, NULL);
	if (ret)
		return ret;
	memset(&in, 0, sizeof(in));
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = get_dir(&t, parent, &pin);
	if (ret)
		goto out_abort;
	ret = dir_kv_init(&d, &t.kv, parent, NULL);
	if (ret)
		goto out_pin;
	ret = dir_lookup(&d, name, strlen(name), &e, NULL);
	if (ret == 0)
		ret = -EEXIST;
	if (ret != -ENOENT)
		goto out_dir;

	in.ino = fs->next_ino;
	in.r.version = 1;
	in.r.mode = mode;
	in.r.uid = c->uid;
	in.r.gid = c->gid;
	in.r.rdev = rdev;
	in.r.nlink = S_ISDIR(mode) ? 2 : 1;
	in.r.parent = S_ISDIR(mode) ? parent : 0;
	tfs_now(&in.r.ctime);
	in.r.atime = in.r.mtime = in.r.btime = in.r.ctime;
	if (pin.r.mode & S_ISGID) {	/* BSD group semantics */
		in.r.gid = pin.r.gid;
		if (S_ISDIR(mode))
			in.r.mode |= S_ISGID;
	}
	if (tail) {
		in.tail_len = strlen(tail);
		in.tail = strdup(tail);
		in.r.size = in.tail_len;
		if (!in.tail) {
			ret = -ENOMEM;
			goto out_dir;
		}
	}
	ret = inherit_acl(fs, &t, parent, &in, umask);
	if (!ret)
		ret = dir_insert(&d, name, strlen(name), in.ino,
				 mode_to_dt(mode), NULL);
	if (!ret && S_ISDIR(mode))
		ret = dir_kv_create(&t.kv, in.ino, 0, NULL);
	if (ret)
		goto out_dir;
	if (S_ISDIR(mode))
		pin.r.nlink++;
	touch(&pin.r, true);
	ret = tfs_inode_put(&t, &in);
	if (!ret)
		ret = tfs_inode_put(&t, &pin);
	if (ret)
		goto out_dir;
	tfs_next_ino_write(&t, fs->next_ino + 1);
	dir_release(&d);
	tfs_inode_release(&pin);
	/* Open before anyone can unlink it: an unlink takes the lock too. */
	if (open)
		ret = tfs_open_file(fs, in.ino);
	if (!ret) {
		ret = tfs_txn_commit(&t, false);
		if (ret && open)
			fsd_itable_unref(&fs->opens, in.ino, 1);
	} else {
		tfs_txn_abort(&t);
	}
	if (!ret) {
		fs->next_ino++;
		tfs_inode_to_stat(fs, &in, out);
	}
	tfs_inode_release(&in);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_dir:
	dir_release(&d);
out_pin:
	tfs_inode_release(&pin);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	tfs_inode_release(&in);
	return ret;
}

int tfs_mknod_umask(struct tfs *fs, uint64_t parent, const char *name,
		    mode_t mode, mode_t umask, dev_t rdev,
		    const struct tfs_cred *c, struct stat *out)
{
	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	if (!S_ISCHR(mode) && !S_ISBLK(mode))
		rdev = 0;
	return create_node(fs, parent, name, mode, umask, rdev, NULL, c,
			   false, out);
}

int tfs_mknod(struct tfs *fs, uint64_t parent, const char *name, mode_t mode,
	      dev_t rdev, const struct tfs_cred *c, struct stat *out)
{
	return tfs_mknod_umask(fs, parent, name, mode, 0, rdev, c, out);
}

int tfs_create_umask(struct tfs *fs, uint64_t parent, const char *name,
		     mode_t mode, mode_t umask, const struct tfs_cred *c,
		     struct stat *out)
{
	return create_node(fs, parent, name, (mode & 07777) | S_IFREG, umask,
			   0, NULL, c, true, out);
}

int tfs_create(struct tfs *fs, uint64_t parent, const char *name,
	       mode_t mode, const struct tfs_cred *c, struct stat *out)
{
	return tfs_create_umask(fs, parent, name, mode, 0, c, out);
}

int tfs_mkdir_umask(struct tfs *fs, uint64_t parent, const char *name,
		    mode_t mode, mode_t umask, const struct tfs_cred *c,
		    struct stat *out)
{
	return create_node(fs, parent, name, S_IFDIR | (mode & 07777), umask,
			   0, NULL, c, false, out);
}

int tfs_mkdir(struct tfs *fs, uint64_t parent, const char *name, mode_t mode,
	      const struct tfs_cred *c, struct stat *out)
{
	return tfs_mkdir_umask(fs, parent, name, mode, 0, c, out);
}

int tfs_symlink(struct tfs *fs, uint64_t parent, const char *name,
		const char *target, const struct tfs_cred *c, struct stat *out)
{
	size_t n = strlen(target);

	if (n == 0)
		return -ENOENT;
	if (n > TFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return create_node(fs, parent, name, S_IFLNK | 0777, 0, 0, target, c,
			   false, out);
}

int tfs_link(struct tfs *fs, uint64_t ino, uint64_t newparent,
	     const char *newname, struct stat *out)
{
	struct tfs_txn t;
	struct tfs_inode pin, in;
	struct dir d;
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	ret = dir_name_check(newname, strlen(newname), 0, NULL);
	if (ret)
		return ret;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		goto out_abort;
	if (S_ISDIR(in.r.mode)) {
		ret = -EPERM;
		goto out_in;
	}
	if (in.r.nlink >= UINT32_MAX) {
		ret = -EMLINK;
		goto out_in;
	}
	ret = get_dir(&t, newparent, &pin);
	if (ret)
		goto out_in;
	ret = dir_kv_init(&d, &t.kv, newparent, NULL);
	if (ret)
		goto out_pin;
	ret = dir_insert(&d, newname, strlen(newname), ino,
			 mode_to_dt(in.r.mode), NULL);
	dir_release(&d);
	if (ret)
		goto out_pin;
	if (in.r.nlink == 0) {	/* linkat() of an O_TMPFILE-like orphan */
		unsigned char key[9];

		tfs_txn_del(&t, key, tfs_key_ino(key, TFS_K_ORPHAN, ino));
	}
	in.r.nlink++;
	touch(&in.r, false);
	touch(&pin.r, true);
	ret = tfs_inode_put(&t, &in);
	if (!ret)
		ret = tfs_inode_put(&t, &pin);
	if (ret)
		goto out_pin;
	ret = tfs_txn_commit(&t, false);
	if (!ret)
		tfs_inode_to_stat(fs, &in, out);
	tfs_inode_release(&pin);
	tfs_inode_release(&in);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_pin:
	tfs_inode_release(&pin);
out_in:
	tfs_inode_release(&in);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

/* --- removing ----------------------------------------------------------- */

/*
 * Drop one link of @in inside @t. When the last link goes: an inode with
 * nothing outside the batch (inline data, no kernel reference, not open)
 * is deleted in the batch; any other is marked orphan, and *@free_after
 * says whether the caller frees it (free_inode) after committing, or the
 * kernel's last forget or last release does.
 */
static int drop_link(struct tfs *fs, struct tfs_txn *t, struct tfs_inode *in,
		     bool *free_after)
{
	static const char one = 1;
	unsigned char key[9];
	bool referenced;

	*free_after = false;
	if (S_ISDIR(in->r.mode))
		in->r.nlink = 0;
	else if (in->r.nlink)
		in->r.nlink--;
	touch(&in->r, false);
	if (in->r.nlink)
		return tfs_inode_put(t, in);
	/*
	 * While the kernel holds a lookup reference it may still open the
	 * inode by number: an open that follows a lookup can lose a race
	 * with the rename or unlink that takes the name, and must find the
	 * file it looked up. So the inode lives on, as an orphan, until the
	 * last forget or release. Through FUSE that is almost every unlink:
	 * the orphan mark rides in this batch and the forget that follows
	 * costs one more batch (docs/tablefs.md has the figures). Without a
	 * reference or an open file (in-process callers, an inode the kernel
	 * already forgot) it goes with its last name.
	 */
	referenced = fsd_itable_count(&fs->refs, in->ino) > 0 ||
		     fsd_itable_count(&fs->opens, in->ino) > 0;
	if (!referenced && !(in->r.flags & TFS_I_OBJECT) &&
	    !S_ISDIR(in->r.mode))
		return tfs_inode_delete(t, in->ino);
	tfs_txn_put(t, key, tfs_key_ino(key, TFS_K_ORPHAN, in->ino), &one, 1);
	*free_after = !referenced;
	return tfs_inode_put(t, in);
}

static int remove_entry(struct tfs *fs, uint64_t parent, const char *name,
			bool want_dir)
{
	struct tfs_txn t;
	struct tfs_inode pin, in;
	struct dir_entry e;
	struct dir d;
	bool free_data = false, gone_inline = false;
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	if (strlen(name) > DIR_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = get_dir(&t, parent, &pin);
	if (ret)
		goto out_abort;
	ret = dir_kv_init(&d, &t.kv, parent, NULL);
	if (ret)
		goto out_pin;
	ret = dir_lookup(&d, name, strlen(name), &e, NULL);
	if (ret)
		goto out_dir;
	ret = tfs_inode_get(&t, e.ino, &in);
	if (ret)
		goto out_dir;
	if (want_dir && !S_ISDIR(in.r.mode))
		ret = -ENOTDIR;
	else if (!want_dir && S_ISDIR(in.r.mode))
		ret = -EISDIR;
	if (!ret && want_dir) {
		struct dir cd;
		bool empty = false;

		ret = dir_kv_init(&cd, &t.kv, e.ino, NULL);
		if (!ret) {
			ret = dir_is_empty(&cd, &empty, NULL);
			dir_release(&cd);
		}
		if (!ret && !empty)
			ret = -ENOTEMPTY;
	}
	if (!ret)
		ret = dir_remove(&d, name, strlen(name), NULL, NULL);
	if (!ret)
		ret = drop_link(fs, &t, &in, &free_data);
	gone_inline = !ret && !free_data && in.r.nlink == 0 &&
		      S_ISREG(in.r.mode) && !(in.r.flags & TFS_I_OBJECT) &&
		      !fsd_itable_count(&fs->opens, in.ino) &&
		      !fsd_itable_count(&fs->refs, in.ino);
	if (!ret) {
		if (want_dir)
			pin.r.nlink--;
		touch(&pin.r, true);
		ret = tfs_inode_put(&t, &pin);
	}
	tfs_inode_release(&in);
	if (ret)
		goto out_dir;
	dir_release(&d);
	tfs_inode_release(&pin);
	ret = tfs_txn_commit(&t, false);
	if (!ret && free_data)
		free_inode(fs, e.ino);	/* on failure the next mount retries */
	else if (!ret && gone_inline)
		/* An inline file can have an object left by a crash while it
		 * grew past the inline size: nothing else would free it. */
		objstore_remove(fs->data, e.ino, NULL);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_dir:
	dir_release(&d);
out_pin:
	tfs_inode_release(&pin);
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

int tfs_unlink(struct tfs *fs, uint64_t parent, const char *name)
{
	return remove_entry(fs, parent, name, false);
}

int tfs_rmdir(struct tfs *fs, uint64_t parent, const char *name)
{
	if (!strcmp(name, "."))
		return -EINVAL;
	if (!strcmp(name, ".."))
		return -ENOTEMPTY;
	return remove_entry(fs, parent, name, true);
}

/* --- rename ------------------------------------------------------------- */

/* dir_rename_args.parent_of: @arg is the rename's transaction. */
static int parent_of_cb(void *arg, uint64_t ino, uint64_t *parent)
{
	struct tfs_inode in;
	int ret = tfs_inode_get(arg, ino, &in);

	if (ret)
		return ret;
	tfs_inode_release(&in);
	*parent = in.r.parent;
	return 0;
}

int tfs_rename(struct tfs *fs, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, unsigned flags)
{
	struct tfs_txn t;
	struct tfs_inode p[2], src, dst;
	struct tfs_inode *sp = &p[0], *dp = &p[1];
	struct dir sd, dd;
	struct dir_entry se, de;
	struct dir_rename_args a;
	struct dir_rename_plan plan;
	bool same = parent == newparent, have_dst, free_data = false;
	size_t nlen = strlen(name), nnlen = strlen(newname);
	int ret;

	if (tfs_is_readonly(fs))
		return -EROFS;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	ret = dir_name_check(newname, nnlen, 0, NULL);
	if (ret)
		return ret;
	if (nlen > DIR_NAME_MAX)
		return -ENAMETOOLONG;
	memset(p, 0, sizeof(p));
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	pthread_mutex_lock(&fs->lock);
	ret = tfs_txn_begin(fs, &t);
	if (ret)
		goto out_unlock;
	ret = get_dir(&t, parent, sp);
	if (ret)
		goto out_abort;
	if (same)
		dp = sp;
	else if ((ret = get_dir(&t, newparent, dp)))
		goto out_inodes;
	ret = dir_kv_init(&sd, &t.kv, parent, NULL);
	if (ret)
		goto out_inodes;
	ret = dir_kv_init(&dd, &t.kv, newparent, NULL);
	if (ret)
		goto out_sd;
	ret = dir_lookup(&sd, name, nlen, &se, NULL);
	if (ret)
		goto out_dd;
	ret = tfs_inode_get(&t, se.ino, &src);
	if (ret)
		goto out_dd;
	ret = dir_lookup(&dd, newname, nnlen, &de, NULL);
	if (ret && ret != -ENOENT)
		goto out_dd;
	have_dst = ret == 0;
	memset(&a, 0, sizeof(a));
	if (!have_dst)
		de.ino = 0;
	if (have_dst) {
		ret = tfs_inode_get(&t, de.ino, &dst);
		if (ret)
			goto out_dd;
		a.dst_ino = de.ino;
		a.dst_type = mode_to_dt(dst.r.mode);
		if (S_ISDIR(dst.r.mode) && de.ino != se.ino) {
			struct dir cd;
			bool empty = false;

			ret = dir_kv_init(&cd, &t.kv, de.ino, NULL);
			if (!ret) {
				ret = dir_is_empty(&cd, &empty, NULL);
				dir_release(&cd);
			}
			if (ret)
				goto out_dd;
			a.dst_is_empty_dir = empty;
		}
	}
	a.src_ino = se.ino;
	a.src_type = mode_to_dt(src.r.mode);
	a.dst_exists = have_dst;
	a.flags = (flags & RENAME_NOREPLACE ? DIR_RENAME_NOREPLACE : 0) |
		  (flags & RENAME_EXCHANGE ? DIR_RENAME_EXCHANGE : 0);
	a.parent_of = parent_of_cb;
	a.arg = &t;
	a.src_dir_ino = parent;
	a.dst_dir_ino = newparent;
	a.root_ino = TFS_ROOT_INO;
	ret = dir_rename_plan(&a, &plan, NULL);
	if (ret || plan.noop)
		goto out_dd;

	if (plan.replace_src)
		ret = dir_replace(&sd, name, nlen, de.ino,
				  mode_to_dt(dst.r.mode), NULL, NULL);
	if (!ret && plan.remove_src)
		ret = dir_remove(&sd, name, nlen, NULL, NULL);
	if (!ret && plan.replace_dst)
		ret = dir_replace(&dd, newname, nnlen, se.ino,
				  mode_to_dt(src.r.mode), NULL, NULL);
	if (!ret && plan.insert_dst)
		ret = dir_insert(&dd, newname, nnlen, se.ino,
				 mode_to_dt(src.r.mode), NULL);
	if (ret)
		goto out_dd;
	if (plan.drop_dst_inode) {
		if (S_ISDIR(dst.r.mode))
			dp->r.nlink--;
		ret = drop_link(fs, &t, &dst, &free_data);
		if (ret)
			goto out_dd;
	} else if (have_dst && plan.replace_src) {
		touch(&dst.r, false);
		if (plan.reparent_dst) {
			dst.r.parent = parent;
			dp->r.nlink--;
			sp->r.nlink++;
		}
		ret = tfs_inode_put(&t, &dst);
		if (ret)
			goto out_dd;
	}
	if (plan.reparent_src) {
		src.r.parent = newparent;
		sp->r.nlink--;
		dp->r.nlink++;
	}
	touch(&src.r, false);
	touch(&sp->r, true);
	if (!same)
		touch(&dp->r, true);
	ret = tfs_inode_put(&t, &src);
	if (!ret)
		ret = tfs_inode_put(&t, sp);
	if (!ret && !same)
		ret = tfs_inode_put(&t, dp);
	if (ret)
		goto out_dd;
	dir_release(&dd);
	dir_release(&sd);
	ret = tfs_txn_commit(&t, false);
	if (!ret && free_data)
		free_inode(fs, de.ino);	/* on failure the next mount retries */
	goto out_release;
out_dd:
	dir_release(&dd);
out_sd:
	dir_release(&sd);
out_inodes:
	tfs_txn_abort(&t);
out_release:
	tfs_inode_release(&src);
	tfs_inode_release(&dst);
	tfs_inode_release(&p[0]);
	tfs_inode_release(&p[1]);
	pthread_mutex_unlock(&fs->lock);
	return ret;
out_abort:
	tfs_txn_abort(&t);
out_unlock:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

ssize_t tfs_readlink(struct tfs *fs, uint64_t ino, char *buf, size_t size)
{
	struct tfs_txn t;
	struct tfs_inode in;
	size_t n;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_inode_get(&t, ino, &in);
	if (ret)
		return ret;
	if (!S_ISLNK(in.r.mode)) {
		tfs_inode_release(&in);
		return -EINVAL;
	}
	n = in.tail_len < size - 1 ? in.tail_len : size - 1;
	memcpy(buf, in.tail, n);
	buf[n] = '\0';
	tfs_inode_release(&in);
	return (ssize_t)n;
}

/* --- readdir ------------------------------------------------------------ */

struct readdir_ctx {
	int (*fn)(void *arg, const char *name, uint64_t ino,
		  unsigned char type, uint64_t cookie);
	void *arg;
};

static int readdir_cb(void *arg, const struct dir_entry *e)
{
	struct readdir_ctx *c = arg;

	return c->fn(c->arg, e->name, e->ino, e->type, e->cookie);
}

int tfs_readdir(struct tfs *fs, uint64_t ino, uint64_t after,
		int (*fn)(void *arg, const char *name, uint64_t ino,
			  unsigned char type, uint64_t cookie),
		void *arg)
{
	struct readdir_ctx c = { fn, arg };
	struct tfs_txn t;
	struct dir d;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = dir_kv_init(&d, &t.kv, ino, NULL);
	if (ret)
		return ret == -EUCLEAN ? -ENOTDIR : ret;
	ret = dir_iterate(&d, after, readdir_cb, &c, NULL);
	dir_release(&d);
	return ret;
}

/* --- statfs and sync ---------------------------------------------------- */

int tfs_statfs(struct tfs *fs, struct statvfs *sv)
{
	struct objstore_statfs os, ms;
	uint64_t bsize = 4096, used_inodes, free;
	int ret = objstore_statfs(fs->data, &os, NULL);

	if (ret)
		return ret;
	free = os.capacity > os.used ? os.capacity - os.used : 0;
	if (fs->data != fs->meta) {
		/*
		 * Two stores, each bounded by the same size: what is free is
		 * what neither store's limit nor their sum forbids. On the
		 * host's free space this undercounts by the metadata's size.
		 */
		ret = objstore_statfs(fs->meta, &ms, NULL);
		if (ret)
			return ret;
		free = free > ms.used ? free - ms.used : 0;
		if (ms.capacity < ms.used + free)
			free = ms.capacity > ms.used ? ms.capacity - ms.used : 0;
	}
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = bsize;
	sv->f_frsize = bsize;
	sv->f_blocks = os.capacity / bsize;
	sv->f_bfree = free / bsize;
	sv->f_bavail = sv->f_bfree;
	/* Inodes cost a record each, not a block: every free block could
	 * hold one. Used inodes are bounded by the inode counter. */
	used_inodes = fs->next_ino - TFS_ROOT_INO;
	sv->f_files = sv->f_bfree + used_inodes;
	sv->f_ffree = sv->f_bfree;
	sv->f_favail = sv->f_ffree;
	sv->f_namemax = DIR_NAME_MAX;
	return 0;
}

int tfs_fsync(struct tfs *fs, uint64_t ino, bool datasync)
{
	int ret = 0;

	(void)ino;
	(void)datasync;
	if (tfs_is_readonly(fs))
		return 0;
	/*
	 * The data store first, then the metadata's log: a write puts its
	 * bytes in the object before the batch that records the new size,
	 * so the size made durable must never claim bytes that are not.
	 * Synced the other way, a power cut in between would leave a file
	 * whose size covers data the data store lost (zeros, or chunks
	 * whose checksum fails).
	 */
	if (fs->data != fs->meta)
		ret = objstore_sync(fs->data, NULL);
	if (!ret)
		ret = objstore_sync(fs->meta, NULL);
	return ret;
}

/* --- references --------------------------------------------------------- */

void tfs_ref(struct tfs *fs, uint64_t ino)
{
	fsd_itable_ref(&fs->refs, ino, 1);
}

/* Free @ino if it is an orphan nobody references any more. */
static bool free_if_orphan(struct tfs *fs, uint64_t ino)
{
	unsigned char key[9];
	struct tfs_txn t;
	bool freed = false;
	char *v;
	size_t vlen;

	if (tfs_is_readonly(fs))
		return false;
	tfs_txn_begin_read(fs, &t);
	if (tfs_txn_get(&t, key, tfs_key_ino(key, TFS_K_ORPHAN, ino), &v,
			&vlen))
		return false;
	rocksdb_free(v);
	pthread_mutex_lock(&fs->lock);
	if (!fsd_itable_count(&fs->refs, ino) &&
	    !fsd_itable_count(&fs->opens, ino))
		freed = free_inode(fs, ino) == 0;
	pthread_mutex_unlock(&fs->lock);
	return freed;
}

int tfs_open_file(struct tfs *fs, uint64_t ino)
{
	return fsd_itable_ref(&fs->opens, ino, 1);
}

bool tfs_close_file(struct tfs *fs, uint64_t ino)
{
	if (fsd_itable_unref(&fs->opens, ino, 1))
		return false;
	return free_if_orphan(fs, ino);
}

bool tfs_forget(struct tfs *fs, uint64_t ino, uint64_t n)
{
	if (fsd_itable_unref(&fs->refs, ino, n))
		return false;
	return free_if_orphan(fs, ino);
}
