/*
 * dir.c - what both strategies share: name validation and case folding,
 * the calls of dir.h that check their arguments and hand over to the
 * directory's strategy, and the rename rules (dir_rename_plan).
 *
 * It knows nothing of how entries are stored; linear.c and kv.c do. It
 * never touches storage itself, except through a strategy.
 */
#include "dirlib/internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

/* --- Names -------------------------------------------------------------- */

static int name_problem(const char *name, size_t len, unsigned opts,
			const char **why)
{
	if (len == 0) {
		*why = "an empty name";
		return -EINVAL;
	}
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.')) {
		*why = "\".\" and \"..\" are not entries";
		return -EINVAL;
	}
	if (len > DIR_NAME_MAX) {
		*why = "longer than 255 bytes";
		return -ENAMETOOLONG;
	}
	if (memchr(name, '/', len)) {
		*why = "contains '/'";
		return -EINVAL;
	}
	if (memchr(name, '\0', len)) {
		*why = "contains a NUL byte";
		return -EINVAL;
	}
	if ((opts & DIR_OPT_CASEFOLD) &&
	    u8_check((const uint8_t *)name, len) != NULL) {
		*why = "not valid UTF-8 (required in a case-insensitive "
		       "directory)";
		return -EILSEQ;
	}
	return 0;
}

int dir_name_check(const char *name, size_t len, unsigned opts,
		   struct mixfs_err *err)
{
	const char *why = NULL;
	int ret = name ? name_problem(name, len, opts, &why) : -EINVAL;

	if (!ret)
		return 0;
	if (!name)
		return mixfs_err_set(err, ret, "entry name is NULL");
	return mixfs_err_set(err, ret, "bad entry name \"%.*s\" (%zu bytes): %s",
			     (int)(len > 64 ? 64 : len), name, len, why);
}

bool dir_name_ok(const char *name, size_t len, unsigned opts)
{
	const char *why;

	return name_problem(name, len, opts, &why) == 0;
}

int dir_fold(const char *name, size_t len, unsigned opts, char *out,
	     size_t *outlen, struct mixfs_err *err)
{
	size_t n = DIR_FOLD_MAX;
	uint8_t *r;

	if (!(opts & DIR_OPT_CASEFOLD)) {
		memcpy(out, name, len);
		*outlen = len;
		return 0;
	}
	/* Folds into @out when it fits; otherwise libunistring mallocs. */
	r = u8_casefold((const uint8_t *)name, len, NULL, UNINORM_NFD,
			(uint8_t *)out, &n);
	if (!r)
		return mixfs_err_set(err, errno ? -errno : -ENOMEM,
				     "case folding \"%.*s\" failed",
				     (int)len, name);
	if (r != (uint8_t *)out) {
		free(r);
		return mixfs_err_set(err, -ENAMETOOLONG,
				     "case fold of \"%.*s\" is longer than %d "
				     "bytes", (int)len, name, DIR_FOLD_MAX);
	}
	*outlen = n;
	return 0;
}

/* --- The handle --------------------------------------------------------- */

void dir_release(struct dir *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
}

int dir_destroy(struct dir *d, struct mixfs_err *err)
{
	return d->strategy->destroy(d, err);
}

/* --- Entries ------------------------------------------------------------ */

int dir_lookup(struct dir *d, const char *name, size_t len,
	       struct dir_entry *e, struct mixfs_err *err)
{
	int ret = dir_name_check(name, len, d->opts, err);

	if (ret)
		return ret;
	return d->strategy->lookup(d, name, len, e, err);
}

int dir_insert(struct dir *d, const char *name, size_t len, uint64_t ino,
	       unsigned char type, struct mixfs_err *err)
{
	int ret = dir_name_check(name, len, d->opts, err);

	if (ret)
		return ret;
	if (ino == 0)
		return mixfs_err_set(err, -EINVAL,
				     "inode number 0 for entry \"%.*s\"",
				     (int)len, name);
	return d->strategy->insert(d, name, len, ino, type, err);
}

int dir_remove(struct dir *d, const char *name, size_t len,
	       struct dir_entry *e, struct mixfs_err *err)
{
	int ret = dir_name_check(name, len, d->opts, err);

	if (ret)
		return ret;
	return d->strategy->remove(d, name, len, e, err);
}

int dir_replace(struct dir *d, const char *name, size_t len, uint64_t ino,
		unsigned char type, struct dir_entry *old,
		struct mixfs_err *err)
{
	int ret = dir_name_check(name, len, d->opts, err);

	if (ret)
		return ret;
	if (ino == 0)
		return mixfs_err_set(err, -EINVAL,
				     "inode number 0 for entry \"%.*s\"",
				     (int)len, name);
	return d->strategy->replace(d, name, len, ino, type, old, err);
}

int dir_count(struct dir *d, uint64_t *count, struct mixfs_err *err)
{
	return d->strategy->count(d, count, err);
}

int dir_is_empty(struct dir *d, bool *empty, struct mixfs_err *err)
{
	uint64_t n;
	int ret = d->strategy->count(d, &n, err);

	if (ret)
		return ret;
	*empty = n == 0;
	return 0;
}

int dir_iterate(struct dir *d, uint64_t after,
		int (*fn)(void *arg, const struct dir_entry *e), void *arg,
		struct mixfs_err *err)
{
	if (after < DIR_COOKIE_FIRST - 1)
		after = DIR_COOKIE_FIRST - 1;
	if (after >= DIR_COOKIE_MAX)
		return 0;
	return d->strategy->iterate(d, after, fn, arg, err);
}

/* --- Rename planning ---------------------------------------------------- */

#define RENAME_WALK_MAX	(1u << 20)

/*
 * Is @ancestor on the path from @start up to the root (inclusive of
 * @start)? 1 yes, 0 no, negative errno.
 */
static int is_on_path(const struct dir_rename_args *a, uint64_t start,
		      uint64_t ancestor, struct mixfs_err *err)
{
	uint64_t cur = start;

	for (unsigned i = 0; i < RENAME_WALK_MAX; i++) {
		uint64_t parent;
		int ret;

		if (cur == ancestor)
			return 1;
		if (cur == a->root_ino)
			return 0;
		if (!a->parent_of)
			return mixfs_err_set(err, -EINVAL,
					     "rename of a directory between "
					     "parents needs parent_of");
		ret = a->parent_of(a->arg, cur, &parent);
		if (ret)
			return mixfs_err_prefix(err, ret,
						"parent of inode %llu",
						(unsigned long long)cur);
		if (parent == cur)
			return 0;
		cur = parent;
	}
	return mixfs_err_set(err, -EUCLEAN,
			     "parent chain from inode %llu does not reach the "
			     "root inode %llu in %u steps",
			     (unsigned long long)start,
			     (unsigned long long)a->root_ino, RENAME_WALK_MAX);
}

int dir_rename_plan(const struct dir_rename_args *a,
		    struct dir_rename_plan *plan, struct mixfs_err *err)
{
	const unsigned both = DIR_RENAME_NOREPLACE | DIR_RENAME_EXCHANGE;
	bool src_dir = a->src_type == DT_DIR;
	bool dst_dir = a->dst_exists && a->dst_type == DT_DIR;
	bool moves = a->src_dir_ino != a->dst_dir_ino;
	int ret;

	memset(plan, 0, sizeof(*plan));
	if (a->flags & ~both)
		return mixfs_err_set(err, -EINVAL, "unknown rename flags %#x",
				     a->flags & ~both);
	if ((a->flags & both) == both)
		return mixfs_err_set(err, -EINVAL,
				     "RENAME_NOREPLACE and RENAME_EXCHANGE "
				     "together");
	if ((a->flags & DIR_RENAME_EXCHANGE) && !a->dst_exists)
		return mixfs_err_set(err, -ENOENT,
				     "exchange with a missing destination");
	if ((a->flags & DIR_RENAME_NOREPLACE) && a->dst_exists)
		return mixfs_err_set(err, -EEXIST,
				     "destination exists (RENAME_NOREPLACE)");
	if (a->dst_exists && a->src_ino == a->dst_ino) {
		plan->noop = true;
		return 0;
	}
	if (src_dir && moves) {
		ret = is_on_path(a, a->dst_dir_ino, a->src_ino, err);
		if (ret < 0)
			return ret;
		if (ret)
			return mixfs_err_set(err, -EINVAL,
					     "cannot move directory %llu into "
					     "its own subtree",
					     (unsigned long long)a->src_ino);
	}
	if (a->flags & DIR_RENAME_EXCHANGE) {
		if (dst_dir && moves) {
			ret = is_on_path(a, a->src_dir_ino, a->dst_ino, err);
			if (ret < 0)
				return ret;
			if (ret)
				return mixfs_err_set(err, -EINVAL,
						     "cannot exchange directory "
						     "%llu with an entry in its "
						     "own subtree",
						     (unsigned long long)a->dst_ino);
		}
		plan->replace_dst = true;
		plan->replace_src = true;
		plan->reparent_src = src_dir && moves;
		plan->reparent_dst = dst_dir && moves;
		return 0;
	}
	if (a->dst_exists) {
		if (src_dir && !dst_dir)
			return mixfs_err_set(err, -ENOTDIR,
					     "cannot rename a directory over a "
					     "non-directory");
		if (!src_dir && dst_dir)
			return mixfs_err_set(err, -EISDIR,
					     "cannot rename a non-directory over "
					     "a directory");
		if (dst_dir && !a->dst_is_empty_dir)
			return mixfs_err_set(err, -ENOTEMPTY,
					     "destination directory is not "
					     "empty");
		plan->replace_dst = true;
		plan->drop_dst_inode = true;
	} else {
		plan->insert_dst = true;
	}
	plan->remove_src = true;
	plan->reparent_src = src_dir && moves;
	return 0;
}
