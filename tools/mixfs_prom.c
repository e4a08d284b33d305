/*
 * mixfs_prom.c - `mixfs status --prometheus`: mounted filesystems' status
 * in Prometheus's text exposition format (version 0.0.4), for
 * node_exporter's textfile collector or any scraper that runs a command.
 *
 * Input is what the control file answers, "key: value" lines. Numbers
 * become one gauge each, named mixfs_KEY (with the unit the key implies);
 * text becomes a label of mixfs_info, whose value is always 1. Every
 * sample carries the mountpoint as a label, so several filesystems can
 * share one output. What it does not do: serve HTTP, or keep history.
 */
#include "tools/mixfs_cmds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv {
	char *key, *val;
};

struct mount_status {
	const char *mountpoint;
	struct kv *kv;
	size_t n;
};

/* Units and help for the keys whose meaning is known; others get a
 * generic help and no unit. */
static const struct {
	const char *key, *name, *help;
} known[] = {
	{ "space_total", "space_total_bytes", "Capacity in bytes." },
	{ "space_free", "space_free_bytes", "Free bytes." },
	{ "inodes_allocated", "inodes_allocated", "Inodes ever allocated." },
	{ "mounted_at", "mounted_at_seconds", "Mount time, seconds since the epoch." },
	{ "readonly", "readonly", "1 when the filesystem refuses changes (ro, or remounted read-only after errors)." },
	{ "store_available", "store_available", "0 while the object store fails calls, 1 otherwise." },
	{ "events_last_seq", "events_last_seq", "Sequence number of the last event." },
	{ "pid", "daemon_pid", "Process id of the daemon." },
	{ "inline_max", "inline_max_bytes", "Files up to this size are kept inline with their metadata." },
	{ "store_timeout_ms", "store_timeout_milliseconds", "A store call stuck longer than this is an outage." },
	{ "store_outages", "store_outages", "Outages of the object store since mount (failures or stalls)." },
	{ "store_failed_calls", "store_failed_calls", "Store calls that failed since mount." },
	{ "store_stalled_calls", "store_stalled_calls", "Store calls that were stuck past the timeout." },
	{ "store_calls_in_flight", "store_calls_in_flight", "Store calls running now." },
	{ "errors_io", "errors_io", "I/O errors returned since mount." },
	{ "errors_checksum", "errors_checksum", "Checksum errors found since mount." },
};

static bool is_number(const char *s)
{
	char *end;

	if (!*s)
		return false;
	(void)strtod(s, &end);
	return *end == '\0';
}

static bool valid_label(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Metric name for @key: the known one, or mixfs_KEY with any character
 * Prometheus does not allow replaced by '_'. */
static void metric_name(const char *key, char *out, size_t cap,
			const char **help)
{
	size_t i;

	*help = "Reported by mixfs status.";
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strcmp(key, known[i].key)) {
			snprintf(out, cap, "mixfs_%s", known[i].name);
			*help = known[i].help;
			return;
		}
	}
	snprintf(out, cap, "mixfs_%s", key);
	for (i = 6; out[i]; i++) {
		char c = out[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			out[i] = '_';
	}
}

static int parse(const char *text, struct mount_status *m)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n'), *colon;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct kv *kv;

		colon = memchr(p, ':', len);
		if (colon && colon > p) {
			const char *v = colon + 1;

			while (v < p + len && *v == ' ')
				v++;
			kv = realloc(m->kv, (m->n + 1) * sizeof(*kv));
			if (!kv)
				return -1;
			m->kv = kv;
			kv[m->n].key = strndup(p, (size_t)(colon - p));
			kv[m->n].val = strndup(v, (size_t)(p + len - v));
			if (!kv[m->n].key || !kv[m->n].val) {
				free(kv[m->n].key);
				free(kv[m->n].val);
				return -1;
			}
			m->n++;
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

static const char *lookup(const struct mount_status *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->kv[i].key, key))
			return m->kv[i].val;
	return NULL;
}

static void print_info(FILE *f, const struct mount_status *ms, size_t n)
{
	fputs("# HELP mixfs_info What a mounted mixfs filesystem is; the value is always 1.\n"
	      "# TYPE mixfs_info gauge\n", f);
	for (size_t i = 0; i < n; i++) {
		fputs("mixfs_info{mountpoint=\"", f);
		put_label_value(f, ms[i].mountpoint);
		fputc('"', f);
		for (size_t k = 0; k < ms[i].n; k++) {
			const struct kv *kv = &ms[i].kv[k];

			if (is_number(kv->val) || !strcmp(kv->key, "mountpoint") ||
			    !valid_label(kv->key))
				continue;
			fprintf(f, ",%s=\"", kv->key);
			put_label_value(f, kv->val);
			fputc('"', f);
		}
		fputs("} 1\n", f);
	}
}

/* Each numeric key once, with every mount's sample under it. */
static void print_gauges(FILE *f, const struct mount_status *ms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < ms[i].n; k++) {
			const char *key = ms[i].kv[k].key, *help;
			char name[128];
			bool seen = false;

			if (!is_number(ms[i].kv[k].val))
				continue;
			for (size_t j = 0; j < i && !seen; j++)
				seen = lookup(&ms[j], key) &&
				       is_number(lookup(&ms[j], key));
			for (size_t kk = 0; kk < k && !seen; kk++)
				seen = !strcmp(ms[i].kv[kk].key, key);
			if (seen)
				continue;
			metric_name(key, name, sizeof(name), &help);
			fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help,
				name);
			for (size_t j = i; j < n; j++) {
				const char *v = lookup(&ms[j], key);

				if (!v || !is_number(v))
					continue;
				fprintf(f, "%s{mountpoint=\"", name);
				put_label_value(f, ms[j].mountpoint);
				fprintf(f, "\"} %s\n", v);
			}
		}
	}
}

int mixfs_print_prometheus(FILE *f, const char *const *mountpoints,
			   const char *const *texts, size_t n)
{
	struct mount_status *ms = calloc(n ? n : 1, sizeof(*ms));
	int ret = 0;

	if (!ms)
		return -1;
	for (size_t i = 0; i < n && !ret; i++) {
		ret = parse(texts[i], &ms[i]);
		/* The daemon's own (absolute) path names the mount best. */
		ms[i].mountpoint = lookup(&ms[i], "mountpoint");
		if (!ms[i].mountpoint)
			ms[i].mountpoint = mountpoints[i];
	}
	if (!ret) {
		print_info(f, ms, n);
		print_gauges(f, ms, n);
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < ms[i].n; k++) {
			free(ms[i].kv[k].key);
			free(ms[i].kv[k].val);
		}
		free(ms[i].kv);
	}
	free(ms);
	return ret;
}
