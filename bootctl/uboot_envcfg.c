/* fw_env.config, read the way libubootenv reads it, so that errors about the
 * U-Boot environment name its storage (bootctl/uboot_env.c). */
#include "uboot_env_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* ---- fw_env.config ------------------------------------------------------ */

void cfg_free(struct envcfg *c)
{
	for (int i = 0; i < 2; i++)
		free(c->path[i]);
	free(c->desc);
	memset(c, 0, sizeof(*c));
}

/* One "DEVICE OFFSET SIZE [SECTORSIZE [SECTORS]]" line, with libubootenv's
 * scanf conversions so both agree on every number. Returns 1 if it is a copy,
 * 0 for a line libubootenv skips. */
static int cfg_line(struct envcfg *c, const char *line)
{
	char *dev = NULL;
	long long off = 0;
	size_t size = 0;

	if (line[0] == '#')
		return 0;
	if (sscanf(line, "%ms %lli %zx", &dev, &off, &size) < 3) {
		free(dev);
		return 0;
	}
	char *colon = strchr(dev, ':'); /* UBI "device:volume"; libubootenv splits any path */
	if (colon)
		*colon = '\0';
	c->path[c->ncopies] = dev;
	c->offset[c->ncopies] = off;
	c->size[c->ncopies] = size;
	c->ncopies++;
	return 1;
}

static int cfg_read(struct envcfg *c, const char *config, struct error *e)
{
	FILE *f = fopen(config, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return err_set(e, UPD_EXIT_OTHER, errno, "boot environment: %s: %s", config,
			       strerror(errno));
	/* libubootenv uses the first two copy lines and ignores the rest. */
	while (c->ncopies < 2 && getline(&line, &cap, f) != -1)
		cfg_line(c, line);
	free(line);
	fclose(f);
	if (c->ncopies == 0)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "boot environment: %s: no 'DEVICE OFFSET SIZE' line", config);
	return 0;
}

static int cfg_check_sizes(const struct envcfg *c, const char *config, struct error *e)
{
	for (int i = 0; i < c->ncopies; i++)
		if (c->size[i] == 0)
			return err_set(e, UPD_EXIT_USAGE, EINVAL,
				       "boot environment: %s: size of %s is 0", config, c->path[i]);
	if (c->ncopies == 2 && c->size[0] != c->size[1])
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "boot environment: %s: the two copies differ in size (0x%zx, 0x%zx)",
			       config, c->size[0], c->size[1]);
	return 0;
}

/* A regular file must already hold the whole copy: libubootenv reports a short
 * read as a bare -EIO, and writing past the end would hide a wrong path. */
static int cfg_check_device(const struct envcfg *c, int i, struct stat *st, struct error *e)
{
	if (stat(c->path[i], st) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "boot environment %s: %s", c->path[i],
			       strerror(errno));
	if (S_ISDIR(st->st_mode))
		return err_set(e, UPD_EXIT_OTHER, EISDIR, "boot environment %s: %s", c->path[i],
			       strerror(EISDIR));
	long long end = c->offset[i] + (long long)c->size[i];
	if (S_ISREG(st->st_mode) && c->offset[i] >= 0 && st->st_size < end)
		return err_set(e, UPD_EXIT_OTHER, EIO,
			       "boot environment %s: file has %lld bytes, too short for the copy at "
			       "0x%llx..0x%llx (create it with: truncate -s %lld %s)",
			       c->path[i], (long long)st->st_size, c->offset[i], end, end,
			       c->path[i]);
	return 0;
}

static bool ranges_overlap(const struct envcfg *c)
{
	return c->offset[0] < c->offset[1] + (long long)c->size[1] &&
	       c->offset[1] < c->offset[0] + (long long)c->size[0];
}

/* Parses fw_env.config and checks that the storage exists; fills c->desc. */
static int cfg_load_checked(struct envcfg *c, const char *config, struct error *e)
{
	struct stat st[2];
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = cfg_read(c, config, e)) < 0 || (rc = cfg_check_sizes(c, config, e)) < 0)
		return rc;
	for (int i = 0; i < c->ncopies; i++)
		if ((rc = cfg_check_device(c, i, &st[i], e)) < 0)
			return rc;
	bool same = c->ncopies == 2 && st[0].st_dev == st[1].st_dev && st[0].st_ino == st[1].st_ino;
	if (same && ranges_overlap(c))
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "boot environment: %s: the two copies in %s overlap", config,
			       c->path[0]);
	int n = (c->ncopies == 1 || same) ? asprintf(&c->desc, "%s", c->path[0])
					  : asprintf(&c->desc, "%s + %s", c->path[0], c->path[1]);
	if (n < 0) {
		c->desc = NULL;
		return err_oom(e, NULL);
	}
	return 0;
}

int cfg_load(struct envcfg *c, const char *config, struct error *e)
{
	int rc = cfg_load_checked(c, config, e);

	if (rc < 0)
		cfg_free(c);
	return rc;
}
