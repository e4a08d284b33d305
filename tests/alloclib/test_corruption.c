/*
 * test_corruption.c - balloc_load() on damaged buffers: every truncation,
 * every single flipped byte, and contents that contradict themselves under
 * a valid checksum. Each must fail -EUCLEAN with a message, never crash
 * and never yield an allocator. Run for both encodings (the bitmap writes
 * a bitmap, the extent allocator an extent list).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "alloclib/balloc.h"

#define N 3001		/* not a multiple of 8: the bitmap has padding */
#define BS 64

struct fix {
	const char *kind;
	unsigned char *buf;
	size_t len;
};

static int setup_kind(void **state, const char *kind)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct balloc a;
	struct balloc_extent x;
	uint64_t b;

	if (!f || balloc_init(&a, kind, N, BS, NULL) != 0)
		return -1;
	/* an irregular map: runs of different lengths, some blocks freed */
	for (b = 0; b < N; b += 1 + b % 13)
		if (balloc_alloc(&a, NULL, b, 1, 1 + b % 5, &x, NULL) != 0)
			return -1;
	for (b = 7; b < N; b += 31)
		if (balloc_is_free(&a, b, 1, NULL) == 0)
			balloc_free(&a, b, 1, NULL);
	f->len = balloc_serial_size(&a);
	f->buf = malloc(f->len);
	if (!f->buf || balloc_serialise(&a, f->buf, f->len, &f->len, NULL) != 0)
		return -1;
	balloc_release(&a);
	f->kind = kind;
	*state = f;
	return 0;
}

static int setup_bitmap(void **state)
{
	return setup_kind(state, "bitmap");
}

static int setup_extent(void **state)
{
	return setup_kind(state, "extent");
}

static int teardown(void **state)
{
	struct fix *f = *state;

	free(f->buf);
	free(f);
	return 0;
}

static const unsigned char zero[sizeof(struct balloc)];

/* Load @buf and expect -EUCLEAN with a message (containing @needle if
 * not NULL) and a zeroed allocator. */
static void expect_corrupt(const struct fix *f, const void *buf, size_t len,
			   const char *needle, const char *what)
{
	struct mixfs_err err = { 0 };
	struct balloc a;
	int ret;

	memset(&a, 0x5a, sizeof(a));
	ret = balloc_load(&a, f->kind, buf, len, &err);
	if (ret == 0)
		balloc_release(&a);
	if (ret != -EUCLEAN)
		fail_msg("%s: %s: load returned %d, want -EUCLEAN", f->kind,
			 what, ret);
	if (err.code != -EUCLEAN || err.msg[0] == '\0')
		fail_msg("%s: %s: no -EUCLEAN message recorded", f->kind, what);
	if (needle && !strstr(err.msg, needle))
		fail_msg("%s: %s: message \"%s\" does not mention \"%s\"",
			 f->kind, what, err.msg, needle);
	if (memcmp(&a, zero, sizeof(a)) != 0)
		fail_msg("%s: %s: failed load left the allocator set up",
			 f->kind, what);
}

static void intact_buffer_loads(void **state)
{
	struct fix *f = *state;
	struct balloc a;

	assert_int_equal(balloc_load(&a, f->kind, f->buf, f->len, NULL), 0);
	assert_true(balloc_count_free(&a) > 0);
	assert_true(balloc_count_free(&a) < N);
	balloc_release(&a);
}

static void every_truncation_fails_euclean(void **state)
{
	struct fix *f = *state;
	char what[64];
	size_t len;

	for (len = 0; len < f->len; len++) {
		/* a copy of exactly @len bytes, so ASan sees any overread */
		unsigned char *p = malloc(len ? len : 1);

		assert_non_null(p);
		memcpy(p, f->buf, len);
		snprintf(what, sizeof(what), "truncated to %zu bytes", len);
		expect_corrupt(f, p, len, NULL, what);
		free(p);
	}
}

static void trailing_garbage_fails_euclean(void **state)
{
	struct fix *f = *state;
	unsigned char *p = calloc(1, f->len + 8);

	assert_non_null(p);
	memcpy(p, f->buf, f->len);
	expect_corrupt(f, p, f->len + 1, "truncated", "one byte longer");
	expect_corrupt(f, p, f->len + 8, NULL, "eight bytes longer");
	free(p);
}

static void every_flipped_byte_fails_euclean(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x80, 0xff, 0x5a };
	struct fix *f = *state;
	unsigned char *p = malloc(f->len);
	char what[64];
	size_t i, m;

	assert_non_null(p);
	memcpy(p, f->buf, f->len);
	for (i = 0; i < f->len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			p[i] ^= masks[m];
			snprintf(what, sizeof(what), "byte %zu ^ 0x%02x", i,
				 masks[m]);
			expect_corrupt(f, p, f->len, NULL, what);
			p[i] ^= masks[m];
		}
	}
	free(p);
}

/* --- valid checksum, impossible contents ----------------------------- */

static void put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void reseal(unsigned char *p, size_t len)
{
	put64(p + len - 8, XXH3_64bits(p, len - 8));
}

static unsigned char *copy(const struct fix *f)
{
	unsigned char *p = malloc(f->len);

	assert_non_null(p);
	memcpy(p, f->buf, f->len);
	return p;
}

static void resealed_header_lies_fail_euclean(void **state)
{
	struct fix *f = *state;
	unsigned char *p;

	p = copy(f);
	p[8] = 2;
	reseal(p, f->len);
	expect_corrupt(f, p, f->len, "version 2", "future version");
	free(p);

	p = copy(f);
	p[10] = 9;
	reseal(p, f->len);
	expect_corrupt(f, p, f->len, "encoding", "unknown encoding");
	free(p);

	p = copy(f);
	put64(p + 24, get64(p + 24) + 1);
	reseal(p, f->len);
	expect_corrupt(f, p, f->len, "free count", "free count off by one");
	free(p);

	p = copy(f);
	p[12] = 0xe8;		/* block size 1000 */
	p[13] = 0x03;
	reseal(p, f->len);
	expect_corrupt(f, p, f->len, "block size", "block size 1000");
	free(p);

	p = copy(f);
	memcpy(p, "MXBALLOX", 8);
	reseal(p, f->len);
	expect_corrupt(f, p, f->len, "magic", "bad magic");
	free(p);
}

static void resealed_body_lies_fail_euclean(void **state)
{
	struct fix *f = *state;
	unsigned char *p = copy(f), *body = p + 48;

	if (strcmp(f->kind, "bitmap") == 0) {
		body[N / 8] |= 0x80;	/* padding bit past the last block */
		reseal(p, f->len);
		expect_corrupt(f, p, f->len, "past the last block", "padding bit");
		free(p);
		p = copy(f);
		body = p + 48;
		body[5] ^= 0x10;	/* a valid map, but nfree now wrong */
		reseal(p, f->len);
		expect_corrupt(f, p, f->len, "free count", "bit flipped");
		free(p);
		p = copy(f);
		put64(p + 16, N + 64);	/* more blocks than the bitmap */
		reseal(p, f->len);
		expect_corrupt(f, p, f->len, "bitmap size", "block count too large");
	} else {
		uint64_t s1 = get64(body + 16);

		put64(body + 16, get64(body) + get64(body + 8));  /* touching */
		put64(body + 24, get64(body + 24) + (s1 - get64(body + 16)));
		reseal(p, f->len);
		expect_corrupt(f, p, f->len, "touch", "adjacent extents");
		free(p);
		p = copy(f);
		body = p + 48;
		put64(body + 8, 0);
		reseal(p, f->len);
		expect_corrupt(f, p, f->len, "empty", "empty extent");
		free(p);
		p = copy(f);
		body = p + 48;
		put64(body + f->len - 48 - 8 - 16, N - 1);	/* last start */
		put64(body + f->len - 48 - 8 - 8, 2);
		reseal(p, f->len);
		expect_corrupt(f, p, f->len, "outside", "extent past the end");
	}
	free(p);
}

#define CASES(kind) \
	CASE(kind, intact_buffer_loads), \
	CASE(kind, every_truncation_fails_euclean), \
	CASE(kind, trailing_garbage_fails_euclean), \
	CASE(kind, every_flipped_byte_fails_euclean), \
	CASE(kind, resealed_header_lies_fail_euclean), \
	CASE(kind, resealed_body_lies_fail_euclean)

#define CASE(kind, fn) \
	{ #kind "_" #fn, fn, setup_##kind, teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASES(bitmap),
		CASES(extent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
