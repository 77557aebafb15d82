/* `updater bundle create` on the build host: its options (docs/cli.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/decimal.h"
#include "bundle.h"
#include "create.h"

static int usage(struct error *e, const char *why)
{
	err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle %s (see updater help bundle)", why);
	return UPD_EXIT_USAGE;
}

static int number(const char *s, uint64_t max, uint64_t *out)
{
	return decimal_u64(s, strlen(s), out) < 0 || *out > max ? -EINVAL : 0;
}

int bundle_create_cmd(int argc, char **argv, struct error *e)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },   { "version", required_argument, NULL, 'V' },
		{ "compatible", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },  { "level", required_argument, NULL, 'l' },
		{ "security-version", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' }, { "frame-size", required_argument, NULL, 'F' },
		{ "delta-from", required_argument, NULL, 'D' }, { NULL, 0, NULL, 0 },
	};
	struct bundle_create_opts o = {0};
	uint64_t n;
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
		case 'f':
			if (number(optarg, 9, &n) < 0)
				return usage(e, "create: --format needs 1, 2, 3, 4 or 5");
			o.format = (int)n;
			break;
		case 'F':
			if (number(optarg, UINT32_MAX, &n) < 0 || n == 0)
				return usage(e, "create: --frame-size needs a number of bytes");
			o.frame_size = (uint32_t)n;
			break;
		case 'D': o.delta_from = optarg; break;
		default: return usage(e, "create: unknown option");
		}
	}
	if (o.delta_from && o.format && !bundle_format_is_delta(o.format))
		return usage(e, "create: --delta-from makes a static delta, format 4 or 5 (not --format "
			     "1, 2 or 3)");
	if (!o.image || !o.version || !o.compatible || !o.key || !o.output)
		return usage(e, "create: needs --image, --version, --compatible, --key and --output");
	if (bundle_create(&o, e) < 0)
		return e->exit ? e->exit : UPD_EXIT_OTHER;
	printf("%s: format %d, version %s for '%s', security version %llu\n", o.output,
	       o.format ? o.format : o.delta_from ? BUNDLE_FORMAT_DELTA : BUNDLE_FORMAT_CREATE,
	       o.version, o.compatible,
	       (unsigned long long)o.security_version);
	return UPD_EXIT_OK;
}
