/*
 * driver.c - runs a fuzz target's LLVMFuzzerTestOneInput() without
 * libFuzzer, so the default test run (gcc, plain and sanitized) replays
 * every target with no clang in sight.
 *
 * Usage: fuzz_NAME CORPUS_DIR [REGRESS_DIR]
 *
 * Three cases: every seed input of CORPUS_DIR, every saved input of
 * REGRESS_DIR (inputs that once crashed a target; the directory may be
 * missing or empty), and MIXFS_FUZZ_RUNS (default 2000, ten times that
 * with MIXFS_LONG=1) inputs made by seeded mutations of the seeds. The
 * mutations come from MIXFS_SEED (default 1), so a run is the same run
 * every time; the seed is printed at the start.
 *
 * A target reports trouble the way it does under libFuzzer: it aborts (or
 * a sanitizer does). Then the signal handler prints which input it was
 * (file name, or seed and step) and writes a mutated input to
 * $TMPDIR/mixfs-fuzz-NAME-SEED-STEP, which reproduces it when given to
 * the libFuzzer build or to this program as the only file of a directory.
 *
 * MIXFS_FUZZ_SLOW_MS=N prints every mutated input that took longer than
 * N ms and saves it as a crash would be saved (for hunting timeouts).
 *
 * What it deliberately does not do: guide mutations by coverage. That is
 * libFuzzer's job (tests/fuzz/run_fuzzers.sh); this is a regression run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX	(1u << 20)

struct input {
	uint8_t *data;
	size_t len;
	char *name;
};

static const char *corpus_dir, *regress_dir, *target_name;
static struct input *seeds;
static size_t nseeds;

/* What is being run now, for the crash report (read by the handler). */
static volatile sig_atomic_t cur_kind;		/* 0 none, 1 file, 2 mutation */
static const char *volatile cur_file;
static volatile uint64_t cur_seed, cur_step;
static const uint8_t *volatile cur_data;
static volatile size_t cur_len;

static void put_str(const char *s)
{
	ssize_t r = write(2, s, strlen(s));

	(void)r;
}

static void put_u64(char *buf, uint64_t v)
{
	char tmp[24];
	int n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
}

/* Async-signal-safe: only write(2), open(2) and string building. */
static void on_crash(int sig)
{
	char path[512], num[24];
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (cur_kind == 1) {
		put_str("\nfuzz driver: crash on file ");
		put_str(cur_file);
		put_str("\n");
	} else if (cur_kind == 2) {
		path[0] = '\0';
		strncat(path, tmp ? tmp : "/tmp", 200);
		strcat(path, "/mixfs-fuzz-");
		strncat(path, target_name, 200);
		strcat(path, "-");
		put_u64(num, cur_seed);
		strcat(path, num);
		strcat(path, "-");
		put_u64(num, cur_step);
		strcat(path, num);
		put_str("\nfuzz driver: crash at MIXFS_SEED=");
		put_u64(num, cur_seed);
		put_str(num);
		put_str(" step ");
		put_u64(num, cur_step);
		put_str(num);
		put_str("; input saved to ");
		put_str(path);
		put_str("\n");
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			ssize_t r = write(fd, (const void *)cur_data, cur_len);

			(void)r;
			close(fd);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int read_file(const char *path, struct input *in)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size > FUZZ_INPUT_MAX) {
		close(fd);
		return -EFBIG;
	}
	in->len = (size_t)st.st_size;
	in->data = malloc(in->len ? in->len : 1);
	in->name = strdup(path);
	if (!in->data || !in->name) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, in->data, in->len);
	close(fd);
	return n == (ssize_t)in->len ? 0 : -EIO;
}

static int cmp_input(const void *a, const void *b)
{
	return strcmp(((const struct input *)a)->name,
		      ((const struct input *)b)->name);
}

/* Every regular file of @dir, sorted by name; -ENOENT if @dir is missing. */
static int read_dir(const char *dir, struct input **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct input *v = NULL;
	size_t cnt = 0;
	char path[4096];

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct input *p;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		p = realloc(v, (cnt + 1) * sizeof(*v));
		if (!p)
			break;
		v = p;
		memset(&v[cnt], 0, sizeof(v[cnt]));
		if (read_file(path, &v[cnt]))
			fail_msg("cannot read %s", path);
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_input);
	*out = v;
	*n = cnt;
	return 0;
}

static void free_inputs(struct input *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].data);
		free(v[i].name);
	}
	free(v);
}

/* cmocka installs its own handlers for some signals around each case;
 * ours must win so that the input is named. */
static void arm(void)
{
	signal(SIGABRT, on_crash);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
	signal(SIGILL, on_crash);
}

static void run_file(const struct input *in)
{
	cur_file = in->name;
	cur_kind = 1;
	LLVMFuzzerTestOneInput(in->data, in->len);
	cur_kind = 0;
}

static void every_seed_input_runs_clean(void **state)
{
	(void)state;
	arm();
	if (!nseeds)
		fail_msg("no seed inputs in %s", corpus_dir);
	for (size_t i = 0; i < nseeds; i++)
		run_file(&seeds[i]);
}

static void every_saved_regression_runs_clean(void **state)
{
	struct input *v;
	size_t n;
	int ret;

	(void)state;
	arm();
	if (!regress_dir)
		return;
	ret = read_dir(regress_dir, &v, &n);
	if (ret == -ENOENT)
		return;		/* no input ever crashed this target */
	assert_int_equal(ret, 0);
	for (size_t i = 0; i < n; i++)
		run_file(&v[i]);
	free_inputs(v, n);
}

/* --- mutations ---------------------------------------------------------- */

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t below(size_t n)
{
	return n ? (size_t)(next() % n) : 0;
}

static const uint64_t interesting[] = {
	0, 1, 2, 7, 8, 9, 16, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000,
	0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
	UINT64_C(0x7fffffffffffffff), UINT64_C(0x8000000000000000),
	UINT64_MAX, UINT64_MAX - 1, 4096, 4095, 65536, 255, 256,
};

/* One libFuzzer-style change of @buf (length *@len, capacity @cap). */
static void mutate_once(uint8_t *buf, size_t *len, size_t cap)
{
	size_t n = *len, at, k;
	uint64_t v;

	switch (below(9)) {
	case 0:		/* flip a bit */
		if (n)
			buf[below(n)] ^= (uint8_t)(1u << below(8));
		break;
	case 1:		/* a random byte */
		if (n)
			buf[below(n)] = (uint8_t)next();
		break;
	case 2:		/* an interesting integer of 1, 2, 4 or 8 bytes */
		k = (size_t)1 << below(4);
		if (n >= k) {
			v = interesting[below(sizeof(interesting) /
					      sizeof(interesting[0]))];
			if (next() & 1)
				v = __builtin_bswap64(v) >> (64 - 8 * k);
			memcpy(buf + below(n - k + 1), &v, k);
		}
		break;
	case 3:		/* cut the tail */
		*len = below(n + 1);
		break;
	case 4:		/* delete a range */
		if (n) {
			at = below(n);
			k = 1 + below(n - at < 16 ? n - at : 16);
			memmove(buf + at, buf + at + k, n - at - k);
			*len = n - k;
		}
		break;
	case 5:		/* insert random bytes */
		k = 1 + below(8);
		if (n + k <= cap) {
			at = below(n + 1);
			memmove(buf + at + k, buf + at, n - at);
			for (size_t i = 0; i < k; i++)
				buf[at + i] = (uint8_t)next();
			*len = n + k;
		}
		break;
	case 6:		/* copy a range elsewhere (duplicate a record) */
		if (n > 1) {
			at = below(n);
			k = 1 + below(n - at < 64 ? n - at : 64);
			if (n + k <= cap) {
				size_t to = below(n + 1);
				uint8_t tmp[64];

				memcpy(tmp, buf + at, k);
				for (size_t i = n; i > to; i--)
					buf[i - 1 + k] = buf[i - 1];
				memcpy(buf + to, tmp, k);
				*len = n + k;
			}
		}
		break;
	case 7:		/* splice in bytes of another seed */
		if (nseeds) {
			const struct input *o = &seeds[below(nseeds)];

			if (o->len) {
				size_t from = below(o->len);

				k = 1 + below(o->len - from);
				at = below(n + 1);
				if (at + k > cap)
					k = cap - at;
				memcpy(buf + at, o->data + from, k);
				if (at + k > n)
					*len = at + k;
			}
		}
		break;
	default:	/* an ASCII digit or separator (text formats) */
		if (n)
			buf[below(n)] = (uint8_t)"0123456789,=:&?%;.-\n "
				[below(21)];
		break;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void save_slow(uint64_t seed, uint64_t step, const uint8_t *buf,
		      size_t len, uint64_t ms)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/mixfs-fuzz-%s-%llu-%llu-slow",
		 tmp ? tmp : "/tmp", target_name, (unsigned long long)seed,
		 (unsigned long long)step);
	printf("# slow: MIXFS_SEED=%llu step %llu took %llu ms; saved to %s\n",
	       (unsigned long long)seed, (unsigned long long)step,
	       (unsigned long long)ms, path);
	f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

static void seeded_mutations_of_seeds_run_clean(void **state)
{
	const char *slow = getenv("MIXFS_FUZZ_SLOW_MS");
	uint64_t slow_ms = slow ? strtoull(slow, NULL, 0) : 0, t0;
	const char *s = getenv("MIXFS_SEED"), *r = getenv("MIXFS_FUZZ_RUNS");
	const char *lng = getenv("MIXFS_LONG");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 1;
	uint64_t runs = r ? strtoull(r, NULL, 0) : 2000;
	uint8_t *buf;

	(void)state;
	arm();
	if (lng && !strcmp(lng, "1"))
		runs *= 10;
	if (!nseeds)
		fail_msg("no seed inputs in %s", corpus_dir);
	printf("# %s: %llu mutated inputs, MIXFS_SEED=%llu\n", target_name,
	       (unsigned long long)runs, (unsigned long long)seed);
	buf = malloc(FUZZ_INPUT_MAX);
	assert_non_null(buf);
	rng = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
	for (uint64_t step = 0; step < runs; step++) {
		const struct input *in = &seeds[below(nseeds)];
		size_t len = in->len, cap = in->len + 4096;
		unsigned k = 1 + (unsigned)below(8);

		if (cap > FUZZ_INPUT_MAX)
			cap = FUZZ_INPUT_MAX;
		memcpy(buf, in->data, len);
		while (k--)
			mutate_once(buf, &len, cap);
		cur_seed = seed;
		cur_step = step;
		cur_data = buf;
		cur_len = len;
		cur_kind = 2;
		t0 = now_ms();
		LLVMFuzzerTestOneInput(buf, len);
		cur_kind = 0;
		if (slow_ms && now_ms() - t0 > slow_ms)
			save_slow(seed, step, buf, len, now_ms() - t0);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_seed_input_runs_clean),
		cmocka_unit_test(every_saved_regression_runs_clean),
		cmocka_unit_test(seeded_mutations_of_seeds_run_clean),
	};
	const char *slash;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR [REGRESS_DIR]\n",
			argv[0]);
		return 2;
	}
	slash = strrchr(argv[0], '/');
	target_name = slash ? slash + 1 : argv[0];
	corpus_dir = argv[1];
	regress_dir = argc > 2 ? argv[2] : NULL;
	if (read_dir(corpus_dir, &seeds, &nseeds)) {
		fprintf(stderr, "%s: cannot read %s\n", argv[0], corpus_dir);
		return 2;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	free_inputs(seeds, nseeds);
	return ret;
}
