/*
 * test_conformance.c - one suite for every directory strategy, run over
 * each test backing of tb.h: linear over memory and over an objstore
 * object, kv over a memory table and over RocksDB through a
 * WriteBatchWithIndex. A few cases at the end hold for one strategy only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

struct fx {
	enum tb_kind kind;
	struct tb *t;
	struct dir d;
	struct mixfs_err err;
};

#define NAME(s) (s), strlen(s)
/* Assert a call returned @want, naming the call and the library's message. */
#define CHECK_RET(want, call) do { \
	int want_ = (want), got_ = (call); \
	if (got_ != want_) \
		fail_msg("%s: %s returned %d, expected %d (%s)", \
			 tb_kind_name[f->kind], #call, got_, want_, \
			 f->err.msg); \
	mixfs_err_clear(&f->err); \
} while (0)

static enum tb_kind kinds[TB_KINDS] = {
	TB_LINEAR_MEM, TB_LINEAR_OBJ, TB_KV_MEM, TB_KV_ROCKSDB,
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->kind = *(enum tb_kind *)*state;
	f->t = tb_open(f->kind);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dir_release(&f->d);
	tb_close(f->t);
	free(f);
	return 0;
}

static struct fx *mkdir_fx(void **state, unsigned opts)
{
	struct fx *f = *state;

	CHECK_RET(0, tb_create(f->t, 0, opts, &f->d, &f->err));
	return f;
}

/* End the operation (commit the batch, or drop the linear index) and set
 * the handle up again from storage. */
static void reopen(struct fx *f, bool cold)
{
	tb_commit(f->t, cold);
	dir_release(&f->d);
	CHECK_RET(0, tb_init(f->t, 0, &f->d, &f->err));
}

struct col {
	struct dir_entry *e;
	size_t n, max;
	int stop_after;		/* return 7 after this many (0 = never) */
};

static int collect(void *arg, const struct dir_entry *e)
{
	struct col *c = arg;

	if (c->n == c->max) {
		c->max = c->max ? c->max * 2 : 64;
		c->e = realloc(c->e, c->max * sizeof(*c->e));
	}
	c->e[c->n++] = *e;
	return c->stop_after && (int)c->n == c->stop_after ? 7 : 0;
}

static struct dir_entry *find_in(struct col *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].name, name))
			return &c->e[i];
	return NULL;
}

static uint64_t count_of(struct fx *f)
{
	uint64_t n = 0;

	CHECK_RET(0, dir_count(&f->d, &n, &f->err));
	return n;
}

/* --- Cases ---------------------------------------------------------------- */

static void lookup_finds_inserted_entry_with_ino_and_type(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry e;

	CHECK_RET(0, dir_insert(&f->d, NAME("hello"), 42, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("sub"), 43, DT_DIR, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("hello"), &e, &f->err));
	assert_int_equal(e.ino, 42);
	assert_int_equal(e.type, DT_REG);
	assert_string_equal(e.name, "hello");
	assert_int_equal(e.namelen, 5);
	CHECK_RET(0, dir_lookup(&f->d, NAME("sub"), &e, &f->err));
	assert_int_equal(e.ino, 43);
	assert_int_equal(e.type, DT_DIR);
	CHECK_RET(-ENOENT, dir_lookup(&f->d, NAME("hell"), &e, &f->err));
	CHECK_RET(-ENOENT, dir_lookup(&f->d, NAME("hello!"), &e, &f->err));
}

static void insert_of_existing_name_fails_eexist_and_changes_nothing(
	void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry e;

	CHECK_RET(0, dir_insert(&f->d, NAME("a"), 5, DT_REG, &f->err));
	CHECK_RET(-EEXIST, dir_insert(&f->d, NAME("a"), 6, DT_DIR, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("a"), &e, &f->err));
	assert_int_equal(e.ino, 5);
	assert_int_equal(e.type, DT_REG);
	assert_int_equal(count_of(f), 1);
}

static void remove_returns_the_entry_and_lookup_then_fails_enoent(
	void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry e, got;

	CHECK_RET(0, dir_insert(&f->d, NAME("x"), 9, DT_LNK, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("y"), 10, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("x"), &e, &f->err));
	CHECK_RET(0, dir_remove(&f->d, NAME("x"), &got, &f->err));
	assert_int_equal(got.ino, 9);
	assert_int_equal(got.type, DT_LNK);
	assert_int_equal(got.cookie, e.cookie);
	assert_string_equal(got.name, "x");
	CHECK_RET(-ENOENT, dir_lookup(&f->d, NAME("x"), &e, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("y"), &e, &f->err));
	CHECK_RET(0, dir_remove(&f->d, NAME("y"), NULL, &f->err));
	assert_int_equal(count_of(f), 0);
}

static void remove_and_replace_of_missing_name_fail_enoent(void **state)
{
	struct fx *f = mkdir_fx(state, 0);

	CHECK_RET(-ENOENT, dir_remove(&f->d, NAME("nope"), NULL, &f->err));
	CHECK_RET(-ENOENT, dir_replace(&f->d, NAME("nope"), 3, DT_REG, NULL,
				       &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("yes"), 3, DT_REG, &f->err));
	CHECK_RET(0, dir_remove(&f->d, NAME("yes"), NULL, &f->err));
	CHECK_RET(-ENOENT, dir_remove(&f->d, NAME("yes"), NULL, &f->err));
}

static void replace_points_name_at_new_inode_and_keeps_cookie(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry before, old, after;
	struct col c = { 0 };

	CHECK_RET(0, dir_insert(&f->d, NAME("target"), 100, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("target"), &before, &f->err));
	CHECK_RET(0, dir_replace(&f->d, NAME("target"), 200, DT_DIR, &old,
				 &f->err));
	assert_int_equal(old.ino, 100);
	assert_int_equal(old.type, DT_REG);
	CHECK_RET(0, dir_lookup(&f->d, NAME("target"), &after, &f->err));
	assert_int_equal(after.ino, 200);
	assert_int_equal(after.type, DT_DIR);
	assert_int_equal(after.cookie, before.cookie);
	CHECK_RET(0, dir_iterate(&f->d, 0, collect, &c, &f->err));
	assert_int_equal(c.n, 1);
	assert_int_equal(c.e[0].ino, 200);
	assert_int_equal(c.e[0].type, DT_DIR);
	assert_int_equal(count_of(f), 1);
	free(c.e);
}

static void count_and_is_empty_follow_inserts_and_removes(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	char name[32];
	bool empty = false;

	CHECK_RET(0, dir_is_empty(&f->d, &empty, &f->err));
	assert_true(empty);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1000 + i, DT_REG,
					&f->err));
	}
	assert_int_equal(count_of(f), 50);
	CHECK_RET(0, dir_is_empty(&f->d, &empty, &f->err));
	assert_false(empty);
	for (int i = 0; i < 50; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_RET(0, dir_remove(&f->d, NAME(name), NULL, &f->err));
	}
	assert_int_equal(count_of(f), 25);
	reopen(f, true);
	assert_int_equal(count_of(f), 25);
	for (int i = 1; i < 50; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_RET(0, dir_remove(&f->d, NAME(name), NULL, &f->err));
	}
	CHECK_RET(0, dir_is_empty(&f->d, &empty, &f->err));
	assert_true(empty);
}

static void iterate_lists_every_entry_once_in_cookie_order(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct col c = { 0 };
	char name[32];

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "entry-%03d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	CHECK_RET(0, dir_iterate(&f->d, DIR_COOKIE_FIRST - 1, collect, &c,
				 &f->err));
	assert_int_equal(c.n, 300);
	for (size_t i = 0; i < c.n; i++) {
		snprintf(name, sizeof(name), "entry-%03zu", i);
		if (strcmp(c.e[i].name, name) || c.e[i].ino != 1 + i)
			fail_msg("position %zu: got \"%s\" (ino %llu), expected "
				 "\"%s\"", i, c.e[i].name,
				 (unsigned long long)c.e[i].ino, name);
		assert_true(c.e[i].cookie >= DIR_COOKIE_FIRST);
		if (i)
			assert_true(c.e[i].cookie > c.e[i - 1].cookie);
	}
	free(c.e);
}

static void iterate_resumes_after_the_given_cookie(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct col all = { 0 }, part = { 0 };
	char name[32];

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	CHECK_RET(0, dir_iterate(&f->d, 0, collect, &all, &f->err));
	assert_int_equal(all.n, 40);
	CHECK_RET(0, dir_iterate(&f->d, all.e[16].cookie, collect, &part,
				 &f->err));
	assert_int_equal(part.n, 23);
	assert_string_equal(part.e[0].name, all.e[17].name);
	assert_int_equal(part.e[0].cookie, all.e[17].cookie);
	part.n = 0;
	CHECK_RET(0, dir_iterate(&f->d, all.e[39].cookie, collect, &part,
				 &f->err));
	assert_int_equal(part.n, 0);
	CHECK_RET(0, dir_iterate(&f->d, DIR_COOKIE_MAX, collect, &part,
				 &f->err));
	assert_int_equal(part.n, 0);
	CHECK_RET(0, dir_iterate(&f->d, UINT64_MAX, collect, &part, &f->err));
	assert_int_equal(part.n, 0);
	free(all.e);
	free(part.e);
}

static void iterate_returns_what_the_callback_returns(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct col c = { .stop_after = 3 };

	CHECK_RET(0, dir_insert(&f->d, NAME("a"), 1, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("b"), 2, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("c"), 3, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("d"), 4, DT_REG, &f->err));
	CHECK_RET(7, dir_iterate(&f->d, 0, collect, &c, &f->err));
	assert_int_equal(c.n, 3);
	assert_string_equal(c.e[2].name, "c");
	free(c.e);
}

static void cookies_grow_and_are_never_reused(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry e;
	uint64_t last = 0;
	char name[32];

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 300; i++) {
			snprintf(name, sizeof(name), "c%d", i);
			CHECK_RET(0, dir_insert(&f->d, NAME(name), 7, DT_REG,
						&f->err));
			CHECK_RET(0, dir_lookup(&f->d, NAME(name), &e,
						&f->err));
			if (e.cookie <= last)
				fail_msg("round %d: \"%s\" got cookie %llu "
					 "after %llu", round, name,
					 (unsigned long long)e.cookie,
					 (unsigned long long)last);
			last = e.cookie;
		}
		for (int i = 0; i < 300; i++) {
			snprintf(name, sizeof(name), "c%d", i);
			CHECK_RET(0, dir_remove(&f->d, NAME(name), NULL,
						&f->err));
		}
		reopen(f, true);
	}
	assert_true(last >= DIR_COOKIE_FIRST + 899);
	assert_true(last < DIR_COOKIE_MAX);
}

static void entries_and_cookies_survive_reopen(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct col a = { 0 }, b = { 0 };
	char name[64];

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "persist-%d-%s", i,
			 i % 3 ? "x" : "a-rather-longer-name-for-variety");
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 500 + i,
					(unsigned char)(i % 12), &f->err));
	}
	for (int i = 0; i < 200; i += 7) {
		snprintf(name, sizeof(name), "persist-%d-%s", i,
			 i % 3 ? "x" : "a-rather-longer-name-for-variety");
		CHECK_RET(0, dir_remove(&f->d, NAME(name), NULL, &f->err));
	}
	CHECK_RET(0, dir_iterate(&f->d, 0, collect, &a, &f->err));
	reopen(f, true);
	CHECK_RET(0, dir_iterate(&f->d, 0, collect, &b, &f->err));
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.e[i].name, b.e[i].name);
		assert_int_equal(a.e[i].cookie, b.e[i].cookie);
		assert_int_equal(a.e[i].ino, b.e[i].ino);
		assert_int_equal(a.e[i].type, b.e[i].type);
	}
	free(a.e);
	free(b.e);
}

static void casefold_lookup_ignores_case_and_keeps_stored_name(void **state)
{
	struct fx *f = mkdir_fx(state, DIR_OPT_CASEFOLD);
	struct dir_entry e;
	struct col c = { 0 };

	assert_int_equal(f->d.opts, DIR_OPT_CASEFOLD);
	CHECK_RET(0, dir_insert(&f->d, NAME("Stra\xc3\x9f" "e"), 1, DT_REG,
				&f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("README.md"), 2, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("STRASSE"), &e, &f->err));
	assert_int_equal(e.ino, 1);
	assert_string_equal(e.name, "Stra\xc3\x9f" "e");
	CHECK_RET(0, dir_lookup(&f->d, NAME("readme.MD"), &e, &f->err));
	assert_int_equal(e.ino, 2);
	assert_string_equal(e.name, "README.md");
	/* Greek final sigma folds like sigma */
	CHECK_RET(0, dir_insert(&f->d, NAME("\xce\xa3\xce\x9f\xce\xa6\xce\x99"
					    "\xce\x91"), 3, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("\xcf\x83\xce\xbf\xcf\x86\xce\xb9"
					    "\xce\xb1"), &e, &f->err));
	assert_int_equal(e.ino, 3);
	reopen(f, true);
	assert_int_equal(f->d.opts, DIR_OPT_CASEFOLD);
	CHECK_RET(0, dir_lookup(&f->d, NAME("strasse"), &e, &f->err));
	CHECK_RET(0, dir_iterate(&f->d, 0, collect, &c, &f->err));
	assert_int_equal(c.n, 3);
	assert_non_null(find_in(&c, "README.md"));
	CHECK_RET(0, dir_remove(&f->d, NAME("readme.md"), &e, &f->err));
	assert_string_equal(e.name, "README.md");
	CHECK_RET(-ENOENT, dir_lookup(&f->d, NAME("README.md"), &e, &f->err));
	CHECK_RET(0, dir_replace(&f->d, NAME("STRASSE"), 9, DT_DIR, NULL,
				 &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("Stra\xc3\x9f" "e"), &e, &f->err));
	assert_int_equal(e.ino, 9);
	free(c.e);
}

static void casefold_matches_canonically_equivalent_names(void **state)
{
	struct fx *f = mkdir_fx(state, DIR_OPT_CASEFOLD);
	struct dir_entry e;

	/* precomposed e-acute vs e + combining acute, in either case */
	CHECK_RET(0, dir_insert(&f->d, NAME("caf\xc3\xa9"), 1, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("CAFE\xcc\x81"), &e, &f->err));
	assert_int_equal(e.ino, 1);
	CHECK_RET(-EEXIST, dir_insert(&f->d, NAME("cafe\xcc\x81"), 2, DT_REG,
				      &f->err));
}

static void casefold_insert_of_other_case_fails_eexist(void **state)
{
	struct fx *f = mkdir_fx(state, DIR_OPT_CASEFOLD);
	struct dir_entry e;

	CHECK_RET(0, dir_insert(&f->d, NAME("Makefile"), 1, DT_REG, &f->err));
	CHECK_RET(-EEXIST, dir_insert(&f->d, NAME("MAKEFILE"), 2, DT_REG,
				      &f->err));
	assert_int_equal(count_of(f), 1);
	CHECK_RET(0, dir_lookup(&f->d, NAME("makefile"), &e, &f->err));
	assert_int_equal(e.ino, 1);
}

static void plain_directory_is_case_sensitive(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry e;

	CHECK_RET(0, dir_insert(&f->d, NAME("Makefile"), 1, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("MAKEFILE"), 2, DT_REG, &f->err));
	CHECK_RET(-ENOENT, dir_lookup(&f->d, NAME("makefile"), &e, &f->err));
	assert_int_equal(count_of(f), 2);
}

static void casefold_rejects_invalid_utf8_but_plain_dir_accepts_it(
	void **state)
{
	struct fx *f = mkdir_fx(state, DIR_OPT_CASEFOLD);
	struct dir plain;
	struct dir_entry e;
	static const char bad[] = "caf\xe9";	/* Latin-1, not UTF-8 */

	CHECK_RET(-EILSEQ, dir_insert(&f->d, bad, 4, 1, DT_REG, &f->err));
	CHECK_RET(-EILSEQ, dir_lookup(&f->d, bad, 4, &e, &f->err));
	CHECK_RET(-EILSEQ, dir_insert(&f->d, NAME("\xed\xa0\x80"), 1, DT_REG,
				      &f->err));	/* a surrogate */
	CHECK_RET(0, tb_create(f->t, 1, 0, &plain, &f->err));
	CHECK_RET(0, dir_insert(&plain, bad, 4, 1, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&plain, bad, 4, &e, &f->err));
	assert_memory_equal(e.name, bad, 4);
	dir_release(&plain);
}

static void every_call_rejects_invalid_names(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	static const struct { const char *s; size_t len; int err; } bad[] = {
		{ "", 0, -EINVAL }, { ".", 1, -EINVAL }, { "..", 2, -EINVAL },
		{ "a/b", 3, -EINVAL }, { "/", 1, -EINVAL },
		{ "a\0b", 3, -EINVAL }, { "\0", 1, -EINVAL },
	};
	char longname[300];
	struct dir_entry e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_RET(bad[i].err, dir_insert(&f->d, bad[i].s, bad[i].len,
						 1, DT_REG, &f->err));
		CHECK_RET(bad[i].err, dir_lookup(&f->d, bad[i].s, bad[i].len,
						 &e, &f->err));
		CHECK_RET(bad[i].err, dir_remove(&f->d, bad[i].s, bad[i].len,
						 &e, &f->err));
		CHECK_RET(bad[i].err, dir_replace(&f->d, bad[i].s, bad[i].len,
						  1, DT_REG, NULL, &f->err));
	}
	memset(longname, 'x', sizeof(longname));
	CHECK_RET(-ENAMETOOLONG, dir_insert(&f->d, longname, 256, 1, DT_REG,
					    &f->err));
	CHECK_RET(-ENAMETOOLONG, dir_lookup(&f->d, longname, 256, &e,
					    &f->err));
	CHECK_RET(0, dir_insert(&f->d, longname, 255, 1, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, longname, 255, &e, &f->err));
	assert_int_equal(e.namelen, 255);
	CHECK_RET(-EINVAL, dir_insert(&f->d, NAME("zero"), 0, DT_REG,
				      &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("..."), 2, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME(".hidden"), 3, DT_REG, &f->err));
	assert_int_equal(count_of(f), 3);
}

static void names_with_any_byte_but_slash_and_nul_round_trip(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	char name[255];
	struct dir_entry e;
	size_t n = 0;

	for (int b = 1; b < 256 && n < sizeof(name); b++)
		if (b != '/')
			name[n++] = (char)b;
	CHECK_RET(0, dir_insert(&f->d, name, n, 77, DT_REG, &f->err));
	reopen(f, true);
	CHECK_RET(0, dir_lookup(&f->d, name, n, &e, &f->err));
	assert_int_equal(e.namelen, n);
	assert_memory_equal(e.name, name, n);
}

static void create_on_existing_directory_fails_eexist(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir other;

	CHECK_RET(0, dir_insert(&f->d, NAME("keep"), 1, DT_REG, &f->err));
	CHECK_RET(-EEXIST, tb_create(f->t, 0, 0, &other, &f->err));
	CHECK_RET(-EEXIST, tb_create(f->t, 0, DIR_OPT_CASEFOLD, &other,
				     &f->err));
	assert_int_equal(count_of(f), 1);
}

static void create_with_unknown_options_fails_einval(void **state)
{
	struct fx *f = *state;
	struct dir d;

	CHECK_RET(-EINVAL, tb_create(f->t, 0, 1u << 7, &d, &f->err));
	CHECK_RET(0, tb_create(f->t, 0, 0, &f->d, &f->err));
}

static void init_without_header_fails_euclean(void **state)
{
	struct fx *f = *state;
	struct dir d;

	CHECK_RET(-EUCLEAN, tb_init(f->t, 3, &d, &f->err));
}

static void destroy_removes_every_record(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir again;
	char name[32];
	bool empty;

	for (int i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "gone-%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	CHECK_RET(0, dir_destroy(&f->d, &f->err));
	tb_commit(f->t, false);
	if (tb_is_linear(f->t)) {
		struct dir_stream *s = tb_stream(f->t, 0);
		uint64_t size = 1;

		assert_int_equal(s->ops->size(s, &size), 0);
		assert_int_equal(size, 0);
	} else {
		assert_int_equal(tb_kv_keys(f->t, 0), 0);
	}
	CHECK_RET(-EUCLEAN, tb_init(f->t, 0, &again, &f->err));
	/* and the storage is fit to hold a new directory */
	dir_release(&f->d);
	CHECK_RET(0, tb_create(f->t, 0, 0, &f->d, &f->err));
	CHECK_RET(0, dir_is_empty(&f->d, &empty, &f->err));
	assert_true(empty);
}

static void directories_in_one_backing_are_independent(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir d1, d2;
	struct dir_entry e;
	struct col c = { 0 };
	uint64_t left = 1;

	CHECK_RET(0, tb_create(f->t, 1, 0, &d1, &f->err));
	CHECK_RET(0, tb_create(f->t, 2, DIR_OPT_CASEFOLD, &d2, &f->err));
	CHECK_RET(0, dir_insert(&f->d, NAME("same"), 1, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&d1, NAME("same"), 2, DT_REG, &f->err));
	CHECK_RET(0, dir_insert(&d2, NAME("SAME"), 3, DT_REG, &f->err));
	CHECK_RET(0, dir_lookup(&d1, NAME("same"), &e, &f->err));
	assert_int_equal(e.ino, 2);
	CHECK_RET(0, dir_lookup(&d2, NAME("same"), &e, &f->err));
	assert_int_equal(e.ino, 3);
	CHECK_RET(0, dir_remove(&d1, NAME("same"), NULL, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("same"), &e, &f->err));
	assert_int_equal(e.ino, 1);
	CHECK_RET(0, dir_iterate(&d2, 0, collect, &c, &f->err));
	assert_int_equal(c.n, 1);
	CHECK_RET(0, dir_destroy(&d2, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("same"), &e, &f->err));
	CHECK_RET(0, dir_count(&d1, &left, &f->err));
	assert_int_equal(left, 0);
	dir_release(&d1);
	dir_release(&d2);
	free(c.e);
}

static void many_entries_with_long_names_span_blocks(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	const int n = 2000;
	char name[260];
	struct dir_entry e;
	struct col c = { 0 };

	for (int i = 0; i < n; i++) {
		int len = snprintf(name, sizeof(name), "%d-", i);

		memset(name + len, 'a' + i % 26, (size_t)(i * 37 % 240));
		name[len + i * 37 % 240] = '\0';
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 10 + i, DT_REG,
					&f->err));
	}
	for (int i = 0; i < n; i += 3) {
		int len = snprintf(name, sizeof(name), "%d-", i);

		memset(name + len, 'a' + i % 26, (size_t)(i * 37 % 240));
		name[len + i * 37 % 240] = '\0';
		CHECK_RET(0, dir_remove(&f->d, NAME(name), NULL, &f->err));
		snprintf(name, sizeof(name), "re-%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 100000 + i, DT_REG,
					&f->err));
	}
	reopen(f, true);
	assert_int_equal(count_of(f), n);
	for (int i = 0; i < n; i++) {
		int len = snprintf(name, sizeof(name), i % 3 ? "%d-" : "re-%d",
				   i);

		if (i % 3) {
			memset(name + len, 'a' + i % 26,
			       (size_t)(i * 37 % 240));
			name[len + i * 37 % 240] = '\0';
		}
		CHECK_RET(0, dir_lookup(&f->d, NAME(name), &e, &f->err));
		assert_int_equal(e.ino, i % 3 ? 10 + i : 100000 + i);
	}
	CHECK_RET(0, dir_iterate(&f->d, 0, collect, &c, &f->err));
	assert_int_equal(c.n, n);
	for (size_t i = 1; i < c.n; i++)
		assert_true(c.e[i].cookie > c.e[i - 1].cookie);
	free(c.e);
}

/* --- linear only ------------------------------------------------------------ */

static void linear_removed_space_is_reused(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_stream *s = tb_stream(f->t, 0);
	uint64_t size1, size2;
	char name[64];

	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "first-generation-%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	assert_int_equal(s->ops->size(s, &size1), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "first-generation-%d", i);
		CHECK_RET(0, dir_remove(&f->d, NAME(name), NULL, &f->err));
	}
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "next-generation--%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	assert_int_equal(s->ops->size(s, &size2), 0);
	if (size2 != size1)
		fail_msg("stream grew from %llu to %llu bytes although every "
			 "new record fits a freed one",
			 (unsigned long long)size1, (unsigned long long)size2);
}

/* Fail each write of an insert, remove and replace in turn: the call
 * fails, and the directory (index and stream) is as it was. */
static void linear_failed_write_leaves_directory_unchanged(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct col before = { 0 }, warm = { 0 }, cold = { 0 };
	char name[64];
	int ops = 0;

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "base-%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	for (int op = 0; op < 3; op++) {
		for (unsigned k = 1; ; k++) {
			int ret;

			before.n = warm.n = cold.n = 0;
			CHECK_RET(0, dir_iterate(&f->d, 0, collect, &before,
						 &f->err));
			tb_fail_write(f->t, k);
			snprintf(name, sizeof(name), "base-%d", 50 + op);
			if (op == 0)
				ret = dir_insert(&f->d, NAME("new-one"), 999,
						 DT_REG, &f->err);
			else if (op == 1)
				ret = dir_remove(&f->d, NAME(name), NULL,
						 &f->err);
			else
				ret = dir_replace(&f->d, NAME(name), 555,
						  DT_DIR, NULL, &f->err);
			mixfs_err_clear(&f->err);
			tb_fail_write(f->t, 0);
			ops++;
			if (ret == 0)
				break;
			assert_int_equal(ret, -EIO);
			CHECK_RET(0, dir_iterate(&f->d, 0, collect, &warm,
						 &f->err));
			reopen(f, true);
			CHECK_RET(0, dir_iterate(&f->d, 0, collect, &cold,
						 &f->err));
			assert_int_equal(warm.n, before.n);
			assert_int_equal(cold.n, before.n);
			for (size_t i = 0; i < before.n; i++) {
				assert_string_equal(warm.e[i].name,
						    before.e[i].name);
				assert_string_equal(cold.e[i].name,
						    before.e[i].name);
				assert_int_equal(cold.e[i].ino,
						 before.e[i].ino);
				assert_int_equal(cold.e[i].cookie,
						 before.e[i].cookie);
			}
		}
	}
	assert_true(ops > 3);
	free(before.e);
	free(warm.e);
	free(cold.e);
}

/* --- kv only ---------------------------------------------------------------- */

static void kv_discarded_batch_leaves_directory_unchanged(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	struct dir_entry e;

	CHECK_RET(0, dir_insert(&f->d, NAME("kept"), 1, DT_REG, &f->err));
	tb_commit(f->t, false);
	CHECK_RET(0, dir_insert(&f->d, NAME("dropped"), 2, DT_REG, &f->err));
	CHECK_RET(0, dir_remove(&f->d, NAME("kept"), NULL, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("dropped"), &e, &f->err));
	tb_abort(f->t);
	CHECK_RET(-ENOENT, dir_lookup(&f->d, NAME("dropped"), &e, &f->err));
	CHECK_RET(0, dir_lookup(&f->d, NAME("kept"), &e, &f->err));
	assert_int_equal(count_of(f), 1);
}

static void kv_writes_only_keys_of_its_prefix_and_inode(void **state)
{
	struct fx *f = mkdir_fx(state, 0);
	char name[16];

	/* The backing holds 3 foreign keys, one with the same prefix and a
	 * neighbouring inode; a directory's keys are its header plus two
	 * per entry, and destroy takes exactly those. */
	assert_int_equal(tb_kv_keys(f->t, 0), 1);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		CHECK_RET(0, dir_insert(&f->d, NAME(name), 1 + i, DT_REG,
					&f->err));
	}
	assert_int_equal(tb_kv_keys(f->t, 0), 21);
	assert_int_equal(tb_kv_keys(f->t, 8), 1);
	CHECK_RET(0, dir_destroy(&f->d, &f->err));
	assert_int_equal(tb_kv_keys(f->t, 0), 0);
	assert_int_equal(tb_kv_keys(f->t, 8), 1);
}

/* --- Registration ------------------------------------------------------------ */

#define ALL(fn) { #fn, fn, 0 }
#define LINEAR(fn) { #fn, fn, 1 }
#define LINEAR_MEM(fn) { #fn, fn, 2 }
#define KV_ROCKSDB(fn) { #fn, fn, 3 }
#define KV(fn) { #fn, fn, 4 }

static const struct {
	const char *name;
	void (*fn)(void **);
	int only;
} cases[] = {
	ALL(lookup_finds_inserted_entry_with_ino_and_type),
	ALL(insert_of_existing_name_fails_eexist_and_changes_nothing),
	ALL(remove_returns_the_entry_and_lookup_then_fails_enoent),
	ALL(remove_and_replace_of_missing_name_fail_enoent),
	ALL(replace_points_name_at_new_inode_and_keeps_cookie),
	ALL(count_and_is_empty_follow_inserts_and_removes),
	ALL(iterate_lists_every_entry_once_in_cookie_order),
	ALL(iterate_resumes_after_the_given_cookie),
	ALL(iterate_returns_what_the_callback_returns),
	ALL(cookies_grow_and_are_never_reused),
	ALL(entries_and_cookies_survive_reopen),
	ALL(casefold_lookup_ignores_case_and_keeps_stored_name),
	ALL(casefold_matches_canonically_equivalent_names),
	ALL(casefold_insert_of_other_case_fails_eexist),
	ALL(plain_directory_is_case_sensitive),
	ALL(casefold_rejects_invalid_utf8_but_plain_dir_accepts_it),
	ALL(every_call_rejects_invalid_names),
	ALL(names_with_any_byte_but_slash_and_nul_round_trip),
	ALL(create_on_existing_directory_fails_eexist),
	ALL(create_with_unknown_options_fails_einval),
	ALL(init_without_header_fails_euclean),
	ALL(destroy_removes_every_record),
	ALL(directories_in_one_backing_are_independent),
	ALL(many_entries_with_long_names_span_blocks),
	LINEAR(linear_removed_space_is_reused),
	LINEAR_MEM(linear_failed_write_leaves_directory_unchanged),
	KV_ROCKSDB(kv_discarded_batch_leaves_directory_unchanged),
	KV(kv_writes_only_keys_of_its_prefix_and_inode),
};

static bool applies(int only, enum tb_kind k)
{
	switch (only) {
	case 1: return k == TB_LINEAR_MEM || k == TB_LINEAR_OBJ;
	case 2: return k == TB_LINEAR_MEM;
	case 3: return k == TB_KV_ROCKSDB;
	case 4: return k == TB_KV_MEM || k == TB_KV_ROCKSDB;
	default: return true;
	}
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]), n = 0;
	struct CMUnitTest *tests = calloc(ncases * TB_KINDS, sizeof(*tests));
	int ret;

	for (int k = 0; k < TB_KINDS; k++)
		for (size_t i = 0; i < ncases; i++) {
			char *name;

			if (!applies(cases[i].only, kinds[k]))
				continue;
			if (asprintf(&name, "%s: %s", tb_kind_name[k],
				     cases[i].name) < 0)
				abort();
			tests[n++] = (struct CMUnitTest){
				.name = name,
				.test_func = cases[i].fn,
				.setup_func = setup,
				.teardown_func = teardown,
				.initial_state = &kinds[k],
			};
		}
	ret = _cmocka_run_group_tests("dirlib conformance", tests, n, NULL,
				      NULL);
	for (size_t i = 0; i < n; i++)
		free((char *)tests[i].name);
	free(tests);
	return ret;
}
