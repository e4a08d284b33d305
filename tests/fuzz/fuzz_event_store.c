/*
 * fuzz_event_store.c - the event log kept in an object store: one
 * attribute "e.<seq in 16 hex digits>" per event holding its JSON line,
 * and "reserved" holding the sequence reservation in decimal.
 *
 * Input: attributes as [name length u8][value length u16 LE][name]
 * [value], set on object 1 of a mem: store. Then the log is opened with
 * evt_store_objstore_open(); if that takes it, an events instance is
 * opened on it (which restores the sequence from it), a reader from 0
 * reads everything kept, one event is emitted, the instance and the
 * store are closed, and the log is opened once more.
 *
 * Properties: the store opens or fails -EUCLEAN (or another negative
 * errno) with a message; bounds come back ordered (first <= last when
 * something is kept); a reader returns whole lines when every kept line
 * was whole; with MIXFS_FUZZ_STRICT=1, always, and every line is one
 * strict JSON object (the library hands kept lines to readers as they
 * are, torn or not: docs/testing.md, Fuzzing, findings); the event emitted
 * after a restore gets a seq past every seq the log held and past the
 * reservation; nothing crashes or leaks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "json_check.h"
#include "objstore/objstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(struct evt *ev, bool whole, bool strict)
{
	static char buf[4 * EVT_LINE_MAX];
	struct evt_reader *r;
	ssize_t n;

	if (evt_reader_open(ev, 0, NULL, NULL, &r, NULL))
		abort();
	for (int i = 0; i < 1000 && (n = evt_reader_read(r, buf,
							  sizeof(buf))) > 0;
	     i++) {
		const char *p = buf, *end = buf + n;

		if ((whole || strict) && buf[n - 1] != '\n')
			abort();	/* whole lines when they fit */
		while (strict && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (!json_check_object(p, (size_t)(nl - p), NULL,
					       NULL))
				abort();	/* one event per line */
			p = nl + 1;
		}
	}
	evt_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mixfs_err err = { 0 };
	struct objstore *os;
	struct evt_store *st;
	size_t pos = 0;
	const char *env = getenv("MIXFS_FUZZ_STRICT");
	bool strict = env && !strcmp(env, "1"), whole = false;
	int ret;

	if (size > 65536 || objstore_open("mem:", 0, &os, NULL))
		return 0;
	if (objstore_create(os, 1, NULL))
		abort();
	for (size_t p = 0; size - p >= 3;) {
		size_t nl = data[p];
		size_t vl = (size_t)data[p + 1] | (size_t)data[p + 2] << 8;

		p += 3;
		if (nl + vl > size - p)
			break;
		if (nl >= 2 && !memcmp(data + p, "e.", 2) &&
		    (vl == 0 || data[p + nl + vl - 1] != '\n'))
			break;
		p += nl + vl;
		if (size - p < 3)
			whole = true;	/* every kept line ends in '\n' */
	}
	while (size - pos >= 3) {
		size_t nl = data[pos];
		size_t vl = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		char name[256];

		pos += 3;
		if (nl + vl > size - pos)
			break;
		memcpy(name, data + pos, nl);
		name[nl] = '\0';
		objstore_setattr(os, 1, name, data + pos + nl, vl, NULL);
		pos += nl + vl;
	}
	ret = evt_store_objstore_open(os, 1, false, &st, &err);
	if (ret > 0 || (ret < 0 && !err.msg[0]))
		abort();
	if (ret == 0) {
		uint64_t first, last, reserved, seq = 0;
		struct evt_config cfg = { .ring = 16, .keep = 8, .store = st };
		struct evt *ev;

		if (st->ops->bounds(st, &first, &last, &reserved, NULL) == 0 &&
		    first > last)
			abort();
		if (evt_open(&cfg, &ev, NULL) == 0) {
			read_all(ev, whole, strict);
			if (evt_emitv(ev, EVT_MOUNTED, NULL, 0, &seq) == 0 &&
			    (seq <= last || seq <= reserved) &&
			    reserved < UINT64_MAX - 1024 && last < UINT64_MAX - 1024)
				abort();
			evt_close(ev);
		}
		evt_store_close(st);
		if (evt_store_objstore_open(os, 1, false, &st, NULL) == 0)
			evt_store_close(st);
	}
	objstore_close(os);
	return 0;
}
