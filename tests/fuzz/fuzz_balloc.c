/*
 * fuzz_balloc.c - balloc_load() on any bytes.
 *
 * Input: one mode byte, then the serialised allocator. Mode bits 0-1 pick
 * the implementation to load into (0: the one the buffer names, 1: bitmap,
 * 2: extent); bit 2 set leaves the trailing checksum as it is, clear
 * makes it right first, so that mutations reach the body instead of
 * stopping at the checksum every time.
 *
 * Properties: a load fails -EUCLEAN (or -EINVAL for a bad kind) with a
 * message and a zeroed allocator, or succeeds with an allocator whose
 * counters agree with its free extents, which serves an allocation and a
 * free, and whose own serialised form loads again into the same state.
 * Never a crash, a leak or a sanitizer report.
 *
 * Left out: an extent list loaded into the bitmap allocator with more
 * than 2^30 blocks. The bitmap is sized by the block count the header
 * claims, not by the buffer, so a 72-byte buffer can ask for gigabytes
 * (docs/testing.md, Fuzzing: findings); the fuzzer would stop there on
 * every run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "alloclib/balloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[] = { NULL, "bitmap", "extent", "bitmap" };

struct sum {
	uint64_t free, extents, end;
	int bad;
};

static int add_extent(void *arg, uint64_t start, uint64_t len)
{
	struct sum *s = arg;

	if (len == 0 || start < s->end || (s->extents && start == s->end))
		s->bad = 1;	/* empty, overlapping or not maximal */
	s->free += len;
	s->end = start + len;
	s->extents++;
	return 0;
}

static void check_loaded(struct balloc *a)
{
	struct balloc_stat st;
	struct balloc_extent x;
	struct sum s = { 0 };
	size_t cap, len;
	unsigned char *buf;
	struct balloc b;

	balloc_stat(a, &st);
	balloc_iterate_free(a, 0, add_extent, &s);
	if (s.bad || s.free != st.free || st.free > st.nblocks ||
	    s.end > st.nblocks || balloc_count_free(a) != st.free)
		abort();
	if (balloc_largest_free(a) > st.free)
		abort();
	if (balloc_alloc(a, NULL, st.nblocks / 2, 1, 16, &x, NULL) == 0) {
		if (x.len < 1 || x.len > 16 || x.start + x.len > st.nblocks ||
		    balloc_count_free(a) != st.free - x.len)
			abort();
		if (balloc_free(a, x.start, x.len, NULL) ||
		    balloc_count_free(a) != st.free)
			abort();
	} else if (st.free && st.free == st.available) {
		abort();	/* a free block exists, yet none was given */
	}
	cap = balloc_serial_size(a);
	buf = malloc(cap);
	if (!buf)
		return;
	if (balloc_serialise(a, buf, cap, &len, NULL))
		abort();
	if (balloc_load(&b, balloc_kind(a), buf, len, NULL))
		abort();	/* our own output must load */
	if (balloc_count_free(&b) != st.free)
		abort();
	balloc_release(&b);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char zero[sizeof(struct balloc)];
	struct mixfs_err err = { 0 };
	struct balloc a;
	unsigned char *buf;
	size_t len;
	int ret;

	if (size < 1)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if (!(data[0] & 4) && len >= 8) {
		uint64_t h = XXH3_64bits(buf, len - 8);

		memcpy(buf + len - 8, &h, 8);	/* little-endian hosts */
	}
	if ((data[0] & 3) % 2 && len >= 24) {
		uint64_t nblocks;

		memcpy(&nblocks, buf + 16, 8);
		if (nblocks > (UINT64_C(1) << 30) && buf[10] == 2) {
			free(buf);
			return 0;
		}
	}
	ret = balloc_load(&a, kinds[data[0] & 3], buf, len, &err);
	if (ret == 0) {
		check_loaded(&a);
		balloc_release(&a);
	} else {
		if (ret != -EUCLEAN && ret != -ENOMEM)
			abort();
		if (!err.msg[0] || memcmp(&a, zero, sizeof(a)))
			abort();
	}
	free(buf);
	return 0;
}
