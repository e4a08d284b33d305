/*
 * scrub_damage.c - a helper of test_scrub.sh: damage the data of a file in
 * a tablefs whose file data is in its RocksDB database (the default
 * layout), as a bad disk would, while it is not mounted.
 *
 *   scrub_damage DBDIR INO CHUNK   flip one byte in the middle of chunk
 *                                  CHUNK (0, 1, ...) of object INO
 *
 * It writes the value back with the byte changed, so the rocksdb: store's
 * own checksum of the chunk fails while RocksDB's block checksums hold:
 * what the store's reads (and so the scrub) must find. It knows the
 * store's key layout through the copy fsck keeps (fs/tablefs/fsck.h).
 * Exit 0 when done, 1 with a sentence on stderr otherwise. Not a test by
 * itself: it proves nothing and is run by the script.
 */
#include "fs/tablefs/fsck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

int main(int argc, char **argv)
{
	rocksdb_options_t *o;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	unsigned char key[18];
	char *e = NULL, *v;
	size_t vlen;
	rocksdb_t *db;
	int rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: scrub_damage DBDIR INO CHUNK\n");
		return 1;
	}
	key[0] = OBJSTORE_ROCKSDB_PREFIX;
	key[1] = FK_OK_DATA;
	put_be64(key + 2, strtoull(argv[2], NULL, 10));
	put_be64(key + 10, strtoull(argv[3], NULL, 10));
	o = objstore_rocksdb_options();
	db = rocksdb_open(o, argv[1], &e);
	rocksdb_options_destroy(o);
	if (e) {
		fprintf(stderr, "scrub_damage: opening %s: %s\n", argv[1], e);
		free(e);
		return 1;
	}
	ro = rocksdb_readoptions_create();
	wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(wo, 1);
	v = rocksdb_get(db, ro, (const char *)key, sizeof(key), &vlen, &e);
	if (e || !v || vlen <= FK_HASH_LEN) {
		fprintf(stderr, "scrub_damage: no chunk %s of object %s (%s)\n",
			argv[3], argv[2], e ? e : "absent");
	} else {
		v[(vlen - FK_HASH_LEN) / 2] ^= 0x5a;
		rocksdb_put(db, wo, (const char *)key, sizeof(key), v, vlen,
			    &e);
		if (e)
			fprintf(stderr, "scrub_damage: writing: %s\n", e);
		else
			rc = 0;
	}
	free(e);
	free(v);
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_close(db);
	return rc;
}
