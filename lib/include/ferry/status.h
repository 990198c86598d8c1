/* ferry — status queries, shared by the CLI (ferry status/ls/wait/retry/task show) and the
 * HTTP API. Each returns JSON in the shapes of docs/api.md, so both surfaces say the same thing.
 * Errors: FERRY_E* codes with details on the connection (ferry_redis_error()).
 */
#ifndef FERRY_STATUS_H
#define FERRY_STATUS_H

#include <jansson.h>

#include "ferry/ledger.h"
#include "ferry/redis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open the ledger of a registered task, with its buckets and shards (FERRY_ENOTFOUND: "no task
 * named …"). *out new. */
int ferry_status_ledger(ferry_redis_t *r, const char *task, ferry_ledger_t **out);
/* The same, but a task that is not registered (removed meanwhile) opens an empty ledger of one
 * shard instead of failing: for readers that sum over many tasks (metrics, the scaling
 * policy). */
int ferry_status_ledger_any(ferry_redis_t *r, const char *task, ferry_ledger_t **out);

/* One object's record. FERRY_OK with *out new, or FERRY_ENOTFOUND (unknown key or task). */
int ferry_status_object(ferry_redis_t *r, const char *task, const char *key, json_t **out);

/* A page of records as a JSON array (*out new). state -1 for any. cursor "" starts; next gets
 * the following page's cursor, "" at the end. */
int ferry_status_list(ferry_redis_t *r, const char *task, int state, const char *prefix,
                      const char *cursor, size_t limit, json_t **out, char *next, size_t next_n);
/* ferry_status_list keeping only records whose checks include src:unverified (`ferry ls
 * --unverified`; state is normally FERRY_STATE_DONE). A page may hold fewer than limit
 * records; follow next as usual. */
int ferry_status_list_unverified(ferry_redis_t *r, const char *task, int state, const char *prefix,
                                 const char *cursor, size_t limit, json_t **out, char *next,
                                 size_t next_n);

/* {"complete": bool, "pending": n, "failed": n} for prefix ("" = all). */
int ferry_status_complete(ferry_redis_t *r, const char *task, const char *prefix, json_t **out);

/* The task: its definition plus "counters" {state: {objects, bytes}}, "unverified" (done
 * records whose source could not be verified), "backlog" {event, bulk, dead}. */
int ferry_status_task(ferry_redis_t *r, const char *task, json_t **out);

/* Re-queue keys (n > 0), or every record in state (FAILED normally) when n == 0. *requeued
 * counts jobs added; *unknown counts named keys without a record. */
int ferry_status_retry(ferry_redis_t *r, const char *task, int state, const char *const *keys,
                       size_t n, long long *requeued, long long *unknown);

/* "Which files failed, and why?": the failed records under prefix ("" = all) grouped by error
 * code (ferry/errcode.h), for GET /v1/tasks/NAME/failures, the dashboard and `ferry sync`'s
 * summary. Pages of the failed index are read from cursor ("" starts) until every failed record
 * was examined, or limit of them (then "next_cursor" says where to go on). *out new:
 *   {"groups": [{"code": "dst:403", "count": n, "keys": [up to samples keys, in key order],
 *                "error": the text of the group's first record (after its code)}, …],
 *    "examined": n, "ungrouped": n, "complete": bool, "next_cursor": "…" | null}
 * Groups: largest count first, then by code. At most max_groups codes (0: 1,000); records of
 * further codes count as "ungrouped". FERRY_OK, FERRY_ENOTFOUND, FERRY_ENOMEM or a Redis error. */
int ferry_status_failure_groups(ferry_redis_t *r, const char *task, const char *prefix,
                                const char *cursor, size_t limit, size_t samples, size_t max_groups,
                                json_t **out);

/* 1 when a record's code is selected by sel: equal ("dst:403"), or sel is a leading part of it
 * up to a ':' ("dst" selects dst:403, dst:5xx, …). Pure. */
int ferry_error_code_selects(const char *sel, const char *code);

/* Re-queue the failed records under prefix whose error code sel selects
 * (ferry_error_code_selects): POST /v1/tasks/NAME/retry {"error": "dst:403"}. *requeued counts
 * the jobs added. FERRY_OK, FERRY_ENOTFOUND, FERRY_ENOMEM or a Redis error. */
int ferry_status_retry_code(ferry_redis_t *r, const char *task, const char *prefix, const char *sel,
                            long long *requeued);

/* Block until nothing under prefix is queued or copying. progress (may be NULL) is called
 * every poll with the task's counters and the prefix's pending/failed counts; a non-zero
 * return stops the wait with FERRY_ECANCELED. Returns FERRY_OK with *failed set (0: all done),
 * FERRY_ETIMEOUT after timeout_ms (< 0: forever), or an error. */
typedef int (*ferry_wait_fn)(void *ud, const ferry_counters_t *c, long long pending,
                             long long failed);
int ferry_status_wait(ferry_redis_t *r, const char *task, const char *prefix, int64_t timeout_ms,
                      int poll_ms, ferry_wait_fn progress, void *ud, long long *failed);

#ifdef __cplusplus
}
#endif
#endif
