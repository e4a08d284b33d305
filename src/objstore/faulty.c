/*
 * faulty.c - the faulty: backend: passes calls to an inner store and fails
 * or delays the ones its plan names. The grammar and the rules for how a
 * call meets the plan are in objstore_faulty.h; this file follows them.
 *
 * It deliberately does not corrupt data, tear writes in half or reorder
 * calls: a faulted call fails whole, before the inner store sees it, so
 * every fault is one the objstore contract allows ("a call that fails
 * changes nothing"). Simulating torn writes or lost syncs is a different
 * tool.
 */
#include "objstore/backend.h"
#include "objstore/objstore_faulty.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct faulty_rule {
	unsigned ops;		/* bit (1u << op) per watched op */
	uint64_t after;		/* leave this many watched calls alone */
	uint64_t count;		/* at most this many faults; 0: no limit */
	double p;		/* chance to fire inside the window */
	uint64_t rng;		/* state of the rule's generator */
	int errnum;		/* positive errno to fail with; 0: delay only */
	uint64_t delay_ns;
	uint64_t seen;		/* watched calls so far */
	uint64_t injected;	/* times fired so far */
};

struct faulty_plan {
	struct faulty_rule *rules;
	size_t n;
};

struct faulty_store {
	struct objstore base;
	struct objstore *inner;		/* owned; set at open, never changes */
	pthread_mutex_t lock;		/* protects every field below */
	struct faulty_plan plan;
	bool down;
	uint64_t down_delay_ns;
	struct objstore_faulty_counters ctr;
};

static struct faulty_store *to_faulty(struct objstore *s)
{
	return container_of(s, struct faulty_store, base);
}

/* --- names -------------------------------------------------------------- */

static const char *const op_names[OBJSTORE_FAULTY_NOPS] = {
	[OBJSTORE_FAULTY_CREATE] = "create",
	[OBJSTORE_FAULTY_CREATE_FRESH] = "create_fresh",
	[OBJSTORE_FAULTY_REMOVE] = "remove",
	[OBJSTORE_FAULTY_READ] = "read",
	[OBJSTORE_FAULTY_WRITE] = "write",
	[OBJSTORE_FAULTY_TRUNCATE] = "truncate",
	[OBJSTORE_FAULTY_PUNCH] = "punch",
	[OBJSTORE_FAULTY_STAT] = "stat",
	[OBJSTORE_FAULTY_LIST] = "list",
	[OBJSTORE_FAULTY_GETATTR] = "getattr",
	[OBJSTORE_FAULTY_SETATTR] = "setattr",
	[OBJSTORE_FAULTY_RMATTR] = "rmattr",
	[OBJSTORE_FAULTY_LISTATTR] = "listattr",
	[OBJSTORE_FAULTY_STATFS] = "statfs",
	[OBJSTORE_FAULTY_SYNC] = "sync",
	[OBJSTORE_FAULTY_SEEK] = "seek",
};

#define OPBIT(op) (1u << (op))
#define OPS_ALL ((1u << OBJSTORE_FAULTY_NOPS) - 1)
#define OPS_UPDATE (OPBIT(OBJSTORE_FAULTY_CREATE) | \
	OPBIT(OBJSTORE_FAULTY_CREATE_FRESH) | OPBIT(OBJSTORE_FAULTY_REMOVE) | \
	OPBIT(OBJSTORE_FAULTY_WRITE) | OPBIT(OBJSTORE_FAULTY_TRUNCATE) | \
	OPBIT(OBJSTORE_FAULTY_PUNCH) | OPBIT(OBJSTORE_FAULTY_SETATTR) | \
	OPBIT(OBJSTORE_FAULTY_RMATTR))
#define OPS_QUERY (OPBIT(OBJSTORE_FAULTY_READ) | OPBIT(OBJSTORE_FAULTY_STAT) | \
	OPBIT(OBJSTORE_FAULTY_SEEK) | \
	OPBIT(OBJSTORE_FAULTY_LIST) | OPBIT(OBJSTORE_FAULTY_GETATTR) | \
	OPBIT(OBJSTORE_FAULTY_LISTATTR) | OPBIT(OBJSTORE_FAULTY_STATFS))

const char *objstore_faulty_op_name(enum objstore_faulty_op op)
{
	if ((unsigned)op >= OBJSTORE_FAULTY_NOPS)
		return "?";
	return op_names[op];
}

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "ETIMEDOUT", ETIMEDOUT },
	{ "EBADMSG", EBADMSG }, { "EUCLEAN", EUCLEAN }, { "ENOMEM", ENOMEM },
	{ "EROFS", EROFS }, { "EAGAIN", EAGAIN }, { "EBUSY", EBUSY },
	{ "EINTR", EINTR }, { "EACCES", EACCES }, { "EPERM", EPERM },
	{ "EDQUOT", EDQUOT }, { "EFBIG", EFBIG }, { "ENOTCONN", ENOTCONN },
	{ "ECONNRESET", ECONNRESET }, { "EHOSTUNREACH", EHOSTUNREACH },
	{ "ENODEV", ENODEV }, { "ENXIO", ENXIO }, { "ESTALE", ESTALE },
};

static const char *errno_name(int value, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].value == value)
			return errno_names[i].name;
	snprintf(buf, cap, "errno %d", value);
	return buf;
}

/* --- parsing the plan --------------------------------------------------- */

static int parse_u64(const char *text, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_ops(const char *text, unsigned *out)
{
	unsigned ops = 0;

	while (*text) {
		size_t n = strcspn(text, "+");
		unsigned bit = 0;
		int i;

		if (n == 5 && !memcmp(text, "query", 5))
			bit = OPS_QUERY;
		else if (n == 6 && !memcmp(text, "update", 6))
			bit = OPS_UPDATE;
		else if (n == 3 && !memcmp(text, "any", 3))
			bit = OPS_ALL;
		for (i = 0; !bit && i < OBJSTORE_FAULTY_NOPS; i++)
			if (strlen(op_names[i]) == n && !memcmp(op_names[i], text, n))
				bit = OPBIT(i);
		if (!bit)
			return -EINVAL;
		ops |= bit;
		text += n;
		if (*text == '+' && !*++text)
			return -EINVAL;	/* trailing '+' */
	}
	if (!ops)
		return -EINVAL;
	*out = ops;
	return 0;
}

static int parse_errno(const char *text, int *out)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (!strcmp(errno_names[i].name, text)) {
			*out = errno_names[i].value;
			return 0;
		}
	if (parse_u64(text, &v) || v == 0 || v > 4095)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int parse_duration(const char *text, uint64_t *out)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000 }, { "", 1000000 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v > UINT64_MAX / units[i].ns)
			return -EINVAL;
		*out = v * units[i].ns;
		return 0;
	}
	return -EINVAL;
}

static int parse_p(const char *text, double *out)
{
	char *end;
	double v;

	if ((*text < '0' || *text > '9') && *text != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || *end || !(v >= 0.0 && v <= 1.0))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parse one RULE (a NUL-terminated copy the function may cut up). */
static int parse_rule(char *text, struct faulty_rule *r, size_t index,
		      struct mixfs_err *err)
{
	enum { K_OP, K_NTH, K_AFTER, K_COUNT, K_P, K_SEED, K_ERRNO, K_DELAY,
	       K_N };
	static const char *const keys[K_N] = {
		"op", "nth", "after", "count", "p", "seed", "errno", "delay",
	};
	bool have[K_N] = { false };
	uint64_t nth = 0, seed = 1;
	char *rest = text, *term;

	memset(r, 0, sizeof(*r));
	r->ops = OPS_ALL;
	r->p = 1.0;
	r->errnum = EIO;
	if (!*text)
		return mixfs_err_set(err, -EINVAL,
			"faulty: rule %zu of the spec is empty", index);
	/* strsep, unlike strtok, keeps empty terms, so "a=1,,b=2" fails. */
	while ((term = strsep(&rest, ","))) {
		char *eq = strchr(term, '=');
		const char *val;
		int k, ret = -EINVAL;

		if (!eq)
			return mixfs_err_set(err, -EINVAL,
				"faulty: term '%s' of rule %zu is not key=value",
				term, index);
		*eq = '\0';
		val = eq + 1;
		for (k = 0; k < K_N && strcmp(keys[k], term); k++)
			;
		if (k == K_N)
			return mixfs_err_set(err, -EINVAL,
				"faulty: unknown key '%s' in rule %zu (known: op, nth, after, count, p, seed, errno, delay)",
				term, index);
		if (have[k])
			return mixfs_err_set(err, -EINVAL,
				"faulty: '%s' given twice in rule %zu", term, index);
		have[k] = true;
		switch (k) {
		case K_OP:    ret = parse_ops(val, &r->ops); break;
		case K_NTH:   ret = parse_u64(val, &nth);
			      if (!ret && nth == 0)
				      ret = -EINVAL;
			      break;
		case K_AFTER: ret = parse_u64(val, &r->after); break;
		case K_COUNT: ret = parse_u64(val, &r->count);
			      if (!ret && r->count == 0)
				      ret = -EINVAL;
			      break;
		case K_P:     ret = parse_p(val, &r->p); break;
		case K_SEED:  ret = parse_u64(val, &seed); break;
		case K_ERRNO: ret = parse_errno(val, &r->errnum); break;
		case K_DELAY: ret = parse_duration(val, &r->delay_ns); break;
		}
		if (ret)
			return mixfs_err_set(err, -EINVAL,
				"faulty: bad value '%s' for %s= in rule %zu",
				val, term, index);
	}
	if (have[K_NTH] && (have[K_AFTER] || have[K_COUNT] || have[K_P]))
		return mixfs_err_set(err, -EINVAL,
			"faulty: nth= in rule %zu cannot be combined with after=, count= or p=",
			index);
	if (have[K_NTH]) {
		r->after = nth - 1;
		r->count = 1;
	}
	if (have[K_DELAY] && !have[K_ERRNO])
		r->errnum = 0;
	r->rng = seed;
	return 0;
}

static void plan_free(struct faulty_plan *plan)
{
	free(plan->rules);
	plan->rules = NULL;
	plan->n = 0;
}

/* Parse @len bytes of @spec into a new plan. */
static int plan_parse(const char *spec, size_t len, struct faulty_plan *out,
		      struct mixfs_err *err)
{
	struct faulty_plan plan = { NULL, 0 };
	char *copy, *p;
	size_t n = 1, i;
	int ret = 0;

	*out = plan;
	if (len == 0 || (len == 4 && !memcmp(spec, "none", 4)))
		return 0;
	copy = strndup(spec, len);
	if (!copy)
		return -ENOMEM;
	for (p = copy; *p; p++)
		n += *p == ';';
	plan.rules = calloc(n, sizeof(*plan.rules));
	if (!plan.rules) {
		ret = -ENOMEM;
		goto out_free_copy;
	}
	/* Cut at each ';' by hand: strtok_r would skip empty rules. */
	for (p = copy, i = 0; i < n; i++) {
		char *semi = strchr(p, ';');

		if (semi)
			*semi = '\0';
		ret = parse_rule(p, &plan.rules[i], i + 1, err);
		if (ret)
			goto out_free_plan;
		p = semi ? semi + 1 : p + strlen(p);
	}
	plan.n = n;
	*out = plan;
	free(copy);
	return 0;

out_free_plan:
	plan_free(&plan);
out_free_copy:
	free(copy);
	return ret;
}

/* --- deciding a call's fate --------------------------------------------- */

/* splitmix64: small, fast, and the same sequence on every machine. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

struct verdict {
	int errnum;		/* positive errno, 0 to let the call through */
	size_t rule;		/* 1-based rule that failed it; 0: down */
	uint64_t delay_ns;
};

/* Count one call of @op and decide it. Caller holds fs->lock. */
static void decide_locked(struct faulty_store *fs, enum objstore_faulty_op op,
			  struct verdict *v)
{
	size_t i;

	fs->ctr.calls[op]++;
	fs->ctr.total_calls++;
	if (fs->down) {
		v->errnum = EIO;
		v->rule = 0;
		v->delay_ns += fs->down_delay_ns;
		fs->ctr.down_faults++;
		goto out_count;
	}
	for (i = 0; i < fs->plan.n; i++) {
		struct faulty_rule *r = &fs->plan.rules[i];

		if (!(r->ops & OPBIT(op)))
			continue;
		r->seen++;
		if (v->errnum || r->seen <= r->after)
			continue;
		if (r->count && r->injected >= r->count)
			continue;
		if (r->p < 1.0 &&
		    (double)(rng_next(&r->rng) >> 11) * 0x1.0p-53 >= r->p)
			continue;
		r->injected++;
		v->delay_ns += r->delay_ns;
		if (r->errnum) {
			v->errnum = r->errnum;
			v->rule = i + 1;
		}
	}
out_count:
	if (v->errnum) {
		fs->ctr.faults[op]++;
		fs->ctr.total_faults++;
	}
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000),
		.tv_nsec = (long)(ns % 1000000000),
	};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sleep as decided and turn a verdict into a return value and a message. */
static int verdict_apply(const struct verdict *v, enum objstore_faulty_op op,
			 struct mixfs_err *err)
{
	char buf[24];

	if (v->delay_ns)
		sleep_ns(v->delay_ns);
	if (!v->errnum)
		return 0;
	if (v->rule == 0)
		return mixfs_err_set(err, -EIO,
			"faulty: store is down, %s failed with EIO",
			op_names[op]);
	return mixfs_err_set(err, -v->errnum,
		"faulty: injected %s into %s (rule %zu of the plan)",
		errno_name(v->errnum, buf, sizeof(buf)), op_names[op], v->rule);
}

/* The gate every forwarded call passes: 0 to go on, or the fault. */
static int faulty_enter(struct faulty_store *fs, enum objstore_faulty_op op,
			struct mixfs_err *err)
{
	struct verdict v = { 0, 0, 0 };

	pthread_mutex_lock(&fs->lock);
	decide_locked(fs, op, &v);
	if (v.delay_ns)
		fs->ctr.delayed++;
	pthread_mutex_unlock(&fs->lock);
	return verdict_apply(&v, op, err);
}

/* --- the test-facing API ------------------------------------------------ */

bool objstore_is_faulty(const struct objstore *s)
{
	return s && s->ops == &objstore_faulty_ops;
}

int objstore_faulty_set_plan(struct objstore *s, const char *spec,
			     struct mixfs_err *err)
{
	struct faulty_plan plan, old;
	struct faulty_store *fs;
	int ret;

	if (!objstore_is_faulty(s))
		return mixfs_err_set(err, -EINVAL, "not a faulty: store");
	fs = to_faulty(s);
	ret = plan_parse(spec ? spec : "", spec ? strlen(spec) : 0, &plan, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&fs->lock);
	old = fs->plan;
	fs->plan = plan;
	pthread_mutex_unlock(&fs->lock);
	plan_free(&old);
	return 0;
}

int objstore_faulty_set_down(struct objstore *s, bool down)
{
	struct faulty_store *fs;

	if (!objstore_is_faulty(s))
		return -EINVAL;
	fs = to_faulty(s);
	pthread_mutex_lock(&fs->lock);
	fs->down = down;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

int objstore_faulty_set_down_delay(struct objstore *s, uint64_t delay_ns)
{
	struct faulty_store *fs;

	if (!objstore_is_faulty(s))
		return -EINVAL;
	fs = to_faulty(s);
	pthread_mutex_lock(&fs->lock);
	fs->down_delay_ns = delay_ns;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

int objstore_faulty_counters(struct objstore *s,
			     struct objstore_faulty_counters *out)
{
	struct faulty_store *fs;

	if (!objstore_is_faulty(s))
		return -EINVAL;
	fs = to_faulty(s);
	pthread_mutex_lock(&fs->lock);
	*out = fs->ctr;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

int objstore_faulty_reset_counters(struct objstore *s)
{
	struct faulty_store *fs;

	if (!objstore_is_faulty(s))
		return -EINVAL;
	fs = to_faulty(s);
	pthread_mutex_lock(&fs->lock);
	memset(&fs->ctr, 0, sizeof(fs->ctr));
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

struct objstore *objstore_faulty_inner(struct objstore *s)
{
	return objstore_is_faulty(s) ? to_faulty(s)->inner : NULL;
}

/* --- opening and closing ------------------------------------------------ */

static int faulty_open(const char *rest, unsigned flags, struct objstore **out,
		       struct mixfs_err *err)
{
	const char *colon = strchr(rest, ':');
	struct objstore_info info;
	struct faulty_store *fs;
	int ret;

	if (!colon)
		return mixfs_err_set(err, -EINVAL,
			"faulty: URI 'faulty:%s' has no inner store (write faulty:SPEC:INNER-URI, e.g. faulty:nth=3:mem:)",
			rest);
	if (!colon[1])
		return mixfs_err_set(err, -EINVAL,
			"faulty: empty inner URI after 'faulty:%.*s:'",
			(int)(colon - rest), rest);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	ret = plan_parse(rest, (size_t)(colon - rest), &fs->plan, err);
	if (ret)
		goto out_free;
	ret = objstore_open(colon + 1, flags, &fs->inner, err);
	if (ret) {
		mixfs_err_prefix(err, ret, "faulty: inner store");
		goto out_free_plan;
	}
	pthread_mutex_init(&fs->lock, NULL);
	objstore_info(fs->inner, &info);
	fs->base.ops = &objstore_faulty_ops;
	fs->base.caps = info.caps;
	memcpy(fs->base.uuid, info.uuid, sizeof(fs->base.uuid));
	fs->base.format_version = info.format_version;
	*out = &fs->base;
	return 0;

out_free_plan:
	plan_free(&fs->plan);
out_free:
	free(fs);
	return ret;
}

static int faulty_close(struct objstore *s)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = objstore_close(fs->inner);

	plan_free(&fs->plan);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
	return ret;
}

/* --- forwarded calls ---------------------------------------------------- */

static int faulty_create(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_CREATE, err);

	return ret ? ret : objstore_create(fs->inner, id, err);
}

static int faulty_create_fresh(struct objstore *s, uint64_t *id,
			       struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_CREATE_FRESH, err);

	return ret ? ret : objstore_create_fresh(fs->inner, id, err);
}

static int faulty_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_REMOVE, err);

	return ret ? ret : objstore_remove(fs->inner, id, err);
}

static ssize_t faulty_read(struct objstore *s, uint64_t id, uint64_t off,
			   void *buf, size_t len, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_READ, err);

	return ret ? ret : objstore_read(fs->inner, id, off, buf, len, err);
}

static int faulty_write(struct objstore *s, uint64_t id, uint64_t off,
			const void *buf, size_t len, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_WRITE, err);

	return ret ? ret : objstore_write(fs->inner, id, off, buf, len, err);
}

static int faulty_truncate(struct objstore *s, uint64_t id, uint64_t size,
			   struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_TRUNCATE, err);

	return ret ? ret : objstore_truncate(fs->inner, id, size, err);
}

static int faulty_punch(struct objstore *s, uint64_t id, uint64_t off,
			uint64_t len, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_PUNCH, err);

	return ret ? ret : objstore_punch(fs->inner, id, off, len, err);
}

static int faulty_stat(struct objstore *s, uint64_t id,
		       struct objstore_stat *st, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_STAT, err);

	return ret ? ret : objstore_stat(fs->inner, id, st, err);
}

static int faulty_seek(struct objstore *s, uint64_t id, uint64_t off,
		       int whence, uint64_t *out, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_SEEK, err);

	return ret ? ret : objstore_seek(fs->inner, id, off, whence, out, err);
}

static int faulty_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		       size_t max, size_t *n, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_LIST, err);

	return ret ? ret : objstore_list(fs->inner, cursor, ids, max, n, err);
}

static ssize_t faulty_getattr(struct objstore *s, uint64_t id,
			      const char *name, void *buf, size_t size,
			      struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_GETATTR, err);

	return ret ? ret :
		objstore_getattr(fs->inner, id, name, buf, size, err);
}

static int faulty_setattr(struct objstore *s, uint64_t id, const char *name,
			  const void *val, size_t len, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_SETATTR, err);

	return ret ? ret : objstore_setattr(fs->inner, id, name, val, len, err);
}

static int faulty_rmattr(struct objstore *s, uint64_t id, const char *name,
			 struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_RMATTR, err);

	return ret ? ret : objstore_rmattr(fs->inner, id, name, err);
}

static ssize_t faulty_listattr(struct objstore *s, uint64_t id, char *buf,
			       size_t size, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_LISTATTR, err);

	return ret ? ret : objstore_listattr(fs->inner, id, buf, size, err);
}

static int faulty_statfs(struct objstore *s, struct objstore_statfs *st,
			 struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_STATFS, err);

	return ret ? ret : objstore_statfs(fs->inner, st, err);
}

static int faulty_sync(struct objstore *s, struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	int ret = faulty_enter(fs, OBJSTORE_FAULTY_SYNC, err);

	return ret ? ret : objstore_sync(fs->inner, err);
}

/* --- transactions ------------------------------------------------------- */

static enum objstore_faulty_op step_op(enum objstore_step_kind kind)
{
	switch (kind) {
	case OBJSTORE_STEP_CREATE:	return OBJSTORE_FAULTY_CREATE;
	case OBJSTORE_STEP_REMOVE:	return OBJSTORE_FAULTY_REMOVE;
	case OBJSTORE_STEP_WRITE:	return OBJSTORE_FAULTY_WRITE;
	case OBJSTORE_STEP_TRUNCATE:	return OBJSTORE_FAULTY_TRUNCATE;
	case OBJSTORE_STEP_SETATTR:	return OBJSTORE_FAULTY_SETATTR;
	case OBJSTORE_STEP_RMATTR:	return OBJSTORE_FAULTY_RMATTR;
	}
	return OBJSTORE_FAULTY_WRITE;
}

static int faulty_txn_commit(struct objstore *s, const struct objstore_txn *t,
			     struct mixfs_err *err)
{
	struct faulty_store *fs = to_faulty(s);
	struct verdict v = { 0, 0, 0 };
	struct objstore_txn *inner;
	size_t i;
	int ret;

	/* A store that is not atomic fails part-way: let each step meet the
	 * plan as it is applied, through this store's own ops. */
	if (!(fs->base.caps & OBJSTORE_CAP_ATOMIC_TXN))
		return objstore_txn_apply_steps(s, t, err);

	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < t->nsteps && !v.errnum; i++)
		decide_locked(fs, step_op(t->steps[i].kind), &v);
	if (v.delay_ns)
		fs->ctr.delayed++;
	pthread_mutex_unlock(&fs->lock);
	ret = verdict_apply(&v, step_op(t->steps[i - 1].kind), err);
	if (ret)
		return mixfs_err_prefix(err, ret, "transaction step %zu", i);

	inner = objstore_txn_new(fs->inner);
	if (!inner)
		return mixfs_err_set(err, -ENOMEM,
			"faulty: no memory to copy a transaction");
	ret = objstore_txn_copy(inner, t);
	if (ret)
		mixfs_err_set(err, ret, "faulty: copying a transaction failed");
	else
		ret = objstore_txn_commit(inner, err);
	objstore_txn_free(inner);
	return ret;
}

const struct objstore_ops objstore_faulty_ops = {
	.version = 1,
	.scheme = "faulty",
	.open = faulty_open,
	.close = faulty_close,
	.create = faulty_create,
	.create_fresh = faulty_create_fresh,
	.remove = faulty_remove,
	.read = faulty_read,
	.write = faulty_write,
	.truncate = faulty_truncate,
	.punch = faulty_punch,
	.stat = faulty_stat,
	.seek = faulty_seek,
	.list = faulty_list,
	.getattr = faulty_getattr,
	.setattr = faulty_setattr,
	.rmattr = faulty_rmattr,
	.listattr = faulty_listattr,
	.statfs = faulty_statfs,
	.sync = faulty_sync,
	.txn_commit = faulty_txn_commit,
};
