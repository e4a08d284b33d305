/*
 * bench_cache.c - what the cache: store buys: reads of a slow remote store
 * through the cache, the first time (fetched from the remote and filled)
 * and again (served by the local store), beside the remote read alone.
 *
 *   mixfs_bench_cache(remote, dir, piece, quick, out)
 *
 * makes one object of 64 MiB (8 MiB with @quick) in @remote, then times
 * 4 KiB reads at random offsets and 1 MiB reads in order: on the remote
 * alone, through a fresh cache (first read) and through the same cache
 * again (cached read). The cache's local store is dir:@dir/local. @piece
 * 0 means the default piece size.
 *
 * It deliberately measures one object and one thread: the point is the
 * cost of a miss (a remote round trip plus a local fill) and of a hit,
 * not the remote's throughput, which bench_objstore.c measures. main() is
 * built only with MIXFS_BENCH_CACHE_MAIN (for measuring piece sizes:
 * mixfs-bench-cache REMOTE-URI DIR [PIECE] [--quick]).
 */
#include "objstore/objstore.h"
#include "objstore/objstore_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mixfs_bench_cache(const char *remote, const char *dir, unsigned piece,
		      int quick, FILE *out);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t next(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Time @n reads of @len at random (@random) or in order; µs per read. */
static double timed_reads(struct objstore *s, uint64_t id, uint64_t size,
			  size_t len, size_t n, int random, unsigned char *buf)
{
	uint64_t rng = 42;
	double t0 = now();
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t off = random ? next(&rng) % (size / 4096) * 4096 :
			(uint64_t)i * len % size;

		if (objstore_read(s, id, off, buf, len, NULL) != (ssize_t)len)
			return -1;
	}
	return (now() - t0) * 1e6 / (double)n;
}

static int open_store(const char *uri, struct objstore **s, FILE *out)
{
	struct mixfs_err err = { 0 };
	int ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, s, &err);

	if (ret)
		fprintf(out, "bench cache: opening %s: %s\n", uri,
			mixfs_err_msg(&err, ret));
	return ret;
}

int mixfs_bench_cache(const char *remote, const char *dir, unsigned piece,
		      int quick, FILE *out)
{
	const uint64_t size = quick ? (8u << 20) : (64u << 20);
	const size_t nrand = quick ? 50 : 400, nseq = size >> 20;
	double remote_r, remote_s, cold_r, warm_r, cold_s, warm_s;
	struct objstore_cache_stats st;
	unsigned char *buf = malloc(1u << 20);
	struct objstore *s = NULL;
	char uri[4096], pbuf[32] = "";
	uint64_t id = 0, off;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = open_store(remote, &s, out);
	if (ret)
		goto out_free;
	ret = objstore_create_fresh(s, &id, NULL);
	for (off = 0; !ret && off < size; off += 1u << 20) {
		memset(buf, (int)(off >> 20) + 1, 1u << 20);
		ret = objstore_write(s, id, off, buf, 1u << 20, NULL);
	}
	if (!ret)
		ret = objstore_sync(s, NULL);
	remote_r = timed_reads(s, id, size, 4096, nrand, 1, buf);
	remote_s = timed_reads(s, id, size, 1u << 20, nseq, 0, buf);
	objstore_close(s);
	s = NULL;
	if (ret || remote_r < 0 || remote_s < 0)
		goto out_fail;

	if (piece)
		snprintf(pbuf, sizeof(pbuf), ",piece=%u", piece);
	snprintf(uri, sizeof(uri), "cache:local=[dir:%s/local],max=%llu%s:%s",
		 dir, (unsigned long long)size * 2, pbuf, remote);
	ret = open_store(uri, &s, out);
	if (ret)
		goto out_free;
	cold_r = timed_reads(s, id, size, 4096, nrand, 1, buf);
	warm_r = timed_reads(s, id, size, 4096, nrand, 1, buf);
	cold_s = timed_reads(s, id, size, 1u << 20, nseq, 0, buf);
	warm_s = timed_reads(s, id, size, 1u << 20, nseq, 0, buf);
	objstore_cache_stats(s, &st);
	if (cold_r < 0 || warm_r < 0 || cold_s < 0 || warm_s < 0)
		goto out_fail;
	fprintf(out, "cache (piece %u KiB): µs per read    remote alone  "
		"first read  cached read\n", st.piece >> 10);
	fprintf(out, "  4 KiB at random (%zu)          %10.0f  %10.0f  %11.0f\n",
		nrand, remote_r, cold_r, warm_r);
	fprintf(out, "  1 MiB in order (%zu)           %10.0f  %10.0f  %11.0f\n",
		nseq, remote_s, cold_s, warm_s);
	fprintf(out, "  hits %llu, misses %llu, held %llu KiB\n",
		(unsigned long long)st.hits, (unsigned long long)st.misses,
		(unsigned long long)st.used >> 10);
	ret = objstore_remove(s, id, NULL);
	objstore_close(s);
	free(buf);
	return ret;

out_fail:
	fprintf(out, "bench cache: a call on %s failed\n", remote);
	ret = ret ? ret : -EIO;
	objstore_close(s);
out_free:
	free(buf);
	return ret;
}

#ifdef MIXFS_BENCH_CACHE_MAIN
int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[argc - 1], "--quick");

	if (argc - quick < 3) {
		fprintf(stderr, "usage: mixfs-bench-cache REMOTE-URI DIR "
			"[PIECE] [--quick]\n");
		return 2;
	}
	return mixfs_bench_cache(argv[1], argv[2],
				 argc - quick > 3 ? (unsigned)atoi(argv[3]) : 0,
				 quick, stdout) ? 1 : 0;
}
#endif
