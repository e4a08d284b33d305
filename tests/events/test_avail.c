/*
 * test_avail.c - store calls in flight and the stall watchdog: a call
 * stuck past the timeout is reported while it is still stuck, once; the
 * outage ends only when nothing is stuck any more; quick calls cost
 * nothing and report nothing; the counters status shows; the
 * store_timeout= option.
 */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static struct evt *open_watched(unsigned timeout_ms)
{
	struct evt_config c = { .mount = "/mnt/test", .ring = 256,
				.store_timeout_ms = timeout_ms };
	struct mixfs_err err = { 0 };
	struct evt *ev = NULL;
	int rc;

	memcpy(c.uuid, test_uuid, 16);
	rc = evt_open(&c, &ev, &err);
	if (rc)
		fail_msg("evt_open failed: %d %s", rc, err.msg);
	return ev;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Read from @r until a line of @type arrives (or @ms pass); returns the
 * malloc'd line, or NULL. Lines of other types are skipped. */
static char *wait_type(struct evt_reader *r, const char *type, unsigned ms)
{
	char buf[EVT_LINE_MAX], t[64];

	for (unsigned waited = 0; waited <= ms; waited += 5) {
		ssize_t n;

		while ((n = evt_reader_read(r, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			for (char *line = strtok(buf, "\n"); line;
			     line = strtok(NULL, "\n"))
				if (line_field(line, "type", t, sizeof(t)) &&
				    !strcmp(t, type))
					return strdup(line);
		}
		assert_true(n == 0);
		sleep_ms(5);
	}
	return NULL;
}

static uint64_t field_u64(const char *line, const char *key)
{
	char buf[32];

	if (!line_field(line, key, buf, sizeof(buf)))
		fail_msg("no detail %s in %s", key, line);
	return strtoull(buf, NULL, 10);
}

static void stalled_call_is_reported_while_still_in_flight(void **state)
{
	struct evt *ev = open_watched(50);
	struct evt_reader *r;
	struct evt_stats st;
	char *line, buf[64];
	unsigned call;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	call = evt_call_begin(ev, "write");
	assert_int_not_equal(call, 0);
	line = wait_type(r, "store_unavailable", 5000);
	if (!line)
		fail_msg("no store_unavailable within 5 s of a call stuck past a 50 ms timeout");
	/* Still in flight: nothing has ended the call yet. */
	assert_int_equal(evt_calls_in_flight(ev), 1);
	assert_true(evt_store_down(ev));
	assert_string_equal(line_field(line, "op", buf, sizeof(buf)), "write");
	assert_string_equal(line_field(line, "errno", buf, sizeof(buf)),
			    "ETIMEDOUT");
	if (field_u64(line, "stalled_ms") < 50)
		fail_msg("stalled_ms below the timeout: %s", line);
	assert_int_equal(field_u64(line, "timeout_ms"), 50);
	assert_int_equal(field_u64(line, "in_flight"), 1);
	free(line);

	sleep_ms(120);		/* more looks at the same stall */
	evt_call_end(ev, call, 0, "write");
	assert_false(evt_store_down(ev));
	line = wait_type(r, "store_available", 0);
	if (!line)
		fail_msg("no store_available once the stalled call succeeded");
	if (field_u64(line, "down_ms") < 170)
		fail_msg("down_ms should count from the call's start (>= 170): %s",
			 line);
	free(line);
	evt_stats(ev, &st);
	assert_int_equal(st.store_stalls, 1);
	assert_int_equal(st.emitted[EVT_STORE_UNAVAILABLE], 1);
	assert_int_equal(st.emitted[EVT_STORE_AVAILABLE], 1);
	assert_int_equal(st.calls_in_flight, 0);
	evt_reader_close(r);
	evt_close(ev);
}

static void quick_success_does_not_end_an_outage_while_a_call_is_stuck(
	void **state)
{
	struct evt *ev = open_watched(40);
	struct evt_reader *r;
	unsigned stuck, quick;
	char *line;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	stuck = evt_call_begin(ev, "read");
	line = wait_type(r, "store_unavailable", 5000);
	assert_non_null(line);
	free(line);
	quick = evt_call_begin(ev, "stat");
	assert_int_not_equal(quick, stuck);
	evt_call_end(ev, quick, 0, "stat");
	evt_store_report(ev, 0, "stat");
	assert_true(evt_store_down(ev));
	line = wait_type(r, "store_available", 0);
	if (line)
		fail_msg("store_available while a call is still stuck: %s",
			 line);
	/* The stuck call fails: still down. Then one succeeds. */
	evt_call_end(ev, stuck, -ETIMEDOUT, "read");
	assert_true(evt_store_down(ev));
	quick = evt_call_begin(ev, "read");
	evt_call_end(ev, quick, 0, "read");
	assert_false(evt_store_down(ev));
	line = wait_type(r, "store_available", 0);
	assert_non_null(line);
	assert_int_equal(field_u64(line, "failed_calls"), 1);
	free(line);
	evt_reader_close(r);
	evt_close(ev);
}

static void a_second_stall_after_recovery_is_a_new_outage(void **state)
{
	struct evt *ev = open_watched(30);
	struct evt_reader *r;
	struct evt_stats st;
	unsigned call;
	char *line;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (int round = 0; round < 2; round++) {
		call = evt_call_begin(ev, "write");
		line = wait_type(r, "store_unavailable", 5000);
		if (!line)
			fail_msg("round %d: no store_unavailable", round);
		free(line);
		evt_call_end(ev, call, 0, "write");
		line = wait_type(r, "store_available", 0);
		if (!line)
			fail_msg("round %d: no store_available", round);
		free(line);
	}
	evt_stats(ev, &st);
	assert_int_equal(st.emitted[EVT_STORE_UNAVAILABLE], 2);
	assert_int_equal(st.store_stalls, 2);
	evt_reader_close(r);
	evt_close(ev);
}

struct quick_args {
	struct evt *ev;
	int n;
	int untracked;
};

static void *quick_calls(void *arg)
{
	struct quick_args *a = arg;

	for (int i = 0; i < a->n; i++) {
		unsigned c = evt_call_begin(a->ev, "read");

		a->untracked += c == 0;
		evt_call_end(a->ev, c, 0, "read");
	}
	return NULL;
}

static void calls_within_the_timeout_report_nothing(void **state)
{
	enum { THREADS = 8, EACH = 20000 };
	struct evt *ev = open_watched(1000);
	struct quick_args a[THREADS];
	pthread_t t[THREADS];
	struct evt_stats st;

	struct timespec t0, t1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	quick_calls(&(struct quick_args){ ev, EACH, 0 });
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("# begin + end: %.0f ns per call, one thread\n",
		      ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		       (double)(t1.tv_nsec - t0.tv_nsec)) / EACH);
	for (int i = 0; i < THREADS; i++) {
		a[i] = (struct quick_args){ ev, EACH, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, quick_calls,
						&a[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (a[i].untracked)
			fail_msg("thread %d: %d calls found no free slot among %d",
				 i, a[i].untracked, EVT_CALLS_MAX);
	}
	evt_stats(ev, &st);
	assert_int_equal(st.calls_in_flight, 0);
	assert_int_equal(st.store_stalls, 0);
	assert_int_equal(st.last_seq, 0);
	assert_false(evt_store_down(ev));
	evt_close(ev);
}

static void without_a_timeout_results_still_count_but_nothing_is_watched(
	void **state)
{
	struct evt *ev = open_watched(0);
	struct evt_stats st;
	unsigned call;

	(void)state;
	call = evt_call_begin(ev, "write");
	assert_int_equal(call, 0);
	assert_int_equal(evt_calls_in_flight(ev), 0);
	evt_call_end(ev, call, -EIO, "write");
	assert_true(evt_store_down(ev));
	evt_call_end(ev, evt_call_begin(ev, "write"), 0, "write");
	assert_false(evt_store_down(ev));
	evt_stats(ev, &st);
	assert_int_equal(st.store_failures, 1);
	assert_int_equal(st.emitted[EVT_STORE_UNAVAILABLE], 1);
	assert_int_equal(st.emitted[EVT_STORE_AVAILABLE], 1);
	evt_close(ev);
}

static void a_call_past_the_slots_goes_unwatched(void **state)
{
	struct evt *ev = open_watched(60000);
	unsigned calls[EVT_CALLS_MAX + 1];

	(void)state;
	for (int i = 0; i <= EVT_CALLS_MAX; i++)
		calls[i] = evt_call_begin(ev, "read");
	for (int i = 0; i < EVT_CALLS_MAX; i++)
		if (calls[i] == 0)
			fail_msg("call %d of %d got no slot", i, EVT_CALLS_MAX);
	assert_int_equal(calls[EVT_CALLS_MAX], 0);
	assert_int_equal(evt_calls_in_flight(ev), EVT_CALLS_MAX);
	for (int i = 0; i <= EVT_CALLS_MAX; i++)
		evt_call_end(ev, calls[i], 0, "read");
	assert_int_equal(evt_calls_in_flight(ev), 0);
	evt_close(ev);
}

static void error_counters_count_by_type_and_failed_calls(void **state)
{
	struct evt *ev = open_watched(0);
	struct evt_stats st;

	(void)state;
	evt_emit(ev, EVT_CHECKSUM_ERROR, "ino", "5", NULL);
	evt_emit(ev, EVT_CHECKSUM_ERROR, "ino", "6", NULL);
	evt_io_error(ev, EVT_ERRORS_CONTINUE, "write", 7, NULL, -EIO);
	evt_store_report(ev, -EIO, "write");
	evt_store_report(ev, -ETIMEDOUT, "write");
	evt_store_report(ev, -ENOENT, "read");	/* not a store failure */
	evt_stats(ev, &st);
	assert_int_equal(st.emitted[EVT_CHECKSUM_ERROR], 2);
	assert_int_equal(st.emitted[EVT_IO_ERROR], 1);
	assert_int_equal(st.emitted[EVT_CHECKSUM_CORRECTED], 0);
	assert_int_equal(st.store_failures, 2);
	evt_close(ev);
}

static void store_timeout_option_takes_seconds_or_ms(void **state)
{
	static const struct {
		const char *text;
		int rc;
		unsigned ms;
	} cases[] = {
		{ "store_timeout=5", 0, 5000 },
		{ "store_timeout=250ms", 0, 250 },
		{ "store_timeout=0", 0, 0 },
		{ "store_timeout=86400", 0, 86400000 },
		{ "store_timeout=86401", -EINVAL, 0 },
		{ "store_timeout=1.5", -EINVAL, 0 },
		{ "store_timeout=5s", -EINVAL, 0 },
		{ "store_timeout=", -EINVAL, 0 },
		{ "store_timeout", -EINVAL, 0 },
	};
	struct evt_opts o;

	(void)state;
	evt_opts_init(&o);
	assert_int_equal(o.store_timeout_ms, EVT_STORE_TIMEOUT_DEFAULT * 1000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mixfs_err err = { 0 };
		int rc;

		evt_opts_init(&o);
		rc = evt_opts_parse(&o, cases[i].text, &err);
		if (rc != cases[i].rc)
			fail_msg("%s: got %d (%s), want %d", cases[i].text, rc,
				 err.msg, cases[i].rc);
		if (rc == 0 && o.store_timeout_ms != cases[i].ms)
			fail_msg("%s: got %u ms, want %u", cases[i].text,
				 o.store_timeout_ms, cases[i].ms);
		if (rc && !strstr(err.msg, "store_timeout"))
			fail_msg("%s: the message does not name the option: %s",
				 cases[i].text, err.msg);
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A request failing with a transient error is retried until it works:
 * store_unavailable once however many attempts failed, store_available
 * when one succeeds. */
static void retries_absorb_a_transient_failure_and_report_it_once(void **state)
{
	struct evt *ev = open_watched(0);
	struct evt_retry_state st = EVT_RETRY_STATE_INIT;
	struct evt_reader *r;
	int attempts = 0, rc, down = 0, up = 0;
	char buf[4 * EVT_LINE_MAX], t[64], *line;
	ssize_t n;

	(void)state;
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	do
		rc = ++attempts < 4 ? -ETIMEDOUT : 0;
	while (rc < 0 && evt_retry_next(ev, &st, 5000, rc, "write"));
	evt_store_report(ev, rc, "write");
	assert_int_equal(rc, 0);
	assert_int_equal(attempts, 4);
	n = evt_reader_read(r, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!line_field(line, "type", t, sizeof(t)))
			continue;
		if (!strcmp(t, "store_unavailable"))
			down++;
		else if (!strcmp(t, "store_available"))
			up++;
	}
	if (down != 1 || up != 1)
		fail_msg("store_unavailable %d times, store_available %d times, want once each",
			 down, up);
	evt_reader_close(r);
	evt_close(ev);
}

/* The budget bounds the wait: a store that stays down fails the request
 * after about the budget, not before and not much later. */
static void retries_stop_at_the_budget(void **state)
{
	struct evt_retry_state st = EVT_RETRY_STATE_INIT;
	uint64_t t0 = mono_ms(), took;
	int attempts = 0;

	(void)state;
	while (++attempts && evt_retry_next(NULL, &st, 300, -ENOTCONN, "read"))
		;
	took = mono_ms() - t0;
	if (took < 300 || attempts < 4)
		fail_msg("gave up after %llu ms and %d attempts, want >= 300 ms",
			 (unsigned long long)took, attempts);
}

/* Not retried: success, a permanent error, EIO (a medium error), and
 * anything when the budget is 0. */
static void retries_only_for_transient_errors_with_a_budget(void **state)
{
	struct evt_retry_state st = EVT_RETRY_STATE_INIT;

	(void)state;
	assert_false(evt_retry_next(NULL, &st, 1000, 0, "write"));
	assert_false(evt_retry_next(NULL, &st, 1000, -ENOSPC, "write"));
	assert_false(evt_retry_next(NULL, &st, 1000, -EIO, "write"));
	assert_false(evt_retry_next(NULL, &st, 0, -ETIMEDOUT, "write"));
	assert_true(evt_retry_next(NULL, &st, 1000, -ETIMEDOUT, "write"));
}

static void store_retry_option_takes_seconds_or_ms(void **state)
{
	struct mixfs_err err = { 0 };
	struct evt_opts o;

	(void)state;
	evt_opts_init(&o);
	assert_int_equal(o.store_retry_ms, EVT_STORE_RETRY_DEFAULT * 1000);
	assert_int_equal(evt_opts_parse(&o, "store_retry=0", &err), 0);
	assert_int_equal(o.store_retry_ms, 0);
	assert_int_equal(evt_opts_parse(&o, "store_retry=750ms", &err), 0);
	assert_int_equal(o.store_retry_ms, 750);
	assert_int_equal(evt_opts_parse(&o, "store_retry=x", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "store_retry"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stalled_call_is_reported_while_still_in_flight),
		cmocka_unit_test(quick_success_does_not_end_an_outage_while_a_call_is_stuck),
		cmocka_unit_test(a_second_stall_after_recovery_is_a_new_outage),
		cmocka_unit_test(calls_within_the_timeout_report_nothing),
		cmocka_unit_test(without_a_timeout_results_still_count_but_nothing_is_watched),
		cmocka_unit_test(a_call_past_the_slots_goes_unwatched),
		cmocka_unit_test(error_counters_count_by_type_and_failed_calls),
		cmocka_unit_test(store_timeout_option_takes_seconds_or_ms),
		cmocka_unit_test(retries_absorb_a_transient_failure_and_report_it_once),
		cmocka_unit_test(retries_stop_at_the_budget),
		cmocka_unit_test(retries_only_for_transient_errors_with_a_budget),
		cmocka_unit_test(store_retry_option_takes_seconds_or_ms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
