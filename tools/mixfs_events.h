/*
 * mixfs_events.h - the `mixfs events` subcommand.
 *
 *   mixfs events SOCKET|MOUNTPOINT [--from SEQ] [--follow]
 *                [--filter KEY=VALUE[,KEY=VALUE...]] [--exec CMD]
 *
 * Connects to a filesystem's event feed (a Unix socket; for a mount point,
 * the socket path is read from MOUNTPOINT/.mixfs/socket) and prints the
 * events as JSON lines, or runs CMD once per event. See docs/events.md.
 */
#ifndef MIXFS_TOOLS_EVENTS_H
#define MIXFS_TOOLS_EVENTS_H

/*
 * Run the subcommand. @argv[0] is the subcommand's name ("events"); the
 * options follow. Returns the process exit status: 0 when done (without
 * --follow: every kept event was read), 1 when the feed could not be
 * reached or answered with an error, 2 for bad usage (one line saying what
 * was wrong, then the usage, on stderr). Uses optind-free parsing, so it
 * may be called after the caller ran getopt.
 */
int mixfs_cmd_events(int argc, char **argv);

#endif
