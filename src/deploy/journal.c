/* SPDX-License-Identifier: MIT */
/*
 * .baton/journal.jsonl: one JSON object a line, each ending in its own CRC-32
 * (`...,"crc":"1a2b3c4d"}` over the bytes before `,"crc"`), appended with one write(2) and
 * fdatasync'd. Replaying it rebuilds the release list and says what the last deploy needs.
 */
#include "deploy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/doc.h"
#include "common/json.h"

#define JOURNAL       ".baton/journal.jsonl"
#define LINE_MAX_LEN  4096
#define JOURNAL_LIMIT (256u << 20)

struct baton_journal {
    int fd;
    uint64_t next_seq;
};

static const char *const step_names[BATON_STEP__COUNT] = {
    [BATON_STEP_BEGIN] = "begin",         [BATON_STEP_VERIFIED] = "verified",
    [BATON_STEP_INSTALLED] = "installed", [BATON_STEP_SWITCHED] = "switched",
    [BATON_STEP_PROBATION] = "probation", [BATON_STEP_COMMITTED] = "committed",
    [BATON_STEP_FAILED] = "failed",       [BATON_STEP_PRUNED] = "pruned",
    [BATON_STEP_DONE] = "done",
};

const char *baton_journal_step_name(enum baton_journal_step s)
{
    return (unsigned)s < BATON_STEP__COUNT ? step_names[s] : "unknown";
}

const char *baton_recovery_name(enum baton_recovery r)
{
    switch (r) {
    case BATON_RECOVER_NONE:
        return "none";
    case BATON_RECOVER_REMOVE_TEMP:
        return "remove-temp";
    case BATON_RECOVER_MARK_UNFINISHED:
        return "mark-unfinished";
    case BATON_RECOVER_SWITCH_BACK:
        return "switch-back";
    case BATON_RECOVER_RESTART_PROBATION:
        return "restart-probation";
    case BATON_RECOVER_PRUNE:
        return "prune";
    }
    return "unknown";
}

/* ---- writing ---- */

static int format_record(struct baton_buf *b, const struct baton_journal_record *rec)
{
    int r = 0;
    r |= baton__buf_puts(b, "{");
    r |= baton__json_kv_int(b, "seq", (long long)rec->seq);
    r |= baton__json_kv_str(b, "deploy", rec->deploy);
    r |= baton__json_kv_int(b, "ts", rec->ts);
    r |= baton__json_kv_str(b, "step", baton_journal_step_name(rec->step));
    const struct {
        const char *key, *value;
    } opt[] = {
        {"kind", rec->kind},     {"version", rec->version}, {"from", rec->from},
        {"sha256", rec->sha256}, {"key", rec->key_id},      {"verdict", rec->verdict},
        {"reason", rec->reason},
    };
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
        if (opt[i].value[0])
            r |= baton__json_kv_str(b, opt[i].key, opt[i].value);
    if (r)
        return -ENOBUFS;
    uint32_t crc = baton__crc32(b->data, b->len);
    return baton__buf_printf(b, ",\"crc\":\"%08x\"}\n", crc);
}

int baton_journal_open(int root_fd, struct baton_journal **ret, char *err, size_t errsz)
{
    struct baton_journal_state st = {0};
    struct baton_journal *j = NULL;
    int fd = openat(root_fd, JOURNAL, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return baton__deploy_fail(err, errsz, -errno, "cannot open %s: %s", JOURNAL,
                                  strerror(errno));
    int r = baton_journal_read(root_fd, &st, err, errsz);
    if (r < 0)
        goto out;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "stat %s: %s", JOURNAL, strerror(errno));
        goto out;
    }
    if ((uint64_t)sb.st_size > st.good_len) {
        /* a torn or corrupt tail (a write cut short by a crash): cut it off for good */
        if (ftruncate(fd, (off_t)st.good_len) < 0 || fsync(fd) < 0) {
            r = baton__deploy_fail(err, errsz, -errno, "cannot cut the torn end of %s: %s", JOURNAL,
                                   strerror(errno));
            goto out;
        }
    }
    if (sb.st_size == 0 && (r = baton__deploy_fsync_dir(root_fd, ".baton")) < 0) {
        baton__deploy_fail(err, errsz, r, "fsync .baton: %s", strerror(-r));
        goto out;
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        r = -ENOMEM;
        goto out;
    }
    j->fd = fd;
    j->next_seq = st.records ? st.last.seq + 1 : 1;
    fd = -1;
    *ret = j;
    r = 0;
out:
    baton_journal_state_free(&st);
    if (fd >= 0)
        close(fd);
    return r;
}

int baton_journal_append(struct baton_journal *j, struct baton_journal_record *rec, char *err,
                         size_t errsz)
{
    if (!j || !rec || (unsigned)rec->step >= BATON_STEP__COUNT)
        return -EINVAL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rec->seq = j->next_seq;
    rec->ts = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    struct baton_buf b = BATON_BUF_INIT(LINE_MAX_LEN);
    int r = format_record(&b, rec);
    if (r < 0) {
        r = baton__deploy_fail(err, errsz, r, "journal record too long");
        goto out;
    }
    off_t before = lseek(j->fd, 0, SEEK_END);
    ssize_t n = write(j->fd, b.data, b.len);
    if (n != (ssize_t)b.len) {
        r = n < 0 ? -errno : -EIO;
        if (before >= 0)
            (void)ftruncate(j->fd, before);
        baton__deploy_fail(err, errsz, r, "cannot write %s: %s", JOURNAL, strerror(-r));
        goto out;
    }
    if (fdatasync(j->fd) < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "fdatasync %s: %s", JOURNAL, strerror(errno));
        goto out;
    }
    j->next_seq++;
    char point[32];
    snprintf(point, sizeof(point), "journal-%s", baton_journal_step_name(rec->step));
    baton__deploy_test_point(point);
out:
    baton__buf_free(&b);
    return r;
}

void baton_journal_close(struct baton_journal *j)
{
    if (!j)
        return;
    close(j->fd);
    free(j);
}

/* ---- reading ---- */

/* A record is flat; nesting is let by up to this for members a later writer may add. */
#define RECORD_MAX_DEPTH 8

/* Fills rec from one record line (common/doc.h reads it). -EBADMSG unless it is an object with
 * the members of a record, -ENOMEM. */
static int parse_record(const char *line, size_t len, struct baton_journal_record *rec)
{
    struct baton_doc *doc = NULL;
    int r = baton__doc_parse(line, len, LINE_MAX_LEN, RECORD_MAX_DEPTH, &doc, NULL, 0);
    const struct baton_doc_node *root = baton__doc_root(doc);
    if (r == -ENOMEM)
        return r;
    r = -EBADMSG;
    if (baton__doc_type(root) != BATON_DOC_OBJECT)
        goto out;
    memset(rec, 0, sizeof(*rec));
    struct {
        const char *key;
        char *out;
        size_t size;
        bool required;
    } str[] = {
        {"deploy", rec->deploy, sizeof(rec->deploy), true},
        {"kind", rec->kind, sizeof(rec->kind), false},
        {"version", rec->version, sizeof(rec->version), false},
        {"from", rec->from, sizeof(rec->from), false},
        {"sha256", rec->sha256, sizeof(rec->sha256), false},
        {"key", rec->key_id, sizeof(rec->key_id), false},
        {"verdict", rec->verdict, sizeof(rec->verdict), false},
        {"reason", rec->reason, sizeof(rec->reason), false},
    };
    const char *t;
    for (size_t i = 0; i < sizeof(str) / sizeof(str[0]); i++) {
        int g = baton__doc_get_str(root, str[i].key, &t, NULL, 0);
        if (g == -ENOENT && !str[i].required)
            continue;
        if (g < 0 || strlen(t) >= str[i].size)
            goto out;
        strcpy(str[i].out, t);
    }
    if (baton__doc_get_str(root, "step", &t, NULL, 0) < 0)
        goto out;
    rec->step = BATON_STEP__COUNT;
    for (unsigned i = 0; i < BATON_STEP__COUNT; i++)
        if (!strcmp(step_names[i], t))
            rec->step = (enum baton_journal_step)i;
    if (rec->step == BATON_STEP__COUNT)
        goto out;
    int64_t seq, ts;
    if (baton__doc_get_int(root, "seq", 0, INT64_MAX, &seq, NULL, 0) < 0 ||
        baton__doc_get_int(root, "ts", 0, INT64_MAX, &ts, NULL, 0) < 0)
        goto out;
    rec->seq = (uint64_t)seq;
    rec->ts = ts;
    r = 0;
out:
    baton__doc_free(doc);
    return r;
}

/* Checks the trailing `,"crc":"xxxxxxxx"}` of a line (without its newline). */
static bool crc_ok(const char *line, size_t n)
{
    static const char tail[] = ",\"crc\":\"";
    const size_t tl = sizeof(tail) - 1;
    if (n < tl + 10 || line[0] != '{' || line[n - 1] != '}' || line[n - 2] != '"')
        return false;
    size_t at = n - 2 - 8 - tl;
    if (memcmp(line + at, tail, tl) != 0)
        return false;
    uint32_t want = 0;
    for (size_t i = at + tl; i < n - 2; i++) {
        char c = line[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        want = want << 4 | (uint32_t)v;
    }
    return baton__crc32(line, at) == want;
}

static struct baton_release_info *find(struct baton_journal_state *st, const char *version)
{
    for (size_t i = 0; i < st->n_releases; i++)
        if (!strcmp(st->releases[i].version, version))
            return &st->releases[i];
    return NULL;
}

const struct baton_release_info *baton_journal_state_find(const struct baton_journal_state *st,
                                                          const char *version)
{
    return find((struct baton_journal_state *)st, version);
}

static int apply(struct baton_journal_state *st, const struct baton_journal_record *rec,
                 char *pending_sha, char *pending_key)
{
    struct baton_release_info *rel = rec->version[0] ? find(st, rec->version) : NULL;
    switch (rec->step) {
    case BATON_STEP_BEGIN:
        snprintf(st->last_deploy_kind, sizeof(st->last_deploy_kind), "%s", rec->kind);
        snprintf(st->last_deploy_version, sizeof(st->last_deploy_version), "%s", rec->version);
        snprintf(st->last_deploy_from, sizeof(st->last_deploy_from), "%s", rec->from);
        pending_sha[0] = pending_key[0] = '\0';
        break;
    case BATON_STEP_VERIFIED:
        strcpy(pending_sha, rec->sha256);
        strcpy(pending_key, rec->key_id);
        break;
    case BATON_STEP_INSTALLED:
        if (!rec->version[0])
            break;
        if (!rel) {
            void *p = realloc(st->releases, (st->n_releases + 1) * sizeof(*st->releases));
            if (!p)
                return -ENOMEM;
            st->releases = p;
            rel = &st->releases[st->n_releases++];
        }
        memset(rel, 0, sizeof(*rel));
        strcpy(rel->version, rec->version);
        rel->state = BATON_RELEASE_UNFINISHED;
        rel->installed_at = rec->ts;
        strcpy(rel->sha256, rec->sha256[0] ? rec->sha256 : pending_sha);
        strcpy(rel->key_id, rec->key_id[0] ? rec->key_id : pending_key);
        break;
    case BATON_STEP_SWITCHED:
        strcpy(st->current, rec->version);
        if (rel)
            rel->state = BATON_RELEASE_PROBATION;
        break;
    case BATON_STEP_PROBATION:
        if (rel)
            rel->state = BATON_RELEASE_PROBATION;
        break;
    case BATON_STEP_COMMITTED:
        if (rel) {
            rel->state = BATON_RELEASE_COMMITTED;
            strcpy(rel->verdict, rec->verdict);
            rel->reason[0] = '\0';
        }
        if (rec->from[0] && strcmp(rec->from, rec->version) != 0)
            strcpy(st->previous, rec->from);
        strcpy(st->current, rec->version);
        break;
    case BATON_STEP_FAILED:
        if (rel) {
            rel->state = BATON_RELEASE_FAILED;
            strcpy(rel->verdict, rec->verdict[0] ? rec->verdict : "failed");
            strcpy(rel->reason, rec->reason);
        }
        if (rec->from[0])
            strcpy(st->current, rec->from);
        break;
    case BATON_STEP_PRUNED:
        if (rel) {
            *rel = st->releases[--st->n_releases];
            if (!strcmp(st->previous, rec->version))
                st->previous[0] = '\0';
        }
        break;
    case BATON_STEP_DONE:
    case BATON_STEP__COUNT:
        break;
    }
    return 0;
}

static enum baton_recovery recovery_for(const struct baton_journal_state *st)
{
    if (!st->records)
        return BATON_RECOVER_NONE;
    switch (st->last.step) {
    case BATON_STEP_BEGIN:
    case BATON_STEP_VERIFIED:
        return BATON_RECOVER_REMOVE_TEMP;
    case BATON_STEP_INSTALLED:
        return BATON_RECOVER_MARK_UNFINISHED;
    case BATON_STEP_SWITCHED:
    case BATON_STEP_PROBATION:
        return st->last_deploy_from[0] ? BATON_RECOVER_SWITCH_BACK
                                       : BATON_RECOVER_RESTART_PROBATION;
    case BATON_STEP_COMMITTED:
    case BATON_STEP_PRUNED:
        return BATON_RECOVER_PRUNE;
    case BATON_STEP_FAILED:
    case BATON_STEP_DONE:
    case BATON_STEP__COUNT:
        break;
    }
    return BATON_RECOVER_NONE;
}

int baton_journal_replay(const char *data, size_t len, struct baton_journal_state *st)
{
    memset(st, 0, sizeof(*st));
    char pending_sha[BATON_SHA256_HEX] = "", pending_key[BATON_KEYID_HEX] = "";
    size_t pos = 0;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        struct baton_journal_record rec;
        /* a line without its newline was torn by a crash, whatever it holds */
        int r = nl && n <= LINE_MAX_LEN && crc_ok(line, n) ? parse_record(line, n, &rec) : -EBADMSG;
        if (r == -ENOMEM)
            return r; /* not the line's fault: it is not counted bad */
        if (r < 0 || (st->records && rec.seq <= st->last.seq)) {
            st->bad_lines++;
            continue;
        }
        r = apply(st, &rec, pending_sha, pending_key);
        if (r < 0)
            return r;
        st->last = rec;
        st->records++;
        st->good_len = pos;
    }
    st->recovery = recovery_for(st);
    return 0;
}

int baton_journal_read(int root_fd, struct baton_journal_state *st, char *err, size_t errsz)
{
    memset(st, 0, sizeof(*st));
    int fd = openat(root_fd, JOURNAL, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return baton_journal_replay("", 0, st);
        return baton__deploy_fail(err, errsz, -errno, "cannot open %s: %s", JOURNAL,
                                  strerror(errno));
    }
    struct baton_buf b = BATON_BUF_INIT(JOURNAL_LIMIT);
    char chunk[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = baton__deploy_fail(err, errsz, -errno, "cannot read %s: %s", JOURNAL,
                                   strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if ((r = baton__buf_append(&b, chunk, (size_t)n)) < 0) {
            baton__deploy_fail(err, errsz, r, "%s too large", JOURNAL);
            goto out;
        }
    }
    r = baton_journal_replay(b.data ? b.data : "", b.len, st);
out:
    baton__buf_free(&b);
    close(fd);
    return r;
}

void baton_journal_state_free(struct baton_journal_state *st)
{
    free(st->releases);
    st->releases = NULL;
    st->n_releases = 0;
}
