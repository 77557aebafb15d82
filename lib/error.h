/* Errors: every fallible function returns 0 or a negative errno-style code and
 * fills a caller-provided struct error. The message reads "<what failed>: <why>";
 * main() prints it once as "updater: <message>" and exits with err->exit. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

/* Exit codes: a contract documented in `updater --help` and docs/cli.md. */
enum updater_exit {
	UPD_EXIT_OK = 0,
	UPD_EXIT_OTHER = 1,
	UPD_EXIT_USAGE = 2,    /* bad command line or config */
	UPD_EXIT_VERIFY = 3,   /* signature, hash, corrupt payload, compatible, downgrade */
	UPD_EXIT_DOWNLOAD = 4, /* HTTP errors, stalls, resets after retries */
	UPD_EXIT_NOSPACE = 5,  /* image larger than its slot, disk full */
	UPD_EXIT_HOOK = 6,     /* a hook failed or timed out */
	UPD_EXIT_BUSY = 7,     /* lock held, trial pending, not allowed now */
	UPD_EXIT_UPTODATE = 10 /* check: nothing newer */
};

#define ERROR_MSG_MAX 1024

struct error {
	int exit;                 /* enum updater_exit; 0 until set */
	char msg[ERROR_MSG_MAX];
};

/* Sets exit class and message (only the first error is kept, so the root
 * cause survives callers that add their own context). Returns -errnum
 * (errnum given positive, e.g. EIO) so callers can `return err_set(...)`. */
int err_set(struct error *e, int exit_code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefixes an already set message with context: "ctx: old message". */
void err_prefix(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The out-of-memory error, exit class UPD_EXIT_OTHER: "out of memory", or with
 * a context "<ctx>: out of memory" (ctx_fmt printf-style, NULL for none).
 * Returns -ENOMEM. */
int err_oom(struct error *e, const char *ctx_fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct error *e);
static inline int err_isset(const struct error *e) { return e->msg[0] != '\0'; }
