/*
 * err.h - the error record every mixfs call may fill in.
 *
 * Calls return 0 or a negative errno. When a person needs more than an errno
 * (which key was corrupt, which option was malformed), the callee also writes
 * a sentence into a caller-supplied struct mixfs_err. Libraries never print:
 * the CLI or the daemon decides what a person sees.
 *
 * Every function that takes a struct mixfs_err * accepts NULL.
 */
#ifndef MIXFS_UTIL_ERR_H
#define MIXFS_UTIL_ERR_H

#include <stddef.h>

struct mixfs_err {
	int code;		/* negative errno, 0 when nothing was recorded */
	char msg[256];		/* NUL-terminated, without trailing newline */
};

/* Clear @err (code 0, empty message). */
void mixfs_err_clear(struct mixfs_err *err);

/*
 * Record @code (a negative errno) and a printf-style message in @err, unless
 * @err is NULL or already holds an error (the first, most precise message
 * wins). Returns @code so that callers can write `return mixfs_err_set(...)`.
 */
int mixfs_err_set(struct mixfs_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix an already recorded message with context ("opening /x: ..."), or
 * record "@context: strerror(-code)" if nothing was recorded. Returns @code.
 */
int mixfs_err_prefix(struct mixfs_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Message of @err, or strerror(-code) if it holds no message. */
const char *mixfs_err_msg(const struct mixfs_err *err, int code);

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#endif
