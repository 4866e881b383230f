/* SPDX-License-Identifier: MIT */
/*
 * The deploy library: verified artifacts, safe extraction, the release tree, the journal and the
 * lock under release.root (DESIGN.md "Deploy"). Each step is one function with explicit inputs
 * and outputs so the supervisor's deploy state machine can call them one at a time (from its loop
 * or a worker thread). Nothing here logs: every function returns 0 (or a count) or -errno and
 * writes a one-line reason into the caller's buffer (err, errsz), which may be NULL.
 *
 * Layout: <root>/releases/<version>/, <root>/current -> releases/<version>,
 * <root>/.baton/journal.jsonl, <root>/.baton/lock. Functions take root_fd, an O_DIRECTORY fd of
 * release.root, and use *at() calls only.
 */
#ifndef BATON_DEPLOY_DEPLOY_H
#define BATON_DEPLOY_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BATON_VERSION_MAX 64 /* longest version (bytes, without the NUL) */
#define BATON_KEYID_HEX   17 /* at most 16 hex digits (minisign prints no leading zeros) + NUL */
#define BATON_SHA256_HEX  65
#define BATON_COMMENT_MAX 1024

/* ---- root (release.c) ---- */

/* Opens release.root (creating it, releases/ and .baton/ when missing) and returns an O_DIRECTORY
 * fd in *ret_fd. */
int baton_release_root_open(const char *path, int *ret_fd, char *err, size_t errsz);

/* ---- versions (version.c) ---- */

/* Compares like `sort -V` (GNU filevercmp's digit/alpha/~ ordering). <0, 0, >0. */
int baton_version_cmp(const char *a, const char *b);
/* 1 when v can name a release directory: 1..64 bytes of [A-Za-z0-9._+~-], starting with an
 * alphanumeric character. */
bool baton_version_valid(const char *v);
/* The VERSION of a file name NAME-VERSION.tar.gz (the text after the first '-' that is followed
 * by a digit). Returns 0, or -ENOENT when the name has no such version. */
int baton_version_from_name(const char *filename, char *out, size_t outsz);
/* Refuses (-EPERM, with a reason) a version not newer than newest_committed unless allow. NULL
 * newest_committed (nothing committed yet) always passes. */
int baton_version_check_downgrade(const char *version, const char *newest_committed, bool allow,
                                  char *err, size_t errsz);

/* ---- signatures (signature.c) ---- */

struct baton_minisign_key {
    uint8_t id[8];
    uint8_t pk[32];
};

struct baton_minisig {
    bool prehashed;  /* "ED": signature over BLAKE2b-512 of the file; "Ed": over the file */
    uint8_t id[8];   /* key id the signature claims */
    uint8_t sig[64]; /* signature of the file */
    char comment[BATON_COMMENT_MAX]; /* trusted comment (without "trusted comment: ") */
    uint8_t global_sig[64];          /* signature of sig || comment */
};

/* Parses a minisign public key file (path). */
int baton_minisign_key_load(const char *path, struct baton_minisign_key *ret_key, char *err,
                            size_t errsz);
/* Parses a minisign public key from text (the file's contents or the bare base64 line). */
int baton_minisign_key_parse(const char *text, size_t len, struct baton_minisign_key *ret_key,
                             char *err, size_t errsz);
/* Parses the text of a .minisig file. -EBADMSG on a malformed one. */
int baton_minisig_parse(const char *text, size_t len, struct baton_minisig *ret_sig, char *err,
                        size_t errsz);
/* Verifies sig against key: the key id, the global signature over the trusted comment, then the
 * file signature. Legacy signatures need the file's bytes (msg, len); prehashed ones need its
 * BLAKE2b-512 (blake2b; msg may be NULL). -EPERM with a reason when anything does not match. */
int baton_minisig_verify(const struct baton_minisig *sig, const struct baton_minisign_key *key,
                         const uint8_t *msg, size_t len, const uint8_t blake2b[64], char *err,
                         size_t errsz);
/* Splits a trusted comment "file:NAME version:V ..." (space-separated key:value tokens; other
 * tokens ignored). Fields absent are returned as "". Returns 0, -EBADMSG on a duplicate field,
 * -ENAMETOOLONG when a value does not fit. */
int baton_minisig_comment_fields(const char *comment, char *file, size_t filesz, char *version,
                                 size_t versionsz);

/* ---- artifacts (artifact.c) ---- */

struct baton_verify_request {
    const char *artifact;         /* path of the .tar.gz */
    const char *version;          /* --version, or NULL */
    const char *trust;            /* release.trust (public key file), or NULL: no signature */
    const char *newest_committed; /* for the downgrade check, or NULL */
    bool allow_downgrade;
    bool require_sha256; /* refuse an artifact without <artifact>.sha256 */
};

struct baton_verified {
    char version[BATON_VERSION_MAX + 1];
    char sha256[BATON_SHA256_HEX]; /* of the artifact, hex */
    char key_id[BATON_KEYID_HEX];  /* signer key id (hex, minisign's order), "" when unsigned */
    char comment[BATON_COMMENT_MAX];
    bool sha256_checked; /* a .sha256 file was found and matched */
    bool signed_;        /* a signature was verified */
    off_t size;
};

/* Hashes an open file in one pass: SHA-256 always, BLAKE2b-512 when blake2b is non-NULL. */
int baton_artifact_hash(int fd, uint8_t sha256[32], uint8_t blake2b[64], off_t *ret_size);
/* Checks <artifact>.sha256 (sha256sum format; the line must name the artifact's file name)
 * against sha256_hex. Returns 1 when checked and matching, 0 when there is no .sha256 file,
 * -EPERM (mismatch, another file) or -EBADMSG (malformed) with a reason. */
int baton_artifact_check_sha256(const char *artifact, const char *sha256_hex, char *err,
                                size_t errsz);
/* Everything before extraction: hashes, .sha256, signature and trusted comment (with trust),
 * the version (--version, else the trusted comment, else the file name) and the downgrade
 * check. Reads only; writes nothing. */
int baton_artifact_verify(const struct baton_verify_request *req, struct baton_verified *ret,
                          char *err, size_t errsz);

/* ---- extraction (extract.c) ---- */

struct baton_extract_limits {
    uint64_t max_size;    /* total bytes of file data and of the uncompressed stream */
    uint64_t max_entries; /* archive entries */
    uint64_t max_ratio;   /* uncompressed/compressed, judged once past ratio_floor bytes */
    uint64_t ratio_floor;
};
#define BATON_EXTRACT_LIMITS_DEFAULT                                                               \
    {                                                                                              \
        (uint64_t)1 << 30, 100000, 200, (uint64_t)16 << 20                                         \
    }

struct baton_extract_stats {
    uint64_t entries;
    uint64_t bytes; /* file data written */
};

/* Extracts the .tar.gz at artifact_fd into a new private directory releases/.tmp-XXXXXX (mode
 * 0700 until done), makes every file and directory durable (one syncfs(2) of its filesystem),
 * and returns its name in tmpname (>= 32 bytes). Refuses (nothing left on disk) unsafe names
 * and types, links leaving the release, writes through extracted symlinks, duplicates, and
 * archives past the limits; setuid/setgid bits are dropped. -EEXIST when releases/<version>
 * exists (checked first when version is non-NULL). */
int baton_release_extract(int root_fd, int artifact_fd, const char *version,
                          const struct baton_extract_limits *lim, char *tmpname, size_t tmpnamesz,
                          struct baton_extract_stats *ret_stats, char *err, size_t errsz);
/* Renames releases/<tmpname> to releases/<version> (never over an existing one: -EEXIST, and the
 * temporary directory is removed) and fsyncs releases/. */
int baton_release_install(int root_fd, const char *tmpname, const char *version, char *err,
                          size_t errsz);

/* ---- the release tree (release.c) ---- */

/* Points current at releases/<version>: a new link beside it, rename(2) over current, fsync of
 * release.root. The release must exist. */
int baton_release_switch(int root_fd, const char *version, char *err, size_t errsz);
/* The version current points at. -ENOENT when there is no current. */
int baton_release_current(int root_fd, char *version, size_t versionsz);
/* The installed versions (directories of releases/ whose names are valid versions), sorted
 * oldest first (baton_version_cmp). *ret_versions is one allocation (free it); returns the count.
 */
int baton_release_list(int root_fd, char (**ret_versions)[BATON_VERSION_MAX + 1]);
/* Removes releases/<version> (renamed to a hidden name first, so a crash leaves nothing that
 * looks installed) and fsyncs releases/. Refuses the current release (-EBUSY). */
int baton_release_remove(int root_fd, const char *version, char *err, size_t errsz);
/* Removes every hidden entry of releases/ (temporary and half-removed directories). Returns the
 * count removed. */
int baton_release_remove_temporary(int root_fd);

enum baton_release_state {
    BATON_RELEASE_UNFINISHED,
    BATON_RELEASE_PROBATION,
    BATON_RELEASE_COMMITTED,
    BATON_RELEASE_FAILED,
};
const char *baton_release_state_name(enum baton_release_state s);

struct baton_release_info {
    char version[BATON_VERSION_MAX + 1];
    enum baton_release_state state;
    long long installed_at; /* unix ms */
    char sha256[BATON_SHA256_HEX];
    char key_id[BATON_KEYID_HEX];
    char verdict[32]; /* "ok", "inconclusive", "" */
    char reason[256];
};

/* Retention, a pure function: marks in prune[i] the releases to remove. Failed and unfinished
 * releases go first and are never counted; `keep` committed releases are kept besides current
 * and previous (the newest by version); current, previous (either may be NULL) and any release
 * in probation are never pruned. Returns the count marked. */
size_t baton_release_plan_prune(const struct baton_release_info *rels, size_t n,
                                const char *current, const char *previous, unsigned keep,
                                bool *prune);

/* ---- the journal (journal.c) ---- */

enum baton_journal_step {
    BATON_STEP_BEGIN,     /* deploy or rollback accepted (version, from) */
    BATON_STEP_VERIFIED,  /* artifact verified (sha256, key) */
    BATON_STEP_INSTALLED, /* releases/<version> renamed into place */
    BATON_STEP_SWITCHED,  /* current -> version (from = the previous current) */
    BATON_STEP_PROBATION, /* the new generation is ready; probation started */
    BATON_STEP_COMMITTED, /* verdict ok or inconclusive */
    BATON_STEP_FAILED,    /* reason; current is back on from (when switched) */
    BATON_STEP_PRUNED,    /* version removed by retention */
    BATON_STEP_DONE,      /* nothing left to do for this deploy */
    BATON_STEP__COUNT,
};
const char *baton_journal_step_name(enum baton_journal_step s);

struct baton_journal_record {
    uint64_t seq;    /* assigned by append */
    long long ts;    /* unix ms, assigned by append */
    char deploy[40]; /* deploy id (the caller's; one per deploy or rollback) */
    enum baton_journal_step step;
    char kind[16]; /* "deploy" or "rollback" (BEGIN) */
    char version[BATON_VERSION_MAX + 1];
    char from[BATON_VERSION_MAX + 1]; /* previous current ("" when none) */
    char sha256[BATON_SHA256_HEX];
    char key_id[BATON_KEYID_HEX];
    char verdict[32];
    char reason[256];
};

struct baton_journal;

/* Opens (creating) .baton/journal.jsonl for appending: a torn or corrupt last line is cut off
 * (and the file fsynced) first, and the next seq follows the last good record. */
int baton_journal_open(int root_fd, struct baton_journal **ret, char *err, size_t errsz);
/* Appends one record as one JSON line with its CRC-32 and fdatasyncs it; rec->seq and rec->ts
 * are filled in. */
int baton_journal_append(struct baton_journal *j, struct baton_journal_record *rec, char *err,
                         size_t errsz);
void baton_journal_close(struct baton_journal *j);

/* What the last deploy needs when the supervisor starts (DESIGN.md "Crash safety"). */
enum baton_recovery {
    BATON_RECOVER_NONE,
    BATON_RECOVER_REMOVE_TEMP,       /* not installed: remove releases/.tmp-*, nothing changed */
    BATON_RECOVER_MARK_UNFINISHED,   /* installed, not switched: record FAILED "unfinished" */
    BATON_RECOVER_SWITCH_BACK,       /* switched, not committed: switch to `from`, record FAILED */
    BATON_RECOVER_RESTART_PROBATION, /* switched, not committed, and nothing to go back to */
    BATON_RECOVER_PRUNE,             /* committed, not pruned: run retention, record DONE */
};
const char *baton_recovery_name(enum baton_recovery r);

struct baton_journal_state {
    struct baton_release_info *releases; /* by version, not pruned */
    size_t n_releases;
    char current[BATON_VERSION_MAX + 1];  /* what the journal says current is ("" none) */
    char previous[BATON_VERSION_MAX + 1]; /* the committed release before current ("" none) */
    struct baton_journal_record last;     /* the last good record (step valid when records>0) */
    char last_deploy_kind[16];
    char last_deploy_version[BATON_VERSION_MAX + 1];
    char last_deploy_from[BATON_VERSION_MAX + 1];
    enum baton_recovery recovery;
    uint64_t records;   /* good records */
    uint64_t bad_lines; /* corrupt lines skipped (the last one, if torn, included) */
    size_t good_len;    /* bytes up to the end of the last good line */
};

/* Rebuilds the release list and the recovery decision from journal text (pure; the fuzz target
 * calls this). Always fills *st (free with baton_journal_state_free); -ENOMEM only. */
int baton_journal_replay(const char *data, size_t len, struct baton_journal_state *st);
/* Reads .baton/journal.jsonl (missing: empty state) and replays it. */
int baton_journal_read(int root_fd, struct baton_journal_state *st, char *err, size_t errsz);
void baton_journal_state_free(struct baton_journal_state *st);
/* The entry for version, or NULL. */
const struct baton_release_info *baton_journal_state_find(const struct baton_journal_state *st,
                                                          const char *version);

/* ---- recovery and retention on disk (recover.c) ---- */

/* Retention on disk: plans with baton_release_plan_prune over st (current and previous from
 * the journal), removes each marked release and journals a PRUNED record for it (deploy id
 * `deploy`). Returns the count removed. The caller holds the lock. */
int baton_release_prune(int root_fd, struct baton_journal *j, const struct baton_journal_state *st,
                        unsigned keep, const char *deploy, char *err, size_t errsz);

/* Finishes or undoes the last deploy after a crash, from st (baton_journal_read) and the disk:
 * hidden leftovers in releases/ are removed; REMOVE_TEMP also removes a release renamed into
 * place whose INSTALLED record never made it; REMOVE_TEMP and MARK_UNFINISHED put current back
 * on `from` if the switch had begun; SWITCH_BACK switches to `from`; each journals FAILED or
 * DONE so a second start does nothing; PRUNE prunes (keep) and journals DONE.
 * RESTART_PROBATION changes nothing: the caller starts the release in current on probation.
 * Returns the recovery that st asked for (>= 0) or -errno. The caller holds the lock. */
int baton_deploy_recover(int root_fd, struct baton_journal *j, const struct baton_journal_state *st,
                         unsigned keep, char *err, size_t errsz);

/* ---- the lock (lock.c) ---- */

/* Takes the kernel lock on .baton/lock (flock, released by the kernel when the holder dies) and
 * writes "<what> (pid N) since T" into it. Busy: -EBUSY and "busy: <holder's line>" in err,
 * unless wait (then blocks; use from a worker thread). Returns the lock fd in *ret_fd. */
int baton_deploy_lock(int root_fd, const char *what, bool wait, int *ret_fd, char *err,
                      size_t errsz);
/* Clears the holder line and releases the lock (closes fd). */
void baton_deploy_unlock(int fd);

/* ---- pull mode (latest.c, source.c, fetch.c) ----
 *
 * release.source (DESIGN.md "Pull mode"): poll latest.json (+ latest.json.minisig with
 * release.trust) with a conditional GET every interval +- 10 %, download a newer version
 * (size-limited, sha256-checked, its .minisig beside it with release.trust) and hand it to the
 * caller as a local file to deploy like `baton deploy ARTIFACT --version V`.
 *
 * Threading model: baton_source_poll() is BLOCKING (libcurl's easy interface; one poll is at
 * most a few small requests and one download, each bounded by the connect and stall timeouts)
 * and is meant to run in a worker thread: uv_queue_work() from the supervisor's loop, with a
 * one-shot uv_timer for the schedule. A poll is a deploy's first step, so a thread is simpler and
 * no slower than driving curl_multi_socket_action() from the loop, and it keeps curl's sockets,
 * timers and DNS out of the loop. Rules:
 *  - one poll at a time per source; while it runs, the loop calls nothing on that source but
 *    baton_source_cancel() (thread-safe; sticky: for shutdown);
 *  - everything else (new, status, delay, failed, retry, free) runs on the loop's thread;
 *  - baton_source_new() initialises libcurl (curl_global_init): call it from the main thread
 *    before other threads use libcurl;
 *  - a poll holds one thread of libuv's pool (4 by default) for its whole length: a download of
 *    up to max_size, or the stall timeout when the server hangs;
 *  - don't poll while a deploy runs: start the timer again when the deploy has ended (a poll
 *    that hands over a version with the same file name replaces the files being deployed).
 *
 * Integration sketch (the supervisor's loop):
 *
 *     struct pull { uv_timer_t timer; uv_work_t work; struct baton_source *src;
 *                   char installed[BATON_VERSION_MAX + 1]; struct baton_source_update upd;
 *                   int r; char err[256]; };
 *     static void work(uv_work_t *w) {
 *         struct pull *p = w->data;   // worker thread: only the source and p's buffers
 *         p->r = baton_source_poll(p->src, p->installed[0] ? p->installed : NULL, &p->upd,
 *                                  p->err, sizeof(p->err));
 *     }
 *     static void done(uv_work_t *w, int status) {
 *         struct pull *p = w->data;   // loop thread
 *         if (p->r == 1)              // deploy p->upd.path with --version p->upd.version;
 *             start_deploy(p);        // if it fails: baton_source_failed(p->src, version)
 *         uv_timer_start(&p->timer, on_timer, baton_source_delay_ms(p->src), 0);
 *     }
 *     static void on_timer(uv_timer_t *t) {  // copy the newest committed version, then:
 *         uv_queue_work(loop, &p->work, work, done);
 *     }
 *
 * `status` prints baton_source_status() (baton_source_status_format() makes the line).
 */

#define BATON_LATEST_MAX    (64u << 10) /* latest.json and .minisig bodies are refused past this */
#define BATON_LATEST_URL    2048        /* longest "url" of latest.json */
#define BATON_SOURCE_REASON 512

/* latest.json, parsed. */
struct baton_latest {
    char version[BATON_VERSION_MAX + 1];
    char url[BATON_LATEST_URL + 1]; /* the artifact, relative to latest.json's URL (or absolute) */
    char sha256[BATON_SHA256_HEX];  /* lower-case hex */
    long long expires;              /* unix seconds; 0 when absent */
    int phase;                      /* 0..100; 100 when absent */
};

/* Parses latest.json text (pure; the fuzz target calls this): an object with "version" (a valid
 * version), "url" (non-empty, no control characters or spaces), "sha256" (64 hex digits) and
 * optional "expires" (RFC 3339 string) and "phase" (integer 0..100); other members are ignored.
 * -EBADMSG with a reason naming the member on anything else. */
int baton_latest_parse(const char *text, size_t len, struct baton_latest *ret, char *err,
                       size_t errsz);
/* Parses an RFC 3339 timestamp ("2026-12-05T10:00:00Z", fractional seconds and +hh:mm offsets
 * allowed) into unix seconds. -EINVAL when malformed. */
int baton_rfc3339_parse(const char *s, long long *ret);
/* The phase bucket of this host for a version: the first 8 bytes of
 * SHA-256(machine_id || "\n" || version), big-endian, mod 100. The update is taken when
 * bucket < phase. */
unsigned baton_source_phase_bucket(const char *machine_id, const char *version);
/* The next delay: interval_ms scaled by a uniform factor in [0.9, 1.1], drawn from *rng
 * (splitmix64; the same seed gives the same sequence). */
uint64_t baton_source_jitter(uint64_t *rng, uint64_t interval_ms);

struct baton_source_config {
    const char *url;             /* release.source.url: latest.json (http://, https://, or
                                    file://, whose artifacts may be file:// too) */
    uint64_t interval_ms;        /* release.source.interval (> 0) */
    const char *trust;           /* release.trust (minisign public key file), or NULL */
    uint64_t max_size;           /* release.max_size: the largest artifact downloaded (> 0) */
    const char *download_dir;    /* where artifacts are written (created 0700 when missing) */
    const char *machine_id;      /* file holding the machine id; NULL: /etc/machine-id */
    uint64_t seed;               /* jitter RNG seed; 0: random (getrandom) */
    uint64_t connect_timeout_ms; /* 0: 10 s */
    uint64_t stall_timeout_ms;   /* a transfer below 1 byte/s this long fails (whole seconds,
                                    rounded up); 0: 30 s */
};

enum baton_poll_result {
    BATON_POLL_NEVER,        /* not polled yet */
    BATON_POLL_NOT_MODIFIED, /* 304: latest.json unchanged since the last complete poll */
    BATON_POLL_UP_TO_DATE,   /* latest.json names the installed version */
    BATON_POLL_NEW_VERSION,  /* downloaded and verified: handed to the caller */
    BATON_POLL_HELD,         /* valid, but not for this host now: phase, or a failed version */
    BATON_POLL_REFUSED,      /* metadata or artifact refused: malformed, expired, older,
                                signature, sha256, size */
    BATON_POLL_ERROR,        /* transport: unreachable, timeout, HTTP status, disk */
};
/* "never", "not modified", "up to date", "new version", "held", "refused", "error". */
const char *baton_poll_result_name(enum baton_poll_result r);

struct baton_source_status {
    long long last_poll; /* unix ms of the last poll's end; 0: never */
    enum baton_poll_result result;
    char reason[BATON_SOURCE_REASON];    /* why (held, refused, error; or what 304 kept) */
    char version[BATON_VERSION_MAX + 1]; /* the version latest.json offered ("" unknown) */
    long long next_poll;                 /* unix ms of the next poll */
    uint64_t polls;                      /* polls done */
};

/* What a poll hands over (result NEW_VERSION): <path>, <path>.sha256 (sha256sum format, from
 * latest.json) and, with trust, <path>.minisig: what `baton deploy <path> --version <version>`
 * verifies. The files belong to the caller from then on (remove them after the deploy); a later
 * download of the same name replaces them. */
struct baton_source_update {
    char version[BATON_VERSION_MAX + 1];
    char sha256[BATON_SHA256_HEX];
    char path[4096];  /* the artifact: <download_dir>/<file name of url> */
    bool has_minisig; /* <path>.minisig was downloaded too (with trust) */
};

struct baton_source;

/* Checks cfg (copied), loads the trust key and the machine id, creates download_dir and
 * initialises libcurl. The first poll is due at once. */
int baton_source_new(const struct baton_source_config *cfg, struct baton_source **ret, char *err,
                     size_t errsz);
/* Frees s (no poll may be running). NULL is a no-op. */
void baton_source_free(struct baton_source *s);
/* One poll, blocking (run it in a worker thread; see above): conditional GET of latest.json, then
 * the checks in order: malformed, signature (with trust), expired, older than / same as installed
 * (the newest committed version, NULL when none), a failed version with unchanged metadata,
 * phase; then the download (max_size), its sha256 and, with trust, its .minisig. Returns 1 with
 * *ret filled when a new version is ready, 0 when nothing is to be done (not modified, up to
 * date, held), or -errno with the reason in err (refused: -EBADMSG malformed, -EPERM signature
 * or sha256, -ESTALE expired or older, -EFBIG too large; error: -ECONNREFUSED, -ETIMEDOUT,
 * -ENOENT 404 or missing file, -EPROTO other HTTP status, -EIO other transport errors,
 * -ECANCELED, -errno of the disk). err (may be NULL) gets the status reason in every case (""
 * for up to date and new version). Either way the status is updated and the next poll
 * scheduled. Metadata that was judged is remembered by its ETag/Last-Modified and digest, so
 * the next poll is a conditional GET; not judged (retried in full next time): transport
 * errors, and a missing or refused latest.json signature. */
int baton_source_poll(struct baton_source *s, const char *installed,
                      struct baton_source_update *ret, char *err, size_t errsz);
/* The deploy of version failed: it is not taken again until latest.json changes. Called before
 * any poll (after a restart, for the journal's failed releases), the first latest.json judged is
 * taken as the one that failed. */
void baton_source_failed(struct baton_source *s, const char *version);
/* Forgets the remembered ETag/Last-Modified, so the next poll judges latest.json again (e.g.
 * when a handed-over version could not be deployed because another deploy held the lock). */
void baton_source_retry(struct baton_source *s);
/* Makes the running poll (if any) and every later one fail with -ECANCELED. Thread-safe. */
void baton_source_cancel(struct baton_source *s);
/* Milliseconds until the next poll is due (0: due now), on the monotonic clock. */
uint64_t baton_source_delay_ms(const struct baton_source *s);
void baton_source_status(const struct baton_source *s, struct baton_source_status *ret);
/* One line for `baton status`: "last poll 2026-12-05T00:10:00Z: refused: ...; next poll
 * 2026-12-05T00:11:02Z" (or "never polled; next poll ..."). Returns the length (truncated to
 * bufsz - 1). */
int baton_source_status_format(const struct baton_source_status *st, char *buf, size_t bufsz);

#endif
