/* updater: command line. Parses options, loads the config, opens the engine,
 * runs one command and maps its result to the documented exit code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/config.h"
#include "../core/backend.h"
#include "cli.h"
#include "commands.h"
#include "../core/engine.h"
#include "../lib/error.h"
#include "../lib/log.h"
#include "../lib/progress.h"

#define UPDATER_VERSION "0.1.0"

static const char usage_head[] =
	"               [--progress=auto|bar|json|none] COMMAND [ARGS]\n"
	"       updater help [COMMAND]    updater COMMAND --help\n"
	"\n"
	"commands:\n";

static const char usage_tail[] =
	"\n"
	"exit codes:\n"
	"  0 ok   1 other error   2 usage or config   3 verification (signature, hash,\n"
	"  corrupt payload, compatible, downgrade, security floor)   4 download\n"
	"  5 no space / too large   6 hook failed or refused   7 busy or not allowed now (lock held,\n"
	"  trial pending, release failed on this device, rollback refused)\n"
	"  10 check: no newer release\n";

static void usage(void)
{
	printf("usage: updater [--backend=%s] [--config=FILE] [-v|-q]\n", backend_all_names());
	fputs(usage_head, stdout);
	commands_list(stdout);
	fputs(usage_tail, stdout);
}

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
		case 'h': usage(); return 1;
		case 'V': printf("updater %s (backends: %s)\n", UPDATER_VERSION, backend_list()); return 1;
		default: return err_set(e, UPD_EXIT_USAGE, EINVAL, "bad option (see updater --help)");
		}
	}
	if (gl->backend && !backend_find(gl->backend))
		return backend_unknown(gl->backend, e);
	progress_init(pm);
	return 0;
}

static int code_of(int rc, const struct error *e)
{
	if (rc >= 0)
		return UPD_EXIT_OK;
	return e->exit ? e->exit : UPD_EXIT_OTHER;
}

static int run_engine_cmd(const struct command *c, const struct config *cfg,
			  const struct cli_global *gl, const struct cmd_args *a, struct error *e)
{
	struct engine *g = NULL;
	int rc = engine_open(&g, cfg, gl->backend, c->engine_flags, &gl->opts, e);

	if (rc == 0)
		rc = c->handler(g, a, e);
	engine_close(g);
	return rc == 1 ? UPD_EXIT_UPTODATE : code_of(rc, e);
}

/* `updater help [COMMAND...]`: the whole usage, or one command's. */
static int help(int argc, char **argv, struct error *e)
{
	const struct command *c = argc > 1 ? command_find(argc - 1, argv + 1) : NULL;

	if (argc <= 1) {
		usage();
		return UPD_EXIT_OK;
	}
	if (c) {
		command_usage(stdout, c);
		return UPD_EXIT_OK;
	}
	if (command_is_group(argv[1])) {
		command_group_usage(stdout, argv[1]);
		return UPD_EXIT_OK;
	}
	return err_set(e, UPD_EXIT_USAGE, EINVAL, "help: unknown command '%s' (see updater --help)",
		       argv[1]),
	       UPD_EXIT_USAGE;
}

static int unknown(int argc, char **argv, struct error *e)
{
	if (command_is_group(argv[0])) {
		if (command_wants_help(argc, argv) || argc == 1) {
			command_group_usage(argc == 1 ? stderr : stdout, argv[0]);
			if (argc > 1)
				return UPD_EXIT_OK;
		}
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: %s subcommand (see updater help %s)",
			       argv[0], argc == 1 ? "missing" : "unknown", argv[0]),
		       UPD_EXIT_USAGE;
	}
	return err_set(e, UPD_EXIT_USAGE, EINVAL, "unknown command '%s' (see updater --help)",
		       argv[0]),
	       UPD_EXIT_USAGE;
}

static int run_command(const struct command *c, int argc, char **argv, struct cli_global *gl,
		       struct error *e)
{
	struct cmd_args a = { 0 };
	struct config cfg;
	int rc;

	if (c->kind == CMD_BUNDLE)
		return cli_bundle(argc, argv, gl, e);
	if (command_parse(c, argc, argv, &a, &gl->opts, e) < 0)
		return UPD_EXIT_USAGE;
	if (config_load(&cfg, gl->config_path, e) < 0)
		return code_of(-1, e);
	if (config_check_files(&cfg, e) < 0)
		rc = code_of(-1, e);
	else if (c->kind == CMD_INIT)
		rc = code_of(engine_init(&cfg, gl->backend, a.force, e), e);
	else if (c->kind == CMD_HEALTH)
		rc = cli_health_check(&cfg, gl, e);
	else
		rc = run_engine_cmd(c, &cfg, gl, &a, e);
	config_free(&cfg);
	return rc;
}

static int run(int argc, char **argv, struct error *e)
{
	struct cli_global gl = { .config_path = CONFIG_DEFAULT_PATH,
				 .opts = { .verify_readback = true } };
	const struct command *c;
	int rc = parse_global(argc, argv, &gl, e);

	if (rc != 0)
		return rc < 0 ? UPD_EXIT_USAGE : UPD_EXIT_OK;
	if (optind >= argc)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "missing command (see updater --help)"),
		       UPD_EXIT_USAGE;
	argv += optind;
	argc -= optind;
	if (strcmp(argv[0], "help") == 0)
		return help(argc, argv, e);
	if (!(c = command_find(argc, argv)))
		return unknown(argc, argv, e);
	/* Help needs neither a config nor a device. */
	if (command_wants_help(argc, argv)) {
		command_usage(stdout, c);
		return UPD_EXIT_OK;
	}
	return run_command(c, argc, argv, &gl, e);
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

/* Leaves without running the libraries' exit-time destructors (GnuTLS,
 * which libostree loads, tears down its global state even in a process that
 * never used it): they only free memory the kernel reclaims, and touching
 * those pages once more raised the peak memory of an ostree install by
 * 0.9 MiB (bench/report.py's series, 1.0 -> 1.1: 21.8 -> 20.9 MiB). Everything
 * the updater holds is closed and synced before this. Sanitizer builds exit
 * normally: LeakSanitizer checks at exit. */
static int leave(int code)
{
#if defined(__SANITIZE_ADDRESS__)
	return code;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return code;
#endif
#endif
	fflush(NULL);
	_exit(code);
}

int main(int argc, char **argv)
{
	struct error e = {0};

	if (argc >= 3 && strcmp(argv[1], "__helper") == 0)
		return leave(run_helper(argc, argv));
	int code = run(argc, argv, &e);

	if (code != UPD_EXIT_OK && code != UPD_EXIT_UPTODATE && err_isset(&e))
		fprintf(stderr, "updater: %s\n", e.msg);
	return leave(code);
}
