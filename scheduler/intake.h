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
 * Deduplication: an event whose delivery id (events.h: CloudEvents/EventBridge id, MNS or SNS
 * MessageId, Kodo reqid, else S3 sequencer+key) was taken within the window (default 24 h,
 * FERRY_INTAKE_DEDUP_S; the environment's FERRY_EVENT_DEDUP_SECONDS, 1..30 days, overrides)
 * is counted as `duplicate` and queues nothing. Ids are remembered as one key per id,
 * "ferry:{TASK}:dlv:<128-bit SHA-256 prefix of the id>" with SET NX EX (about 150 bytes of
 * Redis memory each, gone after the window; `ferry task rm` removes them), and only after the
 * enqueue succeeded, so a failed enqueue leaves the retry free to queue. Two deliveries of one
 * id racing each other may both pass the check: the ledger makes the second enqueue a no-op
 * (`unchanged`), so the object is still copied once.
 *
 * SNS: a SubscriptionConfirmation queues nothing; its SubscribeURL and topic are kept for
 * the task ("ferry:{TASK}:sns-confirm", for 3 days, the life of the URL's token; the latest
 * one wins), returned in the result, and shown by `ferry task show`. Ferry never fetches it:
 * the operator opens it to confirm.
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

#include <jansson.h>
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
    size_t duplicate; /* events whose delivery id was seen within the window: not queued */
    /* The body was an SNS SubscriptionConfirmation (recorded; nothing queued): 1, and the
     * topic ("" when the message names none) and the URL the operator opens to confirm. */
    int sns_confirmation;
    char sns_topic[FERRY_EVENTS_MAX_TOPIC + 1];
    char sns_subscribe_url[FERRY_EVENTS_MAX_URL + 1];
} ferry_intake_result_t;

#define FERRY_INTAKE_DEDUP_S   86400  /* the default deduplication window, seconds */
#define FERRY_INTAKE_SNS_TTL_S 259200 /* how long a SubscriptionConfirmation is kept */

/* Take one body for task t (a loaded definition: ferry_task_get). r is borrowed. now_ms is
 * the wall clock for the age filter (0: read it). res is always written (zeros on error).
 * FERRY_OK; FERRY_EPARSE or FERRY_ETOOBIG with err naming the event and field (rejected,
 * nothing queued); FERRY_ENOMEM; a Redis error (err says which; some items of the body may
 * have been queued: the sender retries, and a re-queue is a no-op). */
int ferry_intake_body(ferry_redis_t *r, const ferry_task_t *t, const char *body, size_t len,
                      int64_t now_ms, ferry_intake_result_t *res, ferry_error_t *err);

/* ferry_intake_body with the channel the body came through named for the metrics
 * (ferry_events_received_total's `channel`): "cli" for `ferry event`; NULL (what
 * ferry_intake_body passes, the HTTP route) derives it from the envelope: eventbridge, mns,
 * sns, kodo, fc (OSS Function Compute), scf (COS), s3, plain. */
int ferry_intake_body_via(ferry_redis_t *r, const ferry_task_t *t, const char *body, size_t len,
                          int64_t now_ms, const char *via, ferry_intake_result_t *res,
                          ferry_error_t *err);

/* The pending SNS SubscriptionConfirmation recorded for task `name`: *out is a new object
 * {"topic","subscribe_url","message_id","received_ms","time_ms"} (json_decref it), or NULL when
 * none is recorded (or it expired). FERRY_OK, or a Redis error (err says which). */
int ferry_intake_sns_pending(ferry_redis_t *r, const char *name, json_t **out, ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
