/* A release's version and text fields: how two versions compare (downgrade
 * protection, the engine) and what text a version or compatible may hold (the
 * bundle manifest, `bundle create`, the ostree backend's commit metadata). */
#pragma once
#include <stddef.h>

#include "error.h"

/* Parses "1.2.3": compares field by field numerically, missing fields are 0
 * ("2" == "2.0" < "2.0.1" < "2.10"). Non-numeric fields compare as strings
 * after the numeric prefix, digit runs by value ("-rc2" < "-rc10"); a suffix
 * starting with '-' or '~' is a pre-release and sorts before the bare number,
 * any other after it ("1.0-rc1" < "1.0" < "1.0a"). A total order over all
 * strings; NULL counts as "". Returns <0, 0, >0. */
int version_compare(const char *a, const char *b);

/* A release's text field (version, compatible): not empty, shorter than cap,
 * no control character. Errors with exit_code, "CTX: KEY ...". */
int check_text(const char *ctx, const char *key, const char *v, size_t n, size_t cap,
	       int exit_code, struct error *e);
