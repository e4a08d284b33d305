/*
 * fsck_data.c - the checker's view of file data kept in a store of its
 * own: the store the 'D' record names (mkfs --data; dir:data is host
 * files beside the RocksDB files).
 *
 * The database scan (fsck_scan.c) sees only the rocksdb: records; when a
 * 'D' record is there, this file opens the store it names and reads every
 * object through the objstore API: stat for its size and the bytes it
 * holds, and the whole of its data, which makes a checksummed store
 * (dir:) verify every chunk. What it finds goes into the same table the
 * cross-checks in fsck.c use, so an object with no file, a file with no
 * object and sizes are judged as for data kept in the database. Ranges
 * whose checksum fails are found by reading again chunk by chunk.
 *
 * Repair goes through the API too: objects removed, cut, extended or made
 * empty, failing ranges punched (they read as zeros, as a failing chunk
 * in the database is removed). Those changes come before the database's
 * batch and are not atomic with it; each leaves a state the next check
 * accepts or finishes.
 *
 * What it deliberately does not do: look inside the data store's own
 * files (the backend checks them as it reads; a corrupt object record
 * shows as an object that cannot be read), or read the holes of a sparse
 * object once the chunks holding data are all accounted for.
 */
#include "fs/tablefs/fsck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int fk_data_record(struct fk *c, const unsigned char *v, size_t vlen)
{
	c->data_rec = true;
	c->data_rec_len = vlen;
	free(c->data_uri);
	c->data_uri = NULL;
	if (vlen == 0 || vlen > 4096 || memchr(v, 0, vlen) ||
	    !memchr(v, ':', vlen)) {
		c->data_rec_bad = true;
		return 0;
	}
	c->data_uri = strndup((const char *)v, vlen);
	return c->data_uri ? 0 : fk_nomem(c);
}

struct fk_obj *fk_store_objs(struct fk *c, size_t *n)
{
	*n = c->data_rec ? c->nmo : c->no;
	return c->data_rec ? c->mobjs : c->objs;
}

/* --- where the store is ------------------------------------------------- */

/* The default data store's directory for the database at c->uri, if it
 * holds a dir: store (NULL otherwise, or out of memory). */
static char *default_store_dir(struct fk *c)
{
	const char *path;
	char *dir, *hdr;
	bool there;

	if (!c->uri || strncmp(c->uri, "rocksdb:", 8))
		return NULL;
	path = c->uri + 8;
	if (asprintf(&dir, "%.*s/%s", (int)strcspn(path, "?"), path,
		     TFS_DATA_DIR + 4) < 0)
		return NULL;
	if (asprintf(&hdr, "%s/mixfs-store", dir) < 0) {
		free(dir);
		return NULL;
	}
	there = access(hdr, F_OK) == 0;
	free(hdr);
	if (!there) {
		free(dir);
		return NULL;
	}
	return dir;
}

/*
 * The record is gone or names a store that is not there, yet the default
 * place holds one (a damaged record, not a filesystem without its data):
 * use that, and have repair write the record again.
 */
static bool use_default(struct fk *c, const char *why)
{
	char *dir = default_store_dir(c), *uri;

	if (!dir)
		return false;
	uri = strdup(TFS_DATA_DIR);
	if (!uri) {
		free(dir);
		fk_nomem(c);
		return false;
	}
	fk_problem(c, "record set to " TFS_DATA_DIR,
		   "the file data store record %s, but %s holds a data store",
		   why, dir);
	free(dir);
	free(c->data_uri);
	c->data_uri = uri;
	c->data_rec = true;
	c->data_rec_bad = false;
	c->data_rec_put = true;
	return true;
}

/* Open the store c->data_uri names; problems that leave its objects
 * unseen set c->data_unknown. */
static int open_store(struct fk *c)
{
	struct mixfs_err e = { 0 };
	int ret;

	if (c->data_rec_bad && !use_default(c, "cannot be read")) {
		fk_problem(c, NULL, "the file data store record ('D', %zu bytes) is not a store URI: file data is not checked",
			   c->data_rec_len);
		c->data_unknown = true;
		return 0;
	}
	free(c->data_open);
	c->data_open = tfs_data_uri_resolve(c->uri ? c->uri : "",
					    c->data_uri);
	if (!c->data_open)
		return fk_nomem(c);
	ret = objstore_open(c->data_open,
			    c->repair ? 0 : OBJSTORE_OPEN_READONLY, &c->data,
			    &e);
	if (ret == 0)
		return 0;
	c->data = NULL;
	switch (ret) {
	case -ENOENT:
		if (strcmp(c->data_uri, TFS_DATA_DIR) &&
		    use_default(c, "names a store that is missing"))
			return open_store(c);
		fk_problem(c, "made anew, empty (the files' data is lost)",
			   "the file data store %s is missing (%s)",
			   c->data_uri, mixfs_err_msg(&e, ret));
		c->data_make = true;
		return 0;
	case -EINVAL:
		fk_problem(c, NULL, "the file data store record '%s' is not a usable store URI (%s): file data is not checked",
			   c->data_uri, mixfs_err_msg(&e, ret));
		c->data_unknown = true;
		return 0;
	case -EPROTO:
	case -EUCLEAN:
		fk_problem(c, NULL, "the file data store %s cannot be opened (%s): file data is not checked",
			   c->data_uri, mixfs_err_msg(&e, ret));
		c->data_unknown = true;
		return 0;
	}
	snprintf(c->why, sizeof(c->why),
		 "the file data store %s cannot be opened: %s", c->data_uri,
		 mixfs_err_msg(&e, ret));
	return c->err = ret;
}

/* --- reading the objects ------------------------------------------------ */

static int read_error(struct fk *c, uint64_t id, uint64_t off,
		      const struct mixfs_err *e, int ret)
{
	snprintf(c->why, sizeof(c->why),
		 "reading object %llu at %llu of the file data store %s: %s",
		 (unsigned long long)id, (unsigned long long)off, c->data_uri,
		 mixfs_err_msg(e, ret));
	return c->err = ret;
}

static int bad_add(struct fk *c, struct fk_obj *o, uint64_t off,
		   uint64_t len)
{
	struct fk_bad *b = realloc(o->bad, (o->nbad + 1) * sizeof(*b));

	if (!b)
		return fk_nomem(c);
	o->bad = b;
	o->bad[o->nbad].off = off;
	o->bad[o->nbad].len = len;
	o->nbad++;
	return 0;
}

struct load {
	struct fk *c;
	struct fk_obj *o;
	int cb_err;		/* what bad_cb failed with */
};

static int bad_cb(struct tfs_verify *v, uint64_t off, uint64_t len)
{
	struct load *l = v->arg;

	return l->cb_err = bad_add(l->c, l->o, off, len);
}

/* Read the object whole (tfs_obj_verify()): chunks holding data, where
 * they end, the ranges whose checksum fails. */
static int load_obj(struct fk *c, uint64_t id, unsigned char *buf)
{
	struct objstore_stat st;
	struct mixfs_err e = { 0 };
	struct fk_obj *o = fk_grow(c, c->objs, &c->co, c->no, sizeof(*o));
	struct load l = { c, NULL, 0 };
	struct tfs_verify v = { .s = c->data, .id = id, .buf = buf,
				.bad = bad_cb, .arg = &l };
	int ret;

	if (!o)
		return -ENOMEM;
	c->objs = o;
	o = &c->objs[c->no++];	/* the listing is in ascending order */
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->meta_present = true;
	ret = objstore_stat(c->data, id, &st, &e);
	if (ret == -EUCLEAN || ret == -EBADMSG)
		return 0;	/* size_ok false: the record is corrupt */
	if (ret)
		return read_error(c, id, 0, &e, ret);
	o->size_ok = true;
	o->size = st.size;
	o->allocated = o->chunk_sum = st.allocated;
	l.o = o;
	v.size = st.size;
	v.allocated = st.allocated;
	ret = tfs_obj_verify(&v);
	o->nchunks = v.chunks;
	o->chunk_end = v.chunk_end;
	if (ret < 0 && ret != l.cb_err)
		return read_error(c, id, v.err_off, &v.err, ret);
	return ret;
}

bool fk_data_leftover(struct fk *c, const struct fk_obj *o)
{
	return c->data_rec && c->next_present && !c->next_bad &&
	       o->id >= c->next_ino && o->id < FSD_CTL_INO_BASE;
}

void fk_check_data_ranges(struct fk *c)
{
	for (size_t k = 0; c->data_rec && k < c->no; k++) {
		struct fk_obj *o = &c->objs[k];

		if (o->remove || !o->size_ok || !fk_ino_find(c, o->id))
			continue;	/* going, made anew, or a leftover */
		for (size_t i = 0; i < o->nbad; i++)
			fk_problem(c, "punched: those bytes read as zeros",
				   "object %llu: checksum fails over bytes %llu-%llu (data lost, reads as zeros)",
				   (unsigned long long)o->id,
				   (unsigned long long)o->bad[i].off,
				   (unsigned long long)(o->bad[i].off +
							o->bad[i].len - 1));
	}
}

static int load_objects(struct fk *c)
{
	unsigned char *buf = malloc(TFS_VERIFY_PIECE);
	uint64_t cursor = 0, ids[256];
	size_t n;
	int ret = 0;

	if (!buf)
		return fk_nomem(c);
	for (;;) {
		struct mixfs_err e = { 0 };

		ret = objstore_list(c->data, &cursor, ids, 256, &n, &e);
		if (ret) {
			snprintf(c->why, sizeof(c->why),
				 "listing the file data store %s: %s",
				 c->data_uri, mixfs_err_msg(&e, ret));
			ret = c->err = ret;
			break;
		}
		if (n == 0)
			break;
		for (size_t i = 0; i < n && !ret; i++)
			ret = load_obj(c, ids[i], buf);
		if (ret)
			break;
	}
	free(buf);
	return ret;
}

int fk_data_load(struct fk *c)
{
	int ret;

	if (!c->data_rec && !use_default(c, "is missing"))
		return c->err;
	c->mobjs = c->objs;
	c->nmo = c->no;
	c->objs = NULL;
	c->no = c->co = 0;
	for (size_t i = 0; i < c->ni; i++)
		c->inos[i].obj = SIZE_MAX;
	ret = open_store(c);
	if (ret || !c->data)
		return ret;
	ret = load_objects(c);
	if (ret)
		return ret;
	for (size_t i = 0; i < c->no; i++) {
		struct fk_ino *fi = fk_ino_find(c, c->objs[i].id);

		if (fi)
			fi->obj = i;
	}
	return 0;
}

/* --- the database's own objects ----------------------------------------- */

void fk_check_meta_objects(struct fk *c)
{
	for (size_t i = 0; c->data_rec && i < c->nmo; i++) {
		struct fk_obj *o = &c->mobjs[i];

		if (o->id == TFS_EVENTS_OBJ) {
			o->want_size = o->size_ok ? o->size : o->chunk_end;
			continue;
		}
		fk_problem(c, "object removed",
			   "object %llu in the metadata store belongs to no file (file data lives in %s)",
			   (unsigned long long)o->id,
			   c->data_uri ? c->data_uri : "a store of its own");
		o->remove = true;
	}
}

/* --- repair ------------------------------------------------------------- */

static int apply_error(struct fk *c, const char *what, uint64_t id,
		       const struct mixfs_err *e, int ret)
{
	snprintf(c->why, sizeof(c->why), "%s object %llu in %s: %s", what,
		 (unsigned long long)id, c->data_uri, mixfs_err_msg(e, ret));
	return ret;
}

/* Make the object of a file whose object is missing, @size bytes of
 * holes. */
static int make_obj(struct fk *c, uint64_t id, uint64_t size)
{
	struct mixfs_err e = { 0 };
	int ret = objstore_create(c->data, id, &e);

	if (ret == -EEXIST)
		ret = 0;
	if (!ret)
		ret = objstore_truncate(c->data, id, size, &e);
	return ret ? apply_error(c, "making", id, &e, ret) : 0;
}

static int fix_obj(struct fk *c, const struct fk_obj *o)
{
	struct mixfs_err e = { 0 };
	uint64_t size = o->size, want = o->meta_dirty ? o->want_size : o->size;
	int ret = 0;

	if (o->remove || !o->size_ok) {
		ret = objstore_remove(c->data, o->id, &e);
		if (ret && ret != -ENOENT)
			return apply_error(c, "removing", o->id, &e, ret);
		return o->remove ? 0 : make_obj(c, o->id, o->want_size);
	}
	for (size_t i = 0; i < o->nbad && !ret; i++) {
		const struct fk_bad *b = &o->bad[i];

		/* Whole chunks punch without reading them; a failing piece
		 * at the end is cut instead, and the size set again below. */
		if (b->off + b->len >= size) {
			ret = objstore_truncate(c->data, o->id, b->off, &e);
			size = b->off;
		} else {
			ret = objstore_punch(c->data, o->id, b->off, b->len,
					     &e);
		}
	}
	if (!ret && size != want)
		ret = objstore_truncate(c->data, o->id, want, &e);
	return ret ? apply_error(c, "mending", o->id, &e, ret) : 0;
}

int fk_data_apply(struct fk *c)
{
	struct mixfs_err e = { 0 };
	int ret = 0;

	if (!c->data_rec || c->data_unknown)
		return 0;
	if (c->data_make) {
		ret = objstore_open(c->data_open, OBJSTORE_OPEN_CREATE,
				    &c->data, &e);
		if (ret) {
			c->data = NULL;
			snprintf(c->why, sizeof(c->why),
				 "making the file data store %s: %s",
				 c->data_uri, mixfs_err_msg(&e, ret));
			return ret;
		}
	}
	if (!c->data)
		return 0;
	for (size_t i = 0; i < c->no && !ret; i++) {
		const struct fk_obj *o = &c->objs[i];

		if (!o->remove && !fk_ino_find(c, o->id))
			continue;	/* a leftover: the mount removes it */
		if (o->remove || !o->size_ok || o->nbad || o->meta_dirty)
			ret = fix_obj(c, o);
	}
	for (size_t i = 0; i < c->ni && !ret; i++) {
		const struct fk_ino *fi = &c->inos[i];

		if (fi->state != FK_GONE && fi->obj_make)
			ret = make_obj(c, fi->ino, fi->r.size);
	}
	if (!ret) {
		ret = objstore_sync(c->data, &e);
		if (ret)
			snprintf(c->why, sizeof(c->why), "syncing %s: %s",
				 c->data_uri, mixfs_err_msg(&e, ret));
	}
	return ret;
}

void fk_data_release(struct fk *c)
{
	objstore_close(c->data);
	c->data = NULL;
	for (size_t i = 0; i < c->no; i++)
		free(c->objs[i].bad);
	free(c->mobjs);
	free(c->data_uri);
	free(c->data_open);
	c->mobjs = NULL;
	c->data_uri = c->data_open = NULL;
}
