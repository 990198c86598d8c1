/* ferry scheduler — the scaling policy: how many worker processes the queue calls for.
 *
 * One policy for every way workers are run: `ferry up` follows it every second, `GET
 * /v1/scale` answers it (KEDA's metrics-api trigger reads that route), and /metrics shows the
 * last answer as ferry_workers_desired. docs/scaling.md explains it for users.
 *
 * The decision (ferry_scale_decide) is a pure function of its inputs, a small state and the
 * time, so it is tested with tables:
 *
 *   jobs     = lag + pending (entries never delivered + delivered and not yet acked)
 *   per worker: concurrency c (the live workers' heartbeats, else cfg), and the rates it copies
 *            at: objects/s and bytes/s, measured while jobs wait undelivered (then the workers
 *            are saturated, so the rate is their capacity), else cfg's assumptions; a sample
 *            whose objects average under FERRY_SCALE_LARGE measures objects/s, a larger one
 *            bytes/s (one sample cannot tell which of the two bound it)
 *   work     = max(jobs / ops, bytes / bps)   worker-seconds of the backlog, whichever of the
 *            object count or the bytes bounds it (one 50 GB object is not one 16 KB object)
 *   raw      = ceil(work / drain target), at most ceil(jobs / c) (more workers would sit
 *            idle: each takes up to c jobs), at least 1 while any job exists, 0 when none
 *   target   = raw clamped to min..max
 *   desired  = target at once when it is higher than the last answer (up fast); a lower
 *            target only once it has stayed lower for the cooldown (down slowly: hysteresis)
 *
 * ferry_scale_eval reads the inputs from Redis (streams, ledger counters, heartbeats), keeps
 * the state in Redis (ferry:scale for all tasks, ferry:{T}:scale for one) so that every API
 * replica and `ferry up` give the same answer, and writes the new state back.
 *
 * Threading: the pure function is; ferry_scale_eval uses the connection's one-thread rule.
 */
#ifndef FERRY_SCHED_SCALE_H
#define FERRY_SCHED_SCALE_H

#include <stdint.h>

#include <jansson.h>

#include "ferry/redis.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_SCALE_MAX             10000 /* the largest --workers MAX */
#define FERRY_SCALE_DEFAULT_MAX     100   /* /v1/scale's bound when none is configured */
#define FERRY_SCALE_COOLDOWN_MS     60000 /* down only after 60 s below */
#define FERRY_SCALE_DRAIN_TARGET_MS 60000 /* aim to drain the backlog within a minute */
#define FERRY_SCALE_CONCURRENCY     16    /* a worker's default --concurrency */
#define FERRY_SCALE_WORKER_OPS      20.0  /* objects/s per worker, assumed until measured */
#define FERRY_SCALE_WORKER_BPS      (32.0 * 1048576.0) /* bytes/s per worker, likewise */
#define FERRY_SCALE_HOSTS_KEY       "ferry:ups" /* zset: live `ferry up` "host/pid" -> seen ms */
#define FERRY_SCALE_HOST_TTL_MS     5000        /* a ferry up not seen this long is gone */
#define FERRY_SCALE_LARGE                                                                          \
    (1024LL * 1024) /* a sample's mean object size from which                                      \
                       it measures bytes/s, below it objects/s */

typedef struct ferry_scale_cfg_s {
    int min, max;            /* clamp: 0 <= min <= max <= FERRY_SCALE_MAX */
    int64_t cooldown_ms;     /* 0: FERRY_SCALE_COOLDOWN_MS */
    int64_t drain_target_ms; /* 0: FERRY_SCALE_DRAIN_TARGET_MS */
    int concurrency;         /* jobs per worker when no heartbeat says; 0: default */
    double worker_ops;       /* assumed rates until measured; 0: the defaults above */
    double worker_bps;
    int per_host; /* min and max are per `ferry up`: ferry_scale_eval multiplies them by the
                     live ones (FERRY_SCALE_HOSTS_KEY), at least 1 */
} ferry_scale_cfg_t;

typedef struct ferry_scale_in_s {
    long long lag;          /* jobs never delivered to a worker */
    long long pending;      /* jobs delivered and not acked (running or about to) */
    long long bytes;        /* bytes of the records queued or copying */
    long long actual;       /* live workers: a heartbeat within its 15 s ttl */
    long long concurrency;  /* the sum of the live workers' concurrency (0: unknown) */
    long long done_objects; /* cumulative objects ended (done, failed, deleted) */
    long long done_bytes;   /* cumulative bytes done */
} ferry_scale_in_t;

typedef struct ferry_scale_state_s {
    int desired;          /* the last answer; -1: none yet (the first answer is the target) */
    int64_t low_since_ms; /* when the target first fell below desired (0: it has not) */
    int64_t changed_ms;   /* when desired last changed */
    int64_t sample_ms;    /* the last rate sample (0: none) */
    long long sample_objects, sample_bytes;
    double ops, bps; /* measured per-worker rates (0: not measured yet) */
} ferry_scale_state_t;

typedef struct ferry_scale_out_s {
    int desired;              /* workers to run */
    int target;               /* the policy's target before hysteresis */
    int raw;                  /* before the clamp */
    const char *reason;       /* "idle", "backlog", "bytes", "capped", "cooldown", "min", "max"
                                 (static storage) */
    double ops, bps;          /* per-worker rates used (measured or assumed) */
    int measured;             /* 1 when ops/bps were measured */
    double work_s;            /* worker-seconds of the backlog */
    int64_t cooldown_left_ms; /* while holding above the target */
    int hosts;                /* ferry_scale_eval with per_host: the live `ferry up` (else 1) */
    int min, max;             /* the bounds applied */
} ferry_scale_out_t;

/* A fresh state (desired -1). */
void ferry_scale_state_init(ferry_scale_state_t *st);

/* The decision at now_ms (any monotonic or wall clock, the same one for every call on a
 * state). Updates st (rates, hysteresis) and fills out. Pure: no I/O, no clock. */
void ferry_scale_decide(const ferry_scale_cfg_t *cfg, const ferry_scale_in_t *in,
                        ferry_scale_state_t *st, int64_t now_ms, ferry_scale_out_t *out);

/* Parse "N" or "MIN..MAX" (each 0..FERRY_SCALE_MAX, MIN <= MAX, MAX >= 1). "N" means N..N.
 * FERRY_OK or FERRY_EINVAL. Pure. */
int ferry_scale_parse_range(const char *s, int *min, int *max);

/* Read the inputs for task (NULL: every task, summed; the heartbeats of every worker) from
 * Redis, load the state, decide at the wall clock, store the state back (a day's TTL). in and
 * out may be NULL. FERRY_OK; FERRY_ENOTFOUND (no such task); a Redis error (details on r). */
int ferry_scale_eval(ferry_redis_t *r, const char *task, const ferry_scale_cfg_t *cfg,
                     ferry_scale_in_t *in, ferry_scale_out_t *out);

/* The live `ferry up` processes: with member non-NULL, first record it as seen now. *n the
 * live ones (seen within FERRY_SCALE_HOST_TTL_MS; member counts even if its write raced), *rank
 * (may be NULL) member's place among them in name order. Forgets older entries. FERRY_OK or a
 * Redis error. */
int ferry_scale_hosts(ferry_redis_t *r, const char *member, int *rank, int *n);

/* The last stored answer for task (NULL: all): *desired (-1 when never evaluated) and when
 * (unix ms, 0 never). FERRY_OK or a Redis error. */
int ferry_scale_last(ferry_redis_t *r, const char *task, int *desired, int64_t *at_ms);

/* The /v1/scale body: {"desired","target","actual","lag","pending","jobs","bytes",
 * "concurrency","reason","rate":{"objects_per_s","bytes_per_s","measured": "none"|"objects"|
 * "bytes"|"both"},"min","max",
 * "hosts","cooldown_left_ms","task"} (min and max as applied: per host times hosts). New reference,
 * NULL on allocation failure. */
json_t *ferry_scale_json(const char *task, const ferry_scale_cfg_t *cfg, const ferry_scale_in_t *in,
                         const ferry_scale_out_t *out);

#ifdef __cplusplus
}
#endif
#endif
