/*
 * crash_ops.c - the crash tests' workload and checker in one command, so
 * that the driver scripts (test_crash_kill.sh, test_crash_ace.sh) can run
 * the workload in the background, kill the daemon under it, and check
 * the tree after remounting:
 *
 *   crash_ops random ROOT JOURNAL SEED [--steps N] [--power]
 *             [--kill-step S (--pid P | --shutdown DIR)]
 *             [--cut-after MS --shutdown DIR]
 *   crash_ops ace ROOT JOURNAL LEN FROM COUNT
 *   crash_ops ace-count LEN
 *   crash_ops check [--power] ROOT JOURNAL
 *   crash_ops shutdown DIR
 *
 * --power: the run cuts the store's power (crash_shutdown), after which
 * the daemon may answer EROFS as well as EIO.
 * ROOT is made by the workload (it must not exist); JOURNAL lives outside
 * the filesystem under test. Exit status: 0 fine, 1 a check or a POSIX
 * result failed, 2 usage or setup error. It does not mount, kill (except
 * with --kill-step) or run fsck.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "workload.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: crash_ops random ROOT JOURNAL SEED [--steps N] "
		"[--power]\n"
		"                 [--kill-step S (--pid P | --shutdown DIR)]\n"
		"                 [--cut-after MS --shutdown DIR]\n"
		"       crash_ops ace ROOT JOURNAL LEN FROM COUNT\n"
		"       crash_ops ace-count LEN\n"
		"       crash_ops check [--power] ROOT JOURNAL\n"
		"       crash_ops shutdown DIR\n");
	return 2;
}

static int begin(struct journal *j, const char *root, const char *path)
{
	int ret = journal_open(j, path, root, stderr);

	if (ret) {
		fprintf(stderr, "crash_ops: cannot create journal %s: %s\n",
			path, strerror(-ret));
		return 2;
	}
	ret = journal_begin(j);
	if (ret) {
		fprintf(stderr, "crash_ops: cannot make %s: %s\n", root,
			strerror(-ret));
		journal_close(j);
		return crash_gone(ret) ? 0 : 2;
	}
	return -1;
}

static int cmd_random(int argc, char **argv)
{
	struct random_opts o = { .max_steps = UINT64_MAX };
	struct journal j;
	int ret;

	if (argc < 5)
		return usage();
	o.seed = strtoull(argv[4], NULL, 0);
	for (int i = 5; i < argc; i += 2) {
		if (!strcmp(argv[i], "--power")) {
			crash_power_loss = true;
			i--;
		} else if (i + 1 == argc) {
			return usage();
		} else if (!strcmp(argv[i], "--steps"))
			o.max_steps = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--kill-step"))
			o.kill_step = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--pid"))
			o.kill_pid = (pid_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--shutdown"))
			o.cut_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--cut-after"))
			o.cut_after_ms = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else
			return usage();
	}
	if ((ret = begin(&j, argv[2], argv[3])) >= 0)
		return ret;
	ret = crash_random(&j, &o, stdout);
	journal_close(&j);
	return ret;
}

static int cmd_ace(int argc, char **argv)
{
	struct journal j;
	long ran;
	int ret;

	if (argc != 7)
		return usage();
	if ((ret = begin(&j, argv[2], argv[3])) >= 0)
		return ret;
	ran = crash_ace_run(&j, atoi(argv[4]), atol(argv[5]), atol(argv[6]));
	if (ran >= 0) {
		journal_printf(&j, "E");
		printf("%ld sequences ran\n", ran);
	} else if (ran == -2) {
		printf("the filesystem went away at step %" PRIu64 "\n",
		       j.step);
	}
	journal_close(&j);
	return ran >= 0 ? 0 : 1;
}

static int cmd_check(int argc, char **argv)
{
	struct model *m;
	struct replay r;
	long names = 0, files = 0, older = 0;
	int ret, bad;

	if (argc == 5 && !strcmp(argv[2], "--power")) {
		crash_power_loss = true;
		argv++;
		argc--;
	}
	if (argc != 4)
		return usage();
	m = model_new();
	ret = journal_replay(argv[3], m, &r, stdout);
	if (ret) {
		fprintf(stderr, "crash_ops: cannot read journal %s: %s\n",
			argv[3], strerror(-ret));
		model_free(m);
		return 2;
	}
	if (!r.began) {
		printf("nothing acknowledged: the workload never began\n");
		model_free(m);
		return 0;
	}
	bad = model_check(m, argv[2], stdout, "", &names, &files, &older);
	printf("%s: %" PRIu64 " steps (last: %s%s), %" PRIu64 " fsyncs "
	       "acknowledged; compared %ld names and %ld file contents, "
	       "%ld of them older than the last change: %d differences, %d "
	       "results not POSIX's\n",
	       bad || r.mismatches ? "FAILED" : "ok", r.steps,
	       r.steps ? r.last_op : "none",
	       r.ended ? ", finished" : "", model_acks(m), names, files,
	       older, bad, r.mismatches);
	model_free(m);
	return bad || r.mismatches ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "random"))
		return cmd_random(argc, argv);
	if (!strcmp(argv[1], "ace"))
		return cmd_ace(argc, argv);
	if (!strcmp(argv[1], "ace-count") && argc == 3) {
		printf("%ld\n", crash_ace_count(atoi(argv[2])));
		return 0;
	}
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc, argv);
	if (!strcmp(argv[1], "shutdown") && argc == 3) {
		int ret = crash_shutdown(argv[2]);

		if (ret)
			fprintf(stderr, "crash_ops: shutdown of %s: %s\n",
				argv[2], strerror(-ret));
		return ret ? 1 : 0;
	}
	return usage();
}
