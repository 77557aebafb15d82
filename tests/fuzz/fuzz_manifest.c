/* The manifest parser on its own (manifest_parse), with the input as the
 * manifest text: most bundle-level inputs die at the magic or the lengths, so
 * this target spends all its executions past them. An accepted manifest must
 * survive manifest_format and parse back to the same struct. */
#include <errno.h>
#include <string.h>

#include "../../bundle/bundle.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, back;
	struct error e = {0};
	int r = manifest_parse((const char *)data, size, &m, &e);

	if (r < 0) {
		/* A refusal explains itself, is a verification failure and leaves
		 * nothing half-parsed behind. */
		FUZZ_CHECK(r == -EBADMSG && e.exit == UPD_EXIT_VERIFY && e.msg[0]);
		FUZZ_CHECK(all_zero(&m, sizeof(m)));
		return 0;
	}
	FUZZ_CHECK(r == 0 && !err_isset(&e));
	FUZZ_CHECK(m.format >= 1 && m.format <= BUNDLE_FORMAT_MAX &&
		   strcmp(m.compression, "zstd") == 0);
	/* Format 1 predates the security version: it reads as 0. */
	FUZZ_CHECK(m.format >= 2 || m.security_version == 0);
	/* A static delta (formats 4 and 5) decodes against its source: a larger window. */
	FUZZ_CHECK(m.zstd_window_log >= 10 &&
		   m.zstd_window_log <= (m.format >= 4 ? BUNDLE_DELTA_WINDOW_LOG_MAX
						: BUNDLE_ZSTD_WINDOW_LOG_MAX));
	FUZZ_CHECK(m.version[0] && strlen(m.version) < sizeof(m.version));
	FUZZ_CHECK(m.compatible[0] && strlen(m.compatible) < sizeof(m.compatible));
	for (const char *s = m.version; *s; s++)
		FUZZ_CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
	for (const char *s = m.compatible; *s; s++)
		FUZZ_CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);

	char *text = manifest_format(&m);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(manifest_parse(text, strlen(text), &back, &e) == 0);
	FUZZ_CHECK(memcmp(&m, &back, sizeof(m)) == 0);
	free(text);
	return 0;
}
