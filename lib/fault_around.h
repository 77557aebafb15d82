/* Page faults that map only the page that faulted. On a fault in a file
 * mapping whose pages are in the page cache, the kernel maps the pages
 * around it too (fault-around: 64 KiB on most kernels, not settable by a
 * process): they count in the process's RSS while mapped. A mapping read at
 * scattered places (a static delta's decoder reading its source) is charged
 * 16 pages for each it reads. */
#pragma once
#include <stddef.h>

/* Turns fault-around off for [addr, addr + len), a range of mappings, by
 * registering it with a userfaultfd in asynchronous write-protect mode
 * (Linux 6.7 or later): the kernel does no fault-around in such a range and
 * resolves any write-protect fault itself, so nothing has to serve the
 * descriptor. Returns the descriptor, to close once the range is unmapped
 * (closing it ends the effect), or -errno where the kernel or the process's
 * sandbox does not offer it: the range is then as it was. */
int fault_around_off(void *addr, size_t len);
