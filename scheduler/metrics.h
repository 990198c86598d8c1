/* ferry scheduler — Prometheus metrics (GET /metrics): the text exposition format, rendered
 * from Redis (the ledger's counters, the workers' statistics and heartbeats in ferry/stats.h,
 * the streams, the scan history) so that every API replica answers the same. The metrics and
 * their labels: docs/metrics.md.
 *
 * Threading: uses the given synchronous connection; any thread that owns it.
 */
#ifndef FERRY_SCHED_METRICS_H
#define FERRY_SCHED_METRICS_H

#include "ferry/buf.h"
#include "ferry/error.h"
#include "ferry/redis.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append the exposition text of every task to out (a buffer the caller owns and frees; its
 * cap bounds the page: FERRY_ETOOBIG past it). r is borrowed. FERRY_OK, FERRY_ETOOBIG,
 * FERRY_ENOMEM, or a Redis error with err saying what failed. Never a key or an upload id
 * as a label value. */
int ferry_metrics_render(ferry_redis_t *r, ferry_buf_t *out, ferry_error_t *err);

/* The live workers serving task (heartbeats not expired; a worker started without --task
 * serves every task), for GET /v1/tasks/NAME: *out a new JSON array (json_decref) of
 * {"consumer","pid","tasks","in_flight","concurrency","done","failed","started_at",
 * "seen_at"} ("tasks" [] for a worker serving every task; done/failed since it started).
 * r is borrowed. FERRY_OK, FERRY_ENOMEM, or a Redis error (details on r). Also forgets the
 * entries of workers whose heartbeat expired (one ZREMRANGEBYSCORE). */
int ferry_metrics_workers_json(ferry_redis_t *r, const char *task, json_t **out);

#ifdef __cplusplus
}
#endif
#endif
