/* ferry scheduler — event intake: one body, as a source delivered it, into the task's event
 * stream. The one path behind `ferry event` and the HTTP route POST /v1/tasks/NAME/events.
 *
 * A body is accepted whole or rejected whole: it is parsed and bounded (ferry_events_parse,
 * with the task's source bucket) before anything is queued, so FERRY_EPARSE / FERRY_ETOOBIG
 * mean nothing was. Events outside the task's source prefix, deletes of a task without
 * --delete, and keys the task's filters exclude (the scan's own test: globs, size, age) are
 * counted as ignored. An event's version is its time (and an S3 event's sequencer): the
 * ledger refuses an event older than what it holds (stale). The enqueue is one pipelined
 * round of the ledger's enqueue script; FERRY_OK means every queued job is in Redis.
 *
 * Threading: uses the given synchronous connection; any thread that owns it.
 */
#ifndef FERRY_SCHED_INTAKE_H
#define FERRY_SCHED_INTAKE_H

#include "events.h"

#include "ferry/error.h"
#include "ferry/ledger.h"
#include "ferry/redis.h"
#include "ferry/task.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_intake_result_s {
    size_t events;    /* object events the body carried */
    size_t queued;    /* jobs added to the event stream */
    size_t unchanged; /* already queued, copying or done at that version */
    size_t stale;     /* older than the version the ledger holds */
    size_t ignored;   /* all ignored: the four below */
    size_t ignored_format;
    size_t outside_prefix;
    size_t deletes_off;
    size_t filtered;
} ferry_intake_result_t;

/* Take one body for task t (a loaded definition: ferry_task_get). r is borrowed. now_ms is
 * the wall clock for the age filter (0: read it). res is always written (zeros on error).
 * FERRY_OK; FERRY_EPARSE or FERRY_ETOOBIG with err naming the event and field (rejected,
 * nothing queued); FERRY_ENOMEM; a Redis error (err says which; some items of the body may
 * have been queued: the sender retries, and a re-queue is a no-op). */
int ferry_intake_body(ferry_redis_t *r, const ferry_task_t *t, const char *body, size_t len,
                      int64_t now_ms, ferry_intake_result_t *res, ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
