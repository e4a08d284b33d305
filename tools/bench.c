/*
 * bench.c - `mixfs bench`: dispatch to the benchmarks. The filesystem
 * benchmark (bench_fs.c) is the command's own; the others live beside the
 * libraries they measure and are also built as programs of their own.
 *
 * It holds no benchmark logic: each entry is one function taking the
 * subcommand's argv (argv[0] is the benchmark's name). The other
 * benchmarks are weak references: one whose file is not linked into the
 * command (tools/meson.build decides) is simply not offered.
 */
#include <stdio.h>
#include <string.h>

#include "tools/mixfs_cmds.h"

int mixfs_bench_fs(int argc, char **argv);		/* bench_fs.c */
int mixfs_bench_objstore(int argc, char **argv) __attribute__((weak));
int mixfs_bench_alloc(int argc, char **argv) __attribute__((weak));
int mixfs_bench_dir(int argc, char **argv) __attribute__((weak));

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} benches[] = {
	{ "fs", mixfs_bench_fs,
	  "tmpfs, the disk, passthrough_ll and every mixfs driver, one run" },
	{ "objstore", mixfs_bench_objstore,
	  "the rocksdb: object store against raw RocksDB" },
	{ "alloc", mixfs_bench_alloc,
	  "speed, memory and fragmentation of each block allocator" },
	{ "dir", mixfs_bench_dir,
	  "directory operations as a directory grows, per strategy" },
};

static void usage(FILE *f)
{
	fputs("usage: mixfs bench WHAT [ARGS]  (mixfs bench WHAT --help)\n", f);
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (benches[i].fn)
			fprintf(f, "  %-9s %s\n", benches[i].name, benches[i].what);
}

int mixfs_cmd_bench(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "mixfs bench: which benchmark?\n");
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (benches[i].fn && !strcmp(argv[1], benches[i].name))
			return benches[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "mixfs bench: unknown benchmark '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
