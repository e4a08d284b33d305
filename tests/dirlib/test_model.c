/*
 * test_model.c - random operations on a directory and on a reference
 * model side by side, over every backing of tb.h, plain and casefold.
 *
 * Readdir sessions run through the operations: each resumes from the
 * cookie of the last entry it got, in chunks of random size, with inserts,
 * removes and replaces in between. The check is the cookie guarantee of
 * dir.h: every entry that existed for the whole session is returned
 * exactly once, cookies come back strictly increasing, and every entry
 * returned is in the directory at that moment with its current inode.
 *
 * MIXFS_SEED=N reproduces a run (the seed is printed on stderr and in
 * every failure message); MIXFS_LONG=1 runs 30 times as many steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

/* Steps per case; sanitizers run the same code ~4x slower. */
#if defined(__SANITIZE_ADDRESS__)
#define STEPS		8000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STEPS		8000
#endif
#endif
#ifndef STEPS
#define STEPS		20000
#endif

#define POOL		160
#define MAX_LIVE	(POOL * 2)

struct ment {
	char name[80];
	char key[80];		/* folded (ASCII lower case) in casefold */
	uint64_t ino, cookie;
	unsigned char type;
};

struct start_ent {
	uint64_t cookie;
	bool removed;		/* removed during the session */
	bool seen;
};

struct model {
	struct ment e[MAX_LIVE];
	int n;
	uint64_t max_cookie;
	bool casefold;
	/* readdir session */
	bool active;
	uint64_t pos;
	struct start_ent start[MAX_LIVE];
	int nstart;
};

struct run {
	enum tb_kind kind;
	bool casefold;
	uint64_t seed, rng;
	int step;
	struct tb *t;
	struct dir d;
	struct model m;
	struct mixfs_err err;
	/* chunk being read */
	int chunk_left;
	int chunk_got;
};

#define FAILR(r, ...) do { \
	char what_[512]; \
	snprintf(what_, sizeof(what_), __VA_ARGS__); \
	fail_msg("%s%s, MIXFS_SEED=%llu step %d: %s (%.200s)", \
		 tb_kind_name[(r)->kind], (r)->casefold ? " casefold" : "", \
		 (unsigned long long)(r)->seed, (r)->step, what_, \
		 (r)->err.msg); \
} while (0)

static uint64_t rnd(struct run *r, uint64_t n)
{
	return tb_rand(&r->rng) % n;
}

static void make_name(struct run *r, char *name, char *key)
{
	unsigned i = (unsigned)rnd(r, POOL);
	int len;

	/* some long names so that linear blocks fill and split unevenly */
	len = snprintf(name, 80, "%s%u", i % 5 ? "file" : "a-longer-file-"
		       "name-for-record-sizes-", i);
	for (int k = 0; k < len; k++) {
		key[k] = r->casefold ? (char)tolower((unsigned char)name[k]) :
			 name[k];
		if (r->casefold && rnd(r, 3) == 0)
			name[k] = (char)toupper((unsigned char)name[k]);
	}
	key[len] = '\0';
}

static int model_find(const struct model *m, const char *key)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].key, key))
			return i;
	return -1;
}

static struct start_ent *start_find(struct model *m, uint64_t cookie)
{
	for (int i = 0; i < m->nstart; i++)
		if (m->start[i].cookie == cookie)
			return &m->start[i];
	return NULL;
}

static void op_insert(struct run *r)
{
	char name[80], key[80];
	struct dir_entry e;
	int i, ret;
	uint64_t ino = 1 + rnd(r, 1u << 30);
	unsigned char type = rnd(r, 4) ? DT_REG : DT_DIR;

	make_name(r, name, key);
	i = model_find(&r->m, key);
	ret = dir_insert(&r->d, name, strlen(name), ino, type, &r->err);
	if (ret != (i >= 0 ? -EEXIST : 0))
		FAILR(r, "insert \"%s\" returned %d, model has it: %d", name,
		      ret, i >= 0);
	mixfs_err_clear(&r->err);
	if (ret)
		return;
	ret = dir_lookup(&r->d, name, strlen(name), &e, &r->err);
	if (ret || e.ino != ino || e.cookie <= r->m.max_cookie ||
	    e.cookie > DIR_COOKIE_MAX)
		FAILR(r, "after insert \"%s\": lookup %d, ino %llu, cookie "
		      "%llu (previous largest %llu)", name, ret,
		      (unsigned long long)e.ino, (unsigned long long)e.cookie,
		      (unsigned long long)r->m.max_cookie);
	r->m.max_cookie = e.cookie;
	i = r->m.n++;
	strcpy(r->m.e[i].name, name);
	strcpy(r->m.e[i].key, key);
	r->m.e[i].ino = ino;
	r->m.e[i].type = type;
	r->m.e[i].cookie = e.cookie;
}

static void op_remove(struct run *r)
{
	char name[80], key[80];
	struct dir_entry e;
	int i, ret;

	make_name(r, name, key);
	i = model_find(&r->m, key);
	ret = dir_remove(&r->d, name, strlen(name), &e, &r->err);
	if (ret != (i >= 0 ? 0 : -ENOENT))
		FAILR(r, "remove \"%s\" returned %d, model has it: %d", name,
		      ret, i >= 0);
	mixfs_err_clear(&r->err);
	if (ret)
		return;
	if (e.ino != r->m.e[i].ino || e.cookie != r->m.e[i].cookie ||
	    strcmp(e.name, r->m.e[i].name))
		FAILR(r, "remove \"%s\" returned \"%s\" ino %llu cookie %llu, "
		      "model \"%s\" ino %llu cookie %llu", name, e.name,
		      (unsigned long long)e.ino, (unsigned long long)e.cookie,
		      r->m.e[i].name, (unsigned long long)r->m.e[i].ino,
		      (unsigned long long)r->m.e[i].cookie);
	if (r->m.active) {
		struct start_ent *s = start_find(&r->m, e.cookie);

		if (s)
			s->removed = true;
	}
	r->m.e[i] = r->m.e[--r->m.n];
}

static void op_replace(struct run *r)
{
	char name[80], key[80];
	struct dir_entry old;
	uint64_t ino = 1 + rnd(r, 1u << 30);
	int i, ret;

	make_name(r, name, key);
	i = model_find(&r->m, key);
	ret = dir_replace(&r->d, name, strlen(name), ino, DT_REG, &old,
			  &r->err);
	if (ret != (i >= 0 ? 0 : -ENOENT))
		FAILR(r, "replace \"%s\" returned %d, model has it: %d", name,
		      ret, i >= 0);
	mixfs_err_clear(&r->err);
	if (ret)
		return;
	if (old.ino != r->m.e[i].ino || old.cookie != r->m.e[i].cookie)
		FAILR(r, "replace \"%s\": old ino %llu cookie %llu, model "
		      "%llu/%llu", name, (unsigned long long)old.ino,
		      (unsigned long long)old.cookie,
		      (unsigned long long)r->m.e[i].ino,
		      (unsigned long long)r->m.e[i].cookie);
	r->m.e[i].ino = ino;
	r->m.e[i].type = DT_REG;
}

static void op_lookup_and_count(struct run *r)
{
	char name[80], key[80];
	struct dir_entry e;
	uint64_t count;
	int i, ret;

	make_name(r, name, key);
	i = model_find(&r->m, key);
	ret = dir_lookup(&r->d, name, strlen(name), &e, &r->err);
	if (ret != (i >= 0 ? 0 : -ENOENT) ||
	    (i >= 0 && (e.ino != r->m.e[i].ino ||
			strcmp(e.name, r->m.e[i].name))))
		FAILR(r, "lookup \"%s\" returned %d (\"%s\", ino %llu), model "
		      "has it: %d", name, ret, ret ? "" : e.name,
		      (unsigned long long)(ret ? 0 : e.ino), i >= 0);
	mixfs_err_clear(&r->err);
	ret = dir_count(&r->d, &count, &r->err);
	if (ret || count != (uint64_t)r->m.n)
		FAILR(r, "count returned %d, %llu entries, model %d", ret,
		      (unsigned long long)count, r->m.n);
}

static int chunk_fn(void *arg, const struct dir_entry *e)
{
	struct run *r = arg;
	struct model *m = &r->m;
	struct start_ent *s;
	int i;

	if (e->cookie <= m->pos)
		FAILR(r, "readdir returned cookie %llu after %llu",
		      (unsigned long long)e->cookie,
		      (unsigned long long)m->pos);
	for (i = 0; i < m->n; i++)
		if (m->e[i].cookie == e->cookie)
			break;
	if (i == m->n || strcmp(m->e[i].name, e->name) ||
	    m->e[i].ino != e->ino || m->e[i].type != e->type)
		FAILR(r, "readdir returned \"%s\" cookie %llu ino %llu which "
		      "the model does not have", e->name,
		      (unsigned long long)e->cookie,
		      (unsigned long long)e->ino);
	s = start_find(m, e->cookie);
	if (s)
		s->seen = true;
	m->pos = e->cookie;
	r->chunk_got++;
	return --r->chunk_left == 0 ? 1 : 0;
}

/* Read the next chunk of the session; ends it when entries run out. */
static void op_readdir_chunk(struct run *r)
{
	struct model *m = &r->m;
	int ret;

	if (!m->active) {
		m->active = true;
		m->pos = DIR_COOKIE_FIRST - 1;
		m->nstart = m->n;
		for (int i = 0; i < m->n; i++)
			m->start[i] = (struct start_ent){ .cookie = m->e[i].cookie };
	}
	r->chunk_left = 1 + (int)rnd(r, 40);
	r->chunk_got = 0;
	ret = dir_iterate(&r->d, m->pos, chunk_fn, r, &r->err);
	if (ret != 0 && ret != 1)
		FAILR(r, "iterate from %llu returned %d",
		      (unsigned long long)m->pos, ret);
	if (ret == 1)
		return;
	m->active = false;
	for (int i = 0; i < m->nstart; i++)
		if (!m->start[i].removed && !m->start[i].seen)
			FAILR(r, "readdir session missed the entry with cookie "
			      "%llu, which existed throughout",
			      (unsigned long long)m->start[i].cookie);
}

static void reopen(struct run *r)
{
	tb_commit(r->t, rnd(r, 2) == 0);
	dir_release(&r->d);
	if (tb_init(r->t, 0, &r->d, &r->err))
		FAILR(r, "reopen failed");
}

static void run_model(enum tb_kind kind, bool casefold)
{
	struct run *r = calloc(1, sizeof(*r));
	int steps = (tb_long() ? 30 : 1) *
		    (kind == TB_KV_ROCKSDB ? STEPS / 2 : STEPS);

	r->kind = kind;
	r->casefold = casefold;
	r->seed = r->rng = tb_seed(tb_kind_name[kind]);
	r->t = tb_open(kind);
	r->m.casefold = casefold;
	if (tb_create(r->t, 0, casefold ? DIR_OPT_CASEFOLD : 0, &r->d,
		      &r->err))
		FAILR(r, "create failed");
	for (r->step = 0; r->step < steps; r->step++) {
		unsigned op = (unsigned)rnd(r, 100);

		/* fill up early on, then hover around half the pool */
		if (op < (r->m.n < POOL / 2 ? 45u : 30u))
			op_insert(r);
		else if (op < 55)
			op_remove(r);
		else if (op < 62)
			op_replace(r);
		else if (op < 75)
			op_lookup_and_count(r);
		else if (op < 98)
			op_readdir_chunk(r);
		else
			reopen(r);
	}
	/* finish the session, then one full listing equals the model */
	while (r->m.active)
		op_readdir_chunk(r);
	op_readdir_chunk(r);
	while (r->m.active)
		op_readdir_chunk(r);
	dir_release(&r->d);
	tb_close(r->t);
	free(r);
}

static void model_linear_mem(void **s) { (void)s; run_model(TB_LINEAR_MEM, false); }
static void model_linear_mem_casefold(void **s) { (void)s; run_model(TB_LINEAR_MEM, true); }
static void model_linear_objstore(void **s) { (void)s; run_model(TB_LINEAR_OBJ, false); }
static void model_linear_objstore_casefold(void **s) { (void)s; run_model(TB_LINEAR_OBJ, true); }
static void model_kv_mem(void **s) { (void)s; run_model(TB_KV_MEM, false); }
static void model_kv_mem_casefold(void **s) { (void)s; run_model(TB_KV_MEM, true); }
static void model_kv_rocksdb(void **s) { (void)s; run_model(TB_KV_ROCKSDB, false); }
static void model_kv_rocksdb_casefold(void **s) { (void)s; run_model(TB_KV_ROCKSDB, true); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_linear_mem),
		cmocka_unit_test(model_linear_mem_casefold),
		cmocka_unit_test(model_linear_objstore),
		cmocka_unit_test(model_linear_objstore_casefold),
		cmocka_unit_test(model_kv_mem),
		cmocka_unit_test(model_kv_mem_casefold),
		cmocka_unit_test(model_kv_rocksdb),
		cmocka_unit_test(model_kv_rocksdb_casefold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
