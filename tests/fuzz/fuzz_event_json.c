/*
 * fuzz_event_json.c - the JSON line the events library writes for any
 * detail bytes, any mount point, any type.
 *
 * Input: byte 0 the event type, byte 1 the size of the reader's buffer
 * (1 to 256 bytes, so lines come back in parts), then records
 * [key length u8][value length u16 LE][key][value]. A record with the key
 * "mount" sets the mount point instead of making a detail.
 *
 * Properties: evt_emitv() takes the details or refuses them with -EINVAL
 * and a message; what a reader returns is whole lines, each a strict
 * RFC 8259 object (json_check.c) with seq, type and category as emitted;
 * a detail value comes back byte for byte - decoded from the string when
 * it was valid UTF-8, from "<key>_hex" otherwise - unless "truncated"
 * names the key. The events_lost line for any range parses too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NREC (EVT_DETAILS_MAX + 4)

struct want {
	struct evt_kv kv[NREC];
	char keys[NREC][256];
	size_t nkv;
	/* what the line held */
	char *got[NREC], *hex[NREC];
	size_t gotlen[NREC], hexlen[NREC];
	char truncated[1024];
	char type[64], category[64];
};

static void on_member(void *arg, const char *parent, const char *key,
		      const char *val, size_t len)
{
	struct want *w = arg;

	if (!strcmp(parent, "") && !strcmp(key, "type"))
		snprintf(w->type, sizeof(w->type), "%s", val);
	if (!strcmp(parent, "") && !strcmp(key, "category"))
		snprintf(w->category, sizeof(w->category), "%s", val);
	if (strcmp(parent, "details"))
		return;
	if (!strcmp(key, "truncated"))
		snprintf(w->truncated, sizeof(w->truncated), ",%s,", val);
	for (size_t i = 0; i < w->nkv; i++) {
		size_t kl = strlen(w->kv[i].key);

		if (!strcmp(key, w->kv[i].key) && !w->got[i]) {
			w->got[i] = malloc(len + 1);
			if (w->got[i])
				memcpy(w->got[i], val, len + 1);
			w->gotlen[i] = len;
		} else if (!strncmp(key, w->kv[i].key, kl) &&
			   !strcmp(key + kl, "_hex") && !w->hex[i]) {
			w->hex[i] = malloc(len + 1);
			if (w->hex[i])
				memcpy(w->hex[i], val, len + 1);
			w->hexlen[i] = len;
		}
	}
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* lowercase only, as promised */
}

static void check_details(struct want *w)
{
	for (size_t i = 0; i < w->nkv; i++) {
		char needle[64];
		const struct evt_kv *kv = &w->kv[i];

		snprintf(needle, sizeof(needle), ",%s,", kv->key);
		if (!w->got[i])
			abort();	/* a detail given is missing */
		if (strstr(w->truncated, needle))
			continue;	/* cut: only a prefix is promised */
		if (w->hex[i]) {
			if (w->hexlen[i] != 2 * kv->len)
				abort();
			for (size_t j = 0; j < kv->len; j++) {
				int hi = unhex(w->hex[i][2 * j]);
				int lo = unhex(w->hex[i][2 * j + 1]);

				if (hi < 0 || lo < 0 ||
				    (unsigned char)kv->val[j] != (hi << 4 | lo))
					abort();
			}
		} else if (w->gotlen[i] != kv->len ||
			   memcmp(w->got[i], kv->val, kv->len)) {
			abort();	/* valid UTF-8 must come back as is */
		}
	}
}

static void check_lines(const char *buf, size_t len, struct want *w,
			enum evt_type type, size_t *nlines)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			abort();	/* a reader returns whole lines */
		if (!json_check_object(p, (size_t)(nl - p), on_member, w))
			abort();
		if (strcmp(w->type, evt_type_name(type)) ||
		    strcmp(w->category,
			   evt_category_name(evt_type_category(type))))
			abort();
		++*nlines;
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_config cfg = { .ring = 16, .uuid = { 1, 2, 3 } };
	struct want *w;
	struct evt *ev;
	struct evt_reader *r;
	enum evt_type type;
	size_t pos = 2, rsize, total = 0, nlines = 0;
	char *line, *out;
	ssize_t n;
	int ret;

	if (size < 2)
		return 0;
	type = (enum evt_type)(data[0] % EVT_TYPE_COUNT);
	rsize = 1 + data[1];
	w = calloc(1, sizeof(*w));
	line = malloc(EVT_LINE_MAX);
	out = malloc(4 * EVT_LINE_MAX);
	if (!w || !line || !out || evt_open(&cfg, &ev, NULL))
		goto out_free;
	while (pos + 3 <= size && w->nkv < NREC) {
		size_t kl = data[pos];
		size_t vl = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;

		pos += 3;
		if (kl + vl > size - pos)
			break;
		memcpy(w->keys[w->nkv], data + pos, kl);
		w->keys[w->nkv][kl] = '\0';
		if (!strcmp(w->keys[w->nkv], "mount")) {
			char *m = strndup((const char *)data + pos + kl, vl);

			if (m && evt_set_mount(ev, m))
				abort();
			free(m);
		} else {
			w->kv[w->nkv].key = w->keys[w->nkv];
			w->kv[w->nkv].val = (const char *)data + pos + kl;
			w->kv[w->nkv].len = vl;
			w->nkv++;
		}
		pos += kl + vl;
	}
	if (evt_reader_open(ev, 0, NULL, NULL, &r, NULL))
		abort();
	{
		uint64_t seq = 0;

		ret = evt_emitv(ev, type, w->kv, w->nkv, &seq);
		if (ret && ret != -EINVAL && ret != -ENOMEM)
			abort();
		if (ret == 0 && seq != 1)
			abort();
	}
	while ((n = evt_reader_read(r, out + total, rsize)) > 0) {
		total += (size_t)n;
		if (total + rsize > 4 * EVT_LINE_MAX)
			abort();	/* one event, yet no end */
	}
	if (n < 0)
		abort();
	check_lines(out, total, w, type, &nlines);
	if (nlines != (ret == 0))
		abort();
	if (ret == 0)
		check_details(w);
	evt_reader_close(r);

	/* The events_lost line a feed sends for a range it no longer has. */
	{
		uint64_t from = 0, to = 0;
		size_t len;
		struct want lost = { .nkv = 0 };

		memcpy(&from, data, size < 8 ? size : 8);
		if (size > 8)
			memcpy(&to, data + 8, size - 8 < 8 ? size - 8 : 8);
		len = evt_format_lost(ev, from, to, "fuzz", line,
				      EVT_LINE_MAX);
		if (len == 0 || len > EVT_LINE_MAX || line[len - 1] != '\n' ||
		    !json_check_object(line, len - 1, on_member, &lost))
			abort();
		if (strcmp(lost.type, "events_lost"))
			abort();
	}
	evt_close(ev);
out_free:
	if (w)
		for (size_t i = 0; i < NREC; i++) {
			free(w->got[i]);
			free(w->hex[i]);
		}
	free(w);
	free(line);
	free(out);
	return 0;
}
