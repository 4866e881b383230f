/* SPDX-License-Identifier: MIT */
/* Artifacts: hashing, the .sha256 beside the file, and the whole pre-extraction verification. */
#include "deploy/internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"

#define CHUNK (1u << 20)

static void hash_bytes(const uint8_t *p, size_t n, uint8_t sha256[32], uint8_t blake2b[64])
{
    crypto_hash_sha256_state sh;
    crypto_generichash_state bs;
    crypto_hash_sha256_init(&sh);
    if (blake2b)
        crypto_generichash_init(&bs, NULL, 0, 64);
    /* one pass over the data, chunk by chunk, so both hashes read it while it is in cache */
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        crypto_hash_sha256_update(&sh, p + off, k);
        if (blake2b)
            crypto_generichash_update(&bs, p + off, k);
    }
    crypto_hash_sha256_final(&sh, sha256);
    if (blake2b)
        crypto_generichash_final(&bs, blake2b, 64);
}

/* Maps the whole file read-only (an empty file maps to NULL, len 0). */
static int map_file(int fd, const uint8_t **ret_p, size_t *ret_len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if ((uint64_t)st.st_size > SIZE_MAX)
        return -EFBIG;
    *ret_len = (size_t)st.st_size;
    *ret_p = NULL;
    if (st.st_size == 0)
        return 0;
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    (void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL | MADV_WILLNEED);
    *ret_p = p;
    return 0;
}

int baton_artifact_hash(int fd, uint8_t sha256[32], uint8_t blake2b[64], off_t *ret_size)
{
    if (sodium_init() < 0)
        return -ENOSYS;
    const uint8_t *p;
    size_t n;
    int r = map_file(fd, &p, &n);
    if (r < 0)
        return r;
    hash_bytes(p, n, sha256, blake2b);
    if (p)
        munmap((void *)p, n);
    if (ret_size)
        *ret_size = (off_t)n;
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int baton_artifact_check_sha256(const char *artifact, const char *sha256_hex, char *err,
                                size_t errsz)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s.sha256", artifact) >= sizeof(path))
        return baton__deploy_fail(err, errsz, -ENAMETOOLONG, "artifact path too long");
    char buf[16384];
    size_t len;
    int r = baton__deploy_read_file(path, buf, sizeof(buf), &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return baton__deploy_fail(err, errsz, r == -EFBIG ? -EBADMSG : r, "cannot read %s: %s",
                                  path, r == -EFBIG ? "too large" : strerror(-r));
    const char *name = base_name(artifact);
    bool any = false;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (n == 0)
            continue;
        /* "<64 hex> <space or space-star><name>", coreutils' two output forms */
        size_t h = 0;
        while (h < n && isxdigit((unsigned char)line[h]))
            h++;
        if (h != 64 || n < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
            return baton__deploy_fail(err, errsz, -EBADMSG,
                                      "malformed %s (expected sha256sum's \"HASH  NAME\" lines)",
                                      path);
        any = true;
        if (strcmp(base_name(line + 66), name) != 0)
            continue;
        line[64] = '\0';
        for (char *c = line; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (strcmp(line, sha256_hex) != 0)
            return baton__deploy_fail(err, errsz, -EPERM,
                                      "checksum mismatch: %s says %s, the artifact is %s", path,
                                      line, sha256_hex);
        return 1;
    }
    if (!any)
        return baton__deploy_fail(err, errsz, -EBADMSG, "malformed %s (no checksum line)", path);
    return baton__deploy_fail(err, errsz, -EPERM, "%s does not name %s", path, name);
}

int baton_artifact_verify(const struct baton_verify_request *req, struct baton_verified *ret,
                          char *err, size_t errsz)
{
    if (!req || !req->artifact || !ret)
        return -EINVAL;
    struct baton_verified v = {0};
    struct baton_minisign_key key;
    struct baton_minisig sig;
    bool have_sig = false;
    const uint8_t *map = NULL;
    size_t maplen = 0;
    int fd = -1, r;
    char path[PATH_MAX];
    const char *name = base_name(req->artifact);

    if (sodium_init() < 0)
        return baton__deploy_fail(err, errsz, -ENOSYS, "libsodium failed to initialise");
    fd = open(req->artifact, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "cannot open artifact %s: %s", req->artifact,
                               strerror(errno));
        goto out;
    }
    if (req->trust) {
        r = baton_minisign_key_load(req->trust, &key, err, errsz);
        if (r < 0)
            goto out;
        if ((size_t)snprintf(path, sizeof(path), "%s.minisig", req->artifact) >= sizeof(path)) {
            r = baton__deploy_fail(err, errsz, -ENAMETOOLONG, "artifact path too long");
            goto out;
        }
        char text[4096];
        size_t len;
        r = baton__deploy_read_file(path, text, sizeof(text), &len);
        if (r == -ENOENT) {
            r = baton__deploy_fail(err, errsz, -EPERM,
                                   "artifact not signed: %s missing (release.trust requires a "
                                   "signature)",
                                   path);
            goto out;
        }
        if (r < 0) {
            r = baton__deploy_fail(err, errsz, r == -EFBIG ? -EBADMSG : r, "cannot read %s: %s",
                                   path, r == -EFBIG ? "too large" : strerror(-r));
            goto out;
        }
        r = baton_minisig_parse(text, len, &sig, err, errsz);
        if (r < 0)
            goto out;
        have_sig = true;
    }

    r = map_file(fd, &map, &maplen);
    if (r < 0) {
        r = baton__deploy_fail(err, errsz, r, "cannot read artifact %s: %s", req->artifact,
                               r == -EINVAL ? "not a regular file" : strerror(-r));
        goto out;
    }
    uint8_t sha256[32], blake2b[64];
    hash_bytes(map, maplen, sha256, have_sig && sig.prehashed ? blake2b : NULL);
    baton__hex_encode(sha256, 32, v.sha256);
    v.size = (off_t)maplen;

    r = baton_artifact_check_sha256(req->artifact, v.sha256, err, errsz);
    if (r < 0)
        goto out;
    v.sha256_checked = r == 1;
    if (!v.sha256_checked && req->require_sha256) {
        r = baton__deploy_fail(err, errsz, -EPERM, "checksum file %s.sha256 missing",
                               req->artifact);
        goto out;
    }

    char cfile[NAME_MAX + 1] = "", cversion[BATON_VERSION_MAX + 1] = "";
    if (have_sig) {
        r = baton_minisig_verify(&sig, &key, map, maplen, blake2b, err, errsz);
        if (r < 0)
            goto out;
        v.signed_ = true;
        baton__key_id_hex(sig.id, v.key_id);
        snprintf(v.comment, sizeof(v.comment), "%s", sig.comment);
        r = baton_minisig_comment_fields(sig.comment, cfile, sizeof(cfile), cversion,
                                         sizeof(cversion));
        if (r < 0) {
            r = baton__deploy_fail(err, errsz, -EPERM, "trusted comment \"%s\": %s", sig.comment,
                                   r == -EBADMSG ? "a field appears twice" : "a field is too long");
            goto out;
        }
        if (!cfile[0]) {
            r = baton__deploy_fail(err, errsz, -EPERM,
                                   "trusted comment \"%s\" names no file (sign with -t "
                                   "\"file:%s version:V\")",
                                   sig.comment, name);
            goto out;
        }
        if (strcmp(cfile, name) != 0) {
            r = baton__deploy_fail(err, errsz, -EPERM,
                                   "signature is for file %s, not %s (trusted comment)", cfile,
                                   name);
            goto out;
        }
        if (!cversion[0]) {
            r = baton__deploy_fail(err, errsz, -EPERM, "trusted comment \"%s\" names no version",
                                   sig.comment);
            goto out;
        }
    }

    char nversion[BATON_VERSION_MAX + 1] = "";
    bool have_nversion = baton_version_from_name(name, nversion, sizeof(nversion)) == 0;
    if (have_sig) {
        if (req->version && strcmp(req->version, cversion) != 0) {
            r = baton__deploy_fail(err, errsz, -EPERM,
                                   "--version %s disagrees with the signed version %s",
                                   req->version, cversion);
            goto out;
        }
        if (have_nversion && strcmp(nversion, cversion) != 0) {
            r = baton__deploy_fail(err, errsz, -EPERM,
                                   "file name says version %s, the signed version is %s", nversion,
                                   cversion);
            goto out;
        }
    }
    const char *version = req->version    ? req->version
                          : cversion[0]   ? cversion
                          : have_nversion ? nversion
                                          : NULL;
    if (!version) {
        r = baton__deploy_fail(err, errsz, -EINVAL,
                               "no version: give --version, or name the artifact "
                               "NAME-VERSION.tar.gz");
        goto out;
    }
    if (!baton_version_valid(version)) {
        r = baton__deploy_fail(err, errsz, -EINVAL,
                               "invalid version \"%.80s\" (1-64 of A-Z a-z 0-9 . _ + ~ -, "
                               "starting with a letter or digit)",
                               version);
        goto out;
    }
    snprintf(v.version, sizeof(v.version), "%s", version);
    r = baton_version_check_downgrade(v.version, req->newest_committed, req->allow_downgrade, err,
                                      errsz);
    if (r < 0)
        goto out;
    *ret = v;
    r = 0;
out:
    if (map)
        munmap((void *)map, maplen);
    if (fd >= 0)
        close(fd);
    return r;
}
