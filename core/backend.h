/* The one interface between the core and an update strategy. The core owns the
 * state machine, the state store, hooks, version and compatibility policy and
 * the trial bookkeeping; a backend only does the work of each step. The core
 * never includes a backend's header: backends are listed in core/backends.c. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../config/config.h"
#include "../bootctl/bootctl.h"
#include "../lib/error.h"
#include "state.h"

/* One installable system: a slot ("A", "B") or a deployment. */
struct system_info {
	char id[32];
	char version[64];  /* "" when the backend cannot tell; the core then asks
			    * its records and the version_file */
	char path[512];    /* device, file or directory that holds it */
	/* A recovery system (single-copy's ramdisk recovery mode), not a release:
	 * `rollback` may always boot it (no record, no security version). */
	bool recovery;
};

/* What a source offers, as read from its metadata (bundle manifest, commit). */
struct release {
	char version[64];
	/* The board the release was built for, from its signed metadata. The core
	 * refuses a release whose compatible differs from the config's, and one
	 * that carries none unless compatible_optional is set (a backend whose
	 * config explicitly accepts unbound releases: ostree.require_compatible). */
	char compatible[128];
	bool compatible_optional;
	/* Signed security version (0 when the release carries none): the core
	 * refuses anything below the device's floor, whatever the flags. */
	uint64_t security_version;
	char digest[72];      /* sha256 of the image, or commit checksum */
	/* What identifies this exact release for the failed-release records: the
	 * sha256 of a bundle's signed manifest, or the ostree commit checksum. */
	char identity[72];
	uint64_t download_size;
	uint64_t install_size;
	char origin[256];     /* where it comes from (URL, file, ref), for messages */
};

/* What the core hands a backend. */
struct updater_ctx {
	const struct config *cfg;
	struct bootctl *boot;     /* NULL only for commands that do not need it */
	bool verify_readback;     /* read what was written back from the medium */
	bool full_install;        /* dual-bank: stream the whole bundle, no delta */
	/* Set by the core's install steps before verify() (install only, not
	 * with full_install): the booted system's image id (booted_image, 64
	 * hex digits), "" when not known. Dual-bank names its static delta
	 * by it. */
	char booted_image[65];
	/* Set by a backend's install(), may stay "": what it moved ("34.9 MiB
	 * downloaded, ..."), for the install's last log line. */
	char install_summary[160];
};

struct backend_ops {
	const char *name;
	/* On failure *priv is NULL and there is nothing to close. */
	int (*open)(struct updater_ctx *u, void **priv, struct error *e);
	void (*close)(void *priv);
	/* The running system, from the kernel command line. */
	int (*booted)(void *priv, struct system_info *out, struct error *e);
	/* The system a normal (non-fallback) boot starts next: dual-bank's boot_slot. */
	int (*next_boot)(void *priv, char *id, size_t size, struct error *e);
	/* Reads only the source's metadata; nothing verified yet. source NULL means
	 * the configured default (server.url, the configured ref...). */
	int (*fetch)(void *priv, const char *source, struct release *out, struct error *e);
	/* Bulk download before the verify step (ostree pulls here); may be NULL
	 * for backends that stream during install(). Not called by `check`. */
	int (*download)(void *priv, struct error *e);
	/* Verifies the metadata fetched last (signatures) and that it fits *target. */
	int (*verify)(void *priv, const struct system_info *target, struct error *e);
	/* Where an install writes: never the booted system. */
	int (*target)(void *priv, struct system_info *out, struct error *e);
	/* What a manual rollback boots: the other installed system. */
	int (*previous)(void *priv, struct system_info *out, struct error *e);
	/* Writes the release fetched last to target and verifies what was written.
	 * A backend whose target only gets its name once written (an ostree
	 * deployment) updates target->id and ->path. */
	int (*install)(void *priv, struct system_info *target, struct error *e);
	/* Makes target the system booted next, on trial. Backends never write the
	 * boot state themselves: they call boot control's verbs (bootctl_set_next
	 * and the others, bootctl/bootctl.h) with their system ids. */
	int (*activate)(void *priv, const struct system_info *target, struct error *e);
	/* After U-Boot fell back (rollback=1): make the running system the default again. */
	int (*finish_fallback)(void *priv, const struct system_info *booted, struct error *e);
	/* Manual rollback: boot `to` next, not on trial. */
	int (*rollback)(void *priv, const struct system_info *to, struct error *e);
	/* Brings the boot state in line with the backend's next boot where the two
	 * can disagree (ostree: the deployment order decides the next boot, while
	 * boot_slot names the deployment a trial is about; a command that writes
	 * one and then the other can be cut between them). Called while
	 * reconciling, once a fallback and an interrupted install are handled,
	 * with the boot state read (updated in place when the backend rewrites
	 * it through boot control), the next boot, the running system and the
	 * updater's records (which systems it wrote, which are confirmed). May be
	 * NULL: dual-bank's next boot is boot_slot itself. */
	int (*align_boot)(void *priv, const struct system_info *booted,
			  const struct update_state *records, struct bootstate *bs, const char *next,
			  struct error *e);
	/* The id of the booted system's image, 64 hex digits of its SHA-256, also
	 * when the updater did not install it (a factory image); rec is the
	 * updater's record of the booted system, or NULL. May be NULL: the
	 * backend has no such id (status then shows none). */
	int (*booted_image)(void *priv, const struct system_info *booted,
			    const struct target_record *rec, char hex[65], struct error *e);
	/* init: the booted system's image id (as booted_image's, read from the
	 * system itself) and its size in bytes, recorded by the core as if the updater had installed
	 * it, and whatever the backend keeps of an image it installed (dual-bank:
	 * the block hashes a delta install reads the active slot by). May be
	 * NULL. A failure costs the first update a read of the running system:
	 * init warns and goes on. */
	int (*adopt_booted)(void *priv, const struct system_info *booted, char hex[65],
			    uint64_t *size, struct error *e);
	/* Keeps the release fetched and verified last for apply-staged (ostree: a
	 * ref on the commit, which no prune removes) and writes into token what
	 * finds it again (the state file records it). NULL: the backend cannot
	 * stage; `stage` exits 2. */
	int (*stage)(void *priv, char *token, size_t size, struct error *e);
	/* apply-staged, before anything is written: checks what stage kept under
	 * token again, as fetch and download would have (what changed since is
	 * refused, exit 3), and makes it the release fetched last for verify,
	 * install and activate. A backend with stage has it. */
	int (*load_staged)(void *priv, const char *token, struct release *out, struct error *e);
	/* Drops what stage kept (applied, refused or cancelled); nothing kept is
	 * no error. May be NULL. */
	int (*unstage)(void *priv, struct error *e);
	/* Whether `install` may write now, on the running system booted: 0, or
	 * the refusal (single-copy: its one root only from recovery mode; else
	 * `stage`, applied by the ramdisk). May be NULL: always. */
	int (*can_install)(void *priv, const struct system_info *booted, struct error *e);
	/* Called after mark-good (ostree prunes old deployments). May be NULL. */
	int (*confirm)(void *priv, struct error *e);
	/* Whether the system id still exists (ostree: a deployment not yet
	 * pruned), so status lists only those (and failed ones). May be NULL:
	 * all of them do. */
	bool (*has_system)(void *priv, const char *id);
	/* A child process of the backend's own (`updater __helper NAME ARGS`):
	 * work it must be able to kill, such as a library call that can hang.
	 * Returns the exit code. May be NULL. */
	int (*helper)(int argc, char **argv);
};

const struct backend_ops *backend_find(const char *name);
/* Comma-separated names of the backends compiled in. */
const char *backend_list(void);
/* '|'-separated names of every backend of the project, compiled in or not
 * (the usage's --backend=). */
const char *backend_all_names(void);
/* Comma-separated names of the backends compiled in that can stage. */
const char *backend_stage_list(void);
/* The backend used when neither --backend nor the config names one: dualbank,
 * or the first one compiled in when the build has no dualbank. */
const char *backend_default(void);
/* Sets the usage error (exit 2) for a name backend_find() did not find: "not
 * compiled into this build" for a backend left out by WITH_*=0, else "not
 * known". Returns a negative errno. */
int backend_unknown(const char *name, struct error *e);
