/* The bundle reader end to end, as the dual-bank backend runs it on a bundle
 * file: source_read_head, bundle_head_parse, the size check against the
 * file, the signature check, format 3's index read and checked against the
 * manifest (bundle_index_fetch), then the payload streamed by source_stream
 * through the slot writer (zstd, SHA-256 of payload and image) into a slot.
 *
 * A mutated bundle almost never carries a valid signature, and the backend
 * stops there; this target goes on regardless (after checking the verdict
 * is a clean one), so the payload code sees hostile input too. The keys are
 * those the seed bundles were signed with (UPDATER_FUZZ_KEYS, colon
 * separated), so the accepting path is covered as well; without it a fresh
 * key that matches nothing is used. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../backends/image/slot_writer.h"
#include "../../bundle/bundle.h"
#include "../../bundle/index.h"
#include "../../lib/digest.h"
#include "../../lib/log.h"
#include "../../lib/source.h"
#include "fuzz.h"

/* Larger images are refused by the slot size check before the writer starts
 * on a real device; here they would only make executions slow. */
#define SLOT_MAX ((uint64_t)4 << 20)

static char *bundle_path;
static char **keys;
static size_t nkeys;

static void own_key(const char *dir)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;
	char *path = NULL;
	FILE *f;

	FUZZ_CHECK(ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &k) == 1);
	FUZZ_CHECK(asprintf(&path, "%s/key.pub.pem", dir) > 0);
	f = fopen(path, "w");
	FUZZ_CHECK(f && PEM_write_PUBKEY(f, k) == 1 && fclose(f) == 0);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	keys = malloc(sizeof(*keys));
	FUZZ_CHECK(keys);
	keys[0] = path;
	nkeys = 1;
}

static void env_keys(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	FUZZ_CHECK(copy);
	for (char *k = strtok_r(copy, ":", &save); k; k = strtok_r(NULL, ":", &save)) {
		keys = realloc(keys, (nkeys + 1) * sizeof(*keys));
		FUZZ_CHECK(keys && (keys[nkeys] = strdup(k)));
		nkeys++;
	}
	free(copy);
	FUZZ_CHECK(nkeys > 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char *dir = fuzz_tmpdir();
	const char *list = getenv("UPDATER_FUZZ_KEYS");

	log_set_level(LOG_LVL_ERROR); /* "trailing bytes" warnings on every input */
	FUZZ_CHECK(asprintf(&bundle_path, "%s/bundle.upd", dir) > 0);
	if (list && *list)
		env_keys(list);
	else
		own_key(dir);
	free(dir);
	return 0;
}

/* The bytes written to the slot must be what the manifest promised. */
static void check_slot(int fd, const struct manifest *m)
{
	struct sha256_ctx *c = sha256_new();
	uint8_t buf[65536], digest[32];
	uint64_t off = 0;

	FUZZ_CHECK(c);
	while (off < m->image_size) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);
		FUZZ_CHECK(n > 0);
		sha256_update(c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	sha256_final(c, digest);
	FUZZ_CHECK(off == m->image_size && memcmp(digest, m->image_sha256, 32) == 0);
}

static void check_index(const struct source_opts *o, const struct bundle_head *h)
{
	struct bundle_index ix;
	struct error e = {0};

	if (h->manifest.format < 3)
		return;
	int r = bundle_index_fetch(o, h, &ix, &e);
	if (r == 0)
		FUZZ_CHECK(ix.frame_offset[ix.nframes] == h->manifest.payload_size);
	else
		FUZZ_CHECK(e.exit == UPD_EXIT_VERIFY && e.msg[0] && !ix.hashes && !ix.frame_offset);
	bundle_index_free(&ix);
}

static void install(const struct source_opts *o, const struct bundle_head *h)
{
	const struct manifest *m = &h->manifest;
	struct slot_writer *w = NULL;
	struct error e = {0};
	int fd = memfd_create("slot", MFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0 && ftruncate(fd, (off_t)m->image_size) == 0);
	int r = slot_writer_new(&w, fd, "B", "memfd:slot", m, false, &e);
	FUZZ_CHECK(r == 0);
	r = source_stream(o, h->payload_offset, m->payload_size, slot_writer_feed, w, &e);
	if (r == 0)
		r = slot_writer_finish(w, &e);
	slot_writer_free(w);
	if (r == 0)
		check_slot(fd, m);
	else
		FUZZ_CHECK(e.exit == UPD_EXIT_VERIFY && e.msg[0]);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source_opts o = {.location = bundle_path};
	struct bundle_head h;
	struct error e = {0};
	uint64_t total = 0;
	size_t len = 0, need = 0, which = nkeys;
	uint8_t *buf = malloc(BUNDLE_HEAD_MAX);

	FUZZ_CHECK(buf);
	fuzz_write(bundle_path, data, size);
	FUZZ_CHECK(source_read_head(&o, buf, BUNDLE_HEAD_MAX, &len, &total, &e) == 0);
	FUZZ_CHECK(total == size && len == (size < BUNDLE_HEAD_MAX ? size : BUNDLE_HEAD_MAX));
	int r = bundle_head_parse(buf, len, &h, &need, &e);
	free(buf);
	if (r < 0) {
		FUZZ_CHECK(r == -EAGAIN ? need > len : e.exit == UPD_EXIT_VERIFY);
		return 0;
	}
	r = bundle_check_size(&h, total, &e);
	if (r == 0) {
		FUZZ_CHECK(h.payload_offset + h.manifest.payload_size <= total);
		r = bundle_verify_signature(&h, keys, nkeys, &which, &e);
		FUZZ_CHECK(r == 0 ? which < nkeys : e.exit == UPD_EXIT_VERIFY);
		if (h.manifest.image_size <= SLOT_MAX) {
			check_index(&o, &h);
			install(&o, &h);
		}
	} else {
		FUZZ_CHECK(r == -ENODATA && e.exit == UPD_EXIT_VERIFY);
	}
	bundle_head_free(&h);
	return 0;
}
