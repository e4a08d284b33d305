/*
 * test_faulty.c - the faulty: backend does what its plan says: each rule
 * (nth, op, after/count, p with seed, errno, delay), down and up, plans
 * changed at run time, transactions all or nothing over atomic stores, and
 * "fail each call in turn" over a small workload with a fault-free twin
 * store as the reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"
#include "objstore/objstore_faulty.h"

#define CHECK(call) do {						\
	long r_ = (long)(call);						\
	if (r_ < 0)							\
		fail_msg("%s failed: %s", #call, strerror((int)-r_));	\
} while (0)

#define CHECK_ERR(call, want) do {					\
	long r_ = (long)(call);						\
	if (r_ != (want))						\
		fail_msg("%s returned %ld (%s), expected %s", #call, r_,	\
			 r_ < 0 ? strerror((int)-r_) : "success", #want);	\
} while (0)

static struct objstore *open_uri(const char *uri)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;
	int ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err);

	if (ret)
		fail_msg("opening %s failed: %s", uri, mixfs_err_msg(&err, ret));
	return s;
}

static struct objstore_faulty_counters counters(struct objstore *s)
{
	struct objstore_faulty_counters c;

	CHECK(objstore_faulty_counters(s, &c));
	return c;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* A fresh temporary directory name (not created) under $TMPDIR. */
static void temp_path(char *buf, size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, cap, "%s/mixfs-faulty-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(buf));
	strncat(buf, "/store", cap - strlen(buf) - 1);
}

static void temp_remove(char *path)
{
	*strrchr(path, '/') = '\0';
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- single rules -------------------------------------------------------- */

static void empty_and_none_specs_inject_nothing(void **state)
{
	static const char *const uris[] = { "faulty::mem:", "faulty:none:mem:" };
	unsigned char buf[16];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct objstore *s = open_uri(uris[i]);
		struct objstore_faulty_counters c;

		assert_true(objstore_is_faulty(s));
		CHECK(objstore_create(s, 1, NULL));
		CHECK(objstore_write(s, 1, 0, "hello", 5, NULL));
		CHECK_ERR(objstore_read(s, 1, 0, buf, sizeof(buf), NULL), 5);
		CHECK(objstore_sync(s, NULL));
		c = counters(s);
		assert_int_equal(c.total_calls, 4);
		assert_int_equal(c.calls[OBJSTORE_FAULTY_WRITE], 1);
		assert_int_equal(c.total_faults, 0);
		CHECK(objstore_close(s));
	}
}

static void nth_fails_exactly_that_call(void **state)
{
	struct objstore *s = open_uri("faulty:nth=3:mem:");
	struct mixfs_err err = { 0 };
	struct objstore_stat st;
	int i;

	(void)state;
	CHECK(objstore_create(s, 7, NULL));			/* call 1 */
	CHECK(objstore_stat(s, 7, &st, NULL));			/* call 2 */
	CHECK_ERR(objstore_write(s, 7, 0, "x", 1, &err), -EIO);	/* call 3 */
	assert_non_null(strstr(err.msg, "write"));
	for (i = 0; i < 10; i++)				/* 4 on */
		CHECK(objstore_stat(s, 7, &st, NULL));
	assert_int_equal(st.size, 0);
	assert_int_equal(counters(s).total_faults, 1);
	assert_int_equal(counters(s).faults[OBJSTORE_FAULTY_WRITE], 1);
	CHECK(objstore_close(s));
}

static void op_rule_fails_only_matching_calls(void **state)
{
	struct objstore *s = open_uri(
		"faulty:op=write+truncate,errno=ENOSPC:mem:");
	struct objstore_stat st;
	char buf[4];

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	CHECK_ERR(objstore_write(s, 1, 0, "abc", 3, NULL), -ENOSPC);
	CHECK_ERR(objstore_write(s, 1, 9, "abc", 3, NULL), -ENOSPC);
	CHECK_ERR(objstore_truncate(s, 1, 100, NULL), -ENOSPC);
	CHECK(objstore_setattr(s, 1, "a", "v", 1, NULL));
	CHECK(objstore_stat(s, 1, &st, NULL));
	assert_int_equal(st.size, 0);
	CHECK_ERR(objstore_read(s, 1, 0, buf, sizeof(buf), NULL), 0);
	assert_int_equal(counters(s).total_faults, 3);
	CHECK(objstore_close(s));
}

static void op_classes_update_and_query_split_the_calls(void **state)
{
	struct objstore *s = open_uri("faulty:op=query:mem:");
	struct objstore_statfs sf;
	struct objstore_stat st;
	char buf[4];

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	CHECK(objstore_write(s, 1, 0, "abc", 3, NULL));
	CHECK(objstore_sync(s, NULL));
	CHECK_ERR(objstore_read(s, 1, 0, buf, 3, NULL), -EIO);
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -EIO);
	CHECK_ERR(objstore_statfs(s, &sf, NULL), -EIO);
	CHECK(objstore_faulty_set_plan(s, "op=update", NULL));
	CHECK_ERR(objstore_read(s, 1, 0, buf, 3, NULL), 3);
	CHECK_ERR(objstore_remove(s, 1, NULL), -EIO);
	CHECK_ERR(objstore_setattr(s, 1, "n", "v", 1, NULL), -EIO);
	CHECK(objstore_sync(s, NULL));		/* neither class */
	CHECK(objstore_close(s));
}

static void after_and_count_bound_the_window(void **state)
{
	struct objstore *s = open_uri("faulty:op=write,after=2,count=2:mem:");
	int want[] = { 0, 0, -EIO, -EIO, 0, 0 };
	size_t i;

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int ret = objstore_write(s, 1, i, "z", 1, NULL);

		if (ret != want[i])
			fail_msg("write %zu returned %d, expected %d", i + 1,
				 ret, want[i]);
	}
	CHECK(objstore_close(s));
}

/* The pattern of failures of 400 stat calls under @spec, as a bitmap. */
static void failure_pattern(const char *spec, unsigned char *bits,
			    unsigned *nfail)
{
	char uri[128];
	struct objstore *s;
	struct objstore_stat st;
	unsigned i;

	snprintf(uri, sizeof(uri), "faulty:%s:mem:", spec);
	s = open_uri(uri);
	*nfail = 0;
	memset(bits, 0, 50);
	CHECK(objstore_faulty_set_plan(s, "", NULL));
	CHECK(objstore_create(s, 1, NULL));
	CHECK(objstore_faulty_set_plan(s, spec, NULL));
	for (i = 0; i < 400; i++) {
		int ret = objstore_stat(s, 1, &st, NULL);

		assert_true(ret == 0 || ret == -EIO);
		if (ret) {
			bits[i / 8] |= 1u << (i % 8);
			(*nfail)++;
		}
	}
	assert_int_equal(counters(s).total_faults, *nfail);
	CHECK(objstore_close(s));
}

static void probability_is_reproducible_by_seed(void **state)
{
	unsigned char a[50], b[50], c[50];
	unsigned na, nb, nc;

	(void)state;
	failure_pattern("p=0.25,seed=42", a, &na);
	failure_pattern("p=0.25,seed=42", b, &nb);
	failure_pattern("p=0.25,seed=43", c, &nc);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	/* 400 draws at 1/4: 100 expected, sd about 8.7. */
	if (na < 60 || na > 140 || nc < 60 || nc > 140)
		fail_msg("p=0.25 failed %u and %u of 400 calls", na, nc);
	failure_pattern("p=0", a, &na);
	assert_int_equal(na, 0);
	failure_pattern("p=1", a, &na);
	assert_int_equal(na, 400);
}

static void errno_is_chosen_by_name_or_number(void **state)
{
	static const struct { const char *spec; int want; } cases[] = {
		{ "errno=EIO", -EIO }, { "errno=ENOSPC", -ENOSPC },
		{ "errno=ETIMEDOUT", -ETIMEDOUT }, { "errno=EBADMSG", -EBADMSG },
		{ "errno=EROFS", -EROFS }, { "errno=5", -5 },
		{ "op=stat", -EIO },	/* the default */
	};
	struct objstore *s = open_uri("faulty::mem:");
	struct objstore_stat st;
	size_t i;

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		CHECK(objstore_faulty_set_plan(s, cases[i].spec, NULL));
		ret = objstore_stat(s, 1, &st, NULL);
		if (ret != cases[i].want)
			fail_msg("plan %s: stat returned %d, expected %d",
				 cases[i].spec, ret, cases[i].want);
	}
	CHECK(objstore_close(s));
}

static void delay_slows_matching_calls_only(void **state)
{
	struct objstore *s = open_uri("faulty:op=stat,delay=40ms:mem:");
	struct objstore_stat st;
	double t0, slow;

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	t0 = now_ms();
	CHECK(objstore_stat(s, 1, &st, NULL));	/* delayed, then succeeds */
	slow = now_ms() - t0;
	CHECK(objstore_write(s, 1, 0, "a", 1, NULL));
	if (slow < 40)
		fail_msg("stat took %.1f ms, want >= 40", slow);
	/* The write was not delayed: the counter says so, not a clock. */
	assert_int_equal(counters(s).delayed, 1);
	/* With errno= as well the call waits and then fails. */
	CHECK(objstore_faulty_set_plan(s, "op=stat,delay=20ms,errno=ETIMEDOUT",
				       NULL));
	t0 = now_ms();
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -ETIMEDOUT);
	slow = now_ms() - t0;
	if (slow < 20)
		fail_msg("failing stat took %.1f ms, want >= 20", slow);
	CHECK(objstore_close(s));
}

static void down_fails_everything_until_up(void **state)
{
	struct objstore *s = open_uri("faulty::mem:");
	struct objstore_stat st;
	char buf[8];
	double t0, took;

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	CHECK(objstore_write(s, 1, 0, "keep", 4, NULL));
	CHECK(objstore_faulty_set_down(s, true));
	CHECK_ERR(objstore_write(s, 1, 0, "lost", 4, NULL), -EIO);
	CHECK_ERR(objstore_read(s, 1, 0, buf, 4, NULL), -EIO);
	CHECK_ERR(objstore_create(s, 2, NULL), -EIO);
	CHECK_ERR(objstore_sync(s, NULL), -EIO);
	CHECK(objstore_faulty_set_down_delay(s, 30 * 1000000ull));
	t0 = now_ms();
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -EIO);
	took = now_ms() - t0;
	if (took < 30)
		fail_msg("a call while down took %.1f ms, want >= 30", took);
	assert_int_equal(counters(s).down_faults, 5);
	/* Nothing reached the store while it was down. */
	CHECK_ERR(objstore_read(objstore_faulty_inner(s), 1, 0, buf, 8, NULL), 4);
	assert_memory_equal(buf, "keep", 4);
	CHECK_ERR(objstore_stat(objstore_faulty_inner(s), 2, &st, NULL), -ENOENT);
	CHECK(objstore_faulty_set_down(s, false));
	CHECK_ERR(objstore_read(s, 1, 0, buf, 8, NULL), 4);
	CHECK(objstore_create(s, 2, NULL));
	CHECK(objstore_close(s));
}

static void plan_changes_at_run_time_and_bad_plans_keep_the_old(void **state)
{
	struct objstore *s = open_uri("faulty:op=stat:mem:");
	struct mixfs_err err = { 0 };
	struct objstore_stat st;

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -EIO);
	CHECK_ERR(objstore_faulty_set_plan(s, "op=nosuch", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nosuch"));
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -EIO);	/* old plan */
	CHECK(objstore_faulty_set_plan(s, "nth=2", NULL));	/* counts anew */
	CHECK(objstore_stat(s, 1, &st, NULL));
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -EIO);
	CHECK(objstore_stat(s, 1, &st, NULL));
	CHECK(objstore_faulty_set_plan(s, NULL, NULL));
	CHECK(objstore_faulty_reset_counters(s));
	CHECK(objstore_stat(s, 1, &st, NULL));
	assert_int_equal(counters(s).total_calls, 1);
	assert_int_equal(counters(s).total_faults, 0);
	/* The API refuses stores that are not faulty. */
	assert_int_equal(objstore_faulty_set_plan(objstore_faulty_inner(s), "",
						  NULL), -EINVAL);
	assert_int_equal(objstore_faulty_set_down(objstore_faulty_inner(s),
						  true), -EINVAL);
	assert_null(objstore_faulty_inner(objstore_faulty_inner(s)));
	CHECK(objstore_close(s));
}

static void later_rules_count_but_the_first_failure_decides(void **state)
{
	struct objstore *s = open_uri(
		"faulty:op=write,nth=2,errno=ENOSPC;op=write,errno=EROFS,after=1:mem:");

	(void)state;
	CHECK(objstore_create(s, 1, NULL));
	CHECK(objstore_write(s, 1, 0, "a", 1, NULL));
	CHECK_ERR(objstore_write(s, 1, 0, "a", 1, NULL), -ENOSPC);
	CHECK_ERR(objstore_write(s, 1, 0, "a", 1, NULL), -EROFS);
	CHECK(objstore_close(s));
}

static void capabilities_and_uuid_are_the_inner_stores(void **state)
{
	struct objstore_info outer, inner;
	struct objstore *s = open_uri("faulty::mem:");
	char path[256], uri[300];

	(void)state;
	objstore_info(s, &outer);
	objstore_info(objstore_faulty_inner(s), &inner);
	assert_string_equal(outer.backend, "faulty");
	assert_int_equal(outer.caps, inner.caps);
	assert_memory_equal(outer.uuid, inner.uuid, 16);
	CHECK(objstore_close(s));

	temp_path(path, sizeof(path));
	snprintf(uri, sizeof(uri), "faulty:none:dir:%s", path);
	s = open_uri(uri);
	objstore_info(s, &outer);
	objstore_info(objstore_faulty_inner(s), &inner);
	assert_int_equal(outer.caps, inner.caps);
	assert_false(outer.caps & OBJSTORE_CAP_ATOMIC_TXN);
	assert_true(outer.caps & OBJSTORE_CAP_PERSISTENT);
	CHECK(objstore_close(s));
	temp_remove(path);
}

/* --- transactions -------------------------------------------------------- */

static struct objstore_txn *three_step_txn(struct objstore *s)
{
	struct objstore_txn *t = objstore_txn_new(s);

	assert_non_null(t);
	CHECK(objstore_txn_create(t, 5));
	CHECK(objstore_txn_write(t, 5, 0, "txn-data", 8));
	CHECK(objstore_txn_setattr(t, 5, "k", "v", 1));
	return t;
}

static void failing_step_leaves_atomic_store_untouched(void **state)
{
	struct objstore *s = open_uri("faulty:nth=3:mem:");
	struct objstore_info info;
	struct snapshot before, after;
	struct mixfs_err err = { 0 };
	struct objstore_txn *t;
	struct objstore_stat st;

	(void)state;
	objstore_info(s, &info);
	assert_true(info.caps & OBJSTORE_CAP_ATOMIC_TXN);
	CHECK(objstore_create(s, 1, NULL));			/* call 1 */
	snapshot_take(objstore_faulty_inner(s), &before);
	t = three_step_txn(s);
	CHECK_ERR(objstore_txn_commit(t, &err), -EIO);		/* steps 2-4 */
	assert_non_null(strstr(err.msg, "step 2"));
	snapshot_take(objstore_faulty_inner(s), &after);
	snapshot_assert_equal(&before, &after, "store after a failed commit");
	assert_int_equal(counters(s).calls[OBJSTORE_FAULTY_CREATE], 2);
	assert_int_equal(counters(s).calls[OBJSTORE_FAULTY_WRITE], 1);
	assert_int_equal(counters(s).calls[OBJSTORE_FAULTY_SETATTR], 0);
	/* The same transaction goes through whole once the fault is spent. */
	CHECK(objstore_txn_commit(t, NULL));
	CHECK(objstore_stat(s, 5, &st, NULL));
	assert_int_equal(st.size, 8);
	CHECK_ERR(objstore_getattr(s, 5, "k", NULL, 0, NULL), 1);
	objstore_txn_free(t);
	snapshot_free(&before);
	snapshot_free(&after);
	CHECK(objstore_close(s));
}

static void failing_step_on_plain_store_keeps_earlier_steps(void **state)
{
	char path[256], uri[300];
	struct objstore_txn *t;
	struct objstore_stat st;
	struct objstore *s;

	(void)state;
	temp_path(path, sizeof(path));
	snprintf(uri, sizeof(uri), "faulty:op=setattr:dir:%s", path);
	s = open_uri(uri);
	t = three_step_txn(s);
	CHECK_ERR(objstore_txn_commit(t, NULL), -EIO);
	/* Not atomic: create and write stayed, as the store promises. */
	CHECK(objstore_stat(s, 5, &st, NULL));
	assert_int_equal(st.size, 8);
	CHECK_ERR(objstore_getattr(s, 5, "k", NULL, 0, NULL), -ENODATA);
	objstore_txn_free(t);
	CHECK(objstore_close(s));
	temp_remove(path);
}

/* --- fail each call in turn ----------------------------------------------- */

/*
 * A fixed workload, run on the faulty store @s and on the fault-free twin
 * @ref. A call that fails on @s with the injected errno is not made on
 * @ref; every other call must give the same result on both. Returns the
 * number of injected failures seen.
 */
static unsigned workload(struct objstore *s, struct objstore *ref)
{
	unsigned char w1[9000], w2[5000], r1[16384], r2[16384];
	unsigned injected = 0, step = 0;
	struct objstore_txn *t, *tr;
	uint64_t cursor = 0, ids[8], idr[8], cr = 0;
	size_t n, nr;
	long a, b;

	pattern_fill(w1, sizeof(w1), 1, 0);
	pattern_fill(w2, sizeof(w2), 2, 0);
#define BOTH(call_s, call_r) do {					\
	step++;								\
	a = (long)(call_s);						\
	if (a == -EIO && !injected++)					\
		break;							\
	b = (long)(call_r);						\
	if (a != b)							\
		fail_msg("workload step %u: %s returned %ld, the twin %ld",	\
			 step, #call_s, a, b);				\
} while (0)
	BOTH(objstore_create(s, 10, NULL), objstore_create(ref, 10, NULL));
	BOTH(objstore_create(s, 11, NULL), objstore_create(ref, 11, NULL));
	BOTH(objstore_write(s, 10, 0, w1, sizeof(w1), NULL),
	     objstore_write(ref, 10, 0, w1, sizeof(w1), NULL));
	BOTH(objstore_write(s, 10, 4000, w2, sizeof(w2), NULL),
	     objstore_write(ref, 10, 4000, w2, sizeof(w2), NULL));
	BOTH(objstore_read(s, 10, 100, r1, sizeof(r1), NULL),
	     objstore_read(ref, 10, 100, r2, sizeof(r2), NULL));
	if (a > 0 && memcmp(r1, r2, (size_t)a))
		fail_msg("workload step %u: read data differs from the twin", step);
	BOTH(objstore_setattr(s, 10, "colour", "blue", 4, NULL),
	     objstore_setattr(ref, 10, "colour", "blue", 4, NULL));
	BOTH(objstore_truncate(s, 10, 6000, NULL),
	     objstore_truncate(ref, 10, 6000, NULL));
	BOTH(objstore_punch(s, 10, 0, 4096, NULL),
	     objstore_punch(ref, 10, 0, 4096, NULL));
	t = objstore_txn_new(s);
	tr = objstore_txn_new(ref);
	assert_true(t && tr);
	CHECK(objstore_txn_write(t, 11, 0, w2, 3000));
	CHECK(objstore_txn_write(tr, 11, 0, w2, 3000));
	CHECK(objstore_txn_setattr(t, 11, "t", "1", 1));
	CHECK(objstore_txn_setattr(tr, 11, "t", "1", 1));
	CHECK(objstore_txn_remove(t, 10));
	CHECK(objstore_txn_remove(tr, 10));
	BOTH(objstore_txn_commit(t, NULL), objstore_txn_commit(tr, NULL));
	objstore_txn_free(t);
	objstore_txn_free(tr);
	BOTH(objstore_rmattr(s, 11, "t", NULL), objstore_rmattr(ref, 11, "t", NULL));
	BOTH(objstore_list(s, &cursor, ids, 8, &n, NULL),
	     objstore_list(ref, &cr, idr, 8, &nr, NULL));
	if (a == 0 && (n != nr || memcmp(ids, idr, n * sizeof(ids[0]))))
		fail_msg("workload step %u: list differs from the twin", step);
	BOTH(objstore_sync(s, NULL), objstore_sync(ref, NULL));
#undef BOTH
	return injected;
}

static void fail_each_call_in_turn(const char *inner_fmt)
{
	char path[256], uri[512], refuri[512];
	struct snapshot got, want;
	struct objstore *s, *ref;
	uint64_t ncalls, k;

	temp_path(path, sizeof(path));
	/* Count the calls once with no faults. */
	snprintf(uri, sizeof(uri), "faulty::");
	snprintf(uri + strlen(uri), sizeof(uri) - strlen(uri), inner_fmt, path, "a");
	snprintf(refuri, sizeof(refuri), inner_fmt, path, "ref");
	s = open_uri(uri);
	ref = open_uri(refuri);
	assert_int_equal(workload(s, ref), 0);
	ncalls = counters(s).total_calls;
	assert_true(ncalls >= 14);
	CHECK(objstore_close(s));
	CHECK(objstore_close(ref));
	temp_remove(path);

	for (k = 1; k <= ncalls; k++) {
		temp_path(path, sizeof(path));
		snprintf(uri, sizeof(uri), "faulty:nth=%llu:",
			 (unsigned long long)k);
		snprintf(uri + strlen(uri), sizeof(uri) - strlen(uri),
			 inner_fmt, path, "a");
		snprintf(refuri, sizeof(refuri), inner_fmt, path, "ref");
		s = open_uri(uri);
		ref = open_uri(refuri);
		if (workload(s, ref) != 1)
			fail_msg("nth=%llu: the injected EIO did not surface "
				 "exactly once", (unsigned long long)k);
		assert_int_equal(counters(s).total_faults, 1);
		snapshot_take(objstore_faulty_inner(s), &got);
		snapshot_take(ref, &want);
		snapshot_assert_equal(&got, &want, uri);
		snapshot_free(&got);
		snapshot_free(&want);
		CHECK(objstore_close(s));
		CHECK(objstore_close(ref));
		temp_remove(path);
	}
}

static void fail_each_call_in_turn_over_mem(void **state)
{
	(void)state;
	fail_each_call_in_turn("mem:%.0s%.0s");
}

static void fail_each_call_in_turn_over_rocksdb(void **state)
{
	(void)state;
	fail_each_call_in_turn("rocksdb:%s-%s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_and_none_specs_inject_nothing),
		cmocka_unit_test(nth_fails_exactly_that_call),
		cmocka_unit_test(op_rule_fails_only_matching_calls),
		cmocka_unit_test(op_classes_update_and_query_split_the_calls),
		cmocka_unit_test(after_and_count_bound_the_window),
		cmocka_unit_test(probability_is_reproducible_by_seed),
		cmocka_unit_test(errno_is_chosen_by_name_or_number),
		cmocka_unit_test(delay_slows_matching_calls_only),
		cmocka_unit_test(down_fails_everything_until_up),
		cmocka_unit_test(plan_changes_at_run_time_and_bad_plans_keep_the_old),
		cmocka_unit_test(later_rules_count_but_the_first_failure_decides),
		cmocka_unit_test(capabilities_and_uuid_are_the_inner_stores),
		cmocka_unit_test(failing_step_leaves_atomic_store_untouched),
		cmocka_unit_test(failing_step_on_plain_store_keeps_earlier_steps),
		cmocka_unit_test(fail_each_call_in_turn_over_mem),
		cmocka_unit_test(fail_each_call_in_turn_over_rocksdb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
