#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/decimal.h"
#include "../lib/fsutil.h"
#include "../lib/log.h"

#define POLICY_FILE "policy"

static const char *const state_names[ST__COUNT] = {
	"idle", "fetch", "verify", "pre-install", "install", "post-install",
	"activated", "trial", "committed", "failed", "rolled-back", "staged",
};
static const char *const status_names[TS__COUNT] = {
	"empty", "incomplete", "verified", "good", "bad",
};

const char *state_name(enum upd_state s) { return s < ST__COUNT ? state_names[s] : "?"; }
const char *target_status_name(enum target_status s) { return s < TS__COUNT ? status_names[s] : "?"; }
bool state_in_progress(enum upd_state s) { return s >= ST_FETCH && s <= ST_POST_INSTALL; }

static int lookup(const char *const *names, int n, const char *v)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return -1;
}

const struct target_record *state_target_find(const struct update_state *s, const char *id)
{
	for (int i = 0; i < s->n_targets; i++)
		if (strcmp(s->targets[i].id, id) == 0)
			return &s->targets[i];
	return NULL;
}

struct target_record *state_target(struct update_state *s, const char *id, bool create)
{
	for (int i = 0; i < s->n_targets; i++)
		if (strcmp(s->targets[i].id, id) == 0)
			return &s->targets[i];
	if (!create || s->n_targets == STATE_MAX_TARGETS)
		return NULL;
	struct target_record *t = &s->targets[s->n_targets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	return t;
}

void state_target_remove(struct update_state *s, const char *id)
{
	for (int i = 0; i < s->n_targets; i++) {
		if (strcmp(s->targets[i].id, id) != 0)
			continue;
		memmove(&s->targets[i], &s->targets[i + 1],
			(size_t)(s->n_targets - i - 1) * sizeof(s->targets[0]));
		s->n_targets--;
		return;
	}
}

void state_failed_add(struct update_state *s, const char *identity, const char *version,
		      int64_t when)
{
	if (!identity[0] || state_failed_find(s, identity))
		return;
	if (s->n_failed == STATE_MAX_FAILED) {
		memmove(&s->failed[0], &s->failed[1], (STATE_MAX_FAILED - 1) * sizeof(s->failed[0]));
		s->n_failed--;
	}
	struct failed_release *r = &s->failed[s->n_failed++];
	memset(r, 0, sizeof(*r));
	snprintf(r->identity, sizeof(r->identity), "%s", identity);
	snprintf(r->version, sizeof(r->version), "%s", version);
	r->when = when;
}

const struct failed_release *state_failed_find(const struct update_state *s,
					       const char *identity)
{
	for (int i = 0; identity[0] && i < s->n_failed; i++)
		if (strcmp(s->failed[i].identity, identity) == 0)
			return &s->failed[i];
	return NULL;
}

void state_time_iso(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "@%" PRId64, when);
}

/* Values are single-line: newlines from error messages become spaces. */
static void copy_value(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v);
	for (char *p = dst; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static int parse_u64(const char *v, uint64_t *out)
{
	return decimal_u64(v, strlen(v), out) < 0 ? -1 : 0;
}

/* failed_release=<unix time> <identity> <version> (the version may hold spaces). */
static int set_failed(struct update_state *s, const char *v)
{
	char identity[72];
	uint64_t when;
	const char *sp = strchr(v, ' '), *id = sp ? sp + 1 : NULL, *sp2 = id ? strchr(id, ' ') : NULL;

	if (!sp2 || sp2 == id || (size_t)(sp2 - id) >= sizeof(identity) ||
	    s->n_failed == STATE_MAX_FAILED || decimal_u64(v, (size_t)(sp - v), &when) < 0 ||
	    when > INT64_MAX)
		return -1;
	memcpy(identity, id, (size_t)(sp2 - id));
	identity[sp2 - id] = '\0';
	struct failed_release *r = &s->failed[s->n_failed++];
	snprintf(r->identity, sizeof(r->identity), "%s", identity);
	copy_value(r->version, sizeof(r->version), sp2 + 1);
	r->when = (int64_t)when;
	return 0;
}

static int set_target_key(struct update_state *s, const char *key, const char *v, bool policy)
{
	char id[32];
	/* Ids may contain dots (ostree deployments: csum.serial); fields do not. */
	const char *dot = strrchr(key, '.');
	if (!dot || (size_t)(dot - key) >= sizeof(id) || dot == key)
		return -1;
	memcpy(id, key, (size_t)(dot - key));
	id[dot - key] = '\0';
	/* The policy file adds fields to the state file's systems; one it names
	 * that the state no longer has (removed since, or by an older updater) is
	 * skipped, never brought back. */
	struct target_record *t = state_target(s, id, !policy);
	const char *field = dot + 1;
	if (!t)
		return policy ? 0 : -1;
	if (strcmp(field, "version") == 0)
		copy_value(t->version, sizeof(t->version), v);
	else if (strcmp(field, "digest") == 0)
		copy_value(t->digest, sizeof(t->digest), v);
	else if (strcmp(field, "identity") == 0)
		copy_value(t->identity, sizeof(t->identity), v);
	else if (strcmp(field, "security_version") == 0)
		return parse_u64(v, &t->security_version);
	else if (strcmp(field, "size") == 0)
		t->size = strtoull(v, NULL, 10);
	else if (strcmp(field, "status") == 0) {
		int st = lookup(status_names, TS__COUNT, v);
		if (st < 0)
			return -1;
		t->status = (enum target_status)st;
	} else
		return -1;
	return 0;
}

static int set_key(struct update_state *s, const char *key, const char *v, bool policy)
{
	if (strcmp(key, "state") == 0) {
		int st = lookup(state_names, ST__COUNT, v);
		if (st < 0)
			return -1;
		s->state = (enum upd_state)st;
	} else if (strcmp(key, "format") == 0) {
		return strcmp(v, "1") == 0 ? 0 : -1;
	} else if (strcmp(key, "backend") == 0) {
		copy_value(s->backend, sizeof(s->backend), v);
	} else if (strcmp(key, "op_version") == 0) {
		copy_value(s->op_version, sizeof(s->op_version), v);
	} else if (strcmp(key, "op_target") == 0) {
		copy_value(s->op_target, sizeof(s->op_target), v);
	} else if (strcmp(key, "op_from") == 0) {
		copy_value(s->op_from, sizeof(s->op_from), v);
	} else if (strcmp(key, "op_source") == 0) {
		copy_value(s->op_source, sizeof(s->op_source), v);
	} else if (strcmp(key, "last_error") == 0) {
		copy_value(s->last_error, sizeof(s->last_error), v);
	} else if (strcmp(key, "updated") == 0) {
		s->updated = strtoll(v, NULL, 10);
	} else if (strcmp(key, "trial_failure") == 0) {
		copy_value(s->trial_failure, sizeof(s->trial_failure), v);
	} else if (strcmp(key, "security_floor") == 0) {
		return parse_u64(v, &s->security_floor);
	} else if (strcmp(key, "confirmed_version") == 0) {
		copy_value(s->confirmed_version, sizeof(s->confirmed_version), v);
	} else if (strcmp(key, "failed_release") == 0) {
		return set_failed(s, v);
	} else if (strncmp(key, "target.", 7) == 0) {
		return set_target_key(s, key + 7, v, policy);
	} else {
		return -1;
	}
	return 0;
}

/* Reads <dir>/NAME into s; a missing file changes nothing. */
static int load_file(const char *dir, const char *name, struct update_state *s, struct error *e)
{
	char path[4096], *text = NULL, *next = NULL;
	int lineno = 0, rc;
	struct stat st;
	bool policy = strcmp(name, POLICY_FILE) == 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	/* Files in state_dir are ours: a symlink there is refused, not followed. */
	rc = read_text_file_flags(path, 65536, O_NOFOLLOW, &text, e);
	if (rc < 0)
		return rc;
	/* strsep, not strtok: empty lines count, so line numbers stay right. */
	next = text;
	for (char *line = strsep(&next, "\n"); line; line = strsep(&next, "\n")) {
		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *eq = strchr(line, '=');
		if (!eq || (*eq = '\0', set_key(s, line, eq + 1, policy) < 0)) {
			rc = err_set(e, UPD_EXIT_OTHER, EBADMSG, "%s file %s:%d: not understood",
				     policy ? "policy" : "state", path, lineno);
			break;
		}
	}
	free(text);
	return rc;
}

int state_load(const char *dir, struct update_state *s, struct error *e)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = load_file(dir, "state", s, e);
	return rc < 0 ? rc : load_file(dir, POLICY_FILE, s, e);
}

/* One line per value: a newline in an error message (a file name, say) must
 * not split it and make the file unreadable. */
static void put(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=", key);
	for (const char *p = value; *p; p++)
		fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
	fputc('\n', f);
}

/* The policy keys (security floor, highest confirmed version, failed
 * releases, and each system's release identity and security version) live
 * in a file of their own: an updater from before them reads the state file
 * and refuses keys it does not know, and a device that falls back to a slot
 * with such an updater must still be able to run it. That updater never
 * touches this file, so the records survive it. A state_dir without it
 * loads with floor 0 and nothing remembered. */
static void put_policy(FILE *f, const struct update_state *s)
{
	fprintf(f, "# updater policy records: written by updater, do not edit\n");
	put(f, "trial_failure", s->trial_failure);
	fprintf(f, "security_floor=%" PRIu64 "\n", s->security_floor);
	put(f, "confirmed_version", s->confirmed_version);
	for (int i = 0; i < s->n_failed; i++) {
		char v[256];
		snprintf(v, sizeof(v), "%" PRId64 " %s %s", s->failed[i].when, s->failed[i].identity,
			 s->failed[i].version);
		put(f, "failed_release", v);
	}
	for (int i = 0; i < s->n_targets; i++) {
		const struct target_record *t = &s->targets[i];
		char key[64];
		snprintf(key, sizeof(key), "target.%s.identity", t->id);
		put(f, key, t->identity);
		fprintf(f, "target.%s.security_version=%" PRIu64 "\n", t->id, t->security_version);
	}
}

/* Replaces <dir>/NAME with buf unless it already holds exactly that: the
 * policy records change far less often than the state. */
static int write_if_changed(const char *dir, const char *name, const char *buf, size_t len,
			    struct error *e)
{
	char path[4096], *old = NULL;
	struct error ignored = { 0 };
	bool same;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	same = read_text_file_flags(path, 65536, O_NOFOLLOW, &old, &ignored) == 0 &&
	       strlen(old) == len && memcmp(old, buf, len) == 0;
	free(old);
	return same ? 0 : atomic_write_file(path, buf, len, e);
}

static int put_all(char **buf, size_t *len, void (*fn)(FILE *, const struct update_state *),
		   const struct update_state *s, struct error *e)
{
	FILE *f = open_memstream(buf, len);
	if (!f)
		return err_set(e, UPD_EXIT_OTHER, errno, "state: %s", strerror(errno));
	fn(f, s);
	if (fclose(f) != 0) {
		free(*buf);
		*buf = NULL;
		return err_oom(e, "state");
	}
	return 0;
}

static void put_state(FILE *f, const struct update_state *s)
{
	fprintf(f, "# updater state: written by updater, do not edit\nformat=1\n");
	put(f, "state", state_name(s->state));
	put(f, "backend", s->backend);
	put(f, "op_version", s->op_version);
	put(f, "op_target", s->op_target);
	put(f, "op_from", s->op_from);
	/* Only while set: an older updater (the fallback's) refuses keys it does
	 * not know, and a device with nothing staged must stay readable to it. */
	if (s->op_source[0])
		put(f, "op_source", s->op_source);
	put(f, "last_error", s->last_error);
	fprintf(f, "updated=%" PRId64 "\n", s->updated);
	for (int i = 0; i < s->n_targets; i++) {
		const struct target_record *t = &s->targets[i];
		char key[64];
		snprintf(key, sizeof(key), "target.%s.status", t->id);
		put(f, key, target_status_name(t->status));
		snprintf(key, sizeof(key), "target.%s.version", t->id);
		put(f, key, t->version);
		snprintf(key, sizeof(key), "target.%s.digest", t->id);
		put(f, key, t->digest);
		fprintf(f, "target.%s.size=%" PRIu64 "\n", t->id, t->size);
	}
}

/* The policy file first: a cut between the two writes leaves records (a
 * raised floor, a failed release, a new system's identity) that the state's
 * next save, or the reconciliation repeating the step, agrees with. */
int state_save(const char *dir, struct update_state *s, struct error *e)
{
	char path[4096], *buf = NULL;
	size_t len = 0;
	int rc;

	s->updated = (int64_t)time(NULL);
	if ((rc = put_all(&buf, &len, put_policy, s, e)) == 0) {
		rc = write_if_changed(dir, POLICY_FILE, buf, len, e);
		free(buf);
		buf = NULL;
	}
	if (rc == 0 && (rc = put_all(&buf, &len, put_state, s, e)) == 0) {
		snprintf(path, sizeof(path), "%s/state", dir);
		rc = atomic_write_file(path, buf, len, e);
		free(buf);
	}
	if (rc < 0)
		err_prefix(e, "save update state");
	return rc;
}

int state_lock(const char *dir, int *fd, struct error *e)
{
	char path[4096], pid[32];
	snprintf(path, sizeof(path), "%s/lock", dir);
	/* O_NOFOLLOW: a symlink planted as `lock` must not make us truncate its target. */
	int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "lock %s: %s", path, strerror(errno));
	if (flock(f, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		ssize_t n = pread(f, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(f);
		if (saved == EWOULDBLOCK)
			return err_set(e, UPD_EXIT_BUSY, EBUSY,
				       "another updater is running (pid %s holds %s)",
				       pid[0] ? pid : "?", path);
		return err_set(e, UPD_EXIT_OTHER, saved, "lock %s: %s", path, strerror(saved));
	}
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) < 0 || pwrite(f, pid, (size_t)n, 0) != n)
		log_debug("could not record our pid in %s", path);
	*fd = f;
	return 0;
}

void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
