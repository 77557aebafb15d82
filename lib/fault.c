#ifdef UPDATER_FAULTS
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long hits_any;

static void log_hit(const char *name, uint64_t value, int with_value)
{
	const char *path = getenv("UPDATER_FAULT_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;
	if (!f)
		return;
	if (with_value)
		fprintf(f, "%s@%" PRIu64 "\n", name, value);
	else
		fprintf(f, "%s\n", name);
	fclose(f);
}

/* SIGKILL to every other process of this session: the helpers the updater
 * starts run in process groups of their own (lib/child.c), so kill(0) would
 * let a pull process outlive the cut, or, from the pull process, leave the
 * updater running on after it. Scanned twice: a process forked during the
 * first scan is found by the second. */
static void kill_session(void)
{
	pid_t sid = getsid(0), self = getpid();

	for (int pass = 0; pass < 2; pass++) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			pid_t p = (pid_t)atoi(e->d_name);
			if (p > 0 && p != self && getsid(p) == sid)
				kill(p, SIGKILL);
		}
		if (d)
			closedir(d);
	}
}

/* A power cut: no cleanup, no flush, nothing the kernel does not already hold.
 * UPDATER_FAULT_GROUP=1: every process of the session goes (the test starts
 * the updater with setsid, in a session of its own: never set it otherwise),
 * so that a helper process, such as a pull running in a child, does not
 * outlive the cut any more than it would a power cut. */
static void cut(void)
{
	const char *group = getenv("UPDATER_FAULT_GROUP");

	if (group && strcmp(group, "1") == 0)
		kill_session();
	kill(getpid(), SIGKILL);
	_exit(137);
}

void fault_point(const char *name)
{
	const char *spec = getenv("UPDATER_FAULT");
	static unsigned long hits[64];
	static const char *names[64];
	unsigned long *count = &hits_any;

	hits_any++;
	log_hit(name, 0, 0);
	for (int i = 0; i < 64; i++) {
		if (!names[i] || strcmp(names[i], name) == 0) {
			names[i] = name;
			count = &hits[i];
			break;
		}
	}
	(*count)++;
	if (!spec)
		return;
	const char *colon = strchr(spec, ':');
	if (!colon)
		return;
	unsigned long n = strtoul(colon + 1, NULL, 10);
	size_t len = (size_t)(colon - spec);
	if (len == 3 && strncmp(spec, "any", 3) == 0 && hits_any == n)
		cut();
	if (strlen(name) == len && strncmp(spec, name, len) == 0 && *count == n)
		cut();
}

void fault_progress(const char *name, uint64_t value)
{
	const char *spec = getenv("UPDATER_FAULT");
	const char *at = spec ? strchr(spec, '@') : NULL;

	if (getenv("UPDATER_FAULT_LOG"))
		log_hit(name, value, 1);
	if (!at || strlen(name) != (size_t)(at - spec) || strncmp(spec, name, (size_t)(at - spec)) != 0)
		return;
	if (value >= strtoull(at + 1, NULL, 10))
		cut();
}

void fault_delay(const char *name)
{
	const char *spec = getenv("UPDATER_FAULT_DELAY");
	const char *colon = spec ? strchr(spec, ':') : NULL;

	if (!colon || strlen(name) != (size_t)(colon - spec) ||
	    strncmp(spec, name, (size_t)(colon - spec)) != 0)
		return;
	unsigned long ms = strtoul(colon + 1, NULL, 10);
	struct timespec t = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int fault_unused;
#endif
