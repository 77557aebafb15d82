/* http(s) sources through libcurl's easy interface: one transfer per
 * attempt, a stall (no byte for timeout_s) and a dropped connection or 5xx
 * retried with a range from the first byte not yet delivered. Contract in
 * source.h; behaviour for users in docs/download.md. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "source_xfer.h"

#define USER_AGENT "updater/0.1"
#define MAX_REDIRECTS 5L
#define DEFAULT_TIMEOUT_S 30
#define BACKOFF_MS 200L
#define BACKOFF_MAX_MS 2000L
#define CURL_BUFFER (64L * 1024) /* fewer, larger sink calls than curl's 16 KiB */


static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe and must run once per process. */
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Credentials in a URL must not end up in logs or error messages. */
static void url_for_messages(const char *url, char *out, size_t n)
{
	const char *host = strstr(url, "://");
	const char *at = NULL;
	if (host) {
		host += 3;
		at = memrchr(host, '@', strcspn(host, "/?#"));
	}
	if (at)
		snprintf(out, n, "%.*s***%s", (int)(host - url), url, at);
	else
		snprintf(out, n, "%s", url);
}

double xfer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libcurl's low-speed check averages over its last ~5 s, so after a burst a
 * dead server would be noticed only after timeout_s + 5 s. This callback
 * (called at least once a second) enforces "no byte for timeout_s" once the
 * server has sent something; before that, the connect timeout and the
 * low-speed check (whose window then holds no bytes) are exact. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = p;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	/* libcurl calls back once a second on its own timer; the slack keeps a
	 * call landing a hair before the deadline from adding a whole second. */
	x->stalled = x->last_byte > 0 && xfer_now() - x->last_byte >= (double)x->timeout_s - 0.05;
	return x->stalled;
}

static void new_response(struct xfer *x, const char *line)
{
	const char *sp = strchr(line, ' ');
	char *rest = NULL;
	x->status = sp ? strtol(sp + 1, &rest, 10) : 0;
	snprintf(x->reason, sizeof(x->reason), "%s", rest ? rest + strspn(rest, " ") : "");
	x->cr_start = x->cr_total = x->clen = UNKNOWN;
	x->in_body = 0;
	x->responded = 1;
}

/* "bytes 0-99/1234", "bytes 0-99/" + "*" (size unknown), or with a 416
 * "bytes " + "*" + "/1234" (spelled apart so as not to end this comment). */
static void parse_content_range(struct xfer *x, const char *v)
{
	unsigned long long a, b, t;
	if (sscanf(v, " bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
		x->cr_start = a;
		x->cr_total = t;
	} else if (sscanf(v, " bytes %llu-%llu/", &a, &b) == 2) {
		x->cr_start = a;
	} else if (sscanf(v, " bytes */%llu", &t) == 1) {
		x->cr_total = t;
	}
}

size_t xfer_on_header(char *data, size_t size, size_t nmemb, void *p)
{
	struct xfer *x = p;
	size_t n = size * nmemb;
	char line[256]; /* long lines (cookies, Location) are of no interest */
	size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	x->last_byte = xfer_now();
	memcpy(line, data, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0)
		new_response(x, line);
	else if (strncasecmp(line, "Content-Range:", 14) == 0)
		parse_content_range(x, line + 14);
	else if (strncasecmp(line, "Content-Length:", 15) == 0)
		x->clen = strtoull(line + 15, NULL, 10);
	return n;
}

/* First body byte of the final response (libcurl swallows the bodies of
 * redirects it follows): where in the source does this body start? */
static int begin_body(struct xfer *x)
{
	x->in_body = 1;
	if (x->status == 200) {
		x->pos = 0; /* range ignored: the bytes already delivered are skipped */
		return 0;
	}
	if (x->status != 206) {
		x->bad_status = 1; /* no need to download an error page */
		return -1;
	}
	x->pos = x->cr_start != UNKNOWN ? x->cr_start : x->req_start;
	if (x->pos <= x->next)
		return 0;
	x->failed = err_set(x->e, UPD_EXIT_DOWNLOAD, EPROTO,
			    "download %s: server sent bytes from %" PRIu64 ", asked for %" PRIu64,
			    x->url, x->pos, x->next);
	return -1;
}

/* Returning less than n makes curl stop with CURLE_WRITE_ERROR; that is how
 * we cut a 200 once enough is in, and how sink errors abort. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *p)
{
	struct xfer *x = p;
	size_t n = size * nmemb, skip = 0, take;

	if (!x->in_body && begin_body(x) < 0)
		return 0;
	if (x->next >= x->end)
		return 0;
	if (x->pos < x->next)
		skip = (size_t)min_u64(n, x->next - x->pos);
	take = (size_t)min_u64(n - skip, x->end - x->next);
	x->pos += skip + take;
	if (take > 0) {
		int rc = x->sink(x->user, (const uint8_t *)data + skip, take, x->e);
		if (rc < 0) {
			x->sink_rc = rc;
			return 0;
		}
		x->next += take;
	}
	x->last_byte = xfer_now(); /* after the sink: time spent writing is not a stall */
	return skip + take == n ? n : 0;
}

#define SETOPT(rc, c, opt, val)                                                                   \
	do {                                                                                      \
		if ((rc) == CURLE_OK)                                                             \
			(rc) = curl_easy_setopt((c), (opt), (val));                               \
	} while (0)

/* TLS and redirect policy: verify peers; follow a few redirects but never
 * from https to http, which would drop the transport security. */
static CURLcode set_security(CURL *c, const struct source_opts *o)
{
	int https = strncasecmp(o->location, "https://", 8) == 0;
	CURLcode rc = CURLE_OK;

	SETOPT(rc, c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(rc, c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
	SETOPT(rc, c, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(rc, c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	SETOPT(rc, c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(rc, c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca)
		SETOPT(rc, c, CURLOPT_CAINFO, o->ca);
	if (o->cert)
		SETOPT(rc, c, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		SETOPT(rc, c, CURLOPT_SSLKEY, o->key);
	return rc;
}

/* A stall is "no byte for timeout_s": a slow but moving download is never
 * cut. on_progress does the exact check; libcurl's low-speed limit (1 byte/s
 * over timeout_s) stays as a backstop. */
static CURLcode set_transfer(CURL *c, struct xfer *x)
{
	CURLcode rc = CURLE_OK;

	SETOPT(rc, c, CURLOPT_URL, x->o->location);
	SETOPT(rc, c, CURLOPT_USERAGENT, USER_AGENT);
	SETOPT(rc, c, CURLOPT_CONNECTTIMEOUT, x->timeout_s);
	SETOPT(rc, c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(rc, c, CURLOPT_LOW_SPEED_TIME, x->timeout_s);
	SETOPT(rc, c, CURLOPT_BUFFERSIZE, CURL_BUFFER);
	SETOPT(rc, c, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(rc, c, CURLOPT_HEADERFUNCTION, x->header_cb ? x->header_cb : xfer_on_header);
	SETOPT(rc, c, CURLOPT_HEADERDATA, x);
	SETOPT(rc, c, CURLOPT_WRITEFUNCTION, x->body_cb ? x->body_cb : on_body);
	SETOPT(rc, c, CURLOPT_WRITEDATA, x);
	SETOPT(rc, c, CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(rc, c, CURLOPT_XFERINFODATA, x);
	SETOPT(rc, c, CURLOPT_NOPROGRESS, 0L);
	return rc;
}

/* CURLOPT_NOSIGNAL stays 0: libcurl then ignores SIGPIPE itself while it
 * works, so a peer reset during a TLS write cannot kill the updater. */
int xfer_open(struct xfer *x)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return err_set(x->e, UPD_EXIT_OTHER, EIO, "download %s: curl init: %s", x->url,
			       curl_easy_strerror(curl_init_rc));
	x->curl = curl_easy_init();
	if (!x->curl)
		return err_set(x->e, UPD_EXIT_OTHER, ENOMEM, "download %s: curl init failed", x->url);
	CURLcode rc = set_security(x->curl, x->o);
	if (rc == CURLE_OK)
		rc = set_transfer(x->curl, x);
	if (rc != CURLE_OK)
		return err_set(x->e, UPD_EXIT_OTHER, EINVAL, "download %s: %s", x->url,
			       curl_easy_strerror(rc));
	return 0;
}

void xfer_init(struct xfer *x, const struct source_opts *o, struct error *e)
{
	memset(x, 0, sizeof(*x));
	x->o = o;
	x->e = e;
	x->total = UNKNOWN;
	x->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
	url_for_messages(o->location, x->url, sizeof(x->url));
}

int xfer_retry(struct xfer *x, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->cause, sizeof(x->cause), fmt, ap);
	va_end(ap);
	x->cause_errno = errnum;
	return 1;
}

int xfer_status_errno(long status)
{
	if (status == 404 || status == 410)
		return ENOENT;
	if (status == 401 || status == 403)
		return EACCES;
	return EIO;
}


/* A transfer that ended with an HTTP answer (or with the error body cut). */
static int status_result(struct xfer *x, uint64_t attempt_start)
{
	long st = x->status;
	int known = x->total != UNKNOWN;

	if (st == 206 && known && x->next < min_u64(x->total, x->end)) {
		if (x->next > attempt_start)
			return AGAIN;
		/* The server's own Content-Range says the bytes exist: an empty
		 * answer is its failure, not a short bundle. */
		return xfer_retry(x, EPROTO, "server sent none of the range it answered");
	}
	if ((st == 200 || st == 206) && x->allow_short)
		return DONE;
	if (st == 200 || st == 206)
		return source_truncated(x->e, x->next, x->end);
	if (st == 416 && (!known || x->total <= x->next)) /* asked from beyond the end */
		return x->allow_short ? DONE : source_truncated(x->e, known ? x->total : x->next, x->end);
	if (st >= 500)
		return xfer_retry(x, EIO, "HTTP %ld%s%s", st, x->reason[0] ? " " : "", x->reason);
	return err_set(x->e, UPD_EXIT_DOWNLOAD, xfer_status_errno(st), "download %s: HTTP %ld%s%s", x->url,
		       st, x->reason[0] ? " " : "", x->reason);
}

/* Our watchdog, or libcurl's low-speed abort ("Operation too slow"), mean
 * a stall; other timeouts are in the connect phase. */
static int timeout_result(struct xfer *x)
{
	if (x->stalled || strstr(x->errbuf, "too slow"))
		return xfer_retry(x, ETIMEDOUT, "no data for %ld s (server stalled)", x->timeout_s);
	if (x->responded)
		return xfer_retry(x, ETIMEDOUT, "could not connect within %ld s", x->timeout_s);
	return err_set(x->e, UPD_EXIT_DOWNLOAD, ETIMEDOUT, "download %s: could not connect within %ld s",
		       x->url, x->timeout_s);
}

/* A transfer that ended with a transport error. Drops and stalls are
 * retried; refusals only once a server has answered (it may be restarting),
 * since a wrong host or port will not heal by waiting. */
int xfer_curl_result(struct xfer *x, CURLcode rc)
{
	const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_PARTIAL_FILE:
		return xfer_retry(x, EPIPE, "connection closed early");
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_HTTP2_STREAM:
		return xfer_retry(x, ECONNRESET, "connection reset");
	case CURLE_GOT_NOTHING:
		return xfer_retry(x, ECONNRESET, "empty reply from server");
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_ABORTED_BY_CALLBACK:
		return timeout_result(x);
	case CURLE_COULDNT_CONNECT:
		if (x->responded)
			return xfer_retry(x, ECONNREFUSED, "could not connect (%s)", why);
		return err_set(x->e, UPD_EXIT_DOWNLOAD, ECONNREFUSED, "download %s: %s", x->url, why);
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* Also what libcurl says of garbage where a status line should be
		 * ("Received HTTP/0.9 when not allowed"): no redirect then. */
		if (x->status < 300 || x->status > 399)
			return err_set(x->e, UPD_EXIT_DOWNLOAD, EPROTO,
				       "download %s: bad response from server (%s)", x->url, why);
		return err_set(x->e, UPD_EXIT_DOWNLOAD, EPROTONOSUPPORT,
			       "download %s: refused redirect (%s)%s", x->url, why,
			       strncasecmp(x->o->location, "https://", 8) == 0
				       ? "; https may only redirect to https"
				       : "");
	case CURLE_OUT_OF_MEMORY:
		/* libcurl before 8.6 fails a response header past its 100 KiB cap
		 * as "out of memory", without a message: that is the server's
		 * doing, and it would do it again. */
		if (x->responded && !x->in_body)
			return err_set(x->e, UPD_EXIT_DOWNLOAD, EMSGSIZE,
				       "download %s: response headers too large", x->url);
		return err_set(x->e, UPD_EXIT_OTHER, ENOMEM, "download %s: %s", x->url, why);
	default:
		return err_set(x->e, UPD_EXIT_DOWNLOAD, EIO, "download %s: %s", x->url, why);
	}
}

static int attempt(struct xfer *x)
{
	char range[64];
	uint64_t start = x->next;
	CURLcode rc;

	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, x->next, x->end - 1);
	x->req_start = x->next;
	x->status = 0;
	x->reason[0] = x->errbuf[0] = '\0';
	x->in_body = x->bad_status = x->stalled = 0;
	x->last_byte = 0;
	x->cr_start = x->cr_total = x->clen = UNKNOWN;
	rc = x->head ? curl_easy_setopt(x->curl, CURLOPT_NOBODY, 1L)
		     : curl_easy_setopt(x->curl, CURLOPT_RANGE, range);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(x->curl);

	if (x->status == 206 || x->status == 416)
		x->total = x->cr_total != UNKNOWN ? x->cr_total : x->total;
	else if (x->status == 200)
		x->total = x->clen;
	if (x->sink_rc < 0)
		return x->sink_rc;
	if (x->failed < 0)
		return x->failed;
	if (x->next >= x->end)
		return DONE; /* even when we cut the transfer short ourselves */
	if (x->bad_status || rc == CURLE_OK || x->status >= 400)
		return status_result(x, start);
	return xfer_curl_result(x, rc);
}

/* 200 ms, 400 ms, ... capped: short enough not to matter for a download,
 * long enough for a restarting server or a flapping link. */
static long backoff_ms(int n)
{
	long ms = BACKOFF_MS << (n < 4 ? n : 4);
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int run(struct xfer *x, xfer_attempt attempt)
{
	int retries = x->o->retries > 0 ? x->o->retries : 0;

	for (int n = 0;;) {
		int r = attempt(x);
		if (r <= DONE)
			return r;
		if (r == AGAIN)
			continue;
		if (n == retries && n == 0)
			return err_set(x->e, UPD_EXIT_DOWNLOAD, x->cause_errno, "download %s: %s", x->url,
				       x->cause);
		if (n == retries)
			return err_set(x->e, UPD_EXIT_DOWNLOAD, x->cause_errno,
				       "download %s: %s after %d %s", x->url, x->cause, n,
				       n == 1 ? "retry" : "retries");
		long ms = backoff_ms(n++);
		log_warn("download %s: %s; retry %d of %d in %ld ms from byte %" PRIu64, x->url,
			 x->cause, n, retries, ms, x->next);
		sleep_ms(ms);
	}
}

int xfer_fetch(struct xfer *x, xfer_attempt attempt)
{
	int rc = xfer_open(x);
	if (rc == 0)
		rc = run(x, attempt);
	curl_easy_cleanup(x->curl);
	return rc;
}

struct head_buf {
	uint8_t *buf;
	size_t len;
};

static int head_sink(void *user, const uint8_t *data, size_t len, struct error *e)
{
	struct head_buf *h = user;
	(void)e;
	memcpy(h->buf + h->len, data, len); /* on_body never passes more than end */
	h->len += len;
	return 0;
}

int source_http_head(const struct source_opts *o, uint8_t *buf, size_t max, size_t *len,
		     uint64_t *total, struct error *e)
{
	if (max == 0)
		return 0; /* "bytes=0--1" does not exist; nothing to ask for */

	struct xfer x;
	struct head_buf h = {buf, 0};
	xfer_init(&x, o, e);
	x.end = max;
	x.allow_short = 1;
	x.sink = head_sink;
	x.user = &h;
	int rc = xfer_fetch(&x, attempt);
	*len = h.len;
	*total = x.total;
	return rc;
}

int source_http_size(const struct source_opts *o, uint64_t *total, struct error *e)
{
	struct xfer x;
	xfer_init(&x, o, e);
	x.head = 1;
	x.allow_short = 1;
	x.end = 1; /* not reached: a HEAD answer has no body */
	int rc = xfer_fetch(&x, attempt);
	*total = x.total;
	return rc;
}

int source_http_stream(const struct source_opts *o, uint64_t offset, uint64_t end,
		       source_sink sink, void *user, struct error *e)
{
	struct xfer x;
	xfer_init(&x, o, e);
	x.next = offset;
	x.end = end;
	x.sink = sink;
	x.user = user;
	return xfer_fetch(&x, attempt);
}
