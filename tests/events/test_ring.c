/* test_ring.c - numbering, the in-memory ring, readers and their wakeups,
 * the store-availability tracker and the errors= policy helper. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <time.h>

static void events_are_numbered_from_one_with_all_fields(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_reader *r;
	char *all, *line, buf[128];
	uint64_t seq = 0;
	regex_t re;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	assert_int_equal(evt_emit(ev, EVT_MOUNTED, "driver", "tablefs", NULL), 0);
	assert_int_equal(evt_emitv(ev, EVT_UNMOUNTED, NULL, 0, &seq), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(evt_last_seq(ev), 2);
	all = read_all(r, 4096);
	assert_int_equal(count_lines(all), 2);
	line = strtok(all, "\n");
	assert_int_equal(line_seq(line), 1);
	assert_string_equal(line_field(line, "uuid", buf, sizeof(buf)),
			    "0b6f1122-3344-4566-8788-99aabbccddee");
	assert_string_equal(line_field(line, "mount", buf, sizeof(buf)),
			    "/mnt/test");
	assert_string_equal(line_field(line, "category", buf, sizeof(buf)),
			    "info");
	assert_string_equal(line_field(line, "type", buf, sizeof(buf)),
			    "mounted");
	assert_string_equal(line_field(line, "driver", buf, sizeof(buf)),
			    "tablefs");
	assert_int_equal(regcomp(&re,
		"\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z\"",
		REG_EXTENDED), 0);
	if (regexec(&re, line, 0, NULL, 0) != 0)
		fail_msg("time is not RFC 3339 with nanoseconds in UTC: %s", line);
	regfree(&re);
	line = strtok(NULL, "\n");
	assert_int_equal(line_seq(line), 2);
	assert_non_null(strstr(line, "\"details\":{}}"));
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

static void every_type_has_its_category(void **state)
{
	enum evt_type t;
	enum evt_category c;

	(void)state;
	for (int i = 0; i < EVT_TYPE_COUNT; i++) {
		assert_non_null(evt_type_name(i));
		assert_int_equal(evt_type_parse(evt_type_name(i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(evt_type_category(EVT_STORE_UNAVAILABLE), EVT_CAT_WARNING);
	assert_int_equal(evt_type_category(EVT_CHECKSUM_CORRECTED), EVT_CAT_WARNING);
	assert_int_equal(evt_type_category(EVT_CHECKSUM_ERROR), EVT_CAT_ERROR);
	assert_int_equal(evt_type_category(EVT_SPACE_LOW), EVT_CAT_THRESHOLD);
	assert_int_equal(evt_type_category(EVT_REMOUNTED_RO), EVT_CAT_ERROR);
	assert_int_equal(evt_category_parse("threshold", &c), 0);
	assert_int_equal(c, EVT_CAT_THRESHOLD);
	assert_int_equal(evt_category_parse("fatal", &c), -EINVAL);
	assert_int_equal(evt_type_parse("space_full", &t), -EINVAL);
}

static void emit_rejects_bad_detail_keys(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_kv kv[EVT_DETAILS_MAX + 1];

	(void)state;
	assert_int_equal(evt_emit(ev, EVT_MOUNTED, "Bad", "x", NULL), -EINVAL);
	assert_int_equal(evt_emit(ev, EVT_MOUNTED, "a b", "x", NULL), -EINVAL);
	assert_int_equal(evt_emit(ev, EVT_MOUNTED, "path_hex", "x", NULL), -EINVAL);
	assert_int_equal(evt_emit(ev, EVT_MOUNTED, "k", "1", "k", "2", NULL),
			 -EINVAL);
	assert_int_equal(evt_emit(ev, EVT_TYPE_COUNT, NULL), -EINVAL);
	for (int i = 0; i <= EVT_DETAILS_MAX; i++)
		kv[i] = (struct evt_kv){ "k", "v", 1 };
	assert_int_equal(evt_emitv(ev, EVT_MOUNTED, kv, EVT_DETAILS_MAX + 1,
				   NULL), -EINVAL);
	assert_int_equal(evt_last_seq(ev), 0);
	evt_close(ev);
}

static void reader_from_now_sees_only_new_events(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_reader *r;
	char *all;

	(void)state;
	evt_emit(ev, EVT_MOUNTED, NULL);
	evt_emit(ev, EVT_MOUNTED, NULL);
	assert_int_equal(evt_reader_open(ev, EVT_FROM_NOW, NULL, NULL, &r, NULL), 0);
	assert_int_equal(evt_reader_next(r), 3);
	all = read_all(r, 4096);
	assert_string_equal(all, "");
	free(all);
	evt_emit(ev, EVT_UNMOUNTED, NULL);
	all = read_all(r, 4096);
	assert_int_equal(count_lines(all), 1);
	assert_int_equal(line_seq(all), 3);
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

static void ring_overflow_reads_as_one_events_lost_with_the_range(void **state)
{
	struct evt *ev = open_evt(16, 0, NULL);
	struct evt_reader *r;
	char *all, *line, buf[32];
	uint64_t expect = 25;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (int i = 0; i < 40; i++)
		evt_emit(ev, EVT_MOUNTED, NULL);
	all = read_all(r, 4096);
	assert_int_equal(count_lines(all), 17);
	line = strtok(all, "\n");
	assert_string_equal(line_field(line, "type", buf, sizeof(buf)),
			    "events_lost");
	assert_string_equal(line_field(line, "category", buf, sizeof(buf)),
			    "warning");
	assert_string_equal(line_field(line, "from", buf, sizeof(buf)), "1");
	assert_string_equal(line_field(line, "to", buf, sizeof(buf)), "24");
	assert_int_equal(line_seq(line), 24);
	while ((line = strtok(NULL, "\n")) != NULL) {
		if (line_seq(line) != expect)
			fail_msg("after events_lost expected seq %" PRIu64
				 ", got line %s", expect, line);
		expect++;
	}
	assert_int_equal(expect, 41);
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

static void tiny_read_buffer_returns_lines_in_parts(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_reader *r1, *r2;
	char *whole, *parts;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r1, NULL), 0);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r2, NULL), 0);
	for (int i = 0; i < 5; i++)
		evt_emit(ev, EVT_IO_ERROR, "op", "write", "path", "/a/b/c", NULL);
	whole = read_all(r1, 65536);
	parts = read_all(r2, 7);
	assert_int_equal(count_lines(whole), 5);
	assert_string_equal(parts, whole);
	free(whole);
	free(parts);
	evt_reader_close(r1);
	evt_reader_close(r2);
	evt_close(ev);
}

static void wake(void *arg)
{
	(*(int *)arg)++;
}

static void wake_fires_once_per_empty_read(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_reader *r;
	char buf[4096];
	int woken = 0;

	(void)state;
	assert_int_equal(evt_reader_open(ev, EVT_FROM_NOW, wake, &woken, &r,
					 NULL), 0);
	evt_emit(ev, EVT_MOUNTED, NULL);
	assert_int_equal(woken, 0);	/* not armed: never read empty */
	assert_int_equal(evt_reader_poll(r), 1);
	assert_true(evt_reader_read(r, buf, sizeof(buf)) > 0);
	assert_int_equal(evt_reader_read(r, buf, sizeof(buf)), 0); /* arms */
	evt_emit(ev, EVT_MOUNTED, NULL);
	evt_emit(ev, EVT_MOUNTED, NULL);
	assert_int_equal(woken, 1);
	assert_true(evt_reader_read(r, buf, sizeof(buf)) > 0);
	assert_int_equal(evt_reader_poll(r), 0);	/* arms too */
	evt_emit(ev, EVT_MOUNTED, NULL);
	assert_int_equal(woken, 2);
	evt_reader_close(r);
	evt_emit(ev, EVT_MOUNTED, NULL);
	assert_int_equal(woken, 2);
	evt_close(ev);
}

struct emitter {
	struct evt *ev;
	int n;
};

static void *emit_many(void *arg)
{
	struct emitter *e = arg;

	for (int i = 0; i < e->n; i++)
		if (evt_emit(e->ev, EVT_CHECKSUM_CORRECTED, "ino", "7", NULL))
			return (void *)1;
	return NULL;
}

static void concurrent_emitters_get_unique_ordered_seqs_and_times(void **state)
{
	enum { THREADS = 4, EACH = 5000 };
	struct evt *ev = open_evt(THREADS * EACH, 0, NULL);
	struct emitter e = { ev, EACH };
	pthread_t t[THREADS];
	struct evt_reader *r;
	char *all, *line, prev_time[40] = "", tm[40];
	uint64_t expect = 1;
	void *res;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, emit_many, &e), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], &res);
		assert_null(res);
	}
	all = read_all(r, 65536);
	for (line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
		if (line_seq(line) != expect)
			fail_msg("expected seq %" PRIu64 ", got %s", expect, line);
		assert_non_null(line_field(line, "time", tm, sizeof(tm)));
		if (strcmp(tm, prev_time) < 0)
			fail_msg("time went back at seq %" PRIu64 ": %s after %s",
				 expect, tm, prev_time);
		strcpy(prev_time, tm);
		expect++;
	}
	assert_int_equal(expect, THREADS * EACH + 1);
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

static void store_outage_reported_once_each_way(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_reader *r;
	char *all, *line, buf[64];

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	evt_store_report(ev, 0, "read");
	evt_store_report(ev, -ENOENT, "read");	/* not an outage */
	assert_int_equal(evt_last_seq(ev), 0);
	evt_store_report(ev, -ETIMEDOUT, "write");
	evt_store_report(ev, -EIO, "write");
	evt_store_report(ev, -ECONNREFUSED, "read");
	assert_true(evt_store_down(ev));
	evt_store_report(ev, 0, "read");
	evt_store_report(ev, 0, "read");
	assert_false(evt_store_down(ev));
	all = read_all(r, 4096);
	assert_int_equal(count_lines(all), 2);
	line = strtok(all, "\n");
	assert_string_equal(line_field(line, "type", buf, sizeof(buf)),
			    "store_unavailable");
	assert_string_equal(line_field(line, "errno", buf, sizeof(buf)),
			    "ETIMEDOUT");
	line = strtok(NULL, "\n");
	assert_string_equal(line_field(line, "type", buf, sizeof(buf)),
			    "store_available");
	assert_string_equal(line_field(line, "failed_calls", buf, sizeof(buf)),
			    "3");
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

struct flaky {
	int fail_first;
	int calls;
};

static int flaky_call(void *arg)
{
	struct flaky *f = arg;

	return f->calls++ < f->fail_first ? -EIO : 0;
}

static void retry_absorbs_short_outage_and_reports_long_one(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_retry p = { .tries = 3, .first_ms = 1, .max_ms = 2 };
	struct flaky f = { .fail_first = 2 };

	(void)state;
	assert_int_equal(evt_retry(ev, &p, "write", flaky_call, &f), 0);
	assert_int_equal(f.calls, 3);
	assert_int_equal(evt_last_seq(ev), 0);
	f = (struct flaky){ .fail_first = 10 };
	assert_int_equal(evt_retry(ev, &p, "write", flaky_call, &f), -EIO);
	assert_int_equal(f.calls, 3);
	assert_true(evt_store_down(ev));
	assert_int_equal(evt_last_seq(ev), 1);
	evt_close(ev);
}

static void io_error_emits_details_and_returns_the_policy(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_reader *r;
	enum evt_errors e;
	char *all, buf[64];

	(void)state;
	assert_int_equal(evt_errors_parse("remount-ro", &e, NULL), 0);
	assert_int_equal(e, EVT_ERRORS_REMOUNT_RO);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	assert_int_equal(evt_io_error(ev, e, "fsync", 42, "/d/f", -EIO),
			 EVT_ERRORS_REMOUNT_RO);
	all = read_all(r, 4096);
	assert_string_equal(line_field(all, "category", buf, sizeof(buf)), "error");
	assert_string_equal(line_field(all, "op", buf, sizeof(buf)), "fsync");
	assert_string_equal(line_field(all, "ino", buf, sizeof(buf)), "42");
	assert_string_equal(line_field(all, "path", buf, sizeof(buf)), "/d/f");
	assert_string_equal(line_field(all, "errno", buf, sizeof(buf)), "EIO");
	assert_string_equal(line_field(all, "action", buf, sizeof(buf)),
			    "remount-ro");
	free(all);
	evt_reader_close(r);
	evt_close(ev);
}

static void emitting_with_a_reader_that_never_reads_stays_fast(void **state)
{
	struct evt *ev = open_evt(1024, 0, NULL);
	struct evt_reader *stuck;
	struct timespec a, b;
	double us;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &stuck, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100000; i++)
		evt_emit(ev, EVT_SPACE_LOW, "free", "1", NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
	     1e3 / 100000;
	print_message("# emit: %.2f us per event with a stuck reader\n", us);
	assert_int_equal(evt_reader_lag(stuck), 100000);
	evt_reader_close(stuck);
	evt_close(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events_are_numbered_from_one_with_all_fields),
		cmocka_unit_test(every_type_has_its_category),
		cmocka_unit_test(emit_rejects_bad_detail_keys),
		cmocka_unit_test(reader_from_now_sees_only_new_events),
		cmocka_unit_test(ring_overflow_reads_as_one_events_lost_with_the_range),
		cmocka_unit_test(tiny_read_buffer_returns_lines_in_parts),
		cmocka_unit_test(wake_fires_once_per_empty_read),
		cmocka_unit_test(concurrent_emitters_get_unique_ordered_seqs_and_times),
		cmocka_unit_test(store_outage_reported_once_each_way),
		cmocka_unit_test(retry_absorbs_short_outage_and_reports_long_one),
		cmocka_unit_test(io_error_emits_details_and_returns_the_policy),
		cmocka_unit_test(emitting_with_a_reader_that_never_reads_stays_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
