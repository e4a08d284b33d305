/*
 * fuzz_uri.c - store URIs: objstore_open() with every scheme, and the
 * size and parameter helpers every backend parses its query with.
 *
 * Input: the URI text. Nothing is touched on the host: a dir: or rocksdb:
 * store (innermost, under any number of faulty: layers) gets its path
 * replaced by one that does not exist and is opened without
 * OBJSTORE_OPEN_CREATE, so its parameters are parsed and the open stops
 * at -ENOENT; rados: is not opened (it would look for a cluster). mem:
 * stores, bare or under faulty: layers, are opened for real and given a
 * few calls, unless a faulty: rule asks for delays.
 *
 * Properties: every call returns 0 or a negative errno, a failed open
 * says why in the error record and leaves *out NULL; an open store takes
 * calls and closes. objstore_parse_size() accepts only what it can
 * represent: a value it returns times its suffix is what the text says.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/backend.h"
#include "objstore/objstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MISSING "/nonexistent/mixfs-fuzz-uri"

/* Rewrite @uri so that opening it does no host I/O; NULL to skip it. */
static char *tame(const char *uri)
{
	const char *p = uri, *colon;
	char *out;

	while (!strncmp(p, "faulty:", 7)) {
		colon = strchr(p + 7, ':');
		if (!colon)
			return strdup(uri);	/* malformed: parse fails */
		p = colon + 1;
	}
	if (!strncmp(p, "rados:", 6))
		return NULL;
	if (!strncmp(p, "dir:", 4) || !strncmp(p, "rocksdb:", 8)) {
		const char *path = strchr(p, ':') + 1;
		const char *q = strchr(path, '?');

		if (asprintf(&out, "%.*s%s%s", (int)(path - uri), uri, MISSING,
			     q ? q : "") < 0)
			return NULL;
		return out;
	}
	return strdup(uri);
}

static void use_store(struct objstore *s)
{
	struct objstore_stat st;
	struct objstore_statfs sf;
	uint64_t id, cursor = 0, ids[4];
	char buf[64];
	size_t n;

	if (objstore_create_fresh(s, &id, NULL) == 0) {
		if (objstore_write(s, id, 10, "fuzz", 4, NULL) == 0 &&
		    objstore_read(s, id, 0, buf, sizeof(buf), NULL) == 14 &&
		    memcmp(buf + 10, "fuzz", 4))
			abort();
		objstore_setattr(s, id, "a", "b", 1, NULL);
		objstore_stat(s, id, &st, NULL);
	}
	objstore_list(s, &cursor, ids, 4, &n, NULL);
	objstore_statfs(s, &sf, NULL);
	objstore_sync(s, NULL);
}

static void check_size(const char *text)
{
	uint64_t v = 0, w;
	char *end;

	if (objstore_parse_size(text, &v))
		return;
	w = strtoull(text, &end, 10);
	if (*end == '\0' && v != w)
		abort();	/* a plain number means itself */
	if (*end && w && v % w)
		abort();	/* a suffix multiplies */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const known[] = { "size", "cache", "chunk", NULL };
	struct mixfs_err err = { 0 };
	struct objstore *s = (struct objstore *)1;
	char *uri, *tamed, val[32];
	int ret;

	if (size > 4096)
		return 0;
	uri = malloc(size + 1);
	if (!uri)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';

	check_size(uri);
	ret = objstore_uri_param(uri, "size", val, sizeof(val));
	if (ret == 1 && strlen(val) >= sizeof(val))
		abort();
	if (ret < 0 && ret != -EINVAL)
		abort();
	objstore_uri_check_keys(uri, known, NULL);

	tamed = tame(uri);
	if (tamed) {
		ret = objstore_open(tamed, 0, &s, &err);
		if (ret) {
			if (ret > 0 || s || !err.msg[0])
				abort();
		} else {
			if (!strstr(tamed, "delay="))
				use_store(s);
			if (objstore_close(s))
				abort();
		}
		free(tamed);
	}
	free(uri);
	return 0;
}
