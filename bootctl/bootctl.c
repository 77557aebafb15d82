/* The boot-control verbs (bootctl.h), written once on top of a bootloader's
 * storage of the contract. Every verb is one write of all the contract's variables: a
 * redundant environment switches them in one step (docs/boot-contract.md). */
#include "bootctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct bootctl {
	const struct bootctl_ops *ops;
	void *priv;
	int bootlimit;
};

int bootctl_open(struct bootctl **out, const struct bootctl_ops *ops, const char *location,
		 struct error *e)
{
	struct bootctl *bc = calloc(1, sizeof(*bc));
	int rc;

	*out = NULL;
	if (!bc)
		return err_oom(e, NULL);
	bc->ops = ops;
	bc->bootlimit = 3;
	rc = ops->open(&bc->priv, location, e);
	if (rc < 0) {
		free(bc);
		return rc;
	}
	*out = bc;
	return 0;
}

/* One bootloader today; a second one is chosen here by a config key. */
static const struct bootctl_ops *config_ops(const struct config *cfg, const char **location)
{
	*location = cfg->bootenv.fw_env_config;
	return &bootctl_uboot;
}

int bootctl_open_config(struct bootctl **out, const struct config *cfg, struct error *e)
{
	const char *location;
	const struct bootctl_ops *ops = config_ops(cfg, &location);
	int rc = bootctl_open(out, ops, location, e);

	if (rc == 0)
		bootctl_set_bootlimit(*out, cfg->bootenv.bootlimit);
	return rc;
}

void bootctl_close(struct bootctl *bc)
{
	if (!bc)
		return;
	bc->ops->close(bc->priv);
	free(bc);
}

void bootctl_set_bootlimit(struct bootctl *bc, int bootlimit)
{
	bc->bootlimit = bootlimit;
}

int bootctl_read(struct bootctl *bc, struct bootstate *out, struct error *e)
{
	return bc->ops->read(bc->priv, out, e);
}

char *bootctl_get(struct bootctl *bc, const char *name)
{
	return bc && bc->ops->get ? bc->ops->get(bc->priv, name) : NULL;
}

int bootctl_next(struct bootctl *bc, char *id, size_t size, struct error *e)
{
	struct bootstate bs;
	int rc = bootctl_read(bc, &bs, e);
	if (rc == 0)
		snprintf(id, size, "%s", bs.boot_slot);
	return rc;
}

int bootctl_write(struct bootctl *bc, const struct bootstate *st, struct error *e)
{
	return bc->ops->write(bc->priv, st, e);
}

int bootctl_set_next(struct bootctl *bc, const char *id, bool trial, struct error *e)
{
	struct bootstate bs = { .upgrade_available = trial ? 1 : 0, .bootlimit = bc->bootlimit };
	/* ids are never empty (U-Boot's env import drops empty variables) */
	snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", id);
	return bootctl_write(bc, &bs, e);
}

int bootctl_finish_fallback(struct bootctl *bc, const char *id, struct error *e)
{
	return bootctl_set_next(bc, id, false, e);
}

/* Trial off on what is stored now; id NULL keeps boot_slot; staged < 0
 * keeps apply_staged. */
static int end_trial(struct bootctl *bc, const char *id, int staged, struct error *e)
{
	struct bootstate bs;
	int rc = bootctl_read(bc, &bs, e);
	if (rc < 0)
		return rc;
	bs.upgrade_available = 0;
	bs.bootcount = 0;
	if (id)
		snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", id);
	if (staged >= 0)
		bs.apply_staged = staged;
	return bootctl_write(bc, &bs, e);
}

int bootctl_mark_good(struct bootctl *bc, struct error *e)
{
	return end_trial(bc, NULL, -1, e);
}

int bootctl_point_at(struct bootctl *bc, const char *id, struct error *e)
{
	return end_trial(bc, id, -1, e);
}

int bootctl_restage(struct bootctl *bc, const char *id, struct error *e)
{
	return end_trial(bc, id, 1, e);
}

int bootctl_set_staged(struct bootctl *bc, bool staged, struct error *e)
{
	struct bootstate bs;
	int rc = bootctl_read(bc, &bs, e);
	if (rc < 0)
		return rc;
	bs.apply_staged = staged ? 1 : 0;
	return bootctl_write(bc, &bs, e);
}

int bootctl_init(const struct bootctl_ops *ops, const char *location, const struct bootstate *st,
		 bool force, struct error *e)
{
	return ops->init(location, st, force, e);
}

int bootctl_init_config(const struct config *cfg, const struct bootstate *st, bool force,
			struct error *e)
{
	const char *location;
	const struct bootctl_ops *ops = config_ops(cfg, &location);
	return bootctl_init(ops, location, st, force, e);
}
