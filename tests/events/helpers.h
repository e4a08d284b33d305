/*
 * helpers.h - small things the events tests share: opening an instance
 * with a fixed UUID, reading everything a reader has, pulling fields out
 * of our own lines. Header-only so each test stays one file plus this.
 */
#ifndef MIXFS_TESTS_EVENTS_HELPERS_H
#define MIXFS_TESTS_EVENTS_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

static const unsigned char test_uuid[16] = {
	0x0b, 0x6f, 0x11, 0x22, 0x33, 0x44, 0x45, 0x66,
	0x87, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
};

static inline struct evt *open_evt(size_t ring, uint64_t keep,
				   struct evt_store *store)
{
	struct evt_config c = { .mount = "/mnt/test", .ring = ring,
				.keep = keep, .store = store };
	struct mixfs_err err = { 0 };
	struct evt *ev = NULL;
	int rc;

	memcpy(c.uuid, test_uuid, 16);
	rc = evt_open(&c, &ev, &err);
	if (rc)
		fail_msg("evt_open failed: %d %s", rc, err.msg);
	return ev;
}

/* Everything @r has now, as one malloc'd NUL-terminated string. */
static inline char *read_all(struct evt_reader *r, size_t bufsize)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap), *buf = malloc(bufsize);
	ssize_t n;

	assert_non_null(out);
	assert_non_null(buf);
	while ((n = evt_reader_read(r, buf, bufsize)) > 0) {
		while (len + (size_t)n + 1 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	assert_true(n == 0);
	out[len] = '\0';
	free(buf);
	return out;
}

/* The number after "seq": in @line. */
static inline uint64_t line_seq(const char *line)
{
	const char *p = strstr(line, "{\"seq\":");

	assert_non_null(p);
	return strtoull(p + 7, NULL, 10);
}

/* Copy the value of string field "@key":"..." (no escapes expected). */
static inline const char *line_field(const char *line, const char *key,
				     char *buf, size_t size)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return NULL;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	return buf;
}

/* Count lines of @text. */
static inline size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

#endif
