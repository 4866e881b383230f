/* SPDX-License-Identifier: MIT */
/* minisign public keys and signatures (legacy "Ed" and prehashed "ED"), trusted comments. */
#include "deploy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#define UNTRUSTED "untrusted comment: "
#define TRUSTED   "trusted comment: "

/* The next line of text[*pos..len) without its "\n" or "\r\n"; NULL past the end. */
static const char *next_line(const char *text, size_t len, size_t *pos, size_t *ret_n)
{
    if (*pos >= len)
        return NULL;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    *ret_n = n;
    return start;
}

static int b64_decode(const char *s, size_t n, uint8_t *out, size_t outsz, size_t *ret_len)
{
    /* trailing spaces are tolerated, as minisign does */
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (sodium_base642bin(out, outsz, s, n, NULL, ret_len, NULL, sodium_base64_VARIANT_ORIGINAL) !=
        0)
        return -EBADMSG;
    return 0;
}

int baton_minisign_key_parse(const char *text, size_t len, struct baton_minisign_key *ret_key,
                             char *err, size_t errsz)
{
    size_t pos = 0, n;
    const char *line;
    while ((line = next_line(text, len, &pos, &n))) {
        if (n == 0 ||
            (n >= sizeof(UNTRUSTED) - 1 && !memcmp(line, UNTRUSTED, sizeof(UNTRUSTED) - 1)))
            continue;
        uint8_t raw[64];
        size_t rawlen;
        if (b64_decode(line, n, raw, sizeof(raw), &rawlen) < 0 || rawlen != 42)
            return baton__deploy_fail(err, errsz, -EBADMSG,
                                      "malformed public key (not a minisign key line)");
        if (raw[0] != 'E' || raw[1] != 'd')
            return baton__deploy_fail(err, errsz, -EBADMSG,
                                      "unsupported public key algorithm (not Ed25519)");
        memcpy(ret_key->id, raw + 2, 8);
        memcpy(ret_key->pk, raw + 10, 32);
        return 0;
    }
    return baton__deploy_fail(err, errsz, -EBADMSG, "malformed public key (no key line)");
}

int baton_minisign_key_load(const char *path, struct baton_minisign_key *ret_key, char *err,
                            size_t errsz)
{
    char buf[4096];
    size_t len = 0;
    int r = baton__deploy_read_file(path, buf, sizeof(buf), &len);
    if (r < 0)
        return baton__deploy_fail(err, errsz, r, "cannot read public key %s: %s", path,
                                  strerror(-r));
    return baton_minisign_key_parse(buf, len, ret_key, err, errsz);
}

int baton_minisig_parse(const char *text, size_t len, struct baton_minisig *ret_sig, char *err,
                        size_t errsz)
{
    size_t pos = 0, n;
    const char *line = next_line(text, len, &pos, &n);
    if (!line || n < sizeof(UNTRUSTED) - 1 || memcmp(line, UNTRUSTED, sizeof(UNTRUSTED) - 1))
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed signature: no untrusted comment line");
    line = next_line(text, len, &pos, &n);
    uint8_t raw[128];
    size_t rawlen;
    if (!line || b64_decode(line, n, raw, sizeof(raw), &rawlen) < 0 || rawlen != 74)
        return baton__deploy_fail(err, errsz, -EBADMSG, "malformed signature: bad signature line");
    struct baton_minisig sig = {0};
    if (raw[0] == 'E' && raw[1] == 'd')
        sig.prehashed = false;
    else if (raw[0] == 'E' && raw[1] == 'D')
        sig.prehashed = true;
    else
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed signature: unknown algorithm %02x%02x", raw[0],
                                  raw[1]);
    memcpy(sig.id, raw + 2, 8);
    memcpy(sig.sig, raw + 10, 64);
    line = next_line(text, len, &pos, &n);
    if (!line || n < sizeof(TRUSTED) - 1 || memcmp(line, TRUSTED, sizeof(TRUSTED) - 1))
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed signature: no trusted comment line");
    size_t clen = n - (sizeof(TRUSTED) - 1);
    if (clen >= sizeof(sig.comment))
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed signature: trusted comment too long");
    memcpy(sig.comment, line + sizeof(TRUSTED) - 1, clen);
    sig.comment[clen] = '\0';
    if (memchr(sig.comment, '\0', clen))
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed signature: NUL in the trusted comment");
    line = next_line(text, len, &pos, &n);
    if (!line || b64_decode(line, n, raw, sizeof(raw), &rawlen) < 0 || rawlen != 64)
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed signature: bad global signature line");
    memcpy(sig.global_sig, raw, 64);
    *ret_sig = sig;
    return 0;
}

/* The key id as minisign prints it ("%" PRIX64 of the little-endian key number: upper-case, no
 * leading zeros), so that it compares with what `minisign -G` and the .pub file's comment say. */
static void key_id_hex(const uint8_t id[8], char out[BATON_KEYID_HEX])
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        uint8_t byte = id[7 - i / 2];
        uint8_t nibble = i % 2 ? byte & 15 : byte >> 4;
        if (n > 0 || nibble != 0 || i == 15)
            out[n++] = hex[nibble];
    }
    out[n] = '\0';
}

int baton_minisig_verify(const struct baton_minisig *sig, const struct baton_minisign_key *key,
                         const uint8_t *msg, size_t len, const uint8_t blake2b[64], char *err,
                         size_t errsz)
{
    char want[BATON_KEYID_HEX], got[BATON_KEYID_HEX];
    if (sodium_init() < 0)
        return baton__deploy_fail(err, errsz, -ENOSYS, "libsodium failed to initialise");
    if (memcmp(sig->id, key->id, 8) != 0) {
        key_id_hex(key->id, want);
        key_id_hex(sig->id, got);
        return baton__deploy_fail(err, errsz, -EPERM,
                                  "signature by key %s, but release.trust is key %s", got, want);
    }
    size_t clen = strlen(sig->comment);
    uint8_t global[64 + BATON_COMMENT_MAX];
    memcpy(global, sig->sig, 64);
    memcpy(global + 64, sig->comment, clen);
    if (crypto_sign_verify_detached(sig->global_sig, global, 64 + clen, key->pk) != 0)
        return baton__deploy_fail(err, errsz, -EPERM,
                                  "trusted comment signature invalid (comment or signature "
                                  "tampered with)");
    int r;
    if (sig->prehashed) {
        if (!blake2b)
            return baton__deploy_fail(err, errsz, -EINVAL, "prehashed signature needs BLAKE2b");
        r = crypto_sign_verify_detached(sig->sig, blake2b, 64, key->pk);
    } else {
        if (!msg && len > 0)
            return baton__deploy_fail(err, errsz, -EINVAL, "legacy signature needs the file");
        r = crypto_sign_verify_detached(sig->sig, msg ? msg : (const uint8_t *)"", len, key->pk);
    }
    if (r != 0)
        return baton__deploy_fail(err, errsz, -EPERM,
                                  "signature does not match the artifact (file tampered with or "
                                  "signed as another file)");
    return 0;
}

/* Copies the value of "key:" tokens; a second occurrence is -EBADMSG. */
static int take_field(const char *tok, size_t n, const char *key, char *out, size_t outsz,
                      bool *seen)
{
    size_t kl = strlen(key);
    if (n < kl || memcmp(tok, key, kl) != 0)
        return 0;
    if (*seen)
        return -EBADMSG;
    *seen = true;
    if (n - kl >= outsz)
        return -ENAMETOOLONG;
    memcpy(out, tok + kl, n - kl);
    out[n - kl] = '\0';
    return 1;
}

int baton_minisig_comment_fields(const char *comment, char *file, size_t filesz, char *version,
                                 size_t versionsz)
{
    bool seen_file = false, seen_version = false;
    file[0] = version[0] = '\0';
    const char *p = comment;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0)
            continue;
        int r = take_field(start, n, "file:", file, filesz, &seen_file);
        if (r == 0)
            r = take_field(start, n, "version:", version, versionsz, &seen_version);
        if (r < 0)
            return r;
    }
    return 0;
}

void baton__key_id_hex(const uint8_t id[8], char out[BATON_KEYID_HEX])
{
    key_id_hex(id, out);
}
