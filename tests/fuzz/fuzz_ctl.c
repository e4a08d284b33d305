/*
 * fuzz_ctl.c - what a write to .mixfs/ctl and a mount's -o string are
 * parsed into.
 *
 * Input: text. Each line is one write to the control file, treated as
 * the FUSE layer treats a write (trailing newlines and spaces dropped, at
 * most 511 bytes) and answered by evt_ctl(), the events library's part of
 * the control protocol (threshold add/list/remove, events status); after
 * each command the watches are checked against a free amount taken from
 * the line, so that watches fire and their events are written. The whole
 * input is also parsed as a mount option string (fsd_opts_parse(), which
 * hands events options to evt_opts_parse_one()) and each comma-separated
 * part as a threshold level.
 *
 * Properties: each call returns a count, 0, -ENOENT (not an events
 * command) or -EINVAL with a message, never writes past the answer
 * buffer, and the answer is NUL-terminated; a level that parses formats
 * to text that parses back to the same level; every event line the
 * watches produce is strict JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "fuse/fsd.h"
#include "json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_level(const char *text)
{
	struct evt_level l, back;
	char buf[64];

	if (evt_level_parse(text, &l, NULL))
		return;
	if (l.pct && l.val > 10000)
		abort();
	evt_level_format(&l, buf, sizeof(buf));
	if (evt_level_parse(buf, &back, NULL) || back.pct != l.pct ||
	    back.val != l.val)
		abort();
}

static void drain(struct evt_reader *r)
{
	static char buf[4 * EVT_LINE_MAX];
	ssize_t n;

	while ((n = evt_reader_read(r, buf, sizeof(buf))) > 0) {
		const char *p = buf, *end = buf + n;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (!nl || !json_check_object(p, (size_t)(nl - p),
						      NULL, NULL))
				abort();
			p = nl + 1;
		}
	}
	if (n < 0)
		abort();
}

static void run_commands(const char *text)
{
	struct evt_config cfg = { .ring = 64 };
	struct evt *ev;
	struct evt_reader *r;
	const char *p = text;

	if (evt_open(&cfg, &ev, NULL))
		return;
	if (evt_reader_open(ev, 0, NULL, NULL, &r, NULL))
		abort();
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		struct mixfs_err err = { 0 };
		char cmd[512], out[256];
		int ret;

		while (n && (p[n - 1] == '\n' || p[n - 1] == ' '))
			n--;
		if (n < sizeof(cmd)) {
			memcpy(cmd, p, n);
			cmd[n] = '\0';
			memset(out, 0x55, sizeof(out));
			ret = evt_ctl(ev, cmd, out, sizeof(out), &err);
			if (ret >= 0 && !memchr(out, '\0', sizeof(out)))
				abort();
			if (ret < 0 && ret != -ENOENT && ret != -EINVAL &&
			    ret != -ENOSPC)
				abort();
			if ((ret == -EINVAL || ret == -ENOSPC) && !err.msg[0])
				abort();
			/* a free amount from the line: fire what fires */
			evt_check_space(ev, strtoull(cmd, NULL, 10) % 2000,
					1000 + n);
			evt_check_inodes(ev, n * 37 % 1000, 1000);
			drain(r);
		}
		p = nl ? nl + 1 : p + strlen(p);
	}
	evt_reader_close(r);
	evt_close(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsd_opts o = { 0 };
	struct evt_opts eo;
	struct mixfs_err err = { 0 };
	char *text, *copy, *tok, *save = NULL;
	int ret;

	if (size > 8192)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	run_commands(text);

	ret = fsd_opts_parse(&o, text, &err);
	if (ret && (ret != -EINVAL || !err.msg[0]) && ret != -ENOMEM)
		abort();
	if (!ret && (o.max_threads < 1 || o.max_threads > 1024))
		abort();
	fsd_opts_release(&o);

	evt_opts_init(&eo);
	mixfs_err_clear(&err);
	ret = evt_opts_parse(&eo, text, &err);
	if (ret && (ret != -EINVAL || !err.msg[0]))
		abort();

	copy = strdup(text);
	for (tok = copy ? strtok_r(copy, ",=\n", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",=\n", &save))
		check_level(tok);
	free(copy);
	free(text);
	return 0;
}
