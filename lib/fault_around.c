#include "fault_around.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linux 6.7's value; older kernel headers (Debian 12's are 6.1) lack it, and
 * an older kernel refuses the feature with EINVAL. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

int fault_around_off(void *addr, size_t len)
{
#ifdef SYS_userfaultfd
	/* User-mode faults only: allowed without privilege, and this range
	 * never raises a fault that would be delivered. */
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) < 0 || ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
#else
	(void)addr, (void)len;
	return -ENOSYS;
#endif
}
