/* err.c - struct mixfs_err helpers; see err.h. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mixfs_err_clear(struct mixfs_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

int mixfs_err_set(struct mixfs_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int mixfs_err_prefix(struct mixfs_err *err, int code, const char *fmt, ...)
{
	char prefix[128], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (err->code && err->msg[0]) {
		size_t n;

		memcpy(old, err->msg, sizeof(old));
		n = strnlen(prefix, sizeof(prefix) - 1);
		memcpy(err->msg, prefix, n);
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		memcpy(err->msg + n, old, sizeof(err->msg) - n - 1);
		err->msg[sizeof(err->msg) - 1] = '\0';
	} else {
		err->code = code;
		snprintf(err->msg, sizeof(err->msg), "%.120s: %.120s", prefix,
			 strerror(-code));
	}
	return code;
}

const char *mixfs_err_msg(const struct mixfs_err *err, int code)
{
	if (err && err->code && err->msg[0])
		return err->msg;
	return strerror(code < 0 ? -code : code);
}
