/* The local `ferry worker` processes of `ferry sync` and `ferry up`: one supervisor for both.
 *
 * It starts children as
 *     EXE [--state-dir DIR] worker ARGS...
 * where EXE is this very binary (/proc/self/exe) and ARGS are the caller's (`--task NAME` for
 * sync, `--concurrency N` and the options after `--` for up). stdin is ignored; stdout and
 * stderr both go to the one fd the caller chooses (its stderr, or sync's log file on a
 * terminal). The children inherit this process's environment, into which sup_new puts
 *     FERRY_REDIS_URL  the Redis URL when one is given: it may hold a password, and a command
 *                      line is readable by every local user, so it never goes in argv;
 *     FERRY_SYNC_PID   this process's pid: a worker drains and exits when this process is
 *                      gone, even after a SIGKILL.
 *
 * The policy stays with the caller: how many to run, which one to stop, whether and when an
 * exited child is started again. The supervisor keeps the table and the counts.
 *
 * Entries. Children live in `max` entries numbered 0..max-1 (the number a caller may show as a
 * slot). An entry is free, alive (its process runs; "asked" once sup_stop or sup_signal_all
 * reached it) or closing (the process exited and libuv is closing its handle; the entry is
 * free again after the loop's next turn).
 *
 * Threads. Every function runs on the thread of the loop given in sup_cfg_t.
 *
 * Ownership. sup_new returns a supervisor the caller owns and frees with sup_free. It borrows
 * the loop and log_fd (both must outlive it), copies state_dir, and owns one uv_process_t per
 * entry: it may be freed only once no handle is open (sup_idle), which takes a turn of the
 * loop after the last exit.
 *
 * The order things stop:
 *   1. sup_stop (SIGTERM to one) or sup_signal_all (SIGTERM to every alive child): each child
 *      reached is marked asked and no longer counts in sup_running. A worker given SIGTERM
 *      drains: it finishes what it copies within its grace and hands back the rest.
 *   2. A child exits: sup_alive (and sup_running if it was not asked) drop, its handle starts
 *      closing, then on_exit is called with its code. The counts are already up to date there.
 *   3. The loop's next turn runs the close callback: the entry is free.
 *   4. Once sup_idle: sup_free, then uv_loop_close.
 * At once instead: sup_signal_all(SIGKILL), then run the loop (UV_RUN_ONCE) until
 * sup_alive() == 0 to reap them, then as from step 3.
 */
#ifndef FERRY_CMD_SUPERVISE_H
#define FERRY_CMD_SUPERVISE_H

#include <stdint.h>
#include <uv.h>

#include "ferry/error.h"

#define SUP_MAX      10000 /* entries at most (ferry up --workers allows 10,000) */
#define SUP_ARGS_MAX 64    /* caller's ARGS after "worker" at most */

typedef struct sup_s sup_t;

/* What on_exit learns about a child that exited. */
typedef struct {
    int idx;        /* its entry */
    int pid;        /* its process id */
    int code;       /* its exit status, or 128 + the signal that ended it (as a shell says) */
    int sig;        /* the signal that ended it, or 0 */
    int asked;      /* sup_stop or sup_signal_all reached it before it exited */
    int64_t ran_ms; /* from its start to its exit, monotonic */
} sup_exit_t;

/* Called once per child that started, when it exits (never for a failed sup_spawn). e is
 * valid during the call only. The callback may call sup_spawn (the exited entry is still
 * closing: another one is used), sup_stop, sup_signal_all, but not sup_free. */
typedef void (*sup_exit_cb)(void *ud, const sup_exit_t *e);

typedef struct {
    uv_loop_t *loop;       /* borrowed: the children's handles live on it */
    int max;               /* entries: children at once, 1..SUP_MAX */
    const char *state_dir; /* given as --state-dir before "worker", or NULL; copied */
    const char *redis_url; /* put in FERRY_REDIS_URL, or NULL / "": left as it is */
    int log_fd;            /* the children's stdout and stderr (2: ours); borrowed */
    sup_exit_cb on_exit;   /* may be NULL */
    void *ud;              /* given to on_exit */
} sup_cfg_t;

/* A live child, as sup_child shows it. */
typedef struct {
    int pid;
    int asked;          /* reached by sup_stop or sup_signal_all */
    int64_t started_ms; /* monotonic; larger is newer */
} sup_child_t;

/* A new supervisor in *out (free with sup_free), with FERRY_REDIS_URL and FERRY_SYNC_PID set in
 * this process's environment. FERRY_OK; FERRY_EINVAL (max out of range), FERRY_ENOMEM,
 * FERRY_EIO (this binary's path unreadable, or the environment not settable), with err's
 * message saying what to check. On error *out is NULL. */
int sup_new(const sup_cfg_t *cfg, sup_t **out, ferry_error_t *err);

/* Start one child on the lowest free entry with the NULL-terminated args (borrowed for the
 * call). FERRY_OK with *idx (may be NULL) set; FERRY_EBUSY every entry is alive or closing
 * (try again after a turn of the loop); FERRY_EINVAL more than SUP_ARGS_MAX args; FERRY_ESPAWN
 * the process did not start (err says why; its entry is closing; on_exit is not called). */
int sup_spawn(sup_t *s, char *const args[], int *idx, ferry_error_t *err);

/* SIGTERM to the child in entry idx, which becomes asked. FERRY_OK; FERRY_ENOTFOUND when no
 * child alive and not yet asked is there. */
int sup_stop(sup_t *s, int idx);

/* sig to every alive child, each becoming asked. A child that has exited but whose exit the
 * loop has not yet seen is skipped. */
void sup_signal_all(sup_t *s, int sig);

/* FERRY_OK with *c filled when a child is alive in entry idx; FERRY_ENOTFOUND otherwise. */
int sup_child(const sup_t *s, int idx, sup_child_t *c);

int sup_max(const sup_t *s);     /* the number of entries */
int sup_alive(const sup_t *s);   /* children whose process runs, asked or not */
int sup_running(const sup_t *s); /* alive and not asked */
int sup_idle(const sup_t *s);    /* 1 when no child is alive and no handle is closing */

/* Free s (NULL: nothing). FERRY_OK; FERRY_EBUSY when a handle is still open (not sup_idle):
 * nothing is freed then, and the caller must run the loop first (see the order above). */
int sup_free(sup_t *s);

#endif
