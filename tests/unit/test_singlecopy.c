/* The single-copy backend's pure logic: whether /proc/self/mountinfo lists a
 * device (backends/singlecopy/root.c), the check that keeps the running
 * root from being written. */
#include "testutil.h"

#include "../../backends/singlecopy/singlecopy_priv.h"

static const char mountinfo[] =
	"22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
	"23 22 0:21 / /proc rw,nosuid - proc proc rw\n"
	"36 22 179:10 / /data rw,noatime shared:7 - ext4 /dev/mmcblk0p10 rw\n"
	"44 26 7:0 / /tmp/m rw,relatime - ext4 /dev/loop0 rw";

static void finds_the_device_by_number(void **state)
{
	(void)state;
	assert_true(sc_mountinfo_has(mountinfo, 8, 2));
	assert_true(sc_mountinfo_has(mountinfo, 179, 10));
	/* the last line, without a newline */
	assert_true(sc_mountinfo_has(mountinfo, 7, 0));
}

static void other_numbers_do_not_match(void **state)
{
	(void)state;
	/* 8:2 is mounted, 8:20 and 18:2 are not; 179:1 is a prefix of 179:10 */
	assert_false(sc_mountinfo_has(mountinfo, 8, 20));
	assert_false(sc_mountinfo_has(mountinfo, 18, 2));
	assert_false(sc_mountinfo_has(mountinfo, 179, 1));
	/* the mount id and parent id fields are not device numbers */
	assert_false(sc_mountinfo_has(mountinfo, 22, 1));
}

static void empty_and_malformed_text(void **state)
{
	(void)state;
	assert_false(sc_mountinfo_has("", 8, 2));
	assert_false(sc_mountinfo_has("garbage\n\n8:2\n", 8, 2));
}

TU_MAIN(NULL, NULL, cmocka_unit_test(finds_the_device_by_number),
	cmocka_unit_test(other_numbers_do_not_match), cmocka_unit_test(empty_and_malformed_text))
