/* SPDX-License-Identifier: MIT */
/* Versions: `sort -V` order, valid release names, NAME-VERSION.tar.gz, the downgrade check. */
#include "deploy/internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

/* GNU filevercmp's per-character order: '~' before everything (even the end), letters before
 * other characters, digits handled as numbers by the caller. */
static int order(unsigned char c)
{
    if (isdigit(c))
        return 0;
    if (isalpha(c))
        return c;
    if (c == '~')
        return -1;
    return (int)c + 256;
}

/* dpkg's verrevcmp, which GNU sort -V applies to the whole string. */
static int verrevcmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t ai = 0, bi = 0;
    while (ai < alen || bi < blen) {
        int first_diff = 0;
        while ((ai < alen && !isdigit((unsigned char)a[ai])) ||
               (bi < blen && !isdigit((unsigned char)b[bi]))) {
            int ac = ai < alen ? order((unsigned char)a[ai]) : 0;
            int bc = bi < blen ? order((unsigned char)b[bi]) : 0;
            if (ac != bc)
                return ac - bc;
            ai++;
            bi++;
        }
        while (ai < alen && a[ai] == '0')
            ai++;
        while (bi < blen && b[bi] == '0')
            bi++;
        while (ai < alen && bi < blen && isdigit((unsigned char)a[ai]) &&
               isdigit((unsigned char)b[bi])) {
            if (!first_diff)
                first_diff = a[ai] - b[bi];
            ai++;
            bi++;
        }
        if (ai < alen && isdigit((unsigned char)a[ai]))
            return 1;
        if (bi < blen && isdigit((unsigned char)b[bi]))
            return -1;
        if (first_diff)
            return first_diff;
    }
    return 0;
}

/* The length without a file-name suffix (`(\.[A-Za-z~][A-Za-z0-9~]*)*$`), as filevercmp. */
static size_t prefixlen(const char *s, size_t n)
{
    size_t prefix = 0;
    for (size_t i = 0;;) {
        if (i == n)
            return prefix;
        i++;
        prefix = i;
        while (i + 1 < n && s[i] == '.' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '~'))
            for (i += 2; i < n && (isalnum((unsigned char)s[i]) || s[i] == '~'); i++)
                continue;
    }
}

int baton_version_cmp(const char *a, const char *b)
{
    size_t alen = strlen(a), blen = strlen(b);
    size_t ap = prefixlen(a, alen), bp = prefixlen(b, blen);
    int r = verrevcmp(a, ap, b, bp);
    if (!r && !(ap == alen && bp == blen))
        r = verrevcmp(a, alen, b, blen);
    if (r)
        return r < 0 ? -1 : 1;
    /* equal by version order: fall back to bytes, as sort -V does */
    r = strcmp(a, b);
    return r < 0 ? -1 : r > 0;
}

bool baton_version_valid(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > BATON_VERSION_MAX || !isalnum((unsigned char)v[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!isalnum(c) && !strchr("._+~-", c))
            return false;
    }
    return true;
}

int baton_version_from_name(const char *filename, char *out, size_t outsz)
{
    static const char suffix[] = ".tar.gz";
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    size_t n = strlen(base);
    if (n <= sizeof(suffix) - 1 || strcmp(base + n - (sizeof(suffix) - 1), suffix) != 0)
        return -ENOENT;
    n -= sizeof(suffix) - 1;
    for (size_t i = 1; i + 1 < n + 1; i++) {
        if (base[i] == '-' && i + 1 < n && isdigit((unsigned char)base[i + 1])) {
            size_t len = n - i - 1;
            if (len >= outsz)
                return -ENAMETOOLONG;
            memcpy(out, base + i + 1, len);
            out[len] = '\0';
            return 0;
        }
    }
    return -ENOENT;
}

int baton_version_check_downgrade(const char *version, const char *newest_committed, bool allow,
                                  char *err, size_t errsz)
{
    if (!newest_committed || !newest_committed[0] || allow)
        return 0;
    int c = baton_version_cmp(version, newest_committed);
    if (c == 0)
        return baton__deploy_fail(err, errsz, -EPERM,
                                  "version %s is already the newest committed release "
                                  "(--allow-downgrade to deploy it again)",
                                  version);
    if (c < 0)
        return baton__deploy_fail(err, errsz, -EPERM,
                                  "downgrade refused: %s is older than the committed %s "
                                  "(--allow-downgrade to deploy it anyway)",
                                  version, newest_committed);
    return 0;
}
