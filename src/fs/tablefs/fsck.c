/*
 * fsck.c - check, and with repair mend, a tablefs store that is not
 * mounted.
 *
 * The checker reads the RocksDB database itself, key by key, instead of
 * going through tfs_open() and the object store: a damaged superblock or
 * store header must not stop it, and every record has to be looked at,
 * including ones that no lookup would ever reach (a key whose bytes were
 * flipped lands somewhere nothing looks). One pass over the database
 * gathers what each record says (fsck_scan.c); this file then compares
 * the records with each other and decides, for each problem, what a
 * repair does. fsck_repair.c applies the decisions as one atomic write
 * batch and checks again.
 *
 * What repair does, in order of preference: rewrite a record from what the
 * others say (link counts, parents, sizes, directory headers, counters,
 * the superblock), rebuild a record whose owner is evident from the rest
 * (an inode whose directory records or data object survive), put nameless
 * inodes into /lost+found as "#INO", and only then drop what cannot be
 * parsed or belongs to nothing, saying what was lost.
 *
 * What it deliberately does not do: detect a change to a field that no
 * other record repeats (times, owner, permission bits, inline bytes,
 * extended attribute values). The format keeps no checksum over metadata
 * records; docs/tablefs.md lists those fields.
 */
#include "fs/tablefs/fsck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reporting ---------------------------------------------------------- */

void fk_problem(struct fk *c, const char *fix, const char *fmt, ...)
{
	char line[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->problems++;
	if (!c->repair)
		fsd_buf_printf(c->out, "%s\n", line);
	else if (fix)
		fsd_buf_printf(c->out, "%s: %s\n", line, fix);
	else
		fsd_buf_printf(c->out, "%s: not repaired\n", line);
}

int fk_nomem(struct fk *c)
{
	if (!c->err)
		c->err = -ENOMEM;
	return -ENOMEM;
}

void *fk_grow(struct fk *c, void *arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(arr, ncap * size);
	if (!p) {
		fk_nomem(c);
		return NULL;
	}
	*cap = ncap;
	return p;
}

/* --- lookups ------------------------------------------------------------ */

struct fk_ino *fk_ino_find(struct fk *c, uint64_t ino)
{
	size_t lo = 0, hi = c->ni;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->inos[mid].ino == ino)
			return &c->inos[mid];
		if (c->inos[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct fk_obj *fk_obj_find(struct fk *c, uint64_t id)
{
	size_t lo = 0, hi = c->no;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->objs[mid].id == id)
			return &c->objs[mid];
		if (c->objs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct fk_dir *fk_dir_find(struct fk *c, uint64_t ino)
{
	size_t lo = 0, hi = c->nd;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->dirs[mid].ino == ino)
			return &c->dirs[mid];
		if (c->dirs[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct fk_ino *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int cmp_dir(const void *a, const void *b)
{
	const struct fk_dir *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Add an inode record that is not in the store (made by repair); keeps
 * the array sorted, so pointers into it are invalid afterwards. */
static struct fk_ino *ino_add(struct fk *c, uint64_t ino)
{
	struct fk_ino *p = fk_grow(c, c->inos, &c->ci, c->ni, sizeof(*p));

	if (!p)
		return NULL;
	c->inos = p;
	memset(&p[c->ni], 0, sizeof(p[0]));
	p[c->ni].ino = ino;
	p[c->ni].dentry = SIZE_MAX;
	c->ni++;
	qsort(c->inos, c->ni, sizeof(*p), cmp_ino);
	return fk_ino_find(c, ino);
}

static struct fk_dir *dir_add(struct fk *c, uint64_t ino)
{
	struct fk_dir *p = fk_grow(c, c->dirs, &c->cd, c->nd, sizeof(*p));

	if (!p)
		return NULL;
	c->dirs = p;
	memset(&p[c->nd], 0, sizeof(p[0]));
	p[c->nd].ino = ino;
	c->nd++;
	qsort(c->dirs, c->nd, sizeof(*p), cmp_dir);
	return fk_dir_find(c, ino);
}

const char *fk_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "inode of no known type";
}

bool fk_type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

static bool live(const struct fk_ino *fi)
{
	return fi->state == FK_PRESENT || fi->state == FK_MADE;
}

/* --- superblock and counter --------------------------------------------- */

static void check_super(struct fk *c)
{
	uint32_t largest = 0;

	for (size_t i = 0; i < c->ni; i++) {
		struct fk_ino *fi = &c->inos[i];

		if (live(fi) && S_ISREG(fi->r.mode) &&
		    !(fi->r.flags & TFS_I_OBJECT) && fi->tail_len > largest)
			largest = (uint32_t)fi->tail_len;
	}
	if (c->sb_bad && !c->sb_magic_ok)
		c->sb_inline_ok = false;
	if (!c->sb_present) {
		c->sb_inline_max = largest > TFS_INLINE_MAX_DEFAULT ?
				   largest : TFS_INLINE_MAX_DEFAULT;
		fk_problem(c, "written anew", "the superblock is missing");
		c->sb_dirty = true;
	} else if (c->sb_bad) {
		if (!c->sb_inline_ok)
			c->sb_inline_max = TFS_INLINE_MAX_DEFAULT;
		if (c->sb_inline_max < largest)
			c->sb_inline_max = largest;
		fk_problem(c, "written anew from what the store holds",
			   "the superblock is corrupt (%s)", c->sb_why);
		c->sb_dirty = true;
	} else if (largest > c->sb_inline_max) {
		fk_problem(c, "limit raised to the largest inline file",
			   "the superblock's inline limit %u is below an inline file of %u bytes",
			   c->sb_inline_max, largest);
		c->sb_inline_max = largest;
		c->sb_dirty = true;
	}
}

static void check_counter(struct fk *c)
{
	uint64_t want = TFS_ROOT_INO + 1;

	for (size_t i = 0; i < c->ni; i++)
		if (live(&c->inos[i]) && c->inos[i].ino >= want)
			want = c->inos[i].ino + 1;
	if (!c->next_present) {
		fk_problem(c, "set past every inode", "the inode counter is missing");
	} else if (c->next_bad) {
		fk_problem(c, "set past every inode",
			   "the inode counter record is corrupt");
	} else if (c->next_ino < want) {
		fk_problem(c, "set past every inode",
			   "the inode counter %llu is not past inode %llu",
			   (unsigned long long)c->next_ino,
			   (unsigned long long)(want - 1));
	} else {
		return;
	}
	c->next_ino = want;
	c->next_dirty = true;
}

/* A fresh inode number (repair only): the counter moves on. */
static uint64_t new_ino(struct fk *c)
{
	uint64_t ino = c->next_ino;

	c->next_ino++;
	c->next_dirty = true;
	return ino;
}

/* --- inode records ------------------------------------------------------ */

/* What the other records say an inode's type is (0: nothing). */
static uint32_t evident_type(struct fk *c, struct fk_ino *fi)
{
	if (fi->ino == TFS_ROOT_INO || fk_dir_find(c, fi->ino))
		return S_IFDIR;
	if (fi->obj != SIZE_MAX)
		return S_IFREG;
	if (fi->ent_type)
		return (uint32_t)fi->ent_type << 12;
	return 0;
}

static void fresh_irec(struct tfs_irec *r, uint32_t type)
{
	memset(r, 0, sizeof(*r));
	r->version = 1;
	r->mode = type | (type == S_IFDIR ? 0755 : 0644);
	tfs_now(&r->ctime);
	r->atime = r->mtime = r->btime = r->ctime;
}

/*
 * Mend what the record itself shows to be wrong: fields with a fixed
 * value, a type no other record disagrees with, the shape of the tail.
 * Link counts and parents wait until the directories are known.
 */
static void check_inode_record(struct fk *c, struct fk_ino *fi)
{
	unsigned long long ino = (unsigned long long)fi->ino;
	struct fk_obj *o = fi->obj != SIZE_MAX ? &c->objs[fi->obj] : NULL;
	uint32_t type;

	if (fi->state != FK_PRESENT)
		return;
	if (fi->unparsed) {
		type = evident_type(c, fi);
		if (!type || type == S_IFLNK) {
			fk_problem(c, type ? "removed (the target is lost)" :
				   "removed (nothing else refers to it)",
				   "inode %llu: record of %zu bytes cannot be read",
				   ino, fi->vlen);
			fi->state = FK_GONE;
			return;
		}
		fk_problem(c, "rebuilt as an empty owner-less inode from its directory records and data",
			   "inode %llu: record of %zu bytes cannot be read (%s %s)",
			   ino, fi->vlen, fk_type_name(type),
			   type == S_IFREG && !o ? "contents lost" :
			   "attributes lost");
		fresh_irec(&fi->r, type);
		fi->tail_len = 0;
		if (o) {
			fi->r.flags = TFS_I_OBJECT;
			fi->r.size = o->size_ok ? o->size : o->chunk_end;
		}
		fi->dirty = true;
		return;
	}
	if (!fk_type_ok(fi->r.mode)) {
		type = evident_type(c, fi);
		if (!type) {
			fk_problem(c, "removed", "inode %llu: mode %o is no file type and nothing tells which",
				   ino, fi->r.mode);
			fi->state = FK_GONE;
			return;
		}
		fk_problem(c, "type set from its other records",
			   "inode %llu: mode %o is no file type", ino,
			   fi->r.mode);
		fi->r.mode = type | (fi->r.mode & 07777);
		fi->dirty = true;
	}
	if (fi->r.mode & ~(uint32_t)(S_IFMT | 07777)) {
		fk_problem(c, "cleared", "inode %llu: mode %o has bits past the file type",
			   ino, fi->r.mode);
		fi->r.mode &= S_IFMT | 07777;
		fi->dirty = true;
	}
	if (fi->r.reserved || fi->r.atime.pad || fi->r.mtime.pad ||
	    fi->r.ctime.pad || fi->r.btime.pad) {
		fk_problem(c, "cleared", "inode %llu: reserved bytes are not zero", ino);
		fi->r.reserved = 0;
		fi->r.atime.pad = fi->r.mtime.pad = 0;
		fi->r.ctime.pad = fi->r.btime.pad = 0;
		fi->dirty = true;
	}
	if (fi->r.atime.nsec >= 1000000000u || fi->r.mtime.nsec >= 1000000000u ||
	    fi->r.ctime.nsec >= 1000000000u || fi->r.btime.nsec >= 1000000000u) {
		fk_problem(c, "set to zero", "inode %llu: a time has nanoseconds past a second", ino);
		if (fi->r.atime.nsec >= 1000000000u)
			fi->r.atime.nsec = 0;
		if (fi->r.mtime.nsec >= 1000000000u)
			fi->r.mtime.nsec = 0;
		if (fi->r.ctime.nsec >= 1000000000u)
			fi->r.ctime.nsec = 0;
		if (fi->r.btime.nsec >= 1000000000u)
			fi->r.btime.nsec = 0;
		fi->dirty = true;
	}
	if (fi->r.flags & ~TFS_I_OBJECT) {
		uint8_t want = S_ISREG(fi->r.mode) && o && fi->tail_len == 0 ?
			       TFS_I_OBJECT : 0;

		fk_problem(c, "set from the data object", "inode %llu: unknown flags %#x",
			   ino, fi->r.flags);
		fi->r.flags = want;
		fi->dirty = true;
	}
	if (!S_ISREG(fi->r.mode) && (fi->r.flags & TFS_I_OBJECT)) {
		fk_problem(c, "flag cleared", "inode %llu: a %s with a data object",
			   ino, fk_type_name(fi->r.mode));
		fi->r.flags = 0;
		fi->dirty = true;
	}
	if (S_ISREG(fi->r.mode) && (fi->r.flags & TFS_I_OBJECT)) {
		if (fi->tail_len) {
			fk_problem(c, "inline bytes dropped", "inode %llu: data object and %zu inline bytes",
				   ino, fi->tail_len);
			fi->tail_len = 0;
			fi->dirty = true;
		}
		if (fi->r.size > OBJSTORE_MAX_SIZE) {
			uint64_t sz = o && o->size_ok ? o->size : 0;

			fk_problem(c, "set to its object's size", "inode %llu: size %llu is past the largest file",
				   ino, (unsigned long long)fi->r.size);
			fi->r.size = sz;
			fi->dirty = true;
		}
	} else if (S_ISREG(fi->r.mode)) {
		if (fi->tail_len != fi->r.size && !fi->tail_len && o &&
		    o->size_ok && o->size == fi->r.size) {
			fk_problem(c, "flag set: its data object has its size",
				   "inode %llu: file of size %llu without its data object flag",
				   ino, (unsigned long long)fi->r.size);
			fi->r.flags |= TFS_I_OBJECT;
			fi->dirty = true;
		} else if (fi->tail_len != fi->r.size) {
			fk_problem(c, "size set to the bytes held", "inode %llu: inline file of size %llu holds %zu bytes",
				   ino, (unsigned long long)fi->r.size,
				   fi->tail_len);
			fi->r.size = fi->tail_len;
			fi->dirty = true;
		}
	} else if (S_ISLNK(fi->r.mode)) {
		if (fi->tail_len == 0 || fi->tail_len > TFS_SYMLINK_MAX ||
		    fi->tail_nul) {
			fk_problem(c, "removed (the target is lost)",
				   "inode %llu: symlink target of %zu bytes is not a path",
				   ino, fi->tail_len);
			fi->state = FK_GONE;
			return;
		}
		if (fi->r.size != fi->tail_len) {
			fk_problem(c, "size set to the target's length", "inode %llu: symlink of size %llu has a %zu-byte target",
				   ino, (unsigned long long)fi->r.size,
				   fi->tail_len);
			fi->r.size = fi->tail_len;
			fi->dirty = true;
		}
	} else {
		if (fi->tail_len || fi->r.size) {
			fk_problem(c, "size and tail cleared", "inode %llu: a %s of size %llu with %zu tail bytes",
				   ino, fk_type_name(fi->r.mode),
				   (unsigned long long)fi->r.size, fi->tail_len);
			fi->tail_len = 0;
			fi->r.size = 0;
			fi->dirty = true;
		}
	}
	if (!S_ISCHR(fi->r.mode) && !S_ISBLK(fi->r.mode) && fi->r.rdev) {
		fk_problem(c, "cleared", "inode %llu: a %s with device number %#llx",
			   ino, fk_type_name(fi->r.mode),
			   (unsigned long long)fi->r.rdev);
		fi->r.rdev = 0;
		fi->dirty = true;
	}
	if (fi->r.version != 1) {
		fk_problem(c, "set to 1", "inode %llu: record version %u", ino,
			   fi->r.version);
		fi->r.version = 1;
		fi->dirty = true;
	}
}

/*
 * Inodes that other records need but that have no record: a directory
 * whose entries survive, a file whose data object survives. Anything
 * else referring to a missing inode is dropped later.
 */
static int make_missing_inodes(struct fk *c)
{
	for (size_t i = 0; i < c->nd; i++) {
		uint64_t ino = c->dirs[i].ino;
		struct fk_ino *fi = fk_ino_find(c, ino);

		/* Only a header says a directory was there: a stray record
		 * (a flipped key) has none, and is dropped instead. */
		if (fi || (!c->dirs[i].hdr_seen && ino != TFS_ROOT_INO) ||
		    ino >= FSD_CTL_INO_BASE || ino == 0)
			continue;	/* inode 0 never exists: dropped */
		fi = ino_add(c, ino);
		if (!fi)
			return -ENOMEM;
		fk_problem(c, "rebuilt from its entries", "directory %llu has a header but no inode record",
			   (unsigned long long)ino);
		fresh_irec(&fi->r, S_IFDIR);
		fi->state = FK_MADE;
		fi->dirty = true;
	}
	if (!fk_ino_find(c, TFS_ROOT_INO)) {
		struct fk_ino *fi = ino_add(c, TFS_ROOT_INO);

		if (!fi)
			return -ENOMEM;
		fk_problem(c, "made anew", "the root directory (inode 1) is missing");
		fresh_irec(&fi->r, S_IFDIR);
		fi->state = FK_MADE;
		fi->dirty = true;
	}
	for (size_t i = 0; i < c->no; i++) {
		struct fk_obj *o = &c->objs[i];
		struct fk_ino *fi;

		if (o->id == TFS_EVENTS_OBJ || o->id == 0 ||
		    o->id >= FSD_CTL_INO_BASE || fk_ino_find(c, o->id))
			continue;
		if (!o->nchunks || fk_data_leftover(c, o))
			continue;	/* no data: nothing to keep */
		fi = ino_add(c, o->id);
		if (!fi)
			return -ENOMEM;
		fk_problem(c, "rebuilt as a regular file around its data",
			   "object %llu holds data but its inode record is missing",
			   (unsigned long long)o->id);
		fresh_irec(&fi->r, S_IFREG);
		fi->r.flags = TFS_I_OBJECT;
		fi->r.size = o->size_ok ? o->size : o->chunk_end;
		fi->state = FK_MADE;
		fi->dirty = true;
	}
	/* ino_add reordered the array: point the objects' owners again. */
	for (size_t i = 0; i < c->ni; i++)
		c->inos[i].obj = SIZE_MAX;
	for (size_t i = 0; i < c->no; i++) {
		struct fk_ino *fi = fk_ino_find(c, c->objs[i].id);

		if (fi)
			fi->obj = i;
	}
	return 0;
}

/* --- directories -------------------------------------------------------- */

static struct fk_ent *dir_ent(struct fk *c, struct fk_dir *d, size_t i)
{
	return &c->ents[d->first + i];
}

/* Can inode @ino be what an entry of @type names, with @seen other names
 * naming it? */
static bool fits(struct fk *c, uint64_t ino, unsigned char type)
{
	struct fk_ino *t = fk_ino_find(c, ino);

	return t && live(t) && ((t->r.mode & S_IFMT) >> 12) == type &&
	       (S_ISDIR(t->r.mode) ? t->links == 0 : t->r.nlink > t->links);
}

/*
 * A name record and its cookie record that name different inodes: one of
 * the two numbers was damaged. Keep the one that fits: a live inode of the
 * entry's type that has a name to spare (its link count is above the
 * names found elsewhere); the name record's when both or neither fit.
 */
static void pick_ino(struct fk *c)
{
	for (size_t i = 0; i < c->ni; i++)
		c->inos[i].links = 0;
	for (size_t i = 0; i < c->ne; i++) {
		struct fk_ino *t = fk_ino_find(c, c->ents[i].ino);

		if (t && !c->ents[i].alt_ino)
			t->links++;
	}
	for (size_t i = 0; i < c->ne; i++) {
		struct fk_ent *e = &c->ents[i];

		if (e->alt_ino && !fits(c, e->ino, e->type) &&
		    fits(c, e->alt_ino, e->type))
			e->ino = e->alt_ino;
		e->alt_ino = 0;
	}
	for (size_t i = 0; i < c->ni; i++)
		c->inos[i].links = 0;
}

/* Entry types against the inodes they name, and the directories' own
 * inodes against their records. */
static void check_entries(struct fk *c)
{
	pick_ino(c);
	for (size_t i = 0; i < c->nd; i++) {
		struct fk_dir *d = &c->dirs[i];
		struct fk_ino *self = fk_ino_find(c, d->ino);
		unsigned long long dino = (unsigned long long)d->ino;

		if (!self || !live(self) || !S_ISDIR(self->r.mode)) {
			fk_problem(c, "records removed, entries go to /lost+found",
				   "directory records for inode %llu, which is %s",
				   dino, !self || !live(self) ? "missing" :
				   fk_type_name(self->r.mode));
			d->destroy = true;
			for (size_t k = 0; k < d->nent; k++)
				dir_ent(c, d, k)->drop = true;
			continue;
		}
		self->has_dir = true;
		for (size_t k = 0; k < d->nent; k++) {
			struct fk_ent *e = dir_ent(c, d, k);
			struct fk_ino *t;

			if (e->drop)
				continue;
			t = fk_ino_find(c, e->ino);
			if (!t || !live(t) || e->ino == TFS_ROOT_INO) {
				fk_problem(c, "entry removed",
					   "directory %llu: entry '%s' points at %s inode %llu",
					   dino, e->name,
					   e->ino == TFS_ROOT_INO ? "the root" :
					   "missing", (unsigned long long)e->ino);
				e->drop = true;
				d->rebuild = true;
				continue;
			}
			if (((t->r.mode & S_IFMT) >> 12) != e->type) {
				fk_problem(c, "entry type set from the inode",
					   "directory %llu: entry '%s' has type %u, inode %llu is a %s",
					   dino, e->name, e->type,
					   (unsigned long long)e->ino,
					   fk_type_name(t->r.mode));
				e->type = (unsigned char)((t->r.mode & S_IFMT) >> 12);
				d->rebuild = true;
			}
		}
	}
	for (size_t i = 0; i < c->ni; i++) {
		struct fk_ino *fi = &c->inos[i];

		if (live(fi) && S_ISDIR(fi->r.mode) && !fi->has_dir &&
		    !(fi->r.nlink == 0 && fi->orphan)) {
			struct fk_dir *d;

			fk_problem(c, "made empty", "directory %llu has no directory records",
				   (unsigned long long)fi->ino);
			d = dir_add(c, fi->ino);
			if (!d)
				return;
			d->first = c->ne;
			d->rebuild = true;
			fi = fk_ino_find(c, c->inos[i].ino);
			fi->has_dir = true;
		}
	}
}

/* Count names; a directory keeps one name, the one its parent field (or
 * else the first found) agrees with. */
static void count_names(struct fk *c)
{
	for (size_t i = 0; i < c->ni; i++) {
		c->inos[i].links = 0;
		c->inos[i].subdirs = 0;
		c->inos[i].dentry = SIZE_MAX;
	}
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->nd; i++) {
			struct fk_dir *d = &c->dirs[i];

			if (d->destroy)
				continue;
			for (size_t k = 0; k < d->nent; k++) {
				struct fk_ent *e = dir_ent(c, d, k);
				struct fk_ino *t;

				if (e->drop)
					continue;
				t = fk_ino_find(c, e->ino);
				if (!S_ISDIR(t->r.mode)) {
					if (pass == 0)
						t->links++;
					continue;
				}
				/* pass 0 takes the name the parent field
				 * names; pass 1 the first of the rest */
				if (t->dentry != SIZE_MAX) {
					if (pass == 1 && t->dentry != d->first + k) {
						fk_problem(c, "extra name removed",
							   "directory %llu has a second name '%s' in %llu",
							   (unsigned long long)t->ino, e->name,
							   (unsigned long long)d->ino);
						e->drop = true;
						d->rebuild = true;
					}
					continue;
				}
				if (pass == 0 && t->r.parent != d->ino)
					continue;
				t->dentry = d->first + k;
				t->links = 1;
			}
		}
	}
}

/* --- reachability and /lost+found ---------------------------------------- */

static bool orphan_in_progress(struct fk *c, struct fk_ino *fi)
{
	struct fk_dir *d;

	if (fi->links || fi->ino == TFS_ROOT_INO)
		return false;
	if (!fi->orphan && fi->r.nlink)
		return false;
	if (S_ISDIR(fi->r.mode)) {
		d = fk_dir_find(c, fi->ino);
		for (size_t k = 0; d && k < d->nent; k++)
			if (!dir_ent(c, d, k)->drop)
				return false;
	}
	return true;
}

/* Mark everything reachable from the root (directories via their one
 * name). */
static void mark_reachable(struct fk *c)
{
	bool more = true;

	for (size_t i = 0; i < c->ni; i++)
		c->inos[i].reachable = live(&c->inos[i]) &&
			(c->inos[i].ino == TFS_ROOT_INO || c->inos[i].assumed);
	while (more) {
		more = false;
		for (size_t i = 0; i < c->nd; i++) {
			struct fk_dir *d = &c->dirs[i];
			struct fk_ino *self = fk_ino_find(c, d->ino);

			if (d->destroy || !self || !self->reachable)
				continue;
			for (size_t k = 0; k < d->nent; k++) {
				struct fk_ent *e = dir_ent(c, d, k);
				struct fk_ino *t;

				if (e->drop)
					continue;
				t = fk_ino_find(c, e->ino);
				if (t->reachable)
					continue;
				if (S_ISDIR(t->r.mode) &&
				    t->dentry != d->first + k)
					continue;
				t->reachable = true;
				more = true;
			}
		}
	}
}

static int ent_add(struct fk *c, uint64_t dir, const char *name,
		   uint64_t ino, unsigned char type)
{
	struct fk_ent *p = fk_grow(c, c->ents, &c->ce, c->ne, sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->ents = p;
	memset(&p[c->ne], 0, sizeof(p[0]));
	p[c->ne].dir = dir;
	p[c->ne].ino = ino;
	p[c->ne].type = type;
	snprintf(p[c->ne].name, sizeof(p[c->ne].name), "%s", name);
	p[c->ne].namelen = (uint16_t)strlen(p[c->ne].name);
	c->ne++;
	return 0;
}

static bool name_taken(struct fk *c, struct fk_dir *d, const char *name)
{
	for (size_t k = 0; k < d->nent; k++)
		if (!dir_ent(c, d, k)->drop &&
		    !strcmp(dir_ent(c, d, k)->name, name))
			return true;
	return false;
}

/*
 * New entries go at the end of c->ents; a directory's entries must stay
 * contiguous, so the directory that gets one (root, /lost+found) is moved
 * to the end first.
 */
static int dir_move_to_end(struct fk *c, struct fk_dir *d)
{
	size_t first = c->ne;

	if (d->first + d->nent == c->ne)
		return 0;
	for (size_t k = 0; k < d->nent; k++) {
		struct fk_ent e = *dir_ent(c, d, k);
		int ret;

		ret = ent_add(c, e.dir, e.name, e.ino, e.type);
		if (ret)
			return ret;
		c->ents[c->ne - 1] = e;
		dir_ent(c, d, k)->drop = true;
		dir_ent(c, d, k)->moved = true;
	}
	d->first = first;
	/* the inodes' dentry indices pointed at the old copies */
	for (size_t k = 0; k < d->nent; k++) {
		struct fk_ino *t = fk_ino_find(c, dir_ent(c, d, k)->ino);

		if (t && t->dentry != SIZE_MAX &&
		    c->ents[t->dentry].moved &&
		    c->ents[t->dentry].dir == d->ino &&
		    !strcmp(c->ents[t->dentry].name, dir_ent(c, d, k)->name))
			t->dentry = d->first + k;
	}
	return 0;
}

static int dir_append(struct fk *c, struct fk_dir *d, const char *name,
		      struct fk_ino *t)
{
	int ret = dir_move_to_end(c, d);

	if (ret)
		return ret;
	ret = ent_add(c, d->ino, name, t->ino,
		      (unsigned char)((t->r.mode & S_IFMT) >> 12));
	if (ret)
		return ret;
	d->nent++;
	d->rebuild = true;
	if (S_ISDIR(t->r.mode))
		t->dentry = c->ne - 1;
	t->links++;
	return 0;
}

/* Find or make /lost+found (repair decides; the check only reports). */
static struct fk_dir *lost_found(struct fk *c)
{
	struct fk_dir *root = fk_dir_find(c, TFS_ROOT_INO);
	struct fk_ino *fi;
	struct fk_dir *d;
	char name[64] = "lost+found";
	uint64_t ino;

	if (c->lf)
		return fk_dir_find(c, c->lf);
	for (size_t k = 0; root && k < root->nent; k++) {
		struct fk_ent *e = dir_ent(c, root, k);

		if (!e->drop && !strcmp(e->name, name) && e->type == (S_IFDIR >> 12)) {
			c->lf = e->ino;
			return fk_dir_find(c, c->lf);
		}
	}
	if (!root)
		return NULL;
	ino = new_ino(c);
	if (name_taken(c, root, name))
		snprintf(name, sizeof(name), "lost+found.%llu",
			 (unsigned long long)ino);
	fi = ino_add(c, ino);
	if (!fi)
		return NULL;
	fresh_irec(&fi->r, S_IFDIR);
	fi->r.mode = S_IFDIR | 0700;
	fi->state = FK_MADE;
	fi->dirty = true;
	fi->has_dir = true;
	fi->reachable = true;
	fi->obj = SIZE_MAX;
	fi->dentry = SIZE_MAX;
	d = dir_add(c, ino);
	if (!d)
		return NULL;
	d->first = c->ne;
	d->rebuild = true;
	root = fk_dir_find(c, TFS_ROOT_INO);
	if (dir_append(c, root, name, fk_ino_find(c, ino)))
		return NULL;
	fsd_buf_printf(c->out, "made /%s for inodes without a name\n", name);
	c->lf = ino;
	return fk_dir_find(c, ino);
}

static int to_lost_found(struct fk *c, uint64_t ino)
{
	struct fk_dir *lf = lost_found(c);
	char name[32];

	if (!lf)
		return fk_nomem(c);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	return dir_append(c, lf, name, fk_ino_find(c, ino));
}

/* The topmost unreachable directory above @fi, following names. */
static struct fk_ino *detached_top(struct fk *c, struct fk_ino *fi)
{
	for (size_t steps = 0; steps < c->ni; steps++) {
		struct fk_ino *up;

		if (fi->dentry == SIZE_MAX)
			return fi;
		up = fk_ino_find(c, c->ents[fi->dentry].dir);
		if (!up || up->reachable || up == fi)
			return fi;
		fi = up;
	}
	return fi;	/* a loop: any member will do */
}

static int check_reachable(struct fk *c)
{
	for (;;) {
		struct fk_ino *top = NULL;

		mark_reachable(c);
		for (size_t i = 0; i < c->ni && !top; i++) {
			struct fk_ino *fi = &c->inos[i];

			if (live(fi) && !fi->reachable && S_ISDIR(fi->r.mode) &&
			    !orphan_in_progress(c, fi))
				top = detached_top(c, fi);
		}
		if (!top)
			break;
		fk_problem(c, "moved to /lost+found",
			   "directory %llu cannot be reached from the root",
			   (unsigned long long)top->ino);
		if (top->dentry != SIZE_MAX) {
			struct fk_ent *e = &c->ents[top->dentry];

			e->drop = true;
			fk_dir_find(c, e->dir)->rebuild = true;
			top->dentry = SIZE_MAX;
			top->links = 0;
		}
		if (!c->repair) {
			top->assumed = true;	/* report each once */
			top->links = 1;
			continue;
		}
		if (to_lost_found(c, top->ino))
			return -ENOMEM;
	}
	for (size_t i = 0; i < c->ni; i++) {
		struct fk_ino *fi = &c->inos[i];
		uint64_t ino = fi->ino;

		if (!live(fi) || fi->links || ino == TFS_ROOT_INO ||
		    S_ISDIR(fi->r.mode) || fi->reachable)
			continue;
		if (orphan_in_progress(c, fi))
			continue;
		fk_problem(c, "moved to /lost+found",
			   "inode %llu (%s) has no name", (unsigned long long)ino,
			   fk_type_name(fi->r.mode));
		if (c->repair && to_lost_found(c, ino))
			return -ENOMEM;
	}
	return 0;
}

/* --- link counts, parents, orphans, directory headers -------------------- */

static void check_counts(struct fk *c)
{
	for (size_t i = 0; i < c->nd; i++) {
		struct fk_dir *d = &c->dirs[i];

		for (size_t k = 0; !d->destroy && k < d->nent; k++) {
			struct fk_ent *e = dir_ent(c, d, k);
			struct fk_ino *t;

			if (e->drop)
				continue;
			t = fk_ino_find(c, e->ino);
			if (S_ISDIR(t->r.mode) && t->dentry == d->first + k)
				fk_ino_find(c, d->ino)->subdirs++;
		}
	}
	for (size_t i = 0; i < c->ni; i++) {
		struct fk_ino *fi = &c->inos[i];
		unsigned long long ino = (unsigned long long)fi->ino;
		uint64_t want;

		if (!live(fi))
			continue;
		if (!S_ISDIR(fi->r.mode) && fi->r.parent) {
			fk_problem(c, "cleared", "inode %llu: a %s with parent %llu",
				   ino, fk_type_name(fi->r.mode),
				   (unsigned long long)fi->r.parent);
			fi->r.parent = 0;
			fi->dirty = true;
		}
		if (orphan_in_progress(c, fi)) {
			if (!fi->orphan) {
				fk_problem(c, "orphan mark restored: the next mount frees it",
					   "inode %llu has no name and no links but no orphan mark",
					   ino);
				fi->orphan_put = true;
			}
			if (fi->r.nlink) {
				fk_problem(c, "set to 0", "orphan inode %llu has link count %llu",
					   ino, (unsigned long long)fi->r.nlink);
				fi->r.nlink = 0;
				fi->dirty = true;
			}
			continue;
		}
		if (fi->orphan) {
			fk_problem(c, "mark removed", "inode %llu is marked orphan but has a name",
				   ino);
			fi->orphan_del = true;
		}
		want = S_ISDIR(fi->r.mode) ? 2 + fi->subdirs : fi->links;
		if (fi->r.nlink != want) {
			fk_problem(c, "set", "inode %llu: link count %llu, want %llu",
				   ino, (unsigned long long)fi->r.nlink,
				   (unsigned long long)want);
			fi->r.nlink = want;
			fi->dirty = true;
		}
		if (S_ISDIR(fi->r.mode)) {
			uint64_t parent = fi->ino == TFS_ROOT_INO ? TFS_ROOT_INO :
				fi->dentry < c->ne ? c->ents[fi->dentry].dir :
				fi->r.parent;

			if (fi->r.parent != parent) {
				fk_problem(c, "set", "directory %llu: parent %llu, but named in %llu",
					   ino, (unsigned long long)fi->r.parent,
					   (unsigned long long)parent);
				fi->r.parent = parent;
				fi->dirty = true;
			}
		}
	}
	for (size_t i = 0; i < c->nd; i++) {
		struct fk_dir *d = &c->dirs[i];
		uint64_t n = 0, max = DIR_COOKIE_FIRST - 1;

		if (d->destroy || d->rebuild)
			continue;
		for (size_t k = 0; k < d->nent; k++) {
			if (dir_ent(c, d, k)->drop)
				continue;
			n++;
			if (dir_ent(c, d, k)->cookie > max)
				max = dir_ent(c, d, k)->cookie;
		}
		if (!d->hdr_ok)
			continue;	/* reported by the scan, rebuilt */
		if (d->count != n) {
			fk_problem(c, "header rewritten", "directory %llu: header counts %llu entries, holds %llu",
				   (unsigned long long)d->ino,
				   (unsigned long long)d->count,
				   (unsigned long long)n);
			d->rebuild = true;
		} else if (d->next_cookie <= max) {
			fk_problem(c, "header rewritten", "directory %llu: next cookie %llu is not past %llu",
				   (unsigned long long)d->ino,
				   (unsigned long long)d->next_cookie,
				   (unsigned long long)max);
			d->rebuild = true;
		}
	}
}

/* --- data objects ------------------------------------------------------- */

static void check_objects(struct fk *c)
{
	for (size_t i = 0; i < c->no; i++) {
		struct fk_obj *o = &c->objs[i];
		struct fk_ino *fi = fk_ino_find(c, o->id);
		unsigned long long id = (unsigned long long)o->id;

		if (o->id == TFS_EVENTS_OBJ && !c->data_rec) {
			o->want_size = o->size_ok ? o->size : o->chunk_end;
			continue;
		}
		/* A file that grew past the inline limit has its object
		 * written before the inode says so; a crash in between leaves
		 * the object, which the file takes over when it grows again.
		 * Not a problem: nothing reads it, nothing is lost. */
		if (fi && fi->state == FK_PRESENT && !fi->dirty &&
		    S_ISREG(fi->r.mode) && !(fi->r.flags & TFS_I_OBJECT) &&
		    fi->tail_len == fi->r.size && o->size_ok &&
		    o->allocated == o->chunk_sum && o->chunk_end <= o->size &&
		    !o->meta_dirty) {
			o->want_size = o->size;
			continue;
		}
		if (!fi && fk_data_leftover(c, o))
			continue;
		if (!fi || !live(fi) || !S_ISREG(fi->r.mode) ||
		    !(fi->r.flags & TFS_I_OBJECT)) {
			fk_problem(c, "object removed", "object %llu belongs to no file (%s)",
				   id, !fi || !live(fi) ? "no such inode" :
				   S_ISREG(fi->r.mode) ? "the file is inline" :
				   fk_type_name(fi->r.mode));
			o->remove = true;
			continue;
		}
		o->want_size = o->size_ok ? o->size : fi->r.size;
		if (!o->size_ok) {
			/* A data store of its own is mended through its API,
			 * which cannot keep the data of an unreadable object. */
			fk_problem(c, c->data_rec ?
				   "object made anew with the file's size (its data is lost)" :
				   "object record rebuilt with the file's size",
				   "inode %llu: its object's record is %s", id,
				   o->meta_present ? "corrupt" : "missing");
			o->want_size = fi->r.size;
			o->meta_dirty = true;
		} else if (o->size > fi->r.size && o->chunk_end > fi->r.size &&
			   o->chunk_end <= o->size) {
			/*
			 * Data reaches the object before the inode record, and
			 * a shrink cuts the object after it: a crash in
			 * between leaves an object holding data past the
			 * file's size. No damage: reads stop at the size, and
			 * tablefs cuts the excess before the file grows. (A
			 * damaged size alone, with no data out there, is
			 * still reported below.)
			 */
			o->want_size = o->size;
		} else if (c->data_rec && o->size < fi->r.size) {
			/*
			 * Two stores, synced only by fsync: a power cut can
			 * keep the batch with a new size and lose data not
			 * yet synced. What is missing reads as zeros, as an
			 * unsynced extension may on any filesystem.
			 */
			o->want_size = o->size;
		} else if (o->size != fi->r.size) {
			fk_problem(c, o->size > fi->r.size ?
				   "object cut to the file's size" :
				   "object extended to the file's size (the rest reads as zeros, as before)",
				   "inode %llu: size %llu but its object holds %llu bytes",
				   id, (unsigned long long)fi->r.size,
				   (unsigned long long)o->size);
			o->want_size = fi->r.size;
			o->meta_dirty = true;
		}
		if (o->chunk_end > o->want_size && !o->meta_dirty) {
			fk_problem(c, "data past the end dropped",
				   "object %llu: data up to %llu past its size %llu",
				   id, (unsigned long long)o->chunk_end,
				   (unsigned long long)o->want_size);
			o->meta_dirty = true;
		}
		if (o->size_ok && o->allocated != o->chunk_sum && !o->meta_dirty) {
			fk_problem(c, "object record rewritten",
				   "object %llu: records %llu bytes stored, its chunks hold %llu",
				   id, (unsigned long long)o->allocated,
				   (unsigned long long)o->chunk_sum);
			o->meta_dirty = true;
		}
	}
	for (size_t i = 0; i < c->ni && !c->data_unknown; i++) {
		struct fk_ino *fi = &c->inos[i];

		if (!live(fi) || !S_ISREG(fi->r.mode) ||
		    !(fi->r.flags & TFS_I_OBJECT) || fi->obj != SIZE_MAX)
			continue;
		if (orphan_in_progress(c, fi)) {
			/* Freeing removes the object first: a crash between
			 * the two leaves this, and the next mount finishes
			 * the freeing (free_inode() takes a missing object
			 * as removed). A normal leftover, like the orphan
			 * mark itself: not a problem; repair frees it. */
			fi->state = FK_GONE;
			continue;
		}
		fk_problem(c, "made anew: the file reads as zeros",
			   "inode %llu: its data object is missing (%llu bytes lost)",
			   (unsigned long long)fi->ino,
			   (unsigned long long)fi->r.size);
		fi->obj_make = true;
	}
}

/* The root exists (make_missing_inodes saw to it); it must be a directory
 * whatever its record said. */
static void check_root(struct fk *c)
{
	struct fk_ino *root = fk_ino_find(c, TFS_ROOT_INO);

	if (root->state != FK_GONE && S_ISDIR(root->r.mode))
		return;
	fk_problem(c, "made a directory anew", "the root inode is not a directory");
	fresh_irec(&root->r, S_IFDIR);
	if (root->state == FK_GONE)
		root->state = FK_MADE;
	root->dirty = true;
}

/* --- the whole check ---------------------------------------------------- */

int fk_analyse(struct fk *c)
{
	int ret;

	ret = fk_scan(c);
	if (ret)
		return ret;
	ret = make_missing_inodes(c);
	if (ret)
		return fk_nomem(c);
	for (size_t i = 0; i < c->ni; i++)
		check_inode_record(c, &c->inos[i]);
	check_root(c);
	check_super(c);
	check_entries(c);
	if (c->err)
		return c->err;
	check_counter(c);
	count_names(c);
	ret = check_reachable(c);
	if (ret)
		return ret;
	check_counts(c);
	check_objects(c);
	fk_check_data_ranges(c);
	fk_check_meta_objects(c);
	fk_check_store(c);
	return c->err;
}

void fk_release(struct fk *c)
{
	fk_data_release(c);
	free(c->inos);
	free(c->dirs);
	free(c->ents);
	free(c->objs);
	for (size_t i = 0; i < c->ndel; i++)
		free(c->dels[i].key);
	free(c->dels);
}
