/* updater: command line. Parses options, loads the config, opens the engine,
 * runs one command and maps its result to the documented exit code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "backend.h"
#include "cli.h"
#include "engine.h"
#include "error.h"
#include "log.h"
#include "progress.h"

#define UPDATER_VERSION "0.1.0"

static const char usage_text[] =
	"usage: updater [--backend=dualbank|ostree] [--config=FILE] [-v|-q]\n"
	"               [--progress=auto|bar|json|none] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  status [--json]          backend, state, booted and pending system, trial, last error\n"
	"  check [URL]              is a newer release available? (reads only its manifest)\n"
	"  install [--allow-downgrade] [--force] [--no-readback] [URL|FILE]\n"
	"                           fetch, verify, write the inactive slot, activate it on trial;\n"
	"                           --force: also a release that failed on this device\n"
	"                           (nothing overrides the security floor)\n"
	"  mark-good                confirm the booted system (ends its trial)\n"
	"  rollback                 boot the other, verified system next (or cancel a pending one)\n"
	"  boot                     reconcile state with the boot state (run once per boot)\n"
	"  init [--force]           write the first boot state on a factory device\n"
	"  health-check             run the health checks in hooks.dir/health.d (changes nothing)\n"
	"  bundle create --image IMG --version V --compatible C --key KEY.pem --output OUT.upd\n"
	"                [--security-version N] [--level N]\n"
	"  bundle info FILE|URL     print a bundle's manifest and check its signature\n"
	"\n"
	"exit codes:\n"
	"  0 ok   1 other error   2 usage or config   3 verification (signature, hash,\n"
	"  corrupt payload, compatible, downgrade, security floor)   4 download\n"
	"  5 no space / too large   6 hook failed or refused   7 busy or not allowed now (lock held,\n"
	"  trial pending, release failed on this device, rollback refused)\n"
	"  10 check: no newer release\n";

struct cmd_args {
	bool json, force;
	const char *source;
};

static int parse_global(int argc, char **argv, struct cli_global *gl, struct error *e)
{
	static const struct option opts[] = {
		{ "backend", required_argument, NULL, 'b' }, { "config", required_argument, NULL, 'c' },
		{ "progress", required_argument, NULL, 'p' }, { "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },          { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },        { NULL, 0, NULL, 0 },
	};
	enum progress_mode pm = PROGRESS_AUTO;
	int c;

	while ((c = getopt_long(argc, argv, "+vqhc:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': gl->backend = optarg; break;
		case 'c': gl->config_path = optarg; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'q': log_set_level(LOG_LVL_WARN); break;
		case 'p':
			if (progress_mode_parse(optarg, &pm) < 0)
				return err_set(e, UPD_EXIT_USAGE, EINVAL,
					       "--progress=%s: expected auto, bar, json or none", optarg);
			break;
		case 'h': fputs(usage_text, stdout); return 1;
		case 'V': printf("updater %s (backends: %s)\n", UPDATER_VERSION, backend_list()); return 1;
		default: return err_set(e, UPD_EXIT_USAGE, EINVAL, "bad option (see updater --help)");
		}
	}
	if (gl->backend && !backend_find(gl->backend))
		return backend_unknown(gl->backend, e);
	progress_init(pm);
	return 0;
}

/* Options after the command name. */
static int parse_cmd(int argc, char **argv, struct cli_global *gl, struct cmd_args *a,
		     struct error *e)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },           { "force", no_argument, NULL, 'f' },
		{ "allow-downgrade", no_argument, NULL, 'd' }, { "no-readback", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': a->json = true; break;
		case 'f': a->force = true, gl->opts.force = true; break;
		case 'd': gl->opts.allow_downgrade = true; break;
		case 'r': gl->opts.verify_readback = false; break;
		default: return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: bad option (see updater --help)", argv[0]);
		}
	}
	if (optind < argc)
		a->source = argv[optind++];
	if (optind < argc)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: unexpected argument '%s'", argv[0], argv[optind]);
	return 0;
}

static unsigned lock_flags(const char *cmd)
{
	if (strcmp(cmd, "status") == 0)
		return ENGINE_TRY_LOCK | ENGINE_BOOTENV_OPTIONAL;
	if (strcmp(cmd, "check") == 0)
		return ENGINE_TRY_LOCK;
	return ENGINE_NEED_LOCK;
}

static int code_of(int rc, const struct error *e)
{
	if (rc >= 0)
		return UPD_EXIT_OK;
	return e->exit ? e->exit : UPD_EXIT_OTHER;
}

static int run_engine_cmd(const char *cmd, const struct config *cfg, const struct cli_global *gl,
			  const struct cmd_args *a, struct error *e)
{
	struct engine *g = NULL;
	struct release rel;
	int rc = engine_open(&g, cfg, gl->backend, lock_flags(cmd), &gl->opts, e);

	if (rc == 0 && strcmp(cmd, "status") == 0) {
		struct error re = {0};
		if (engine_reconcile(g, &re) < 0)
			log_warn("%s", re.msg); /* status still shows what it can */
		rc = cli_status(g, a->json, e) == UPD_EXIT_OK ? 0 : -1;
	} else if (rc == 0 && strcmp(cmd, "boot") == 0) {
		rc = engine_reconcile(g, e);
	} else if (rc == 0 && strcmp(cmd, "install") == 0) {
		rc = engine_install(g, a->source, e);
	} else if (rc == 0 && strcmp(cmd, "mark-good") == 0) {
		rc = engine_mark_good(g, e);
	} else if (rc == 0 && strcmp(cmd, "rollback") == 0) {
		rc = engine_rollback(g, e);
	} else if (rc == 0 && strcmp(cmd, "check") == 0) {
		rc = engine_check(g, a->source, &rel, e);
		if (rc == 0 && rel.download_size)
			printf("update available: version %s (%llu bytes to download)\n", rel.version,
			       (unsigned long long)rel.download_size);
		else if (rc == 0)
			printf("update available: version %s\n", rel.version);
		else if (rc == 1)
			printf("%s\n", e->msg);
	}
	engine_close(g);
	return rc == 1 ? UPD_EXIT_UPTODATE : code_of(rc, e);
}

static bool known_command(const char *cmd)
{
	static const char *const cmds[] = { "status", "check", "install", "mark-good",
					    "rollback", "boot", "init", "health-check" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i]) == 0)
			return true;
	return false;
}

static int run(int argc, char **argv, struct error *e)
{
	struct cli_global gl = { .config_path = CONFIG_DEFAULT_PATH,
				 .opts = { .verify_readback = true } };
	struct cmd_args a = {0};
	struct config cfg;
	int rc = parse_global(argc, argv, &gl, e);

	if (rc != 0)
		return rc < 0 ? UPD_EXIT_USAGE : UPD_EXIT_OK;
	if (optind >= argc)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "missing command (see updater --help)"),
		       UPD_EXIT_USAGE;
	argv += optind;
	argc -= optind;
	if (strcmp(argv[0], "bundle") == 0)
		return cli_bundle(argc, argv, &gl, e);
	if (!known_command(argv[0]))
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "unknown command '%s' (see updater --help)",
			       argv[0]),
		       UPD_EXIT_USAGE;
	if (parse_cmd(argc, argv, &gl, &a, e) < 0)
		return UPD_EXIT_USAGE;
	if (config_load(&cfg, gl.config_path, e) < 0)
		return code_of(-1, e);
	if (config_check_files(&cfg, e) < 0) {
		config_free(&cfg);
		return code_of(-1, e);
	}
	if (strcmp(argv[0], "init") == 0)
		rc = code_of(engine_init(&cfg, gl.backend, a.force, e), e);
	else if (strcmp(argv[0], "health-check") == 0)
		rc = cli_health_check(&cfg, &gl, a.source, e);
	else
		rc = run_engine_cmd(argv[0], &cfg, &gl, &a, e);
	config_free(&cfg);
	return rc;
}

/* `updater __helper BACKEND ARGS`: a backend's child process, started by
 * the backend itself; not a command for users. */
static int run_helper(int argc, char **argv)
{
	const struct backend_ops *ops = backend_find(argv[2]);

	if (!ops || !ops->helper) {
		fprintf(stderr, "updater: __helper %s: no such backend helper\n", argv[2]);
		return UPD_EXIT_USAGE;
	}
	return ops->helper(argc - 3, argv + 3);
}

int main(int argc, char **argv)
{
	struct error e = {0};

	if (argc >= 3 && strcmp(argv[1], "__helper") == 0)
		return run_helper(argc, argv);
	int code = run(argc, argv, &e);

	if (code != UPD_EXIT_OK && code != UPD_EXIT_UPTODATE && err_isset(&e))
		fprintf(stderr, "updater: %s\n", e.msg);
	return code;
}
