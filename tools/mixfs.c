/*
 * mixfs.c - the mixfs command: mkfs, mount, umount, fsck, status, and the
 * subcommands other files provide (events, bench).
 *
 * This is where people see errors: libraries fill struct mixfs_err and
 * this file prints it, one line, prefixed "mixfs CMD:". Usage mistakes
 * print one line and the usage and exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse/fsd.h"
#include "objstore/objstore.h"
#include "tools/mixfs_cmds.h"

#define DEFAULT_DRIVER "tablefs"

static const char *cmd_name = "mixfs";

static void die_usage(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	exit(2);
}

static int fail(const struct mixfs_err *err, int code)
{
	fprintf(stderr, "%s: %s\n", cmd_name, mixfs_err_msg(err, code));
	return 1;
}

/* --- mkfs --------------------------------------------------------------- */

static const char mkfs_usage[] =
"usage: mixfs mkfs [--driver NAME] [--size SIZE] [--data URI] [--force] STORE_URI\n"
"  Make a new filesystem in the store STORE_URI (e.g. rocksdb:/srv/fs).\n"
"  --driver NAME  filesystem driver (default " DEFAULT_DRIVER ")\n"
"  --size SIZE    capacity, e.g. 10G (default: the store's free space)\n"
"  --data URI     store for file data, recorded in the filesystem (tablefs:\n"
"                 default 'same', in the metadata store; dir:data, host\n"
"                 files in STORE_URI's directory, is faster for large\n"
"                 files but weaker after a power cut: docs/tablefs.md)\n"
"  --force        overwrite an existing filesystem\n";

static int cmd_mkfs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "driver", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "data", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *driver = DEFAULT_DRIVER;
	struct fsd_mkfs_args a = { 0 };
	struct mixfs_err err = { 0 };
	const struct fsd_driver *d;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+d:s:fD:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': driver = optarg; break;
		case 's':
			if (objstore_parse_size(optarg, &a.size) || !a.size)
				die_usage(mkfs_usage, "bad size '%s'", optarg);
			break;
		case 'f': a.force = true; break;
		case 'D': a.data = optarg; break;
		case 'h': fputs(mkfs_usage, stdout); return 0;
		default: die_usage(mkfs_usage, "bad option");
		}
	}
	if (optind != argc - 1)
		die_usage(mkfs_usage, "want exactly one STORE_URI");
	d = fsd_driver_find(driver);
	if (!d)
		die_usage(mkfs_usage, "unknown driver '%s'", driver);
	ret = d->mkfs(argv[optind], &a, &err);
	if (ret)
		return fail(&err, ret);
	if (err.msg[0])	/* a note: a lock force=1 broke */
		fprintf(stderr, "%s: %s\n", cmd_name, err.msg);
	printf("made a %s filesystem in %s\n", d->name, argv[optind]);
	return 0;
}

/*
 * Unmount @mp (umount2 as root, fusermount3 otherwise) and wait up to 60 s
 * for daemon @pid to flush and exit. Says what failed on stderr; -1 then.
 */
static int unmount_and_wait(const char *mp, pid_t pid)
{
	if (umount2(mp, 0) < 0) {
		int e = errno;
		pid_t child;
		int status;

		if (e != EPERM) {
			fprintf(stderr, "%s: unmounting %s: %s\n", cmd_name, mp,
				strerror(e));
			return -1;
		}
		child = fork();	/* not root: fusermount3 does it */
		if (child == 0) {
			execlp("fusermount3", "fusermount3", "-u", mp,
			       (char *)NULL);
			_exit(127);
		}
		if (child < 0 || waitpid(child, &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "%s: unmounting %s failed\n", cmd_name,
				mp);
			return -1;
		}
	}
	/* The daemon flushes and exits once the kernel lets go. */
	for (int i = 0; i < 600 && kill(pid, 0) == 0; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;	/* our own child (an interrupted mount) */
		nanosleep(&ts, NULL);
	}
	if (kill(pid, 0) == 0) {
		fprintf(stderr, "%s: unmounted %s, but daemon %ld has not exited after 60 s\n",
			cmd_name, mp, (long)pid);
		return -1;
	}
	return 0;
}

/* --- mount -------------------------------------------------------------- */

static const char mount_usage[] =
"usage: mixfs mount [-o OPTIONS] [--store STORE_URI] [--driver NAME] [-f] MOUNTPOINT\n"
"  Mount a filesystem. Without --store, uses (and on first use makes) the\n"
"  default store under /var/lib/mixfs (or $XDG_DATA_HOME/mixfs).\n"
"  -o OPTIONS    ro, allow_other, nonempty, max_threads=N, debug, the events\n"
"                options (space_low=, space_ok=, inodes_low=, inodes_ok=,\n"
"                errors=, events_socket=, store_timeout=SECONDS,\n"
"                store_retry=SECONDS), and the\n"
"                driver's own (tablefs: data=STORE_URI, writeback=on|off)\n"
"  -f            stay in the foreground\n";

/* The default store: root's under /var/lib, a user's under XDG. */
static int default_store(char *uri, size_t size)
{
	const char *base = "/var/lib/mixfs";
	char dir[PATH_MAX];
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (geteuid() != 0) {
		if (xdg && *xdg)
			snprintf(dir, sizeof(dir), "%s/mixfs", xdg);
		else if (home)
			snprintf(dir, sizeof(dir), "%s/.local/share/mixfs", home);
		else
			return -ENOENT;
		base = dir;
	}
	snprintf(dir, sizeof(dir), "%s", base);
	for (char *p = dir + 1; *p; p++) {	/* mkdir -p */
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(uri, size, "rocksdb:%s/default", dir);
	return 0;
}

/* Open @uri with the named driver, or the first driver that knows it. */
static int open_fs(const char *uri, const char *driver,
		   const struct fsd_opts *o, struct fsd_mount **m,
		   struct mixfs_err *err)
{
	int ret = -ENOENT;

	for (size_t i = 0; fsd_drivers[i]; i++) {
		const struct fsd_driver *d = fsd_drivers[i];

		if (driver && strcmp(driver, d->name))
			continue;
		mixfs_err_clear(err);
		ret = d->open(uri, o, m, err);
		if (ret == 0) {
			(*m)->driver = d;
			(*m)->uri = uri;
			(*m)->opts = *o;
			return 0;
		}
		if (ret != -ENOENT)
			return ret;
	}
	return ret;
}

static void tell_parent(int fd, int code, const char *msg)
{
	char buf[300];
	int n = snprintf(buf, sizeof(buf), "%d %s", code, msg);
	ssize_t w = write(fd, buf, (size_t)n);

	(void)w;
	close(fd);
}

static int serve(const char *uri, const char *driver, struct fsd_opts *o,
		 const char *mp, int ready_fd)
{
	struct mixfs_err err = { 0 };
	struct fsd_mount *m;
	int ret = open_fs(uri, driver, o, &m, &err);

	if (ret) {
		if (ret == -EBUSY)
			mixfs_err_prefix(&err, ret,
				"%s is in use (mounted already?)", uri);
		if (ret == -EUCLEAN)
			mixfs_err_prefix(&err, ret,
				"the filesystem is damaged; run: mixfs fsck %s", uri);
		if (ready_fd >= 0)
			tell_parent(ready_fd, 1, mixfs_err_msg(&err, ret));
		else
			fail(&err, ret);
		return 1;
	}
	/* A note from the open (a lock force=1 broke) goes before the
	 * answer, as a line of its own: "N text". */
	if (err.msg[0] && ready_fd >= 0)
		dprintf(ready_fd, "N %s\n", err.msg);
	else if (err.msg[0])
		fprintf(stderr, "%s: %s\n", cmd_name, err.msg);
	mixfs_err_clear(&err);
	ret = fsd_serve(m, mp, ready_fd, &err);
	if (ret && ready_fd >= 0)
		tell_parent(ready_fd, 1, mixfs_err_msg(&err, ret));
	else if (ret)
		fail(&err, ret);
	m->driver->close(m);
	return ret ? 1 : 0;
}

static int do_mount(int argc, char **argv, struct fsd_opts *o);

/* The options live as long as the command (a usage error exits from
 * inside do_mount with them still reachable). */
static int cmd_mount(int argc, char **argv)
{
	static struct fsd_opts o;
	int ret = do_mount(argc, argv, &o);

	fsd_opts_release(&o);
	return ret;
}

static int do_mount(int argc, char **argv, struct fsd_opts *o)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "driver", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct mixfs_err err = { 0 };
	const char *store = NULL, *driver = NULL;
	char uri[PATH_MAX + 16], mp[PATH_MAX], msg[600], *nl;
	bool fg = false;
	int c, pfd[2], ret;
	sigset_t stop, old_mask, pending;
	pid_t pid;
	ssize_t n, len;
	int sig;

	while ((c = getopt_long(argc, argv, "+o:s:d:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (fsd_opts_parse(o, optarg, &err))
				die_usage(mount_usage, "%s", err.msg);
			break;
		case 's': store = optarg; break;
		case 'd': driver = optarg; break;
		case 'f': fg = true; break;
		case 'h': fputs(mount_usage, stdout); return 0;
		default: die_usage(mount_usage, "bad option");
		}
	}
	fsd_opts_parse(o, NULL, NULL);	/* defaults */
	if (optind != argc - 1)
		die_usage(mount_usage, "want exactly one MOUNTPOINT");
	if (!realpath(argv[optind], mp)) {
		fprintf(stderr, "%s: mount point %s: %s\n", cmd_name,
			argv[optind], strerror(errno));
		return 1;
	}
	if (driver && !fsd_driver_find(driver))
		die_usage(mount_usage, "unknown driver '%s'", driver);
	if (!store) {
		struct fsd_mkfs_args a = { 0 };
		const struct fsd_driver *d =
			fsd_driver_find(driver ? driver : DEFAULT_DRIVER);

		ret = default_store(uri, sizeof(uri));
		if (ret) {
			fprintf(stderr, "%s: no place for a default store: %s\n",
				cmd_name, strerror(-ret));
			return 1;
		}
		ret = d->mkfs(uri, &a, &err);
		if (ret == 0)
			printf("made a new %s filesystem in the default store %s\n",
			       d->name, uri);
		else if (ret != -EEXIST)
			return fail(&err, ret);
		else
			printf("using the default store %s\n", uri);
		fflush(stdout);
		store = uri;
	}
	if (fg)
		return serve(store, driver, o, mp, -1);

	/* Fork before opening anything: RocksDB's threads do not survive a
	 * fork. The child reports "0" once mounted, or "1 message".
	 * Ctrl-C or SIGTERM while we wait must not leave a daemon behind
	 * that mounts after we are gone: the signals wait until the child
	 * has answered, and then the mount is taken down again. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old_mask);
	if (pipe(pfd) < 0) {
		perror("mixfs mount: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("mixfs mount: fork");
		return 1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		close(pfd[0]);
		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
		if (chdir("/") < 0)
			_exit(1);
		_exit(serve(store, driver, o, mp, pfd[1]));
	}
	close(pfd[1]);
	/* Everything the child says, up to its close: notes, then the
	 * answer. */
	n = 0;
	while (n < (ssize_t)sizeof(msg) - 1 &&
	       (len = read(pfd[0], msg + n, sizeof(msg) - 1 - (size_t)n)) > 0)
		n += len;
	close(pfd[0]);
	msg[n] = '\0';
	while (n > 2 && !strncmp(msg, "N ", 2) && (nl = strchr(msg, '\n'))) {
		fprintf(stderr, "%s: %.*s\n", cmd_name, (int)(nl - msg - 2),
			msg + 2);
		n -= nl + 1 - msg;
		memmove(msg, nl + 1, (size_t)n + 1);
	}
	sigpending(&pending);
	for (sig = SIGHUP; sig <= SIGTERM; sig++)
		if (sigismember(&stop, sig) && sigismember(&pending, sig))
			break;
	if (sig <= SIGTERM) {
		fprintf(stderr, "%s: interrupted; %s\n", cmd_name,
			n > 0 && msg[0] == '0' ? "unmounting again" :
						 "the mount did not happen");
		if (n > 0 && msg[0] == '0')
			unmount_and_wait(mp, pid);
		else
			waitpid(pid, NULL, 0);
		return 128 + sig;
	}
	/* The signals stay blocked: one that comes now, after the check,
	 * is too late to undo a mount that is done, and must not kill us
	 * between the answer and saying it. */
	if (n > 0 && msg[0] == '0') {
		printf("mounted %s on %s (daemon pid %ld)\n", store, mp,
		       (long)pid);
		return 0;
	}
	if (n > 2) {
		msg[n] = '\0';
		fprintf(stderr, "%s: %s\n", cmd_name, msg + 2);
	} else {
		fprintf(stderr, "%s: the filesystem daemon exited before the mount was ready\n",
			cmd_name);
	}
	waitpid(pid, NULL, 0);
	return 1;
}

/* --- talking to a mounted filesystem ------------------------------------ */

/* Run @cmd through MP/.mixfs/ctl; the answer goes into @out (NUL-ended). */
static int ctl_ask(const char *mp, const char *cmd, char *out, size_t size)
{
	char path[PATH_MAX];
	ssize_t n, total = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/.mixfs/ctl", mp);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	if (cmd && write(fd, cmd, strlen(cmd)) < 0)
		ret = -errno;
	while ((size_t)total < size - 1 &&
	       (n = pread(fd, out + total, size - 1 - (size_t)total, total)) > 0)
		total += n;
	out[total] = '\0';
	close(fd);
	return ret;
}

static const char status_usage[] =
"usage: mixfs status [--json] MOUNTPOINT\n"
"       mixfs status --prometheus MOUNTPOINT...\n"
"  Show a mounted filesystem's driver, store, space and counters.\n"
"  --json        one JSON object\n"
"  --prometheus  Prometheus text format, every mount in one output (for\n"
"                node_exporter's textfile collector)\n";

static void print_json(const char *text)
{
	const char *p = text;
	bool first = true;

	putchar('{');
	while (*p) {
		const char *nl = strchr(p, '\n'), *colon;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		colon = memchr(p, ':', len);
		if (colon) {
			const char *v = colon + 1;
			bool num = true;
			size_t vl;

			while (*v == ' ')
				v++;
			vl = len - (size_t)(v - p);
			for (size_t i = 0; i < vl; i++)
				if (v[i] < '0' || v[i] > '9')
					num = false;
			printf("%s\"%.*s\": ", first ? "" : ", ",
			       (int)(colon - p), p);
			if (num && vl)
				printf("%.*s", (int)vl, v);
			else {
				putchar('"');
				for (size_t i = 0; i < vl; i++) {
					if (v[i] == '"' || v[i] == '\\')
						putchar('\\');
					putchar(v[i]);
				}
				putchar('"');
			}
			first = false;
		}
		p += len + (nl ? 1 : 0);
	}
	puts("}");
}

/* Every mount's status in one Prometheus text; nothing if one fails. */
static int status_prometheus(int n, char **mps)
{
	char **texts = calloc((size_t)n, sizeof(*texts));
	int ret = 0;

	if (!texts)
		return fail(NULL, -ENOMEM);
	for (int i = 0; i < n && !ret; i++) {
		texts[i] = malloc(65536);
		if (!texts[i]) {
			ret = fail(NULL, -ENOMEM);
			break;
		}
		ret = ctl_ask(mps[i], NULL, texts[i], 65536);
		if (ret) {
			fprintf(stderr, "%s: %s is not a mounted mixfs filesystem: %s\n",
				cmd_name, mps[i], strerror(-ret));
			ret = 1;
		}
	}
	if (!ret && mixfs_print_prometheus(stdout, (const char *const *)mps,
					   (const char *const *)texts,
					   (size_t)n))
		ret = fail(NULL, -ENOMEM);
	for (int i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	return ret;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static char out[65536];
	bool json = false, prom = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+jph", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'p': prom = true; break;
		case 'h': fputs(status_usage, stdout); return 0;
		default: die_usage(status_usage, "bad option");
		}
	}
	if (prom && json)
		die_usage(status_usage, "--json and --prometheus exclude each other");
	if (prom && optind == argc)
		die_usage(status_usage, "want at least one MOUNTPOINT");
	if (prom)
		return status_prometheus(argc - optind, argv + optind);
	if (optind != argc - 1)
		die_usage(status_usage, "want exactly one MOUNTPOINT");
	ret = ctl_ask(argv[optind], NULL, out, sizeof(out));
	if (ret) {
		fprintf(stderr, "%s: %s is not a mounted mixfs filesystem: %s\n",
			cmd_name, argv[optind], strerror(-ret));
		return 1;
	}
	if (json)
		print_json(out);
	else
		fputs(out, stdout);
	return 0;
}

static const char umount_usage[] =
"usage: mixfs umount MOUNTPOINT\n"
"  Unmount, and wait until the daemon has flushed everything and exited.\n";

static long daemon_pid(const char *mp)
{
	static char out[65536];
	const char *p;

	if (ctl_ask(mp, NULL, out, sizeof(out)))
		return -1;
	p = strstr(out, "\npid: ");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

static int cmd_umount(int argc, char **argv)
{
	char mp[PATH_MAX];
	long pid;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		fputs(umount_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		die_usage(umount_usage, "want exactly one MOUNTPOINT");
	if (!realpath(argv[1], mp)) {
		fprintf(stderr, "%s: %s: %s\n", cmd_name, argv[1],
			strerror(errno));
		return 1;
	}
	pid = daemon_pid(mp);
	if (pid < 0) {
		fprintf(stderr, "%s: %s is not a mounted mixfs filesystem\n",
			cmd_name, mp);
		return 1;
	}
	return unmount_and_wait(mp, (pid_t)pid) ? 1 : 0;
}

/* --- fsck --------------------------------------------------------------- */

static const char fsck_usage[] =
"usage: mixfs fsck [--repair] [--driver NAME] STORE_URI\n"
"  Check a filesystem that is not mounted: one line per problem found.\n"
"  --repair       fix what can be fixed, one line per fix: link counts,\n"
"                 directory headers and counts, sizes, the superblock and\n"
"                 counters are rewritten; inodes without a name go to\n"
"                 /lost+found as #INO; entries naming missing inodes and\n"
"                 records that cannot be read are removed (losses said)\n"
"  --driver NAME  filesystem driver (default " DEFAULT_DRIVER ")\n"
"Exit status, as e2fsck's:\n"
"  0  no problems\n"
"  1  problems found and all repaired\n"
"  4  problems left (found without --repair, or not repairable)\n"
"  8  could not check (no such store, in use, unreadable)\n"
"  2  usage error\n";

static int cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "driver", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *driver = DEFAULT_DRIVER;
	struct mixfs_err err = { 0 };
	struct fsd_buf out = { 0 };
	const struct fsd_driver *d;
	bool repair = false, said;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+rd:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': repair = true; break;
		case 'd': driver = optarg; break;
		case 'h': fputs(fsck_usage, stdout); return 0;
		default: die_usage(fsck_usage, "bad option");
		}
	}
	if (optind != argc - 1)
		die_usage(fsck_usage, "want exactly one STORE_URI");
	d = fsd_driver_find(driver);
	if (!d || !d->fsck)
		die_usage(fsck_usage, "no fsck for driver '%s'", driver);
	ret = d->fsck(argv[optind], repair, &out, &err);
	said = out.len > 0;
	if (out.len)
		fwrite(out.data, 1, out.len, stdout);
	fsd_buf_release(&out);
	if (ret < 0) {
		fail(&err, ret);
		return 8;
	}
	/* A driver writes one line per problem (with --repair, per fix) and
	 * returns the number left: lines and nothing left is "corrected". */
	if (ret == 0 && !said) {
		printf("%s: clean\n", argv[optind]);
		return 0;
	}
	if (ret == 0) {
		printf("%s: repaired\n", argv[optind]);
		return 1;
	}
	printf("%s: %d problem%s%s\n", argv[optind], ret, ret == 1 ? "" : "s",
	       repair ? " left" : "");
	return 4;
}

/* --- main --------------------------------------------------------------- */

static const char main_usage[] =
"usage: mixfs COMMAND [ARGS]\n"
"commands:\n"
"  mkfs      make a filesystem in a store\n"
"  mount     mount a filesystem (the default store if none given)\n"
"  umount    unmount and wait for the daemon to finish\n"
"  fsck      check a filesystem that is not mounted\n"
"  status    show a mounted filesystem's state\n"
"  events    print or follow a filesystem's events\n"
"  bench     benchmarks (mixfs bench --help)\n"
"Run 'mixfs COMMAND --help' for a command's options.\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "mkfs", cmd_mkfs },
	{ "mount", cmd_mount },
	{ "umount", cmd_umount },
	{ "unmount", cmd_umount },
	{ "fsck", cmd_fsck },
	{ "status", cmd_status },
	{ "events", mixfs_cmd_events },
	{ "bench", mixfs_cmd_bench },
};

int main(int argc, char **argv)
{
	static char name[64];

	if (argc < 2)
		die_usage(main_usage, "no command given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(main_usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		snprintf(name, sizeof(name), "mixfs %s", argv[1]);
		cmd_name = name;
		optind = 1;
		return commands[i].fn(argc - 1, argv + 1);
	}
	die_usage(main_usage, "unknown command '%s'", argv[1]);
}
