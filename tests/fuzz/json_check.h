/*
 * json_check.h - a strict JSON (RFC 8259) reader for the fuzz targets
 * that check what the events library writes.
 *
 * Strict on purpose: a string must be valid UTF-8 with no raw control
 * bytes, every escape must be one of the eight short ones or \uXXXX, and a
 * \u escape of a surrogate must be half of a proper pair (the events
 * library promises never to write a lone one). Numbers follow the RFC's
 * grammar. Nesting is limited to 32 levels. It builds no tree: it calls
 * back for each string member, with the decoded bytes.
 */
#ifndef MIXFS_TESTS_FUZZ_JSON_CHECK_H
#define MIXFS_TESTS_FUZZ_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Called for each member whose value is a string: @parent is the key of
 * the enclosing object ("" at the top), @key the member's key, @val its
 * decoded value (@len bytes, NUL-terminated). */
typedef void (*json_member_fn)(void *arg, const char *parent,
			       const char *key, const char *val, size_t len);

/*
 * True if @s (@n bytes) is exactly one JSON object, optionally followed by
 * whitespace. @fn may be NULL.
 */
bool json_check_object(const char *s, size_t n, json_member_fn fn, void *arg);

#endif
