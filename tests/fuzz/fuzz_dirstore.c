/*
 * fuzz_dirstore.c - the dir: object store opened on files somebody else
 * wrote: its header (mixfs-store), the next-id counter, and each
 * object's meta file, attribute sidecar, data segments and checksum
 * files, and leftovers of interrupted creates and removes.
 *
 * Input: files as [path index u8][length u16 LE][bytes]; the index picks
 * one of the paths in the table below (taken modulo its size), so that
 * mutations change contents and which files exist, not the names. The
 * files are written to a fresh directory under $TMPDIR (default
 * /dev/shm, else /tmp), which is then opened as dir:PATH (every other
 * input with cache=0) and used: list, and for each object stat, read at
 * both ends, listattr and getattr, a write, a setattr, a truncate; the
 * removal of object 2; sync; close; and a second open and close.
 *
 * Properties: no crash, leak or sanitizer report; every call returns 0,
 * a count or a negative errno, with a message when it fails; a read never
 * returns more than asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objstore/objstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Shared with gen_corpus.c, which writes seeds in the same order. */
const char *const fuzz_dirstore_paths[] = {
	"mixfs-store",
	"next-id",
	"objects/0000000000000001/meta",
	"objects/0000000000000001/attr",
	"objects/0000000000000001/0",
	"objects/0000000000000001/0.sum",
	"objects/0000000000000002/meta",
	"objects/0000000000000002/attr",
	"objects/0000000000000002/0",
	"objects/0000000000000002/0.sum",
	"objects/0000000000000002/1",
	"objects/0000000000000002/1.sum",
	"objects/0000000000000003.tmp/meta",
	"objects/0000000000000004.dead/meta",
	"objects/00000000000000ff/meta",
	"lock",
	NULL,
};
#define NPATHS (sizeof(fuzz_dirstore_paths) / sizeof(char *) - 1)

static char root[256];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, const uint8_t *p, size_t n)
{
	char path[512], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	if (write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void use(struct objstore *s)
{
	static char buf[65536];
	struct objstore_stat st;
	uint64_t cursor = 0, ids[16];
	size_t n = 0;
	ssize_t got;

	objstore_list(s, &cursor, ids, 16, &n, NULL);
	for (uint64_t id = 1; id <= 5; id++) {
		struct mixfs_err err = { 0 };
		int ret = objstore_stat(s, id, &st, &err);

		if (ret > 0 || (ret < 0 && !err.msg[0]))
			abort();
		got = objstore_read(s, id, 0, buf, sizeof(buf), NULL);
		if (got > (ssize_t)sizeof(buf))
			abort();
		if (ret == 0 && st.size > 10) {
			got = objstore_read(s, id, st.size - 10, buf, 100,
					    NULL);
			if (got > 100)
				abort();
		}
		got = objstore_listattr(s, id, buf, sizeof(buf), NULL);
		if (got > (ssize_t)sizeof(buf))
			abort();
		objstore_getattr(s, id, "a", buf, sizeof(buf), NULL);
		objstore_write(s, id, 100, "fuzz", 4, NULL);
		objstore_setattr(s, id, "b", "v", 1, NULL);
		objstore_truncate(s, id, 50, NULL);
	}
	objstore_remove(s, 2, NULL);
	objstore_sync(s, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;
	char uri[300];
	size_t pos = 0;
	int ret;

	if (!root[0]) {
		const char *tmp = getenv("TMPDIR");
		struct stat st;

		if (!tmp)
			tmp = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
		snprintf(root, sizeof(root), "%s/mixfs-fuzz-dirstore-%ld",
			 tmp, (long)getpid());
		atexit(cleanup);
	}
	cleanup();
	if (mkdir(root, 0755))
		abort();
	while (size - pos >= 3) {
		size_t i = data[pos] % NPATHS;
		size_t n = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;

		pos += 3;
		if (n > size - pos)
			n = size - pos;
		put(fuzz_dirstore_paths[i], data + pos, n);
		pos += n;
	}
	snprintf(uri, sizeof(uri), "dir:%s%s", root,
		 size % 2 ? "?cache=0" : "");
	ret = objstore_open(uri, 0, &s, &err);
	if (ret > 0 || (ret < 0 && !err.msg[0]))
		abort();
	if (ret == 0) {
		use(s);
		if (objstore_close(s) > 0)
			abort();
		if (objstore_open(uri, OBJSTORE_OPEN_READONLY, &s, NULL) == 0)
			objstore_close(s);
	}
	return 0;
}
