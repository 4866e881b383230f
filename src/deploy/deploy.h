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
#define BATON_KEYID_HEX   17 /* 16 hex digits + NUL */
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
 * 0700 until done), fsyncs every file and directory, and returns its name in tmpname (>= 32
 * bytes). Refuses (nothing left on disk) unsafe names and types, links leaving the release,
 * writes through extracted symlinks, duplicates, and archives past the limits; setuid/setgid
 * bits are dropped. -EEXIST when releases/<version> exists (checked first when version is
 * non-NULL). */
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

#endif
