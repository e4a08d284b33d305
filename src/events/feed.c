/*
 * feed.c - the Unix-socket feed: one server thread, epoll, non-blocking
 * sockets, JSON lines out.
 *
 * Each client is an evt_reader (a cursor) plus one bounded output buffer,
 * so a client costs the same memory whether it keeps up or not, and the
 * filesystem's emitting threads never wait for the feed: emit only sets a
 * flag and, when it was clear, writes the eventfd once. A client that stops
 * reading is cut off (its unsent events replaced by one events_lost line);
 * it may reconnect with "from SEQ" and get them from the store.
 *
 * Not here: authentication beyond the socket's mode, filtering (clients
 * filter; the feed sends every event), and any knowledge of the mount.
 */
#include "events/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FEED_OUT	65536	/* output buffer per client */
#define FEED_IN		256	/* longest command line */
#define FEED_FILLS	4	/* buffers per client per pass, for fairness */

enum client_state {
	C_HELLO,	/* waiting for the first line */
	C_STREAM,	/* sending events, following new ones */
	C_DUMP,		/* sending events up to dump_until, then closing */
	C_CLOSING,	/* sending what is left, then closing */
};

struct client {
	int fd;
	enum client_state state;
	struct evt_reader *r;
	char in[FEED_IN + 1];
	size_t inlen;
	bool in_eof;
	char *out;
	size_t out_off, out_len;
	bool pollout;		/* EPOLLOUT registered */
	bool caught_up;		/* has read everything once: lag counts */
	uint64_t dump_until;
	uint64_t deadline;	/* hello or closing deadline, ms */
	uint64_t progress;	/* last time bytes went out, ms */
	size_t slot;		/* index in feed->clients */
};

struct evt_feed {
	struct evt *ev;
	struct evt_feed_config c;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	int lfd, efd, epfd;
	pthread_t thread;
	atomic_bool kick;	/* new events since the thread last looked */
	atomic_bool stop;
	struct client **clients;/* thread only */
	atomic_size_t nclients;
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Called by emitting threads: at most one eventfd write per wakeup. */
static void feed_wake(void *arg)
{
	struct evt_feed *f = arg;
	uint64_t one = 1;

	if (!atomic_exchange(&f->kick, true))
		if (write(f->efd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow in practice; a failed
			 * write only delays delivery to the next tick. */
		}
}

static void client_epoll(struct evt_feed *f, struct client *c, bool out)
{
	struct epoll_event e = {
		.events = (c->in_eof ? 0 : EPOLLIN) | (out ? EPOLLOUT : 0),
		.data.ptr = c,
	};

	epoll_ctl(f->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->pollout = out;
}

static void client_free(struct evt_feed *f, struct client *c)
{
	size_t n = atomic_load(&f->nclients);

	epoll_ctl(f->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	evt_reader_close(c->r);
	f->clients[c->slot] = f->clients[n - 1];
	f->clients[c->slot]->slot = c->slot;
	atomic_store(&f->nclients, n - 1);
	free(c->out);
	free(c);
}

/* Write what is buffered; false if the client was freed. */
static bool client_flush(struct evt_feed *f, struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->progress = now_ms();
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (errno == EINTR)
				continue;
			if (!c->pollout)
				client_epoll(f, c, true);
			return true;
		}
		client_free(f, c);	/* the client went away */
		return false;
	}
	c->out_off = c->out_len = 0;
	if (c->pollout)
		client_epoll(f, c, false);
	if (c->state == C_CLOSING) {
		shutdown(c->fd, SHUT_WR);
		client_free(f, c);
		return false;
	}
	return true;
}

/* Queue a line the server writes itself (errors, events_lost). */
static void client_say(struct client *c, const char *line, size_t len)
{
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > FEED_OUT - c->out_len)
		len = FEED_OUT - c->out_len;
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
}

static void client_error(struct client *c, const char *msg)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "{\"error\":\"%s\"}\n", msg);

	c->out_off = c->out_len = 0;
	client_say(c, line, (size_t)n);
	c->state = C_CLOSING;
	c->deadline = now_ms() + 1000;
}

static uint64_t seq_of(const char *line)
{
	return strncmp(line, "{\"seq\":", 7) == 0 ? strtoull(line + 7, NULL, 10)
						   : 0;
}

/*
 * Cut a client that fell behind: keep the line being written (a client
 * never sees half a line), drop the rest, and say which events it missed.
 */
static void client_cut(struct evt_feed *f, struct client *c)
{
	char line[4096], why[128];
	uint64_t from, to = evt_last_seq(f->ev);
	size_t keep = c->out_off, len;
	char *nl;

	if (keep > 0 && keep < c->out_len && c->out[keep - 1] != '\n') {
		nl = memchr(c->out + keep, '\n', c->out_len - keep);
		keep = nl ? (size_t)(nl - c->out) + 1 : c->out_len;
	}
	from = keep < c->out_len ? seq_of(c->out + keep) : evt_reader_next(c->r);
	c->out_len = keep;
	if (from == 0 || from > to)
		from = to;
	snprintf(why, sizeof(why),
		 "consumer too slow: reconnect with 'from %" PRIu64 "' for the events kept",
		 from);
	len = evt_format_lost(f->ev, from, to, why, line, sizeof(line));
	client_say(c, line, len);
	evt_reader_close(c->r);
	c->r = NULL;
	c->state = C_CLOSING;
	c->deadline = now_ms() + f->c.close_ms;
}

/* Keep only lines with seq <= dump_until in [@buf, @buf + @n). */
static size_t dump_clip(const char *buf, size_t n, uint64_t until)
{
	size_t off = 0;

	while (off < n) {
		const char *nl = memchr(buf + off, '\n', n - off);

		if (seq_of(buf + off) > until)
			break;
		off = nl ? (size_t)(nl - buf) + 1 : n;
	}
	return off;
}

/* Fill and write; false if the client was freed. */
static bool client_pump(struct evt_feed *f, struct client *c)
{
	for (int i = 0; i < FEED_FILLS; i++) {
		ssize_t n;

		if (c->out_len > c->out_off)
			return client_flush(f, c);
		if (c->state != C_STREAM && c->state != C_DUMP)
			return true;
		n = evt_reader_read(c->r, c->out, FEED_OUT);
		if (n < 0) {
			client_error(c, "the event store failed; try again");
			return client_flush(f, c);
		}
		c->out_off = 0;
		c->out_len = (size_t)n;
		if (c->state == C_DUMP) {
			c->out_len = dump_clip(c->out, c->out_len, c->dump_until);
			if (c->out_len < (size_t)n ||
			    evt_reader_next(c->r) > c->dump_until || n == 0) {
				c->state = C_CLOSING;
				c->deadline = now_ms() + f->c.close_ms;
			}
		}
		if (n == 0 && c->state == C_STREAM) {
			c->caught_up = true;
			return true;
		}
		if (!client_flush(f, c))
			return false;
	}
	return true;
}

static void client_command(struct evt_feed *f, struct client *c, char *line)
{
	uint64_t seq = 0;
	char *end;

	(void)f;
	line[strcspn(line, "\r")] = '\0';
	if (line[0] == '\0' || strcmp(line, "from now") == 0) {
		seq = EVT_FROM_NOW;
		c->state = C_STREAM;
	} else if (strncmp(line, "from ", 5) == 0 ||
		   strncmp(line, "dump ", 5) == 0 || strcmp(line, "dump") == 0) {
		if (line[4] == ' ') {
			errno = 0;
			seq = strtoull(line + 5, &end, 10);
			if (errno || end == line + 5 || *end || line[5] == '-') {
				client_error(c, "bad sequence number; expected 'from SEQ', 'from now' or 'dump SEQ'");
				return;
			}
		}
		c->state = line[0] == 'f' ? C_STREAM : C_DUMP;
	} else {
		client_error(c, "unknown command; expected 'from SEQ', 'from now' or 'dump SEQ'");
		return;
	}
	if (c->state == C_DUMP)
		c->dump_until = evt_last_seq(f->ev);
	if (evt_reader_open(f->ev, seq, feed_wake, f, &c->r, NULL)) {
		client_error(c, "out of memory");
		return;
	}
	c->progress = now_ms();
}

static bool client_input(struct evt_feed *f, struct client *c)
{
	char junk[4096];

	for (;;) {
		ssize_t n;
		char *nl;

		if (c->state != C_HELLO) {
			n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		} else {
			n = recv(c->fd, c->in + c->inlen, FEED_IN - c->inlen,
				 MSG_DONTWAIT);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n < 0) {
			client_free(f, c);
			return false;
		}
		if (n == 0) {
			c->in_eof = true;
			client_epoll(f, c, c->pollout);
			if (c->state == C_HELLO) {	/* a last line without '\n' */
				c->in[c->inlen] = '\0';
				client_command(f, c, c->in);
			}
			return true;
		}
		if (c->state != C_HELLO)
			continue;	/* later input is ignored */
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		nl = memchr(c->in, '\n', c->inlen);
		if (nl) {
			*nl = '\0';
			client_command(f, c, c->in);
		} else if (c->inlen == FEED_IN) {
			client_error(c, "command line too long; expected 'from SEQ', 'from now' or 'dump SEQ'");
		}
	}
}

static void feed_accept(struct evt_feed *f)
{
	for (;;) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		size_t n = atomic_load(&f->nclients);
		struct epoll_event e = { .events = EPOLLIN };
		struct client *c;

		if (fd < 0)
			return;
		c = n < f->c.max_clients ? calloc(1, sizeof(*c)) : NULL;
		if (c)
			c->out = malloc(FEED_OUT);
		if (!c || !c->out) {
			static const char busy[] =
				"{\"error\":\"too many clients\"}\n";

			if (send(fd, busy, sizeof(busy) - 1,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it is being turned away either way */
			}
			close(fd);
			if (c)
				free(c);
			continue;
		}
		c->fd = fd;
		c->state = C_HELLO;
		c->deadline = now_ms() + f->c.hello_ms;
		c->slot = n;
		e.data.ptr = c;
		if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			free(c->out);
			free(c);
			continue;
		}
		f->clients[n] = c;
		atomic_store(&f->nclients, n + 1);
	}
}

/* Deadlines, stalls and lag: run every pass. */
static void feed_check(struct evt_feed *f, uint64_t now, bool kicked)
{
	for (size_t i = atomic_load(&f->nclients); i-- > 0;) {
		struct client *c = f->clients[i];
		bool pending = c->out_len > c->out_off;

		if (c->state == C_HELLO && now >= c->deadline) {
			client_command(f, c, (char[]){ "" });
		} else if (c->state == C_CLOSING && now >= c->deadline) {
			client_free(f, c);
			continue;
		} else if ((c->state == C_STREAM || c->state == C_DUMP) &&
			   pending &&
			   (now - c->progress >= f->c.stall_ms ||
			    (c->caught_up &&
			     evt_reader_lag(c->r) > f->c.max_lag))) {
			client_cut(f, c);
		}
		if ((kicked || !pending) && !client_pump(f, c))
			continue;
	}
}

static void *feed_main(void *arg)
{
	struct evt_feed *f = arg;
	struct epoll_event evs[64];

	while (!atomic_load(&f->stop)) {
		int n = epoll_wait(f->epfd, evs, 64, 50);
		bool kicked = false;

		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c == NULL) {
				feed_accept(f);
			} else if (c == (void *)f) {
				uint64_t v;

				if (read(f->efd, &v, sizeof(v)) < 0) {
					/* nothing to read: a spurious wakeup */
				}
				atomic_store(&f->kick, false);
				kicked = true;
			}
		}
		/* Client events after the feed's own: freeing a client
		 * must not leave a stale pointer in evs. */
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			bool live = false;

			if (c == NULL || c == (void *)f)
				continue;
			for (size_t k = 0; k < atomic_load(&f->nclients); k++)
				live |= f->clients[k] == c;
			if (!live)
				continue;
			if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
				client_free(f, c);	/* both ways closed */
				continue;
			}
			if ((evs[i].events & EPOLLIN) && !client_input(f, c))
				continue;
			if ((evs[i].events & EPOLLOUT) || c->out_len > c->out_off)
				client_flush(f, c);
		}
		feed_check(f, now_ms(), kicked);
	}
	while (atomic_load(&f->nclients))
		client_free(f, f->clients[0]);
	return NULL;
}

/* Bind @path, replacing a socket nobody answers on. */
static int feed_bind(struct evt_feed *f, struct mixfs_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	strcpy(a.sun_path, f->path);
	if (lstat(f->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return mixfs_err_set(err, -EEXIST,
				"%s exists and is not a socket", f->path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return mixfs_err_set(err, -errno, "socket: %s",
					     strerror(errno));
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (rc == 0)
			return mixfs_err_set(err, -EADDRINUSE,
				"a server already answers on %s", f->path);
		unlink(f->path);
	}
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->lfd < 0)
		return mixfs_err_set(err, -errno, "socket: %s", strerror(errno));
	if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = mixfs_err_set(err, -errno, "binding %s: %s", f->path,
				   strerror(errno));
		goto out_close;
	}
	/* Nobody can connect before listen(), so the mode is set in time. */
	if (chmod(f->path, f->c.mode) < 0 || stat(f->path, &st) < 0 ||
	    listen(f->lfd, 128) < 0) {
		rc = mixfs_err_set(err, -errno, "setting up %s: %s", f->path,
				   strerror(errno));
		goto out_unlink;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;

out_unlink:
	unlink(f->path);
out_close:
	close(f->lfd);
	f->lfd = -1;
	return rc;
}

int evt_feed_start(struct evt *ev, const struct evt_feed_config *c,
		   struct evt_feed **out, struct mixfs_err *err)
{
	struct epoll_event e = { .events = EPOLLIN };
	struct evt_feed *f;
	int rc;

	*out = NULL;
	if (!c->path || !c->path[0])
		return mixfs_err_set(err, -EINVAL, "the feed needs a socket path");
	if (strlen(c->path) >= sizeof(f->path))
		return mixfs_err_set(err, -ENAMETOOLONG,
			"socket path '%.64s...' is longer than %zu bytes",
			c->path, sizeof(f->path) - 1);
	f = calloc(1, sizeof(*f));
	if (!f)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	f->ev = ev;
	f->c = *c;
	f->c.mode = c->mode ? c->mode : 0660;
	f->c.max_clients = c->max_clients ? c->max_clients : 1024;
	f->c.hello_ms = c->hello_ms ? c->hello_ms : 250;
	f->c.stall_ms = c->stall_ms ? c->stall_ms : 10000;
	f->c.max_lag = c->max_lag ? c->max_lag : ev->cap;
	f->c.close_ms = c->close_ms ? c->close_ms : 5000;
	strcpy(f->path, c->path);
	f->lfd = f->efd = f->epfd = -1;
	f->clients = calloc(f->c.max_clients, sizeof(*f->clients));
	if (!f->clients) {
		rc = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_free;
	}
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->efd < 0 || f->epfd < 0) {
		rc = mixfs_err_set(err, -errno, "eventfd/epoll: %s",
				   strerror(errno));
		goto out_close;
	}
	rc = feed_bind(f, err);
	if (rc)
		goto out_close;
	e.data.ptr = NULL;
	epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->lfd, &e);
	e.data.ptr = f;
	epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->efd, &e);
	rc = -pthread_create(&f->thread, NULL, feed_main, f);
	if (rc) {
		mixfs_err_set(err, rc, "cannot start the feed thread");
		goto out_unlink;
	}
	*out = f;
	return 0;

out_unlink:
	unlink(f->path);
	close(f->lfd);
out_close:
	if (f->efd >= 0)
		close(f->efd);
	if (f->epfd >= 0)
		close(f->epfd);
out_free:
	free(f->clients);
	free(f);
	return rc;
}

size_t evt_feed_clients(struct evt_feed *f)
{
	return atomic_load(&f->nclients);
}

void evt_feed_stop(struct evt_feed *f)
{
	struct stat st;
	uint64_t one = 1;

	if (!f)
		return;
	atomic_store(&f->stop, true);
	if (write(f->efd, &one, sizeof(one)) < 0) {
		/* the thread also wakes on its 50 ms tick */
	}
	pthread_join(f->thread, NULL);
	/* Remove the socket only if it is still ours. */
	if (stat(f->path, &st) == 0 && st.st_dev == f->dev &&
	    st.st_ino == f->ino)
		unlink(f->path);
	close(f->lfd);
	close(f->efd);
	close(f->epfd);
	free(f->clients);
	free(f);
}
