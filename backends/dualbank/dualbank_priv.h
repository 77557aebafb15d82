/* The dual-bank backend's shared state (dualbank.c: the backend's steps;
 * install.c: the install paths; static_delta.c: the static delta's checks). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../core/backend.h"
#include "../../bundle/bundle.h"
#include "../../bundle/index.h"
#include "../../lib/source.h"
#include "config_keys.h"
#include "slot_blocks.h"
#include "static_delta.h"

struct dualbank {
	struct updater_ctx *u;
	const struct config *cfg;
	const struct dualbank_config *dc; /* cfg's dualbank section */
	struct bundle_head head;  /* of the bundle fetched last */
	bool have_head;
	struct bundle_index index; /* format 3: read and checked by verify() */
	char source[4096];
	int target_fd;            /* opened for writing by verify() */
	/* The bundle fetched last is a static delta named by the caller
	 * (NAME.upd.from-HEX, or any format-4 bundle): it applies alone. */
	bool delta_by_name;
	/* The static delta verify() found usable for the full bundle, or the
	 * delta by name (static_delta.h); sd.usable says which. */
	struct static_delta sd;
	/* The booted slot's image as booted_image hashed it in this run (a slot
	 * this updater did not write): the static delta's source check uses it.
	 * len 0: not hashed in this run. */
	struct source_digest booted_hashed;
	/* The target slot's recorded block hashes, mapped by install() before
	 * it removes the record (map NULL: none). */
	struct slot_blocks target_rec;
};

/* The bundle's location with the config's transfer settings. */
void db_source_opts(const struct dualbank *d, const char *location, struct source_opts *o);
int db_booted(void *priv, struct system_info *out, struct error *e);
/* Opens the target slot for writing (d->target_fd) and checks the image fits. */
int db_open_target(struct dualbank *d, const struct system_info *t, struct error *e);
/* Format 3's index of the full bundle, read and checked against its manifest. */
int db_verify_index(struct dualbank *d, struct error *e);

/* ---- install.c ---- */
/* Looks for the static delta of the full bundle fetched last for the booted
 * image, and checks it (static_delta_find): true when it is usable (d->sd);
 * false after an info line (there is none) or a warning naming the cause. */
bool db_static_delta_find(struct dualbank *d);
/* The checks of a delta by name (d->head): a device that does not hold its
 * source fails verification (exit 3). */
int db_verify_named_delta(struct dualbank *d, struct error *e);
/* The install paths: the static delta, the dynamic delta, the full stream. */
int db_install(void *priv, struct system_info *t, struct error *e);
