/* SPDX-License-Identifier: MIT */
/* Verification of artifacts: .sha256, minisign signatures made by the real minisign tool (both
 * kinds), trusted comments, versions and downgrades. Each refusal has its own message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>

#include "helpers.h"

struct fx {
    char *dir;
    char key[PATH_MAX], other_key[PATH_MAX];
    char keyid[32];
    char art[PATH_MAX];
    char err[512];
    struct baton_verified v;
};

static char keydir[] = "/tmp/baton-deploy-keys-XXXXXX";

/* Two unencrypted keys for the whole run (minisign -G -W). */
static int group_setup(void **state)
{
    if (!mkdtemp(keydir))
        return -1;
    if (run("cd %s && minisign -G -W -p a.pub -s a.sec >/dev/null 2>&1 && "
            "minisign -G -W -p b.pub -s b.sec >/dev/null 2>&1",
            keydir) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    run("rm -rf %s", keydir);
    return 0;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    snprintf(f->key, sizeof(f->key), "%s/a.pub", keydir);
    snprintf(f->other_key, sizeof(f->other_key), "%s/b.pub", keydir);
    char *pub = read_text(f->key);
    /* "untrusted comment: minisign public key 5391C15C4535878B" */
    char *id = strstr(pub, "public key ");
    assert_non_null(id);
    id += strlen("public key ");
    snprintf(f->keyid, sizeof(f->keyid), "%.*s", (int)strcspn(id, "\r\n"), id);
    free(pub);
    snprintf(f->art, sizeof(f->art), "%s/hello-1.4.0.tar.gz", f->dir);
    assert_int_equal(write_file(f->art, "\x1f\x8b pretend tarball contents\n", 28), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* minisign -S with key "a" or "b"; legacy adds -l. */
static void sign(struct fx *f, const char *keyname, bool legacy, const char *comment)
{
    assert_int_equal(run("minisign -S %s -s %s/%s.sec -m %s -t '%s' >/dev/null 2>&1",
                         legacy ? "-l" : "", keydir, keyname, f->art, comment),
                     0);
}

static void make_sha256(struct fx *f)
{
    assert_int_equal(
        run("cd %s && sha256sum %s > %s.sha256", f->dir, strrchr(f->art, '/') + 1, f->art), 0);
}

static int verify(struct fx *f, const char *trust, const char *version, const char *newest,
                  bool allow, bool require_sha)
{
    struct baton_verify_request req = {
        .artifact = f->art,
        .version = version,
        .trust = trust,
        .newest_committed = newest,
        .allow_downgrade = allow,
        .require_sha256 = require_sha,
    };
    f->err[0] = '\0';
    memset(&f->v, 0, sizeof(f->v));
    return baton_artifact_verify(&req, &f->v, f->err, sizeof(f->err));
}

static void expect(struct fx *f, int got, int want, const char *msg)
{
    if (got != want || !strstr(f->err, msg))
        fail_msg("got %d \"%s\", want %d \"%s\"", got, f->err, want, msg);
}

/* ---- sha256 ---- */

static void hash_matches_sha256sum(void **state)
{
    struct fx *f = *state;
    make_sha256(f);
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s.sha256", f->art);
    char *line = read_text(path);
    assert_int_equal(verify(f, NULL, NULL, NULL, false, true), 0);
    assert_memory_equal(line, f->v.sha256, 64);
    assert_true(f->v.sha256_checked);
    assert_false(f->v.signed_);
    assert_string_equal(f->v.version, "1.4.0");
    assert_int_equal(f->v.size, 28);
    free(line);
}

static void sha256_binary_marker_and_upper_case(void **state)
{
    struct fx *f = *state;
    assert_int_equal(verify(f, NULL, NULL, NULL, false, false), 0);
    char line[256], path[PATH_MAX + 8];
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = (char)toupper((unsigned char)f->v.sha256[i]);
    upper[64] = '\0';
    snprintf(line, sizeof(line), "%s *dist/hello-1.4.0.tar.gz\r\n", upper);
    snprintf(path, sizeof(path), "%s.sha256", f->art);
    assert_int_equal(write_file(path, line, strlen(line)), 0);
    assert_int_equal(verify(f, NULL, NULL, NULL, false, true), 0);
    assert_true(f->v.sha256_checked);
}

static void sha256_wrong(void **state)
{
    struct fx *f = *state;
    make_sha256(f);
    assert_int_equal(write_file(f->art, "\x1f\x8b other bytes", 14), 0);
    expect(f, verify(f, NULL, NULL, NULL, false, false), -EPERM, "checksum mismatch");
}

static void sha256_names_another_file(void **state)
{
    struct fx *f = *state;
    make_sha256(f);
    assert_int_equal(run("sed -i 's/hello-1.4.0/hello-1.3.0/' %s.sha256", f->art), 0);
    expect(f, verify(f, NULL, NULL, NULL, false, false), -EPERM,
           "does not name hello-1.4.0.tar.gz");
}

static void sha256_malformed(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s.sha256", f->art);
    assert_int_equal(write_file(path, "deadbeef  hello-1.4.0.tar.gz\n", 29), 0);
    expect(f, verify(f, NULL, NULL, NULL, false, false), -EBADMSG, "malformed");
}

static void sha256_empty(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s.sha256", f->art);
    assert_int_equal(write_file(path, "\n", 1), 0);
    expect(f, verify(f, NULL, NULL, NULL, false, false), -EBADMSG, "no checksum line");
}

static void sha256_missing_when_required(void **state)
{
    struct fx *f = *state;
    expect(f, verify(f, NULL, NULL, NULL, false, true), -EPERM, ".sha256 missing");
    assert_int_equal(verify(f, NULL, NULL, NULL, false, false), 0);
    assert_false(f->v.sha256_checked);
}

static void sha256_of_several_files(void **state)
{
    struct fx *f = *state;
    make_sha256(f);
    assert_int_equal(run("cd %s && echo x > other && sha256sum other >> %s.sha256", f->dir, f->art),
                     0);
    assert_int_equal(verify(f, NULL, NULL, NULL, false, true), 0);
}

/* ---- signatures ---- */

static void prehashed_signature_verifies(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    assert_int_equal(verify(f, f->key, NULL, NULL, false, false), 0);
    assert_true(f->v.signed_);
    assert_string_equal(f->v.key_id, f->keyid);
    assert_string_equal(f->v.version, "1.4.0");
    assert_string_equal(f->v.comment, "file:hello-1.4.0.tar.gz version:1.4.0");
}

static void legacy_signature_verifies(void **state)
{
    struct fx *f = *state;
    sign(f, "a", true, "file:hello-1.4.0.tar.gz version:1.4.0");
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s.minisig", f->art);
    char *sig = read_text(path);
    assert_non_null(strstr(sig, "\nRW")); /* "Ed": legacy */
    free(sig);
    /* signed, but no .sha256 where one is required */
    expect(f, verify(f, f->key, NULL, NULL, false, true), -EPERM, ".sha256 missing");
    assert_int_equal(verify(f, f->key, NULL, NULL, false, false), 0);
    assert_true(f->v.signed_);
}

static void missing_signature(void **state)
{
    struct fx *f = *state;
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM, "artifact not signed");
}

static void malformed_signature(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s.minisig", f->art);
    assert_int_equal(write_file(path, "not a signature\n", 16), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EBADMSG,
           "malformed signature: no untrusted comment line");
}

static void signature_without_global_line(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    assert_int_equal(run("sed -i '4d' %s.minisig", f->art), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EBADMSG,
           "malformed signature: bad global signature line");
}

static void signature_bad_base64(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    assert_int_equal(run("sed -i '2s/^..../!!!!/' %s.minisig", f->art), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EBADMSG,
           "malformed signature: bad signature line");
}

static void wrong_key(void **state)
{
    struct fx *f = *state;
    sign(f, "b", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM, "but release.trust is key");
}

static void wrong_key_same_id(void **state)
{
    /* a signature claiming key a's id but made by key b: the id matches, the math does not */
    struct fx *f = *state;
    sign(f, "b", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    char *a = read_text(f->key), *b = read_text(f->other_key);
    char *sigpath = strcat(strcpy(malloc(PATH_MAX + 8), f->art), ".minisig");
    char *sig = read_text(sigpath);
    struct baton_minisign_key ka, kb;
    assert_int_equal(baton_minisign_key_parse(a, strlen(a), &ka, NULL, 0), 0);
    assert_int_equal(baton_minisign_key_parse(b, strlen(b), &kb, NULL, 0), 0);
    struct baton_minisig s;
    assert_int_equal(baton_minisig_parse(sig, strlen(sig), &s, NULL, 0), 0);
    memcpy(s.id, ka.id, 8);
    uint8_t h[64] = {0};
    expect(f, baton_minisig_verify(&s, &ka, NULL, 0, h, f->err, sizeof(f->err)), -EPERM,
           "trusted comment signature invalid");
    free(a);
    free(b);
    free(sig);
    free(sigpath);
}

static void tampered_file_prehashed(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    assert_int_equal(run("printf x >> %s", f->art), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM,
           "signature does not match the artifact");
}

static void tampered_file_legacy(void **state)
{
    struct fx *f = *state;
    sign(f, "a", true, "file:hello-1.4.0.tar.gz version:1.4.0");
    assert_int_equal(run("printf x >> %s", f->art), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM,
           "signature does not match the artifact");
}

static void tampered_trusted_comment(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    assert_int_equal(run("sed -i 's/version:1.4.0/version:9.9.9/' %s.minisig", f->art), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM,
           "trusted comment signature invalid");
}

static void tampered_global_signature(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    /* the first base64 digit changes whatever it was */
    assert_int_equal(run("sed -i -e '4s/^A/Q/' -e '4s/^[^Q]/A/' %s.minisig", f->art), 0);
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM,
           "trusted comment signature invalid");
}

static void comment_names_another_file(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.3.0.tar.gz version:1.4.0");
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM,
           "signature is for file hello-1.3.0.tar.gz, not hello-1.4.0.tar.gz");
}

static void comment_names_no_file(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "timestamp:1700000000 version:1.4.0");
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM, "names no file");
}

static void comment_names_no_version(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz");
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM, "names no version");
}

static void comment_field_twice(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0 version:2.0");
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM, "a field appears twice");
}

static void comment_version_disagrees_with_flag(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    expect(f, verify(f, f->key, "1.5.0", NULL, false, false), -EPERM,
           "--version 1.5.0 disagrees with the signed version 1.4.0");
    assert_int_equal(verify(f, f->key, "1.4.0", NULL, false, false), 0);
}

static void comment_version_disagrees_with_name(void **state)
{
    /* a validly signed 1.3.0 renamed to look like 1.4.0 (a version/name substitution) */
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.3.0");
    expect(f, verify(f, f->key, NULL, NULL, false, false), -EPERM,
           "file name says version 1.4.0, the signed version is 1.3.0");
}

static void version_from_comment(void **state)
{
    struct fx *f = *state;
    char old[PATH_MAX];
    strcpy(old, f->art);
    snprintf(f->art, sizeof(f->art), "%s/app.tar.gz", f->dir);
    assert_int_equal(rename(old, f->art), 0);
    sign(f, "a", false, "file:app.tar.gz version:2.1.0-rc1");
    assert_int_equal(verify(f, f->key, NULL, NULL, false, false), 0);
    assert_string_equal(f->v.version, "2.1.0-rc1");
}

static void version_from_name_and_flag(void **state)
{
    struct fx *f = *state;
    assert_int_equal(verify(f, NULL, NULL, NULL, false, false), 0);
    assert_string_equal(f->v.version, "1.4.0");
    assert_int_equal(verify(f, NULL, "7.0", NULL, false, false), 0);
    assert_string_equal(f->v.version, "7.0");
}

static void no_version(void **state)
{
    struct fx *f = *state;
    char old[PATH_MAX];
    strcpy(old, f->art);
    snprintf(f->art, sizeof(f->art), "%s/app.tar.gz", f->dir);
    assert_int_equal(rename(old, f->art), 0);
    expect(f, verify(f, NULL, NULL, NULL, false, false), -EINVAL, "no version: give --version");
}

static void invalid_version(void **state)
{
    struct fx *f = *state;
    expect(f, verify(f, NULL, "../../etc", NULL, false, false), -EINVAL, "invalid version");
    expect(f, verify(f, NULL, ".hidden", NULL, false, false), -EINVAL, "invalid version");
}

static void downgrade_refused(void **state)
{
    struct fx *f = *state;
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    expect(f, verify(f, f->key, NULL, "1.10.0", false, false), -EPERM,
           "downgrade refused: 1.4.0 is older than the committed 1.10.0");
    assert_int_equal(verify(f, f->key, NULL, "1.10.0", true, false), 0);
    assert_int_equal(verify(f, f->key, NULL, "1.3.9", false, false), 0);
}

static void same_version_refused(void **state)
{
    struct fx *f = *state;
    expect(f, verify(f, NULL, NULL, "1.4.0", false, false), -EPERM,
           "already the newest committed release");
}

static void malformed_public_key(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/bad.pub", f->dir);
    assert_int_equal(write_file(path, "untrusted comment: x\nAAAA\n", 26), 0);
    sign(f, "a", false, "file:hello-1.4.0.tar.gz version:1.4.0");
    expect(f, verify(f, path, NULL, NULL, false, false), -EBADMSG, "malformed public key");
    snprintf(path, sizeof(path), "%s/none.pub", f->dir);
    expect(f, verify(f, path, NULL, NULL, false, false), -ENOENT, "cannot read public key");
}

static void unsigned_without_trust_ignores_minisig(void **state)
{
    struct fx *f = *state;
    sign(f, "b", false, "file:other version:0");
    assert_int_equal(verify(f, NULL, NULL, NULL, false, false), 0);
    assert_false(f->v.signed_);
    assert_string_equal(f->v.key_id, "");
}

static void missing_artifact(void **state)
{
    struct fx *f = *state;
    strcat(f->art, ".nope");
    expect(f, verify(f, NULL, NULL, NULL, false, false), -ENOENT, "cannot open artifact");
}

static void artifact_is_a_directory(void **state)
{
    struct fx *f = *state;
    snprintf(f->art, sizeof(f->art), "%s", f->dir);
    expect(f, verify(f, NULL, "1.0", NULL, false, false), -EINVAL, "not a regular file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(hash_matches_sha256sum),
        T(sha256_binary_marker_and_upper_case),
        T(sha256_wrong),
        T(sha256_names_another_file),
        T(sha256_malformed),
        T(sha256_empty),
        T(sha256_missing_when_required),
        T(sha256_of_several_files),
        T(prehashed_signature_verifies),
        T(legacy_signature_verifies),
        T(missing_signature),
        T(malformed_signature),
        T(signature_without_global_line),
        T(signature_bad_base64),
        T(wrong_key),
        T(wrong_key_same_id),
        T(tampered_file_prehashed),
        T(tampered_file_legacy),
        T(tampered_trusted_comment),
        T(tampered_global_signature),
        T(comment_names_another_file),
        T(comment_names_no_file),
        T(comment_names_no_version),
        T(comment_field_twice),
        T(comment_version_disagrees_with_flag),
        T(comment_version_disagrees_with_name),
        T(version_from_comment),
        T(version_from_name_and_flag),
        T(no_version),
        T(invalid_version),
        T(downgrade_refused),
        T(same_version_refused),
        T(malformed_public_key),
        T(unsigned_without_trust_ignores_minisig),
        T(missing_artifact),
        T(artifact_is_a_directory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
