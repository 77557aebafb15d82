/* Static deltas: finding and checking one before anything is written
 * (static_delta.h). */
#include "static_delta.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/fsutil.h"
#include "../../lib/log.h"
#include "../image/bundle_image.h"
#include "image_id.h"

bool static_delta_named(const char *location)
{
	size_t n = strlen(location), tail = strlen(".from-") + STATIC_DELTA_ID_LEN;

	if (n < tail || strncmp(location + n - tail, ".from-", strlen(".from-")) != 0)
		return false;
	for (size_t k = n - STATIC_DELTA_ID_LEN; k < n; k++)
		if (!isxdigit((unsigned char)location[k]))
			return false;
	return true;
}

/* A delta makes exactly the full bundle's release, or it is not used. */
static int same_release(const struct manifest *d, const struct manifest *f, struct error *e)
{
	const char *differs = strcmp(d->version, f->version) ? "version"
			      : strcmp(d->compatible, f->compatible) ? "compatible"
			      : d->security_version != f->security_version ? "security-version"
			      : d->image_size != f->image_size ? "image-size"
			      : memcmp(d->image_sha256, f->image_sha256, 32) ? "image-sha256"
									     : NULL;
	if (differs)
		return err_set(e, UPD_EXIT_VERIFY, EINVAL,
			       "its %s differs from the full bundle's (another release)", differs);
	return 0;
}

static int not_the_source(const char *path, struct error *e)
{
	return err_set(e, UPD_EXIT_VERIFY, ESTALE, "the active slot %s does not hold its source image",
		       path);
}

/* The active slot (fd) holds the delta's source image: big enough, and its
 * first delta_source_size bytes hash to the signed digest. They are not read
 * when this process hashed exactly those bytes already (known), nor when the
 * booted image's id (booted_id: what the updater verified in that slot, or
 * what init or this run hashed) is the source's digest: a slot changed since
 * makes the frames' or the image's check fail, and the static delta gives
 * way to the dynamic one (docs/dualbank.md, "Static delta"). */
static int check_source(struct static_delta *s, int fd, const struct source_digest *known,
			const char *booted_id, const char *path, struct error *e)
{
	const struct manifest *m = &s->h->manifest;
	uint64_t size = 0;
	uint8_t sha[32];
	int rc;

	if (file_or_blockdev_size(fd, &size) < 0 || size < m->delta_source_size ||
	    m->delta_source_size == 0 || m->delta_source_size > SIZE_MAX)
		return err_set(e, UPD_EXIT_VERIFY, ESTALE,
			       "the active slot %s is smaller than its source image (%llu bytes)",
			       path, (unsigned long long)m->delta_source_size);
	if (known && known->len == m->delta_source_size &&
	    memcmp(known->sha256, m->delta_source_sha256, 32) == 0) {
		log_debug("the active slot's image was hashed once in this run: its source");
		return 0;
	}
	if (booted_id && strlen(booted_id) == 64 && hex_decode(booted_id, sha, 32) == 0) {
		if (memcmp(sha, m->delta_source_sha256, 32) != 0)
			return not_the_source(path, e);
		log_debug("the booted image's id is the static delta's source digest: the active "
			  "slot is not hashed");
		s->by_id = true;
		return 0;
	}
	rc = image_hash(fd, m->delta_source_size, sha, NULL);
	if (rc < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "read the active slot %s: %s", path,
			       strerror(-rc));
	return memcmp(sha, m->delta_source_sha256, 32) == 0 ? 0 : not_the_source(path, e);
}

int static_delta_target_room(const struct bundle_index *ix, uint64_t source_size, long page,
			     uint64_t *room, struct error *e)
{
	*room = 0;
	for (uint64_t f = 0; ix->prefix_blocks && f < ix->nframes; f++)
		if ((uint64_t)ix->prefix_blocks[f] * ix->block_size > *room)
			*room = (uint64_t)ix->prefix_blocks[f] * ix->block_size;
	if (*room && (page <= 0 || source_size % (uint64_t)page != 0))
		return err_set(e, UPD_EXIT_VERIFY, EINVAL,
			       "its frames refer to the new image after a source of %" PRIu64
			       " bytes, which is not whole pages of %ld bytes here",
			       source_size, page);
	return 0;
}

/* The source, and room after it for the target (target_room), as one range
 * of address space: reserved, then the source mapped at its start. Private:
 * nothing done to it can reach the slot, and the kernel lets a userfaultfd
 * take it (fault_around_off) only when the mapping may be written, which a
 * shared one of a descriptor opened read-only may not. */
static void *map_at(int fd, uint64_t len, uint64_t room)
{
	void *p = mmap(NULL, (size_t)(len + room), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return p;
	if (mmap(p, (size_t)len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int err = errno;
		munmap(p, (size_t)(len + room));
		errno = err;
		return MAP_FAILED;
	}
	return p;
}

/* The checked source mapped read-only (the slot is never opened for
 * writing): zstd takes its prefix as one buffer, and a mapping's pages stay
 * the page cache's. Its descriptor stays open with the mapping. */
static int map_source(struct static_delta *s, const char *active_path,
		      const struct source_digest *known, const char *booted_id, struct error *e)
{
	const struct manifest *m = &s->h->manifest;
	uint64_t room = 0;
	int rc = static_delta_target_room(&s->ix, m->delta_source_size, sysconf(_SC_PAGESIZE),
					  &room, e);
	int fd = rc < 0 ? -1 : active_path ? open(active_path, O_RDONLY | O_CLOEXEC) : -1;

	if (rc < 0)
		return rc;
	if (fd < 0)
		return err_set(e, UPD_EXIT_VERIFY, ESTALE, "the active slot %s: %s",
			       active_path ? active_path : "(unknown)", strerror(errno));
	rc = check_source(s, fd, known, booted_id, active_path, e);
	void *p = MAP_FAILED;

	if (rc == 0) {
		p = map_at(fd, m->delta_source_size, room);
		if (p == MAP_FAILED)
			rc = err_set(e, UPD_EXIT_OTHER, errno, "map the active slot %s: %s",
				     active_path, strerror(errno));
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	/* Kept open: the install compares and copies source blocks with pread
	 * (delta_static.c), the mapping only serves the decoder's prefix. */
	s->map_fd = fd;
	s->map = p;
	s->map_len = m->delta_source_size;
	s->map_room = room;
	return 0;
}

/* The checks common to both ways in: format, index, source. */
static int check_delta(struct static_delta *s, const struct source_opts *o,
		       const char *active_path, const char *booted_id,
		       const struct source_digest *known, struct error *e)
{
	int rc;

	if (!bundle_format_is_delta(s->h->manifest.format))
		return err_set(e, UPD_EXIT_VERIFY, EINVAL, "format %d, not a static delta (4 or 5)",
			       s->h->manifest.format);
	rc = bundle_index_fetch(o, s->h, &s->ix, e);
	if (rc == 0)
		rc = map_source(s, active_path, known, booted_id, e);
	if (rc == 0)
		s->usable = true;
	return rc;
}

int static_delta_find(struct static_delta *s, const struct source_opts *o,
		      const struct manifest *full, const char *booted_image, char *const *keys,
		      size_t nkeys, const char *active_path, const struct source_digest *known,
		      struct error *e)
{
	struct source_opts so = *o;
	size_t which = 0;
	int rc;

	static_delta_close(s);
	if ((size_t)snprintf(s->location, sizeof(s->location), "%s.from-%.*s", o->location,
			     STATIC_DELTA_ID_LEN, booted_image) >= sizeof(s->location))
		return err_set(e, UPD_EXIT_USAGE, ENAMETOOLONG, "%s: name too long", o->location);
	so.location = s->location;
	rc = image_head_read(&so, &s->own, e);
	if (rc < 0)
		return rc;
	s->have_own = true;
	s->h = &s->own;
	rc = bundle_verify_signature(s->h, keys, nkeys, &which, e);
	if (rc == 0)
		rc = same_release(&s->h->manifest, full, e);
	if (rc == 0)
		rc = check_delta(s, &so, active_path, booted_image, known, e);
	if (rc < 0)
		static_delta_close(s);
	return rc;
}

int static_delta_named_check(struct static_delta *s, const struct source_opts *o,
			     const struct bundle_head *h, const char *active_path,
			     const char *booted_id, const struct source_digest *known,
			     struct error *e)
{
	int rc;

	static_delta_close(s);
	snprintf(s->location, sizeof(s->location), "%s", o->location);
	s->h = h;
	rc = check_delta(s, o, active_path, booted_id, known, e);
	if (rc < 0)
		static_delta_close(s);
	return rc;
}

void static_delta_close(struct static_delta *s)
{
	if (s->map) {
		munmap(s->map, (size_t)(s->map_len + s->map_room));
		close(s->map_fd);
	}
	bundle_index_free(&s->ix);
	if (s->have_own)
		bundle_head_free(&s->own);
	s->map = NULL;
	s->map_len = s->map_room = 0;
	s->have_own = false;
	s->usable = false;
	s->by_id = false;
	s->h = NULL;
}
