/*
 * test_feed.c - the Unix-socket feed with real sockets: many consumers,
 * a consumer that never reads, resuming across a restart, bad input.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char sock_path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/mixfs-evt-feed-%d.sock",
		 (int)getpid());
	unlink(sock_path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(sock_path);
	return 0;
}

static uint64_t ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

static struct conn *conn_open(const char *cmd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	strcpy(a.sun_path, sock_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("connect %s: %s", sock_path, strerror(errno));
	if (cmd)
		assert_int_equal(write(c->fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

/* Read more into c->buf, waiting up to @ms; false on timeout. */
static bool conn_fill(struct conn *c, int ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	if (c->eof)
		return false;
	if (poll(&p, 1, ms) <= 0)
		return false;
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
	if (n <= 0) {
		c->eof = true;
		return false;
	}
	c->len += (size_t)n;
	return true;
}

/* The next line (without '\n') into @out; false at EOF or after @ms. */
static bool conn_line(struct conn *c, char *out, size_t size, int ms)
{
	uint64_t until = ms_now() + (uint64_t)ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			assert_true(n < size);
			memcpy(out, c->buf, n);
			out[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return true;
		}
		if (ms_now() >= until || (!conn_fill(c, (int)(until - ms_now())) && c->eof))
			return false;
	}
}

static struct evt_feed *start_feed(struct evt *ev, struct evt_feed_config *c)
{
	struct mixfs_err err = { 0 };
	struct evt_feed *f;

	c->path = sock_path;
	if (evt_feed_start(ev, c, &f, &err))
		fail_msg("evt_feed_start: %s", err.msg);
	return f;
}

struct emitter {
	struct evt *ev;
	int n;
	uint64_t worst_ns;	/* wall clock: includes being descheduled */
	uint64_t total_ns;
	uint64_t count;
};

static void *emit_thread(void *arg)
{
	struct emitter *e = arg;

	for (int i = 0; i < e->n; i++) {
		struct timespec a, b;
		uint64_t ns;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (evt_emit(e->ev, EVT_SPACE_LOW, "free", "12345", "path",
			     "/some/where", NULL))
			return (void *)1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u +
		     (uint64_t)(b.tv_nsec - a.tv_nsec);
		if (ns > e->worst_ns)
			e->worst_ns = ns;
		e->total_ns += ns;
		e->count++;
	}
	return NULL;
}

static void hundred_consumers_each_receive_every_event_in_order(void **state)
{
	enum { CLIENTS = 100, EVENTS = 3000 };
	struct evt *ev = open_evt(4096, 0, NULL);
	struct evt_feed_config fc = { 0 };
	struct evt_feed *f = start_feed(ev, &fc);
	struct emitter e = { .ev = ev, .n = EVENTS };
	static struct conn *c[CLIENTS];
	uint64_t next[CLIENTS], until;
	size_t done = 0;
	char line[EVT_LINE_MAX];
	pthread_t t;

	(void)state;
	for (int i = 0; i < CLIENTS; i++) {
		c[i] = conn_open("from 1\n");
		next[i] = 1;
	}
	assert_int_equal(pthread_create(&t, NULL, emit_thread, &e), 0);
	until = ms_now() + 30000;
	while (done < CLIENTS && ms_now() < until) {
		struct pollfd p[CLIENTS];

		for (int i = 0; i < CLIENTS; i++)
			p[i] = (struct pollfd){ .fd = c[i]->fd, .events = POLLIN };
		if (poll(p, CLIENTS, 1000) <= 0)
			continue;
		for (int i = 0; i < CLIENTS; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (!conn_fill(c[i], 0))
				fail_msg("client %d: connection closed at seq %" PRIu64,
					 i, next[i]);
			while (next[i] <= EVENTS && memchr(c[i]->buf, '\n', c[i]->len)) {
				assert_true(conn_line(c[i], line, sizeof(line), 0));
				if (line_seq(line) != next[i])
					fail_msg("client %d expected seq %" PRIu64 ", got %.100s",
						 i, next[i], line);
				if (++next[i] == EVENTS + 1)
					done++;
			}
		}
	}
	pthread_join(t, NULL);
	if (done != CLIENTS)
		fail_msg("%zu of %d clients got all %d events", done, CLIENTS, EVENTS);
	print_message("# emit with %d consumers: mean %" PRIu64 " ns, worst %" PRIu64
		      " us\n", CLIENTS, e.total_ns / e.count, e.worst_ns / 1000);
	assert_int_equal(evt_feed_clients(f), CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		conn_close(c[i]);
	evt_feed_stop(f);
	evt_close(ev);
}

struct good_reader {
	struct conn *c;
	int events;
	int got;
	char err[256];
};

static void *good_thread(void *arg)
{
	struct good_reader *g = arg;
	char line[EVT_LINE_MAX];

	while (g->got < g->events) {
		if (!conn_line(g->c, line, sizeof(line), 20000)) {
			snprintf(g->err, sizeof(g->err), "no line after seq %d", g->got);
			return NULL;
		}
		if (line_seq(line) != (uint64_t)g->got + 1) {
			snprintf(g->err, sizeof(g->err), "expected seq %d, got %.100s",
				 g->got + 1, line);
			return NULL;
		}
		g->got++;
	}
	return NULL;
}

/*
 * With @stall_ms the stuck consumer is cut for making no progress; with
 * @max_lag for falling that far behind. The consumer that reads has a
 * store to fall back on, so it gets every event however slow the machine.
 */
static void stuck_consumer_run(unsigned stall_ms, uint64_t max_lag,
			       bool with_good)
{
	enum { EVENTS = 20000 };
	struct evt_store *st = evt_store_mem_new();
	struct evt *ev = open_evt(8192, 100000, st);
	struct evt_feed_config fc = { .stall_ms = stall_ms, .max_lag = max_lag,
				      .close_ms = 20000 };
	struct evt_feed *f = start_feed(ev, &fc);
	struct conn *stuck = conn_open("from 1\n");
	struct good_reader g = { with_good ? conn_open("from 1\n") : NULL,
				 EVENTS, 0, "" };
	struct emitter e = { .ev = ev, .n = EVENTS };
	char line[EVT_LINE_MAX], buf[64], want[32];
	uint64_t expect = 1, t0;
	pthread_t gt;

	usleep(100000);	/* both commands are in before the first event */
	if (with_good)
		assert_int_equal(pthread_create(&gt, NULL, good_thread, &g), 0);
	t0 = ms_now();
	/* Bursts a reading consumer can follow through a 1024-event ring. */
	e.n = 200;
	for (int i = 0; i < EVENTS / 200; i++) {
		assert_null(emit_thread(&e));
		usleep(2000);
	}
	print_message("# %d events in %" PRIu64 " ms beside a consumer that never reads: emit mean %"
		      PRIu64 " ns, worst %" PRIu64 " us\n", EVENTS, ms_now() - t0,
		      e.total_ns / e.count, e.worst_ns / 1000);
	if (with_good) {
		pthread_join(gt, NULL);
		if (g.err[0])
			fail_msg("the consumer that reads: %s", g.err);
		assert_int_equal(g.got, EVENTS);
	}

	/*
	 * The stuck consumer has now made no progress for at least as long
	 * as the emission took; on a fast machine that can be shorter than
	 * @stall_ms, so give the feed a few more passes (50 ms each) before
	 * reading. Read earlier, the consumer would be making progress again
	 * and rightly never be cut.
	 */
	usleep((stall_ms < 10000 ? 2 * stall_ms : 0) * 1000 + 300000);

	/* The stuck consumer was cut: in order, then events_lost, then EOF. */
	for (;;) {
		if (!conn_line(stuck, line, sizeof(line), 10000))
			fail_msg("the stuck consumer saw no events_lost (last seq %"
				 PRIu64 ")", expect - 1);
		if (strstr(line, "\"type\":\"events_lost\""))
			break;
		if (line_seq(line) != expect)
			fail_msg("stuck consumer: expected seq %" PRIu64 ", got %.100s",
				 expect, line);
		expect++;
	}
	assert_true(expect < EVENTS);
	snprintf(want, sizeof(want), "%" PRIu64, expect);
	assert_non_null(line_field(line, "from", buf, sizeof(buf)));
	assert_string_equal(buf, want);
	assert_non_null(line_field(line, "to", buf, sizeof(buf)));
	assert_true(strtoull(buf, NULL, 10) >= expect);
	assert_non_null(strstr(line, "consumer too slow"));
	assert_false(conn_line(stuck, line, sizeof(line), 5000));
	assert_true(stuck->eof);
	conn_close(stuck);
	if (with_good)
		conn_close(g.c);
	evt_feed_stop(f);
	evt_close(ev);
	evt_store_close(st);
}

static void stuck_consumer_is_cut_off_and_others_keep_receiving(void **state)
{
	(void)state;
	stuck_consumer_run(300, UINT64_MAX, true);
}

static void consumer_falling_max_lag_behind_is_cut_off(void **state)
{
	(void)state;
	stuck_consumer_run(600000, 2000, false);
}

static void resume_from_a_sequence_after_restarting_feed_and_library(void **state)
{
	struct evt_store *st = evt_store_mem_new();
	struct evt *ev = open_evt(64, 1000, st);
	struct evt_feed_config fc = { 0 };
	struct evt_feed *f = start_feed(ev, &fc);
	struct conn *c = conn_open("from 1\n");
	char line[EVT_LINE_MAX];
	uint64_t last = 0, expect;

	(void)state;
	for (int i = 0; i < 50; i++)
		evt_emit(ev, EVT_IO_ERROR, "op", "read", NULL);
	while (last < 30) {
		assert_true(conn_line(c, line, sizeof(line), 5000));
		last = line_seq(line);
	}
	conn_close(c);
	evt_emit(ev, EVT_UNMOUNTED, NULL);
	evt_feed_stop(f);
	evt_close(ev);

	/* A new daemon on the same store: the consumer resumes after 30. */
	ev = open_evt(64, 1000, st);
	f = start_feed(ev, &fc);
	evt_emit(ev, EVT_MOUNTED, NULL);
	for (int i = 0; i < 9; i++)
		evt_emit(ev, EVT_SPACE_OK, NULL);
	c = conn_open("dump 31\n");
	for (expect = 31; conn_line(c, line, sizeof(line), 5000); expect++)
		if (line_seq(line) != expect)
			fail_msg("resumed consumer expected seq %" PRIu64 ", got %.100s",
				 expect, line);
	assert_int_equal(expect, 62);	/* 50, unmounted, mounted, 9 more */
	assert_true(c->eof);
	conn_close(c);
	evt_feed_stop(f);
	evt_close(ev);
	evt_store_close(st);
}

static void malformed_input_is_answered_and_harms_no_one(void **state)
{
	static const char *bad[] = {
		"hello\n", "from\n", "from -5\n", "from 12x\n",
		"from 99999999999999999999999\n", "dump abc\n", "\x01\x02\xff\n",
	};
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_feed_config fc = { 0 };
	struct evt_feed *f = start_feed(ev, &fc);
	struct conn *good = conn_open("from now\n"), *c;
	char line[EVT_LINE_MAX], *huge = malloc(100000);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = conn_open(bad[i]);
		if (!conn_line(c, line, sizeof(line), 5000))
			fail_msg("no answer to %s", bad[i]);
		if (strncmp(line, "{\"error\":\"", 10) != 0)
			fail_msg("answer to bad input was %s", line);
		assert_false(conn_line(c, line, sizeof(line), 5000));
		assert_true(c->eof);
		conn_close(c);
	}
	/* A huge line: the server answers after 256 bytes and closes. */
	memset(huge, 'x', 100000);
	c = conn_open(NULL);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	if (write(c->fd, huge, 100000) <= 0)
		fail_msg("could not send anything");
	assert_true(conn_line(c, line, sizeof(line), 5000));
	assert_non_null(strstr(line, "too long"));
	conn_close(c);
	/* A client that sends more after its command is not disturbed. */
	c = conn_open("from now\nand more garbage\n");
	usleep(100000);
	evt_emit(ev, EVT_MOUNTED, NULL);
	assert_true(conn_line(good, line, sizeof(line), 5000));
	assert_int_equal(line_seq(line), 1);
	assert_true(conn_line(c, line, sizeof(line), 5000));
	assert_int_equal(line_seq(line), 1);
	conn_close(c);
	conn_close(good);
	free(huge);
	evt_feed_stop(f);
	evt_close(ev);
}

static void silent_client_gets_new_events_after_the_hello_wait(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_feed_config fc = { .hello_ms = 100 };
	struct evt_feed *f = start_feed(ev, &fc);
	struct conn *c;
	char line[EVT_LINE_MAX];

	(void)state;
	evt_emit(ev, EVT_MOUNTED, NULL);
	c = conn_open(NULL);
	usleep(300000);
	evt_emit(ev, EVT_FSCK_NEEDED, NULL);
	assert_true(conn_line(c, line, sizeof(line), 5000));
	assert_int_equal(line_seq(line), 2);
	conn_close(c);
	evt_feed_stop(f);
	evt_close(ev);
}

static void socket_is_0660_and_only_stale_sockets_are_replaced(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_feed_config fc = { .path = sock_path };
	struct mixfs_err err = { 0 };
	struct evt_feed *f, *g;
	struct stat st;
	int fd;

	(void)state;
	/* A stale socket (nobody listening) is replaced. */
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		strcpy(a.sun_path, sock_path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		close(fd);
	}
	f = start_feed(ev, &fc);
	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	/* A live one is not. */
	assert_int_equal(evt_feed_start(ev, &fc, &g, &err), -EADDRINUSE);
	assert_non_null(strstr(err.msg, "already answers"));
	evt_feed_stop(f);
	assert_int_equal(stat(sock_path, &st), -1);
	/* Nor is a file that is not a socket. */
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	mixfs_err_clear(&err);
	assert_int_equal(evt_feed_start(ev, &fc, &g, &err), -EEXIST);
	assert_int_equal(stat(sock_path, &st), 0);
	unlink(sock_path);
	fc.path = "/tmp/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789.sock";
	assert_int_equal(evt_feed_start(ev, &fc, &g, &err), -ENAMETOOLONG);
	evt_close(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hundred_consumers_each_receive_every_event_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(stuck_consumer_is_cut_off_and_others_keep_receiving, setup, teardown),
		cmocka_unit_test_setup_teardown(consumer_falling_max_lag_behind_is_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(resume_from_a_sequence_after_restarting_feed_and_library, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_input_is_answered_and_harms_no_one, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_client_gets_new_events_after_the_hello_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(socket_is_0660_and_only_stale_sockets_are_replaced, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
