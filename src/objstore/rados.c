/*
 * rados.c - the rados: backend: objects in a Ceph RADOS pool, through
 * librados's C API. This file holds the store: connecting with bounded
 * waits, the exclusive lock, the superblock and its counters, creating
 * and removing objects, attributes, listing and statfs. An object's bytes
 * are in rados_data.c; the layout in the pool in rados_internal.h; the URI
 * in objstore_rados.h.
 *
 * Names in RADOS come from the 64-bit id only, never from anything a user
 * typed, so no name can collide with the store's own objects.
 *
 * Capabilities, honestly: PERSISTENT; DURABLE_SYNC, since an OSD
 * acknowledges a write only once every replica has it on stable storage
 * (true of BlueStore; the tests' memstore OSD keeps data in memory and
 * saves it at a clean shutdown only). Not ATOMIC_TXN: one RADOS write op on
 * one RADOS object is atomic, and this backend uses that (a write within an
 * object's first piece, its record and its piece map go in one op), but
 * nothing in RADOS makes ops on several objects atomic together, so
 * transactions go step by step through objstore.c's fallback, except one
 * shaped like a put (create, writes in the first piece, attributes), which
 * is one op. Not CHECKSUM: the OSDs checksum data (BlueStore does), but a
 * mismatch reaches a client as -EIO, not -EBADMSG.
 *
 * Counters: the capacity check needs the bytes in use at every write. The
 * exclusive lock makes this client the only writer, so the counters live
 * in memory and go to the superblock at sync and close; the superblock's
 * clean flag is cleared while the store is open, and an open that finds it
 * cleared (the last client died) recounts by walking the namespace.
 *
 * Listing: RADOS lists a namespace in hash order, not by id, so a listing
 * that starts at cursor 0 takes a sorted snapshot of every id and the
 * calls that follow page through it. An object that exists for the whole
 * listing is in the snapshot; one created or removed meanwhile may or may
 * not be, as objstore.h allows.
 *
 * Piece size: 4 MiB by default, the size Ceph's own RBD and CephFS stripe
 * at. Measured with tools/bench_objstore.c on a one-OSD memstore cluster
 * (docs/rados.md has the tables), 1, 4 and 16 MiB pieces were all on a par
 * with one raw op for 1 and 16 MiB objects, within the noise; so the choice
 * rests on the other costs: small pieces mean more ops, RADOS objects and
 * map entries per object, large ones fewer parallel pieces and space
 * counted more coarsely (in 64ths of a piece).
 *
 * It deliberately does not create pools, manage cephx users, or retry on
 * its own: a timeout is reported, and the caller decides.
 */
#include "objstore/rados_internal.h"
#include "objstore/objstore_rados.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#define ID_BATCH	1024	/* fresh ids reserved per superblock write */

/* --- the superblock ------------------------------------------------------ */

/* Superblock omap keys, all 8-byte little-endian values but "uuid". */
static const char *const super_keys[] = {
	"format", "piece", "capacity", "id_high", "used", "objects", "clean",
};
enum { SK_FORMAT, SK_PIECE, SK_CAPACITY, SK_ID_HIGH, SK_USED, SK_OBJECTS,
       SK_CLEAN, SK_N };

struct super {
	bool present[SK_N], have_uuid;
	uint64_t v[SK_N];
	unsigned char uuid[16];
};

static int super_read(struct rs_store *r, struct super *sb,
		      struct mixfs_err *err)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	char *k, *v;
	size_t kl, vl, i;
	int prv = 0, ret;

	memset(sb, 0, sizeof(*sb));
	if (!op)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	rados_read_op_omap_get_vals2(op, "", "", 64, &it, &more, &prv);
	ret = rados_read_op_operate(op, r->io, RADOS_SUPER_OID, 0);
	if (!ret)
		ret = prv;
	while (!ret && !rados_omap_get_next2(it, &k, &v, &kl, &vl) && k) {
		if (kl == 4 && !memcmp(k, "uuid", 4) && vl == 16) {
			memcpy(sb->uuid, v, 16);
			sb->have_uuid = true;
		}
		for (i = 0; i < SK_N; i++) {
			if (strlen(super_keys[i]) != kl ||
			    memcmp(super_keys[i], k, kl) || vl != 8)
				continue;
			sb->present[i] = true;
			sb->v[i] = rs_get64((unsigned char *)v);
		}
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return mixfs_err_set(err, ret, "reading the superblock of pool "
				     "'%s' namespace '%s': %s", r->pool, r->ns,
				     strerror(-ret));
	return 0;
}

/* Write the keys of @sb that are present (and the uuid when it has one). */
static int super_write(struct rs_store *r, const struct super *sb,
		       struct mixfs_err *err)
{
	unsigned char vals[SK_N][8];
	const char *kp[SK_N + 1], *vp[SK_N + 1];
	size_t kl[SK_N + 1], vl[SK_N + 1], n = 0, i;
	rados_write_op_t op = rados_create_write_op();
	int ret;

	if (!op)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	for (i = 0; i < SK_N; i++) {
		if (!sb->present[i])
			continue;
		rs_put64(vals[i], sb->v[i]);
		kp[n] = super_keys[i];
		kl[n] = strlen(super_keys[i]);
		vp[n] = (const char *)vals[i];
		vl[n++] = 8;
	}
	if (sb->have_uuid) {
		kp[n] = "uuid";
		kl[n] = 4;
		vp[n] = (const char *)sb->uuid;
		vl[n++] = 16;
	}
	rados_write_op_omap_set2(op, kp, vp, kl, vl, n);
	ret = rados_write_op_operate(op, r->io, RADOS_SUPER_OID, NULL, 0);
	rados_release_write_op(op);
	if (ret)
		return mixfs_err_set(err, ret, "writing the superblock of pool "
				     "'%s' namespace '%s': %s", r->pool, r->ns,
				     ret == -ETIMEDOUT ?
				     "the cluster did not answer in time" :
				     strerror(-ret));
	return 0;
}

static void super_set(struct super *sb, int key, uint64_t v)
{
	sb->present[key] = true;
	sb->v[key] = v;
}

/* The counters as they are now; mu held. */
static void super_counters(const struct rs_store *r, struct super *sb,
			   bool clean)
{
	memset(sb, 0, sizeof(*sb));
	super_set(sb, SK_USED, r->used);
	super_set(sb, SK_OBJECTS, r->objects);
	/* At a clean close every id handed out is below next_id: the rest of
	 * the reserved batch is not lost. */
	super_set(sb, SK_ID_HIGH, clean ? r->next_id : r->id_high);
	super_set(sb, SK_CLEAN, clean && !r->counts_doubtful);
}

/*
 * Make sure @id may be used: move the superblock's high-water mark past it
 * first (a batch at a time), so that no id is handed out twice even if this
 * client dies. mu held.
 */
static int ids_reserve(struct rs_store *r, uint64_t id,
		       struct mixfs_err *err)
{
	struct super sb;
	uint64_t high;
	int ret;

	if (id < r->id_high)
		return 0;
	high = id > UINT64_MAX - ID_BATCH ? UINT64_MAX : id + ID_BATCH;
	memset(&sb, 0, sizeof(sb));
	super_set(&sb, SK_ID_HIGH, high);
	ret = super_write(r, &sb, err);
	if (!ret)
		r->id_high = high;
	return ret;
}

/* --- capacity from the cluster ------------------------------------------- */

/*
 * The pool's quota in bytes, 0 if none (or unknown). From the OSD map, which
 * the monitors serve themselves (`osd pool get-quota` needs a manager).
 */
static uint64_t pool_quota(struct rs_store *r)
{
	static const char cmd[] = "{\"prefix\": \"osd pool ls\", "
		"\"detail\": \"detail\", \"format\": \"json\"}";
	const char *cmds[1] = { cmd };
	char *out = NULL, *outs = NULL, *text, *p, name[300];
	size_t outlen = 0, outslen = 0;
	uint64_t q = 0;

	snprintf(name, sizeof(name), "\"pool_name\":\"%s\"", r->pool);
	if (rados_mon_command(r->cluster, cmds, 1, "", 0, &out, &outlen, &outs,
			      &outslen) == 0 && out &&
	    (text = strndup(out, outlen))) {
		/* Each pool's entry names the pool before its quota. */
		if ((p = strstr(text, name)) &&
		    (p = strstr(p, "\"quota_max_bytes\":")))
			q = strtoull(p + 18, NULL, 10);
		free(text);
	}
	rados_buffer_free(out);
	rados_buffer_free(outs);
	return q;
}

/* The capacity the cluster reports for this store, 0 if it reports none. */
static uint64_t cluster_capacity(struct rs_store *r, uint64_t used)
{
	struct rados_cluster_stat_t cs;
	uint64_t q = pool_quota(r);

	if (q)
		return q;
	/* Zeros without a manager daemon: then there is no figure. */
	if (rados_cluster_stat(r->cluster, &cs) == 0 && cs.kb)
		return cs.kb_avail * 1024 + used;
	return 0;
}

/* --- connecting and locking ---------------------------------------------- */

struct params {
	char conf[512], id[128], keyring[512], ns[256];
	char timeout[32], size[64], piece[64], force[8];
};

static int get_params(const char *query, struct params *p,
		      struct mixfs_err *err)
{
	static const char *const known[] = { "conf", "id", "keyring",
		"namespace", "op_timeout", "size", "piece", "force", NULL };
	struct { const char *key; char *val; size_t cap; } map[] = {
		{ "conf", p->conf, sizeof(p->conf) },
		{ "id", p->id, sizeof(p->id) },
		{ "keyring", p->keyring, sizeof(p->keyring) },
		{ "namespace", p->ns, sizeof(p->ns) },
		{ "op_timeout", p->timeout, sizeof(p->timeout) },
		{ "size", p->size, sizeof(p->size) },
		{ "piece", p->piece, sizeof(p->piece) },
		{ "force", p->force, sizeof(p->force) },
	};
	size_t i;
	int ret = objstore_uri_check_keys(query, known, err);

	memset(p, 0, sizeof(*p));
	for (i = 0; !ret && i < sizeof(map) / sizeof(map[0]); i++)
		if (objstore_uri_param(query, map[i].key, map[i].val,
				       map[i].cap) < 0)
			ret = mixfs_err_set(err, -EINVAL,
				"rados: the value of %s= is too long", map[i].key);
	return ret;
}

static int connect_cluster(struct rs_store *r, const struct params *p,
			   struct mixfs_err *err)
{
	const char *timeout = p->timeout[0] ? p->timeout : "10";
	static const char *const timeouts[] = { "client_mount_timeout",
		"rados_osd_op_timeout", "rados_mon_op_timeout" };
	char *end;
	size_t i;
	int ret;

	if (strtoul(timeout, &end, 10) == 0 || *end)
		return mixfs_err_set(err, -EINVAL,
			"rados: op_timeout=%s is not a positive number of "
			"seconds", timeout);
	ret = rados_create(&r->cluster, p->id[0] ? p->id : NULL);
	if (ret)
		return mixfs_err_set(err, ret, "rados: cannot create a cluster "
				     "handle for user '%s': %s",
				     p->id[0] ? p->id : "admin", strerror(-ret));
	ret = rados_conf_read_file(r->cluster, p->conf[0] ? p->conf : NULL);
	if (ret && p->conf[0])
		return mixfs_err_set(err, ret, "rados: cannot read %s: %s",
				     p->conf, strerror(-ret));
	if (p->keyring[0] &&
	    (ret = rados_conf_set(r->cluster, "keyring", p->keyring)))
		return mixfs_err_set(err, ret, "rados: bad keyring path: %s",
				     strerror(-ret));
	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		ret = rados_conf_set(r->cluster, timeouts[i], timeout);
		if (ret)
			return mixfs_err_set(err, ret, "rados: setting %s: %s",
					     timeouts[i], strerror(-ret));
	}
	ret = rados_connect(r->cluster);
	if (ret == -ETIMEDOUT)
		return mixfs_err_set(err, ret, "rados: no monitor answered "
				     "within %s s (%s)", timeout,
				     p->conf[0] ? p->conf : "default ceph.conf");
	if (ret)
		return mixfs_err_set(err, ret, "rados: cannot connect to the "
				     "cluster (%s) as client.%s: %s",
				     p->conf[0] ? p->conf : "default ceph.conf",
				     p->id[0] ? p->id : "admin", strerror(-ret));
	ret = rados_ioctx_create(r->cluster, r->pool, &r->io);
	if (ret == -ENOENT)
		return mixfs_err_set(err, ret, "rados: no pool '%s' (create it "
				     "with `ceph osd pool create %s`)", r->pool,
				     r->pool);
	if (ret)
		return mixfs_err_set(err, ret, "rados: opening pool '%s': %s",
				     r->pool, strerror(-ret));
	rados_ioctx_set_namespace(r->io, r->ns);
	return 0;
}

/* The holders of the store's lock, as one sentence, and optionally broken. */
static int lockers(struct rs_store *r, bool brk, char *out, size_t cap)
{
	char tag[256], clients[1024], cookies[1024], addrs[1024];
	size_t tl = sizeof(tag), cl = sizeof(clients), kl = sizeof(cookies);
	size_t al = sizeof(addrs), used = 0;
	const char *c = clients, *k = cookies, *a = addrs;
	int excl, ret = 0;
	ssize_t n, i;

	n = rados_list_lockers(r->io, RADOS_SUPER_OID, RADOS_LOCK_NAME, &excl,
			       tag, &tl, clients, &cl, cookies, &kl, addrs, &al);
	if (n < 0)
		return (int)n;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		char addr[1024];

		snprintf(addr, sizeof(addr), "%s", a);
		if (brk) {
			/* Fence it first: a client that was only slow must
			 * not write after its lock is gone. Best effort: a
			 * user without the monitor capability still breaks
			 * the lock. */
			rados_blocklist_add(r->cluster, addr, 3600);
			ret = rados_break_lock(r->io, RADOS_SUPER_OID,
					       RADOS_LOCK_NAME, c, k);
			if (ret && ret != -ENOENT)
				return ret;
		}
		used += (size_t)snprintf(out + used, used < cap ? cap - used : 0,
					 "%s%s at %s (%s)", i ? ", " : "", c,
					 addr, k);
		if (used >= cap)
			used = cap - 1;
		c += strlen(c) + 1;
		k += strlen(k) + 1;
		a += strlen(a) + 1;
	}
	return 0;
}

static int take_lock(struct rs_store *r, bool force, struct mixfs_err *err)
{
	char host[64] = "?", who[400];
	unsigned char nonce[8];
	uuid_t u;
	int ret;

	gethostname(host, sizeof(host) - 1);
	uuid_generate(u);
	memcpy(nonce, u, sizeof(nonce));
	snprintf(r->cookie, sizeof(r->cookie), "host %s, pid %ld, %02x%02x%02x%02x",
		 host, (long)getpid(), nonce[0], nonce[1], nonce[2], nonce[3]);
	ret = rados_lock_exclusive(r->io, RADOS_SUPER_OID, RADOS_LOCK_NAME,
				   r->cookie, "mixfs object store", NULL, 0);
	if (ret == -EBUSY && force) {
		ret = lockers(r, true, who, sizeof(who));
		if (ret)
			return mixfs_err_set(err, ret, "rados: breaking the lock "
				"of pool '%s' namespace '%s': %s", r->pool, r->ns,
				strerror(-ret));
		snprintf(r->broke, sizeof(r->broke), "broke the lock of %s", who);
		ret = rados_lock_exclusive(r->io, RADOS_SUPER_OID,
					   RADOS_LOCK_NAME, r->cookie,
					   "mixfs object store", NULL, 0);
	}
	if (ret == -EBUSY) {
		if (lockers(r, false, who, sizeof(who)) || !who[0])
			snprintf(who, sizeof(who), "another client");
		return mixfs_err_set(err, -EBUSY, "rados: pool '%s' namespace "
			"'%s' is in use by %s (force=1 breaks the lock of a "
			"dead client)", r->pool, r->ns, who);
	}
	if (ret)
		return mixfs_err_set(err, ret, "rados: locking pool '%s' "
			"namespace '%s': %s", r->pool, r->ns,
			ret == -ETIMEDOUT ? "the cluster did not answer in time" :
			strerror(-ret));
	return 0;
}

/* --- open and close ------------------------------------------------------ */

static void store_free(struct rs_store *r)
{
	size_t i;

	if (r->io)
		rados_ioctx_destroy(r->io);
	if (r->cluster)
		rados_shutdown(r->cluster);
	rs_cache_release(r);
	for (i = 0; i < RADOS_STRIPES; i++) {
		pthread_rwlock_destroy(&r->stripes[i].lock);
		pthread_mutex_destroy(&r->stripes[i].mu);
	}
	pthread_mutex_destroy(&r->mu);
	free(r->snap);
	free(r->pool);
	free(r->ns);
	free(r);
}

static struct rs_store *store_alloc(const char *pool, const char *ns)
{
	struct rs_store *r = calloc(1, sizeof(*r));
	size_t i;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	for (i = 0; i < RADOS_STRIPES; i++) {
		pthread_rwlock_init(&r->stripes[i].lock, NULL);
		pthread_mutex_init(&r->stripes[i].mu, NULL);
	}
	r->pool = strdup(pool);
	r->ns = strdup(ns);
	if (!r->pool || !r->ns) {
		store_free(r);
		return NULL;
	}
	return r;
}

static int parse_piece(const char *text, uint64_t *piece,
		       struct mixfs_err *err)
{
	*piece = OBJSTORE_RADOS_PIECE;
	if (!text[0])
		return 0;
	if (objstore_parse_size(text, piece) || *piece < (64u << 10) ||
	    *piece > (32u << 20) || (*piece & (*piece - 1)))
		return mixfs_err_set(err, -EINVAL, "rados: piece=%s: want a power "
				     "of two from 64K to 32M", text);
	return 0;
}

/* Create the superblock of a new store. */
static int super_create(struct rs_store *r, const struct params *p,
			bool have_size, uint64_t size, struct mixfs_err *err)
{
	struct super sb;
	uint64_t piece;
	int ret = parse_piece(p->piece, &piece, err);

	if (ret)
		return ret;
	memset(&sb, 0, sizeof(sb));
	super_set(&sb, SK_FORMAT, OBJSTORE_FORMAT_VERSION);
	super_set(&sb, SK_PIECE, piece);
	super_set(&sb, SK_CAPACITY, have_size ? size : 0);
	super_set(&sb, SK_ID_HIGH, 1 + ID_BATCH);
	super_set(&sb, SK_USED, 0);
	super_set(&sb, SK_OBJECTS, 0);
	super_set(&sb, SK_CLEAN, 0);
	uuid_generate(sb.uuid);
	sb.have_uuid = true;
	return super_write(r, &sb, err);
}

static int load_super(struct rs_store *r, const struct params *p,
		      unsigned flags, struct mixfs_err *err)
{
	bool have_size = p->size[0] != '\0', created = false;
	uint64_t size = 0;
	struct super sb, upd;
	int ret;

	if (have_size && objstore_parse_size(p->size, &size))
		return mixfs_err_set(err, -EINVAL, "rados: bad size=%s", p->size);
	ret = super_read(r, &sb, err);
	if (ret)
		return ret;
	if (!sb.present[SK_FORMAT]) {
		if (!(flags & OBJSTORE_OPEN_CREATE) ||
		    (flags & OBJSTORE_OPEN_READONLY)) {
			/* Taking the lock made an empty superblock object:
			 * remove it (and the lock with it). */
			rados_remove(r->io, RADOS_SUPER_OID);
			return mixfs_err_set(err, -ENOENT, "rados: no store in "
				"pool '%s' namespace '%s'", r->pool, r->ns);
		}
		ret = super_create(r, p, have_size, size, err);
		if (!ret)
			ret = super_read(r, &sb, err);
		if (ret)
			return ret;
		created = true;
	} else if ((flags & OBJSTORE_OPEN_CREATE) && (flags & OBJSTORE_OPEN_EXCL)) {
		return mixfs_err_set(err, -EEXIST, "rados: pool '%s' namespace "
			"'%s' already holds a store", r->pool, r->ns);
	}
	if (sb.v[SK_FORMAT] != OBJSTORE_FORMAT_VERSION)
		return mixfs_err_set(err, -EPROTO, "rados: store format version "
			"%" PRIu64 ", this mixfs reads version %u", sb.v[SK_FORMAT],
			OBJSTORE_FORMAT_VERSION);
	r->piece = sb.v[SK_PIECE];
	if (!sb.have_uuid || !sb.present[SK_PIECE] || r->piece < (64u << 10) ||
	    r->piece > (32u << 20) || (r->piece & (r->piece - 1)))
		return mixfs_err_set(err, -EUCLEAN, "rados: the superblock of pool "
			"'%s' namespace '%s' is damaged", r->pool, r->ns);
	r->piece_shift = (unsigned)__builtin_ctzll(r->piece);
	r->granule_shift = r->piece_shift - 6;
	memcpy(r->base.uuid, sb.uuid, 16);
	r->id_high = sb.v[SK_ID_HIGH] ? sb.v[SK_ID_HIGH] : 1;
	r->next_id = r->id_high;	/* every id below may have been used */
	if (created) {
		r->next_id = 1;
	} else if (!sb.v[SK_CLEAN]) {
		uint64_t max_id;

		/* The last client did not close: count again. */
		ret = rs_recount(r, &r->used, &r->objects, &max_id, err);
		if (ret)
			return ret;
		if (max_id >= r->next_id)
			r->next_id = max_id + 1;
	} else {
		r->used = sb.v[SK_USED];
		r->objects = sb.v[SK_OBJECTS];
	}
	r->capacity = have_size ? size : sb.v[SK_CAPACITY];
	if (!r->capacity)
		r->capacity = cluster_capacity(r, r->used);
	if (!r->capacity)
		return mixfs_err_set(err, -EINVAL, "rados: pool '%s' reports no "
			"capacity (no pool quota, no manager daemon): give size=",
			r->pool);
	if (flags & OBJSTORE_OPEN_READONLY)
		return 0;
	/* Open for writing: the counters in the superblock go stale now. */
	memset(&upd, 0, sizeof(upd));
	super_set(&upd, SK_CLEAN, 0);
	if (have_size)
		super_set(&upd, SK_CAPACITY, size);
	if (r->next_id > r->id_high)
		r->id_high = r->next_id;
	super_set(&upd, SK_ID_HIGH, r->id_high);
	return super_write(r, &upd, err);
}

static int rs_store_open(const char *rest, unsigned flags,
			 struct objstore **out, struct mixfs_err *err)
{
	struct rs_store *r;
	struct params p;
	const char *query;
	char *pool;
	int ret;

	if (objstore_uri_split(rest, &pool, &query))
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	ret = get_params(query, &p, err);
	if (!ret && !pool[0])
		ret = mixfs_err_set(err, -EINVAL, "rados: no pool given (want "
				    "rados:POOL[?namespace=NS&...])");
	if (ret) {
		free(pool);
		return ret;
	}
	r = store_alloc(pool, p.ns);
	free(pool);
	if (!r)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	ret = connect_cluster(r, &p, err);
	if (!ret)
		ret = take_lock(r, !strcmp(p.force, "1"), err);
	if (ret)
		goto out_free;
	ret = load_super(r, &p, flags, err);
	if (ret)
		goto out_unlock;
	r->base.ops = &objstore_rados_ops;
	r->base.caps = OBJSTORE_CAP_PERSISTENT | OBJSTORE_CAP_DURABLE_SYNC;
	r->base.format_version = OBJSTORE_FORMAT_VERSION;
	*out = &r->base;
	return 0;
out_unlock:
	rados_unlock(r->io, RADOS_SUPER_OID, RADOS_LOCK_NAME, r->cookie);
out_free:
	store_free(r);
	return ret;
}

static int rs_close(struct objstore *s)
{
	struct rs_store *r = rs_of(s);
	struct super sb;
	int ret = 0, uret;

	if (!(s->open_flags & OBJSTORE_OPEN_READONLY)) {
		super_counters(r, &sb, true);
		ret = super_write(r, &sb, NULL);
	}
	uret = rados_unlock(r->io, RADOS_SUPER_OID, RADOS_LOCK_NAME, r->cookie);
	store_free(r);
	return ret ? ret : uret;
}

/* --- objects ------------------------------------------------------------- */

static int create_locked(struct rs_store *r, uint64_t id,
			 struct mixfs_err *err)
{
	struct rs_obj *o = rs_obj_new(id);
	unsigned char meta[RADOS_META_LEN];
	const char *k = "m", *v = (const char *)meta;
	size_t kl = 1, vl = RADOS_META_LEN;
	char oid[RADOS_OID_MAX];
	rados_write_op_t op;
	int ret;

	if (!o || !(op = rados_create_write_op())) {
		rs_obj_free(o);
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&r->mu);
	ret = ids_reserve(r, id, err);
	if (!ret && id >= r->next_id)
		r->next_id = id == UINT64_MAX ? id : id + 1;
	pthread_mutex_unlock(&r->mu);
	if (ret) {
		rados_release_write_op(op);
		rs_obj_free(o);
		return ret;
	}
	rs_head_oid(oid, id);
	rs_meta_encode(meta, o);
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_omap_set2(op, &k, &v, &kl, &vl, 1);
	ret = rados_write_op_operate(op, r->io, oid, NULL, 0);
	rados_release_write_op(op);
	if (ret) {
		rs_obj_free(o);
		if (ret == -EEXIST)
			return mixfs_err_set(err, ret, "object %" PRIu64 " exists",
					     id);
		return rs_fail(err, ret, "creating", id);
	}
	rs_obj_add(r, o);
	pthread_mutex_lock(&r->mu);
	r->objects++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static int rs_create_obj(struct objstore *s, uint64_t id,
			 struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	int ret;

	pthread_rwlock_wrlock(&sp->lock);
	ret = create_locked(r, id, err);
	pthread_rwlock_unlock(&sp->lock);
	return ret;
}

static int rs_create_fresh(struct objstore *s, uint64_t *id,
			   struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	int ret;

	do {
		uint64_t fresh;

		pthread_mutex_lock(&r->mu);
		fresh = r->next_id;
		if (fresh == UINT64_MAX)
			ret = mixfs_err_set(err, -ENOSPC, "no unused object ids "
					    "left");
		else
			ret = ids_reserve(r, fresh, err);
		if (!ret)
			r->next_id = fresh + 1;
		pthread_mutex_unlock(&r->mu);
		if (ret)
			return ret;
		/* -EEXIST: an id a dead client created past the counters. */
		ret = rs_create_obj(s, fresh, NULL);
		if (!ret)
			*id = fresh;
		else if (ret != -EEXIST)
			return rs_fail(err, ret, "creating", fresh);
	} while (ret == -EEXIST);
	return 0;
}

static int rs_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	char oid[RADOS_OID_MAX];
	struct rs_obj *o;
	uint64_t allocated;
	int ret;

	pthread_rwlock_wrlock(&sp->lock);
	ret = rs_obj_get(r, id, true, &o, err);
	if (ret)
		goto out_unlock;
	allocated = rs_obj_allocated(r, o);
	/* Pieces first: a head whose pieces are gone reads as zeros there,
	 * while pieces without a head would be lost space nobody counts. */
	ret = rs_pieces_remove(r, o, err);
	if (!ret) {
		rs_head_oid(oid, id);
		ret = rados_remove(r->io, oid);
		if (ret)
			rs_fail(err, ret, "removing", id);
	}
	rs_obj_forget(r, id);
	if (ret) {
		rs_counts_doubt(r);
		goto out_unlock;
	}
	rs_space_give(r, allocated);
	pthread_mutex_lock(&r->mu);
	r->objects--;
	pthread_mutex_unlock(&r->mu);
out_unlock:
	pthread_rwlock_unlock(&sp->lock);
	return ret;
}

/* --- listing ------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every id in the namespace, sorted, for a listing's snapshot. */
static int snapshot_ids(struct rs_store *r, uint64_t **out, size_t *nout,
			struct mixfs_err *err)
{
	rados_list_ctx_t ls;
	const char *name;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int ret = rados_nobjects_list_open(r->io, &ls);

	if (ret)
		return mixfs_err_set(err, ret, "listing objects: %s",
				     strerror(-ret));
	while ((ret = rados_nobjects_list_next(ls, &name, NULL, NULL)) == 0) {
		uint64_t id;
		char *end;

		if (strlen(name) != 18 || strncmp(name, "o.", 2))
			continue;
		id = strtoull(name + 2, &end, 16);
		if (*end || !id)
			continue;
		if (n == cap) {
			uint64_t *p = realloc(ids, (cap ? cap * 2 : 256) *
					      sizeof(*p));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			ids = p;
			cap = cap ? cap * 2 : 256;
		}
		ids[n++] = id;
	}
	rados_nobjects_list_close(ls);
	if (ret != -ENOENT) {
		free(ids);
		return mixfs_err_set(err, ret, "listing objects: %s",
				     strerror(-ret));
	}
	if (n)	/* an empty namespace has no array: qsort wants one */
		qsort(ids, n, sizeof(*ids), cmp_id);
	*out = ids;
	*nout = n;
	return 0;
}

static int rs_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		   size_t max, size_t *n, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	size_t lo, hi;
	int ret = 0;

	*n = 0;
	pthread_mutex_lock(&r->mu);
	if (*cursor == 0 || !r->snap) {
		uint64_t *snap = NULL;
		size_t nsnap = 0;

		/* The walk takes a while: not under the counters' lock. */
		pthread_mutex_unlock(&r->mu);
		ret = snapshot_ids(r, &snap, &nsnap, err);
		if (ret)
			return ret;
		pthread_mutex_lock(&r->mu);
		free(r->snap);
		r->snap = snap;
		r->nsnap = nsnap;
	}
	for (lo = 0, hi = r->nsnap; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->snap[mid] <= *cursor)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < r->nsnap && *n < max)
		ids[(*n)++] = r->snap[lo++];
	if (*n)
		*cursor = ids[*n - 1];
	if (lo == r->nsnap && *n == 0) {
		free(r->snap);
		r->snap = NULL;
		r->nsnap = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* --- attributes ---------------------------------------------------------- */

static void attr_key(char *buf, const char *name)
{
	snprintf(buf, OBJSTORE_ATTR_NAME_MAX + 3, "a.%s", name);
}

static ssize_t rs_getattr(struct objstore *s, uint64_t id, const char *name,
			  void *buf, size_t size, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	char key[OBJSTORE_ATTR_NAME_MAX + 3], oid[RADOS_OID_MAX], *k, *v;
	const char *keys[1] = { key };
	size_t kl, vl, klen;
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	ssize_t ret;
	int prv = 0;

	if (!op)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	attr_key(key, name);
	klen = strlen(key);
	rs_head_oid(oid, id);
	rados_read_op_assert_exists(op);
	rados_read_op_omap_get_vals_by_keys2(op, keys, 1, &klen, &it, &prv);
	ret = rados_read_op_operate(op, r->io, oid, 0);
	if (!ret)
		ret = prv;
	if (ret) {
		ret = rs_fail(err, (int)ret, "reading an attribute of", id);
		goto out;
	}
	ret = mixfs_err_set(err, -ENODATA, "object %" PRIu64 " has no "
			    "attribute '%s'", id, name);
	if (rados_omap_get_next2(it, &k, &v, &kl, &vl) || !k)
		goto out;
	mixfs_err_clear(err);
	if (size && size < vl)
		ret = mixfs_err_set(err, -ERANGE, "attribute '%s' holds %zu "
				    "bytes, buffer has %zu", name, vl, size);
	else {
		if (size && vl)
			memcpy(buf, v, vl);
		ret = (ssize_t)vl;
	}
out:
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return ret;
}

static int rs_setattr(struct objstore *s, uint64_t id, const char *name,
		      const void *val, size_t len, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	char key[OBJSTORE_ATTR_NAME_MAX + 3], oid[RADOS_OID_MAX];
	const char *kp = key, *vp = val ? val : "";
	size_t kl;
	rados_write_op_t op = rados_create_write_op();
	int ret;

	if (!op)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	attr_key(key, name);
	kl = strlen(key);
	rs_head_oid(oid, id);
	rados_write_op_assert_exists(op);
	rados_write_op_omap_set2(op, &kp, &vp, &kl, &len, 1);
	ret = rados_write_op_operate(op, r->io, oid, NULL, 0);
	rados_release_write_op(op);
	return ret ? rs_fail(err, ret, "setting an attribute of", id) : 0;
}

static int rs_rmattr(struct objstore *s, uint64_t id, const char *name,
		     struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	char key[OBJSTORE_ATTR_NAME_MAX + 3], oid[RADOS_OID_MAX];
	const char *kp = key;
	size_t kl;
	rados_write_op_t op;
	ssize_t ret;

	/* RADOS removes an absent key without a word: look first, under the
	 * object's lock so that nothing comes between. */
	pthread_rwlock_wrlock(&sp->lock);
	ret = rs_getattr(s, id, name, NULL, 0, err);
	if (ret < 0)
		goto out_unlock;
	op = rados_create_write_op();
	if (!op) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_unlock;
	}
	attr_key(key, name);
	kl = strlen(key);
	rs_head_oid(oid, id);
	rados_write_op_assert_exists(op);
	rados_write_op_omap_rm_keys2(op, &kp, &kl, 1);
	ret = rados_write_op_operate(op, r->io, oid, NULL, 0);
	rados_release_write_op(op);
	if (ret)
		ret = rs_fail(err, (int)ret, "removing an attribute of", id);
out_unlock:
	pthread_rwlock_unlock(&sp->lock);
	return (int)(ret < 0 ? ret : 0);
}

static ssize_t rs_listattr(struct objstore *s, uint64_t id, char *buf,
			   size_t size, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	char oid[RADOS_OID_MAX], after[OBJSTORE_ATTR_NAME_MAX + 3] = "a.";
	unsigned char more = 1;
	size_t total = 0;
	int ret = 0;

	rs_head_oid(oid, id);
	while (more && !ret) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		int prv = 0;
		char *k, *v;
		size_t kl, vl;

		if (!op)
			return mixfs_err_set(err, -ENOMEM, "out of memory");
		rados_read_op_assert_exists(op);
		rados_read_op_omap_get_keys2(op, after, 1024, &it, &more, &prv);
		ret = rados_read_op_operate(op, r->io, oid, 0);
		if (!ret)
			ret = prv;
		while (!ret && !rados_omap_get_next2(it, &k, &v, &kl, &vl) && k) {
			if (kl < 2 || memcmp(k, "a.", 2)) {
				more = 0;	/* past the attributes */
				break;
			}
			if (size && total + kl - 1 <= size) {
				memcpy(buf + total, k + 2, kl - 2);
				buf[total + kl - 2] = '\0';
			}
			total += kl - 1;
			memcpy(after, k, kl);
			after[kl] = '\0';
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
	}
	if (ret)
		return rs_fail(err, ret, "listing the attributes of", id);
	if (size && total > size)
		return mixfs_err_set(err, -ERANGE, "attribute names need %zu "
				     "bytes, buffer has %zu", total, size);
	return (ssize_t)total;
}

/* --- transactions -------------------------------------------------------- */

/* Give a fresh record its first piece's map. */
static int pieces_add_first(struct rs_obj *o, uint64_t bits)
{
	o->pieces = calloc(1, sizeof(*o->pieces));
	if (!o->pieces)
		return -ENOMEM;
	o->pieces[0] = (struct rs_piece){ 0, bits };
	o->npieces = o->cap = 1;
	return 0;
}

/*
 * A transaction that creates one object and then writes inside its first
 * piece and sets attributes (the shape of a put) is one RADOS write op on
 * the head: atomic, and one round trip instead of one per step. *@fits is
 * set when @t has that shape; otherwise nothing was done.
 */
static int txn_one_op(struct rs_store *r, const struct objstore_txn *t,
		      bool *fits, struct mixfs_err *err)
{
	const struct objstore_step *st = t->steps;
	uint64_t id = st->id, size = 0, bits = 0, space;
	struct rs_stripe *sp = rs_stripe_of(r, id);
	char oid[RADOS_OID_MAX], key[24] = "p.0000000000000000";
	const char **kp = NULL, **vp = NULL;
	size_t *kl = NULL, *vl = NULL, i, n = 0;
	char (*names)[OBJSTORE_ATTR_NAME_MAX + 3] = NULL;
	unsigned char meta[RADOS_META_LEN], map[8];
	struct rs_obj *o = NULL;
	rados_write_op_t op = NULL;
	int ret;

	*fits = st->kind == OBJSTORE_STEP_CREATE;
	for (i = 1; i < t->nsteps && *fits; i++) {
		st = &t->steps[i];
		if (st->id != id || (st->kind != OBJSTORE_STEP_WRITE &&
				     st->kind != OBJSTORE_STEP_SETATTR))
			*fits = false;
		else if (st->kind == OBJSTORE_STEP_WRITE &&
			 (st->off > r->piece || st->len > r->piece - st->off))
			*fits = false;
	}
	if (!*fits)
		return 0;
	o = rs_obj_new(id);
	op = rados_create_write_op();
	kp = calloc(t->nsteps + 2, sizeof(*kp));
	vp = calloc(t->nsteps + 2, sizeof(*vp));
	kl = calloc(t->nsteps + 2, sizeof(*kl));
	vl = calloc(t->nsteps + 2, sizeof(*vl));
	names = calloc(t->nsteps, sizeof(*names));
	if (!o || !op || !kp || !vp || !kl || !vl || !names)
		goto out_nomem;
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	for (i = 1; i < t->nsteps; i++) {
		st = &t->steps[i];
		if (st->kind == OBJSTORE_STEP_WRITE && st->len) {
			rados_write_op_write(op, st->buf, st->len, st->off);
			bits |= rs_touched_mask(r, st->off, st->off + st->len);
			if (st->off + st->len > size)
				size = st->off + st->len;
		} else if (st->kind == OBJSTORE_STEP_SETATTR) {
			snprintf(names[n], sizeof(names[n]), "a.%s", st->name);
			kp[n] = names[n];
			kl[n] = strlen(names[n]);
			vp[n] = st->buf ? st->buf : "";
			vl[n++] = st->len;
		}
	}
	o->size = size;
	rs_meta_encode(meta, o);
	kp[n] = "m";
	kl[n] = 1;
	vp[n] = (const char *)meta;
	vl[n++] = RADOS_META_LEN;
	if (bits) {
		rs_put64(map, bits);
		kp[n] = key;
		kl[n] = 18;
		vp[n] = (const char *)map;
		vl[n++] = 8;
		if (pieces_add_first(o, bits))
			goto out_nomem;
	}
	rados_write_op_omap_set2(op, kp, vp, kl, vl, n);
	space = (uint64_t)__builtin_popcountll(bits) << r->granule_shift;
	pthread_rwlock_wrlock(&sp->lock);
	pthread_mutex_lock(&r->mu);
	ret = ids_reserve(r, id, err);
	if (!ret && id >= r->next_id)
		r->next_id = id == UINT64_MAX ? id : id + 1;
	pthread_mutex_unlock(&r->mu);
	if (!ret)
		ret = rs_space_take(r, space, err);
	if (ret)
		goto out_unlock;
	rs_head_oid(oid, id);
	ret = rados_write_op_operate(op, r->io, oid, NULL, 0);
	if (ret) {
		rs_space_give(r, space);
		if (ret == -EEXIST)
			mixfs_err_set(err, ret, "object %" PRIu64 " exists", id);
		else
			rs_fail(err, ret, "creating", id);
		mixfs_err_prefix(err, ret, "transaction step 1");
		goto out_unlock;
	}
	rs_obj_add(r, o);
	o = NULL;
	pthread_mutex_lock(&r->mu);
	r->objects++;
	pthread_mutex_unlock(&r->mu);
out_unlock:
	pthread_rwlock_unlock(&sp->lock);
	goto out_free;
out_nomem:
	ret = mixfs_err_set(err, -ENOMEM, "out of memory");
out_free:
	rs_obj_free(o);
	if (op)
		rados_release_write_op(op);
	free(kp);
	free(vp);
	free(kl);
	free(vl);
	free(names);
	return ret;
}

/* Other transactions go step by step: not atomic (see the top). */
static int rs_txn_commit(struct objstore *s, const struct objstore_txn *t,
			 struct mixfs_err *err)
{
	bool fits;
	int ret = txn_one_op(rs_of(s), t, &fits, err);

	return fits ? ret : objstore_txn_apply_steps(s, t, err);
}

/* --- whole store --------------------------------------------------------- */

static int rs_statfs(struct objstore *s, struct objstore_statfs *st,
		     struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);

	(void)err;
	pthread_mutex_lock(&r->mu);
	st->capacity = r->capacity;
	st->used = r->used;
	st->objects = r->objects;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* Every call already waited for its ops to be acknowledged, which means
 * stable on every replica; what is left is the counters. */
static int rs_sync(struct objstore *s, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct super sb;

	if (s->open_flags & OBJSTORE_OPEN_READONLY)
		return 0;
	pthread_mutex_lock(&r->mu);
	super_counters(r, &sb, false);
	pthread_mutex_unlock(&r->mu);
	return super_write(r, &sb, err);
}

/* --- the store's handles for tools --------------------------------------- */

const char *objstore_rados_broken_lock(struct objstore *s)
{
	if (!s || s->ops != &objstore_rados_ops)
		return NULL;
	return rs_of(s)->broke[0] ? rs_of(s)->broke : NULL;
}

rados_ioctx_t objstore_rados_ioctx(struct objstore *s)
{
	if (!s || s->ops != &objstore_rados_ops)
		return NULL;
	return rs_of(s)->io;
}

const struct objstore_ops objstore_rados_ops = {
	.version = 1,
	.scheme = "rados",
	.open = rs_store_open,
	.close = rs_close,
	.create = rs_create_obj,
	.create_fresh = rs_create_fresh,
	.remove = rs_remove,
	.read = rs_read,
	.write = rs_write,
	.truncate = rs_truncate,
	.punch = rs_punch,
	.stat = rs_stat,
	.list = rs_list,
	.getattr = rs_getattr,
	.setattr = rs_setattr,
	.rmattr = rs_rmattr,
	.listattr = rs_listattr,
	.statfs = rs_statfs,
	.sync = rs_sync,
	.txn_commit = rs_txn_commit,
};
