/*
 * fuzz_feed.c - the event feed's protocol: whatever a client sends on
 * the Unix socket, and the JSON lines the server answers with.
 *
 * One events instance and one feed per process, started at the first
 * input, holding 40 events (more than the ring keeps, so that early
 * sequence numbers come back as events_lost). Each input is one client:
 * it connects, sends the input (at most 4 KiB), closes its sending side
 * and reads until the server closes, until the newest event came, or
 * until the server has been silent for 30 ms.
 *
 * Properties: every line the server writes is strict RFC 8259 JSON
 * (json_check.c) and ends with '\n'; the sequence numbers of event
 * lines grow; after an {"error":...} line nothing else comes; the server
 * keeps serving (every client is answered or served; the client count
 * falls back to 0).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "events/events.h"
#include "json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct evt *ev;
static struct evt_feed *feed;
static char sock_path[108];
static uint64_t last_seq;

static void stop(void)
{
	evt_feed_stop(feed);
	evt_close(ev);
}

static void start(void)
{
	struct evt_config cfg = { .ring = 16, .uuid = { 7 } };
	struct evt_feed_config fc = { .hello_ms = 20, .close_ms = 100,
				      .stall_ms = 500 };
	const char *tmp = getenv("TMPDIR");
	char val[32];

	if (ev)
		return;
	snprintf(sock_path, sizeof(sock_path), "%s/mixfs-fuzz-feed-%ld.sock",
		 tmp ? tmp : "/tmp", (long)getpid());
	fc.path = sock_path;
	if (evt_open(&cfg, &ev, NULL) || evt_set_mount(ev, "/mnt/fuzz\xff"))
		abort();
	for (int i = 0; i < 40; i++) {
		snprintf(val, sizeof(val), "%d", i);
		evt_emit(ev, i % 3 ? EVT_IO_ERROR : EVT_SPACE_LOW, "n", val,
			 "path", i % 2 ? "caf\xc3\xa9" : "bad\xc0\x80", NULL);
	}
	last_seq = evt_last_seq(ev);
	if (evt_feed_start(ev, &fc, &feed, NULL))
		abort();
	atexit(stop);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Check the lines the server wrote; @closed: it closed the connection. */
static void check_lines(const char *buf, size_t n, bool closed)
{
	const char *p = buf, *end = buf + n;
	uint64_t prev = 0;
	bool error = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl) {
			if (closed)
				abort();	/* a cut line at the end */
			return;
		}
		if (error)
			abort();	/* something after an error line */
		if (!json_check_object(p, (size_t)(nl - p), NULL, NULL))
			abort();
		if (!strncmp(p, "{\"error\":", 9)) {
			error = true;
		} else if (!strncmp(p, "{\"seq\":", 7)) {
			uint64_t seq = strtoull(p + 7, NULL, 10);

			if (seq <= prev || seq > last_seq)
				abort();
			prev = seq;
		} else {
			abort();	/* neither an event nor an error */
		}
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 20];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	uint64_t t0, quiet;
	bool closed = false;
	int fd;

	if (size > 4096)
		return 0;
	start();
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();	/* the server must still be there */
	if (size && send(fd, data, size, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET)
		abort();
	shutdown(fd, SHUT_WR);
	t0 = quiet = now_ms();
	while (got < sizeof(buf) && now_ms() - t0 < 3000) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pf, 1, 10) == 0) {
			if (now_ms() - quiet > 30)
				break;
			continue;
		}
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (n <= 0) {
			closed = true;
			break;
		}
		got += (size_t)n;
		quiet = now_ms();
	}
	close(fd);
	check_lines(buf, got, closed);
	return 0;
}
