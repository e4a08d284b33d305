/*
 * test_rados.c - what only the rados: backend promises, on a real Ceph
 * cluster (tests/objstore/ceph_cluster.sh run starts one and sets
 * MIXFS_RADOS_URI, MIXFS_CEPH_DIR and MIXFS_CEPH_SCRIPT): one client at a
 * time per store, and a forced open that breaks a dead client's lock and
 * says whose; counters recounted after a client died; names in RADOS made
 * from ids only, data striped into pieces that come and go with the data;
 * a put transaction all or nothing; records evicted from the cache while
 * other threads read them; bounded waits when the OSD or the whole cluster
 * is gone, and the data back when the OSD returns; cephx users; URI
 * mistakes said plainly.
 *
 * The shared behaviour (reads, writes, attributes, listing) is proven by
 * test_conformance, which runs on rados: in the same cluster. Each case
 * uses a RADOS namespace of its own.
 *
 * Without a cluster (the Ceph packages missing, outside CI) the program
 * reports itself skipped; ceph_cluster.sh fails instead when CI=true.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "objstore/objstore.h"
#include "objstore/objstore_rados.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

#define CHECK(call) do {						\
	long r_ = (long)(call);						\
	if (r_ < 0)							\
		fail_msg("%s failed: %s", #call, strerror((int)-r_));	\
} while (0)

#define CHECK_ERR(call, want) do {					\
	long r_ = (long)(call);						\
	if (r_ != (want))						\
		fail_msg("%s returned %ld (%s), expected %s", #call, r_,	\
			 r_ < 0 ? strerror((int)-r_) : "success", #want);	\
} while (0)

static const char *base_uri;	/* MIXFS_RADOS_URI: rados:POOL?conf=... */
static long run_id;		/* the test's pid, also in forked children */

/* The URI of namespace @ns (made unique per run) plus @extra params. */
static void uri_of(char *buf, size_t cap, const char *ns, const char *extra)
{
	snprintf(buf, cap, "%s%cnamespace=test_rados-%ld-%s%s", base_uri,
		 strchr(base_uri, '?') ? '&' : '?', run_id, ns, extra);
}

static struct objstore *open_ok(const char *ns, const char *extra,
				unsigned flags)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;
	char uri[1024];
	int ret;

	uri_of(uri, sizeof(uri), ns, extra);
	ret = objstore_open(uri, flags, &s, &err);
	if (ret)
		fail_msg("opening %s: %s", uri, mixfs_err_msg(&err, ret));
	return s;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

/* Run the cluster script: ceph_cluster.sh @verb MIXFS_CEPH_DIR. */
static void cluster(const char *verb)
{
	char cmd[1024];
	int ret;

	snprintf(cmd, sizeof(cmd), "'%s' %s '%s' >&2", getenv("MIXFS_CEPH_SCRIPT"),
		 verb, getenv("MIXFS_CEPH_DIR"));
	ret = system(cmd);
	if (ret)
		fail_msg("'%s' exited with %d", cmd, ret);
}

/* --- exclusive use ------------------------------------------------------- */

static void second_open_is_refused_naming_the_holder(void **state)
{
	struct objstore *a = open_ok("busy", "", OBJSTORE_OPEN_CREATE), *b;
	struct mixfs_err err = { 0 };
	char uri[1024], pid[32];

	(void)state;
	uri_of(uri, sizeof(uri), "busy", "");
	CHECK_ERR(objstore_open(uri, OBJSTORE_OPEN_CREATE, &b, &err), -EBUSY);
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	if (!strstr(err.msg, "in use by client.") || !strstr(err.msg, pid))
		fail_msg("the refusal does not name the holder (client and %s): "
			 "'%s'", pid, err.msg);
	assert_null(objstore_rados_broken_lock(a));
	CHECK(objstore_close(a));
	/* Closed: the next open gets the store. */
	b = open_ok("busy", "", 0);
	CHECK(objstore_close(b));
}

/*
 * A child process opens the store, creates and writes objects, and dies
 * without closing: its lock stays, and the counters in the superblock are
 * stale. The parent is refused, then forces its way in, is told whose lock
 * it broke, and finds the objects and space the child left.
 */
static void force_breaks_a_dead_clients_lock_and_recounts(void **state)
{
	struct objstore_statfs sf;
	struct mixfs_err err = { 0 };
	struct objstore *s;
	const char *note;
	char uri[1024], pid[32], c;
	int fds[2], status, ret;
	pid_t child;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		unsigned char *buf = malloc(5 * MiB);
		struct objstore *cs;

		/* Die with the test, whatever becomes of it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		uri_of(uri, sizeof(uri), "dead", "&piece=1M");
		if (!buf || objstore_open(uri, OBJSTORE_OPEN_CREATE, &cs, NULL))
			_exit(1);
		fill(buf, 5 * MiB, 1);
		if (objstore_create(cs, 1, NULL) || objstore_create(cs, 2, NULL) ||
		    objstore_create(cs, 3, NULL) ||
		    objstore_write(cs, 1, 0, buf, 5 * MiB, NULL) ||
		    objstore_write(cs, 2, 3 * MiB, buf, 100 * KiB, NULL))
			_exit(2);
		if (write(fds[1], "r", 1) != 1)
			_exit(3);
		pause();	/* killed here, lock held */
		_exit(4);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		waitpid(child, &status, 0);
		fail_msg("the child could not set up its store (exit %d)",
			 WEXITSTATUS(status));
	}
	close(fds[0]);
	uri_of(uri, sizeof(uri), "dead", "");
	ret = objstore_open(uri, 0, &s, &err);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	snprintf(pid, sizeof(pid), "pid %ld", (long)child);
	if (ret != -EBUSY || !strstr(err.msg, pid))
		fail_msg("opening a store the child holds returned %d: '%s' "
			 "(expected -EBUSY naming %s)", ret, err.msg, pid);

	s = open_ok("dead", "&force=1", 0);
	note = objstore_rados_broken_lock(s);
	if (!note || !strstr(note, pid) || !strstr(note, "client."))
		fail_msg("the forced open does not say it broke the child's "
			 "lock (%s): '%s'", pid, note ? note : "(nothing)");
	/* Recounted from RADOS: 5 MiB + 100 KiB (two 16 KiB granules of a
	 * 1 MiB piece: 112 KiB), three objects. */
	CHECK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.objects, 3);
	if (sf.used != 5 * MiB + 112 * KiB)
		fail_msg("after the recount statfs says %" PRIu64 " bytes used, "
			 "expected %u", sf.used, 5 * MiB + 112 * KiB);
	CHECK(objstore_close(s));
	/* A clean close leaves no lock and no recount for the next one. */
	s = open_ok("dead", "", 0);
	assert_null(objstore_rados_broken_lock(s));
	CHECK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.objects, 3);
	CHECK(objstore_close(s));
}

/* --- layout in RADOS ------------------------------------------------------ */

static int rados_exists(rados_ioctx_t io, const char *oid)
{
	uint64_t size;
	time_t mtime;

	return rados_stat(io, oid, &size, &mtime);
}

static void pieces_follow_the_data_and_names_come_from_ids(void **state)
{
	struct objstore *s = open_ok("pieces", "&piece=64K",
				     OBJSTORE_OPEN_CREATE);
	rados_ioctx_t io = objstore_rados_ioctx(s);
	unsigned char *buf = malloc(1 * MiB), *back = malloc(1 * MiB);
	rados_list_ctx_t ls;
	const char *name;
	size_t n = 0;
	int ret;

	(void)state;
	assert_non_null(io);
	assert_non_null(buf);
	assert_non_null(back);
	fill(buf, 1 * MiB, 7);
	CHECK(objstore_create(s, 0xabc, NULL));
	CHECK(objstore_setattr(s, 0xabc, "user.name/with:odd chars", "v", 1,
			       NULL));
	/* 1 MiB at 100 KiB: pieces 1..17 of 64 KiB, sent in parallel. */
	CHECK(objstore_write(s, 0xabc, 100 * KiB, buf, 1 * MiB, NULL));
	CHECK_ERR(objstore_read(s, 0xabc, 100 * KiB, back, 1 * MiB, NULL),
		  1 * MiB);
	assert_memory_equal(back, buf, 1 * MiB);
	CHECK(rados_exists(io, "o.0000000000000abc"));
	CHECK(rados_exists(io, "o.0000000000000abc.1"));
	CHECK(rados_exists(io, "o.0000000000000abc.11"));
	CHECK_ERR(rados_exists(io, "o.0000000000000abc.12"), -ENOENT);
	/* Names in the namespace: the superblock and the object's pieces. */
	assert_int_equal(rados_nobjects_list_open(io, &ls), 0);
	while ((ret = rados_nobjects_list_next(ls, &name, NULL, NULL)) == 0) {
		if (strcmp(name, "mixfs.super") &&
		    strncmp(name, "o.0000000000000abc", 18))
			fail_msg("unexpected RADOS object '%s'", name);
		n++;
	}
	rados_nobjects_list_close(ls);
	assert_int_equal(n, 1 + 18);	/* super, head, pieces 1..17 */
	/* Truncating drops the pieces past the end, punching those covered. */
	CHECK(objstore_truncate(s, 0xabc, 600 * KiB, NULL));
	CHECK_ERR(rados_exists(io, "o.0000000000000abc.a"), -ENOENT);
	CHECK(rados_exists(io, "o.0000000000000abc.9"));
	CHECK(objstore_punch(s, 0xabc, 128 * KiB, 128 * KiB, NULL));
	CHECK_ERR(rados_exists(io, "o.0000000000000abc.2"), -ENOENT);
	CHECK_ERR(rados_exists(io, "o.0000000000000abc.3"), -ENOENT);
	CHECK(rados_exists(io, "o.0000000000000abc.4"));
	CHECK_ERR(objstore_read(s, 0xabc, 0, back, 1 * MiB, NULL), 600 * KiB);
	for (size_t i = 0; i < 600 * KiB; i++) {
		unsigned char want = i < 100 * KiB ? 0 :
			(i >= 128 * KiB && i < 256 * KiB) ? 0 : buf[i - 100 * KiB];

		if (back[i] != want)
			fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, back[i],
				 want);
	}
	/* Removing takes every piece with it. */
	CHECK(objstore_remove(s, 0xabc, NULL));
	CHECK_ERR(rados_exists(io, "o.0000000000000abc"), -ENOENT);
	CHECK_ERR(rados_exists(io, "o.0000000000000abc.4"), -ENOENT);
	CHECK(objstore_close(s));
	free(buf);
	free(back);
}

static void capacity_is_size_or_the_pool_quota(void **state)
{
	struct objstore_statfs sf;
	struct objstore *s;

	(void)state;
	s = open_ok("cap", "", OBJSTORE_OPEN_CREATE);
	CHECK(objstore_statfs(s, &sf, NULL));
	/* ceph_cluster.sh gives the pool an 8 GiB quota. */
	assert_int_equal(sf.capacity, UINT64_C(8) << 30);
	CHECK(objstore_close(s));
	s = open_ok("cap", "&size=5M", 0);
	CHECK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.capacity, 5 * MiB);
	CHECK(objstore_close(s));
	s = open_ok("cap", "", 0);	/* size= is kept */
	CHECK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.capacity, 5 * MiB);
	CHECK(objstore_close(s));
}

static void uri_mistakes_are_named(void **state)
{
	static const struct { const char *uri_tail; int want; const char *says; }
	cases[] = {
		{ "&op_timeout=soon", -EINVAL, "op_timeout" },
		{ "&piece=3M", -EINVAL, "piece" },
		{ "&colour=blue", -EINVAL, "colour" },
		{ "&size=lots", -EINVAL, "size" },
	};
	struct mixfs_err err;
	struct objstore *s;
	char uri[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		uri_of(uri, sizeof(uri), "bad", cases[i].uri_tail);
		CHECK_ERR(objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err),
			  cases[i].want);
		if (!strstr(err.msg, cases[i].says))
			fail_msg("%s: the message does not name '%s': '%s'", uri,
				 cases[i].says, err.msg);
	}
	memset(&err, 0, sizeof(err));
	CHECK_ERR(objstore_open("rados:", 0, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no pool"));
	/* A pool that does not exist, a store that does not exist. */
	memset(&err, 0, sizeof(err));
	snprintf(uri, sizeof(uri), "rados:nosuchpool%s", strchr(base_uri, '?'));
	CHECK_ERR(objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no pool 'nosuchpool'"));
	memset(&err, 0, sizeof(err));
	uri_of(uri, sizeof(uri), "absent", "");
	CHECK_ERR(objstore_open(uri, 0, &s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no store"));
	s = open_ok("absent", "", OBJSTORE_OPEN_CREATE);
	CHECK(objstore_close(s));
	memset(&err, 0, sizeof(err));
	CHECK_ERR(objstore_open(uri, OBJSTORE_OPEN_CREATE | OBJSTORE_OPEN_EXCL,
				&s, &err), -EEXIST);
}

/* --- transactions ---------------------------------------------------------- */

/* A put (create, write in the first piece, attributes) is one RADOS op:
 * all or nothing, unlike transactions in general on rados:. */
static void put_transaction_is_all_or_nothing(void **state)
{
	struct objstore *s = open_ok("txn", "&size=1M", OBJSTORE_OPEN_CREATE);
	unsigned char *buf = malloc(2 * MiB), *back = malloc(2 * MiB);
	struct mixfs_err err = { 0 };
	struct objstore_statfs sf;
	struct objstore_stat st;
	struct objstore_txn *t;
	char val[4];

	(void)state;
	assert_non_null(buf);
	assert_non_null(back);
	fill(buf, 2 * MiB, 5);
	t = objstore_txn_new(s);
	assert_non_null(t);
	CHECK(objstore_txn_create(t, 5));
	CHECK(objstore_txn_write(t, 5, 0, buf, 100 * KiB));
	CHECK(objstore_txn_setattr(t, 5, "k", "v", 1));
	CHECK(objstore_txn_commit(t, NULL));
	objstore_txn_free(t);
	CHECK_ERR(objstore_read(s, 5, 0, back, 2 * MiB, NULL), 100 * KiB);
	assert_memory_equal(back, buf, 100 * KiB);
	CHECK_ERR(objstore_getattr(s, 5, "k", val, sizeof(val), NULL), 1);
	CHECK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.objects, 1);
	assert_int_equal(sf.used, 128 * KiB);	/* two 64 KiB granules */

	/* The id is taken: nothing of the second put happens. */
	t = objstore_txn_new(s);
	assert_non_null(t);
	CHECK(objstore_txn_create(t, 5));
	CHECK(objstore_txn_write(t, 5, 0, buf + 1, 200 * KiB));
	CHECK_ERR(objstore_txn_commit(t, &err), -EEXIST);
	objstore_txn_free(t);
	if (!strstr(err.msg, "step 1"))
		fail_msg("the failed put does not name its step: '%s'", err.msg);
	CHECK(objstore_stat(s, 5, &st, NULL));
	assert_int_equal(st.size, 100 * KiB);
	CHECK_ERR(objstore_read(s, 5, 0, back, 2 * MiB, NULL), 100 * KiB);
	assert_memory_equal(back, buf, 100 * KiB);

	/* Past the capacity: not even the create happens. */
	t = objstore_txn_new(s);
	assert_non_null(t);
	CHECK(objstore_txn_create(t, 6));
	CHECK(objstore_txn_write(t, 6, 0, buf, 2 * MiB));
	CHECK_ERR(objstore_txn_commit(t, NULL), -ENOSPC);
	objstore_txn_free(t);
	CHECK_ERR(objstore_stat(s, 6, &st, NULL), -ENOENT);
	CHECK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.objects, 1);
	assert_int_equal(sf.used, 128 * KiB);
	CHECK(objstore_close(s));
	free(buf);
	free(back);
}

/* --- the record cache -------------------------------------------------------- */

struct reader {
	struct objstore *s;
	int index;
	char failure[200];
};

/* Ids that are multiples of 64 share one stripe of the record cache, whose
 * 64 places they overflow: readers keep evicting each other's records. */
#define EVICT_OBJS 100

static void *evict_reader(void *arg)
{
	struct reader *rd = arg;
	uint64_t x = (uint64_t)rd->index * 7919 + 1;
	unsigned char back[64], want[64];
	int i;

	for (i = 0; i < 300 && !rd->failure[0]; i++) {
		uint64_t k = (x = x * 6364136223846793005ull + 1) >> 33;
		uint64_t id = 64 * (k % EVICT_OBJS + 1);
		ssize_t n = objstore_read(rd->s, id, 0, back, sizeof(back), NULL);

		fill(want, sizeof(want), id);
		if (n != (ssize_t)sizeof(back) || memcmp(back, want, sizeof(want)))
			snprintf(rd->failure, sizeof(rd->failure), "reader %d: "
				 "object %" PRIu64 " read %zd bytes, or wrong ones",
				 rd->index, id, n);
	}
	return NULL;
}

static void records_evicted_under_readers_stay_sound(void **state)
{
	struct objstore *s = open_ok("evict", "", OBJSTORE_OPEN_CREATE);
	struct reader rd[4];
	pthread_t th[4];
	unsigned char buf[64];
	uint64_t k;
	int i;

	(void)state;
	for (k = 1; k <= EVICT_OBJS; k++) {
		struct objstore_txn *t = objstore_txn_new(s);

		assert_non_null(t);
		fill(buf, sizeof(buf), 64 * k);
		CHECK(objstore_txn_create(t, 64 * k));
		CHECK(objstore_txn_write(t, 64 * k, 0, buf, sizeof(buf)));
		CHECK(objstore_txn_commit(t, NULL));
		objstore_txn_free(t);
	}
	for (i = 0; i < 4; i++) {
		rd[i] = (struct reader){ .s = s, .index = i };
		assert_int_equal(pthread_create(&th[i], NULL, evict_reader, &rd[i]),
				 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++)
		if (rd[i].failure[0])
			fail_msg("%s", rd[i].failure);
	CHECK(objstore_close(s));
}

/* --- bounded waits --------------------------------------------------------- */

/* A monitor address nobody answers at: open fails within op_timeout. */
static void dead_cluster_fails_within_the_timeout(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct mixfs_err err = { 0 };
	char conf[256], uri[512];
	struct objstore *s;
	double t0, took;
	FILE *f;
	int ret;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/mixfs-deadceph-%ld.conf",
		 tmp ? tmp : "/tmp", (long)getpid());
	f = fopen(conf, "w");
	assert_non_null(f);
	/* Port 9 (discard) on loopback: refused at once, or never answered. */
	fprintf(f, "[global]\nmon host = v2:127.0.0.1:9\n"
		"auth client required = none\n");
	fclose(f);
	snprintf(uri, sizeof(uri), "rados:mixfs?conf=%s&op_timeout=2", conf);
	t0 = now();
	ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err);
	took = now() - t0;
	unlink(conf);
	if (ret == 0)
		fail_msg("opening a store on a dead cluster succeeded");
	if (took > 2 + 3)
		fail_msg("opening a store on a dead cluster took %.1f s "
			 "(op_timeout=2)", took);
	if (ret != -ETIMEDOUT && ret != -EIO && ret != -ENOTCONN)
		fail_msg("opening a dead cluster returned %d (%s): '%s'", ret,
			 strerror(-ret), err.msg);
}

/* A thread writing all along, timing every call. */
struct busy_writer {
	struct objstore *s;
	const unsigned char *buf;
	volatile int stop;
	double longest;
	int ok, failed;
};

static void *busy_main(void *arg)
{
	struct busy_writer *w = arg;
	uint64_t i;

	for (i = 0; !w->stop; i++) {
		double t0 = now(), took;
		int ret = objstore_write(w->s, 3, (i % 8) * 256 * KiB, w->buf,
					 256 * KiB, NULL);

		took = now() - t0;
		if (took > w->longest)
			w->longest = took;
		if (ret)
			w->failed++;
		else
			w->ok++;
	}
	return NULL;
}

/*
 * Stop the OSD while a thread is writing: calls fail within op_timeout,
 * with no hang; start it again: calls work again, and what was written
 * before is there.
 */
static void osd_stop_fails_calls_in_time_and_restart_recovers(void **state)
{
	struct objstore *s = open_ok("osd", "&op_timeout=3&piece=256K",
				     OBJSTORE_OPEN_CREATE);
	unsigned char *buf = malloc(2 * MiB), *back = malloc(2 * MiB);
	struct mixfs_err err = { 0 };
	struct busy_writer busy = { 0 };
	double t0, took, start = now();
	pthread_t writer;
	int ret, tries;

	(void)state;
	assert_non_null(buf);
	assert_non_null(back);
	fill(buf, 2 * MiB, 3);
	CHECK(objstore_create(s, 1, NULL));
	CHECK(objstore_write(s, 1, 0, buf, 2 * MiB, NULL));
	CHECK(objstore_setattr(s, 1, "k", "v", 1, NULL));
	CHECK(objstore_sync(s, NULL));
	CHECK(objstore_create(s, 3, NULL));
	busy.s = s;
	busy.buf = buf;
	assert_int_equal(pthread_create(&writer, NULL, busy_main, &busy), 0);
	while (busy.ok < 3 && now() - start < 10)
		usleep(10000);

	cluster("osd-stop");
	while (busy.failed < 1 && now() - start < 20)
		usleep(10000);
	t0 = now();
	ret = objstore_write(s, 1, 4 * MiB, buf, 1 * MiB, &err);
	took = now() - t0;
	if (ret == 0)
		fail_msg("a write with the OSD stopped succeeded");
	if (took > 3 + 3)
		fail_msg("a write with the OSD stopped took %.1f s to fail "
			 "(op_timeout=3)", took);
	if (!err.msg[0])
		fail_msg("the failed write left no message");
	t0 = now();
	ret = (int)objstore_read(s, 1, 0, back, 1 * MiB, NULL);
	took = now() - t0;
	if (ret >= 0 || took > 3 + 3)
		fail_msg("a read with the OSD stopped returned %d after %.1f s",
			 ret, took);

	cluster("osd-start");
	/* Peering takes a few seconds: retry, bounded. */
	for (tries = 0; tries < 30; tries++) {
		ret = objstore_write(s, 2, 0, "x", 1, NULL);
		if (ret == -ENOENT)
			ret = objstore_create(s, 2, NULL);
		if (ret == 0)
			break;
	}
	busy.stop = 1;
	pthread_join(writer, NULL);
	if (ret)
		fail_msg("the store did not work again after the OSD restarted: "
			 "%s", strerror(-ret));
	if (busy.ok < 3 || busy.failed < 1)
		fail_msg("the writing thread saw %d writes succeed and %d fail: "
			 "expected some of each", busy.ok, busy.failed);
	if (busy.longest > 3 + 3)
		fail_msg("a write while the OSD stopped took %.1f s "
			 "(op_timeout=3)", busy.longest);
	CHECK_ERR(objstore_read(s, 1, 0, back, 2 * MiB, NULL), 2 * MiB);
	if (memcmp(back, buf, 2 * MiB))
		fail_msg("the data written before the OSD stopped changed");
	CHECK_ERR(objstore_getattr(s, 1, "k", back, 8, NULL), 1);
	CHECK(objstore_close(s));
	free(buf);
	free(back);
}

/* --- cephx ------------------------------------------------------------------ */

/*
 * A cluster of its own with authentication on: the pool-limited user
 * opens with id= and keyring=, a wrong keyring is refused with a reason.
 */
static void cephx_user_with_a_keyring_opens(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct mixfs_err err = { 0 };
	char dir[256], cmd[1024], uri[1024];
	struct objstore *s;
	ssize_t n;
	char back[8];
	int ret;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/mixfs-cephx-%ld", tmp ? tmp : "/tmp",
		 (long)getpid());
	snprintf(cmd, sizeof(cmd), "'%s' start '%s' cephx >/dev/null",
		 getenv("MIXFS_CEPH_SCRIPT"), dir);
	if (system(cmd))
		fail_msg("starting a cephx cluster failed: %s", cmd);
	snprintf(uri, sizeof(uri), "rados:mixfs?conf=%s/ceph.conf&id=mixfs&"
		 "keyring=%s/client.mixfs.keyring&namespace=x", dir, dir);
	ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err);
	if (ret == 0) {
		ret = objstore_create(s, 9, &err);
		if (!ret)
			ret = objstore_write(s, 9, 0, "secret", 6, &err);
		n = objstore_read(s, 9, 0, back, sizeof(back), &err);
		if (!ret && n != 6)
			ret = n < 0 ? (int)n : -EIO;
		objstore_close(s);
	}
	if (ret == 0) {
		memset(&err, 0, sizeof(err));
		snprintf(uri, sizeof(uri), "rados:mixfs?conf=%s/ceph.conf&"
			 "id=mixfs&keyring=%s/client.admin.keyring&namespace=x"
			 "&op_timeout=3", dir, dir);
		ret = objstore_open(uri, 0, &s, &err) == 0 ? -EINVAL : 0;
		if (ret)
			objstore_close(s);
	}
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s'", getenv("MIXFS_CEPH_SCRIPT"),
		 dir);
	if (system(cmd))
		fail_msg("stopping the cephx cluster failed");
	if (ret == -EINVAL)
		fail_msg("a wrong keyring was accepted");
	if (ret)
		fail_msg("client.mixfs with its keyring: %s",
			 mixfs_err_msg(&err, ret));
	if (!strstr(err.msg, "client.mixfs"))
		fail_msg("the refusal of a wrong keyring does not name the user: "
			 "'%s'", err.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(second_open_is_refused_naming_the_holder),
		cmocka_unit_test(force_breaks_a_dead_clients_lock_and_recounts),
		cmocka_unit_test(pieces_follow_the_data_and_names_come_from_ids),
		cmocka_unit_test(capacity_is_size_or_the_pool_quota),
		cmocka_unit_test(uri_mistakes_are_named),
		cmocka_unit_test(put_transaction_is_all_or_nothing),
		cmocka_unit_test(records_evicted_under_readers_stay_sound),
		cmocka_unit_test(dead_cluster_fails_within_the_timeout),
		cmocka_unit_test(osd_stop_fails_calls_in_time_and_restart_recovers),
		cmocka_unit_test(cephx_user_with_a_keyring_opens),
	};

	base_uri = getenv("MIXFS_RADOS_URI");
	run_id = (long)getpid();
	if (!base_uri || !getenv("MIXFS_CEPH_DIR") ||
	    !getenv("MIXFS_CEPH_SCRIPT")) {
		printf("1..0 # SKIP no test cluster (run under "
		       "tests/objstore/ceph_cluster.sh run)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
