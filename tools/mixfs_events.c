/*
 * mixfs_events.c - `mixfs events`: follow a filesystem's event feed, print
 * the events, or run a command for each (to drain a node, page someone).
 *
 * It reads the JSON lines of the feed (see events.h for the protocol),
 * decodes just enough of each line to filter on category and type and to
 * hand every field to a hook as an environment variable, and passes the
 * line itself through unchanged. It does not interpret events beyond that:
 * what an event means for a node is the hook's business (examples/).
 */
#include "mixfs_events.h"
#include "events/events.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG "mixfs events"

static const char usage_text[] =
	"usage: mixfs events SOCKET|MOUNTPOINT [--from SEQ] [--follow]\n"
	"                    [--filter KEY=VALUE[,KEY=VALUE...]] [--exec CMD]\n"
	"  --from SEQ     start at event SEQ (default: every event still kept,\n"
	"                 or only new ones with --follow)\n"
	"  --follow       keep waiting for new events (reconnects if the feed\n"
	"                 goes away, resuming after the last event seen)\n"
	"  --filter F     only events matching F: category=NAME or type=NAME;\n"
	"                 the same key again (or NAME|NAME) means either,\n"
	"                 different keys must all match\n"
	"  --exec CMD     run CMD (with /bin/sh -c) once per event, the JSON\n"
	"                 line on its stdin and MIXFS_EVENT_* in its environment,\n"
	"                 instead of printing the event\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

/* --- Options ------------------------------------------------------------ */

struct opts {
	const char *target;
	bool from_given, follow;
	uint64_t from;
	unsigned cats;		/* bit per category; 0 = any */
	unsigned long types;	/* bit per type; 0 = any */
	const char *exec;
};

static int parse_filter(struct opts *o, const char *text)
{
	char *copy = strdup(text), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return 1;
	for (tok = strtok_r(copy, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '='), *save2 = NULL, *name;

		if (!val) {
			rc = usage_error("--filter '%s': expected KEY=VALUE",
					 tok);
			break;
		}
		*val++ = '\0';
		if (strcmp(tok, "category") != 0 && strcmp(tok, "type") != 0) {
			rc = usage_error("--filter: unknown key '%s' (use category or type)",
					 tok);
			break;
		}
		for (name = strtok_r(val, "|", &save2); name && !rc;
		     name = strtok_r(NULL, "|", &save2)) {
			enum evt_category c;
			enum evt_type t;

			if (tok[0] == 'c' && evt_category_parse(name, &c) == 0)
				o->cats |= 1u << c;
			else if (tok[0] == 't' && evt_type_parse(name, &t) == 0)
				o->types |= 1ul << t;
			else
				rc = usage_error(tok[0] == 'c'
					? "--filter: unknown category '%s' (info, warning, error, threshold)"
					: "--filter: unknown event type '%s'", name);
		}
		if (!rc && !val[0])
			rc = usage_error("--filter %s= needs a value", tok);
	}
	free(copy);
	return rc;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		size_t n = strcspn(a, "=");

		if (strncmp(a, "--", 2) == 0 && a[n] == '=')
			val = a + n + 1;
#define OPT(name) (strncmp(a, name, n) == 0 && strlen(name) == n)
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return -1;
		} else if (OPT("--follow") && !val) {
			o->follow = true;
		} else if (OPT("--from") || OPT("--filter") || OPT("--exec")) {
			char *end;

			if (!val && i + 1 >= argc)
				return usage_error("%s needs a value", a);
			if (!val)
				val = argv[++i];
			if (OPT("--from")) {
				errno = 0;
				o->from = strtoull(val, &end, 10);
				if (errno || end == val || *end || val[0] == '-')
					return usage_error("--from '%s' is not a sequence number",
							   val);
				o->from_given = true;
			} else if (OPT("--filter")) {
				int rc = parse_filter(o, val);

				if (rc)
					return rc;
			} else {
				if (!val[0])
					return usage_error("%s needs a command", "--exec");
				o->exec = val;
			}
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (o->target) {
			return usage_error("unexpected argument '%s'", a);
		} else {
			o->target = a;
		}
#undef OPT
	}
	if (!o->target)
		return usage_error("%s", "missing SOCKET or MOUNTPOINT");
	return 0;
}

/*
 * A socket is used as is; a directory is a mount point whose FUSE layer
 * answers .mixfs/socket with the socket's path.
 */
static int resolve(const char *target, char *path, size_t size)
{
	struct stat st;
	char file[4096];
	FILE *f;

	if (stat(target, &st) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", target, strerror(errno));
		return 1;
	}
	if (S_ISSOCK(st.st_mode)) {
		snprintf(path, size, "%s", target);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": %s is neither a socket nor a mount point\n",
			target);
		return 1;
	}
	snprintf(file, sizeof(file), "%s/.mixfs/socket", target);
	f = fopen(file, "r");
	if (!f || !fgets(path, (int)size, f)) {
		fprintf(stderr, PROG ": %s: cannot read %s (%s): is it a mixfs mount with an event feed?\n",
			target, file, f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	path[strcspn(path, "\n")] = '\0';
	return 0;
}

static int feed_connect(const char *path, const char *cmd, bool quiet)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, PROG ": socket path %s is too long\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		if (!quiet)
			fprintf(stderr, PROG ": connecting to %s: %s\n", path,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* --- Decoding one line ---------------------------------------------------- */

struct field {
	char key[48];
	char *val;		/* decoded, NUL-terminated (cut at a NUL) */
	size_t len;
};

struct event {
	uint64_t seq;
	struct field f[64];	/* top-level strings, then details */
	size_t n;
	size_t first_detail;
};

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(char **o, unsigned cp)
{
	char *p = *o;

	if (cp < 0x80) {
		*p++ = (char)cp;
	} else if (cp < 0x800) {
		*p++ = (char)(0xc0 | cp >> 6);
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (char)(0xe0 | cp >> 12);
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*p++ = (char)(0xf0 | cp >> 18);
		*p++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	}
	*o = p;
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hexdigit(p[i]);

		if (d < 0)
			return UINT32_MAX;
		v = v * 16 + (unsigned)d;
	}
	return v;
}

/* Decode the JSON string at *@p (after its opening quote) in place into
 * @out; advances *@p past the closing quote. */
static bool json_string(char **p, char *out, size_t *len)
{
	char *s = *p, *o = out;

	while (*s && *s != '"') {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"': case '\\': case '/': *o++ = *s; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp = hex4(s + 1);

			if (cp == UINT32_MAX)
				return false;
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && s[1] == '\\' &&
			    s[2] == 'u') {
				unsigned lo = hex4(s + 3);

				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					s += 6;
				}
			}
			put_utf8(&o, cp);
			break;
		}
		default:
			return false;
		}
		s++;
	}
	if (*s != '"')
		return false;
	*o = '\0';
	*len = (size_t)(o - out);
	*p = s + 1;
	return true;
}

static bool add_field(struct event *e, const char *key, char *val, size_t len)
{
	if (e->n == sizeof(e->f) / sizeof(e->f[0]) ||
	    strlen(key) >= sizeof(e->f[0].key))
		return false;
	strcpy(e->f[e->n].key, key);
	e->f[e->n].val = val;
	e->f[e->n].len = len;
	e->n++;
	return true;
}

/* Parse an event line (modified in place). */
static bool parse_event(char *line, struct event *e)
{
	char *p = line, key[64];
	size_t len;
	bool in_details = false;

	memset(e, 0, sizeof(*e));
	if (*p++ != '{')
		return false;
	for (;;) {
		char *kstart;

		if (*p == '}') {
			p++;
			if (!in_details)
				return *p == '\0';
			in_details = false;
			if (*p == ',') {
				p++;
				continue;
			}
			continue;
		}
		if (*p++ != '"')
			return false;
		kstart = p;
		if (!json_string(&p, kstart, &len) || len >= sizeof(key))
			return false;
		memcpy(key, kstart, len + 1);
		if (*p++ != ':')
			return false;
		if (*p == '"') {
			char *v = ++p;

			if (!json_string(&p, v, &len) || !add_field(e, key, v, len))
				return false;
		} else if (*p == '{' && !in_details && strcmp(key, "details") == 0) {
			p++;
			in_details = true;
			e->first_detail = e->n;
			continue;
		} else if (strcmp(key, "seq") == 0) {
			char *end;

			e->seq = strtoull(p, &end, 10);
			if (end == p)
				return false;
			p = end;
		} else {
			return false;
		}
		if (*p == ',')
			p++;
		else if (*p != '}')
			return false;
	}
}

static const char *field(const struct event *e, const char *key, bool detail)
{
	size_t from = detail ? e->first_detail : 0;
	size_t to = detail ? e->n : e->first_detail;

	for (size_t i = from; i < to; i++)
		if (strcmp(e->f[i].key, key) == 0)
			return e->f[i].val;
	return NULL;
}

static bool matches(const struct opts *o, const struct event *e)
{
	const char *cat = field(e, "category", false);
	const char *type = field(e, "type", false);
	enum evt_category c;
	enum evt_type t;

	if (o->cats && (!cat || evt_category_parse(cat, &c) ||
			!(o->cats & (1u << c))))
		return false;
	if (o->types && (!type || evt_type_parse(type, &t) ||
			 !(o->types & (1ul << t))))
		return false;
	return true;
}

/* --- Running the hook --------------------------------------------------- */

static void set_env(const char *key, const char *val)
{
	char name[80] = "MIXFS_EVENT_";
	size_t n = strlen(name);

	for (const char *k = key; *k && n < sizeof(name) - 1; k++)
		name[n++] = (*k >= 'a' && *k <= 'z') ? (char)(*k - 32)
			  : ((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9'))
			  ? *k : '_';
	name[n] = '\0';
	setenv(name, val, 1);
}

/* Run @cmd for one event in a child; returns its wait status or -1. */
static int run_hook(const char *cmd, const struct event *e, const char *line,
		    size_t len)
{
	static const char *const top[] = { "SEQ", "TIME", "UUID", "MOUNT",
					   "CATEGORY", "TYPE" };
	int pipefd[2], status = 0;
	pid_t pid;

	if (pipe(pipefd) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		char seq[24];

		dup2(pipefd[0], 0);
		close(pipefd[0]);
		close(pipefd[1]);
		snprintf(seq, sizeof(seq), "%" PRIu64, e->seq);
		set_env("seq", seq);
		for (size_t i = 0; i < e->n; i++) {
			const struct field *f = &e->f[i];
			bool taken = false;
			size_t kl = strlen(f->key);

			if (i >= e->first_detail) {
				/* Detail names never replace the event's own. */
				for (size_t k = 0; k < 6; k++)
					taken |= strcasecmp(f->key, top[k]) == 0;
				if (taken)
					continue;
			}
			set_env(f->key, f->val);
			/* The exact bytes, when the value was not UTF-8. */
			if (kl > 4 && strcmp(f->key + kl - 4, "_hex") == 0 &&
			    i >= e->first_detail) {
				char base[48], *raw = malloc(f->len / 2 + 1);
				size_t r = 0;

				if (!raw)
					continue;
				for (; r < f->len / 2; r++) {
					int hi = hexdigit(f->val[2 * r]);
					int lo = hexdigit(f->val[2 * r + 1]);

					if (hi < 0 || lo < 0 || (!hi && !lo))
						break;
					raw[r] = (char)(hi * 16 + lo);
				}
				raw[r] = '\0';
				memcpy(base, f->key, kl - 4);
				base[kl - 4] = '\0';
				set_env(base, raw);
				free(raw);
			}
		}
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);
	/* A line is far smaller than a pipe's buffer; a hook that ignores
	 * stdin still gets its whole run. */
	if (write(pipefd[1], line, len) < 0) {
		/* the hook closed stdin early: that is its choice */
	}
	close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* --- Main loop ------------------------------------------------------------ */

struct state {
	uint64_t next;		/* resume point: after the last event seen */
	bool have_next;
	unsigned hook_failures;
};

/* Handle one line; returns 0, or 1 when the feed answered with an error. */
static int handle_line(const struct opts *o, struct state *s, char *line,
		       size_t len)
{
	char copy[EVT_LINE_MAX + 2];
	struct event e;
	const char *type, *reason;

	if (strncmp(line, "{\"error\":", 9) == 0) {
		fprintf(stderr, PROG ": the feed refused: %.*s\n", (int)len - 1,
			line);
		return 1;
	}
	if (len > EVT_LINE_MAX + 1) {
		fprintf(stderr, PROG ": skipping an overlong line\n");
		return 0;
	}
	memcpy(copy, line, len);
	copy[len - 1] = '\0';	/* the '\n' */
	if (!parse_event(copy, &e)) {
		fprintf(stderr, PROG ": skipping a line that is not an event: %.80s\n",
			line);
		return 0;
	}
	type = field(&e, "type", false);
	reason = field(&e, "reason", true);
	/* A cut-off names the first event missed: resume there, as the
	 * store may still have it. */
	if (type && strcmp(type, "events_lost") == 0 && reason &&
	    strncmp(reason, "consumer too slow", 17) == 0 && field(&e, "from", true)) {
		s->next = strtoull(field(&e, "from", true), NULL, 10);
	} else {
		s->next = e.seq + 1;
	}
	s->have_next = true;
	if (!matches(o, &e))
		return 0;
	if (!o->exec) {
		fwrite(line, 1, len, stdout);
		fflush(stdout);
		return 0;
	}
	{
		int st = run_hook(o->exec, &e, line, len);

		if (st != 0) {
			s->hook_failures++;
			if (st < 0)
				fprintf(stderr, PROG ": could not run the command for event %" PRIu64 ": %s\n",
					e.seq, strerror(errno));
			else if (WIFEXITED(st))
				fprintf(stderr, PROG ": command exited with status %d for event %" PRIu64 " (%s)\n",
					WEXITSTATUS(st), e.seq, type ? type : "?");
			else
				fprintf(stderr, PROG ": command killed by signal %d for event %" PRIu64 " (%s)\n",
					WTERMSIG(st), e.seq, type ? type : "?");
		}
	}
	return 0;
}

/* Read lines until EOF; returns 0 at EOF, 1 after a refusal. */
static int read_feed(int fd, const struct opts *o, struct state *s)
{
	static char buf[4 * EVT_LINE_MAX];
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		char *start = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
			if (handle_line(o, s, start, (size_t)(nl - start) + 1))
				return 1;
			start = nl + 1;
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
		if (len == sizeof(buf))
			len = 0;	/* no line is this long: resynchronise */
	}
}

int mixfs_cmd_events(int argc, char **argv)
{
	struct opts o = { 0 };
	struct state s = { 0 };
	char path[4096], cmd[64];
	int rc, fd;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = resolve(o.target, path, sizeof(path));
	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (o.follow && !o.from_given)
		snprintf(cmd, sizeof(cmd), "from now\n");
	else
		snprintf(cmd, sizeof(cmd), "%s %" PRIu64 "\n",
			 o.follow ? "from" : "dump", o.from);
	fd = feed_connect(path, cmd, false);
	if (fd < 0)
		return 1;
	for (;;) {
		rc = read_feed(fd, &o, &s);
		close(fd);
		if (rc || !o.follow)
			break;
		/* The daemon restarted or cut us off: resume where we were. */
		if (s.have_next)
			snprintf(cmd, sizeof(cmd), "from %" PRIu64 "\n", s.next);
		fprintf(stderr, PROG ": feed closed; reconnecting (%.*s)\n",
			(int)strlen(cmd) - 1, cmd);
		while ((fd = feed_connect(path, cmd, true)) < 0)
			sleep(1);
	}
	return rc;
}
