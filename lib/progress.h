/* Progress reporting: a bar on a TTY, one JSON object per line for machines
 * (--progress=json, on stdout), or nothing. Rate-limited internally. */
#pragma once
#include <stdint.h>

enum progress_mode { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_JSON, PROGRESS_NONE };

int progress_mode_parse(const char *s, enum progress_mode *out);
void progress_init(enum progress_mode mode);

/* A phase is a named step ("download", "write", "verify"...). total may be 0
 * when unknown. done counts bytes unless the phase says otherwise. */
void progress_begin(const char *phase, uint64_t total);
/* A phase that counts objects, not bytes (done, total and rate in objects):
 * the bar shows N/M objects, JSON says "unit":"objects". */
void progress_begin_objects(const char *phase, uint64_t total);
void progress_update(uint64_t done);
/* Objects (files) of the phase so far and known so far, for a phase that
 * counts them besides bytes (an ostree pull); shown from the next update. */
void progress_objects(uint64_t done, uint64_t total);
/* Bytes of a phase that writes a slot: downloaded, reused (the slot held
 * them already: not written) and written; shown from the next update (JSON
 * "downloaded", "reused", "written"; the bar's last two). */
void progress_transfer(uint64_t downloaded, uint64_t reused, uint64_t written);
void progress_end(void);
/* The phase completed: its final line has done == total (a total unknown
 * until now becomes what was done) and the objects all fetched, so the bar
 * ends at 100 %. progress_end() is for a phase that stops short. */
void progress_done(void);
/* One-off event in JSON mode (state transitions); ignored in other modes. */
void progress_event(const char *state, const char *detail);
