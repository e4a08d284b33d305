/*
 * test_persist.c - events kept in a store: the sequence continues across
 * reopen, the store is trimmed to `keep`, readers resume from the store,
 * numbers are not reused after a crash, and a failing store costs events
 * only visibly. Each test runs on three stores: the in-memory store, an
 * object of a mem: objstore, and an object of a rocksdb: objstore that is
 * closed and reopened from disk (a real restart).
 */
#include "helpers.h"
#include "objstore/objstore.h"

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#define LOG_OBJ 77

struct backing {
	const char *name;
	struct objstore *os;
	struct evt_store *st;
	char dir[64];
};

static void backing_open(struct backing *b, bool create)
{
	struct mixfs_err err = { 0 };
	char uri[96];
	int rc;

	if (strcmp(b->name, "memstore") == 0) {
		if (!b->st)
			b->st = evt_store_mem_new();
		assert_non_null(b->st);
		return;
	}
	if (!b->os) {
		if (strcmp(b->name, "mem") == 0)
			snprintf(uri, sizeof(uri), "mem:");
		else
			snprintf(uri, sizeof(uri), "rocksdb:%s", b->dir);
		rc = objstore_open(uri, OBJSTORE_OPEN_CREATE, &b->os, &err);
		if (rc)
			fail_msg("opening %s: %s", uri, err.msg);
	}
	rc = evt_store_objstore_open(b->os, LOG_OBJ, create, &b->st, &err);
	if (rc)
		fail_msg("opening the event log object: %s", err.msg);
}

/* Close what a restart of the daemon closes, and open it again. */
static void backing_restart(struct backing *b)
{
	if (strcmp(b->name, "memstore") == 0)
		return;	/* the store object itself stands for the disk */
	evt_store_close(b->st);
	b->st = NULL;
	if (strcmp(b->name, "rocksdb") == 0) {
		assert_int_equal(objstore_close(b->os), 0);
		b->os = NULL;
	}
	backing_open(b, false);
}

static int setup(void **state, const char *name)
{
	struct backing *b = calloc(1, sizeof(*b));

	b->name = name;
	if (strcmp(name, "rocksdb") == 0) {
		strcpy(b->dir, "/tmp/mixfs-evt-persist-XXXXXX");
		if (!mkdtemp(b->dir))
			return -1;
		strcat(b->dir, "/db");
	}
	backing_open(b, true);
	*state = b;
	return 0;
}

static int setup_memstore(void **state) { return setup(state, "memstore"); }
static int setup_mem(void **state) { return setup(state, "mem"); }
static int setup_rocksdb(void **state) { return setup(state, "rocksdb"); }

static int teardown(void **state)
{
	struct backing *b = *state;
	char cmd[128];

	evt_store_close(b->st);
	if (b->os)
		objstore_close(b->os);
	if (b->dir[0]) {
		b->dir[strlen(b->dir) - 3] = '\0';
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
		if (system(cmd) != 0)
			return -1;
	}
	free(b);
	return 0;
}

static void sequence_continues_after_reopen(void **state)
{
	struct backing *b = *state;
	struct evt *ev = open_evt(64, 1000, b->st);
	uint64_t seq;

	for (int i = 0; i < 10; i++)
		assert_int_equal(evt_emit(ev, EVT_MOUNTED, NULL), 0);
	evt_close(ev);
	backing_restart(b);
	ev = open_evt(64, 1000, b->st);
	assert_int_equal(evt_last_seq(ev), 10);
	assert_int_equal(evt_emitv(ev, EVT_UNMOUNTED, NULL, 0, &seq), 0);
	assert_int_equal(seq, 11);
	evt_close(ev);
}

static void store_is_trimmed_to_keep(void **state)
{
	struct backing *b = *state;
	struct evt *ev = open_evt(64, 100, b->st);
	uint64_t first, last, reserved;

	/* Paced so the small ring never outruns the store. */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(evt_emit(ev, EVT_MOUNTED, NULL), 0);
		if (i % 32 == 0)
			assert_int_equal(evt_flush(ev, 5000), 0);
	}
	evt_close(ev);
	backing_restart(b);
	assert_int_equal(b->st->ops->bounds(b->st, &first, &last, &reserved, NULL), 0);
	assert_int_equal(first, 901);
	assert_int_equal(last, 1000);
	assert_int_equal(reserved, 1000);
}

static void reader_resumes_from_store_after_restart(void **state)
{
	struct backing *b = *state;
	struct evt *ev = open_evt(16, 200, b->st);
	struct evt_reader *r;
	char *all, *line, buf[32];
	uint64_t expect;

	for (int i = 0; i < 300; i++) {
		assert_int_equal(evt_emit(ev, EVT_SPACE_LOW, "i", "x", NULL), 0);
		if (i % 8 == 0)
			assert_int_equal(evt_flush(ev, 5000), 0);
	}
	evt_close(ev);
	backing_restart(b);
	ev = open_evt(16, 200, b->st);
	evt_emit(ev, EVT_MOUNTED, NULL);		/* 301 */

	/* Kept: 101..300 in the store, 301 in memory. */
	assert_int_equal(evt_reader_open(ev, 150, NULL, NULL, &r, NULL), 0);
	all = read_all(r, 4096);
	expect = 150;
	for (line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
		if (line_seq(line) != expect)
			fail_msg("expected seq %" PRIu64 ", got %.120s", expect, line);
		expect++;
	}
	assert_int_equal(expect, 302);
	free(all);
	evt_reader_close(r);

	/* Asking for what is no longer kept: one events_lost, then the rest. */
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	all = read_all(r, 65536);
	assert_int_equal(count_lines(all), 1 + 201);
	line = strtok(all, "\n");
	assert_string_equal(line_field(line, "type", buf, sizeof(buf)), "events_lost");
	assert_string_equal(line_field(line, "from", buf, sizeof(buf)), "1");
	assert_string_equal(line_field(line, "to", buf, sizeof(buf)), "100");
	line = strtok(NULL, "\n");
	assert_int_equal(line_seq(line), 101);
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

static void crash_never_reuses_numbers(void **state)
{
	struct backing *b = *state;
	struct evt *ev = open_evt(64, 1000, b->st);
	struct evt_reader *r;
	char *all, buf[32];
	uint64_t first, last, reserved, seq;

	for (int i = 0; i < 10; i++)
		evt_emit(ev, EVT_MOUNTED, NULL);
	assert_int_equal(evt_flush(ev, 5000), 0);
	/* What a crash leaves: events 1..10 kept, numbers reserved ahead. */
	assert_int_equal(b->st->ops->bounds(b->st, &first, &last, &reserved, NULL), 0);
	assert_int_equal(last, 10);
	assert_true(reserved >= 10 + 32);
	evt_close(ev);
	assert_int_equal(b->st->ops->reserve(b->st, reserved, NULL), 0);
	backing_restart(b);

	ev = open_evt(64, 1000, b->st);
	assert_int_equal(evt_emitv(ev, EVT_MOUNTED, NULL, 0, &seq), 0);
	assert_int_equal(seq, reserved + 1);
	assert_int_equal(evt_reader_open(ev, 9, NULL, NULL, &r, NULL), 0);
	all = read_all(r, 65536);
	if (count_lines(all) != 4)
		fail_msg("expected 9, 10, events_lost 11..%" PRIu64 ", %" PRIu64
			 "; got:\n%s", reserved, reserved + 1, all);
	assert_int_equal(line_seq(all), 9);
	assert_non_null(line_field(strstr(all, "events_lost"), "from", buf, sizeof(buf)));
	assert_string_equal(buf, "11");
	assert_non_null(line_field(strstr(all, "events_lost"), "to", buf, sizeof(buf)));
	assert_int_equal(strtoull(buf, NULL, 10), reserved);
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

/* A store that fails every call while `broken` is set. */
struct flaky_store {
	struct evt_store store;
	struct evt_store *inner;
	atomic_bool broken;
};

static struct evt_store *inner_of(struct evt_store *s)
{
	return container_of(s, struct flaky_store, store)->inner;
}

static bool broken(struct evt_store *s)
{
	return atomic_load(&container_of(s, struct flaky_store, store)->broken);
}

static int fl_append(struct evt_store *s, uint64_t seq, const char *line,
		     size_t len, struct mixfs_err *err)
{
	return broken(s) ? -EIO : inner_of(s)->ops->append(inner_of(s), seq, line, len, err);
}

static int fl_trim(struct evt_store *s, uint64_t below, struct mixfs_err *err)
{
	return broken(s) ? -EIO : inner_of(s)->ops->trim(inner_of(s), below, err);
}

static int fl_scan(struct evt_store *s, uint64_t from, evt_scan_fn fn,
		   void *arg, struct mixfs_err *err)
{
	return broken(s) ? -EIO : inner_of(s)->ops->scan(inner_of(s), from, fn, arg, err);
}

static int fl_bounds(struct evt_store *s, uint64_t *f, uint64_t *l,
		     uint64_t *r, struct mixfs_err *err)
{
	return broken(s) ? -EIO : inner_of(s)->ops->bounds(inner_of(s), f, l, r, err);
}

static int fl_reserve(struct evt_store *s, uint64_t upto, struct mixfs_err *err)
{
	return broken(s) ? -EIO : inner_of(s)->ops->reserve(inner_of(s), upto, err);
}

static void fl_close(struct evt_store *s)
{
	(void)s;
}

static const struct evt_store_ops flaky_ops = {
	.version = 1, .append = fl_append, .trim = fl_trim, .scan = fl_scan,
	.bounds = fl_bounds, .reserve = fl_reserve, .close = fl_close,
};

static void failing_store_loses_events_visibly_and_never_blocks(void **state)
{
	struct backing *b = *state;
	struct flaky_store fs = { .store = { &flaky_ops }, .inner = b->st };
	struct evt *ev = open_evt(16, 1000, &fs.store);
	struct mixfs_err err = { 0 };
	struct evt_reader *r;
	struct evt_stats st;
	struct timespec a, c;
	char *all, *lost, buf[32];

	assert_int_equal(evt_emit(ev, EVT_MOUNTED, NULL), 0);
	assert_int_equal(evt_flush(ev, 5000), 0);
	atomic_store(&fs.broken, true);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100; i++)
		assert_int_equal(evt_emit(ev, EVT_IO_ERROR, "op", "w", NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &c);
	assert_true(c.tv_sec - a.tv_sec < 2);
	assert_int_equal(evt_flush(ev, 50), -ETIMEDOUT);
	atomic_store(&fs.broken, false);
	assert_int_equal(evt_flush(ev, 10000), 0);
	evt_stats(ev, &st);
	assert_true(st.persist_errors > 0);
	assert_true(st.unpersisted_lost >= 100 - 16);

	/* The loss is an event of its own, kept with the rest. */
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	all = read_all(r, 65536);
	lost = strstr(all, "\"type\":\"events_lost\"");
	assert_non_null(lost);
	while (lost > all && lost[-1] != '\n')
		lost--;
	assert_non_null(line_field(lost, "from", buf, sizeof(buf)));
	if (strcmp(buf, "2") != 0)
		fail_msg("expected the loss to start at 2; read:\n%s", all);
	assert_non_null(strstr(lost, "store could keep them"));
	free(all);
	evt_reader_close(r);

	/* Closing with a dead store gives up within a few seconds. */
	atomic_store(&fs.broken, true);
	for (int i = 0; i < 10; i++)
		evt_emit(ev, EVT_MOUNTED, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	evt_close(ev);
	clock_gettime(CLOCK_MONOTONIC, &c);
	assert_true(c.tv_sec - a.tv_sec < 5);
	/* And opening on a dead store fails with its error. */
	assert_int_equal(evt_open(&(struct evt_config){ .store = &fs.store },
				  &ev, &err), -EIO);
	assert_non_null(strstr(err.msg, "reading the event store"));
	assert_null(ev);
}

#define EACH(t) \
	cmocka_unit_test_setup_teardown(t, setup_memstore, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_mem, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_rocksdb, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		EACH(sequence_continues_after_reopen),
		EACH(store_is_trimmed_to_keep),
		EACH(reader_resumes_from_store_after_restart),
		EACH(crash_never_reuses_numbers),
		EACH(failing_store_loses_events_visibly_and_never_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
