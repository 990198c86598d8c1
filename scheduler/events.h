/* ferry scheduler — event intake: one parser per source format, one entry point.
 *
 * ferry_events_parse() takes a request body exactly as a source delivered it and returns the
 * object events it carries. It detects the format:
 *   - OSS via Function Compute ({"events":[...]} with eventSource acs:oss), or the same JSON
 *     base64-encoded as MNS delivers it (SIMPLIFIED), or inside an MNS JSON envelope
 *     ({"TopicOwner":...,"MessageId":...,"Message":"<base64 or JSON>"}) or XML envelope
 *     (<Notification><MessageId/><Message/></Notification>);
 *   - OSS and COS through EventBridge (CloudEvents 1.0: "specversion", the event in "data";
 *     "time" ISO 8601, or ms or s since the epoch as a number or a string);
 *   - COS via SCF ({"Records":[{"cos":...,"event":...}]}), key "/appid/bucket/key" URL-encoded;
 *   - Kodo event-rule callback ({"Message":"<json string>", ...});
 *   - S3 notification ({"Records":[{"s3":...}]}), the same inside an SNS envelope
 *     ({"Type":"Notification","Message":"..."}), and EventBridge ({"source":"aws.s3",
 *     "detail-type":"Object Created"|"Object Deleted"});
 *   - an SNS SubscriptionConfirmation: no event; its SubscribeURL is returned in `sns` for the
 *     operator to open (ferry never fetches it); UnsubscribeConfirmation is ignored;
 *   - the plain {"key":"...","size":N} message (size optional), or an array of them.
 * A body is accepted whole or rejected whole: on any error nothing is returned, so a caller
 * enqueues nothing. Every field is bounded here, after decoding (key ≤ 1,024 bytes of valid
 * UTF-8, size ≤ 5 TiB, etag ≤ FERRY_ETAG_MAX characters, sequencer ≤ FERRY_SEQ_MAX hex digits,
 * times within 1970..9999): a bad field rejects the body, naming the event and the field. With
 * opts->bucket set, an event naming another bucket is refused the same way (the plain format
 * names none).
 *
 * Delivery ids, for deduplication (the caller keeps a window of seen ids): each event's
 * `delivery` is the id of the delivery that carried it, prefixed by its kind — "ce:ID"
 * (CloudEvents / EventBridge `id`), "mns:ID" (MNS MessageId), "sns:ID" (SNS MessageId),
 * "kodo:REQID" (Kodo `reqid`), else "s3:SEQUENCER:KEY" for an S3 record with a sequencer —
 * or NULL. The outermost envelope's id wins. Ids are 1..FERRY_EVENTS_MAX_ID characters.
 * Events that need no copy (OSS InitiateMultipartUpload/UploadPart, S3 test
 * events, restores) are dropped and counted in `ignored`.
 *
 * Pure: no I/O, thread-safe on distinct lists.
 */
#ifndef FERRY_SCHED_EVENTS_H
#define FERRY_SCHED_EVENTS_H

#include "ferry/error.h"
#include "ferry/ledger.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_EVENTS_MAX_BODY   (1024 * 1024)   /* bytes; larger bodies: FERRY_ETOOBIG (413) */
#define FERRY_EVENTS_MAX_EVENTS 1000            /* per body */
#define FERRY_EVENTS_MAX_KEY    FERRY_KEY_MAX   /* bytes, after decoding */
#define FERRY_EVENTS_MAX_SIZE   FERRY_SIZE_MAX  /* 5 TiB, the largest object S3 stores */
#define FERRY_EVENTS_MAX_TIME_S FERRY_MTIME_MAX /* 9999-12-31T23:59:59Z */
#define FERRY_EVENTS_MAX_ID     256             /* characters of a delivery id */
#define FERRY_EVENTS_MAX_URL    2048            /* characters of an SNS SubscribeURL */
#define FERRY_EVENTS_MAX_TOPIC  256             /* characters of an SNS TopicArn */

typedef enum { FERRY_EVENT_CREATE = 0, FERRY_EVENT_DELETE = 1 } ferry_event_op_t;

typedef struct ferry_event_s {
    ferry_event_op_t op;
    char *key;          /* decoded object key, owned by the list */
    int64_t size;       /* -1 when the event does not say */
    char *etag;         /* as sent (quotes stripped), or NULL; owned */
    char *sequencer;    /* S3 sequencer, or NULL; owned */
    int64_t time_ms;    /* event time, ms since the epoch; 0 when absent */
    char *bucket;       /* the bucket the event names (COS: as in the key), or NULL; owned */
    const char *format; /* static: "oss", "cos", "kodo", "s3", "s3-sns", "eventbridge", "plain" */
    char *delivery;     /* delivery id (see above), or NULL; owned */
} ferry_event_t;

/* An SNS SubscriptionConfirmation: strings owned by the list. subscribe_url is https, on an
 * SNS host (sns.REGION.amazonaws.com[.cn]), at most FERRY_EVENTS_MAX_URL printable ASCII
 * characters; topic_arn at most FERRY_EVENTS_MAX_TOPIC ("" when absent). */
typedef struct ferry_sns_confirm_s {
    char *topic_arn;
    char *subscribe_url;
    char *message_id; /* "" when absent */
    int64_t time_ms;  /* the message's Timestamp; 0 when absent */
} ferry_sns_confirm_t;

typedef struct ferry_event_list_s {
    ferry_event_t *v; /* owned */
    size_t n;
    size_t ignored;           /* events recognised but needing no copy */
    ferry_sns_confirm_t *sns; /* the body was an SNS SubscriptionConfirmation; else NULL. Owned */
} ferry_event_list_t;

/* Settings for the ⚠ items of docs/providers.md §5 (defaults from ferry_events_opts_default). */
typedef struct ferry_events_opts_s {
    int oss_key_urlencoded;         /* OSS FC/MNS key is percent-encoded (default 0: raw) */
    int cos_plus_as_space;          /* COS key decoding: '+' is a space (default 0) */
    int eventbridge_key_urlencoded; /* EventBridge key form-encoded like notifications (1) */
    /* The task's source bucket, borrowed; NULL or "" (the default): no check. COS events match
     * either "name" or "name-appid". */
    const char *bucket;
} ferry_events_opts_t;

void ferry_events_opts_default(ferry_events_opts_t *o);

/* Parse body[0..len). opts may be NULL (defaults). On FERRY_OK *out holds the events (free
 * with ferry_event_list_free). On error *out is empty and err->msg says what was wrong in
 * terms the sender can fix ("event 2: oss.object.key is a number, want a string").
 * Codes: FERRY_EPARSE (malformed or unknown format), FERRY_ETOOBIG (body or event count over
 * the caps), FERRY_ENOMEM. */
int ferry_events_parse(const char *body, size_t len, const ferry_events_opts_t *opts,
                       ferry_event_list_t *out, ferry_error_t *err);

/* Accepts an empty or zeroed list. */
void ferry_event_list_free(ferry_event_list_t *l);

#ifdef __cplusplus
}
#endif
#endif
