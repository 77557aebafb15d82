/* `updater health-check`: runs the executables in <hooks.dir>/health.d with
 * the rules and the timeout of the install hooks (hooks/hooks.c), and changes
 * nothing. What follows from the result (mark the system good, or roll back
 * and reboot) is the policy of the health service's script (libexec/health). */
#include <errno.h>
#include <stddef.h>

#include "../hooks/hooks.h"
#include "cli.h"
#include "../lib/log.h"

int cli_health_check(const struct config *cfg, const struct cli_global *gl, struct error *e)
{
	struct engine *g = NULL;
	struct engine_status st;
	int rc;

	/* Only to tell the checks what runs (UPDATER_SLOT, UPDATER_VERSION): no
	 * lock, and the engine is closed before the first check starts. st keeps
	 * copies of what the checks get (backend names are static strings). */
	rc = engine_open(&g, cfg, gl->backend, 0, &gl->opts, e);
	if (rc == 0)
		rc = engine_status(g, &st, e);
	engine_close(g);
	if (rc < 0)
		return e->exit ? e->exit : UPD_EXIT_OTHER;
	if (!cfg->hooks.dir) {
		log_info("health-check: hooks.dir is not set: no health checks");
		return UPD_EXIT_OK;
	}
	const struct hook_env he = { .backend = st.backend, .slot = st.booted.id,
				     .version = st.booted.version, .target = st.booted.path };
	if (hooks_run(cfg->hooks.dir, "health", &he, cfg->hooks.timeout, e) < 0)
		return e->exit ? e->exit : UPD_EXIT_HOOK;
	log_info("health-check: the checks in %s/health.d passed", cfg->hooks.dir);
	return UPD_EXIT_OK;
}
