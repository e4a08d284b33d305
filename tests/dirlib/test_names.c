/*
 * test_names.c - dir_name_check() and dir_rename_plan(): the rules that
 * need no storage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "dirlib/dir.h"

static void name_check_rejects_empty_dot_dotdot_slash_and_nul(void **state)
{
	(void)state;
	assert_int_equal(dir_name_check("", 0, 0, NULL), -EINVAL);
	assert_int_equal(dir_name_check(".", 1, 0, NULL), -EINVAL);
	assert_int_equal(dir_name_check("..", 2, 0, NULL), -EINVAL);
	assert_int_equal(dir_name_check("a/b", 3, 0, NULL), -EINVAL);
	assert_int_equal(dir_name_check("a\0b", 3, 0, NULL), -EINVAL);
	assert_int_equal(dir_name_check(NULL, 0, 0, NULL), -EINVAL);
	assert_int_equal(dir_name_check(".", 1, DIR_OPT_CASEFOLD, NULL),
			 -EINVAL);
	/* but these are names */
	assert_int_equal(dir_name_check("...", 3, 0, NULL), 0);
	assert_int_equal(dir_name_check(".a", 2, 0, NULL), 0);
	assert_int_equal(dir_name_check("..a", 3, 0, NULL), 0);
	assert_int_equal(dir_name_check(" ", 1, 0, NULL), 0);
	/* the length given counts, not a terminating NUL */
	assert_int_equal(dir_name_check("ab/", 2, 0, NULL), 0);
}

static void name_check_rejects_names_over_255_bytes(void **state)
{
	char name[512];

	(void)state;
	memset(name, 'n', sizeof(name));
	assert_int_equal(dir_name_check(name, 255, 0, NULL), 0);
	assert_int_equal(dir_name_check(name, 256, 0, NULL), -ENAMETOOLONG);
	assert_int_equal(dir_name_check(name, 512, DIR_OPT_CASEFOLD, NULL),
			 -ENAMETOOLONG);
}

static void name_check_requires_utf8_only_in_casefold_dirs(void **state)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\x80" "abc",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		assert_int_equal(dir_name_check(bad[i], n, DIR_OPT_CASEFOLD,
						NULL), -EILSEQ);
		assert_int_equal(dir_name_check(bad[i], n, 0, NULL), 0);
	}
	assert_int_equal(dir_name_check("\xe2\x82\xac", 3, DIR_OPT_CASEFOLD,
					NULL), 0);
}

static void name_check_message_says_what_is_wrong(void **state)
{
	struct mixfs_err err = { 0 };

	(void)state;
	assert_int_equal(dir_name_check("x/y", 3, 0, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "'/'"));
	mixfs_err_clear(&err);
	assert_int_equal(dir_name_check("\xff", 1, DIR_OPT_CASEFOLD, &err),
			 -EILSEQ);
	assert_non_null(strstr(err.msg, "UTF-8"));
}

/* --- rename ----------------------------------------------------------------- */

/*
 * The tree:  1 (root) ─ 2 a ─ 3 b ─ 4 c
 *                     └ 5 d
 */
static int tree_parent(void *arg, uint64_t ino, uint64_t *parent)
{
	static const uint64_t parent_of[] = { 0, 1, 1, 2, 3, 1 };

	(void)arg;
	if (ino == 0 || ino >= sizeof(parent_of) / sizeof(parent_of[0]))
		return -ENOENT;
	*parent = parent_of[ino];
	return 0;
}

static int loop_parent(void *arg, uint64_t ino, uint64_t *parent)
{
	(void)arg;
	*parent = ino == 7 ? 8 : 7;	/* 7 <-> 8, never reaching the root */
	return 0;
}

static int eio_parent(void *arg, uint64_t ino, uint64_t *parent)
{
	(void)arg; (void)ino; (void)parent;
	return -EIO;
}

static struct dir_rename_args args(uint64_t src, unsigned char st,
				   uint64_t src_dir, uint64_t dst_dir)
{
	return (struct dir_rename_args){
		.src_ino = src, .src_type = st,
		.src_dir_ino = src_dir, .dst_dir_ino = dst_dir,
		.root_ino = 1, .parent_of = tree_parent,
	};
}

static void with_dst(struct dir_rename_args *a, uint64_t ino,
		     unsigned char type, bool empty)
{
	a->dst_exists = true;
	a->dst_ino = ino;
	a->dst_type = type;
	a->dst_is_empty_dir = empty;
}

static void rename_to_a_free_name_moves_the_entry(void **state)
{
	struct dir_rename_args a = args(10, DT_REG, 2, 5);
	struct dir_rename_plan p;

	(void)state;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.remove_src && p.insert_dst);
	assert_false(p.replace_dst || p.replace_src || p.drop_dst_inode ||
		     p.noop || p.reparent_src || p.reparent_dst);
	a = args(3, DT_DIR, 2, 5);	/* /a/b -> /d/b */
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.remove_src && p.insert_dst && p.reparent_src);
	a = args(3, DT_DIR, 2, 2);	/* rename within /a */
	a.parent_of = NULL;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_false(p.reparent_src);
}

static void rename_over_a_file_replaces_it_and_drops_its_link(void **state)
{
	struct dir_rename_args a = args(10, DT_REG, 2, 5);
	struct dir_rename_plan p;

	(void)state;
	with_dst(&a, 11, DT_REG, false);
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.remove_src && p.replace_dst && p.drop_dst_inode);
	assert_false(p.insert_dst || p.replace_src);
}

static void rename_type_rules_enotdir_eisdir_enotempty(void **state)
{
	struct dir_rename_args a = args(4, DT_DIR, 3, 5);
	struct dir_rename_plan p;
	struct mixfs_err err = { 0 };

	(void)state;
	with_dst(&a, 11, DT_REG, false);
	assert_int_equal(dir_rename_plan(&a, &p, &err), -ENOTDIR);
	assert_false(p.remove_src);
	a = args(10, DT_REG, 3, 1);
	with_dst(&a, 5, DT_DIR, true);
	assert_int_equal(dir_rename_plan(&a, &p, &err), -EISDIR);
	a = args(4, DT_DIR, 3, 1);
	with_dst(&a, 5, DT_DIR, false);
	assert_int_equal(dir_rename_plan(&a, &p, &err), -ENOTEMPTY);
	a.dst_is_empty_dir = true;
	assert_int_equal(dir_rename_plan(&a, &p, &err), 0);
	assert_true(p.replace_dst && p.drop_dst_inode && p.reparent_src);
}

static void rename_into_own_subtree_fails_einval(void **state)
{
	struct dir_rename_args a = args(2, DT_DIR, 1, 4);	/* /a -> /a/b/c/x */
	struct dir_rename_plan p;
	struct mixfs_err err = { 0 };

	(void)state;
	assert_int_equal(dir_rename_plan(&a, &p, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "subtree"));
	a = args(3, DT_DIR, 2, 3);	/* /a/b -> /a/b/x: into itself */
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EINVAL);
	a = args(4, DT_DIR, 3, 2);	/* /a/b/c -> /a/c: upwards is fine */
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	a = args(10, DT_REG, 2, 4);	/* files have no subtree */
	a.parent_of = NULL;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
}

static void rename_noreplace_and_exchange_check_existence(void **state)
{
	struct dir_rename_args a = args(10, DT_REG, 2, 5);
	struct dir_rename_plan p;

	(void)state;
	a.flags = DIR_RENAME_NOREPLACE;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.insert_dst);
	with_dst(&a, 11, DT_REG, false);
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EEXIST);
	a = args(10, DT_REG, 2, 5);
	a.flags = DIR_RENAME_EXCHANGE;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -ENOENT);
	a.flags = DIR_RENAME_EXCHANGE | DIR_RENAME_NOREPLACE;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EINVAL);
	a.flags = 1u << 5;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EINVAL);
}

static void rename_exchange_swaps_and_reparents_directories(void **state)
{
	struct dir_rename_args a = args(3, DT_DIR, 2, 1);	/* /a/b <-> /d */
	struct dir_rename_plan p;

	(void)state;
	a.flags = DIR_RENAME_EXCHANGE;
	with_dst(&a, 5, DT_DIR, false);	/* non-empty is fine for exchange */
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.replace_dst && p.replace_src && p.reparent_src &&
		    p.reparent_dst);
	assert_false(p.remove_src || p.insert_dst || p.drop_dst_inode);
	/* a directory with a file: allowed, only the dir is reparented */
	with_dst(&a, 11, DT_REG, false);
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.reparent_src);
	assert_false(p.reparent_dst);
}

static void rename_exchange_with_an_ancestor_fails_einval(void **state)
{
	struct dir_rename_args a = args(4, DT_DIR, 3, 1);	/* /a/b/c <-> /a */
	struct dir_rename_plan p;

	(void)state;
	a.flags = DIR_RENAME_EXCHANGE;
	with_dst(&a, 2, DT_DIR, false);
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EINVAL);
	a = args(2, DT_DIR, 1, 3);	/* /a <-> /a/b/c */
	a.flags = DIR_RENAME_EXCHANGE;
	with_dst(&a, 4, DT_DIR, false);
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EINVAL);
}

static void rename_onto_the_same_inode_is_a_noop(void **state)
{
	struct dir_rename_args a = args(10, DT_REG, 2, 5);
	struct dir_rename_plan p;

	(void)state;
	with_dst(&a, 10, DT_REG, false);	/* hard links of one file */
	assert_int_equal(dir_rename_plan(&a, &p, NULL), 0);
	assert_true(p.noop);
	assert_false(p.remove_src || p.replace_dst || p.drop_dst_inode);
	a.flags = DIR_RENAME_NOREPLACE;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EEXIST);
}

static void rename_parent_walk_errors_are_returned(void **state)
{
	struct dir_rename_args a = args(2, DT_DIR, 1, 7);
	struct dir_rename_plan p;
	struct mixfs_err err = { 0 };

	(void)state;
	a.parent_of = loop_parent;
	assert_int_equal(dir_rename_plan(&a, &p, &err), -EUCLEAN);
	assert_non_null(strstr(err.msg, "root"));
	a.parent_of = eio_parent;
	assert_int_equal(dir_rename_plan(&a, &p, NULL), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_check_rejects_empty_dot_dotdot_slash_and_nul),
		cmocka_unit_test(name_check_rejects_names_over_255_bytes),
		cmocka_unit_test(name_check_requires_utf8_only_in_casefold_dirs),
		cmocka_unit_test(name_check_message_says_what_is_wrong),
		cmocka_unit_test(rename_to_a_free_name_moves_the_entry),
		cmocka_unit_test(rename_over_a_file_replaces_it_and_drops_its_link),
		cmocka_unit_test(rename_type_rules_enotdir_eisdir_enotempty),
		cmocka_unit_test(rename_into_own_subtree_fails_einval),
		cmocka_unit_test(rename_noreplace_and_exchange_check_existence),
		cmocka_unit_test(rename_exchange_swaps_and_reparents_directories),
		cmocka_unit_test(rename_exchange_with_an_ancestor_fails_einval),
		cmocka_unit_test(rename_onto_the_same_inode_is_a_noop),
		cmocka_unit_test(rename_parent_walk_errors_are_returned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
