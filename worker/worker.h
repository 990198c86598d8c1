/* ferry worker — the job loop: pull jobs, take the per-key lease, copy (copy.h), record the
 * outcome in the ledger, ack. Design: docs/internals/worker.md.
 *
 * Threads: ferry_worker_run runs one libuv loop on the calling thread (S3 client, every job's
 * state machine, quick Redis transitions over its own connection) and one feeder thread that
 * owns a second Redis connection and does the blocking XREADGROUP, fetching a job only when a
 * job slot is free and handing it over with uv_async. Call it once per process, from main.
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
    int exit_when_idle;       /* exit 0 once the streams served are empty and nothing runs */
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
