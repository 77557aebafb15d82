/* Shared by the libFuzzer targets (tests/fuzz/, docs/reliability.md "Hostile
 * input"). Each target is also linked with replay.c, a plain main() that runs
 * it over files, so `make check` replays the corpus with gcc and no libFuzzer. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding like a sanitizer report: abort, so
 * libFuzzer saves the input and the replay fails. */
#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                    \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* A private directory for the target's files, on tmpfs when there is one:
 * the targets write a file per input. */
char *fuzz_tmpdir(void);
/* Writes data to path (truncating); aborts on failure, which is the
 * harness's, not the code's. */
void fuzz_write(const char *path, const uint8_t *data, size_t size);
