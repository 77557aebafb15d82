/* Several byte ranges of an http(s) source: "Range: bytes=a-b,c-d,..."
 * requests and their 206 answers (multipart/byteranges, or one part), parsed
 * as they stream in: nothing is kept but one header line, so memory does not
 * grow with the parts. The transfer, stalls and retries are source_http.c's
 * (source_xfer.h). Contract in source.h; behaviour in docs/download.md,
 * "Range fetching". */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "source_xfer.h"

#define RANGE_HEADER_MAX 4000 /* servers take 8 KiB header lines; leave room */
#define LINE_MAX_MP 256       /* one line of a part header or a boundary line */
#define PART_HEAD_MAX 2048    /* all header lines of one part, or the preamble */
#define TAIL_MAX 4096         /* read after the last byte wanted, then cut */
#define BOUNDARY_MAX 70       /* RFC 2046 */

/* Where the parser stands in the body of a 206 answer. */
enum mp_state { MP_PREAMBLE, MP_HEADERS, MP_DATA, MP_AFTER_DATA, MP_DELIM, MP_END };

struct rfetch {
	struct xfer x; /* first: libcurl's callbacks get &x, which is this */
	const struct source_range *r;
	size_t n, per_request; /* byte-range-specs per request */
	size_t cur;            /* first range not wholly delivered */
	uint64_t done;         /* bytes of r[cur] delivered */
	size_t req_end;        /* one past the last range asked for in this attempt */
	size_t specs;          /* byte-range-specs in this attempt's Range header */
	source_range_sink sink;
	void *user;
	struct source_stats *st;

	/* This attempt's answer. */
	int multipart, began, perr, got_200, cut; /* cut: we ended it, all wanted is in */
	char boundary[BOUNDARY_MAX + 1];
	uint64_t cr_a, cr_end, cr_total; /* Content-Range of the answer or part; end exclusive */
	enum mp_state state;
	uint64_t pos, part_end; /* absolute: next byte of the current part; one past its last */
	char line[LINE_MAX_MP];
	size_t line_len, head_bytes, tail;
};

static uint64_t range_end(const struct rfetch *rf, size_t i) { return rf->r[i].offset + rf->r[i].length; }
static uint64_t pending(const struct rfetch *rf) { return rf->r[rf->cur].offset + rf->done; }

/* One past the last byte of the spec that starts at range i (adjacent ranges
 * are asked for as one). */
static uint64_t spec_end(const struct rfetch *rf, size_t i, size_t limit, size_t *next)
{
	uint64_t b = range_end(rf, i);
	while (++i < limit && rf->r[i].offset == b)
		b = range_end(rf, i);
	if (next)
		*next = i;
	return b;
}

/* The Range value for this attempt, from the first byte not yet delivered:
 * up to per_request specs and RANGE_HEADER_MAX characters. */
static void build_range(struct rfetch *rf, char *out)
{
	size_t len = 0, i = rf->cur;
	uint64_t a = pending(rf);

	rf->specs = 0;
	while (i < rf->n && rf->specs < rf->per_request) {
		size_t next;
		uint64_t b = spec_end(rf, i, rf->n, &next);
		char spec[48];
		int k = snprintf(spec, sizeof(spec), "%s%" PRIu64 "-%" PRIu64, rf->specs ? "," : "",
				 a, b - 1);
		if (rf->specs > 0 && len + (size_t)k > RANGE_HEADER_MAX)
			break;
		memcpy(out + len, spec, (size_t)k + 1);
		len += (size_t)k;
		rf->specs++;
		i = next;
		if (i < rf->n)
			a = rf->r[i].offset;
	}
	rf->req_end = i;
}

/* Why this attempt's answer is refused; it is retried like a dropped
 * connection (the cause is the final message if retries run out). */
static int bad(struct rfetch *rf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct rfetch *rf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rf->x.cause, sizeof(rf->x.cause), fmt, ap);
	va_end(ap);
	rf->x.cause_errno = EPROTO;
	rf->perr = 1;
	return -1;
}

/* "bytes A-B/SIZE", "bytes A-B/" + "*", "bytes " + "*" + "/SIZE". */
static void parse_range_value(struct rfetch *rf, const char *v)
{
	unsigned long long a, b, t;
	int n = 0;
	rf->cr_a = rf->cr_end = rf->cr_total = UNKNOWN;
	if (sscanf(v, " bytes %llu-%llu/%n", &a, &b, &n) == 2 && n > 0 && b >= a && b < UINT64_MAX) {
		rf->cr_a = a;
		rf->cr_end = b + 1;
		if (sscanf(v + n, "%llu", &t) == 1)
			rf->cr_total = t;
	} else if (sscanf(v, " bytes */%llu", &t) == 1) {
		rf->cr_total = t;
	}
}

/* "multipart/byteranges; boundary=X" (X may be quoted). A boundary that is
 * missing or longer than RFC 2046 allows leaves boundary empty. */
static void parse_content_type(struct rfetch *rf, const char *v)
{
	v += strspn(v, " \t");
	if (strncasecmp(v, "multipart/byteranges", 20) != 0)
		return;
	rf->multipart = 1;
	const char *p = strcasestr(v, "boundary=");
	if (!p)
		return;
	p += 9;
	int quoted = *p == '"';
	p += quoted;
	size_t len = strcspn(p, quoted ? "\"" : " \t;");
	if (len == 0 || len > BOUNDARY_MAX || (quoted && p[len] != '"'))
		return;
	memcpy(rf->boundary, p, len);
	rf->boundary[len] = '\0';
}

static void forget_response(struct rfetch *rf)
{
	rf->multipart = 0;
	rf->boundary[0] = '\0';
	rf->cr_a = rf->cr_end = rf->cr_total = UNKNOWN;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *p)
{
	struct rfetch *rf = p;
	size_t n = xfer_on_header(data, size, nmemb, &rf->x);
	char line[LINE_MAX_MP];
	size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	memcpy(line, data, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0)
		forget_response(rf);
	else if (strncasecmp(line, "Content-Type:", 13) == 0)
		parse_content_type(rf, line + 13);
	else if (strncasecmp(line, "Content-Range:", 14) == 0)
		parse_range_value(rf, line + 14);
	return n;
}

/* A part (or a one-part answer) must start at the first byte not yet
 * delivered and end where a range of this request ends. */
static int start_part(struct rfetch *rf)
{
	if (rf->cur >= rf->req_end)
		return bad(rf, "server sent more parts than ranges asked for");

	uint64_t want = pending(rf), last = range_end(rf, rf->req_end - 1);
	size_t k = rf->cur;

	if (rf->cr_total != UNKNOWN && rf->cr_total < last) {
		rf->x.failed = source_truncated(rf->x.e, rf->cr_total, last);
		return -1;
	}
	if (rf->cr_end == UNKNOWN)
		return bad(rf, "part without a valid Content-Range (asked from byte %" PRIu64 ")", want);
	while (k < rf->req_end && range_end(rf, k) < rf->cr_end)
		k++;
	if (rf->cr_a != want || k == rf->req_end || range_end(rf, k) != rf->cr_end)
		return bad(rf, "server sent bytes %" PRIu64 "-%" PRIu64 ", asked for %" PRIu64 "-%" PRIu64,
			   rf->cr_a, rf->cr_end - 1, want, spec_end(rf, rf->cur, rf->req_end, NULL) - 1);
	rf->pos = rf->cr_a;
	rf->part_end = rf->cr_end;
	rf->state = MP_DATA;
	return 0;
}

/* The first body byte of the final answer: only a 206 is read. */
static int begin_body(struct rfetch *rf)
{
	rf->began = rf->x.in_body = 1;
	if (rf->x.status == 200) {
		rf->got_200 = 1; /* cut at once: the caller decides what follows */
		return -1;
	}
	if (rf->x.status != 206) {
		rf->x.bad_status = 1; /* no need to download an error page */
		return -1;
	}
	if (rf->multipart && !rf->boundary[0])
		return bad(rf, "multipart answer without a usable boundary");
	if (rf->multipart) {
		rf->state = MP_PREAMBLE;
		rf->head_bytes = 0;
		return 0;
	}
	return start_part(rf);
}

/* Part bytes to the sink; the bytes of a gap between two ranges a server
 * coalesced into one part are dropped. */
static int deliver(struct rfetch *rf, const uint8_t *d, size_t k)
{
	while (k > 0) {
		uint64_t at = pending(rf);
		size_t t = rf->pos < at ? (size_t)min_u64(k, at - rf->pos)
					: (size_t)min_u64(k, range_end(rf, rf->cur) - rf->pos);
		if (rf->pos >= at) {
			rf->st->payload += t;
			int rc = rf->sink(rf->user, rf->cur, rf->done, d, t, rf->x.e);
			if (rc < 0) {
				rf->x.sink_rc = rc;
				return -1;
			}
			rf->done += t;
			if (rf->done == rf->r[rf->cur].length) {
				rf->cur++;
				rf->done = 0;
			}
			rf->x.next = rf->cur < rf->n ? pending(rf) : range_end(rf, rf->n - 1);
		}
		rf->pos += t;
		d += t;
		k -= t;
	}
	return 0;
}

/* "--BOUNDARY" or, closing, "--BOUNDARY--", with optional trailing blanks. */
static int is_delimiter(const struct rfetch *rf, const char *line, int closing)
{
	size_t b = strlen(rf->boundary);
	if (strncmp(line, "--", 2) != 0 || strncmp(line + 2, rf->boundary, b) != 0)
		return 0;
	line += 2 + b;
	if (closing && strncmp(line, "--", 2) != 0)
		return 0;
	line += closing ? 2 : 0;
	return line[strspn(line, " \t")] == '\0';
}

static int next_part_or_end(struct rfetch *rf, const char *line)
{
	if (is_delimiter(rf, line, 0)) {
		rf->state = MP_HEADERS;
		rf->head_bytes = 0;
		rf->cr_a = rf->cr_end = rf->cr_total = UNKNOWN;
		return 0;
	}
	if (is_delimiter(rf, line, 1)) {
		rf->state = MP_END;
		return 0;
	}
	return -1;
}

/* A whole line (CRLF or LF stripped) outside part data. */
static int end_line(struct rfetch *rf)
{
	char *line = rf->line;
	size_t len = rf->line_len;

	rf->line_len = 0;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	rf->head_bytes += len + 2;
	switch (rf->state) {
	case MP_PREAMBLE:
		if (next_part_or_end(rf, line) == 0 && rf->state == MP_HEADERS)
			return 0;
		if (rf->state == MP_END || rf->head_bytes > PART_HEAD_MAX)
			return bad(rf, "multipart answer without its boundary line");
		return 0;
	case MP_HEADERS:
		if (rf->head_bytes > PART_HEAD_MAX)
			return bad(rf, "part header longer than %d bytes", PART_HEAD_MAX);
		if (len == 0)
			return start_part(rf);
		if (strncasecmp(line, "Content-Range:", 14) == 0)
			parse_range_value(rf, line + 14);
		return 0;
	case MP_AFTER_DATA: /* the line break that belongs to the delimiter */
		rf->state = MP_DELIM;
		if (len == 0)
			return 0;
		break;
	default:
		if (next_part_or_end(rf, line) == 0)
			return 0;
		break;
	}
	return bad(rf, "garbled boundary after bytes %" PRIu64 "-%" PRIu64, rf->cr_a, rf->cr_end - 1);
}

/* Bytes of a 206 body: part data goes to deliver(), the rest is read line
 * by line. Returns -1 to cut the transfer (an error, or all is in). */
static int feed(struct rfetch *rf, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (rf->state == MP_DATA) {
			size_t k = (size_t)min_u64(n - i, rf->part_end - rf->pos);
			if (deliver(rf, d + i, k) < 0)
				return -1;
			i += k;
			if (rf->pos == rf->part_end)
				rf->state = rf->multipart ? MP_AFTER_DATA : MP_END;
			continue;
		}
		if (rf->state == MP_END) {
			/* The epilogue, or what a server sends past a lone part:
			 * nothing of ours; read a little for the connection's sake. */
			rf->tail += n - i;
			rf->cut = rf->tail > TAIL_MAX;
			return -rf->cut;
		}
		uint8_t c = d[i++];
		if (c == '\n') {
			if (end_line(rf) < 0)
				return -1;
		} else if (rf->line_len == sizeof(rf->line) - 1) {
			return rf->state == MP_HEADERS
				       ? bad(rf, "part header line longer than %d bytes", LINE_MAX_MP - 1)
				       : bad(rf, "garbled boundary (a line of over %d bytes)", LINE_MAX_MP - 1);
		} else {
			rf->line[rf->line_len++] = (char)c;
		}
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *p)
{
	struct rfetch *rf = p;
	size_t n = size * nmemb;

	rf->st->received += n;
	if (!rf->began && begin_body(rf) < 0)
		return 0;
	if (feed(rf, (const uint8_t *)data, n) < 0)
		return 0;
	rf->x.last_byte = xfer_now(); /* after the sink: time spent writing is not a stall */
	return n;
}

static void one_per_request(struct rfetch *rf, const char *why)
{
	rf->per_request = 1;
	log_info("download %s: the server %s; asking for one range per request", rf->x.url, why);
}

/* A 200 to a range request: with several ranges asked for, some servers
 * (object stores) still honour one; with one, ranges are not served. */
static int answered_200(struct rfetch *rf)
{
	if (rf->specs > 1) {
		one_per_request(rf, "answered several ranges with the whole file");
		return AGAIN;
	}
	return err_set(rf->x.e, UPD_EXIT_DOWNLOAD, EOPNOTSUPP,
		       "download %s: server ignores range requests (HTTP 200)", rf->x.url);
}

static int status_failed(struct rfetch *rf)
{
	struct xfer *x = &rf->x;
	const char *sp = x->reason[0] ? " " : "";

	if (x->status == 416) /* the ranges lie beyond the end of the file */
		return source_truncated(x->e, x->cr_total != UNKNOWN ? x->cr_total : pending(rf),
					range_end(rf, rf->req_end - 1));
	if (x->status >= 500)
		return xfer_retry(x, EIO, "HTTP %ld%s%s", x->status, sp, x->reason);
	return err_set(x->e, UPD_EXIT_DOWNLOAD, xfer_status_errno(x->status),
		       "download %s: HTTP %ld%s%s", x->url, x->status, sp, x->reason);
}

/* What one attempt's end means: DONE, AGAIN (the next request: this one is
 * complete, or the server answered part of it), RETRY or an error. */
static int attempt_result(struct rfetch *rf, CURLcode rc, int progressed)
{
	struct xfer *x = &rf->x;

	if (x->sink_rc < 0)
		return x->sink_rc;
	if (x->failed < 0)
		return x->failed;
	if (rf->got_200)
		return answered_200(rf);
	if (rf->cur >= rf->req_end)
		return rf->cur >= rf->n ? DONE : AGAIN;
	if (rf->perr)
		return RETRY;
	if (x->bad_status || x->status >= 300 || (rc == CURLE_OK && x->status != 206))
		return status_failed(rf);
	if (rc != CURLE_OK)
		return xfer_curl_result(x, rc);
	if (rf->state == MP_DATA)
		return xfer_retry(x, EPROTO, "server sent %" PRIu64 " of the %" PRIu64
			" bytes of part %" PRIu64 "-%" PRIu64, rf->pos - rf->cr_a, rf->cr_end - rf->cr_a,
			rf->cr_a, rf->cr_end - 1);
	if (!progressed)
		return xfer_retry(x, EPROTO, "server sent none of the ranges asked for");
	if (!rf->multipart && rf->specs > 1)
		one_per_request(rf, "answers only the first of several ranges");
	return AGAIN;
}

static int ranges_attempt(struct xfer *x)
{
	struct rfetch *rf = (struct rfetch *)x;
	char range[RANGE_HEADER_MAX + 64];
	size_t cur = rf->cur;
	uint64_t done = rf->done;

	build_range(rf, range);
	x->status = 0;
	x->reason[0] = x->errbuf[0] = '\0';
	x->in_body = x->bad_status = x->stalled = 0;
	x->last_byte = 0;
	x->cr_start = x->cr_total = x->clen = UNKNOWN;
	rf->began = rf->perr = rf->got_200 = rf->cut = 0;
	rf->line_len = rf->tail = 0;
	rf->state = MP_PREAMBLE;
	forget_response(rf);
	rf->st->requests++;
	CURLcode rc = curl_easy_setopt(x->curl, CURLOPT_RANGE, range);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(x->curl);
	if (rc == CURLE_WRITE_ERROR && rf->cut)
		rc = CURLE_OK; /* the answer went on past its parts: as if it had ended */
	return attempt_result(rf, rc, rf->cur != cur || rf->done != done);
}

int source_http_ranges(const struct source_opts *o, const struct source_range *r, size_t n,
		       size_t max_per_request, source_range_sink sink, void *user,
		       struct source_stats *st, struct error *e)
{
	struct rfetch rf;

	memset(&rf, 0, sizeof(rf));
	xfer_init(&rf.x, o, e);
	rf.x.body_cb = on_body;
	rf.x.header_cb = on_header;
	rf.x.next = r[0].offset;
	rf.r = r;
	rf.n = n;
	rf.per_request = max_per_request;
	rf.sink = sink;
	rf.user = user;
	rf.st = st;
	return xfer_fetch(&rf.x, ranges_attempt);
}
