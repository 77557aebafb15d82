/* The single-copy backend's shared state (singlecopy.c: the backend's steps;
 * stage.c: the bundle kept in state_dir; root.c: writing the root). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../bundle/bundle.h"
#include "../../core/backend.h"
#include "config_keys.h"

/* The systems: the one root partition, and the ramdisk's recovery mode,
 * which the boot state names while the root is not a system to boot (being
 * rewritten, or failed its trial). */
#define SC_ROOT "root"
#define SC_RECOVERY "recovery"

/* In state_dir: the bundle kept by stage (and its temp file while it comes),
 * and the marker that the root is being rewritten. */
#define SC_BUNDLE "singlecopy.bundle"
#define SC_BUNDLE_TMP SC_BUNDLE ".tmp"
#define SC_REWRITE "singlecopy.rewrite"

struct singlecopy {
	struct updater_ctx *u;
	const struct config *cfg;
	const struct singlecopy_config *sc;
	struct bundle_head head; /* of the bundle fetched (or loaded) last */
	bool have_head;
	char source[4096];       /* where head came from */
	bool kept;               /* head is the kept copy's (download or load_staged) */
	bool staged_loaded;      /* load_staged checked it: install may write */
	bool activated;          /* the new root boots next on trial */
};

/* <state_dir>/name. */
void sc_path(const struct singlecopy *d, const char *name, char *out, size_t size);
/* Drops the head read last. */
void sc_head_drop(struct singlecopy *d);
/* Reads the head of the bundle at location into d->head. */
int sc_head_read(struct singlecopy *d, const char *location, struct error *e);
/* The head's signature, and that its image fits the root at root_path. */
int sc_check_release(struct singlecopy *d, const char *root_path, struct error *e);

/* ---- stage.c ---- */
int sc_download(void *priv, struct error *e);
int sc_stage(void *priv, char *token, size_t size, struct error *e);
int sc_load_staged(void *priv, const char *token, struct release *out, struct error *e);
int sc_unstage(void *priv, struct error *e);
/* Removes the kept bundle (staged, or the copy of an install in recovery mode). */
int sc_drop_kept(struct singlecopy *d, struct error *e);
/* Removes state_dir's file name, if there (and fsyncs the directory). */
int sc_remove(struct singlecopy *d, const char *name, struct error *e);

/* ---- root.c ---- */
/* Whether the device dev (major:minor) is mounted, as /proc/self/mountinfo
 * (text) lists it: its third field. */
bool sc_mountinfo_has(const char *text, unsigned major, unsigned minor);
int sc_install(void *priv, struct system_info *t, struct error *e);
