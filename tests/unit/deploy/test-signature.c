/* SPDX-License-Identifier: MIT */
/* minisign formats: keys, signature files, trusted comments, key ids, both signature kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>

#include "helpers.h"
#include "minisign.h"

static void make_sig(const struct kp *k, bool prehashed, const uint8_t *msg, size_t n,
                     const char *comment, char *out, size_t outsz)
{
    make_sig_text(k, prehashed, msg, n, comment, "\r\n", out, outsz);
}

static void verifies_both_kinds_with_crlf(void **state)
{
    assert_true(sodium_init() >= 0);
    struct kp k;
    char pub[256], sigtext[1024], err[256];
    make_key(&k, pub, sizeof(pub));
    struct baton_minisign_key key;
    assert_int_equal(baton_minisign_key_parse(pub, strlen(pub), &key, err, sizeof(err)), 0);
    assert_memory_equal(key.pk, k.pk, 32);
    const uint8_t msg[] = "release bytes";
    for (int pre = 0; pre < 2; pre++) {
        make_sig(&k, pre, msg, sizeof(msg), "file:a version:1", sigtext, sizeof(sigtext));
        struct baton_minisig sig;
        assert_int_equal(baton_minisig_parse(sigtext, strlen(sigtext), &sig, err, sizeof(err)), 0);
        assert_int_equal(sig.prehashed, pre);
        assert_string_equal(sig.comment, "file:a version:1");
        uint8_t h[64];
        crypto_generichash(h, 64, msg, sizeof(msg), NULL, 0);
        assert_int_equal(baton_minisig_verify(&sig, &key, msg, sizeof(msg), h, err, sizeof(err)),
                         0);
        /* one byte less */
        crypto_generichash(h, 64, msg, sizeof(msg) - 1, NULL, 0);
        assert_int_equal(
            baton_minisig_verify(&sig, &key, msg, sizeof(msg) - 1, h, err, sizeof(err)), -EPERM);
    }
}

static void hash_file_gives_blake2b(void **state)
{
    char *dir = tmpdir_new();
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/f", dir);
    assert_int_equal(write_file(p, "abc", 3), 0);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    uint8_t s[32], b[64], want[64];
    off_t size;
    assert_int_equal(baton_artifact_hash(fd, s, b, &size), 0);
    close(fd);
    assert_int_equal(size, 3);
    crypto_generichash(want, 64, (const uint8_t *)"abc", 3, NULL, 0);
    assert_memory_equal(b, want, 64);
    /* SHA-256("abc") */
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(s, abc, 32);
    tmpdir_remove(dir);
}

static void refuses_unknown_algorithm(void **state)
{
    struct kp k;
    char pub[256], sigtext[1024], err[256];
    make_key(&k, pub, sizeof(pub));
    make_sig(&k, true, (const uint8_t *)"x", 1, "c", sigtext, sizeof(sigtext));
    /* "RUR" is base64 of "ED"; "RXh" decodes to "Ex" */
    char *l2 = strstr(sigtext, "\r\n") + 2;
    l2[1] = 'X';
    l2[2] = 'h';
    struct baton_minisig sig;
    assert_int_equal(baton_minisig_parse(sigtext, strlen(sigtext), &sig, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "unknown algorithm"));
}

static void refuses_long_comment(void **state)
{
    struct kp k;
    char pub[256], err[256];
    make_key(&k, pub, sizeof(pub));
    char comment[1100], sigtext[4096];
    memset(comment, 'c', 1023);
    comment[1023] = '\0';
    /* 1023 bytes fit */
    make_sig(&k, true, (const uint8_t *)"x", 1, comment, sigtext, sizeof(sigtext));
    struct baton_minisig sig;
    assert_int_equal(baton_minisig_parse(sigtext, strlen(sigtext), &sig, err, sizeof(err)), 0);
    /* 1024 do not */
    char *tc = strstr(sigtext, "trusted comment: c");
    memmove(tc + 18, tc + 17, strlen(tc + 17) + 1);
    assert_int_equal(baton_minisig_parse(sigtext, strlen(sigtext), &sig, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "trusted comment too long"));
}

static void refuses_key_of_wrong_size_and_kind(void **state)
{
    char err[256];
    struct baton_minisign_key key;
    assert_int_equal(baton_minisign_key_parse("", 0, &key, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "no key line"));
    uint8_t raw[42] = {'X', 'y'};
    char line[128];
    b64(raw, 42, line, sizeof(line));
    assert_int_equal(baton_minisign_key_parse(line, strlen(line), &key, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "not Ed25519"));
    b64(raw, 40, line, sizeof(line));
    assert_int_equal(baton_minisign_key_parse(line, strlen(line), &key, err, sizeof(err)),
                     -EBADMSG);
}

static void splits_comment_fields(void **state)
{
    char file[64], version[16];
    assert_int_equal(baton_minisig_comment_fields("timestamp:1 file:a.tar.gz\tversion:1.2 x", file,
                                                  sizeof(file), version, sizeof(version)),
                     0);
    assert_string_equal(file, "a.tar.gz");
    assert_string_equal(version, "1.2");
    assert_int_equal(baton_minisig_comment_fields("", file, sizeof(file), version, sizeof(version)),
                     0);
    assert_string_equal(file, "");
    assert_int_equal(
        baton_minisig_comment_fields("file:a file:b", file, sizeof(file), version, sizeof(version)),
        -EBADMSG);
    assert_int_equal(baton_minisig_comment_fields("version:12345678901234567890", file,
                                                  sizeof(file), version, sizeof(version)),
                     -ENAMETOOLONG);
    /* "filename:" is not "file:" */
    assert_int_equal(
        baton_minisig_comment_fields("filename:x", file, sizeof(file), version, sizeof(version)),
        0);
    assert_string_equal(file, "");
}

static void key_id_in_minisign_order(void **state)
{
    const uint8_t id[8] = {0x8b, 0x87, 0x35, 0x45, 0x5c, 0xc1, 0x91, 0x53};
    char hex[BATON_KEYID_HEX];
    baton__key_id_hex(id, hex);
    assert_string_equal(hex, "5391C15C4535878B");
    /* minisign prints "%" PRIX64: a key number below 2^60 has fewer than 16 digits. */
    const uint8_t low[8] = {0xbe, 0xce, 0x05, 0xf3, 0x71, 0x34, 0x89, 0x08};
    baton__key_id_hex(low, hex);
    assert_string_equal(hex, "8893471F305CEBE");
    const uint8_t zero[8] = {0};
    baton__key_id_hex(zero, hex);
    assert_string_equal(hex, "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verifies_both_kinds_with_crlf),
        cmocka_unit_test(hash_file_gives_blake2b),
        cmocka_unit_test(refuses_unknown_algorithm),
        cmocka_unit_test(refuses_long_comment),
        cmocka_unit_test(refuses_key_of_wrong_size_and_kind),
        cmocka_unit_test(splits_comment_fields),
        cmocka_unit_test(key_id_in_minisign_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
