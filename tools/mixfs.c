/*
 * mixfs.c - the mixfs command: mkfs, mount, umount, fsck, status, scrub, and the
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

/*
 * Run @cmd through MP/.mixfs/ctl; the answer goes into @out (NUL-ended).
 * Without a command the file is only read (the status): opened read-only,
 * so that it works on a read-only mount too, whose control file takes no
 * commands.
 */
static int ctl_ask(const char *mp, const char *cmd, char *out, size_t size)
{
	char path[PATH_MAX];
	ssize_t n, total = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/.mixfs/ctl", mp);
	fd = open(path, cmd ? O_RDWR : O_RDONLY);
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

/* --- scrub -------------------------------------------------------------- */

static const char scrub_usage[] =
"usage: mixfs scrub [--background] [--rate MIB] MOUNTPOINT\n"
"       mixfs scrub --status MOUNTPOINT\n"
"       mixfs scrub --cancel MOUNTPOINT\n"
"  Read every record and all file data of a mounted filesystem in the\n"
"  background, so that the stores verify their checksums. Each damaged range\n"
"  is a checksum_error event (checksum_corrected where a cache: store\n"
"  repaired it from its remote), see mixfs events. Without --background,\n"
"  shows the progress until the scrub ends.\n"
"  --background  start it and return at once\n"
"  --rate MIB    read at most MIB MiB per second (default: no limit)\n"
"  --status      show the running or last scrub and the damage it found\n"
"  --cancel      stop the running scrub\n"
"Ctrl-C while watching leaves the scrub running (exit 130).\n"
"Exit status:\n"
"  0  no damage (a range a cache repaired is said, but counts as clean)\n"
"  1  damage found: data lost, records or reads failing (listed)\n"
"  2  usage error, not a mixfs mount, already running, none to cancel,\n"
"     cancelled or failed without damage found\n";

static volatile sig_atomic_t scrub_interrupted;

static void scrub_on_sigint(int sig)
{
	(void)sig;
	scrub_interrupted = 1;
}

/* Value of "@key: " in @text, 0 when absent. */
static unsigned long long scrub_num(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, key, n) && p[n] == ':')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

/* The state word ("running", ...) into @out. */
static void scrub_state(const char *text, char *out, size_t size)
{
	const char *p = strstr(text, "scrub_state: ");

	snprintf(out, size, "%.*s", p ? (int)strcspn(p + 13, "\n") : 7,
		 p ? p + 13 : "unknown");
}

static void scrub_size(char *buf, size_t size, unsigned long long b)
{
	if (b >= 1ull << 30)
		snprintf(buf, size, "%.1f GiB", (double)b / (1 << 30));
	else if (b >= 1ull << 20)
		snprintf(buf, size, "%.1f MiB", (double)b / (1 << 20));
	else if (b >= 1ull << 10)
		snprintf(buf, size, "%.1f KiB", (double)b / (1 << 10));
	else
		snprintf(buf, size, "%llu B", b);
}

/* "45.2% (1.2 GiB of 2.7 GiB), 12 of 40 files" */
static void scrub_progress(const char *text, char *out, size_t size)
{
	unsigned long long b = scrub_num(text, "scrub_bytes_scanned"),
		t = scrub_num(text, "scrub_bytes_total");
	char sb[32], st[32];

	scrub_size(sb, sizeof(sb), b);
	scrub_size(st, sizeof(st), t);
	snprintf(out, size, "%.1f%% (%s of %s), %llu of %llu files",
		 t ? 100.0 * (double)(b < t ? b : t) / (double)t : 100.0,
		 sb, st, scrub_num(text, "scrub_files_scanned"),
		 scrub_num(text, "scrub_files_total"));
}

static void scrub_print_time(const char *what, unsigned long long t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		printf("%s: -\n", what);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z",
		 localtime_r(&tt, &tm));
	printf("%s: %s\n", what, buf);
}

/* The damage and error counts of the answer @text; 1 when any. */
static int scrub_report(const char *text)
{
	unsigned long long err = scrub_num(text, "scrub_errors"),
		cor = scrub_num(text, "scrub_corrected"),
		io = scrub_num(text, "scrub_io_errors");
	const char *p;

	printf("damage: %llu lost, %llu corrected (ranges of file data or database records), %llu I/O error%s\n",
	       err, cor, io, io == 1 ? "" : "s");
	for (p = strstr(text, "scrub_damage: "); p;
	     p = strstr(p + 1, "\nscrub_damage: ")) {
		if (*p == '\n')
			p++;
		printf("  %.*s\n", (int)strcspn(p + 14, "\n"), p + 14);
	}
	if (err > 32)
		printf("  (the first 32 are listed; mixfs events names them all)\n");
	return err || io ? 1 : 0;
}

static int scrub_show(const char *mp, const char *text)
{
	char state[32], prog[160];
	const char *fail;

	scrub_state(text, state, sizeof(state));
	scrub_progress(text, prog, sizeof(prog));
	printf("scrub of %s: %s\n", mp, state);
	scrub_print_time("started", scrub_num(text, "scrub_started"));
	scrub_print_time("finished", scrub_num(text, "scrub_finished"));
	printf("scanned: %s, %llu records\n", prog,
	       scrub_num(text, "scrub_records"));
	fail = strstr(text, "scrub_failure: ");
	if (fail)
		printf("failed: %.*s\n", (int)strcspn(fail + 15, "\n"),
		       fail + 15);
	return scrub_report(text);
}

/* Say why the command to @mp failed with @ret: the daemon's sentence in
 * @out ("error: ..."), or that @mp is no mount of ours. */
static void scrub_error(const char *mp, int ret, const char *out)
{
	if (ret == -EROFS)
		fprintf(stderr, "%s: %s is mounted read-only: its control file takes no commands\n",
			cmd_name, mp);
	else if (strncmp(out, "error: ", 7))
		fprintf(stderr, "%s: %s is not a mounted mixfs filesystem: %s\n",
			cmd_name, mp, strerror(-ret));
	else
		fprintf(stderr, "%s: %.*s\n", cmd_name,
			(int)strcspn(out + 7, "\n"), out + 7);
}

/* Ask @cmd of @mp; on failure say why. */
static int scrub_ask(const char *mp, const char *cmd, char *out, size_t size)
{
	int ret;

	out[0] = '\0';
	ret = ctl_ask(mp, cmd, out, size);
	if (ret)
		scrub_error(mp, ret, out);
	return ret;
}

/* Watch the scrub of @mp until it ends or Ctrl-C. */
static int scrub_watch(const char *mp, char *out, size_t size)
{
	bool tty = isatty(STDOUT_FILENO);
	struct timespec t0, now, last = { 0 };
	char state[32], prog[160];
	struct sigaction sa = { .sa_handler = scrub_on_sigint };
	double secs;
	int ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (scrub_interrupted) {
			printf("%sinterrupted: the scrub goes on in the background.\n"
			       "Watch it with 'mixfs scrub --status %s', stop it with 'mixfs scrub --cancel %s'.\n",
			       tty ? "\n" : "", mp, mp);
			return 130;
		}
		ret = ctl_ask(mp, "scrub status", out, size);
		if (scrub_interrupted)
			continue;	/* the request may have been cut short */
		if (ret) {
			fprintf(stderr, "%s%s: %s is no longer mounted: the scrub ended with it\n",
				tty ? "\n" : "", cmd_name, mp);
			return 2;
		}
		scrub_state(out, state, sizeof(state));
		if (strcmp(state, "running"))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		secs = (double)(now.tv_sec - t0.tv_sec) +
		       (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		scrub_progress(out, prog, sizeof(prog));
		if (tty) {
			printf("\rscrubbing: %s, %.0f s, %llu errors\033[K",
			       prog, secs, scrub_num(out, "scrub_errors"));
			fflush(stdout);
		} else if (now.tv_sec - last.tv_sec >= 5) {
			printf("scrubbing: %s, %.0f s, %llu errors\n", prog,
			       secs, scrub_num(out, "scrub_errors"));
			fflush(stdout);
			last = now;
		}
		usleep(tty ? 200000 : 100000);
	}
	if (tty)
		printf("\r\033[K");
	signal(SIGINT, SIG_DFL);
	return 0;
}

static int cmd_scrub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "background", no_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'r' },
		{ "status", no_argument, NULL, 's' },
		{ "cancel", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static char out[65536];
	bool background = false, status = false, cancel = false;
	const char *rate = NULL, *mp;
	char cmd[64], state[32];
	int c, ret;

	while ((c = getopt_long(argc, argv, "+br:sch", opts, NULL)) != -1) {
		switch (c) {
		case 'b': background = true; break;
		case 'r':
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    !*optarg || strlen(optarg) > 12)
				die_usage(scrub_usage, "bad rate '%s' (whole MiB per second)", optarg);
			rate = optarg;
			break;
		case 's': status = true; break;
		case 'c': cancel = true; break;
		case 'h': fputs(scrub_usage, stdout); return 0;
		default: die_usage(scrub_usage, "bad option");
		}
	}
	if (optind != argc - 1)
		die_usage(scrub_usage, "want exactly one MOUNTPOINT");
	if (status + cancel > 1 || ((status || cancel) && (background || rate)))
		die_usage(scrub_usage, "--status and --cancel go alone");
	mp = argv[optind];
	if (status) {
		if (scrub_ask(mp, "scrub status", out, sizeof(out)))
			return 2;
		return scrub_show(mp, out);
	}
	if (cancel) {
		if (scrub_ask(mp, "scrub cancel", out, sizeof(out)))
			return 2;
		scrub_state(out, state, sizeof(state));
		printf("scrub of %s: %s\n", mp, state);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "scrub start%s%s", rate ? " rate=" : "",
		 rate ? rate : "");
	ret = ctl_ask(mp, cmd, out, sizeof(out));
	if (ret == -EBUSY && !strncmp(out, "error: ", 7)) {
		fprintf(stderr, "%s: a scrub of %s is already running: watch it with 'mixfs scrub --status %s', stop it with 'mixfs scrub --cancel %s'\n",
			cmd_name, mp, mp, mp);
		return 2;
	}
	if (ret) {
		scrub_error(mp, ret, out);
		return 2;
	}
	if (background) {
		printf("scrub of %s started: watch it with 'mixfs scrub --status %s'\n",
		       mp, mp);
		return 0;
	}
	ret = scrub_watch(mp, out, sizeof(out));
	if (ret)
		return ret;
	ret = scrub_show(mp, out);
	scrub_state(out, state, sizeof(state));
	if (!ret && strcmp(state, "done"))
		ret = 2;
	return ret;
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
"  scrub     verify every checksum of a mounted filesystem\n"
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
	{ "scrub", cmd_scrub },
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
