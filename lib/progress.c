#include "progress.h"

#include <stdbool.h>
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	enum progress_mode mode;
	char phase[32];
	uint64_t total, done;
	uint64_t objects, objects_total; /* items of a phase that has them */
	uint64_t downloaded, reused, written; /* a phase that writes a slot */
	double start, last;
	bool active, has_objects, in_objects; /* in_objects: done counts objects */
	bool has_transfer;
} P = { .mode = PROGRESS_NONE };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int progress_mode_parse(const char *s, enum progress_mode *out)
{
	static const char *const names[] = { "auto", "bar", "json", "none" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum progress_mode)i;
			return 0;
		}
	return -1;
}

void progress_init(enum progress_mode mode)
{
	if (mode == PROGRESS_AUTO)
		mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE;
	P.mode = mode;
}

static double rate(double t)
{
	return t > P.start ? (double)P.done / (t - P.start) : 0.0;
}

static void emit_json(bool final, double t)
{
	printf("{\"type\":\"progress\",\"phase\":\"%s\",\"unit\":\"%s\",\"done\":%" PRIu64
	       ",\"total\":%" PRIu64 ",\"rate\":%.0f,",
	       P.phase, P.in_objects ? "objects" : "bytes", P.done, P.total, rate(t));
	if (P.has_objects)
		printf("\"objects\":%" PRIu64 ",\"objects_total\":%" PRIu64 ",", P.objects,
		       P.objects_total);
	if (P.has_transfer)
		printf("\"downloaded\":%" PRIu64 ",\"reused\":%" PRIu64 ",\"written\":%" PRIu64 ",",
		       P.downloaded, P.reused, P.written);
	printf("\"final\":%s}\n", final ? "true" : "false");
	fflush(stdout);
}

/* The bar's fraction: of the total when known, else of the objects known
 * so far (an ostree pull learns its byte count only at the end). */
static double fraction(void)
{
	if (P.total)
		return (double)P.done / (double)P.total;
	if (P.has_objects && P.objects_total)
		return (double)P.objects / (double)P.objects_total;
	return 0.0;
}

static void emit_bar(bool final, double t)
{
	double frac = fraction();
	int filled = (int)(frac * 30);
	char bar[31], amount[64], objs[64] = "", moved[64] = "";

	memset(bar, '#', (size_t)filled);
	memset(bar + filled, '.', (size_t)(30 - filled));
	bar[30] = '\0';
	if (P.in_objects)
		snprintf(amount, sizeof(amount), "%" PRIu64 "/%" PRIu64 " objects %6.0f objects/s",
			 P.done, P.total, rate(t));
	else
		snprintf(amount, sizeof(amount), "%7.1f MiB %6.1f MiB/s", (double)P.done / 1048576.0,
			 rate(t) / 1048576.0);
	if (P.has_objects)
		snprintf(objs, sizeof(objs), " %" PRIu64 "/%" PRIu64 " objects", P.objects,
			 P.objects_total);
	if (P.has_transfer)
		snprintf(moved, sizeof(moved), ", %.1f MiB reused, %.1f MiB written",
			 (double)P.reused / 1048576.0, (double)P.written / 1048576.0);
	fprintf(stderr, "\r%-8s [%s] %3.0f%% %s%s%s%s", P.phase, bar, frac * 100, amount, objs,
		moved, final ? "\n" : "");
}

static void emit(bool final)
{
	double t = now();
	/* JSON twice a second, the bar ten times: enough for people and parsers. */
	double gap = P.mode == PROGRESS_JSON ? 0.5 : 0.1;
	if (!final && t - P.last < gap)
		return;
	P.last = t;
	if (P.mode == PROGRESS_JSON)
		emit_json(final, t);
	else if (P.mode == PROGRESS_BAR)
		emit_bar(final, t);
}

void progress_begin(const char *phase, uint64_t total)
{
	snprintf(P.phase, sizeof(P.phase), "%s", phase);
	P.total = total;
	P.done = 0;
	P.start = now();
	P.last = 0;
	P.active = true;
	P.has_objects = false;
	P.in_objects = false;
	P.has_transfer = false;
}

void progress_begin_objects(const char *phase, uint64_t total)
{
	progress_begin(phase, total);
	P.in_objects = true;
}

void progress_objects(uint64_t done, uint64_t total)
{
	P.objects = done;
	P.objects_total = total;
	P.has_objects = true;
}

void progress_transfer(uint64_t downloaded, uint64_t reused, uint64_t written)
{
	P.downloaded = downloaded;
	P.reused = reused;
	P.written = written;
	P.has_transfer = true;
}

void progress_update(uint64_t done)
{
	if (!P.active || P.mode == PROGRESS_NONE)
		return;
	P.done = done;
	emit(false);
}

void progress_end(void)
{
	if (P.active && P.mode != PROGRESS_NONE)
		emit(true);
	P.active = false;
}

void progress_done(void)
{
	if (!P.total || P.done > P.total)
		P.total = P.done;
	P.done = P.total;
	P.objects = P.objects_total;
	progress_end();
}

void progress_event(const char *state, const char *detail)
{
	if (P.mode != PROGRESS_JSON)
		return;
	printf("{\"type\":\"state\",\"state\":\"%s\",\"version\":", state);
	/* Before the release's metadata is read (fetch, failed early) there is no
	 * version: null, never "". */
	if (detail && *detail)
		json_string(stdout, detail);
	else
		fputs("null", stdout);
	puts("}");
	fflush(stdout);
}
