/*
 * gen_corpus.c - writes the seed inputs of the fuzz targets whose inputs
 * are binary records the code itself produces, so that every seed is a
 * real one: gen_corpus TARGET DIR (TARGET: balloc, event_json,
 * dir_linear, tablefs, dirstore, event_store). The text
 * targets' seeds (uri, ctl) are written by hand. Run it again after a
 * format change and check the new files in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloclib/balloc.h"
#include "objstore/objstore.h"
#include "fs/tablefs/tablefs.h"
#include "events/events.h"
#include "../dirlib/tb.h"

static void put_file(const char *dir, const char *name, const void *a,
		     size_t alen, const void *b, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen ||
	    (blen && fwrite(b, 1, blen, f) != blen) || fclose(f)) {
		fprintf(stderr, "gen_corpus: cannot write %s\n", path);
		exit(1);
	}
}

/* Mode byte, then the serialised allocator (fuzz_balloc.c). */
static void gen_balloc(const char *dir)
{
	static const struct {
		const char *name, *kind;
		uint64_t n;
		unsigned mode;
	} v[] = {
		{ "bitmap-empty", "bitmap", 100, 0 },
		{ "bitmap-mixed", "bitmap", 3001, 0 },
		{ "bitmap-as-extent", "bitmap", 777, 2 },
		{ "extent-mixed", "extent", 3001, 0 },
		{ "extent-as-bitmap", "extent", 500, 1 },
		{ "extent-full", "extent", 64, 4 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct balloc a;
		struct balloc_extent x;
		unsigned char mode = (unsigned char)v[i].mode, *buf;
		size_t len;

		if (balloc_init(&a, v[i].kind, v[i].n, 4096, NULL))
			exit(1);
		if (strstr(v[i].name, "mixed"))
			for (uint64_t b = 0; b < v[i].n; b += 1 + b % 13)
				balloc_alloc(&a, NULL, b, 1, 1 + b % 5, &x,
					     NULL);
		if (strstr(v[i].name, "full"))
			balloc_alloc(&a, NULL, 0, 64, 64, &x, NULL);
		len = balloc_serial_size(&a);
		buf = malloc(len);
		if (!buf || balloc_serialise(&a, buf, len, &len, NULL))
			exit(1);
		put_file(dir, v[i].name, &mode, 1, buf, len);
		free(buf);
		balloc_release(&a);
	}
}

static size_t rec(unsigned char *p, const char *key, const char *val,
		  size_t vlen)
{
	size_t kl = strlen(key);

	p[0] = (unsigned char)kl;
	p[1] = (unsigned char)vlen;
	p[2] = (unsigned char)(vlen >> 8);
	memcpy(p + 3, key, kl);
	memcpy(p + 3 + kl, val, vlen);
	return 3 + kl + vlen;
}

/* Type, reader buffer size, records (fuzz_event_json.c). */
static void gen_event_json(const char *dir)
{
	unsigned char buf[8192];
	char big[3000];
	size_t n;

	n = 2;
	buf[0] = EVT_MOUNTED;
	buf[1] = 255;
	n += rec(buf + n, "driver", "tablefs", 7);
	n += rec(buf + n, "mount", "/mnt/x", 6);
	put_file(dir, "mounted", buf, n, NULL, 0);

	n = 2;
	buf[0] = EVT_IO_ERROR;
	buf[1] = 16;
	n += rec(buf + n, "op", "write", 5);
	n += rec(buf + n, "ino", "42", 2);
	n += rec(buf + n, "path", "dir/caf\xc3\xa9 \"quoted\"\t\\", 21);
	n += rec(buf + n, "errno", "EIO", 3);
	put_file(dir, "io_error-utf8", buf, n, NULL, 0);

	n = 2;
	buf[0] = EVT_CHECKSUM_ERROR;
	buf[1] = 7;
	n += rec(buf + n, "path", "bad\xff\xfe\x01\x7f name", 12);
	n += rec(buf + n, "ino", "7", 1);
	put_file(dir, "checksum_error-bytes", buf, n, NULL, 0);

	memset(big, 'x', sizeof(big));
	memcpy(big + 100, "\xe2\x82\xac", 3);
	n = 2;
	buf[0] = EVT_SPACE_LOW;
	buf[1] = 200;
	n += rec(buf + n, "free", "1048576", 7);
	n += rec(buf + n, "long", big, sizeof(big));
	n += rec(buf + n, "Bad-Key", "v", 1);
	put_file(dir, "space_low-cut", buf, n, NULL, 0);
}

/* A linear directory stream in 512-byte blocks (the fuzz_linear.c
 * target of the directory library). */
static void gen_dir_linear(const char *dir)
{
	static const struct {
		const char *name;
		unsigned opts, n, removed;
	} v[] = {
		{ "empty", 0, 0, 0 },
		{ "three", 0, 3, 0 },
		{ "forty-holes", 0, 40, 3 },
		{ "casefold", DIR_OPT_CASEFOLD, 12, 5 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tb_memstream m;
		struct dir d;
		char name[300];

		tb_memstream_init(&m, 512);
		if (dir_linear_create(&m.s, v[i].opts, NULL) ||
		    dir_linear_init(&d, &m.s, NULL))
			exit(1);
		for (unsigned k = 0; k < v[i].n; k++) {
			int len = snprintf(name, sizeof(name), "%s%u%.*s",
					   k % 2 ? "a" : "Entry-\xc3\xa9-", k,
					   (int)(k * 7 % 200),
					   "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");

			if (dir_insert(&d, name, (size_t)len, 100 + k,
				       k % 3 ? DT_REG : DT_DIR, NULL))
				exit(1);
		}
		for (unsigned k = 0; k < v[i].removed; k++) {
			int len = snprintf(name, sizeof(name), "a%u%.*s",
					   2 * k + 1, (int)((2 * k + 1) * 7 % 200),
					   "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");

			if (dir_remove(&d, name, (size_t)len, NULL, NULL))
				exit(1);
		}
		dir_release(&d);
		put_file(dir, v[i].name, m.buf, m.size, NULL, 0);
		tb_memstream_release(&m);
	}
}

/* Every key of @db as [klen u16][vlen u16][key][value] (fuzz_tablefs.c). */
static void dump_db(rocksdb_t *db, const char *dir, const char *name)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
	unsigned char *out = NULL;
	size_t n = 0;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &vl);

		out = realloc(out, n + 4 + kl + vl);
		if (!out || kl > 65535 || vl > 65535)
			exit(1);
		out[n] = (unsigned char)kl;
		out[n + 1] = (unsigned char)(kl >> 8);
		out[n + 2] = (unsigned char)vl;
		out[n + 3] = (unsigned char)(vl >> 8);
		memcpy(out + n + 4, k, kl);
		memcpy(out + n + 4 + kl, v, vl);
		n += 4 + kl + vl;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	put_file(dir, name, out, n, NULL, 0);
	free(out);
}

static void must(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

/* Filesystems made by tablefs itself, small chunks to keep seeds small. */
static void gen_tablefs(const char *dir)
{
	char path[] = "/tmp/mixfs-gen-XXXXXX", uri[128], data[6000];
	struct tfs_cred c = { 1000, 1000 };
	struct stat d, f, g;
	struct tfs *fs;

	if (!mkdtemp(path))
		exit(1);
	snprintf(uri, sizeof(uri), "rocksdb:%s/db?chunk=4K", path);
	must(tfs_mkfs(uri, 0, false, NULL), "mkfs");
	must(tfs_open(uri, NULL, false, &fs, NULL), "open");
	dump_db(fs->db, dir, "fresh");

	memset(data, 'd', sizeof(data));
	must(tfs_mkdir(fs, TFS_ROOT_INO, "dir", 0755, &c, &d), "mkdir");
	must(tfs_mkdir(fs, d.st_ino, "sub", 0700, &c, &g), "mkdir");
	must(tfs_create(fs, d.st_ino, "small", 0644, &c, &f), "create");
	must((int)tfs_write(fs, f.st_ino, 0, "hello, world\n", 13), "write");
	must(tfs_setxattr(fs, f.st_ino, "user.colour", "blue", 4, 0), "xattr");
	must(tfs_setxattr(fs, f.st_ino, "user.empty", "", 0, 0), "xattr");
	tfs_close_file(fs, f.st_ino);
	must(tfs_link(fs, f.st_ino, TFS_ROOT_INO, "hard", &g), "link");
	must(tfs_create(fs, TFS_ROOT_INO, "big", 0600, &c, &f), "create");
	must((int)tfs_write(fs, f.st_ino, 0, data, sizeof(data)), "write");
	must((int)tfs_write(fs, f.st_ino, 20000, "x", 1), "write");
	tfs_close_file(fs, f.st_ino);
	must(tfs_symlink(fs, d.st_ino, "link", "../big", &c, &g), "symlink");
	must(tfs_mknod(fs, TFS_ROOT_INO, "fifo", S_IFIFO | 0644, 0, &c, &g),
	     "mknod");
	must(tfs_rename(fs, TFS_ROOT_INO, "fifo", d.st_ino, "pipe", 0),
	     "rename");
	dump_db(fs->db, dir, "tree");

	/* unlinked while open: an orphan mark until the last close */
	must(tfs_create(fs, TFS_ROOT_INO, "gone", 0644, &c, &f), "create");
	must((int)tfs_write(fs, f.st_ino, 0, data, 5000), "write");
	must(tfs_unlink(fs, TFS_ROOT_INO, "gone"), "unlink");
	dump_db(fs->db, dir, "orphan");
	tfs_close_file(fs, f.st_ino);
	tfs_close(fs);

	snprintf(uri, sizeof(uri), "rm -rf %s", path);
	if (system(uri))
		exit(1);
}

/* An event log written by the events library (fuzz_event_store.c). */
static void gen_event_store(const char *dir)
{
	const char *const names[] = { "empty", "ten", "trimmed" };

	for (int k = 0; k < 3; k++) {
		struct objstore *os;
		struct evt_store *st;
		struct evt_config cfg = { .ring = 16, .keep = 6 };
		struct evt *ev;
		char list[4096], val[4096];
		unsigned char *out = NULL;
		ssize_t n;
		size_t len = 0;

		must(objstore_open("mem:", 0, &os, NULL), "open");
		must(evt_store_objstore_open(os, 1, true, &st, NULL), "store");
		cfg.store = st;
		must(evt_open(&cfg, &ev, NULL), "evt_open");
		for (int i = 0; i < (k ? 10 : 0); i++)
			evt_emit(ev, EVT_IO_ERROR, "op", "write", "path",
				 i % 2 ? "a\xff" "b" : "plain", NULL);
		if (k == 2)
			evt_flush(ev, 1000);
		evt_close(ev);
		evt_store_close(st);
		n = objstore_listattr(os, 1, list, sizeof(list), NULL);
		for (char *p = list; n > 0 && p < list + n; p += strlen(p) + 1) {
			ssize_t vl = objstore_getattr(os, 1, p, val,
						      sizeof(val), NULL);
			size_t nl = strlen(p);

			if (vl < 0)
				exit(1);
			out = realloc(out, len + 3 + nl + (size_t)vl);
			if (!out)
				exit(1);
			out[len] = (unsigned char)nl;
			out[len + 1] = (unsigned char)vl;
			out[len + 2] = (unsigned char)((size_t)vl >> 8);
			memcpy(out + len + 3, p, nl);
			memcpy(out + len + 3 + nl, val, (size_t)vl);
			len += 3 + nl + (size_t)vl;
		}
		put_file(dir, names[k], out ? (void *)out : "", len, NULL, 0);
		free(out);
		objstore_close(os);
	}
}

extern const char *const fuzz_dirstore_paths[];

/* Append the files of the dir: store at @root that fuzz_dirstore.c
 * knows, as [index u8][length u16][bytes]. */
static void dump_dirstore(const char *root, const char *dir,
			  const char *name)
{
	unsigned char *out = NULL;
	size_t n = 0;

	for (size_t i = 0; fuzz_dirstore_paths[i]; i++) {
		char path[512], buf[65535];
		size_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", root,
			 fuzz_dirstore_paths[i]);
		f = fopen(path, "rb");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		out = realloc(out, n + 3 + len);
		if (!out)
			exit(1);
		out[n] = (unsigned char)i;
		out[n + 1] = (unsigned char)len;
		out[n + 2] = (unsigned char)(len >> 8);
		memcpy(out + n + 3, buf, len);
		n += 3 + len;
	}
	put_file(dir, name, out, n, NULL, 0);
	free(out);
}

/* dir: stores made by the backend itself (fuzz_dirstore.c). */
static void gen_dirstore(const char *dir)
{
	char path[] = "/tmp/mixfs-gen-XXXXXX", uri[128], data[9000];
	struct objstore *s;
	uint64_t id;

	if (!mkdtemp(path))
		exit(1);
	snprintf(uri, sizeof(uri), "dir:%s/s", path);
	must(objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, NULL), "open");
	must(objstore_close(s), "close");
	snprintf(uri, sizeof(uri), "%s/s", path);
	dump_dirstore(uri, dir, "empty");
	snprintf(uri, sizeof(uri), "dir:%s/s?size=1G", path);
	must(objstore_open(uri, 0, &s, NULL), "open");
	memset(data, 'q', sizeof(data));
	must(objstore_create_fresh(s, &id, NULL), "create");
	must(objstore_write(s, id, 0, data, 5000, NULL), "write");
	must(objstore_setattr(s, id, "a", "value", 5, NULL), "setattr");
	must(objstore_setattr(s, id, "zz", "", 0, NULL), "setattr");
	must(objstore_create_fresh(s, &id, NULL), "create");
	must(objstore_write(s, id, 8192, data, 100, NULL), "write");
	must(objstore_write(s, id, (UINT64_C(1) << 40) + 5, "far", 3, NULL),
	     "write");
	must(objstore_close(s), "close");
	snprintf(uri, sizeof(uri), "%s/s", path);
	dump_dirstore(uri, dir, "two-objects");
	snprintf(uri, sizeof(uri), "rm -rf %s", path);
	if (system(uri))
		exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen_corpus balloc|event_json DIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "balloc"))
		gen_balloc(argv[2]);
	else if (!strcmp(argv[1], "event_json"))
		gen_event_json(argv[2]);
	else if (!strcmp(argv[1], "event_store"))
		gen_event_store(argv[2]);
	else if (!strcmp(argv[1], "dirstore"))
		gen_dirstore(argv[2]);
	else if (!strcmp(argv[1], "tablefs"))
		gen_tablefs(argv[2]);
	else if (!strcmp(argv[1], "dir_linear"))
		gen_dir_linear(argv[2]);
	else
		return 2;
	return 0;
}
