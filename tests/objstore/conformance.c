/*
 * conformance.c - helpers for test_conformance.c: per-case stores in fresh
 * directories, whole-store snapshots, deterministic patterns and seeds.
 * See conformance.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

int ctx_open(struct ctx *c, const char *query)
{
	struct objstore_info info;
	struct mixfs_err err = { 0 };
	char uri[2048], more[256];
	int ret;

	/* A format that has a query of its own takes more after '&'. */
	if (query[0] == '?' && strchr(c->b->uri_fmt, '?')) {
		snprintf(more, sizeof(more), "&%s", query + 1);
		query = more;
	}
	snprintf(uri, sizeof(uri), c->b->uri_fmt, c->dir, query);
	ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &c->s, &err);
	if (ret) {
		print_error("opening %s failed: %s\n", uri,
			    mixfs_err_msg(&err, ret));
		return ret;
	}
	objstore_info(c->s, &info);
	c->caps = info.caps;
	return 0;
}

void ctx_close(struct ctx *c)
{
	if (c->s)
		assert_int_equal(objstore_close(c->s), 0);
	c->s = NULL;
}

/* --- snapshots ---------------------------------------------------------- */

static void snap_obj_take(struct objstore *s, uint64_t id, struct snap_obj *o)
{
	struct objstore_stat st;
	ssize_t n, total;
	char *names, *p;

	memset(o, 0, sizeof(*o));
	o->id = id;
	assert_int_equal(objstore_stat(s, id, &st, NULL), 0);
	assert_true(st.size <= (64u << 20));
	o->size = st.size;
	o->allocated = st.allocated;
	o->data = malloc(st.size + 1);
	assert_non_null(o->data);
	n = objstore_read(s, id, 0, o->data, st.size, NULL);
	assert_int_equal(n, (ssize_t)st.size);

	total = objstore_listattr(s, id, NULL, 0, NULL);
	assert_true(total >= 0);
	names = malloc((size_t)total + 1);
	assert_non_null(names);
	assert_int_equal(objstore_listattr(s, id, names, (size_t)total + 1, NULL),
			 total);
	for (p = names; p < names + total; p += strlen(p) + 1)
		o->nattrs++;
	o->attrs = calloc(o->nattrs + 1, sizeof(*o->attrs));
	assert_non_null(o->attrs);
	o->nattrs = 0;
	for (p = names; p < names + total; p += strlen(p) + 1) {
		struct snap_attr *a = &o->attrs[o->nattrs++];

		a->name = strdup(p);
		a->val = malloc(OBJSTORE_ATTR_MAX);
		assert_non_null(a->val);
		n = objstore_getattr(s, id, p, a->val, OBJSTORE_ATTR_MAX, NULL);
		assert_true(n >= 0);
		a->len = (size_t)n;
	}
	free(names);
}

void snapshot_take(struct objstore *s, struct snapshot *snap)
{
	struct objstore_statfs sf;
	uint64_t cursor = 0, ids[64];
	size_t n, i, cap = 0;

	memset(snap, 0, sizeof(*snap));
	for (;;) {
		assert_int_equal(objstore_list(s, &cursor, ids, 64, &n, NULL), 0);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (snap->n == cap) {
				cap = cap ? cap * 2 : 16;
				snap->objs = realloc(snap->objs,
						     cap * sizeof(*snap->objs));
				assert_non_null(snap->objs);
			}
			snap_obj_take(s, ids[i], &snap->objs[snap->n++]);
		}
	}
	assert_int_equal(objstore_statfs(s, &sf, NULL), 0);
	snap->used = sf.used;
	snap->objects = sf.objects;
}

void snapshot_assert_equal(const struct snapshot *a, const struct snapshot *b,
			   const char *what)
{
	size_t i, j;

	if (a->n != b->n)
		fail_msg("%s: %zu objects before, %zu after", what, a->n, b->n);
	for (i = 0; i < a->n; i++) {
		const struct snap_obj *x = &a->objs[i], *y = &b->objs[i];

		if (x->id != y->id)
			fail_msg("%s: object %" PRIu64 " became %" PRIu64, what,
				 x->id, y->id);
		if (x->size != y->size)
			fail_msg("%s: object %" PRIu64 " size %" PRIu64
				 " became %" PRIu64, what, x->id, x->size,
				 y->size);
		if (x->allocated != y->allocated)
			fail_msg("%s: object %" PRIu64 " allocated %" PRIu64
				 " became %" PRIu64, what, x->id, x->allocated,
				 y->allocated);
		if (x->size && memcmp(x->data, y->data, x->size))
			fail_msg("%s: object %" PRIu64 " data differs at %ld",
				 what, x->id,
				 first_diff(y->data, x->data, x->size));
		if (x->nattrs != y->nattrs)
			fail_msg("%s: object %" PRIu64 " had %zu attributes, "
				 "now %zu", what, x->id, x->nattrs, y->nattrs);
		for (j = 0; j < x->nattrs; j++) {
			const struct snap_attr *p = &x->attrs[j], *q = &y->attrs[j];

			if (strcmp(p->name, q->name) || p->len != q->len ||
			    memcmp(p->val, q->val, p->len))
				fail_msg("%s: object %" PRIu64 " attribute '%s' "
					 "changed", what, x->id, p->name);
		}
	}
	if (a->used != b->used)
		fail_msg("%s: statfs used %" PRIu64 " became %" PRIu64, what,
			 a->used, b->used);
	if (a->objects != b->objects)
		fail_msg("%s: statfs objects %" PRIu64 " became %" PRIu64, what,
			 a->objects, b->objects);
}

void snapshot_free(struct snapshot *snap)
{
	size_t i, j;

	for (i = 0; i < snap->n; i++) {
		for (j = 0; j < snap->objs[i].nattrs; j++) {
			free(snap->objs[i].attrs[j].name);
			free(snap->objs[i].attrs[j].val);
		}
		free(snap->objs[i].attrs);
		free(snap->objs[i].data);
	}
	free(snap->objs);
	memset(snap, 0, sizeof(*snap));
}

/* --- patterns ----------------------------------------------------------- */

void pattern_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		/* Every bit of the seed reaches every byte: small seeds
		 * must give different data. */
		uint64_t x = ((off + i) ^ seed * 0x9E3779B97F4A7C15ull) *
			     0xBF58476D1CE4E5B9ull;

		buf[i] = (unsigned char)((x >> 56) ^ (x >> 29) ^ 1);
	}
}

long first_diff(const unsigned char *buf, const unsigned char *want,
		size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != want[i])
			return (long)i;
	return -1;
}

long first_nonzero(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			return (long)i;
	return -1;
}

uint64_t test_seed(void)
{
	static uint64_t seed;
	static int done;
	const char *env;

	if (done)
		return seed;
	env = getenv("MIXFS_SEED");
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("# seed %" PRIu64 " (set MIXFS_SEED to repeat)\n", seed);
	done = 1;
	return seed;
}

uint64_t rnd_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
