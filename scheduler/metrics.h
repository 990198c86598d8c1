/* ferry scheduler — Prometheus metrics (GET /metrics): the text exposition format, rendered
 * from Redis (the ledger's counters, the streams) so that every API replica answers the same.
 *
 * Threading: uses the given synchronous connection; any thread that owns it.
 */
#ifndef FERRY_SCHED_METRICS_H
#define FERRY_SCHED_METRICS_H

#include "ferry/buf.h"
#include "ferry/error.h"
#include "ferry/redis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append the exposition text of every task to out (a buffer the caller owns and frees; its
 * cap bounds the page: FERRY_ETOOBIG past it). r is borrowed. FERRY_OK, FERRY_ETOOBIG,
 * FERRY_ENOMEM, or a Redis error with err saying what failed. Never a key or an upload id
 * as a label value. */
int ferry_metrics_render(ferry_redis_t *r, ferry_buf_t *out, ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
