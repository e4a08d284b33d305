/*
 * test_json.c - every emitted line parses with a real JSON parser (Python's
 * json module, run by check_json.py), whatever bytes the details hold, and
 * the exact bytes of every detail can be recovered from the line.
 */
#include "helpers.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#ifndef CHECK_JSON
#error "CHECK_JSON must name check_json.py"
#endif

struct sent {
	uint64_t seq;
	char key[EVT_KEY_MAX + 1];
	unsigned char *val;
	size_t len;
};

static struct sent *sent;
static size_t nsent, capsent;

static void remember(uint64_t seq, const struct evt_kv *kv)
{
	if (nsent == capsent) {
		capsent = capsent ? capsent * 2 : 256;
		sent = realloc(sent, capsent * sizeof(*sent));
		assert_non_null(sent);
	}
	sent[nsent].seq = seq;
	strcpy(sent[nsent].key, kv->key);
	sent[nsent].len = kv->len;
	sent[nsent].val = malloc(kv->len + 1);
	memcpy(sent[nsent].val, kv->val, kv->len);
	nsent++;
}

static void emit_kv(struct evt *ev, enum evt_type t, struct evt_kv *kv,
		    size_t n)
{
	uint64_t seq;

	assert_int_equal(evt_emitv(ev, t, kv, n, &seq), 0);
	for (size_t i = 0; i < n; i++)
		remember(seq, &kv[i]);
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/*
 * Run the parser over every line @r returns and compare each detail's
 * bytes with what was sent: equal, or a prefix when marked truncated.
 */
static void forget_sent(void)
{
	for (size_t i = 0; i < nsent; i++)
		free(sent[i].val);
	free(sent);
	sent = NULL;
	nsent = capsent = 0;
}

static void parse_and_compare(struct evt_reader *r)
{
	char path[] = "/tmp/mixfs-evt-json-XXXXXX", cmd[512];
	char *all = read_all(r, 65536), *line = NULL;
	size_t checked = 0, cap = 0;
	int fd = mkstemp(path);
	ssize_t len;
	FILE *p;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, all, strlen(all)), (ssize_t)strlen(all));
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", CHECK_JSON, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((len = getline(&line, &cap, p)) > 0) {
		unsigned long long seq;
		char key[64], hex[2 * EVT_LINE_MAX + 2];
		unsigned char bytes[EVT_LINE_MAX];
		int cut;
		size_t n = 0;
		struct sent *s = NULL;

		assert_int_equal(sscanf(line, "%llu %63s %32769s %d", &seq, key,
					hex, &cut), 4);
		if (strcmp(hex, "-") != 0)
			for (; hex[2 * n]; n++)
				bytes[n] = (unsigned char)(hexval(hex[2 * n]) * 16 +
							   hexval(hex[2 * n + 1]));
		for (size_t i = 0; i < nsent; i++)
			if (sent[i].seq == seq && strcmp(sent[i].key, key) == 0)
				s = &sent[i];
		if (!s)
			fail_msg("line %llu has detail %s that was never sent",
				 seq, key);
		if (cut ? n > s->len || n < 64 : n != s->len)
			fail_msg("event %llu detail %s: %zu bytes came back of %zu sent (truncated=%d)",
				 seq, key, n, s->len, cut);
		if (memcmp(bytes, s->val, n) != 0)
			fail_msg("event %llu detail %s: bytes differ from those sent",
				 seq, key);
		checked++;
	}
	free(line);
	if (pclose(p) != 0)
		fail_msg("check_json.py rejected the lines (kept in %s)", path);
	if (checked != nsent)
		fail_msg("%zu details parsed back of %zu sent", checked, nsent);
	unlink(path);
	free(all);
	forget_sent();
}

#define KV(k, v) { k, v, sizeof(v) - 1 }

static void hostile_file_names_escape_to_parsable_lines(void **state)
{
	struct evt *ev = open_evt(4096, 0, NULL);
	struct evt_reader *r;
	struct evt_kv kv[][2] = {
		{ KV("path", "quote\"back\\slash"), KV("op", "write") },
		{ KV("path", "new\nline\ttab\rcr\bbs\fff"), KV("op", "x") },
		{ KV("path", "ctl\x01\x1f del\x7f"), KV("op", "x") },
		{ KV("path", "latin1 caf\xe9 bad"), KV("op", "x") },
		{ KV("path", "overlong \xc0\xaf and \xe0\x80\xaf"), KV("op", "x") },
		{ KV("path", "surrogate \xed\xa0\x80 in utf-8"), KV("op", "x") },
		{ KV("path", "past max \xf4\x90\x80\x80"), KV("op", "x") },
		{ KV("path", "cut at end \xe2\x82"), KV("op", "x") },
		{ KV("path", "valid \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd"),
		  KV("op", "x") },
		{ KV("path", "mixed \xef\xbf\xbd then \xff"), KV("op", "x") },
		{ KV("path", "\xff"), KV("op", "") },
		{ KV("path", "</script>\u2028\xe2\x80\xa8"), KV("op", "x") },
	};

	(void)state;
	assert_int_equal(evt_set_mount(ev, "/mnt/we\"ird\n\xff"), 0);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		emit_kv(ev, EVT_IO_ERROR, kv[i], 2);
	parse_and_compare(r);
	evt_reader_close(r);
	evt_close(ev);
}

static void overlong_values_are_cut_and_marked_truncated(void **state)
{
	struct evt *ev = open_evt(256, 0, NULL);
	static char big[EVT_VALUE_MAX * 3], bad[EVT_VALUE_MAX * 3];
	struct evt_kv kv[EVT_DETAILS_MAX];
	static const char *keys[EVT_DETAILS_MAX] = {
		"a", "b", "c", "d", "e", "f", "g", "h",
		"i", "j", "k", "l", "m", "n", "o", "p",
	};
	struct evt_reader *r;
	char *all, buf[256];

	(void)state;
	memset(big, '"', sizeof(big));	/* escapes to twice the size */
	memset(bad, 0xff, sizeof(bad));	/* invalid: \ufffd plus hex */
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (int i = 0; i < EVT_DETAILS_MAX; i++)
		kv[i] = (struct evt_kv){ keys[i], i % 2 ? bad : big, sizeof(big) };
	assert_int_equal(evt_emitv(ev, EVT_IO_ERROR, kv, EVT_DETAILS_MAX, NULL), 0);
	all = read_all(r, 65536);
	assert_true(strlen(all) <= EVT_LINE_MAX);
	assert_non_null(line_field(all, "truncated", buf, sizeof(buf)));
	assert_string_equal(buf, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p");
	free(all);
	evt_reader_close(r);

	/* The cut values still parse and are prefixes of what was sent. */
	assert_int_equal(evt_reader_open(ev, EVT_FROM_NOW, NULL, NULL, &r, NULL), 0);
	emit_kv(ev, EVT_IO_ERROR, kv, EVT_DETAILS_MAX);
	kv[0].len = EVT_VALUE_MAX + 1;
	emit_kv(ev, EVT_IO_ERROR, kv, 1);
	parse_and_compare(r);
	evt_reader_close(r);
	evt_close(ev);
}

static void random_bytes_in_every_detail_parse_back_exactly(void **state)
{
	unsigned seed = getenv("MIXFS_SEED") ? (unsigned)atoi(getenv("MIXFS_SEED"))
					     : (unsigned)time(NULL);
	int events = getenv("MIXFS_LONG") && atoi(getenv("MIXFS_LONG")) ? 20000 : 2000;
	struct evt *ev = open_evt((size_t)events, 0, NULL);
	static char vals[4][300];
	struct evt_kv kv[4];
	struct evt_reader *r;

	(void)state;
	print_message("# seed %u (set MIXFS_SEED to repeat)\n", seed);
	srandom(seed);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (int e = 0; e < events; e++) {
		static const char *keys[4] = { "path", "name", "op", "why" };

		for (int i = 0; i < 4; i++) {
			size_t len = (size_t)random() % sizeof(vals[i]);

			for (size_t j = 0; j < len; j++) {
				long x = random();
				/* Mostly ASCII, some UTF-8 lead bytes, some anything. */
				vals[i][j] = x % 4 == 0 ? (char)(x >> 8)
					   : x % 4 == 1 ? (char)(0xc0 + (x >> 8) % 0x35)
					   : x % 4 == 2 ? (char)(0x80 + (x >> 8) % 0x40)
					   : (char)(0x20 + (x >> 8) % 0x5f);
			}
			kv[i] = (struct evt_kv){ keys[i], vals[i], len };
		}
		emit_kv(ev, EVT_IO_ERROR, kv, 4);
	}
	parse_and_compare(r);
	evt_reader_close(r);
	evt_close(ev);
}

static int reset(void **state)
{
	(void)state;
	forget_sent();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(hostile_file_names_escape_to_parsable_lines, reset),
		cmocka_unit_test_setup(overlong_values_are_cut_and_marked_truncated, reset),
		cmocka_unit_test_setup(random_bytes_in_every_detail_parse_back_exactly, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
