/* ferry worker — the job loop: pull jobs, take the per-key lease, copy (copy.h), record the
 * outcome in the ledger, ack. Design: docs/internals/worker.md. Call ferry_worker_run once per
 * process, from main.
 *
 * Three threads, each with its own Redis connection:
 *   loop       the caller's thread: one libuv loop runs the S3 clients, every job's copy
 *              (copy.h), lease and claim renewal, statistics, the janitor, the signals; its
 *              connection only takes the rare calls (set_upload, renewals, hand-backs).
 *   feeder     pulls jobs (XREADGROUP) only when a job slot is free, takes their leases (the
 *              ledger's start) and hands the ones to copy to the loop (uv_async).
 *   committer  records the outcomes the loop posts (the ledger's finish, then ack or nack), a
 *              batch per round trip.
 *
 * What they share (struct worker_s in worker.c), who writes it, and what guards it. Everything
 * else belongs to one thread: the loop's, or set before the threads start (options, pid,
 * consumer name).
 *
 *   field                     written by                        read by            guard
 *   state (wstate_t)          loop, forward only                all three          mu (1)
 *   hand[], nhand (hand-offs) feeder appends, loop takes        feeder, loop       mu
 *   busy (slots taken)        feeder +1, loop -1, committer -n  feeder             mu, cv
 *   c_head, c_tail, c_queued  loop appends, committer takes     loop, committer    mu, c_cv
 *   commits (not recorded)    loop +1, committer -n             loop               mu
 *   c_gathering               committer                         loop               mu
 *   feeder_end, feeder_err    feeder, as it ends                loop, after join   mu
 *   feeder_block_id           feeder, around a blocking read    loop, at DRAIN     mu
 *   feeds, fed                feeder                            loop, after join   join
 *   cbatches, cjobs           committer                         loop, after join   join
 *   (1) the loop, its only writer, reads it without the lock.
 * cv wakes the feeder (a slot freed, the state moved); c_cv wakes the committer (outcomes
 * posted, the state moved); the two threads wake the loop with uv_async_send.
 *
 * Stopping, in this order:
 *   1. SIGTERM/SIGINT, the consumer name lost, or the feeder ending (exit_when_idle with
 *      nothing to do, or a failure): the state goes from RUN to DRAIN and the feeder stops
 *      pulling and ends.
 *   2. Jobs still being handed over are handed back (lease released, nack 0).
 *   3. Copies in flight get grace_ms; then, or at a second signal, they are canceled and
 *      handed back (the record keeps its upload id for a resume).
 *   4. The loop joins the feeder. Once no job is in flight and the committer has recorded
 *      every outcome (it wakes the loop after each batch while draining), the state goes to
 *      LAST and the loop joins the committer.
 *   5. CLOSED: the loop flushes the statistics, deletes the heartbeat, closes its timers, S3
 *      clients and transport; uv_run returns.
 *   6. ferry_worker_run logs worker.stopped, releases the consumer name, closes the two
 *      remaining connections and returns.
 */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include "ferry/error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Options. Zeroed fields take the defaults in brackets. Strings are borrowed for the run. */
typedef struct ferry_worker_opts_s {
    const char *redis_url;    /* required */
    const char *const *tasks; /* tasks to serve, or NULL / ntasks 0: every task in the registry
                                 (re-read every few seconds) */
    size_t ntasks;
    const char *consumer;     /* stable consumer name ("host/slot"); required unless
                                 slot_auto */
    int slot_auto;            /* consumer NULL: claim "host/N" for the lowest N (0..1023) that
                                 no live process holds (a dead one's is taken over, with its
                                 pending jobs and leases) */
    unsigned concurrency;     /* jobs in flight [64] */
    unsigned parts_per_job;   /* streams one multipart copy may hold [4] */
    unsigned streams;         /* streams per process [min(concurrency * parts_per_job, 64)] */
    size_t ring_size;         /* bytes per stream [2 MiB], at least 256 KiB */
    uint64_t md5_hold;        /* bytes held for ordered MD5s, per process [64 MiB] (copy.h) */
    int exit_when_idle;       /* exit 0 once the streams served are empty and nothing runs */
    unsigned peers;           /* workers expected to share the jobs, this one included [1]: a
                                 worker holds at most its share of the task's delivered and
                                 waiting jobs (the consumers that have read count too) */
    int64_t grace_ms;         /* SIGTERM: finish in-flight copies within this [30 s] */
    int64_t lease_ms;         /* per-key copy lease, renewed every third [60 s] */
    int64_t visibility_ms;    /* queue visibility timeout [300 s] */
    int max_attempts;         /* copies of a job that ran and failed before it is failed [5]
                                 (the record's attempts, counted by the ledger's start) */
    int delivery_cap;         /* safety cap on a job's deliveries [100]: restarts, busy leases
                                 and hand-backs re-deliver a job without an attempt */
    int64_t janitor_age_ms;   /* abort multipart uploads that ferry started (the task's set of
                                 upload ids) and no live record owns, older than this [24 h];
                                 -1 disables the janitor */
    int64_t janitor_every_ms; /* how often the janitor looks [1 h] */
} ferry_worker_opts_t;

/* The consumer name is held by one live process at a time: at start the worker claims it in
 * Redis ("<machine> <pid>", expiring after lease_ms, renewed with the leases). A claim of a
 * process on this machine that no longer exists (kill(pid, 0)) is taken over at once; a live
 * holder makes the start fail with FERRY_EBUSY. This is what lets the ledger take over a
 * lease of the same "<host>/<slot>" with another pid without waiting for it to expire. With
 * slot_auto, slots held by live processes are passed over (FERRY_EBUSY only when all are).
 *
 * Run until SIGTERM/SIGINT (then drain: stop pulling, finish in-flight copies within the
 * grace period, hand the rest back for re-claim) or, with exit_when_idle, until idle.
 * FERRY_OK on a clean exit; otherwise an error code with err saying what to fix (Redis
 * unreachable, a task that does not exist). Installs signal handlers on its loop. */
int ferry_worker_run(const ferry_worker_opts_t *o, ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
