/* SPDX-License-Identifier: MIT */
/* Safe extraction: every refusal has its own message and leaves nothing in releases/. Archives
 * are written with libarchive's writer (pax, gzip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include "helpers.h"

enum kind { F, D, L, H, CHR, BLK, FIFO };

struct ent {
    enum kind kind;
    const char *name;
    const char *data; /* file data, symlink or hard-link target */
    int mode;         /* 0: 0644 / 0755 */
    int64_t zeros;    /* file of this many zero bytes instead of data */
};

struct fx {
    char *dir;
    int root;
    char artifact[PATH_MAX];
    char releases[PATH_MAX + 16];
    char err[512];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    char root[PATH_MAX - 32];
    snprintf(root, sizeof(root), "%s/root", f->dir);
    assert_int_equal(baton_release_root_open(root, &f->root, f->err, sizeof(f->err)), 0);
    snprintf(f->artifact, sizeof(f->artifact), "%s/app-1.0.tar.gz", f->dir);
    snprintf(f->releases, sizeof(f->releases), "%s/releases", root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    close(f->root);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void write_archive(const char *path, const struct ent *ents, size_t n, bool gzip)
{
    struct archive *a = archive_write_new();
    if (gzip)
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    static char zeros[65536];
    for (size_t i = 0; i < n; i++) {
        const struct ent *e = &ents[i];
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e->name);
        archive_entry_set_mtime(ae, 1700000000, 0);
        switch (e->kind) {
        case F:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
            archive_entry_set_size(ae, e->zeros ? e->zeros : (int64_t)strlen(e->data));
            break;
        case D:
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
            break;
        case L:
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e->data);
            break;
        case H:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_hardlink(ae, e->data);
            archive_entry_set_size(ae, 0);
            break;
        case CHR:
        case BLK:
            archive_entry_set_filetype(ae, e->kind == CHR ? AE_IFCHR : AE_IFBLK);
            archive_entry_set_perm(ae, 0600);
            archive_entry_set_rdev(ae, makedev(1, 3));
            break;
        case FIFO:
            archive_entry_set_filetype(ae, AE_IFIFO);
            archive_entry_set_perm(ae, 0600);
            break;
        }
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (e->kind == F) {
            if (e->zeros) {
                for (int64_t left = e->zeros; left > 0;) {
                    size_t k = left < (int64_t)sizeof(zeros) ? (size_t)left : sizeof(zeros);
                    assert_true(archive_write_data(a, zeros, k) == (la_ssize_t)k);
                    left -= (int64_t)k;
                }
            } else if (e->data[0]) {
                archive_write_data(a, e->data, strlen(e->data));
            }
        }
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static int extract_lim(struct fx *f, const char *version, const struct baton_extract_limits *lim)
{
    int fd = open(f->artifact, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char tmp[64];
    f->err[0] = '\0';
    int r = baton_release_extract(f->root, fd, version, lim, tmp, sizeof(tmp), NULL, f->err,
                                  sizeof(f->err));
    close(fd);
    if (r == 0)
        r = baton_release_install(f->root, tmp, version, f->err, sizeof(f->err));
    return r;
}

/* The archive is refused with a message containing msg, and releases/ holds what it held. */
static void refused_lim(struct fx *f, const struct ent *ents, size_t n,
                        const struct baton_extract_limits *lim, int want, const char *msg)
{
    write_archive(f->artifact, ents, n, true);
    int before = count_entries(f->releases);
    int r = extract_lim(f, "1.0", lim);
    if (r != want || !strstr(f->err, msg))
        fail_msg("got %d \"%s\", want %d \"%s\"", r, f->err, want, msg);
    assert_int_equal(count_entries(f->releases), before);
}

#define REFUSED(f, ents, want, msg)                                                                \
    refused_lim(f, ents, sizeof(ents) / sizeof(ents[0]), NULL, want, msg)

static char *rel_path(struct fx *f, const char *version, const char *name)
{
    static char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s/%s", f->releases, version, name);
    return p;
}

static void extracts_a_release(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {
        {D, "./", NULL, 0, 0},
        {D, "./bin", NULL, 0, 0},
        {F, "./bin/app", "#!/bin/sh\necho hi\n", 0755, 0},
        {F, "./README", "readme", 0, 0},
        {L, "./bin/run", "app", 0, 0},
        {L, "./docs", "share/doc", 0, 0},
        {F, "./share/doc/x.txt", "implicit parents", 0, 0},
        {L, "./share/doc/up", "../../bin/app", 0, 0},
        {H, "./README.hard", "./README", 0, 0},
    };
    write_archive(f->artifact, ents, sizeof(ents) / sizeof(ents[0]), true);
    int fd = open(f->artifact, O_RDONLY | O_CLOEXEC);
    char tmp[64];
    struct baton_extract_stats st;
    assert_int_equal(baton_release_extract(f->root, fd, "1.0", NULL, tmp, sizeof(tmp), &st, f->err,
                                           sizeof(f->err)),
                     0);
    close(fd);
    assert_int_equal(st.entries, 9);
    assert_int_equal(st.bytes, strlen("#!/bin/sh\necho hi\n") + 6 + 16);
    /* private until installed */
    char tp[PATH_MAX * 2];
    snprintf(tp, sizeof(tp), "%s/%s", f->releases, tmp);
    struct stat sb;
    assert_int_equal(stat(tp, &sb), 0);
    assert_true(tmp[0] == '.');
    assert_int_equal(baton_release_install(f->root, tmp, "1.0", f->err, sizeof(f->err)), 0);
    assert_int_equal(stat(tp, &sb), -1);
    assert_int_equal(stat(rel_path(f, "1.0", ""), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);
    char *t = read_text(rel_path(f, "1.0", "bin/run"));
    assert_string_equal(t, "#!/bin/sh\necho hi\n");
    free(t);
    t = read_text(rel_path(f, "1.0", "docs/up"));
    assert_string_equal(t, "#!/bin/sh\necho hi\n");
    free(t);
    assert_int_equal(stat(rel_path(f, "1.0", "bin/app"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);
    assert_int_equal(sb.st_mtime, 1700000000);
    struct stat a, b;
    assert_int_equal(stat(rel_path(f, "1.0", "README"), &a), 0);
    assert_int_equal(stat(rel_path(f, "1.0", "README.hard"), &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(count_entries(f->releases), 1);
}

static void drops_setuid_and_setgid(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {
        {F, "suid", "x", 04755, 0},
        {F, "sgid", "x", 02755, 0},
        {D, "gdir", NULL, 02775, 0},
        {F, "sticky", "x", 01644, 0},
    };
    write_archive(f->artifact, ents, 4, true);
    assert_int_equal(extract_lim(f, "1.0", NULL), 0);
    struct stat sb;
    assert_int_equal(stat(rel_path(f, "1.0", "suid"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);
    assert_int_equal(stat(rel_path(f, "1.0", "sgid"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);
    assert_int_equal(stat(rel_path(f, "1.0", "gdir"), &sb), 0);
    assert_int_equal(sb.st_mode & 07000, 0);
    assert_int_equal(stat(rel_path(f, "1.0", "sticky"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
}

static void refuses_absolute_path(void **state)
{
    const struct ent ents[] = {{F, "ok", "x", 0, 0}, {F, "/etc/evil", "x", 0, 0}};
    REFUSED(*state, ents, -EPERM, "absolute name: /etc/evil");
}

static void refuses_dotdot(void **state)
{
    const struct ent ents[] = {{F, "../evil", "x", 0, 0}};
    REFUSED(*state, ents, -EPERM, "contains \"..\": ../evil");
}

static void refuses_dotdot_inside(void **state)
{
    const struct ent ents[] = {{D, "a", NULL, 0, 0}, {F, "a/../../evil", "x", 0, 0}};
    REFUSED(*state, ents, -EPERM, "contains \"..\"");
}

static void refuses_dotdot_that_stays_inside(void **state)
{
    /* a/../b stays inside, but no honest archive writes it: refused all the same */
    const struct ent ents[] = {{F, "a/../b", "x", 0, 0}};
    REFUSED(*state, ents, -EPERM, "contains \"..\"");
}

static void refuses_symlink_absolute(void **state)
{
    const struct ent ents[] = {{L, "etc", "/etc", 0, 0}};
    REFUSED(*state, ents, -EPERM, "symlink etc -> /etc leaves the release");
}

static void refuses_symlink_leaving(void **state)
{
    const struct ent ents[] = {{L, "a/b/up", "../../../x", 0, 0}};
    REFUSED(*state, ents, -EPERM, "symlink a/b/up -> ../../../x leaves the release");
}

static void refuses_symlink_dotdot_after_name(void **state)
{
    /* l -> . then m -> l/.. would climb out once l resolves: ".." after a name is refused */
    const struct ent ents[] = {{L, "l", ".", 0, 0}, {L, "m", "l/..", 0, 0}};
    REFUSED(*state, ents, -EPERM, "symlink m -> l/.. leaves the release");
}

static void refuses_empty_symlink(void **state)
{
    const struct ent ents[] = {{L, "e", "", 0, 0}};
    write_archive(((struct fx *)*state)->artifact, ents, 1, true);
    struct fx *f = *state;
    int r = extract_lim(f, "1.0", NULL);
    assert_true(r < 0);
    assert_int_equal(count_entries(f->releases), 0);
}

static void refuses_hardlink_leaving(void **state)
{
    const struct ent ents[] = {{H, "pw", "../../etc/passwd", 0, 0}};
    REFUSED(*state, ents, -EPERM, "hard link pw -> ../../etc/passwd leaves the release");
}

static void refuses_hardlink_absolute(void **state)
{
    const struct ent ents[] = {{H, "pw", "/etc/passwd", 0, 0}};
    REFUSED(*state, ents, -EPERM, "hard link pw -> /etc/passwd leaves the release");
}

static void refuses_hardlink_to_missing(void **state)
{
    const struct ent ents[] = {{H, "pw", "nothing", 0, 0}};
    REFUSED(*state, ents, -ENOENT, "target not in the release");
}

static void refuses_hardlink_to_symlink(void **state)
{
    const struct ent ents[] = {{L, "l", "x", 0, 0}, {H, "h", "l", 0, 0}};
    REFUSED(*state, ents, -EPERM, "target is not a regular file");
}

static void refuses_hardlink_through_symlink(void **state)
{
    const struct ent ents[] = {
        {D, "d", NULL, 0, 0}, {F, "d/f", "x", 0, 0}, {L, "l", "d", 0, 0}, {H, "h", "l/f", 0, 0}};
    REFUSED(*state, ents, -ELOOP, "target not in the release");
}

static void refuses_write_through_symlink(void **state)
{
    const struct ent ents[] = {
        {D, "sub", NULL, 0, 0}, {L, "l", "sub", 0, 0}, {F, "l/x", "x", 0, 0}};
    REFUSED(*state, ents, -ELOOP, "l/x would be written through the symlink l");
}

static void refuses_write_through_dot_symlink(void **state)
{
    const struct ent ents[] = {{L, "self", ".", 0, 0}, {D, "self/d", NULL, 0, 0}};
    REFUSED(*state, ents, -ELOOP, "written through the symlink self");
}

static void refuses_file_over_symlink(void **state)
{
    const struct ent ents[] = {{L, "f", "g", 0, 0}, {F, "f", "x", 0, 0}};
    REFUSED(*state, ents, -EEXIST, "duplicate entry f");
}

static void refuses_char_device(void **state)
{
    const struct ent ents[] = {{CHR, "null", NULL, 0, 0}};
    REFUSED(*state, ents, -EPERM, "null is a character device");
}

static void refuses_block_device(void **state)
{
    const struct ent ents[] = {{BLK, "sda", NULL, 0, 0}};
    REFUSED(*state, ents, -EPERM, "sda is a block device");
}

static void refuses_fifo(void **state)
{
    const struct ent ents[] = {{F, "a", "x", 0, 0}, {FIFO, "pipe", NULL, 0, 0}};
    REFUSED(*state, ents, -EPERM, "pipe is a FIFO");
}

static void refuses_duplicate_file(void **state)
{
    const struct ent ents[] = {{F, "a", "x", 0, 0}, {F, "./a", "y", 0, 0}};
    REFUSED(*state, ents, -EEXIST, "duplicate entry a");
}

static void refuses_duplicate_dir_over_file(void **state)
{
    const struct ent ents[] = {{F, "a", "x", 0, 0}, {D, "a/", NULL, 0, 0}};
    REFUSED(*state, ents, -EEXIST, "duplicate entry a");
}

static void refuses_duplicate_dir(void **state)
{
    const struct ent ents[] = {{D, "d", NULL, 0, 0}, {D, "d", NULL, 0, 0}};
    REFUSED(*state, ents, -EEXIST, "duplicate entry d");
}

static void refuses_too_many_entries(void **state)
{
    struct ent ents[20];
    char names[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        ents[i] = (struct ent){F, names[i], "x", 0, 0};
    }
    struct baton_extract_limits lim = BATON_EXTRACT_LIMITS_DEFAULT;
    lim.max_entries = 10;
    refused_lim(*state, ents, 20, &lim, -EFBIG, "too many entries (more than 10)");
}

static void refuses_too_large(void **state)
{
    const struct ent ents[] = {{F, "a", "", 0, 600000}, {F, "b", "", 0, 600000}};
    struct baton_extract_limits lim = BATON_EXTRACT_LIMITS_DEFAULT;
    lim.max_size = 1000000;
    refused_lim(*state, ents, 2, &lim, -EFBIG, "archive too large");
}

static void refuses_one_file_too_large(void **state)
{
    const struct ent ents[] = {{F, "big", "", 0, 3000000}};
    struct baton_extract_limits lim = BATON_EXTRACT_LIMITS_DEFAULT;
    lim.max_size = 1000000;
    refused_lim(*state, ents, 1, &lim, -EFBIG, "its files exceed 1000000 bytes");
}

static void refuses_compression_bomb(void **state)
{
    /* 64 MiB of zeros compress about 1000:1 */
    const struct ent ents[] = {{F, "zeros", "", 0, 64 << 20}};
    struct baton_extract_limits lim = BATON_EXTRACT_LIMITS_DEFAULT;
    lim.ratio_floor = 4 << 20;
    lim.max_ratio = 100;
    refused_lim(*state, ents, 1, &lim, -EFBIG, "compression ratio above 100:1");
}

static void accepts_compressible_under_floor(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {{F, "zeros", "", 0, 1 << 20}};
    write_archive(f->artifact, ents, 1, true);
    assert_int_equal(extract_lim(f, "1.0", NULL), 0);
}

static void refuses_name_longer_than_path_max(void **state)
{
    char *name = malloc(PATH_MAX + 10);
    for (int i = 0; i < PATH_MAX + 8; i++)
        name[i] = i % 100 == 99 ? '/' : 'a';
    name[PATH_MAX + 8] = '\0';
    const struct ent ents[] = {{F, name, "x", 0, 0}};
    REFUSED(*state, ents, -ENAMETOOLONG, "name longer than PATH_MAX");
    free(name);
}

static void refuses_component_longer_than_name_max(void **state)
{
    char name[400];
    memset(name, 'n', 300);
    name[300] = '\0';
    const struct ent ents[] = {{F, name, "x", 0, 0}};
    REFUSED(*state, ents, -ENAMETOOLONG, "longer than NAME_MAX");
}

static void refuses_truncated(void **state)
{
    struct fx *f = *state;
    char data[20000];
    for (size_t i = 0; i < sizeof(data) - 1; i++)
        data[i] = (char)('a' + (i * 7919) % 26);
    data[sizeof(data) - 1] = '\0';
    const struct ent ents[] = {{F, "a", data, 0, 0}, {F, "b", data, 0, 0}};
    write_archive(f->artifact, ents, 2, true);
    struct stat sb;
    assert_int_equal(stat(f->artifact, &sb), 0);
    assert_int_equal(truncate(f->artifact, sb.st_size / 2), 0);
    assert_int_equal(extract_lim(f, "1.0", NULL), -EBADMSG);
    if (!strstr(f->err, "truncated or corrupt archive"))
        fail_msg("%s", f->err);
    assert_int_equal(count_entries(f->releases), 0);
}

static void refuses_plain_tar(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {{F, "a", "x", 0, 0}};
    write_archive(f->artifact, ents, 1, false);
    assert_int_equal(extract_lim(f, "1.0", NULL), -EBADMSG);
    assert_string_equal(f->err, "not a gzip file (the artifact must be a .tar.gz)");
    assert_int_equal(count_entries(f->releases), 0);
}

static void refuses_empty_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(write_file(f->artifact, "", 0), 0);
    assert_int_equal(extract_lim(f, "1.0", NULL), -EBADMSG);
    assert_non_null(strstr(f->err, "not a gzip file"));
}

static void refuses_gzip_of_not_a_tar(void **state)
{
    struct fx *f = *state;
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof(cmd), "echo 'just some text, not a tar' | gzip > %s", f->artifact);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(extract_lim(f, "1.0", NULL), -EBADMSG);
    assert_string_equal(f->err, "not a tar archive inside the gzip");
    assert_int_equal(count_entries(f->releases), 0);
}

static void refuses_empty_archive(void **state)
{
    struct fx *f = *state;
    write_archive(f->artifact, NULL, 0, true);
    assert_int_equal(extract_lim(f, "1.0", NULL), -EBADMSG);
    assert_string_equal(f->err, "empty archive");
}

static void refuses_existing_version(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {{F, "a", "x", 0, 0}};
    write_archive(f->artifact, ents, 1, true);
    assert_int_equal(extract_lim(f, "1.0", NULL), 0);
    assert_int_equal(extract_lim(f, "1.0", NULL), -EEXIST);
    assert_string_equal(f->err, "release 1.0 already exists");
    assert_int_equal(count_entries(f->releases), 1);
}

static void install_refuses_existing_version(void **state)
{
    /* the version appears between extraction and install: the rename never replaces it */
    struct fx *f = *state;
    const struct ent ents[] = {{F, "a", "new", 0, 0}};
    write_archive(f->artifact, ents, 1, true);
    int fd = open(f->artifact, O_RDONLY | O_CLOEXEC);
    char tmp[64];
    assert_int_equal(baton_release_extract(f->root, fd, "2.0", NULL, tmp, sizeof(tmp), NULL, f->err,
                                           sizeof(f->err)),
                     0);
    close(fd);
    assert_int_equal(mkdir(rel_path(f, "2.0", ""), 0755), 0);
    assert_int_equal(baton_release_install(f->root, tmp, "2.0", f->err, sizeof(f->err)), -EEXIST);
    assert_string_equal(f->err, "release 2.0 already exists");
    assert_int_equal(count_entries(f->releases), 1);
}

static void refuses_root_as_file(void **state)
{
    const struct ent ents[] = {{F, ".", "x", 0, 0}};
    REFUSED(*state, ents, -EPERM, "names the release directory itself");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(extracts_a_release),
        T(drops_setuid_and_setgid),
        T(refuses_absolute_path),
        T(refuses_dotdot),
        T(refuses_dotdot_inside),
        T(refuses_dotdot_that_stays_inside),
        T(refuses_symlink_absolute),
        T(refuses_symlink_leaving),
        T(refuses_symlink_dotdot_after_name),
        T(refuses_empty_symlink),
        T(refuses_hardlink_leaving),
        T(refuses_hardlink_absolute),
        T(refuses_hardlink_to_missing),
        T(refuses_hardlink_to_symlink),
        T(refuses_hardlink_through_symlink),
        T(refuses_write_through_symlink),
        T(refuses_write_through_dot_symlink),
        T(refuses_file_over_symlink),
        T(refuses_char_device),
        T(refuses_block_device),
        T(refuses_fifo),
        T(refuses_duplicate_file),
        T(refuses_duplicate_dir_over_file),
        T(refuses_duplicate_dir),
        T(refuses_too_many_entries),
        T(refuses_too_large),
        T(refuses_one_file_too_large),
        T(refuses_compression_bomb),
        T(accepts_compressible_under_floor),
        T(refuses_name_longer_than_path_max),
        T(refuses_component_longer_than_name_max),
        T(refuses_truncated),
        T(refuses_plain_tar),
        T(refuses_empty_file),
        T(refuses_gzip_of_not_a_tar),
        T(refuses_empty_archive),
        T(refuses_existing_version),
        T(install_refuses_existing_version),
        T(refuses_root_as_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
