/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's internals, shared by its files:
 *
 *   generation.c  the state machine of generations, workers and slots (pure: no I/O; side
 *                 effects go through struct baton_gens_ops, time comes in as arguments)
 *   rollout.c     the reload transaction: rolling / blue-green, verdicts, rollback
 *   spawn.c       fork/exec of one worker with its environment and listeners
 *   worker.c      a worker's stdout/stderr capture
 *   notify.c      the notify socket (READY=1, STATUS=...) and its message parser
 *   control.c     the control socket server; control-request.c parses its requests
 *   status.c      status and verdict objects as JSON
 *   listener.c    the listening sockets (bound, or adopted from systemd)
 *   reexec.c      SIGUSR2: executing the supervisor's binary again, state kept
 *   reexec-state.c  the versioned format of that state (save, restore)
 *   state-file.c  the state file beside the control socket (pids, start times, listeners)
 *   recover.c     after a supervisor crash: the dead one's workers found, their listening
 *                 sockets taken over (pidfd_getfd), and drained
 *   deploy.c      baton deploy / rollback / releases, probation of deploys, recovery at start
 *   probation.c   app.probation for plain reloads
 *   probe.c       app.probe: the workers' private probe listeners, the GET sent to them
 *   pull.c        release.source: pull mode's polls on the thread pool, pulled deploys
 *   supervisor.c  the event loop, signals and the systemd side
 */
#ifndef BATON_SUPERVISOR_INTERNAL_H
#define BATON_SUPERVISOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "common/buf.h"
#include "common/clock.h"
#include "config/config.h"
#include "supervisor/stats.h"

/* Lines of a worker's stderr kept for failure verdicts, and the longest kept line. */
#define BATON_STDERR_TAIL     20
#define BATON_STDERR_LINE_MAX 512
/* A worker that stayed up this long has recovered: its slot's backoff starts over. */
#define BATON_STABLE_MS 10000
/* This many crashes in a row, each before the worker was stable, make a crash loop. */
#define BATON_CRASH_LOOP 3
/* How long a new worker that failed (never ready) gets after the stop signal before SIGKILL. */
#define BATON_FAILED_KILL_MS 3000

/* ---- workers and generations (generation.c) ------------------------------------------ */

/* The three state machines below change state only through generation.c's funnels
 * (worker_set_state, slot_set_state, generation_set_state); their transition tables are at the
 * top of generation.c. */

enum baton_worker_state {
    BATON_WORKER_STARTING, /* spawned, not ready yet */
    BATON_WORKER_READY,    /* serving */
    BATON_WORKER_DRAINING, /* stop signal sent; SIGKILL at deadline_ms */
    BATON_WORKER_KILLED,   /* SIGKILL sent; waiting to be reaped */
};

struct baton_worker_io; /* worker.c: pipes and their watchers */

struct baton_worker {
    struct baton_worker *next; /* in the generation's list */
    struct baton_generation *gen;
    pid_t pid;
    unsigned slot;
    enum baton_worker_state state;
    uint64_t started_ms;   /* monotonic */
    uint64_t stop_sent_ms; /* when the stop signal (or SIGKILL) was first sent, 0: not yet */
    uint64_t ready_ms;     /* time from spawn to ready */
    uint64_t deadline_ms;  /* STARTING: ready timeout (or delay); DRAINING: SIGKILL; 0: none */
    char *status;          /* last STATUS= text, or NULL */
    int notify_errno;      /* last ERRNO=, 0 when none */
    struct baton_counters counters; /* the last BATON_STATS= report (stats.h) */
    bool reloading;                 /* RELOADING=1 seen, READY=1 not yet */
    bool reload_pending;            /* asked to reload in place; READY=1 not yet */
    pid_t foreign_child;            /* a process of this worker's group that sent notify messages */
    unsigned short probe_port;      /* app.probe: its private listener on 127.0.0.1 (0: none) */
    bool probing;                   /* STARTING: READY=1 came, the probe's answer not yet */
    /* The last stderr lines, oldest first from tail_start (a ring filled by worker.c), the
     * number of lines ever kept, and that number when an in-place reload began. */
    char *stderr_tail[BATON_STDERR_TAIL];
    unsigned tail_start, tail_count;
    unsigned long tail_total, tail_mark;
    struct baton_worker_io *io;
};

enum baton_slot_state {
    BATON_SLOT_RUNNING, /* has a worker process */
    BATON_SLOT_BACKOFF, /* its worker died; restart at restart_at_ms */
    BATON_SLOT_RETIRED, /* no worker: not started yet, or drained for the next generation */
};

struct baton_slot {
    enum baton_slot_state state;
    struct baton_worker *worker; /* RUNNING only */
    uint64_t restart_at_ms;      /* BACKOFF only */
    uint64_t backoff_ms;         /* the next backoff; 0: restart_initial_ms */
    unsigned restarts;           /* restarts after crashes, in total */
    unsigned quick_crashes;      /* crashes in a row, each before BATON_STABLE_MS */
};

enum baton_generation_state {
    BATON_GEN_STARTING, /* the reload transaction is starting it */
    BATON_GEN_ACTIVE,   /* serving (the previous one stays ACTIVE during a rollout) */
    BATON_GEN_DRAINING, /* replaced; its workers are draining */
    BATON_GEN_FAILED,   /* a failed start; its workers are being stopped */
};

struct baton_generation {
    struct baton_generation *next; /* oldest first */
    long id;
    enum baton_generation_state state;
    struct baton_config *config; /* this generation's own; command, env, timeouts */
    char *exec_path;             /* command[0] resolved once, when the generation started */
    char *dir;                   /* app.dir resolved once (symlinks followed) */
    uint64_t started_ms;
    bool killed; /* SIGKILLed beyond max_draining: no longer counted as draining */
    struct baton_slot *slots;
    unsigned n_slots;
    struct baton_worker *workers;  /* every live process, draining ones included */
    struct baton_counters retired; /* final counters of its workers that exited */
};

/* Why a reload failed, and what it did. */
enum baton_cause {
    BATON_CAUSE_NONE,
    BATON_CAUSE_EXIT,    /* a new worker exited */
    BATON_CAUSE_SIGNAL,  /* a new worker died by a signal */
    BATON_CAUSE_TIMEOUT, /* not ready within ready_timeout */
    BATON_CAUSE_EXEC,    /* the command could not be started */
    BATON_CAUSE_CONFIG,  /* the configuration did not load */
    BATON_CAUSE_STOP,    /* the supervisor was asked to stop */
    BATON_CAUSE_RELOAD,  /* an in-place reload: a worker reported ERRNO=/failure */
    BATON_CAUSE_PROBE,   /* a new worker said READY=1 but failed app.probe */
};

/* How an in-place reload ended (for the whole reload, or for one worker of it). */
enum baton_in_place_outcome {
    BATON_IN_PLACE_RELOADED, /* READY=1 after RELOADING=1 */
    BATON_IN_PLACE_ERRNO,    /* the worker reported ERRNO= */
    BATON_IN_PLACE_EXITED,   /* the worker exited or was killed while reloading */
    BATON_IN_PLACE_TIMEOUT,  /* not ready again within ready_timeout */
    BATON_IN_PLACE_STOPPING, /* the supervisor is stopping */
};

struct baton_verdict {
    bool ok;
    long gen, previous; /* -1 when none */
    enum baton_cause cause;
    int exit_status; /* EXIT */
    int signo;       /* SIGNAL */
    int err;         /* EXEC: errno; RELOAD: ERRNO= */
    pid_t pid;       /* the worker named by the cause, 0 when none */
    char *status;    /* the worker's last STATUS=, or NULL */
    char *probe;     /* PROBE: the probe's answer ("probe GET /healthz on worker N: 503 ...") */
    char **stderr;   /* its last stderr lines, NULL-terminated, or NULL */
    uint64_t ready_ms, total_ms;
    char *error; /* "generation 5 failed: ..." (NULL when ok) */
    char *msg;   /* "generation 4 is serving", "rolled back: ..." */
};

/* Side effects of the state machine. ctx is baton_gens.ctx. They must not call back into
 * baton__gens_*(): the machine is in the middle of a transition. */
struct baton_gens_ops {
    /* Starts w's process (w->gen, w->slot set; sets w->pid). Returns 0, or -errno when the
     * process could not be started, with *ret_what saying why in full (allocated):
     * "exec bin/x: No such file or directory", "user www-data: no such user". */
    int (*spawn)(void *ctx, struct baton_worker *w, char **ret_what);
    /* Sends a signal to w's process (the stop signal and SIGKILL: to its process group too). */
    void (*kill)(void *ctx, struct baton_worker *w, int signo);
    /* A line of progress for the current transaction (also logged); step names its kind
     * ("start", "ready", "drain", "signal", "reloaded") for programs. */
    void (*progress)(void *ctx, long gen, const char *step, const char *msg);
    /* The current transaction ended; v is valid during the call only. */
    void (*done)(void *ctx, const struct baton_verdict *v);
    /* w is about to be freed: release w->io. */
    void (*release_worker)(void *ctx, struct baton_worker *w);
    /* g is about to be freed: release g->config. */
    void (*release_generation)(void *ctx, struct baton_generation *g);
    /* Sends app.probe to w (STARTING, READY=1 seen; its config has a probe path). The answer
     * comes later, never from inside this call, through baton__gens_worker_probed(). NULL: no
     * probes (every worker is ready at READY=1). */
    void (*probe)(void *ctx, struct baton_worker *w);
};

enum baton_transition {
    BATON_TRANSITION_NONE,
    BATON_TRANSITION_ROLLOUT,  /* a new generation is starting */
    BATON_TRANSITION_IN_PLACE, /* workers reload in place (reload_signal) */
};

struct baton_gens {
    const struct baton_gens_ops *ops;
    void *ctx;
    struct baton_generation *list; /* every live generation, oldest first */
    struct baton_generation *active;
    long last_id;
    bool stopping;
    unsigned long restarts;        /* active workers restarted after dying, in total */
    struct baton_counters retired; /* final counters of every worker that exited */
    unsigned long stats_refused;   /* BATON_STATS= reports ignored: malformed or decreasing */
    /* Bumped by the funnels and whenever a worker process starts or is freed: the state
     * file (recover.c) is written again, once per loop turn, when it changed. */
    unsigned long changes;

    /* The running transaction. */
    enum baton_transition transition;
    struct {
        struct baton_generation *gen, *old;
        unsigned started; /* slots of gen spawned so far (in slot order) */
        unsigned ready;   /* of which ready */
        unsigned drained; /* old workers drained for them */
        unsigned pending; /* IN_PLACE: workers still reloading */
        uint64_t started_ms, deadline_ms;
    } tx;
};

/* A generation's counters: its exited workers' final ones plus its live workers' last reports
 * (the gauge `connections` from live workers only). */
void baton__generation_counters(const struct baton_generation *g, struct baton_counters *ret);
/* The supervisor's counters over its whole life: every worker that ever reported, across
 * reloads, crashes and re-execs. Never decreases (but for the gauge). */
void baton__gens_counters(const struct baton_gens *gs, struct baton_counters *ret);

/* Generations draining (their workers still finishing requests), and whether there are
 * app.max_draining of them: then a reload waits (busy) until the oldest has finished - its
 * drain_timeout bounds the wait - rather than cutting it short and failing its requests. */
unsigned baton__gens_draining(const struct baton_gens *gs);
bool baton__gens_drain_full(const struct baton_gens *gs);

/* Initialises an empty set of generations. */
void baton__gens_init(struct baton_gens *gs, const struct baton_gens_ops *ops, void *ctx);
/* Frees every generation and worker (their processes must be gone or abandoned). */
void baton__gens_free(struct baton_gens *gs);

/* Starts generation last_id+1 from config (ownership passes to it, also on failure).
 * Returns the generation id, or -EBUSY while another transaction runs (nothing taken: the
 * caller keeps config) or -ECANCELED when stopping. ops->done is called when it ends. */
long baton__gens_reload(struct baton_gens *gs, struct baton_config *config, uint64_t now);
/* Asks the active workers to reload in place (app.reload_signal). -EBUSY, -ECANCELED or
 * -ESRCH (nothing active) as above; 0 when started. */
int baton__gens_reload_in_place(struct baton_gens *gs, uint64_t now);

/* Events from the outside world. */
void baton__gens_worker_ready(struct baton_gens *gs, struct baton_worker *w, uint64_t now);
/* The answer to the probe ops->probe sent to w: ok counts it ready; a failure (answer: what the
 * probe got, for the verdict) fails a rollout it is part of, or stops it like a worker that was
 * not ready in time. Ignored unless w is STARTING with a probe out. */
void baton__gens_worker_probed(struct baton_gens *gs, struct baton_worker *w, bool ok,
                               const char *answer, uint64_t now);
void baton__gens_worker_reloading(struct baton_gens *gs, struct baton_worker *w);
void baton__gens_worker_errno(struct baton_gens *gs, struct baton_worker *w, int err, uint64_t now);
/* Process `pid` of w's process group (not w itself: a wrapper's child) sent a notify message. */
void baton__gens_worker_foreign(struct baton_gens *gs, struct baton_worker *w, pid_t pid);
/* The process of w exited with wait status `wstatus`; w is freed before this returns. */
void baton__gens_worker_exited(struct baton_gens *gs, struct baton_worker *w, int wstatus,
                               uint64_t now);
/* Acts on every deadline that has passed. */
void baton__gens_tick(struct baton_gens *gs, uint64_t now);
/* The earliest deadline (monotonic ms), or UINT64_MAX when none. */
uint64_t baton__gens_next_deadline(const struct baton_gens *gs);
/* Stops everything: drains every worker (fast: SIGKILL at once); no more restarts. An
 * unfinished transaction ends with cause STOP. */
void baton__gens_stop(struct baton_gens *gs, bool fast, uint64_t now);
/* True when no worker process is left. */
bool baton__gens_idle(const struct baton_gens *gs);
/* The worker with this pid, or NULL. */
struct baton_worker *baton__gens_find(const struct baton_gens *gs, pid_t pid);
/* True when some slot of the active generation is in a crash loop. */
bool baton__slot_crash_loop(const struct baton_slot *slot, uint64_t now);

/* Re-exec (reexec-state.c): the saved machine comes back through these, which enter the saved
 * states without a transition (nothing is signalled or started). The generation is appended
 * to the list (ownership of config passes to it); slots start RETIRED. */
struct baton_generation *baton__gens_restore_generation(struct baton_gens *gs, long id,
                                                        enum baton_generation_state state,
                                                        struct baton_config *config,
                                                        unsigned n_slots);
/* Slot i's saved state (BACKOFF; RUNNING comes with its worker). */
void baton__gens_restore_slot(struct baton_gens *gs, struct baton_generation *g, unsigned i,
                              enum baton_slot_state state);
/* The worker with pid in state (slot: its slot index; in_slot: it holds that slot). */
struct baton_worker *baton__gens_restore_worker(struct baton_gens *gs, struct baton_generation *g,
                                                pid_t pid, unsigned slot, bool in_slot,
                                                enum baton_worker_state state);

/* Names for status output and the re-exec state, and back (-EINVAL for an unknown name). */
const char *baton__worker_state_name(enum baton_worker_state s);
/* The worker state's own name ("killed" where status says "draining"), for the re-exec state. */
const char *baton__worker_state_key(enum baton_worker_state s);
const char *baton__generation_state_name(enum baton_generation_state s);
const char *baton__slot_state_name(enum baton_slot_state s);
const char *baton__cause_name(enum baton_cause c);
int baton__worker_state_parse(const char *name);
int baton__generation_state_parse(const char *name);
int baton__slot_state_parse(const char *name);

/* rollout.c: the policy of a transaction, asked by generation.c (no state changes there). */
/* How many new workers may be starting at once. */
unsigned baton__rollout_surge(const struct baton_generation *g);
/* The old slot to retire now that the new worker of `slot` is ready, or NULL for none. */
struct baton_slot *baton__rollout_pick_old(const struct baton_gens *gs, unsigned slot);
/* True when the rollout is complete: every slot of the new generation is ready. */
bool baton__rollout_complete(const struct baton_gens *gs);
/* The progress line when a rollout begins ("generation 5: starting 4 workers, 1 at a time"). */
void baton__rollout_begin_text(const struct baton_generation *g, char *buf, size_t size);
/* Verdict texts: a finished rollout, a failed one (cause, the worker, wait status or -errno
 * in detail, what failed to start), and an in-place reload's end. v->error and v->msg are
 * set (allocated: free with baton__verdict_free()). */
void baton__rollout_verdict_ok(struct baton_verdict *v, const struct baton_generation *g,
                               const struct baton_generation *old);
void baton__rollout_verdict_failed(struct baton_verdict *v, const struct baton_generation *g,
                                   enum baton_cause cause, const struct baton_worker *w, int detail,
                                   const char *what);
void baton__rollout_verdict_rolled_back(struct baton_verdict *v, const struct baton_generation *old,
                                        unsigned restored, bool stopping);
void baton__in_place_verdict(struct baton_verdict *v, const struct baton_generation *g,
                             enum baton_in_place_outcome outcome, const struct baton_worker *w,
                             int detail, uint64_t ready_timeout_ms);
void baton__verdict_free(struct baton_verdict *v);

/* ---- notify messages (notify.c) --------------------------------------------------------- */

struct baton_notify_msg {
    bool ready, reloading, stopping, watchdog;
    bool has_status, has_errno, has_stats;
    const char *status; /* points into the message; status_len bytes */
    size_t status_len;
    int err;
    const char *stats;
    size_t stats_len;
};

/* Parses one notify datagram (newline-separated KEY=VALUE; unknown keys and malformed values
 * are ignored, as systemd does). Returns 0, or -EINVAL for a message holding a NUL byte. */
int baton__notify_parse(const char *data, size_t len, struct baton_notify_msg *ret);

/* ---- control requests (control-request.c) ---------------------------------------------- */

/* The longest request line: a longer one is refused ("request too long") before parsing. */
#define BATON_CONTROL_REQUEST_MAX (64 * 1024)
/* The most reply bytes queued for one client (a reply, a progress event or a verdict is built
 * within it too): a client that does not read them is closed. */
#define BATON_CONTROL_REPLY_MAX (4 * 1024 * 1024)

enum baton_control_cmd {
    BATON_CONTROL_PING,
    BATON_CONTROL_STATUS,
    BATON_CONTROL_RELOAD,
    BATON_CONTROL_STOP,
    BATON_CONTROL_DEPLOY,   /* artifact, version, allow_downgrade, dry_run, wait */
    BATON_CONTROL_ROLLBACK, /* version ("" = the previous committed), wait */
    BATON_CONTROL_RELEASES,
    BATON_CONTROL_LOGS, /* the recent log lines (logs.c); follow: then every new one */
};

#define BATON_CONTROL_PATH_MAX 4096

/* One request read from the control socket (not an HTTP request: that is baton_request). */
struct baton_control_request {
    enum baton_control_cmd cmd;
    bool wait, fast, in_place, follow;
    bool allow_downgrade, dry_run;
    uint64_t timeout_ms;
    char artifact[BATON_CONTROL_PATH_MAX]; /* deploy: absolute path of the artifact */
    char version[65];                      /* deploy --version, rollback VERSION ("" none) */
};

/* Parses one request line (without its newline) with the common JSON reader, at most
 * BATON_CONTROL_REQUEST_MAX bytes. Returns 0, or -EINVAL (-EMSGSIZE for a longer line) with a
 * reason (one line of printable ASCII, for the error reply) in err; -ENOMEM. */
int baton__control_request_parse(const char *line, size_t len, struct baton_control_request *ret,
                                 struct baton_buf *err);

/* ---- the running supervisor (supervisor.c and the I/O files) ------------------------------ */

struct baton_control_client;

enum baton_sup_state {
    BATON_SUP_RUNNING,
    BATON_SUP_RELOADING,
    BATON_SUP_STOPPING,
};

/* A listening socket the supervisor holds (listener.c), known by its address. */
struct baton_listener {
    char *name, *text; /* from the configuration that last named it */
    struct baton_address address;
    int fd;
    bool adopted; /* passed by systemd: its UNIX socket file is not ours to remove */
    bool current; /* the serving generation's (or the start's): fd store, state file, status */
    char *stored; /* the name it has in systemd's fd store, or NULL when not stored */
};

struct baton_supervisor {
    uv_loop_t *loop;
    const struct baton_config_options *options;
    struct baton_gens gens; /* the one owner of generations, workers and transactions */
    uint64_t started_ms;
    char *name;
    int exit_code;
    bool first_ready; /* generation 1 became ready */
    bool stop_fast;
    bool stop_requested; /* stop from the loop (asked for inside a state machine callback) */

    struct baton_listener *listeners; /* every one held: current, and those a generation uses */
    size_t n_listeners;
    struct baton_inherited *inherited; /* systemd's listeners, until baton__listeners_open() */
    size_t n_inherited;

    char **base_env;        /* the supervisor's environment without LISTEN_* and NOTIFY_SOCKET */
    char *sd_notify_socket; /* the supervisor's own NOTIFY_SOCKET (systemd), or NULL */
    int devnull;

    int notify_fd;
    char notify_name[64]; /* NOTIFY_SOCKET value for workers: "@baton/<pid>/<random>" */
    uv_poll_t notify_poll;

    char *control_path;
    int control_fd;
    uv_poll_t control_poll;
    uint64_t control_retry_ms; /* out of fds: accepting resumes at this time (0: accepting) */
    struct baton_control_client *clients;
    struct baton_control_client *tx_client; /* asked for the running transaction, or NULL */
    uint64_t tx_started_ms;
    uint64_t tx_step_ms; /* when the running transaction's last progress event was sent */
    char *last_reload;   /* JSON object of the last verdict, or NULL */

    char *exe_path; /* for SIGUSR2: the binary and the argv to execute again */
    char **exe_argv;

    /* deploy.c: release.root (O_DIRECTORY fd, -1 without), its real path, the running deploy
     * or rollback and those waiting (--wait). */
    int release_fd;
    char *release_real;
    struct baton_deploy *deploy, *deploy_queue;
    struct baton_probation *probation; /* probation.c: a reload on probation, or NULL */
    struct baton_probe *probes;        /* probe.c: every app.probe request in flight */
    struct baton_pull *pull;           /* pull.c: release.source, or NULL */

    uv_timer_t timer;
    uv_prepare_t prepare;
    uv_signal_t signals[5];
    int hup_fd; /* signalfd of SIGHUP (its si_code tells a hang-up from a reload) */
    uv_poll_t hup_poll;
    bool had_terminal; /* a controlling terminal when the loop started */

    struct baton_takeover *recovery; /* the state file and a dead supervisor's orphans */
    struct baton_history *history;   /* observe.h: verdicts, durations, samples */
    struct baton_endpoint *endpoint; /* metrics.listen, or NULL */
    struct baton_watch *watch;       /* the config watch, or NULL */
    struct baton_logs *logs;         /* the recent log lines (logs.c) */
};

/* The supervisor's state, derived from the generations' machine (never stored). */
enum baton_sup_state baton__sup_state(const struct baton_supervisor *sup);

/* listener.c: takes the listeners systemd passed (LISTEN_FDS, read by libbaton), first thing,
 * before any fd is opened that could take the place of one it names. Returns 0, or -errno for
 * malformed variables or an fd that is not open (logged). */
int baton__listeners_inherit(struct baton_supervisor *sup);
/* listener.c: binds every `listen:` address, or adopts the one systemd passed for it (exit
 * status 2 material on failure: returns -errno after logging "listen NAME: ADDRESS: reason"). */
int baton__listeners_open(struct baton_supervisor *sup, const struct baton_config *config);
/* listener.c, for recover.c: a listening socket taken from a dead supervisor's worker, offered
 * to baton__listeners_open() under its listener's name like one of systemd's (its UNIX socket
 * file stays ours to remove). fd passes to the supervisor. */
void baton__listeners_offer(struct baton_supervisor *sup, const char *name, int fd);
/* True when fd is a listening socket (SO_ACCEPTCONN) bound to addr. */
bool baton__listener_is(int fd, const struct baton_address *addr);
/* Applies config's socket options (tcp.defer_accept) to the listeners held: on reload. */
void baton__listeners_configure(struct baton_supervisor *sup, const struct baton_config *config);
/* Closes the listeners and unlinks the UNIX socket files it bound. */
void baton__listeners_close(struct baton_supervisor *sup);
/* The listener held for `listen:` entry lc (its address; for a TCP port 0, its name too), or
 * NULL. */
struct baton_listener *baton__listener_find(const struct baton_supervisor *sup,
                                            const struct baton_listen_config *lc);
/* Before generation `gen` starts from config, in the same loop turn as baton__gens_reload():
 * binds every address of its `listen:` not held yet (with the socket options of the start) and
 * says what changes as progress lines (a listener no generation names is closed at the next
 * baton__listeners_update(), as after a reload that did not start). Returns how
 * many it bound, or -errno with "listen NAME: ADDRESS: reason" in err when one cannot be bound:
 * then nothing changed (those bound for it are closed again). Listeners held stay as they are;
 * those config no longer names close later (baton__listeners_update()). */
int baton__listeners_prepare(struct baton_supervisor *sup, const struct baton_config *config,
                             long gen, char *err, size_t errsz);
/* Once per loop turn: the serving generation's listeners become the current ones (renamed as it
 * names them), any listener no live generation uses is closed, and systemd's fd store and the
 * state file follow when that changed anything. */
void baton__listeners_update(struct baton_supervisor *sup);
/* Hands the current listeners to systemd's fd store (FDSTORE=1) when not stored yet. */
void baton__listeners_store(struct baton_supervisor *sup);
/* status.c: the listeners as a JSON array: current ones in fd order, then those closing. */
void baton__listeners_status_json(const struct baton_supervisor *sup, struct baton_buf *b);

/* spawn.c: the gens_ops spawn: forks and execs w, sets w->pid and starts its output capture. */
int baton__worker_spawn(struct baton_supervisor *sup, struct baton_worker *w, char **ret_what);
/* The environment every worker starts from (environ minus LISTEN_* and NOTIFY_SOCKET). */
char **baton__worker_base_env(char **environ_);

/* worker.c: output capture. */
void baton__worker_io_start(struct baton_supervisor *sup, struct baton_worker *w, int out_fd,
                            int err_fd);
/* The read ends of w's stdout and stderr pipes (-1 when closed). */
void baton__worker_io_fds(const struct baton_worker *w, int *ret_out, int *ret_err);
/* Reads whatever w's pipes hold now (called before an exit is handled). */
void baton__worker_io_flush(struct baton_worker *w);
/* Detaches w->io from w and closes it (the memory goes in the close callbacks). */
void baton__worker_io_release(struct baton_worker *w);

/* notify.c: the notify socket of the workers. */
int baton__notify_open(struct baton_supervisor *sup);
/* Handles every datagram waiting on the socket. */
void baton__notify_drain(struct baton_supervisor *sup);
void baton__notify_close(struct baton_supervisor *sup);
/* Watches an existing notify socket (after a re-exec). */
int baton__notify_adopt(struct baton_supervisor *sup, int fd);

/* control.c */
int baton__ctl_open(struct baton_supervisor *sup, const struct baton_config *config);
void baton__ctl_close(struct baton_supervisor *sup);
/* Serves an existing listening control socket (after a re-exec). */
int baton__ctl_adopt(struct baton_supervisor *sup, int fd, const char *path);
/* Closes every client; queued ones are told `why` first. */
void baton__ctl_drop_clients(struct baton_supervisor *sup, const char *why);
/* Sends one line (a JSON object, without the newline) to client c. */
void baton__ctl_send(struct baton_control_client *c, const char *json, size_t len);
/* The transaction of c ended: c may send its next request; queued reloads get their turn. */
void baton__ctl_tx_done(struct baton_supervisor *sup, struct baton_control_client *c);
/* From the loop (before it blocks): starts queued reloads, reads clients' next requests. */
void baton__ctl_resume(struct baton_supervisor *sup);
uint64_t baton__ctl_next_deadline(const struct baton_supervisor *sup);
void baton__ctl_tick(struct baton_supervisor *sup, uint64_t now);

/* supervisor.c: actions shared by signals and control requests. Starts a reload for client c
 * (NULL: a signal). Returns 0 when started or answered (the verdict goes to c), -EBUSY while
 * another reload runs or app.max_draining generations drain (a --wait request waits),
 * -EINPROGRESS while a deploy or a reload's probation runs (refused even with --wait),
 * -ECANCELED while stopping (nothing done for any of them). */
int baton__sup_reload(struct baton_supervisor *sup, struct baton_control_client *c, bool in_place);
/* Begins a graceful (or fast) stop. */
void baton__sup_stop(struct baton_supervisor *sup, bool fast);
/* "busy: generation N is starting" for the running transaction. */
void baton__sup_busy_message(const struct baton_supervisor *sup, char *buf, size_t size);

/* reexec.c: SIGUSR2. At start: remembers the binary and argv. */
void baton__reexec_prepare(struct baton_supervisor *sup);
/* Saves the state and executes the binary again; returns only on failure (-errno), the
 * supervisor carrying on unchanged. Refused (-EBUSY) while a transaction runs. */
int baton__reexec(struct baton_supervisor *sup);
/* In a new image: the state fd passed by the old one (removed from the environment), or -1. */
int baton__reexec_take_state(void);
/* Rebuilds listeners, sockets and generations from the state (closes state_fd). */
int baton__reexec_restore(struct baton_supervisor *sup, int state_fd);

/* reexec-state.c: the versioned state format. */
#define BATON_STATE_MAX_WORKERS 4096
/* The fds a restored state names, for reexec.c to adopt (the format itself does no I/O). */
struct baton_state_fds {
    int notify_fd, control_fd;
    char *control_path; /* allocated, or NULL */
    size_t n_workers;
    struct {
        pid_t pid;
        int out, err;
    } workers[BATON_STATE_MAX_WORKERS];
};
/* Writes the whole state (generations, slots, workers, listeners, counters) as one JSON object. */
void baton__state_save(const struct baton_supervisor *sup, struct baton_buf *b);
/* Rebuilds sup's listeners, counters and generations (through baton__gens_restore_*()) from a
 * saved state; the fds it names go to *ret. Returns 0, -EINVAL for an unusable state or
 * -EPROTONOSUPPORT for a version newer than this binary's. */
int baton__state_restore(struct baton_supervisor *sup, const char *text, size_t len,
                         struct baton_state_fds *ret);
/* One generation's configuration alone: written as a JSON object, and read back (0 or -EINVAL). */
void baton__state_config_json(struct baton_buf *b, const struct baton_config *c);
int baton__state_config_parse(const char *text, size_t len, struct baton_config **ret);

/* ---- the state file (state-file.c) and crash recovery (recover.c) ---------------------- */

#define BATON_STATE_FILE_VERSION 1
/* More listeners or workers than this: not a state file of ours. */
#define BATON_STATE_FILE_MAX_ITEMS 65536

struct baton_state_listener {
    char *name;
    char *address; /* as baton__address_format() writes it */
};

struct baton_state_worker {
    pid_t pid;
    unsigned long long start_time; /* /proc/PID/stat field 22 */
    long gen;
    int stop_signal;
    uint64_t drain_timeout_ms;
    bool draining; /* the stop signal was sent: a second one may mean "stop now" */
};

/* What a supervisor leaves beside its control socket (`<control.socket>.state`). */
struct baton_state_file {
    pid_t pid; /* the supervisor */
    unsigned long long start_time;
    char *config;  /* its configuration file, or NULL */
    char *control; /* its control socket */
    long last_id;  /* the last generation id it used */
    struct baton_state_listener *listeners;
    size_t n_listeners;
    struct baton_state_worker *workers;
    size_t n_workers;
};

/* Writes sf as one JSON object (with its "version"), newline-terminated. */
void baton__state_file_format(const struct baton_state_file *sf, struct baton_buf *b);
/* Reads one: 0 (*ret filled, free with baton__state_file_free()), -EINVAL when malformed,
 * -EPROTONOSUPPORT when written by a newer format (or missing its version: -EINVAL). */
int baton__state_file_parse(const char *text, size_t len, struct baton_state_file *ret);
/* Replaces the file at path atomically (temporary file, fsync, rename, fsync of the
 * directory). Returns 0 or -errno. */
int baton__state_file_write(const char *path, const struct baton_state_file *sf);
/* Reads and parses the file at path: as above, or -errno (-ENOENT: none). */
int baton__state_file_read(const char *path, struct baton_state_file *ret);
void baton__state_file_free(struct baton_state_file *sf);
/* A live process's start time (and process group) from /proc/PID/stat. -ESRCH when it is gone
 * or a zombie. */
int baton__proc_stat(pid_t pid, unsigned long long *ret_start, pid_t *ret_pgrp);

struct baton_takeover; /* recover.c */

/* Before the listeners are opened: reads the state file beside config's control socket. A
 * previous supervisor still alive: -EEXIST (never touched). A dead one whose workers of the
 * same listeners still run (each checked: start time, LISTEN_PID, BATON_GENERATION): their
 * listening sockets are taken (pidfd_getfd, the same open sockets) and offered to
 * baton__listeners_open(), and the workers are watched through pidfds as orphans. -EPERM when
 * the kernel does not allow it, -errno otherwise; every failure is logged with what to do. */
int baton__recover_begin(struct baton_supervisor *sup, const struct baton_config *config);
/* This supervisor holds the control socket at control_path now: the state file beside it is
 * its own from here on (written by baton__recover_save()). */
void baton__recover_own(struct baton_supervisor *sup, const char *control_path);
/* Once per loop turn: writes the state file when the machine or the orphans changed. */
void baton__recover_save(struct baton_supervisor *sup);
/* Drains the orphans: the stop signal (their generation's), SIGKILL to their process group
 * after its drain_timeout; fast: SIGKILL now. */
void baton__recover_drain(struct baton_supervisor *sup, bool fast, uint64_t now);
/* True when an orphan still serving runs in directory dir (its cwd: a generation's resolved
 * app.dir, e.g. a release's directory): deploy.c resumes that release's probation. */
bool baton__recover_serves_dir(const struct baton_supervisor *sup, const char *dir);
uint64_t baton__recover_next_deadline(const struct baton_supervisor *sup);
void baton__recover_tick(struct baton_supervisor *sup, uint64_t now);
/* True when no orphan is left. */
bool baton__recover_idle(const struct baton_supervisor *sup);
/* At exit, before the generations, listeners and loop handles are released: the state file
 * is removed when ours (or rewritten when orphans outlive us); the orphans' pidfds close. */
void baton__recover_end(struct baton_supervisor *sup);
/* The message for a takeover the kernel refused (err: -EPERM/-EACCES), naming the dead
 * supervisor, the listener and the orphans' pids, and what to do. */
void baton__recover_denied_message(char *buf, size_t size, pid_t old_pid, const char *listener,
                                   const pid_t *pids, size_t n, int err);
/* status.c: the orphans still running, as a JSON array (nothing written when none). */
void baton__recover_status_json(const struct baton_supervisor *sup, struct baton_buf *b);
/* deploy.c: deploys, rollbacks and the release list (DESIGN.md "Deploy"). */
struct baton_deploy;
/* At start, before the first generation: opens release.root and runs the library's recovery.
 * Returns 0 (also without release.root) or -errno (logged). */
int baton__deploy_open(struct baton_supervisor *sup, const struct baton_config *config);
/* True when there is a release to run (always without release.root). */
bool baton__deploy_has_release(const struct baton_supervisor *sup);
void baton__deploy_close(struct baton_supervisor *sup);
/* A deploy, rollback or releases request of client c (c is busy until its result). */
void baton__deploy_request(struct baton_supervisor *sup, struct baton_control_client *c,
                           const struct baton_control_request *req);
/* Client c went away: a running deploy goes on unheard; a waiting one is dropped. */
void baton__deploy_client_gone(struct baton_supervisor *sup, struct baton_control_client *c);
/* A rollout ended: true when it was the deploy's (which then owns the verdict). */
bool baton__deploy_rollout_done(struct baton_supervisor *sup, const struct baton_verdict *v);
/* A rollout's progress line, passed on to the deploy's client. */
void baton__deploy_progress(struct baton_supervisor *sup, long gen, const char *msg);
/* Worker w is reaped (before the machine hears of it): fails a probation it was part of. */
void baton__deploy_worker_exit(struct baton_supervisor *sup, const struct baton_worker *w, int st);
/* After reap() handled every exit: a probation failed by one goes on (restores). */
void baton__deploy_after_reap(struct baton_supervisor *sup);
/* True (with "busy: deploy of V ...") while a deploy or rollback runs. */
bool baton__deploy_busy(const struct baton_supervisor *sup, char *buf, size_t size);
/* The release version generation g runs ("" when not from release.root). */
void baton__deploy_gen_version(const struct baton_supervisor *sup, const struct baton_generation *g,
                               char *buf, size_t size);
/* Pull mode's deploy of a downloaded artifact (no control client): started like `baton deploy
 * ARTIFACT --version V`; its end is told to baton__pull_deploy_ended(). Returns 0, or -EBUSY
 * while a deploy, rollback, probation or reload runs, -ECANCELED when stopping, -EINVAL (the
 * reason in err). */
int baton__deploy_pulled(struct baton_supervisor *sup, const char *artifact, const char *version,
                         char *err, size_t errsz);

/* pull.c: release.source (DESIGN.md "Pull mode"): the update source polled on the thread pool,
 * new versions deployed through baton__deploy_pulled(). */
struct baton_pull;
/* After baton__deploy_open(): creates the source (nothing without release.source.url), tells it
 * the journal's failed releases and schedules the first poll. Returns 0 or -errno (logged). */
int baton__pull_open(struct baton_supervisor *sup, const struct baton_config *config);
/* The supervisor stops: a poll in flight is cancelled, no other starts. */
void baton__pull_stop(struct baton_supervisor *sup);
/* At exit: frees the source (a cancelled poll still running frees it when it returns). */
void baton__pull_close(struct baton_supervisor *sup);
/* The pulled deploy of version ended (ok: committed): its files are removed, a failure is
 * remembered by the source, the next poll is scheduled. */
void baton__pull_deploy_ended(struct baton_supervisor *sup, const char *version, bool ok);
/* status.c: "source": {...} (nothing without pull mode). */
void baton__pull_status_json(const struct baton_supervisor *sup, struct baton_buf *b);

/* probation.c: app.probation for plain reloads. */
struct baton_probation;
/* A rollout ended with verdict v (its JSON): true when probation holds it (or it was the
 * restore after a failed probation): the answer comes later through baton__sup_finish(). */
bool baton__probation_rollout_done(struct baton_supervisor *sup, const struct baton_verdict *v,
                                   const char *json);
void baton__probation_worker_exit(struct baton_supervisor *sup, const struct baton_worker *w,
                                  int st);
void baton__probation_after_reap(struct baton_supervisor *sup);
bool baton__probation_busy(const struct baton_supervisor *sup, char *buf, size_t size);
void baton__probation_close(struct baton_supervisor *sup);

/* probe.c: app.probe (DESIGN.md "Observability"). */
struct baton_probe;
/* Binds a new worker's private probe listener on 127.0.0.1, port 0: its close-on-exec fd (spawn.c
 * passes it as the worker's last listener, named "probe", and closes its own copy) and port.
 * Returns 0 or -errno. */
int baton__probe_listener(int *ret_fd, unsigned short *ret_port);
/* A probe's answer: ok when the status was app.probe.expect; text is the whole answer for
 * messages ("probe GET /healthz on worker N: 503 Service Unavailable (expected 200)"). */
typedef void (*baton_probe_done)(struct baton_supervisor *sup, pid_t pid, long gen, bool ok,
                                 const char *text, void *data);
/* Sends GET <app.probe.path> to w's probe listener from the loop, within app.probe.timeout. done
 * is called once, later (never from inside this call), unless the probe is cancelled first. */
struct baton_probe *baton__probe_start(struct baton_supervisor *sup, const struct baton_worker *w,
                                       baton_probe_done done, void *data);
/* Forgets a probe in flight: its done is not called. */
void baton__probe_cancel(struct baton_probe *p);
/* At exit, before the loop's last run: every probe in flight is cancelled. */
void baton__probe_close_all(struct baton_supervisor *sup);
/* The machine's ops->probe: the readiness probe, answered through baton__gens_worker_probed(). */
void baton__probe_worker(struct baton_supervisor *sup, struct baton_worker *w);
/* Probation's probes: every app.probe.interval, every ready worker of generation gen. The first
 * failure (a worker still ready that failed its probe) stops the watch, then calls failed once:
 * the owner must not stop it again. */
struct baton_probe_watch;
typedef void (*baton_probe_failed)(struct baton_supervisor *sup, const char *text, void *data);
/* NULL when gen has no app.probe (or is gone). */
struct baton_probe_watch *baton__probe_watch_start(struct baton_supervisor *sup, long gen,
                                                   baton_probe_failed failed, void *data);
/* Stops the watch (NULL is fine); its probes still out are forgotten. */
void baton__probe_watch_stop(struct baton_probe_watch *pw);

/* supervisor.c: a transaction's answer (verdict JSON) to its client, systemd and status. */
void baton__sup_finish(struct baton_supervisor *sup, bool ok, const char *json, size_t len);
/* A progress line of the running transaction (logged, sent to its client as an event with
 * step, msg, gen, elapsed_ms and step_ms: the time since the previous event). */
void baton__sup_progress(struct baton_supervisor *sup, long gen, const char *step, const char *msg);

/* status.c */
void baton__status_json(const struct baton_supervisor *sup, struct baton_buf *b);
void baton__verdict_json(const struct baton_verdict *v, struct baton_buf *b);

#endif
