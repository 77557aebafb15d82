/* The table of commands: what each is called, what it takes, what it does
 * to the device, and its handler. main.c parses the global options and
 * dispatches through it; `updater help`, `COMMAND --help` and `updater
 * --help` print from it, so the help cannot drift from what is parsed. */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"

/* Options a command may take (struct command's opts). */
enum {
	OPT_JSON = 1 << 0,
	OPT_FORCE = 1 << 1,
	OPT_ALLOW_DOWNGRADE = 1 << 2,
	OPT_NO_READBACK = 1 << 3,
	OPT_FULL = 1 << 4,
};

static const struct {
	unsigned bit;
	struct option opt;
} cmd_options[] = {
	{ OPT_JSON, { "json", no_argument, NULL, 'j' } },
	{ OPT_FORCE, { "force", no_argument, NULL, 'f' } },
	{ OPT_ALLOW_DOWNGRADE, { "allow-downgrade", no_argument, NULL, 'd' } },
	{ OPT_NO_READBACK, { "no-readback", no_argument, NULL, 'r' } },
	{ OPT_FULL, { "full", no_argument, NULL, 'F' } },
};
#define N_CMD_OPTIONS (sizeof(cmd_options) / sizeof(cmd_options[0]))

/* ---- handlers ------------------------------------------------------------ */

static int do_status(struct engine *g, const struct cmd_args *a, struct error *e)
{
	struct error re = { 0 };
	if (engine_reconcile(g, &re) < 0)
		log_warn("%s", re.msg); /* status still shows what it can */
	return cli_status(g, a->json, e) == UPD_EXIT_OK ? 0 : -1;
}

static int do_check(struct engine *g, const struct cmd_args *a, struct error *e)
{
	struct release rel;
	int rc = engine_check(g, a->source, &rel, e);

	if (rc == 0 && rel.download_size)
		printf("update available: version %s (%llu bytes to download)\n", rel.version,
		       (unsigned long long)rel.download_size);
	else if (rc == 0)
		printf("update available: version %s\n", rel.version);
	else if (rc == 1)
		printf("%s\n", e->msg);
	return rc;
}

static int do_install(struct engine *g, const struct cmd_args *a, struct error *e)
{
	return engine_install(g, a->source, e);
}

static int do_stage(struct engine *g, const struct cmd_args *a, struct error *e)
{
	return engine_stage(g, a->source, e);
}

static int do_apply_staged(struct engine *g, const struct cmd_args *a, struct error *e)
{
	(void)a;
	return engine_apply_staged(g, e);
}

static int do_mark_good(struct engine *g, const struct cmd_args *a, struct error *e)
{
	(void)a;
	return engine_mark_good(g, e);
}

static int do_rollback(struct engine *g, const struct cmd_args *a, struct error *e)
{
	(void)a;
	return engine_rollback(g, e);
}

static int do_boot(struct engine *g, const struct cmd_args *a, struct error *e)
{
	(void)a;
	return engine_reconcile(g, e);
}

/* ---- the table ------------------------------------------------------------- */

static const struct command commands[] = {
	{ "status", "[--json]", "backend, state, booted and pending system, trial, last error",
	  "  --json             one JSON object on stdout (docs/cli.md)\n", OPT_JSON, 0, CMD_ENGINE,
	  ENGINE_TRY_LOCK | ENGINE_BOOTENV_OPTIONAL, do_status },
	{ "check", "[URL|FILE|REF]", "is a newer release available? (reads only its metadata)", "",
	  0, 1, CMD_ENGINE, ENGINE_TRY_LOCK, do_check },
	{ "install", "[--allow-downgrade] [--force] [--no-readback] [--full] [URL|FILE|REF]",
	  "fetch, verify, write the inactive slot, activate it on trial",
	  "  --allow-downgrade  also an older or the same version (never below the security floor)\n"
	  "  --force            also a release that failed on this device\n"
	  "  --no-readback      do not read what was written back from the medium\n"
	  "  --full             dual-bank: stream the whole bundle (no delta from the device)\n",
	  OPT_ALLOW_DOWNGRADE | OPT_FORCE | OPT_NO_READBACK | OPT_FULL, 1, CMD_ENGINE, ENGINE_NEED_LOCK,
	  do_install },
	{ "stage", "[URL|FILE|COMMIT]",
	  "fetch and verify a release and keep it; the next boot applies it (ostree)", "", 0, 1,
	  CMD_ENGINE, ENGINE_NEED_LOCK, do_stage },
	{ "apply-staged", "", "apply the staged release, on trial (the ramdisk runs it at boot)", "",
	  0, 0, CMD_ENGINE, ENGINE_NEED_LOCK, do_apply_staged },
	{ "mark-good", "", "confirm the booted system (ends its trial)", "", 0, 0, CMD_ENGINE,
	  ENGINE_NEED_LOCK, do_mark_good },
	{ "rollback", "", "boot the other, confirmed system next (or cancel a pending or staged update)", "",
	  0, 0, CMD_ENGINE, ENGINE_NEED_LOCK, do_rollback },
	{ "boot", "", "reconcile the state with the boot state (run once per boot)", "", 0, 0,
	  CMD_ENGINE, ENGINE_NEED_LOCK, do_boot },
	{ "init", "[--force]", "write the first boot state on a factory device",
	  "  --force            replace a complete, valid boot state\n", OPT_FORCE, 0, CMD_INIT, 0,
	  NULL },
	{ "health-check", "", "run the health checks in hooks.dir/health.d (changes nothing)", "",
	  0, 0, CMD_HEALTH, 0, NULL },
	{ "bundle create",
	  "--image IMG --version V --compatible C --key KEY.pem --output OUT.upd\n"
	  "                [--security-version N] [--level N] [--format 1|2|3|4|5] [--frame-size BYTES]\n"
	  "                [--delta-from OLD.upd]",
	  "make and sign a bundle on the build host",
	  "  --image IMG               the root file system image\n"
	  "  --version V               the release's version\n"
	  "  --compatible C            the board it is for (the device's compatible)\n"
	  "  --key KEY.pem             the private key that signs it (Ed25519, ECDSA or RSA)\n"
	  "  --output OUT.upd          where to write the bundle\n"
	  "  --security-version N      the signed security version (default 0)\n"
	  "  --level N                 zstd compression level (default 3; a static delta 19)\n"
	  "  --format 1|2|3|4|5        bundle format (default 3: with a block index; 1 and 2\n"
	  "                            for updaters that predate it; 1: no security version;\n"
	  "                            with --delta-from 5, or 4 for updaters that predate it)\n"
	  "  --frame-size BYTES        image bytes per zstd frame (default 16384; a static\n"
	  "                            delta 4 MiB)\n"
	  "  --delta-from OLD.upd      a static delta from OLD.upd's image to IMG; name it\n"
	  "                            OUT.upd.from-HEX (HEX: `bundle info OLD.upd`'s image id)\n",
	  0, -1, CMD_BUNDLE, 0, NULL },
	{ "bundle info", "FILE|URL", "print a bundle's manifest, check its index and signature", "", 0, -1,
	  CMD_BUNDLE, 0, NULL },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The words of a command's name ("bundle create": 2) that argv starts with. */
static int name_words(const struct command *c, int argc, char **argv)
{
	const char *sp = strchr(c->name, ' ');
	if (!sp)
		return strcmp(argv[0], c->name) == 0 ? 1 : 0;
	size_t n = (size_t)(sp - c->name);
	return argc >= 2 && strlen(argv[0]) == n && strncmp(argv[0], c->name, n) == 0 &&
			       strcmp(argv[1], sp + 1) == 0
		       ? 2
		       : 0;
}

const struct command *command_find(int argc, char **argv)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (name_words(&commands[i], argc, argv))
			return &commands[i];
	return NULL;
}

/* "bundle" alone, or with a word that is no subcommand: its commands' usage. */
bool command_is_group(const char *word)
{
	return strcmp(word, "bundle") == 0;
}

void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: updater [GLOBAL OPTIONS] %s%s%s\n%s\n", c->name, c->args[0] ? " " : "",
		c->args, c->summary);
	if (c->options[0])
		fprintf(f, "\nOptions:\n%s", c->options);
	fprintf(f, "\nGlobal options (before the command): --config=FILE --backend=NAME -v -q "
		   "--progress=MODE (updater --help)\n");
}

void command_group_usage(FILE *f, const char *group)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strncmp(commands[i].name, group, strlen(group)) == 0 &&
		    commands[i].name[strlen(group)] == ' ')
			fprintf(f, "Usage: updater [GLOBAL OPTIONS] %s %s\n", commands[i].name,
				commands[i].args);
}

void commands_list(FILE *f)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *c = &commands[i];
		size_t n = strlen(c->name) + (c->args[0] ? 1 + strlen(c->args) : 0);
		if (n <= 24 && !strchr(c->args, '\n'))
			fprintf(f, "  %s%s%s%*s %s\n", c->name, c->args[0] ? " " : "", c->args,
				(int)(24 - n), "", c->summary);
		else
			fprintf(f, "  %s %s\n  %-24s %s\n", c->name, c->args, "", c->summary);
	}
}

/* --help or -h among a command's words: the caller prints its usage. */
bool command_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* Options may come before or after the positional arguments (getopt's
 * permutation); a command takes only its own options and at most max_args
 * positional arguments. */
int command_parse(const struct command *c, int argc, char **argv, struct cmd_args *a,
		  struct engine_opts *opts, struct error *e)
{
	struct option longopts[N_CMD_OPTIONS + 1] = { 0 };
	size_t n = 0;
	int ch;

	for (size_t i = 0; i < N_CMD_OPTIONS; i++)
		if (c->opts & cmd_options[i].bit)
			longopts[n++] = cmd_options[i].opt;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': a->json = true; break;
		case 'f': a->force = true, opts->force = true; break;
		case 'd': opts->allow_downgrade = true; break;
		case 'r': opts->verify_readback = false; break;
		case 'F': opts->full_install = true; break;
		default:
			return err_set(e, UPD_EXIT_USAGE, EINVAL,
				       "%s: unknown option '%s' (see updater %s --help)", c->name,
				       argv[optind - 1], c->name);
		}
	}
	if (optind < argc && c->max_args > 0)
		a->source = argv[optind++];
	if (optind < argc)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "%s: unexpected argument '%s' (see updater %s --help)", c->name,
			       argv[optind], c->name);
	return 0;
}
