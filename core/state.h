/* The persisted update state, in <state_dir>/state (key=value text, replaced
 * atomically at every transition), and the lock that serialises updaters.
 * state_dir must live on storage both systems see (a data partition), so the
 * updater of either slot knows what the other did. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../lib/error.h"

enum upd_state {
	ST_IDLE,
	ST_FETCH,
	ST_VERIFY,
	ST_PRE_INSTALL,
	ST_INSTALL,
	ST_POST_INSTALL,
	ST_ACTIVATED,  /* written and verified; booted next, on trial */
	ST_TRIAL,      /* booted into the new system, not yet confirmed */
	ST_COMMITTED,
	ST_FAILED,     /* failed before activation: nothing changed */
	ST_ROLLED_BACK,
	/* `stage` verified a release and the backend keeps it; the boot state
	 * asks the ramdisk to apply it (apply_staged=1). */
	ST_STAGED,
	ST__COUNT
};

/* What the updater knows about one installable system (a slot or a deployment). */
enum target_status {
	TS_EMPTY,      /* nothing recorded: factory content or unknown */
	TS_INCOMPLETE, /* being written, or writing was interrupted: never bootable */
	TS_VERIFIED,   /* written and read back; sha256 matched */
	TS_GOOD,       /* booted and confirmed (or the system that ran an install) */
	TS_BAD,        /* failed its trial or a post-install hook */
	TS__COUNT
};

#define STATE_MAX_TARGETS 8
/* Failed releases remembered; the oldest is forgotten first. */
#define STATE_MAX_FAILED 16

struct target_record {
	char id[32];
	char version[64];
	char digest[72];   /* sha256 hex of the image, or a commit checksum */
	/* The release's identity (struct release) and signed security version:
	 * mark-good raises the floor from it, a failed trial records it. A system
	 * the updater did not install has neither (security version 0). */
	char identity[72];
	uint64_t security_version;
	uint64_t size;
	enum target_status status;
};

/* A release that failed its trial on this device: `check` no longer offers
 * it and `install` refuses it without --force. */
struct failed_release {
	char identity[72];
	char version[64];
	int64_t when;      /* unix time it was recorded */
};

struct update_state {
	enum upd_state state;
	char backend[16];
	char op_version[64]; /* the update in progress / last one */
	char op_target[32];
	char op_from[32];    /* the system that ran the install */
	/* What the backend keeps for apply-staged (its stage op's token: an ostree
	 * commit and its ref), while it keeps it: set by `stage`, cleared once
	 * the backend dropped it (applied, refused, cancelled). */
	char op_source[192];
	char last_error[512];
	int64_t updated;     /* unix time of the last save */
	/* Why the last trial failed (fallback or rollback during the trial): kept
	 * until the next successful install, whatever last_error says since. */
	char trial_failure[512];
	/* The highest security version and version ever confirmed (mark-good) on
	 * this device: never lowered, by a rollback or a fallback either. */
	uint64_t security_floor;
	char confirmed_version[64];
	struct target_record targets[STATE_MAX_TARGETS];
	int n_targets;
	struct failed_release failed[STATE_MAX_FAILED]; /* oldest first */
	int n_failed;
};

const char *state_name(enum upd_state s);
const char *target_status_name(enum target_status s);
bool state_in_progress(enum upd_state s); /* FETCH..POST_INSTALL */

/* A missing file yields ST_IDLE with no records; a malformed one is an error. */
int state_load(const char *dir, struct update_state *s, struct error *e);
int state_save(const char *dir, struct update_state *s, struct error *e);

/* Finds the record for id, creating an empty one when create is set. */
struct target_record *state_target(struct update_state *s, const char *id, bool create);
/* The record for id, or NULL: a read-only look (a backend's align_boot). */
const struct target_record *state_target_find(const struct update_state *s, const char *id);

/* Forgets the record for id (a system that no longer exists). */
void state_target_remove(struct update_state *s, const char *id);

/* Remembers a failed release (once per identity: a repeat keeps the first
 * record); a full list forgets its oldest entry. */
void state_failed_add(struct update_state *s, const char *identity, const char *version,
		      int64_t when);
/* The record of a failed release with this identity, or NULL ("" never matches). */
const struct failed_release *state_failed_find(const struct update_state *s,
					       const char *identity);

/* when as ISO 8601 UTC ("2026-12-03T14:00:00Z"), for messages and status. */
void state_time_iso(int64_t when, char *buf, size_t size);

/* Takes <state_dir>/lock (flock, non-blocking). -EBUSY (UPD_EXIT_BUSY) when
 * another updater holds it; the message names its pid. *fd to state_unlock. */
int state_lock(const char *dir, int *fd, struct error *e);
void state_unlock(int fd);
