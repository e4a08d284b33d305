/*
 * threshold.c - threshold watches with hysteresis, and the mount options
 * and control commands that set them.
 *
 * A check is the hot path (the driver calls it after every change of
 * space): a few multiplications under a mutex held for nanoseconds, no
 * allocation, and an event only on a crossing. Parsing is strict and says
 * exactly which word was wrong, because a mistyped level silently never
 * firing is worse than a refused mount.
 *
 * Not here: the errors= policy and store availability (avail.c), and
 * deciding to remount or retry on the driver's behalf.
 */
#include "events/internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void evt_watches_init(struct evt *ev)
{
	pthread_mutex_init(&ev->wlock, NULL);
	ev->next_watch_id = 1;
}

/* --- Levels ------------------------------------------------------------- */

static int parse_u64(const char **p, uint64_t *out)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	while (isdigit((unsigned char)**p)) {
		unsigned d = (unsigned)(**p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		(*p)++;
	}
	*out = v;
	return 0;
}

int evt_level_parse(const char *text, struct evt_level *out,
		    struct mixfs_err *err)
{
	const char *p = text;
	uint64_t v, frac = 0;
	unsigned shift = 0;
	int rc;

	rc = parse_u64(&p, &v);
	if (rc)
		return mixfs_err_set(err, -EINVAL,
			"level '%.64s' must be a percentage such as 10%% or 12.5%%, or an amount such as 500M",
			text);
	if (*p == '.') {
		unsigned digits = 0;

		p++;
		while (isdigit((unsigned char)*p) && digits < 3) {
			frac = frac * 10 + (unsigned)(*p - '0');
			digits++;
			p++;
		}
		if (digits == 0 || digits > 2 || *p != '%')
			return mixfs_err_set(err, -EINVAL,
				"level '%.64s': a fraction is allowed only in a percentage, with at most two decimals",
				text);
		if (digits == 1)
			frac *= 10;
	}
	if (*p == '%') {
		if (p[1] != '\0')
			return mixfs_err_set(err, -EINVAL,
				"level '%.64s' has text after the '%%'", text);
		if (v > 100 || (v == 100 && frac))
			return mixfs_err_set(err, -EINVAL,
				"level '%.64s' is above 100%%", text);
		out->pct = true;
		out->val = v * 100 + frac;
		return 0;
	}
	switch (toupper((unsigned char)*p)) {
	case '\0': break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case 'P': shift = 50; break;
	default:
		return mixfs_err_set(err, -EINVAL,
			"level '%.64s': unknown unit '%c' (use %%, K, M, G, T or P)",
			text, *p);
	}
	if (*p) {
		p++;
		if (strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
			p += strlen(p);
		if (*p)
			return mixfs_err_set(err, -EINVAL,
				"level '%.64s' has text after the unit", text);
	}
	if (shift && v > (UINT64_MAX >> shift))
		return mixfs_err_set(err, -EINVAL, "level '%.64s' is too large",
				     text);
	out->pct = false;
	out->val = v << shift;
	return 0;
}

void evt_level_format(const struct evt_level *l, char *buf, size_t size)
{
	static const char units[] = "KMGTP";
	uint64_t v = l->val;
	int u = -1;

	if (l->pct) {
		if (l->val % 100 == 0)
			snprintf(buf, size, "%" PRIu64 "%%", l->val / 100);
		else if (l->val % 10 == 0)
			snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%%",
				 l->val / 100, l->val % 100 / 10);
		else
			snprintf(buf, size, "%" PRIu64 ".%02" PRIu64 "%%",
				 l->val / 100, l->val % 100);
		return;
	}
	while (v && v % 1024 == 0 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%" PRIu64, v);
	else
		snprintf(buf, size, "%" PRIu64 "%c", v, units[u]);
}

static const char *const metric_names[EVT_METRIC_COUNT] = {
	[EVT_METRIC_SPACE] = "space",
	[EVT_METRIC_INODES] = "inodes",
};

int evt_watch_check(const struct evt_watch *w, struct mixfs_err *err)
{
	char lo[32], ok[32];

	if ((unsigned)w->metric >= EVT_METRIC_COUNT)
		return mixfs_err_set(err, -EINVAL, "unknown metric %d",
				     (int)w->metric);
	evt_level_format(&w->low, lo, sizeof(lo));
	evt_level_format(&w->ok, ok, sizeof(ok));
	if (w->low.val == 0)
		return mixfs_err_set(err, -EINVAL,
			"%s low level %s never fires: it must be above 0",
			metric_names[w->metric], lo);
	if (w->low.pct != w->ok.pct)
		return mixfs_err_set(err, -EINVAL,
			"%s levels %s and %s mix a percentage and an amount; give both the same way",
			metric_names[w->metric], lo, ok);
	if (w->ok.val <= w->low.val)
		return mixfs_err_set(err, -EINVAL,
			"%s ok level %s must be above the low level %s",
			metric_names[w->metric], ok, lo);
	if (w->ok.pct && w->ok.val > 10000)
		return mixfs_err_set(err, -EINVAL,
			"%s ok level %s is above 100%%",
			metric_names[w->metric], ok);
	return 0;
}

/* --- Watches ------------------------------------------------------------ */

int evt_watch_add(struct evt *ev, enum evt_metric m,
		  const struct evt_level *low, const struct evt_level *ok,
		  unsigned *id, struct mixfs_err *err)
{
	struct evt_watch w = { .metric = m, .low = *low, .ok = *ok };
	int rc = evt_watch_check(&w, err);

	if (rc)
		return rc;
	pthread_mutex_lock(&ev->wlock);
	if (ev->nwatch[m] == EVT_WATCH_MAX) {
		pthread_mutex_unlock(&ev->wlock);
		return mixfs_err_set(err, -ENOSPC,
				     "already %d %s watches, the most allowed",
				     EVT_WATCH_MAX, metric_names[m]);
	}
	w.id = ev->next_watch_id++;
	ev->watch[m][ev->nwatch[m]++] = w;
	pthread_mutex_unlock(&ev->wlock);
	if (id)
		*id = w.id;
	return 0;
}

int evt_watch_remove(struct evt *ev, unsigned id, struct mixfs_err *err)
{
	pthread_mutex_lock(&ev->wlock);
	for (int m = 0; m < EVT_METRIC_COUNT; m++) {
		for (size_t i = 0; i < ev->nwatch[m]; i++) {
			if (ev->watch[m][i].id != id)
				continue;
			memmove(&ev->watch[m][i], &ev->watch[m][i + 1],
				(ev->nwatch[m] - i - 1) * sizeof(struct evt_watch));
			ev->nwatch[m]--;
			pthread_mutex_unlock(&ev->wlock);
			return 0;
		}
	}
	pthread_mutex_unlock(&ev->wlock);
	return mixfs_err_set(err, -ENOENT, "no threshold watch %u", id);
}

size_t evt_watch_list(struct evt *ev, struct evt_watch *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&ev->wlock);
	for (int m = 0; m < EVT_METRIC_COUNT; m++)
		for (size_t i = 0; i < ev->nwatch[m] && n < max; i++)
			out[n++] = ev->watch[m][i];
	pthread_mutex_unlock(&ev->wlock);
	return n;
}

/* free < level, as a share of total when the level is a percentage. */
static bool below(const struct evt_level *l, uint64_t free, uint64_t total)
{
	if (l->pct)
		return (unsigned __int128)free * 10000 <
		       (unsigned __int128)l->val * total;
	return free < l->val;
}

static bool above(const struct evt_level *l, uint64_t free, uint64_t total)
{
	if (l->pct)
		return (unsigned __int128)free * 10000 >
		       (unsigned __int128)l->val * total;
	return free > l->val;
}

static void emit_crossing(struct evt *ev, enum evt_metric m,
			  const struct evt_watch *w, bool low, uint64_t free,
			  uint64_t total)
{
	static const enum evt_type types[EVT_METRIC_COUNT][2] = {
		[EVT_METRIC_SPACE] = { EVT_SPACE_OK, EVT_SPACE_LOW },
		[EVT_METRIC_INODES] = { EVT_INODES_OK, EVT_INODES_LOW },
	};
	char id[16], lo[32], ok[32], f[24], t[24], pct[24];
	uint64_t hundredths = (uint64_t)((unsigned __int128)free * 10000 / total);

	snprintf(id, sizeof(id), "%u", w->id);
	evt_level_format(&w->low, lo, sizeof(lo));
	evt_level_format(&w->ok, ok, sizeof(ok));
	snprintf(f, sizeof(f), "%" PRIu64, free);
	snprintf(t, sizeof(t), "%" PRIu64, total);
	snprintf(pct, sizeof(pct), "%" PRIu64 ".%02" PRIu64,
		 hundredths / 100, hundredths % 100);
	evt_emit(ev, types[m][low], "watch", id, "low", lo, "ok", ok,
		 "free", f, "total", t, "free_pct", pct, NULL);
}

void evt_check(struct evt *ev, enum evt_metric m, uint64_t free,
	       uint64_t total)
{
	struct evt_watch fired[EVT_WATCH_MAX];
	bool low[EVT_WATCH_MAX];
	size_t n = 0;

	if (total == 0 || (unsigned)m >= EVT_METRIC_COUNT)
		return;
	pthread_mutex_lock(&ev->wlock);
	for (size_t i = 0; i < ev->nwatch[m]; i++) {
		struct evt_watch *w = &ev->watch[m][i];

		if (!w->fired && below(&w->low, free, total)) {
			w->fired = true;
			low[n] = true;
			fired[n++] = *w;
		} else if (w->fired && above(&w->ok, free, total)) {
			w->fired = false;
			low[n] = false;
			fired[n++] = *w;
		}
	}
	pthread_mutex_unlock(&ev->wlock);
	for (size_t i = 0; i < n; i++)
		emit_crossing(ev, m, &fired[i], low[i], free, total);
}

void evt_check_space(struct evt *ev, uint64_t free, uint64_t total)
{
	evt_check(ev, EVT_METRIC_SPACE, free, total);
}

void evt_check_inodes(struct evt *ev, uint64_t free, uint64_t total)
{
	evt_check(ev, EVT_METRIC_INODES, free, total);
}

/* --- Options ------------------------------------------------------------ */

static const char *const errors_names[] = {
	[EVT_ERRORS_CONTINUE] = "continue",
	[EVT_ERRORS_REMOUNT_RO] = "remount-ro",
	[EVT_ERRORS_UNMOUNT] = "unmount",
};

int evt_errors_parse(const char *text, enum evt_errors *out,
		     struct mixfs_err *err)
{
	for (unsigned i = 0; i < 3; i++) {
		if (text && strcmp(text, errors_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return mixfs_err_set(err, -EINVAL,
		"errors='%.64s' is not one of continue, remount-ro, unmount",
		text ? text : "");
}

const char *evt_errors_name(enum evt_errors e)
{
	return (unsigned)e < 3 ? errors_names[e] : "?";
}

/* ok level not given yet */
#define OK_UNSET	UINT64_MAX

void evt_opts_init(struct evt_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->errors = EVT_ERRORS_REMOUNT_RO;
	o->store_timeout_ms = EVT_STORE_TIMEOUT_DEFAULT * 1000;
	o->store_retry_ms = EVT_STORE_RETRY_DEFAULT * 1000;
}

/* Fill the default ok level of the watches that have none, and check. */
int evt_opts_finish(struct evt_opts *o, struct mixfs_err *err)
{
	for (size_t i = 0; i < o->nwatch; i++) {
		struct evt_watch *w = &o->watch[i];
		const char *name = metric_names[w->metric];

		if (w->ok.val == OK_UNSET) {
			w->ok.pct = w->low.pct;
			if (w->low.pct && w->low.val + 500 > 10000) {
				char lo[32];

				evt_level_format(&w->low, lo, sizeof(lo));
				return mixfs_err_set(err, -EINVAL,
					"%s_low=%s needs an explicit %s_ok (the default, 5 points above, passes 100%%)",
					name, lo, name);
			}
			w->ok.val = w->low.pct ? w->low.val + 500
					       : w->low.val + w->low.val / 4 + 1;
		}
		if (evt_watch_check(w, err))
			return mixfs_err_prefix(err, -EINVAL, "option %s_low",
						name);
	}
	return 0;
}

static int parse_count(const char *key, const char *val, uint64_t min,
		       uint64_t max, uint64_t *out, struct mixfs_err *err)
{
	const char *p = val ? val : "";
	uint64_t v;

	if (parse_u64(&p, &v) || *p || v < min || v > max)
		return mixfs_err_set(err, -EINVAL,
			"%s='%.64s' must be a whole number from %" PRIu64 " to %" PRIu64,
			key, val ? val : "", min, max);
	*out = v;
	return 0;
}

/* store_timeout= or store_retry=: SECONDS, or MILLISECONDSms; 0: off. */
static int parse_timeout(const char *key, const char *val, unsigned *ms,
			 struct mixfs_err *err)
{
	const char *p = val ? val : "";
	uint64_t v;

	if (parse_u64(&p, &v) == 0) {
		if (*p == '\0' && v <= 86400) {
			*ms = (unsigned)v * 1000;
			return 0;
		}
		if (strcmp(p, "ms") == 0 && v <= 86400000) {
			*ms = (unsigned)v;
			return 0;
		}
	}
	return mixfs_err_set(err, -EINVAL,
		"%s='%.64s' must be seconds from 0 (off) to 86400, or milliseconds with 'ms'",
		key, val ? val : "");
}

int evt_opts_parse_one(struct evt_opts *o, const char *key, const char *val,
		       struct mixfs_err *err)
{
	enum evt_metric m;
	struct evt_level l;
	uint64_t v;
	int rc;

	if (strcmp(key, "space_low") == 0 || strcmp(key, "space_ok") == 0)
		m = EVT_METRIC_SPACE;
	else if (strcmp(key, "inodes_low") == 0 ||
		 strcmp(key, "inodes_ok") == 0)
		m = EVT_METRIC_INODES;
	else if (strcmp(key, "errors") == 0)
		return evt_errors_parse(val, &o->errors, err) ?: 1;
	else if (strcmp(key, "events_keep") == 0) {
		rc = parse_count(key, val, 1, UINT64_C(1) << 40, &v, err);
		if (rc)
			return rc;
		o->keep = v;
		return 1;
	} else if (strcmp(key, "events_ring") == 0) {
		rc = parse_count(key, val, 16, 1u << 24, &v, err);
		if (rc)
			return rc;
		o->ring = (size_t)v;
		return 1;
	} else if (strcmp(key, "store_timeout") == 0) {
		return parse_timeout(key, val, &o->store_timeout_ms, err) ?: 1;
	} else if (strcmp(key, "store_retry") == 0) {
		return parse_timeout(key, val, &o->store_retry_ms, err) ?: 1;
	} else if (strcmp(key, "events_socket") == 0) {
		if (!val || !val[0] || strlen(val) >= sizeof(o->socket))
			return mixfs_err_set(err, -EINVAL,
				"events_socket needs a path of 1 to %zu bytes",
				sizeof(o->socket) - 1);
		strcpy(o->socket, val);
		return 1;
	} else {
		return 0;
	}

	if (!val || !val[0])
		return mixfs_err_set(err, -EINVAL, "%s needs a level, e.g. %s=10%%",
				     key, key);
	rc = evt_level_parse(val, &l, err);
	if (rc)
		return mixfs_err_prefix(err, rc, "option %s", key);
	if (strstr(key, "_low")) {
		if (o->nwatch == EVT_METRIC_COUNT * EVT_WATCH_MAX)
			return mixfs_err_set(err, -EINVAL, "too many watches");
		o->watch[o->nwatch++] = (struct evt_watch){
			.metric = m, .low = l, .ok = { l.pct, OK_UNSET } };
		return 1;
	}
	/* An ok level belongs to the newest watch of the metric. */
	for (size_t i = o->nwatch; i-- > 0;) {
		struct evt_watch *w = &o->watch[i];

		if (w->metric != m)
			continue;
		if (w->ok.val != OK_UNSET)
			break;
		w->ok = l;
		rc = evt_watch_check(w, err);
		if (rc)
			return mixfs_err_prefix(err, rc, "option %s=%s", key, val);
		return 1;
	}
	return mixfs_err_set(err, -EINVAL,
		"%s=%s has no %s_low before it to belong to", key, val,
		metric_names[m]);
}

int evt_opts_parse(struct evt_opts *o, const char *text,
		   struct mixfs_err *err)
{
	char *copy = strdup(text), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && rc >= 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (eq)
			*eq++ = '\0';
		rc = evt_opts_parse_one(o, tok, eq, err);
		if (rc == 0)
			rc = mixfs_err_set(err, -EINVAL,
					   "unknown events option '%.64s'", tok);
	}
	free(copy);
	if (rc < 0)
		return rc;
	return evt_opts_finish(o, err);
}

int evt_opts_apply(const struct evt_opts *o, struct evt *ev,
		   struct mixfs_err *err)
{
	for (size_t i = 0; i < o->nwatch; i++) {
		int rc = evt_watch_add(ev, o->watch[i].metric, &o->watch[i].low,
				       &o->watch[i].ok, NULL, err);

		if (rc)
			return rc;
	}
	return 0;
}

/* --- Control commands --------------------------------------------------- */

struct ans {
	char *p;
	size_t size, len;
};

static void ans_printf(struct ans *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ans_printf(struct ans *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(a->len < a->size ? a->p + a->len : NULL,
		      a->len < a->size ? a->size - a->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		a->len += (size_t)n;
}

static int ctl_threshold(struct evt *ev, char **w, int nw, struct ans *a,
			 struct mixfs_err *err)
{
	struct evt_watch list[EVT_METRIC_COUNT * EVT_WATCH_MAX];
	struct evt_level lo, ok;
	enum evt_metric m;
	unsigned id;
	int rc;

	if (nw == 2 && strcmp(w[1], "list") == 0) {
		size_t n = evt_watch_list(ev, list, EVT_METRIC_COUNT * EVT_WATCH_MAX);

		for (size_t i = 0; i < n; i++) {
			char l[32], o[32];

			evt_level_format(&list[i].low, l, sizeof(l));
			evt_level_format(&list[i].ok, o, sizeof(o));
			ans_printf(a, "watch %u %s low %s ok %s %s\n", list[i].id,
				   metric_names[list[i].metric], l, o,
				   list[i].fired ? "fired" : "armed");
		}
		return 0;
	}
	if (nw >= 2 && strcmp(w[1], "remove") == 0) {
		const char *p = nw == 3 ? w[2] : "";
		uint64_t v;

		if (parse_u64(&p, &v) || *p || v > UINT32_MAX)
			return mixfs_err_set(err, -EINVAL,
				"usage: threshold remove ID (a number from 'threshold list')");
		rc = evt_watch_remove(ev, (unsigned)v, err);
		return rc == -ENOENT ? -EINVAL : rc;
	}
	if (nw >= 2 && (strcmp(w[1], "space") == 0 ||
			strcmp(w[1], "inodes") == 0)) {
		m = strcmp(w[1], "space") == 0 ? EVT_METRIC_SPACE
					       : EVT_METRIC_INODES;
		if (nw < 3 || nw > 4)
			return mixfs_err_set(err, -EINVAL,
				"usage: threshold %s LOW [OK], e.g. threshold %s 5%% 8%%",
				w[1], w[1]);
		rc = evt_level_parse(w[2], &lo, err);
		if (rc == 0 && nw == 4)
			rc = evt_level_parse(w[3], &ok, err);
		if (rc)
			return rc;
		if (nw == 3) {
			struct evt_opts o;

			evt_opts_init(&o);
			o.nwatch = 1;
			o.watch[0] = (struct evt_watch){ .metric = m, .low = lo,
				.ok = { lo.pct, OK_UNSET } };
			rc = evt_opts_finish(&o, err);
			if (rc)
				return rc;
			ok = o.watch[0].ok;
		}
		rc = evt_watch_add(ev, m, &lo, &ok, &id, err);
		if (rc)
			return rc == -ENOSPC ? -EINVAL : rc;
		ans_printf(a, "watch %u\n", id);
		/* It may already be low: the next check fires it. */
		return 0;
	}
	return mixfs_err_set(err, -EINVAL,
		"unknown threshold command '%.64s'; use: threshold space|inodes LOW [OK], threshold list, threshold remove ID",
		nw >= 2 ? w[1] : "");
}

int evt_ctl(struct evt *ev, const char *cmd, char *out, size_t size,
	    struct mixfs_err *err)
{
	char copy[512], *w[8], *save = NULL, *tok;
	struct ans a = { out, size, 0 };
	int nw = 0, rc;

	if (size)
		out[0] = '\0';
	if (strlen(cmd) >= sizeof(copy))
		return strncmp(cmd, "threshold", 9) && strncmp(cmd, "events", 6)
			? -ENOENT
			: mixfs_err_set(err, -EINVAL, "command too long");
	strcpy(copy, cmd);
	for (tok = strtok_r(copy, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (nw == 8)
			return mixfs_err_set(err, -EINVAL,
					     "too many words in '%.64s'", cmd);
		w[nw++] = tok;
	}
	if (nw == 0)
		return -ENOENT;
	if (strcmp(w[0], "threshold") == 0) {
		rc = ctl_threshold(ev, w, nw, &a, err);
	} else if (strcmp(w[0], "events") == 0) {
		struct evt_stats st;

		if (nw != 2 || strcmp(w[1], "status") != 0)
			return mixfs_err_set(err, -EINVAL,
					     "usage: events status");
		evt_stats(ev, &st);
		ans_printf(&a,
			   "events_last_seq: %" PRIu64 "\n"
			   "events_ring_first: %" PRIu64 "\n"
			   "events_persisted: %" PRIu64 "\n"
			   "events_store_first: %" PRIu64 "\n"
			   "events_persist_errors: %" PRIu64 "\n"
			   "events_unpersisted_lost: %" PRIu64 "\n"
			   "events_dropped: %" PRIu64 "\n"
			   "events_readers: %zu\n"
			   "store_available: %s\n"
			   "store_failed_calls: %" PRIu64 "\n"
			   "store_stalled_calls: %" PRIu64 "\n"
			   "store_calls_in_flight: %zu\n",
			   st.last_seq, st.ring_first, st.persisted,
			   st.store_first, st.persist_errors,
			   st.unpersisted_lost, st.dropped, st.readers,
			   evt_store_down(ev) ? "no" : "yes",
			   st.store_failures, st.store_stalls,
			   st.calls_in_flight);
		rc = 0;
	} else {
		return -ENOENT;
	}
	return rc ? rc : (int)a.len;
}
