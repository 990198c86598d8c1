/* ferry — operational statistics kept in Redis for GET /metrics: the counters and histograms the
 * ledger does not hold (results, requests, retries, copy durations, object sizes, event latency,
 * events received), the streams' lengths, and worker heartbeats. Any API replica reads the same
 * numbers. Metric names and meanings: docs/metrics.md.
 *
 * Layout:
 *   ferry:{T}:stats     hash, field -> integer, only ever changed by HINCRBY. Fields:
 *                       "c|NAME|L1|L2|L3" a counter with up to three label values,
 *                       "h|ID|I" bucket I of histogram ID (not cumulative; I = n is +Inf),
 *                       "h|ID|sum" the sum of the observations in the histogram's unit.
 *   ferry:{T}:tput      hash, the throughput series: a ring of FERRY_TPUT_POINTS fields
 *                       "I" (I = (t / FERRY_TPUT_STEP_S) % FERRY_TPUT_POINTS) -> "t objects
 *                       bytes", the objects and bytes done in the FERRY_TPUT_STEP_S seconds
 *                       from unix time t; a slot is overwritten when its time comes round
 *                       again, so the hash never holds more than an hour; expires an hour
 *                       after the last write (an idle task's series goes away)
 *   ferry:worker:NAME   hash, one per live worker process, expiring (heartbeat TTL)
 *   ferry:workers       sorted set, worker name -> last heartbeat (unix ms)
 *
 * Bounded: label values are short names from fixed sets (never an object key or upload id);
 * an accumulator holds at most FERRY_STATS_SLOTS fields; a read takes at most
 * FERRY_STATS_READ_MAX fields.
 *
 * Threading: a ferry_stats_t belongs to one thread; the functions taking a ferry_redis_t use
 * it with the connection's one-thread rule.
 */
#ifndef FERRY_STATS_H
#define FERRY_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ferry/ledger.h"
#include "ferry/limits.h"
#include "ferry/redis.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_STATS_FIELD_MAX 96   /* bytes of one field name */
#define FERRY_STATS_LABEL_MAX 32   /* bytes of one label value */
#define FERRY_STATS_SLOTS     256  /* distinct fields one accumulator holds between flushes */
#define FERRY_STATS_READ_MAX  4096 /* fields ferry_stats_read takes from one task */

/* The fixed histograms. Values are stored as integers in the histogram's unit (milliseconds
 * for the durations, bytes for sizes) and shown in seconds / bytes. */
typedef enum {
    FERRY_HIST_COPY_SECONDS = 0,  /* one copy, start to outcome */
    FERRY_HIST_OBJECT_BYTES = 1,  /* size of each object copied (done) */
    FERRY_HIST_EVENT_RECEIPT = 2, /* event jobs: queued (receipt) to done */
    FERRY_HIST_EVENT_ORIGIN = 3,  /* event jobs: the provider's event time to done */
    FERRY_HIST_SCAN_SECONDS = 4,  /* one scan, start to end (ok or failed) */
    FERRY_HIST_COUNT = 5
} ferry_hist_id_t;

typedef struct ferry_hist_def_s {
    const char *id;   /* field id, "copy_seconds" */
    const double *le; /* upper bounds in the shown unit (seconds or bytes), ascending */
    size_t n;         /* bounds, without +Inf */
    double scale;     /* stored units per shown unit: 1000 (ms per s) or 1 (bytes) */
} ferry_hist_def_t;

/* The definition of histogram h (static storage), or NULL. */
const ferry_hist_def_t *ferry_stats_hist(int h);

/* The status_class label of an HTTP status: "2xx" … "5xx", "none" (0: no response). Pure. */
const char *ferry_stats_status_class(long status);

/* 1 when s may be a label value: 1..FERRY_STATS_LABEL_MAX bytes of [A-Za-z0-9_.-]. Pure. */
int ferry_stats_label_ok(const char *s);

/* The field a counter NAME{l1,l2,l3} is kept under: "c|NAME|L1|L2|L3", a NULL label "", a label
 * that is not a short name "other" (as ferry_stats_count files it) into buf[n], *len (may be
 * NULL) its length. FERRY_OK; FERRY_EINVAL (name not a short name); FERRY_ETOOBIG (does not fit
 * in n; buf then holds a cut copy). No printf: this runs several times per object. Pure. */
int ferry_stats_counter_field(char *buf, size_t n, size_t *len, const char *name, const char *l1,
                              const char *l2, const char *l3);

/* The field of bucket b (0..n, n the +Inf bucket) of histogram h, "h|ID|B", or with b = -1 its
 * sum's, "h|ID|sum", into buf[n], *len (may be NULL) its length. FERRY_OK, FERRY_EINVAL (h or
 * b), FERRY_ETOOBIG (does not fit). Pure. */
int ferry_stats_hist_field(char *buf, size_t n, size_t *len, int h, long b);

/* ---- the accumulator a worker keeps in memory ------------------------------------------------ */

typedef struct ferry_stats_s ferry_stats_t;

/* *out new (free with ferry_stats_free, NULL accepted) for task (a valid task name).
 * FERRY_OK, FERRY_EINVAL, FERRY_ENOMEM. */
int ferry_stats_new(const char *task, ferry_stats_t **out);
void ferry_stats_free(ferry_stats_t *s);

/* Add d to counter NAME{l1,l2,l3} (any label may be NULL: ""). A label that is not a short
 * name is shown as "other". FERRY_OK; FERRY_EINVAL for a bad name; FERRY_ETOOBIG when the
 * accumulator is full (the value is dropped and counted in ferry_stats_dropped). */
int ferry_stats_count(ferry_stats_t *s, const char *name, const char *l1, const char *l2,
                      const char *l3, long long d);

/* Add one observation v (in the histogram's shown unit: seconds or bytes) to histogram h.
 * FERRY_HIST_OBJECT_BYTES is observed once per object done, so such an observation also
 * counts one object of v bytes in the throughput series (ferry_stats_tput_add). */
int ferry_stats_observe(ferry_stats_t *s, int h, double v);

/* Count objects/bytes done at unix time t_s in the throughput series (sent by the next
 * flush). The accumulator keeps FERRY_TPUT_PENDING points between flushes; past that (a
 * flush failing for minutes) the newest point takes the rest, so nothing is lost, only
 * placed late. FERRY_OK or FERRY_EINVAL (negative values). */
int ferry_stats_tput_add(ferry_stats_t *s, int64_t t_s, long long objects, long long bytes);

/* Values dropped because the accumulator was full. */
unsigned long long ferry_stats_dropped(const ferry_stats_t *s);

/* Send what was added since the last flush: HINCRBY on ferry:{T}:stats and the throughput
 * points (a Lua step each on ferry:{T}:tput), one pipeline. On
 * success the accumulator is empty; on a Redis error (returned, details on r) it keeps its
 * values for the next flush (a failed flush may have applied part of them; the next one then
 * counts those twice — a rare over-count, never a lost reset). */
int ferry_stats_flush(ferry_stats_t *s, ferry_redis_t *r);

/* ---- small direct updates -------------------------------------------------------------------- */

/* The event intake: n records (or bodies, for rejected) of format received by task through
 * channel with result "queued", "ignored", "rejected" or "duplicate". format is the parser's
 * name ("oss", "cos", "kodo", "s3", "s3-sns", "eventbridge", "plain"), channel what delivered
 * the body ("eventbridge", "mns", "fc", "scf", "kodo", "sns", "s3", "plain", "cli"; NULL: ""):
 * any short names; anything else is shown as "other". One HINCRBY. FERRY_OK, FERRY_EINVAL
 * (task or result), or a Redis error. */
int ferry_stats_event(ferry_redis_t *r, const char *task, const char *format, const char *channel,
                      const char *result, long long n);

/* One observation v (the histogram's shown unit) of histogram h straight into task's stats
 * hash (two pipelined HINCRBY), for rare events such as the end of a scan. FERRY_OK,
 * FERRY_EINVAL (task, h or v), or a Redis error. */
int ferry_stats_observe_now(ferry_redis_t *r, const char *task, int h, double v);

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct ferry_stats_field_s {
    char name[FERRY_STATS_FIELD_MAX];
    long long value;
} ferry_stats_field_t;

/* Every field of the task's stats hash (at most FERRY_STATS_READ_MAX). *out new (free()), *n
 * entries. FERRY_OK (n 0 when there are none), or a Redis error. */
int ferry_stats_read(ferry_redis_t *r, const char *task, ferry_stats_field_t **out, size_t *n);

/* Split a counter field "c|NAME|L1|L2|L3" into its label values (pointers into buf, which
 * receives a copy): 1 when it is a counter named name, else 0. Pure. */
int ferry_stats_field_counter(const char *field, const char *name, char *buf, size_t n,
                              const char **l1, const char **l2, const char **l3);

/* The length, pending entries (delivered, not acked) and lag (entries never delivered to the
 * group, Redis >= 7; -1 when the server does not say) of a task's streams. */
typedef struct ferry_stream_stats_s {
    long long length, pending, lag;
    long long bytes; /* source bytes of the jobs in the stream (queue.c keeps them; >= 0) */
} ferry_stream_stats_t;

/* streams[0] the event stream, [1] the bulk stream; *dead the dead letters. One pipeline of
 * six commands.
 * FERRY_OK or a Redis error. */
int ferry_stats_streams(ferry_redis_t *r, const char *task, ferry_stream_stats_t streams[2],
                        long long *dead);

/* ---- the throughput series ------------------------------------------------------------------ */

#define FERRY_TPUT_STEP_S  10  /* seconds per point */
#define FERRY_TPUT_POINTS  360 /* points kept: the last hour */
#define FERRY_TPUT_PENDING 8   /* points an accumulator holds between flushes */

typedef struct ferry_tput_point_s {
    int64_t t;         /* unix seconds, a multiple of FERRY_TPUT_STEP_S: the point's start */
    long long objects; /* objects done in [t, t + FERRY_TPUT_STEP_S) */
    long long bytes;   /* their bytes */
} ferry_tput_point_t;

/* Parse a stored point ("t objects bytes": three decimal integers, single spaces, t a
 * multiple of FERRY_TPUT_STEP_S) of len bytes (no NUL needed). 1 and *p set, or 0 for
 * anything else. Pure (fuzzed: test/fuzz/fuzz_stats.c). */
int ferry_stats_tput_parse(const char *s, size_t len, ferry_tput_point_t *p);

/* The task's points of the hour before now_s (t > now_s - 3600, t <= now_s; points with
 * nothing done are absent), oldest first, at most FERRY_TPUT_POINTS. *out new (free()), *n
 * entries. One HMGET. FERRY_OK (n 0 for a task without a series), FERRY_EINVAL, or a Redis
 * error. */
int ferry_stats_throughput(ferry_redis_t *r, const char *task, int64_t now_s,
                           ferry_tput_point_t **out, size_t *n);

/* ---- worker heartbeats ------------------------------------------------------------------- */

typedef struct ferry_heartbeat_s {
    char consumer[FERRY_WORKER_MAX + 1]; /* "host/slot" */
    int pid;
    char tasks[512];     /* comma-separated tasks served; "" every task */
    long long in_flight; /* jobs running now */
    long long concurrency;
    long long done, failed; /* outcomes since start */
    int64_t started_ms;     /* unix ms */
    int64_t seen_ms;        /* unix ms of this heartbeat (set by ferry_stats_heartbeat) */
} ferry_heartbeat_t;

/* Write hb (seen_ms = now) to ferry:worker:CONSUMER with a TTL of ttl_ms, and mark it in
 * ferry:workers. One pipeline. FERRY_OK, FERRY_EINVAL, or a Redis error. */
int ferry_stats_heartbeat(ferry_redis_t *r, ferry_heartbeat_t *hb, int64_t ttl_ms);

/* Remove the heartbeat (a clean exit). */
int ferry_stats_heartbeat_clear(ferry_redis_t *r, const char *consumer);

/* The live workers (heartbeats not expired), at most 1024; task non-NULL: only those serving
 * it (named, or serving every task). *out new (free()). Forgets entries of workers whose
 * heartbeat expired. FERRY_OK or a Redis error. */
int ferry_stats_workers(ferry_redis_t *r, const char *task, ferry_heartbeat_t **out, size_t *n);

/* 1 when hb serves task (names it, or serves every task). Pure. */
int ferry_heartbeat_serves(const ferry_heartbeat_t *hb, const char *task);

/* ---- a task's status in one round trip (GET /v1/tasks[/NAME]) ------------------------------- */

typedef struct ferry_task_snapshot_s {
    char *definition; /* the task's stored JSON (malloc'd), NULL when there is no such task */
    ferry_counters_t c;
    ferry_stream_stats_t st[2]; /* as ferry_stats_streams */
    long long dead;
    char *last_scan; /* the newest scan report's JSON (malloc'd), NULL before the first */
} ferry_task_snapshot_t;

/* What the status API shows of n tasks: out[i] for tasks[i] (the caller's array of n, cleared
 * with ferry_task_snapshot_clear), and the live workers of every task (*hb new, free()),
 * read in one pipeline of 9 commands per task plus 2, then one HGETALL per worker in a second
 * round. A task that does not exist has definition NULL. FERRY_OK, FERRY_EINVAL (a name),
 * FERRY_ENOMEM, or a Redis error (the connection is reset). */
int ferry_stats_snapshots(ferry_redis_t *r, const char *const *tasks, size_t n,
                          ferry_task_snapshot_t *out, ferry_heartbeat_t **hb, size_t *nhb);
void ferry_stats_snapshot_clear(ferry_task_snapshot_t *s);

/* A heartbeat as JSON (new reference, NULL on allocation failure): {"consumer","pid","tasks",
 * "in_flight","concurrency","done","failed","started_at","seen_at"}. */
json_t *ferry_heartbeat_to_json(const ferry_heartbeat_t *hb);

#ifdef __cplusplus
}
#endif
#endif
