/* Plain decimal numbers, as the manifest, the state files and ostree commit
 * metadata store them: digits only (no sign, spaces, hex or exponent), at
 * most 2^64-1. Anything else is a damaged or hostile value, not a number to
 * guess, so every reader refuses the same strings. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* s[0..n): 0, or -EINVAL (empty, or not all digits), or -ERANGE (too large). */
int decimal_u64(const char *s, size_t n, uint64_t *out);
