/* Fault injection for the power-cut sweeps (tests/powercut/). Compiled in
 * only with -DUPDATER_FAULTS (the `updater-fault` test binary); release
 * builds have empty inline stubs and ignore the environment.
 *
 *   UPDATER_FAULT=NAME:N    SIGKILL at the Nth hit of point NAME (1-based)
 *   UPDATER_FAULT=any:N     SIGKILL at the Nth fault point of any name
 *   UPDATER_FAULT=NAME@V    SIGKILL once progress point NAME reaches value V
 *   UPDATER_FAULT_LOG=FILE  append "NAME" (or "NAME@V") per hit, to list them
 *   UPDATER_FAULT_GROUP=1   the cut kills the whole process group (kill(0)),
 *                           helper processes too; start the updater with setsid
 *   UPDATER_FAULT_DELAY=NAME:MS  sleep MS milliseconds at each fault_delay(NAME):
 *                           slow local work, as on slow flash, without a cut
 */
#pragma once
#include <stdint.h>

#ifdef UPDATER_FAULTS
void fault_point(const char *name);
void fault_progress(const char *name, uint64_t value);
void fault_delay(const char *name);
#else
static inline void fault_point(const char *name) { (void)name; }
static inline void fault_progress(const char *name, uint64_t value)
{
	(void)name;
	(void)value;
}
static inline void fault_delay(const char *name) { (void)name; }
#endif
