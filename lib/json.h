/* Minimal JSON output helpers (we only ever write JSON, never parse it). */
#pragma once
#include <stdio.h>

/* Writes s as a JSON string literal, or null when s is NULL. */
void json_string(FILE *f, const char *s);
