/*
 * json_check.c - the strict JSON reader of json_check.h: a recursive
 * descent over RFC 8259's grammar, decoding strings as it goes.
 */
#include "json_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX	32
#define KEY_MAX		256

struct rd {
	const unsigned char *p, *end;
	json_member_fn fn;
	void *arg;
	char *buf;		/* decoded string */
	size_t len, cap;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
				 *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool put(struct rd *r, const void *b, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		size_t cap = (r->len + n + 1) * 2;
		char *p = realloc(r->buf, cap);

		if (!p)
			return false;
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, b, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return true;
}

static int hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static bool put_cp(struct rd *r, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return put(r, b, n);
}

/* Length of the valid UTF-8 sequence at @p (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A string at r->p (the opening quote), decoded into r->buf. */
static bool string(struct rd *r)
{
	r->len = 0;
	if (!put(r, "", 0) || r->p >= r->end || *r->p != '"')
		return false;
	r->p++;
	while (r->p < r->end) {
		unsigned char c = *r->p;
		size_t n;

		if (c == '"') {
			r->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			n = utf8_len(r->p, r->end);
			if (!n || !put(r, r->p, n))
				return false;
			r->p += n;
			continue;
		}
		if (r->end - r->p < 2)
			return false;
		c = r->p[1];
		r->p += 2;
		switch (c) {
		case '"': case '\\': case '/':
			if (!put(r, &c, 1))
				return false;
			break;
		case 'b': if (!put(r, "\b", 1)) return false; break;
		case 'f': if (!put(r, "\f", 1)) return false; break;
		case 'n': if (!put(r, "\n", 1)) return false; break;
		case 'r': if (!put(r, "\r", 1)) return false; break;
		case 't': if (!put(r, "\t", 1)) return false; break;
		case 'u': {
			int hi, lo;

			if (r->end - r->p < 4 || (hi = hex4(r->p)) < 0)
				return false;
			r->p += 4;
			if (hi >= 0xdc00 && hi <= 0xdfff)
				return false;	/* a low half alone */
			if (hi >= 0xd800 && hi <= 0xdbff) {
				if (r->end - r->p < 6 || r->p[0] != '\\' ||
				    r->p[1] != 'u' ||
				    (lo = hex4(r->p + 2)) < 0xdc00 ||
				    lo > 0xdfff)
					return false;
				r->p += 6;
				if (!put_cp(r, 0x10000 + ((uint32_t)(hi - 0xd800) << 10) +
						   (uint32_t)(lo - 0xdc00)))
					return false;
			} else if (!put_cp(r, (uint32_t)hi)) {
				return false;
			}
			break;
		}
		default:
			return false;
		}
	}
	return false;
}

static bool digits(struct rd *r)
{
	const unsigned char *s = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > s;
}

static bool number(struct rd *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (!digits(r))
		return false;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (!digits(r))
			return false;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!digits(r))
			return false;
	}
	return true;
}

static bool word(struct rd *r, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n))
		return false;
	r->p += n;
	return true;
}

static bool value(struct rd *r, const char *parent, const char *key,
		  int depth);

static bool object(struct rd *r, const char *self, int depth)
{
	char key[KEY_MAX];

	r->p++;		/* '{' */
	ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return true;
	}
	for (;;) {
		ws(r);
		if (!string(r))
			return false;
		if (r->len >= sizeof(key) || memchr(r->buf, '\0', r->len))
			return false;	/* our keys are short names */
		memcpy(key, r->buf, r->len + 1);
		ws(r);
		if (r->p >= r->end || *r->p != ':')
			return false;
		r->p++;
		ws(r);
		if (!value(r, self, key, depth + 1))
			return false;
		ws(r);
		if (r->p >= r->end)
			return false;
		if (*r->p == '}') {
			r->p++;
			return true;
		}
		if (*r->p != ',')
			return false;
		r->p++;
	}
}

static bool array(struct rd *r, const char *self, int depth)
{
	r->p++;		/* '[' */
	ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return true;
	}
	for (;;) {
		ws(r);
		if (!value(r, self, "", depth + 1))
			return false;
		ws(r);
		if (r->p >= r->end)
			return false;
		if (*r->p == ']') {
			r->p++;
			return true;
		}
		if (*r->p != ',')
			return false;
		r->p++;
	}
}

static bool value(struct rd *r, const char *parent, const char *key,
		  int depth)
{
	if (depth > DEPTH_MAX || r->p >= r->end)
		return false;
	switch (*r->p) {
	case '{':
		return object(r, key, depth);
	case '[':
		return array(r, key, depth);
	case '"':
		if (!string(r))
			return false;
		if (r->fn)
			r->fn(r->arg, parent, key, r->buf, r->len);
		return true;
	case 't':
		return word(r, "true");
	case 'f':
		return word(r, "false");
	case 'n':
		return word(r, "null");
	default:
		return number(r);
	}
}

bool json_check_object(const char *s, size_t n, json_member_fn fn, void *arg)
{
	struct rd r = { (const unsigned char *)s, (const unsigned char *)s + n,
			fn, arg, NULL, 0, 0 };
	bool ok;

	ws(&r);
	ok = r.p < r.end && *r.p == '{' && value(&r, "", "", 0);
	ws(&r);
	ok = ok && r.p == r.end;
	free(r.buf);
	return ok;
}
