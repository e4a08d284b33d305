/*
 * test_corrupt.c - damaged directories: every kind of broken linear
 * record and header, broken kv records, and a fuzzer that feeds the
 * linear strategy random and mutated streams. Damage must come back as
 * -EUCLEAN with a message naming the offset (or key), never as a crash,
 * a hang or a wrong answer.
 *
 * Fuzz volume: 300,000 streams by default (100,000 under sanitizers),
 * ten times that with MIXFS_LONG=1; MIXFS_SEED reproduces a run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirlib/linear.h"
#include "tb.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_DEFAULT	100000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_DEFAULT	100000
#endif
#endif
#ifndef FUZZ_DEFAULT
#define FUZZ_DEFAULT	300000
#endif

#define BS	512

/* A small valid directory in 512-byte blocks: 3 blocks, some holes. */
static void make_valid(struct tb_memstream *m)
{
	struct dir d;
	char name[64];

	tb_memstream_init(m, BS);
	assert_int_equal(dir_linear_create(&m->s, 0, NULL), 0);
	assert_int_equal(dir_linear_init(&d, &m->s, NULL), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "entry-%d%s", i,
			 i % 4 ? "" : "-with-a-longer-name");
		assert_int_equal(dir_insert(&d, name, strlen(name), 100 + i,
					    DT_REG, NULL), 0);
	}
	for (int i = 0; i < 30; i += 5) {
		snprintf(name, sizeof(name), "entry-%d%s", i,
			 i % 4 ? "" : "-with-a-longer-name");
		assert_int_equal(dir_remove(&d, name, strlen(name), NULL,
					    NULL), 0);
	}
	dir_release(&d);
	dir_stream_release(&m->s);
	assert_true(m->size >= 3 * BS);
}

/* Offset of the @n-th live record (stream order). */
static uint64_t live_record(struct tb_memstream *m, int n)
{
	for (uint64_t b = 0; b < m->size; b += BS) {
		uint32_t pos = b ? 0 : LIN_HDR_LEN;

		while (pos < BS) {
			unsigned char *p = m->buf + b + pos;

			if (dir_get_le64(p) && n-- == 0)
				return b + pos;
			pos += dir_get_le16(p + 16);
		}
	}
	fail_msg("no live record %d", n);
	return 0;
}

/* Set up a handle and make it read every record; expect -EUCLEAN with
 * @word and the offset @off (if non-zero) in the message. */
static void expect_corrupt(struct tb_memstream *m, const char *word,
			   uint64_t off)
{
	struct mixfs_err err = { 0 };
	struct dir d;
	uint64_t n;
	char where[40];
	int ret;

	dir_stream_release(&m->s);
	ret = dir_linear_init(&d, &m->s, &err);
	if (!ret)
		ret = dir_count(&d, &n, &err);
	if (ret != -EUCLEAN)
		fail_msg("expected -EUCLEAN (%s), got %d (%s)", word, ret,
			 err.msg);
	if (!strstr(err.msg, word))
		fail_msg("message \"%s\" does not say \"%s\"", err.msg, word);
	snprintf(where, sizeof(where), "offset %llu", (unsigned long long)off);
	if (off && !strstr(err.msg, where))
		fail_msg("message \"%s\" does not name %s", err.msg, where);
	assert_null(m->s.index);
	tb_memstream_release(m);
}

static void linear_record_length_zero_is_euclean(void **state)
{
	struct tb_memstream m;
	uint64_t off;

	(void)state;
	make_valid(&m);
	off = live_record(&m, 7);
	dir_put_le16(m.buf + off + 16, 0);
	expect_corrupt(&m, "zero", off);
	tb_memstream_release(&m);
}

static void linear_record_past_end_of_block_is_euclean(void **state)
{
	struct tb_memstream m;
	uint64_t off;

	(void)state;
	make_valid(&m);
	off = live_record(&m, 3);
	dir_put_le16(m.buf + off + 16, BS);
	expect_corrupt(&m, "past the end of its block", off);
	/* unaligned and too-short lengths */
	make_valid(&m);
	off = live_record(&m, 3);
	dir_put_le16(m.buf + off + 16, 42);
	expect_corrupt(&m, "bad record length", off);
	make_valid(&m);
	off = live_record(&m, 3);
	dir_put_le16(m.buf + off + 16, 12);
	expect_corrupt(&m, "bad record length", off);
	tb_memstream_release(&m);
}

static void linear_record_header_across_block_end_is_euclean(void **state)
{
	struct tb_memstream m;
	uint64_t base, last = 0;
	uint32_t pos = 0, len;

	(void)state;
	make_valid(&m);
	/* shorten the last record of the last block (the one with the
	 * slack) by 8, leaving 8 bytes that cannot hold a record header */
	base = m.size - BS;
	while (pos < BS) {
		last = base + pos;
		pos += dir_get_le16(m.buf + base + pos + 16);
	}
	len = dir_get_le16(m.buf + last + 16);
	assert_true(len - 8 >= lin_rec_size(m.buf[last + 18]));
	dir_put_le16(m.buf + last + 16, (uint16_t)(len - 8));
	expect_corrupt(&m, "header runs past", m.size - 8);
	tb_memstream_release(&m);
}

static void linear_name_length_past_record_is_euclean(void **state)
{
	struct tb_memstream m;
	uint64_t off;

	(void)state;
	make_valid(&m);
	off = live_record(&m, 5);
	m.buf[off + 18] = 250;
	expect_corrupt(&m, "name length", off);
	make_valid(&m);
	off = live_record(&m, 5);
	m.buf[off + 18] = 0;
	expect_corrupt(&m, "name length", off);
	tb_memstream_release(&m);
}

static void linear_bad_names_cookies_and_duplicates_are_euclean(void **state)
{
	struct tb_memstream m;
	uint64_t off, off2;

	(void)state;
	make_valid(&m);
	off = live_record(&m, 2);
	m.buf[off + LIN_REC_HDR] = '/';
	expect_corrupt(&m, "invalid name", off);

	make_valid(&m);
	off = live_record(&m, 2);
	dir_put_le64(m.buf + off + 8, 1);
	expect_corrupt(&m, "cookie 1 out of range", off);

	make_valid(&m);
	off = live_record(&m, 2);
	dir_put_le64(m.buf + off + 8, 1000000);
	expect_corrupt(&m, "header's next cookie", off);

	make_valid(&m);
	off = live_record(&m, 2);
	off2 = live_record(&m, 9);
	dir_put_le64(m.buf + off2 + 8, dir_get_le64(m.buf + off + 8));
	expect_corrupt(&m, "share cookie", 0);

	/* two records with one name: entry-2's name over entry-3's */
	make_valid(&m);
	off = live_record(&m, 1);	/* "entry-2" and "entry-3": same size */
	off2 = live_record(&m, 2);
	memcpy(m.buf + off2 + LIN_REC_HDR, m.buf + off + LIN_REC_HDR,
	       m.buf[off + 18]);
	expect_corrupt(&m, "already at offset", off2);
	tb_memstream_release(&m);
}

static void linear_bad_header_or_size_is_euclean(void **state)
{
	struct tb_memstream m;

	(void)state;
	make_valid(&m);
	m.buf[0] = 'X';
	expect_corrupt(&m, "magic", 0);
	make_valid(&m);
	m.buf[4] = 9;
	expect_corrupt(&m, "version", 0);
	make_valid(&m);
	dir_put_le32(m.buf + 12, 1000);
	expect_corrupt(&m, "block size", 0);
	make_valid(&m);
	dir_put_le32(m.buf + 8, 0x80);
	expect_corrupt(&m, "options", 0);
	make_valid(&m);
	dir_put_le64(m.buf + LIN_HDR_NEXT_COOKIE, 0);
	expect_corrupt(&m, "next cookie", 0);
	make_valid(&m);
	m.size -= 100;
	expect_corrupt(&m, "whole number", 0);
	make_valid(&m);
	m.size = 10;
	expect_corrupt(&m, "magic", 0);
	make_valid(&m);
	m.s.block_size = 1024;
	expect_corrupt(&m, "block size", 0);
	tb_memstream_release(&m);
}

static void linear_stream_changed_behind_the_index_is_detected(void **state)
{
	struct tb_memstream m;
	struct mixfs_err err = { 0 };
	struct dir_entry e;
	struct dir d;
	uint64_t off, n;

	(void)state;
	make_valid(&m);
	assert_int_equal(dir_linear_init(&d, &m.s, NULL), 0);
	assert_int_equal(dir_lookup(&d, "entry-1", 7, &e, NULL), 0);
	off = live_record(&m, 0);	/* entry-1 */
	dir_put_le64(m.buf + off, 0);	/* freed behind the library's back */
	assert_int_equal(dir_lookup(&d, "entry-1", 7, &e, &err), -EUCLEAN);
	assert_non_null(strstr(err.msg, "index"));
	assert_null(m.s.index);
	/* the next call rebuilds from the stream and sees the truth */
	assert_int_equal(dir_lookup(&d, "entry-1", 7, &e, NULL), -ENOENT);
	assert_int_equal(dir_count(&d, &n, NULL), 0);
	assert_int_equal(n, 23);
	dir_release(&d);
	tb_memstream_release(&m);
}

/* --- kv damage ------------------------------------------------------------- */

static int no_entry(void *arg, const struct dir_entry *e)
{
	(void)arg; (void)e;
	return 0;
}

static void kv_malformed_records_are_euclean(void **state)
{
	struct tb *t = tb_open(TB_KV_MEM);
	struct mixfs_err err = { 0 };
	struct dir_entry e;
	struct dir d, again;
	unsigned char key[300];

	(void)state;
	assert_int_equal(tb_create(t, 0, 0, &d, NULL), 0);
	assert_int_equal(dir_insert(&d, "ok", 2, 5, DT_REG, NULL), 0);
	/* name record of "ok" cut short */
	key[0] = d.kv->prefix;
	dir_put_be64(key + 1, d.ino);
	key[9] = 'N';
	memcpy(key + 10, "ok", 2);
	assert_int_equal(d.kv->ops->put(d.kv, key, 12, "short", 5), 0);
	assert_int_equal(dir_lookup(&d, "ok", 2, &e, &err), -EUCLEAN);
	assert_non_null(strstr(err.msg, "\"ok\""));
	mixfs_err_clear(&err);
	/* a cookie record with an empty name */
	key[9] = 'C';
	dir_put_be64(key + 10, 77);
	assert_int_equal(d.kv->ops->put(d.kv, key, 18, "123456789", 9), 0);
	assert_int_equal(dir_iterate(&d, 0, no_entry, NULL, &err), -EUCLEAN);
	assert_non_null(strstr(err.msg, "cookie record"));
	mixfs_err_clear(&err);
	/* header of the wrong size */
	key[9] = 'H';
	assert_int_equal(d.kv->ops->put(d.kv, key, 10, "tiny", 4), 0);
	assert_int_equal(tb_init(t, 0, &again, &err), -EUCLEAN);
	assert_non_null(strstr(err.msg, "header"));
	dir_release(&d);
	tb_close(t);
}

/* --- Fuzzing ------------------------------------------------------------------ */

static int fuzz_entry(void *arg, const struct dir_entry *e)
{
	uint64_t *n = arg;

	if (e->namelen == 0 || e->namelen > DIR_NAME_MAX ||
	    strlen(e->name) != e->namelen || e->cookie < DIR_COOKIE_FIRST)
		fail_msg("iterate gave a malformed entry (len %u)", e->namelen);
	++*n;
	return 0;
}

static int count_rec(void *arg, const struct lin_rec *r)
{
	(void)r;
	++*(long *)arg;
	return 0;
}

static bool acceptable(int ret)
{
	return ret == 0 || ret == -EUCLEAN || ret == -ENOENT ||
	       ret == -EEXIST;
}

/* Run every call on whatever the stream holds; on a stream the library
 * accepts, the answers must agree with each other. */
static void exercise(struct tb_memstream *m, uint64_t seed, long iter)
{
	struct dir d;
	uint64_t count, listed = 0, after;
	int ret;

	dir_stream_release(&m->s);
	ret = dir_linear_init(&d, &m->s, NULL);
	if (ret) {
		if (ret != -EUCLEAN)
			fail_msg("seed %llu iteration %ld: init %d",
				 (unsigned long long)seed, iter, ret);
		return;
	}
	ret = dir_count(&d, &count, NULL);
	if (ret) {
		if (ret != -EUCLEAN)
			fail_msg("seed %llu iteration %ld: count %d",
				 (unsigned long long)seed, iter, ret);
		return;
	}
	ret = dir_iterate(&d, 0, fuzz_entry, &listed, NULL);
	if (ret || listed != count)
		fail_msg("seed %llu iteration %ld: accepted stream lists %llu "
			 "of %llu entries (%d)", (unsigned long long)seed, iter,
			 (unsigned long long)listed,
			 (unsigned long long)count, ret);
	ret = dir_insert(&d, "fuzz-new", 8, 9, DT_REG, NULL);
	if (!acceptable(ret) && ret != -ENOSPC)
		fail_msg("seed %llu iteration %ld: insert %d",
			 (unsigned long long)seed, iter, ret);
	after = count + (ret == 0);
	ret = dir_remove(&d, "entry-7", 7, NULL, NULL);
	if (!acceptable(ret))
		fail_msg("seed %llu iteration %ld: remove %d",
			 (unsigned long long)seed, iter, ret);
	after -= ret == 0;
	/* what the library wrote must read back the same, cold */
	dir_stream_release(&m->s);
	ret = dir_count(&d, &count, NULL);
	if (ret || count != after)
		fail_msg("seed %llu iteration %ld: after insert/remove the "
			 "stream reads back %d/%llu entries, expected %llu",
			 (unsigned long long)seed, iter, ret,
			 (unsigned long long)count, (unsigned long long)after);
	dir_release(&d);
}

static void fuzz_linear_streams_never_crash_or_disagree(void **state)
{
	struct tb_memstream valid, m;
	uint64_t seed = tb_seed("fuzz"), rng = seed;
	long iters = FUZZ_DEFAULT * (tb_long() ? 10 : 1);
	unsigned char *buf = malloc(8 * BS);

	(void)state;
	make_valid(&valid);
	tb_memstream_init(&m, 0);
	for (long it = 0; it < iters; it++) {
		uint64_t r = tb_rand(&rng);
		size_t size = valid.size;

		memcpy(buf, valid.buf, size);
		switch (r % 4) {
		case 0:		/* flip a few bytes anywhere */
			for (int k = 0; k < 1 + (int)(r >> 8) % 4; k++)
				buf[tb_rand(&rng) % size] ^=
					(unsigned char)(1 + tb_rand(&rng) % 255);
			break;
		case 1:		/* a random length or name length */
		{
			size_t at = tb_rand(&rng) % (size - 1);

			if (r & 0x100)
				dir_put_le16(buf + at,
					     (uint16_t)tb_rand(&rng));
			else
				buf[at] = (unsigned char)tb_rand(&rng);
			break;
		}
		case 2:		/* random records after a valid header */
			for (size_t k = LIN_HDR_LEN; k < size; k++)
				buf[k] = (unsigned char)tb_rand(&rng);
			if (r & 0x100)	/* plausible record lengths */
				for (size_t k = LIN_HDR_LEN; k + 20 < size;
				     k += 4 * (1 + tb_rand(&rng) % 16))
					dir_put_le16(buf + k + 16,
						(uint16_t)(4 * (tb_rand(&rng) %
								130)));
			break;
		default:	/* a cut stream, or a free record's bytes */
			if (r & 0x100)
				size = tb_rand(&rng) % size;
			else
				memset(buf + tb_rand(&rng) % size, 0,
				       tb_rand(&rng) % 64);
			break;
		}
		tb_memstream_set(&m, buf, size);
		exercise(&m, seed, it);
	}
	/* and the parser alone, on pure noise */
	for (long it = 0; it < iters; it++) {
		struct mixfs_err err = { 0 };
		long recs = 0;

		for (int k = 0; k < BS; k += 8)
			dir_put_le64(buf + k, tb_rand(&rng));
		if (it & 1)	/* mostly-plausible lengths */
			dir_put_le16(buf + 16, (uint16_t)(4 * (it % 128) + 20));
		if (lin_parse_block(buf, BS, 0, 0, DIR_OPT_CASEFOLD, count_rec,
				    &recs, &err) == 0 && recs == 0)
			fail_msg("noise block %ld parsed with no records", it);
	}
	free(buf);
	tb_memstream_release(&m);
	tb_memstream_release(&valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linear_record_length_zero_is_euclean),
		cmocka_unit_test(linear_record_past_end_of_block_is_euclean),
		cmocka_unit_test(linear_record_header_across_block_end_is_euclean),
		cmocka_unit_test(linear_name_length_past_record_is_euclean),
		cmocka_unit_test(linear_bad_names_cookies_and_duplicates_are_euclean),
		cmocka_unit_test(linear_bad_header_or_size_is_euclean),
		cmocka_unit_test(linear_stream_changed_behind_the_index_is_detected),
		cmocka_unit_test(kv_malformed_records_are_euclean),
		cmocka_unit_test(fuzz_linear_streams_never_crash_or_disagree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
