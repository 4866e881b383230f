/*
 * The supervisor's internals, shared by its files:
 *
 *   generation.c  the state machine of generations, workers and slots (pure: no I/O; side
 *                 effects go through struct baton_gens_ops, time comes in as arguments)
 *   rollout.c     the reload transaction: rolling / blue-green, verdicts, rollback
 *   spawn.c       fork/exec of one worker with its environment and listeners
 *   worker.c      a worker's stdout/stderr capture
 *   notify.c      the notify socket (READY=1, STATUS=...) and its message parser
 *   control.c     the control socket server; request.c parses its requests
 *   status.c      status and verdict objects as JSON
 *   listener.c    the listening sockets (bound, or adopted from systemd)
 *   reexec.c      SIGUSR2: executing the supervisor's binary again, state kept
 *   reexec-state.c  the versioned format of that state (save, restore)
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
    uint64_t started_ms;  /* monotonic */
    uint64_t ready_ms;    /* time from spawn to ready */
    uint64_t deadline_ms; /* STARTING: ready timeout (or delay); DRAINING: SIGKILL; 0: none */
    char *status;         /* last STATUS= text, or NULL */
    int notify_errno;     /* last ERRNO=, 0 when none */
    struct baton_counters counters; /* the last BATON_STATS= report (stats.h) */
    bool reloading;                 /* RELOADING=1 seen, READY=1 not yet */
    bool reload_pending;            /* asked to reload in place; READY=1 not yet */
    pid_t foreign_child;            /* a process of this worker's group that sent notify messages */
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
    /* A line of progress for the current transaction (also logged). */
    void (*progress)(void *ctx, long gen, const char *msg);
    /* The current transaction ended; v is valid during the call only. */
    void (*done)(void *ctx, const struct baton_verdict *v);
    /* w is about to be freed: release w->io. */
    void (*release_worker)(void *ctx, struct baton_worker *w);
    /* g is about to be freed: release g->config. */
    void (*release_generation)(void *ctx, struct baton_generation *g);
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

/* ---- control requests (request.c) ------------------------------------------------------ */

enum baton_request_cmd {
    BATON_REQ_PING,
    BATON_REQ_STATUS,
    BATON_REQ_RELOAD,
    BATON_REQ_STOP,
};

struct baton_request {
    enum baton_request_cmd cmd;
    bool wait, fast, in_place;
    uint64_t timeout_ms;
};

/* Parses one request line (without its newline). Returns 0, or -EINVAL with a reason (one
 * line, for the error reply) in err. Bounded in time and stack for any input. */
int baton__request_parse(const char *line, size_t len, struct baton_request *ret,
                         struct baton_buf *err);

/* ---- the running supervisor (supervisor.c and the I/O files) ------------------------------ */

struct baton_control_client;

enum baton_sup_state {
    BATON_SUP_RUNNING,
    BATON_SUP_RELOADING,
    BATON_SUP_STOPPING,
};

struct baton_listener {
    char *name, *text; /* from the configuration the supervisor started with */
    struct baton_address address;
    int fd;
    bool adopted; /* passed by systemd: its UNIX socket file is not ours to remove */
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

    struct baton_listener *listeners;
    size_t n_listeners;
    struct baton_inherited *inherited; /* systemd's listeners, until baton__listeners_open() */
    size_t n_inherited;
    char *fdnames; /* LISTEN_FDNAMES value */

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
    char *last_reload; /* JSON object of the last verdict, or NULL */

    char *exe_path; /* for SIGUSR2: the binary and the argv to execute again */
    char **exe_argv;

    uv_timer_t timer;
    uv_prepare_t prepare;
    uv_signal_t signals[5];
    int hup_fd; /* signalfd of SIGHUP (its si_code tells a hang-up from a reload) */
    uv_poll_t hup_poll;
    bool had_terminal; /* a controlling terminal when the loop started */
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
/* Applies config's socket options (tcp.defer_accept) to the listeners held: on reload. */
void baton__listeners_configure(struct baton_supervisor *sup, const struct baton_config *config);
/* Closes the listeners and unlinks the UNIX socket files it bound. */
void baton__listeners_close(struct baton_supervisor *sup);
/* True when config's `listen:` differs from the listeners held. */
bool baton__listeners_changed(const struct baton_supervisor *sup,
                              const struct baton_config *config);

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
 * another transaction runs, -ECANCELED while stopping (nothing done for either). */
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

/* status.c */
void baton__status_json(const struct baton_supervisor *sup, struct baton_buf *b);
void baton__verdict_json(const struct baton_verdict *v, struct baton_buf *b);

#endif
