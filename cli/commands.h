/* The table of commands (cli/commands.c): one entry per command, with its
 * usage, its options and its handler; main.c dispatches through it and the
 * help is printed from it. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "../core/engine.h"
#include "../lib/error.h"

/* What a command's words after the options hold. */
struct cmd_args {
	bool json, force;
	const char *source; /* the one positional argument, or NULL */
};

enum cmd_kind {
	CMD_ENGINE, /* opens the engine with engine_flags and runs handler */
	CMD_INIT,   /* `init`: writes the first boot state (engine_init) */
	CMD_HEALTH, /* `health-check`: no lock, no engine beyond a look */
	CMD_BUNDLE, /* `bundle ...`: parses its own arguments, config optional */
};

struct command {
	const char *name;    /* "install", "bundle create" */
	const char *args;    /* usage after the name */
	const char *summary; /* one line */
	const char *options; /* help lines of its options, "" for none */
	unsigned opts;       /* which options it takes (commands.c) */
	int max_args;        /* positional arguments: 0 or 1; -1: it parses its own */
	enum cmd_kind kind;
	unsigned engine_flags; /* CMD_ENGINE: locking and boot environment (engine.h) */
	int (*handler)(struct engine *g, const struct cmd_args *a, struct error *e);
};

/* The command argv starts with (argv[0], or argv[0..1] for "bundle create"),
 * or NULL. */
const struct command *command_find(int argc, char **argv);
/* A word that names a group of commands ("bundle"). */
bool command_is_group(const char *word);
/* --help or -h among argv[1..]: print the command's usage instead of running it. */
bool command_wants_help(int argc, char **argv);
int command_parse(const struct command *c, int argc, char **argv, struct cmd_args *a,
		  struct engine_opts *opts, struct error *e);

void command_usage(FILE *f, const struct command *c);
void command_group_usage(FILE *f, const char *group);
/* One line per command, for `updater --help`. */
void commands_list(FILE *f);
