/* The persisted update state, in <state_dir>/state (key=value text, replaced
 * atomically at every transition), and the lock that serialises updaters.
 * state_dir must live on storage both systems see (a data partition), so the
 * updater of either slot knows what the other did. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

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

struct target_record {
	char id[32];
	char version[64];
	char digest[72];   /* sha256 hex of the image, or a commit checksum */
	uint64_t size;
	enum target_status status;
};

struct update_state {
	enum upd_state state;
	char backend[16];
	char op_version[64]; /* the update in progress / last one */
	char op_target[32];
	char op_from[32];    /* the system that ran the install */
	char last_error[512];
	int64_t updated;     /* unix time of the last save */
	struct target_record targets[STATE_MAX_TARGETS];
	int n_targets;
};

const char *state_name(enum upd_state s);
const char *target_status_name(enum target_status s);
bool state_in_progress(enum upd_state s); /* FETCH..POST_INSTALL */

/* A missing file yields ST_IDLE with no records; a malformed one is an error. */
int state_load(const char *dir, struct update_state *s, struct error *e);
int state_save(const char *dir, struct update_state *s, struct error *e);

/* Finds the record for id, creating an empty one when create is set. */
struct target_record *state_target(struct update_state *s, const char *id, bool create);

/* Forgets the record for id (a system that no longer exists). */
void state_target_remove(struct update_state *s, const char *id);

/* Takes <state_dir>/lock (flock, non-blocking). -EBUSY (UPD_EXIT_BUSY) when
 * another updater holds it; the message names its pid. *fd to state_unlock. */
int state_lock(const char *dir, int *fd, struct error *e);
void state_unlock(int fd);
