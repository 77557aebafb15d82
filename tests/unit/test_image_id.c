/* backends/dualbank/image_id.c on real images: ext4 (1 KiB and 4 KiB
 * blocks, with and without the 64bit feature), squashfs and erofs made by
 * their own mkfs tools (e2fsprogs, squashfs-tools, erofs-utils: scripts/deps.sh),
 * each placed at the start of a larger "slot" file. The id must be the
 * sha256sum of the image file itself; a slot without a superblock it can
 * trust is hashed whole. */
#include "testutil.h"

#include <errno.h>
#include <sys/stat.h>

#include "../../backends/dualbank/image_id.h"
#include "../../lib/digest.h"

/* An image made by a mkfs tool: its command line (see mkfs()), and the file
 * system image_id must name. */
struct mkfs_case {
	const char *tool, *pkg, *cmdline, *fs;
};

struct fixture {
	char *dir;
	char tree[600], img[600], slot[600];
	const struct mkfs_case *mkfs; /* the test's initial state, if any */
};

static int setup(void **state)
{
	struct fixture *f = tu_fixture_new(sizeof(*f));
	assert_non_null(f);
	f->mkfs = *state;
	snprintf(f->tree, sizeof(f->tree), "%s/tree", f->dir);
	snprintf(f->img, sizeof(f->img), "%s/fs.img", f->dir);
	snprintf(f->slot, sizeof(f->slot), "%s/slot.img", f->dir);
	/* A small tree, some of it incompressible, so every tool writes data blocks. */
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/etc %s/usr/bin && echo 'VERSION_ID=\"1.0\"' >%s/etc/os-release && "
		 "seq 1 20000 >%s/usr/bin/payload.txt && head -c 300000 /dev/urandom >%s/usr/bin/blob",
		 f->tree, f->tree, f->tree, f->tree, f->tree);
	assert_int_equal(system(cmd), 0);
	*state = f;
	return 0;
}

/* Runs a mkfs command line (one %s: the image, then the tree, as each tool
 * orders them); fails naming the package when the tool is missing. */
static void mkfs(struct fixture *f, const char *tool, const char *pkg, const char *cmdline)
{
	char cmd[2048], check[256];

	snprintf(check, sizeof(check), "command -v %s >/dev/null 2>&1 || PATH=$PATH:/sbin:/usr/sbin command -v %s >/dev/null", tool, tool);
	if (system(check) != 0)
		fail_msg("%s is missing: install %s (scripts/deps.sh)", tool, pkg);
	snprintf(cmd, sizeof(cmd), "PATH=$PATH:/sbin:/usr/sbin; rm -f %s; ", f->img);
	size_t n = strlen(cmd);
	snprintf(cmd + n, sizeof(cmd) - n, cmdline, f->img, f->tree);
	strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	assert_int_equal(system(cmd), 0);
}

/* sha256sum's answer for path, as 64 hex digits. */
static void sha256sum(const char *path, char out[65])
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 65, p));
	pclose(p);
	assert_int_equal(strlen(out), 64);
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* The slot: the image, then extra bytes of 0xee (what an earlier, larger
 * image or nothing left there). */
static void make_slot(struct fixture *f, size_t extra)
{
	char cmd[1500];
	snprintf(cmd, sizeof(cmd), "cp %s %s && head -c %zu /dev/zero | tr '\\0' '\\356' >>%s",
		 f->img, f->slot, extra, f->slot);
	assert_int_equal(system(cmd), 0);
}

/* The image's id taken from the slot equals sha256sum of the image file. */
static void assert_id_is_image(struct fixture *f, const char *want_fs)
{
	uint8_t sha[32];
	char hex[65], want[65];
	uint64_t len = 0;
	const char *fs = NULL;
	struct error e = { 0 };

	make_slot(f, 3u << 20);
	sha256sum(f->img, want);
	assert_int_equal(image_id(f->slot, sha, &len, &fs, &e), 0);
	hex_encode(sha, 32, hex);
	assert_non_null(fs);
	assert_string_equal(fs, want_fs);
	assert_int_equal(len, file_size(f->img));
	assert_string_equal(hex, want);
}

static const struct mkfs_case ext4_1k_blocks = {
	"mkfs.ext4", "e2fsprogs", "mkfs.ext4 -q -F -b 1024 -O ^64bit %s -d %s 3M", "ext4"
};
static const struct mkfs_case ext4_1k_blocks_64bit = {
	"mkfs.ext4", "e2fsprogs", "mkfs.ext4 -q -F -b 1024 -O 64bit %s -d %s 3M", "ext4"
};
static const struct mkfs_case ext4_4k_blocks = {
	"mkfs.ext4", "e2fsprogs", "mkfs.ext4 -q -F -b 4096 -O ^64bit %s -d %s 5M", "ext4"
};
static const struct mkfs_case ext4_4k_blocks_64bit = {
	"mkfs.ext4", "e2fsprogs", "mkfs.ext4 -q -F -b 4096 -O 64bit %s -d %s 5M", "ext4"
};
static const struct mkfs_case erofs = {
	"mkfs.erofs", "erofs-utils", "mkfs.erofs --quiet %s %s", "erofs"
};

/* The image of the test's mkfs_case: its id is the image's. */
static void id_is_image(void **state)
{
	struct fixture *f = *state;

	mkfs(f, f->mkfs->tool, f->mkfs->pkg, f->mkfs->cmdline);
	assert_id_is_image(f, f->mkfs->fs);
}

/* mksquashfs takes the tree first: the command names the image twice. */
static void squashfs(void **state)
{
	struct fixture *f = *state;
	char cmd[1500];
	snprintf(cmd, sizeof(cmd), "mksquashfs %s %s -noappend -quiet -no-progress", f->tree,
		 f->img);
	/* %s slots of mkfs() unused: the line is complete. */
	mkfs(f, "mksquashfs", "squashfs-tools", cmd);
	assert_int_equal(file_size(f->img) % 4096, 0); /* what the id relies on */
	assert_id_is_image(f, "squashfs");
}

/* The whole slot's sha256sum, length and no file system. */
static void assert_id_is_whole_slot(struct fixture *f)
{
	uint8_t sha[32];
	char hex[65], want[65];
	uint64_t len = 0;
	const char *fs = "unset";
	struct error e = { 0 };

	sha256sum(f->slot, want);
	assert_int_equal(image_id(f->slot, sha, &len, &fs, &e), 0);
	hex_encode(sha, 32, hex);
	assert_null(fs);
	assert_int_equal(len, file_size(f->slot));
	assert_string_equal(hex, want);
}

/* Overwrites n bytes at off of the slot. */
static void poke(struct fixture *f, off_t off, const void *p, size_t n)
{
	int fd = open(f->slot, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, off), (ssize_t)n);
	close(fd);
}

/* A superblock that claims more than the slot holds, or a block size out of
 * range, is not believed: the whole slot is hashed. */
static void a_corrupt_superblock_hashes_the_whole_slot(void **state)
{
	struct fixture *f = *state;
	const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0x7f }, bad_log[4] = { 40, 0, 0, 0 };
	uint64_t len;
	const char *fs;
	struct error e = { 0 };

	mkfs(f, "mkfs.ext4", "e2fsprogs", "mkfs.ext4 -q -F -b 4096 -O ^64bit %s -d %s 5M");
	make_slot(f, 1u << 20);
	poke(f, 1024 + 4, huge, 4); /* s_blocks_count_lo */
	int fd = open(f->slot, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(image_fs_length(fd, file_size(f->slot), &len, &fs, &e), -EINVAL);
	close(fd);
	assert_non_null(strstr(e.msg, "ext4 superblock"));
	assert_id_is_whole_slot(f);
	make_slot(f, 1u << 20);
	poke(f, 1024 + 24, bad_log, 4); /* s_log_block_size */
	assert_id_is_whole_slot(f);
}

/* No known superblock (random bytes, an erased slot): the whole slot. */
static void no_file_system_hashes_the_whole_slot(void **state)
{
	struct fixture *f = *state;
	char cmd[700];
	uint64_t len;
	const char *fs;
	struct error e = { 0 };

	snprintf(cmd, sizeof(cmd), "head -c 1234567 /dev/urandom >%s", f->slot);
	assert_int_equal(system(cmd), 0);
	assert_id_is_whole_slot(f);
	snprintf(cmd, sizeof(cmd), "head -c 100 /dev/zero >%s", f->slot);
	assert_int_equal(system(cmd), 0);
	int fd = open(f->slot, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(image_fs_length(fd, 100, &len, &fs, &e), -ENOENT);
	close(fd);
	assert_id_is_whole_slot(f);
}

/* image_hash: the SHA-256 of the first len bytes, across several of its
 * reads (a file of 9 MiB and some); a file that ends first is -ENODATA. */
static void image_hash_reads_len_bytes(void **state)
{
	struct fixture *f = *state;
	char cmd[700], want[65], got[65];
	uint8_t sha[32];

	snprintf(cmd, sizeof(cmd), "head -c 9437555 /dev/urandom >%s", f->slot);
	assert_int_equal(system(cmd), 0);
	sha256sum(f->slot, want);
	int fd = open(f->slot, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(image_hash(fd, file_size(f->slot), sha, NULL), 0);
	hex_encode(sha, 32, got);
	assert_string_equal(got, want);
	assert_int_equal(image_hash(fd, file_size(f->slot) + 1, sha, NULL), -ENODATA);
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tu_teardown)
#define MKFS(c) { #c, id_is_image, setup, tu_teardown, (void *)&c }
TU_MAIN(NULL, NULL, MKFS(ext4_1k_blocks), MKFS(ext4_1k_blocks_64bit), MKFS(ext4_4k_blocks),
	MKFS(ext4_4k_blocks_64bit), T(squashfs), MKFS(erofs),
	T(a_corrupt_superblock_hashes_the_whole_slot), T(no_file_system_hashes_the_whole_slot),
	T(image_hash_reads_len_bytes))
