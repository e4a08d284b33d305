/*
 * json.c - the event as one JSON line: names of categories and types,
 * string escaping, and the layout of a line.
 *
 * Every line must parse with any RFC 8259 parser whatever bytes a detail
 * holds (file names are bytes), so escaping never writes a lone surrogate:
 * invalid UTF-8 becomes U+FFFD and the exact bytes go into "<key>_hex".
 * This file does not parse JSON; consumers do.
 */
#include "events/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const category_names[EVT_CAT_COUNT] = {
	[EVT_CAT_INFO] = "info",
	[EVT_CAT_WARNING] = "warning",
	[EVT_CAT_ERROR] = "error",
	[EVT_CAT_THRESHOLD] = "threshold",
};

static const struct {
	const char *name;
	enum evt_category cat;
} types[EVT_TYPE_COUNT] = {
	[EVT_MOUNTED] = { "mounted", EVT_CAT_INFO },
	[EVT_UNMOUNTED] = { "unmounted", EVT_CAT_INFO },
	[EVT_SPACE_LOW] = { "space_low", EVT_CAT_THRESHOLD },
	[EVT_SPACE_OK] = { "space_ok", EVT_CAT_THRESHOLD },
	[EVT_INODES_LOW] = { "inodes_low", EVT_CAT_THRESHOLD },
	[EVT_INODES_OK] = { "inodes_ok", EVT_CAT_THRESHOLD },
	[EVT_STORE_UNAVAILABLE] = { "store_unavailable", EVT_CAT_WARNING },
	[EVT_STORE_AVAILABLE] = { "store_available", EVT_CAT_INFO },
	[EVT_IO_ERROR] = { "io_error", EVT_CAT_ERROR },
	[EVT_CHECKSUM_ERROR] = { "checksum_error", EVT_CAT_ERROR },
	[EVT_CHECKSUM_CORRECTED] = { "checksum_corrected", EVT_CAT_WARNING },
	[EVT_REMOUNTED_RO] = { "remounted_ro", EVT_CAT_ERROR },
	[EVT_FSCK_NEEDED] = { "fsck_needed", EVT_CAT_ERROR },
	[EVT_EVENTS_LOST] = { "events_lost", EVT_CAT_WARNING },
	[EVT_CACHE_DEGRADED] = { "cache_degraded", EVT_CAT_WARNING },
	[EVT_CACHE_OK] = { "cache_ok", EVT_CAT_INFO },
};

const char *evt_category_name(enum evt_category c)
{
	if ((unsigned)c >= EVT_CAT_COUNT)
		return NULL;
	return category_names[c];
}

const char *evt_type_name(enum evt_type t)
{
	if ((unsigned)t >= EVT_TYPE_COUNT)
		return NULL;
	return types[t].name;
}

enum evt_category evt_type_category(enum evt_type t)
{
	if ((unsigned)t >= EVT_TYPE_COUNT)
		return EVT_CAT_ERROR;
	return types[t].cat;
}

int evt_category_parse(const char *name, enum evt_category *out)
{
	for (unsigned i = 0; i < EVT_CAT_COUNT; i++) {
		if (strcmp(name, category_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

int evt_type_parse(const char *name, enum evt_type *out)
{
	for (unsigned i = 0; i < EVT_TYPE_COUNT; i++) {
		if (strcmp(name, types[i].name) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 if the
 * bytes there are not one: overlong forms, surrogates and code points past
 * U+10FFFF are invalid, as RFC 3629 says.
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], need, cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (unsigned i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* A small append-only writer over a fixed buffer that remembers overflow. */
struct out {
	char *p;
	size_t len, size;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->len + n > o->size) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/*
 * Write the escaped form of @s (@n bytes) as a JSON string body, using at
 * most @budget bytes of output; returns the number of input bytes written
 * (less than @n when the budget ran out, always at a character boundary).
 */
static size_t escape(struct out *o, const char *s, size_t n, size_t budget)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, used = 0;
	char tmp[8];

	while (i < n) {
		const char *e = tmp;
		size_t elen, k = 1;
		unsigned c = p[i];

		switch (c) {
		case '"': e = "\\\""; elen = 2; break;
		case '\\': e = "\\\\"; elen = 2; break;
		case '\n': e = "\\n"; elen = 2; break;
		case '\t': e = "\\t"; elen = 2; break;
		case '\r': e = "\\r"; elen = 2; break;
		case '\b': e = "\\b"; elen = 2; break;
		case '\f': e = "\\f"; elen = 2; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				elen = (size_t)snprintf(tmp, sizeof(tmp),
							"\\u%04x", c);
			} else if (c < 0x80) {
				e = (const char *)p + i;
				elen = 1;
			} else {
				k = utf8_seq(p + i, n - i);
				if (k) {
					e = (const char *)p + i;
					elen = k;
				} else {
					e = "\\ufffd";
					elen = 6;
					k = 1;
				}
			}
		}
		if (used + elen > budget)
			break;
		put(o, e, elen);
		used += elen;
		i += k;
	}
	return i;
}

static void put_hex(struct out *o, const char *s, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char pair[2];

	for (size_t i = 0; i < n; i++) {
		pair[0] = digits[(unsigned char)s[i] >> 4];
		pair[1] = digits[(unsigned char)s[i] & 15];
		put(o, pair, 2);
	}
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > EVT_KEY_MAX || k[0] < 'a' || k[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	if (n >= 4 && strcmp(k + n - 4, "_hex") == 0)
		return false;
	return strcmp(k, "truncated") != 0 && strcmp(k, "dropped") != 0;
}

int evt_kv_check(const struct evt_kv *kv, size_t nkv, struct mixfs_err *err)
{
	if (nkv > EVT_DETAILS_MAX)
		return mixfs_err_set(err, -EINVAL,
				     "%zu details given, at most %d allowed",
				     nkv, EVT_DETAILS_MAX);
	for (size_t i = 0; i < nkv; i++) {
		if (!kv[i].key || !key_ok(kv[i].key))
			return mixfs_err_set(err, -EINVAL,
				"detail key '%.40s' is not [a-z][a-z0-9_]* of at most %d bytes (or is reserved: *_hex, truncated, dropped)",
				kv[i].key ? kv[i].key : "(null)", EVT_KEY_MAX);
		if (!kv[i].val)
			return mixfs_err_set(err, -EINVAL,
					     "detail '%s' has no value",
					     kv[i].key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv[i].key, kv[j].key) == 0)
				return mixfs_err_set(err, -EINVAL,
					"detail key '%s' given twice",
					kv[i].key);
	}
	return 0;
}

/*
 * The part of a line after the seq and time:
 *   "uuid":"...","mount":"...","category":"...","type":"...","details":{...}}\n
 * Values are cut so the whole line fits EVT_LINE_MAX with room for the
 * head; returns the length, or 0 if even the skeleton does not fit @size.
 */
size_t evt_json_body(char *buf, size_t size, const char *uuid,
		     const char *mount, enum evt_type type,
		     const struct evt_kv *kv, size_t nkv, uint64_t dropped)
{
	struct out o = { .p = buf, .size = size };
	char cut[EVT_DETAILS_MAX * (EVT_KEY_MAX + 1) + 1] = "";
	char num[24];
	bool first = true;

	puts_(&o, "\"uuid\":\"");
	puts_(&o, uuid);
	puts_(&o, "\",\"mount\":\"");
	escape(&o, mount, strlen(mount), 1024);
	puts_(&o, "\",\"category\":\"");
	puts_(&o, category_names[types[type].cat]);
	puts_(&o, "\",\"type\":\"");
	puts_(&o, types[type].name);
	puts_(&o, "\",\"details\":{");
	for (size_t i = 0; i < nkv; i++) {
		size_t len = kv[i].len == (size_t)-1 ? strlen(kv[i].val)
						      : kv[i].len;
		size_t n = len < EVT_VALUE_MAX ? len : EVT_VALUE_MAX;
		/* Share what is left fairly among this and the later details,
		 * keeping 600 bytes for keys, hex siblings' keys and the tail. */
		size_t room = o.len + 600 < size
			      ? (size - o.len - 600) / (nkv - i) : 0;
		size_t done;
		bool valid = utf8_valid(kv[i].val, n);

		if (!first)
			put(&o, ",", 1);
		first = false;
		put(&o, "\"", 1);
		puts_(&o, kv[i].key);
		put(&o, "\":\"", 3);
		if (!valid && n > room / 10)
			n = room / 10;	/* \ufffd plus two hex digits */
		done = escape(&o, kv[i].val, n, valid ? room : room / 10 * 6);
		put(&o, "\"", 1);
		if (!valid) {
			put(&o, ",\"", 2);
			puts_(&o, kv[i].key);
			put(&o, "_hex\":\"", 7);
			put_hex(&o, kv[i].val, done);
			put(&o, "\"", 1);
		}
		if (done < len) {
			if (cut[0])
				strcat(cut, ",");
			strcat(cut, kv[i].key);
		}
	}
	if (cut[0]) {
		if (!first)
			put(&o, ",", 1);
		first = false;
		puts_(&o, "\"truncated\":\"");
		puts_(&o, cut);
		put(&o, "\"", 1);
	}
	if (dropped) {
		if (!first)
			put(&o, ",", 1);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)dropped);
		puts_(&o, "\"dropped\":\"");
		puts_(&o, num);
		put(&o, "\"", 1);
	}
	put(&o, "}}\n", 3);
	return o.full ? 0 : o.len;
}

/* {"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ", */
size_t evt_json_head(char *buf, size_t size, uint64_t seq,
		     const struct timespec *t)
{
	struct tm tm;
	int n;

	gmtime_r(&t->tv_sec, &tm);
	n = snprintf(buf, size,
		     "{\"seq\":%llu,\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\",",
		     (unsigned long long)seq, tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (long)t->tv_nsec);
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}
