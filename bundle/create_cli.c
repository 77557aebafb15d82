/* `updater bundle create` on the build host: its options (docs/cli.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/decimal.h"
#include "create.h"

static int usage(struct error *e, const char *why)
{
	err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle %s (see updater help bundle)", why);
	return UPD_EXIT_USAGE;
}

int bundle_create_cmd(int argc, char **argv, struct error *e)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },   { "version", required_argument, NULL, 'V' },
		{ "compatible", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },  { "level", required_argument, NULL, 'l' },
		{ "security-version", required_argument, NULL, 's' }, { NULL, 0, NULL, 0 },
	};
	struct bundle_create_opts o = {0};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': o.image = optarg; break;
		case 'V': o.version = optarg; break;
		case 'c': o.compatible = optarg; break;
		case 'k': o.key = optarg; break;
		case 'o': o.output = optarg; break;
		case 'l': o.level = atoi(optarg); break;
		case 's':
			if (decimal_u64(optarg, strlen(optarg), &o.security_version) < 0)
				return usage(e, "create: --security-version needs a decimal number");
			break;
		default: return usage(e, "create: unknown option");
		}
	}
	if (!o.image || !o.version || !o.compatible || !o.key || !o.output)
		return usage(e, "create: needs --image, --version, --compatible, --key and --output");
	if (bundle_create(&o, e) < 0)
		return e->exit ? e->exit : UPD_EXIT_OTHER;
	printf("%s: version %s for '%s', security version %llu\n", o.output, o.version,
	       o.compatible, (unsigned long long)o.security_version);
	return UPD_EXIT_OK;
}
