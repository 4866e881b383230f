/* SPDX-License-Identifier: MIT */
/* Pull mode: the update source (release.source). One poll fetches latest.json conditionally,
 * judges it (signature, expiry, version, failed versions, phase), downloads and checks the
 * artifact, and schedules the next poll. Blocking; see deploy.h for the threading rules. */
#include "deploy/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hex.h"

#define MINISIG_MAX        4096
#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_STALL_MS   30000
#define MACHINE_ID_MAX     128

struct baton_source {
    char *url;
    char *download_dir;
    char latest_name[256]; /* the last path segment of url: what its signature must name */
    bool trusted;
    struct baton_minisign_key key;
    char machine_id[MACHINE_ID_MAX];
    uint64_t interval_ms, max_size, connect_ms, stall_ms;
    uint64_t rng;
    int cancel; /* atomic */

    /* the last latest.json judged: its validators and digest */
    char etag[256];
    char last_modified[64];
    uint8_t digest[32];
    bool have_digest;
    /* the version the caller said failed, and the latest.json it came from */
    char failed_version[BATON_VERSION_MAX + 1];
    uint8_t failed_digest[32];
    bool failed_digest_unknown; /* failed() before any latest.json was judged (a restart) */

    uint64_t next_mono; /* CLOCK_MONOTONIC ms */
    struct baton_source_status st;
};

static const char *const result_names[] = {
    [BATON_POLL_NEVER] = "never",
    [BATON_POLL_NOT_MODIFIED] = "not modified",
    [BATON_POLL_UP_TO_DATE] = "up to date",
    [BATON_POLL_NEW_VERSION] = "new version",
    [BATON_POLL_HELD] = "held",
    [BATON_POLL_REFUSED] = "refused",
    [BATON_POLL_ERROR] = "error",
};

const char *baton_poll_result_name(enum baton_poll_result r)
{
    return (unsigned)r <= BATON_POLL_ERROR ? result_names[r] : "unknown";
}

static long long realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last path segment of url (query and fragment cut off), if it is a safe file name. */
static int url_file_name(const char *url, char *out, size_t outsz)
{
    CURLU *u = curl_url();
    char *path = NULL;
    int r = -EINVAL;
    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    size_t n = strlen(name);
    if (n == 0 || n >= outsz || n > 200 || name[0] == '.')
        goto out;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '~'))
            goto out;
    }
    memcpy(out, name, n + 1);
    r = 0;
out:
    curl_free(path);
    curl_url_cleanup(u);
    return r;
}

static int load_machine_id(const char *path, char *out, size_t outsz, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            return baton__deploy_fail(err, errsz, -errno, "%s: %s", path, strerror(errno));
        /* containers often have no machine id: the host name is the next stablest identity */
        if (gethostname(out, outsz) < 0)
            return baton__deploy_fail(err, errsz, -errno, "no %s and no host name", path);
        out[outsz - 1] = '\0';
        return 0;
    }
    ssize_t n = read(fd, out, outsz - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return baton__deploy_fail(err, errsz, -e, "%s: %s", path, strerror(e));
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\r'))
        n--;
    out[n] = '\0';
    if (n == 0 || memchr(out, '\0', (size_t)n))
        return baton__deploy_fail(err, errsz, -EINVAL, "%s: empty or not a machine id", path);
    return 0;
}

int baton_source_new(const struct baton_source_config *cfg, struct baton_source **ret, char *err,
                     size_t errsz)
{
    struct baton_source *s = NULL;
    int r;
    char scheme_check[BATON_LATEST_URL + 1];

    if (!cfg || !ret || !cfg->url || !cfg->download_dir)
        return baton__deploy_fail(err, errsz, -EINVAL,
                                  "release.source: url and download "
                                  "directory are required");
    if (cfg->interval_ms == 0 || cfg->max_size == 0)
        return baton__deploy_fail(err, errsz, -EINVAL,
                                  "release.source: interval and max_size must be > 0");
    if (sodium_init() < 0)
        return baton__deploy_fail(err, errsz, -ENOSYS, "libsodium failed to initialise");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return baton__deploy_fail(err, errsz, -ENOSYS, "libcurl failed to initialise");
    if (baton__url_resolve(cfg->url, cfg->url, true, scheme_check, sizeof(scheme_check)) < 0)
        return baton__deploy_fail(err, errsz, -EINVAL,
                                  "release.source.url %s: not an http://, https:// or file:// URL",
                                  cfg->url);
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->url = strdup(cfg->url);
    s->download_dir = strdup(cfg->download_dir);
    if (!s->url || !s->download_dir) {
        r = -ENOMEM;
        goto out;
    }
    if (url_file_name(cfg->url, s->latest_name, sizeof(s->latest_name)) < 0) {
        r = baton__deploy_fail(err, errsz, -EINVAL,
                               "release.source.url %s names no file (…/latest.json)", cfg->url);
        goto out;
    }
    if (cfg->trust) {
        r = baton_minisign_key_load(cfg->trust, &s->key, err, errsz);
        if (r < 0)
            goto out;
        s->trusted = true;
    }
    r = load_machine_id(cfg->machine_id ? cfg->machine_id : "/etc/machine-id", s->machine_id,
                        sizeof(s->machine_id), err, errsz);
    if (r < 0)
        goto out;
    if (mkdir(cfg->download_dir, 0700) < 0 && errno != EEXIST) {
        r = baton__deploy_fail(err, errsz, -errno, "%s: %s", cfg->download_dir, strerror(errno));
        goto out;
    }
    s->interval_ms = cfg->interval_ms;
    s->max_size = cfg->max_size;
    s->connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    s->stall_ms = cfg->stall_timeout_ms ? cfg->stall_timeout_ms : DEFAULT_STALL_MS;
    s->rng = cfg->seed;
    if (!s->rng && getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
        s->rng = (uint64_t)realtime_ms() ^ (uint64_t)getpid();
    s->next_mono = baton__clock_now_ms();
    s->st.next_poll = realtime_ms();
    *ret = s;
    s = NULL;
    r = 0;
out:
    baton_source_free(s);
    return r;
}

void baton_source_free(struct baton_source *s)
{
    if (!s)
        return;
    free(s->url);
    free(s->download_dir);
    free(s);
}

void baton_source_failed(struct baton_source *s, const char *version)
{
    if (!s || !version || strlen(version) > BATON_VERSION_MAX)
        return;
    strcpy(s->failed_version, version);
    memcpy(s->failed_digest, s->digest, sizeof(s->digest));
    s->failed_digest_unknown = !s->have_digest;
}

void baton_source_retry(struct baton_source *s)
{
    if (!s)
        return;
    s->etag[0] = '\0';
    s->last_modified[0] = '\0';
}

void baton_source_cancel(struct baton_source *s)
{
    if (s)
        __atomic_store_n(&s->cancel, 1, __ATOMIC_RELEASE);
}

uint64_t baton_source_delay_ms(const struct baton_source *s)
{
    uint64_t now = baton__clock_now_ms();
    return s->next_mono > now ? s->next_mono - now : 0;
}

void baton_source_status(const struct baton_source *s, struct baton_source_status *ret)
{
    *ret = s->st;
}

static void format_time(long long ms, char *out, size_t outsz)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int baton_source_status_format(const struct baton_source_status *st, char *buf, size_t bufsz)
{
    char last[32], next[32], what[BATON_SOURCE_REASON + 64];
    format_time(st->next_poll, next, sizeof(next));
    switch (st->result) {
    case BATON_POLL_NEVER:
        return snprintf(buf, bufsz, "never polled; next poll %s", next);
    case BATON_POLL_UP_TO_DATE:
    case BATON_POLL_NEW_VERSION:
        snprintf(what, sizeof(what), "%s %s", baton_poll_result_name(st->result), st->version);
        break;
    default:
        snprintf(what, sizeof(what), "%s%s%s", baton_poll_result_name(st->result),
                 st->reason[0] ? ": " : "", st->reason);
    }
    format_time(st->last_poll, last, sizeof(last));
    int n = snprintf(buf, bufsz, "last poll %s: %s; next poll %s", last, what, next);
    return n < 0 ? 0 : bufsz && (size_t)n >= bufsz ? (int)bufsz - 1 : n;
}

/* ---- one poll ---- */

struct poll {
    struct baton_source *s;
    struct baton__fetch f;
    enum baton_poll_result result;
    bool judged; /* remember latest.json's validators and digest */
    char etag[256], last_modified[64];
    uint8_t digest[32];
    struct baton_latest latest;
    char latest_url[BATON_LATEST_URL + 1]; /* after redirects */
};

/* Verifies latest.json's signature: latest.json.minisig, by release.trust, naming latest.json
 * and its version. */
static int check_signature(struct poll *p, const char *body, size_t len, char *err, size_t errsz)
{
    struct baton_source *s = p->s;
    char url[BATON_LATEST_URL + 16], *sigtext = NULL;
    size_t siglen;
    struct baton_minisig sig;
    uint8_t blake2b[64];
    int r;

    snprintf(url, sizeof(url), "%s.minisig", s->url);
    r = baton__fetch_mem(&p->f, url, NULL, NULL, MINISIG_MAX, &sigtext, &siglen, err, errsz);
    if (r < 0) {
        p->result = r == -EFBIG ? BATON_POLL_REFUSED : BATON_POLL_ERROR;
        goto out;
    }
    if (r != 200) {
        p->result = BATON_POLL_ERROR;
        r = baton__deploy_fail(err, errsz, r == 404 ? -ENOENT : -EPROTO,
                               "%s.minisig: HTTP %d (release.trust requires a signed %s)",
                               s->latest_name, r, s->latest_name);
        goto out;
    }
    p->result = BATON_POLL_REFUSED;
    char why[256];
    r = baton_minisig_parse(sigtext, siglen, &sig, why, sizeof(why));
    if (r < 0) {
        r = baton__deploy_fail(err, errsz, -EPERM, "%s.minisig is malformed: %s", s->latest_name,
                               why);
        goto out;
    }
    crypto_generichash(blake2b, sizeof(blake2b), (const uint8_t *)body, len, NULL, 0);
    r = baton_minisig_verify(&sig, &s->key, (const uint8_t *)body, len, blake2b, why, sizeof(why));
    if (r < 0) {
        r = baton__deploy_fail(err, errsz, -EPERM, "%s signature refused: %s", s->latest_name, why);
        goto out;
    }
    char cfile[256], cversion[BATON_VERSION_MAX + 1];
    r = baton_minisig_comment_fields(sig.comment, cfile, sizeof(cfile), cversion, sizeof(cversion));
    if (r < 0) {
        r = baton__deploy_fail(err, errsz, -EPERM, "%s trusted comment \"%s\" is malformed",
                               s->latest_name, sig.comment);
        goto out;
    }
    if (strcmp(cfile, s->latest_name) != 0) {
        r = baton__deploy_fail(err, errsz, -EPERM,
                               "%s signature is for file \"%s\", not %s (trusted comment)",
                               s->latest_name, cfile, s->latest_name);
        goto out;
    }
    if (strcmp(cversion, p->latest.version) != 0) {
        r = baton__deploy_fail(err, errsz, -EPERM,
                               "%s signature is for version \"%s\", but it offers %s (trusted "
                               "comment)",
                               s->latest_name, cversion, p->latest.version);
        goto out;
    }
    r = 0;
out:
    free(sigtext);
    return r;
}

/* Writes data into dirfd/name through name.part, fsynced and renamed into place. */
static int write_beside(int dirfd, const char *name, const char *data, size_t len)
{
    char part[320];
    snprintf(part, sizeof(part), "%s.part", name);
    int fd = openat(dirfd, part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int r = 0;
    for (size_t off = 0; off < len && r == 0;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno != EINTR)
            r = -errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    close(fd);
    if (r == 0 && renameat(dirfd, part, dirfd, name) < 0)
        r = -errno;
    if (r < 0)
        unlinkat(dirfd, part, 0);
    return r;
}

/* Downloads the artifact (and its .minisig with trust) into download_dir. */
static int download(struct poll *p, struct baton_source_update *upd, char *err, size_t errsz)
{
    struct baton_source *s = p->s;
    char url[BATON_LATEST_URL + 1], name[256], part[300], *sigtext = NULL;
    int dirfd = -1, fd = -1, r;
    bool part_exists = false;

    /* a file:// latest.json may name local files; one fetched over HTTP only http(s) ones */
    bool local = !strncasecmp(p->latest_url, "file:", 5);
    if (baton__url_resolve(p->latest_url, p->latest.url, local, url, sizeof(url)) < 0 ||
        url_file_name(url, name, sizeof(name)) < 0) {
        p->judged = true;
        p->result = BATON_POLL_REFUSED;
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "latest.json \"url\" \"%s\" does not name an http(s) file with "
                                  "a plain file name",
                                  p->latest.url);
    }
    dirfd = open(s->download_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "%s: %s", s->download_dir, strerror(errno));
        goto out;
    }
    snprintf(part, sizeof(part), "%s.part", name);
    fd = openat(dirfd, part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "%s/%s: %s", s->download_dir, part,
                               strerror(errno));
        goto out;
    }
    part_exists = true;
    uint8_t sha[32];
    uint64_t size = 0;
    r = baton__fetch_file(&p->f, url, fd, s->max_size, sha, &size, err, errsz);
    if (r == -EFBIG) {
        p->judged = true;
        p->result = BATON_POLL_REFUSED;
        r = baton__deploy_fail(err, errsz, -EFBIG,
                               "artifact %s is larger than release.max_size (%llu bytes)", name,
                               (unsigned long long)s->max_size);
        goto out;
    }
    if (r < 0)
        goto out;
    if (r != 200) {
        r = baton__deploy_fail(err, errsz, r == 404 ? -ENOENT : -EPROTO, "artifact %s: HTTP %d",
                               url, r);
        goto out;
    }
    char got[BATON_SHA256_HEX];
    baton__hex_encode(sha, 32, got);
    if (strcmp(got, p->latest.sha256) != 0) {
        p->judged = true;
        p->result = BATON_POLL_REFUSED;
        r = baton__deploy_fail(err, errsz, -EPERM,
                               "artifact %s has sha256 %s, but latest.json says %s", name, got,
                               p->latest.sha256);
        goto out;
    }
    if (fsync(fd) < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "%s: fsync: %s", part, strerror(errno));
        goto out;
    }
    if (s->trusted) {
        char sigurl[BATON_LATEST_URL + 16];
        size_t siglen;
        snprintf(sigurl, sizeof(sigurl), "%s.minisig", url);
        r = baton__fetch_mem(&p->f, sigurl, NULL, NULL, MINISIG_MAX, &sigtext, &siglen, err, errsz);
        if (r < 0)
            goto out;
        if (r != 200) {
            r = baton__deploy_fail(err, errsz, r == 404 ? -ENOENT : -EPROTO,
                                   "%s: HTTP %d (release.trust requires the artifact's signature)",
                                   sigurl, r);
            goto out;
        }
        char signame[300];
        snprintf(signame, sizeof(signame), "%s.minisig", name);
        r = write_beside(dirfd, signame, sigtext, siglen);
        if (r < 0) {
            r = baton__deploy_fail(err, errsz, r, "%s/%s: %s", s->download_dir, signame,
                                   strerror(-r));
            goto out;
        }
    }
    /* <name>.sha256 as sha256sum writes it: `baton deploy` checks it like a published one */
    char sumname[300], sumline[BATON_SHA256_HEX + 260];
    snprintf(sumname, sizeof(sumname), "%s.sha256", name);
    int sl = snprintf(sumline, sizeof(sumline), "%s  %s\n", got, name);
    r = write_beside(dirfd, sumname, sumline, (size_t)sl);
    if (r < 0) {
        r = baton__deploy_fail(err, errsz, r, "%s/%s: %s", s->download_dir, sumname, strerror(-r));
        goto out;
    }
    if (renameat(dirfd, part, dirfd, name) < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "%s/%s: %s", s->download_dir, name,
                               strerror(errno));
        goto out;
    }
    part_exists = false;
    (void)baton__deploy_fsync_dir(dirfd, ".");
    p->judged = true;
    p->result = BATON_POLL_NEW_VERSION;
    memset(upd, 0, sizeof(*upd));
    strcpy(upd->version, p->latest.version);
    strcpy(upd->sha256, got);
    snprintf(upd->path, sizeof(upd->path), "%s/%s", s->download_dir, name);
    upd->has_minisig = s->trusted;
    r = 1;
out:
    if (part_exists)
        unlinkat(dirfd, part, 0);
    if (fd >= 0)
        close(fd);
    if (dirfd >= 0)
        close(dirfd);
    free(sigtext);
    return r;
}

/* Judges a 200 latest.json body and downloads what it offers. */
static int judge(struct poll *p, const char *body, size_t len, const char *installed,
                 struct baton_source_update *upd, char *err, size_t errsz)
{
    struct baton_source *s = p->s;
    int r;

    crypto_hash_sha256(p->digest, (const uint8_t *)body, len);
    p->judged = true;
    p->result = BATON_POLL_REFUSED;
    r = baton_latest_parse(body, len, &p->latest, err, errsz);
    if (r < 0)
        return r;
    if (s->trusted) {
        /* latest.json and its .minisig are two files, published one after the other: a
         * signature that is missing or does not match is looked at again on every poll, never
         * answered by a 304 for latest.json alone */
        p->judged = false;
        r = check_signature(p, body, len, err, errsz);
        if (r < 0)
            return r;
        p->judged = true;
        p->result = BATON_POLL_REFUSED;
    }
    long long now = realtime_ms() / 1000;
    if (p->latest.expires && now >= p->latest.expires) {
        char when[32];
        format_time(p->latest.expires * 1000, when, sizeof(when));
        return baton__deploy_fail(err, errsz, -ESTALE, "latest.json (%s) expired at %s",
                                  p->latest.version, when);
    }
    if (installed) {
        int c = baton_version_cmp(p->latest.version, installed);
        if (c < 0)
            return baton__deploy_fail(err, errsz, -ESTALE,
                                      "latest.json offers %s, older than the installed %s",
                                      p->latest.version, installed);
        if (c == 0) {
            p->result = BATON_POLL_UP_TO_DATE;
            return 0;
        }
    }
    p->result = BATON_POLL_HELD;
    if (s->failed_version[0] && !strcmp(s->failed_version, p->latest.version) &&
        (s->failed_digest_unknown || !memcmp(s->failed_digest, p->digest, sizeof(p->digest))))
        return baton__deploy_fail(err, errsz, 0,
                                  "version %s failed to deploy; waiting for latest.json to change",
                                  p->latest.version);
    unsigned bucket = baton_source_phase_bucket(s->machine_id, p->latest.version);
    if (bucket >= (unsigned)p->latest.phase)
        return baton__deploy_fail(err, errsz, 0,
                                  "phase %d%%: this host's bucket for %s is %u, not below it",
                                  p->latest.phase, p->latest.version, bucket);
    p->result = BATON_POLL_ERROR;
    p->judged = false;
    return download(p, upd, err, errsz);
}

int baton_source_poll(struct baton_source *s, const char *installed,
                      struct baton_source_update *ret, char *err, size_t errsz)
{
    struct poll p = {.s = s, .result = BATON_POLL_ERROR};
    char why[BATON_SOURCE_REASON] = "";
    char *body = NULL;
    size_t len = 0;
    int r;

    if (!s || !ret)
        return -EINVAL;
    p.f.cancel = &s->cancel;
    p.f.connect_ms = s->connect_ms;
    p.f.stall_ms = s->stall_ms;
    if (__atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE)) {
        r = baton__deploy_fail(why, sizeof(why), -ECANCELED, "cancelled");
        goto out;
    }
    p.f.curl = curl_easy_init();
    if (!p.f.curl) {
        r = baton__deploy_fail(why, sizeof(why), -ENOMEM, "libcurl: cannot create a handle");
        goto out;
    }
    r = baton__fetch_mem(&p.f, s->url, s->etag, s->last_modified, BATON_LATEST_MAX, &body, &len,
                         why, sizeof(why));
    if (r == -EFBIG) {
        p.result = BATON_POLL_REFUSED;
        r = baton__deploy_fail(why, sizeof(why), -EFBIG, "latest.json is larger than %u bytes",
                               BATON_LATEST_MAX);
        goto out;
    }
    if (r < 0)
        goto out;
    if (r == 304) {
        p.result = BATON_POLL_NOT_MODIFIED;
        if (s->st.result == BATON_POLL_HELD || s->st.result == BATON_POLL_REFUSED ||
            (s->st.result == BATON_POLL_NOT_MODIFIED && s->st.reason[0]))
            snprintf(why, sizeof(why), "%s", s->st.reason);
        r = 0;
        goto out;
    }
    if (r != 200) {
        r = baton__deploy_fail(why, sizeof(why), r == 404 ? -ENOENT : -EPROTO, "%s: HTTP %d",
                               s->url, r);
        goto out;
    }
    snprintf(p.latest_url, sizeof(p.latest_url), "%s",
             p.f.effective_url[0] ? p.f.effective_url : s->url);
    snprintf(p.etag, sizeof(p.etag), "%s", p.f.etag);
    snprintf(p.last_modified, sizeof(p.last_modified), "%s", p.f.last_modified);
    r = judge(&p, body, len, installed, ret, why, sizeof(why));
    if (p.judged) {
        memcpy(s->etag, p.etag, sizeof(s->etag));
        memcpy(s->last_modified, p.last_modified, sizeof(s->last_modified));
        memcpy(s->digest, p.digest, sizeof(s->digest));
        s->have_digest = true;
        if (s->failed_digest_unknown) { /* the metadata a failure from before a restart held */
            memcpy(s->failed_digest, p.digest, sizeof(s->failed_digest));
            s->failed_digest_unknown = false;
        }
    }
out:
    free(body);
    if (p.f.curl)
        curl_easy_cleanup(p.f.curl);
    if (r == -ECANCELED)
        p.result = BATON_POLL_ERROR;
    s->st.polls++;
    s->st.last_poll = realtime_ms();
    s->st.result = p.result;
    if (p.latest.version[0])
        strcpy(s->st.version, p.latest.version);
    snprintf(s->st.reason, sizeof(s->st.reason), "%s",
             p.result == BATON_POLL_UP_TO_DATE || p.result == BATON_POLL_NEW_VERSION ? "" : why);
    uint64_t delay = baton_source_jitter(&s->rng, s->interval_ms);
    s->next_mono = baton__clock_now_ms() + delay;
    s->st.next_poll = s->st.last_poll + (long long)delay;
    if (err && errsz)
        snprintf(err, errsz, "%s", s->st.reason);
    return r;
}
