/* What the two libcurl parts share, for lib/source_http.c and
 * lib/source_ranges.c only: one transfer's state, its setup, the stall
 * watchdog, how a failed attempt is classed (retried or final) and the retry
 * loop. source_http.c owns them; source_ranges.c adds the multi-range
 * requests on top (its callbacks replace the body and header ones). */
#pragma once
#include <curl/curl.h>
#include <stdint.h>

#include "source_priv.h"

struct xfer {
	CURL *curl;
	const struct source_opts *o;
	char url[512];       /* location for messages, without user:password */
	long timeout_s;
	uint64_t next, end;  /* absolute: first byte still wanted; one past the last */
	int allow_short;     /* read_head: a source ending before `end` is fine */
	int head;            /* source_size: a HEAD request, no body */
	source_sink sink;
	void *user;
	struct error *e;
	/* Other body and header callbacks (NULL: source_http.c's); they get x. */
	curl_write_callback body_cb, header_cb;

	/* The response being received (reset by each status line, so the
	 * headers of redirects and 1xx responses are forgotten). */
	long status;
	char reason[64];
	uint64_t cr_start, cr_total, clen; /* Content-Range start and size, Content-Length */
	uint64_t req_start;  /* the range start asked for in this attempt */
	uint64_t pos;        /* absolute offset of the next body byte */
	int in_body, bad_status;
	double last_byte;    /* monotonic time of the last header or body byte */
	int stalled;         /* our progress callback gave up on this attempt */

	uint64_t total;      /* source size, UNKNOWN until a response says */
	int responded;       /* some server answered once: refusals are transient */
	int sink_rc, failed; /* sink's error; an error already set in e */
	int cause_errno;
	char cause[128];     /* why the last attempt failed, for the final message */
	char errbuf[CURL_ERROR_SIZE];
};

/* Return values of one attempt: 0 done, 1 retry, 2 ask again at once (the
 * server sent less than was asked for, not counted as a retry), <0 final
 * error (e set). */
enum { DONE = 0, RETRY = 1, AGAIN = 2 };
typedef int (*xfer_attempt)(struct xfer *x);

void xfer_init(struct xfer *x, const struct source_opts *o, struct error *e);
/* A curl handle with the TLS, redirect and stall settings; the body and
 * header callbacks are source_http.c's (set others after this). */
int xfer_open(struct xfer *x);
/* Opens, runs attempt() with the retry and backoff rules, cleans up. */
int xfer_fetch(struct xfer *x, xfer_attempt attempt);
/* The header callback: status line, Content-Range, Content-Length. */
size_t xfer_on_header(char *data, size_t size, size_t nmemb, void *p);
/* Records why this attempt failed (the final message if retries run out);
 * returns RETRY. */
int xfer_retry(struct xfer *x, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A transfer that ended with a transport error: RETRY or a final error. */
int xfer_curl_result(struct xfer *x, CURLcode rc);
int xfer_status_errno(long status);
double xfer_now(void);
