/*
 * evt_testd.c - a stand-in daemon for the command-line tests: an events
 * instance over an in-memory store with a feed on SOCKET, driven by
 * commands on stdin, one per line, each answered "ok" (or "error ...")
 * on stdout once done:
 *   emit TYPE [KEY=VALUE...]   emit an event (VALUE may use \xHH)
 *   restart                    stop the feed and the instance, open both
 *                              again on the same store (a daemon restart)
 *   flush                      wait until the store holds every event
 *   quit
 */
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct evt *ev;
static struct evt_feed *feed;
static struct evt_store *store;
static const char *sock;

static int start(void)
{
	struct evt_config c = { .mount = "/mnt/cli", .ring = 256, .store = store };
	struct evt_feed_config fc = { .path = sock, .hello_ms = 100 };
	struct mixfs_err err = { 0 };

	memset(c.uuid, 0x42, 16);
	if (evt_open(&c, &ev, &err) || evt_feed_start(ev, &fc, &feed, &err)) {
		fprintf(stderr, "evt_testd: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static void stop(void)
{
	evt_feed_stop(feed);
	evt_close(ev);
}

/* Decode \xHH escapes in place. */
static size_t unescape(char *s)
{
	char *o = s, *p = s;

	while (*p) {
		if (p[0] == '\\' && p[1] == 'x' && p[2] && p[3]) {
			char hex[3] = { p[2], p[3], 0 };

			*o++ = (char)strtol(hex, NULL, 16);
			p += 4;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return (size_t)(o - s);
}

int main(int argc, char **argv)
{
	char line[8192];

	if (argc != 2) {
		fprintf(stderr, "usage: evt_testd SOCKET\n");
		return 2;
	}
	sock = argv[1];
	store = evt_store_mem_new();
	if (!store || start())
		return 1;
	printf("ok\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL, *w = strtok_r(line, " \n", &save);
		int rc = 0;

		if (!w)
			continue;
		if (strcmp(w, "quit") == 0)
			break;
		if (strcmp(w, "restart") == 0) {
			stop();
			rc = start();
		} else if (strcmp(w, "flush") == 0) {
			rc = evt_flush(ev, 10000);
		} else if (strcmp(w, "emit") == 0) {
			struct evt_kv kv[EVT_DETAILS_MAX];
			enum evt_type t;
			size_t n = 0;
			char *kvs;

			w = strtok_r(NULL, " \n", &save);
			rc = w ? evt_type_parse(w, &t) : -1;
			while (rc == 0 && (kvs = strtok_r(NULL, " \n", &save)) &&
			       n < EVT_DETAILS_MAX) {
				char *eq = strchr(kvs, '=');

				if (!eq) {
					rc = -1;
					break;
				}
				*eq = '\0';
				kv[n].key = kvs;
				kv[n].val = eq + 1;
				kv[n].len = unescape(eq + 1);
				n++;
			}
			if (rc == 0)
				rc = evt_emitv(ev, t, kv, n, NULL);
		} else {
			rc = -1;
		}
		printf(rc ? "error %d\n" : "ok\n", rc);
		fflush(stdout);
	}
	stop();
	evt_store_close(store);
	return 0;
}
