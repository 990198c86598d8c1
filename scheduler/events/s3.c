/* S3 events: notifications (SQS/Lambda, or inside SNS) and EventBridge, PROVIDERS.md §5e.
 * Notification keys are form-encoded ('+' is a space). */
#include "events_int.h"

#include <string.h>

int ev_parse_s3_records(json_t *records, const char *format, ferry_event_list_t *l,
                        ferry_error_t *err)
{
    size_t n = json_array_size(records);
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_array_get(records, i), *s3, *obj;
        const char *name, *key, *etag, *seq, *etime;
        int64_t size;
        int rc;
        if (!json_is_object(rec))
            return ferry_error_set(err, FERRY_EPARSE, "event %zu is not an object", i + 1);
        if ((rc = ev_str(rec, "eventName", 1, &name, "", i, err)) ||
            (rc = ev_str(rec, "eventTime", 0, &etime, "", i, err)))
            return rc;
        if ((s3 = ev_obj(rec, "s3", "", i, err)) == NULL ||
            (obj = ev_obj(s3, "object", "s3.", i, err)) == NULL)
            return FERRY_EPARSE;
        if ((rc = ev_str(obj, "key", 1, &key, "s3.object.", i, err)) ||
            (rc = ev_int(obj, "size", 0, &size, "s3.object.", i, err)) ||
            (rc = ev_str(obj, "eTag", 0, &etag, "s3.object.", i, err)) ||
            (rc = ev_str(obj, "sequencer", 0, &seq, "s3.object.", i, err)))
            return rc;
        if (strncmp(name, "s3:", 3) == 0)
            name += 3;
        ferry_event_op_t op;
        if (strncmp(name, "ObjectCreated:", 14) == 0)
            op = FERRY_EVENT_CREATE;
        else if (strncmp(name, "ObjectRemoved:", 14) == 0)
            op = FERRY_EVENT_DELETE;
        else {
            l->ignored++;
            continue;
        }
        if ((rc = ev_add(l, op, key, strlen(key), 2, size, etag, seq, ev_iso8601_ms(etime), format,
                         err, i)))
            return rc;
    }
    return FERRY_OK;
}

int ev_parse_eventbridge(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l,
                         ferry_error_t *err)
{
    const char *source, *dtype, *key, *etag, *seq, *etime;
    json_t *detail, *obj;
    int64_t size;
    int rc;
    if ((rc = ev_str(root, "source", 1, &source, "", 0, err)) ||
        (rc = ev_str(root, "detail-type", 1, &dtype, "", 0, err)) ||
        (rc = ev_str(root, "time", 0, &etime, "", 0, err)))
        return rc;
    if (strcmp(source, "aws.s3") != 0)
        return ferry_error_set(err, FERRY_EPARSE,
                               "EventBridge source is \"%.32s\", want \"aws.s3\"", source);
    ferry_event_op_t op;
    if (strcmp(dtype, "Object Created") == 0)
        op = FERRY_EVENT_CREATE;
    else if (strcmp(dtype, "Object Deleted") == 0)
        op = FERRY_EVENT_DELETE;
    else {
        l->ignored++;
        return FERRY_OK;
    }
    if ((detail = ev_obj(root, "detail", "", 0, err)) == NULL ||
        (obj = ev_obj(detail, "object", "detail.", 0, err)) == NULL)
        return FERRY_EPARSE;
    if ((rc = ev_str(obj, "key", 1, &key, "detail.object.", 0, err)) ||
        (rc = ev_int(obj, "size", 0, &size, "detail.object.", 0, err)) ||
        (rc = ev_str(obj, "etag", 0, &etag, "detail.object.", 0, err)) ||
        (rc = ev_str(obj, "sequencer", 0, &seq, "detail.object.", 0, err)))
        return rc;
    return ev_add(l, op, key, strlen(key), o->eventbridge_key_urlencoded ? 2 : 0, size, etag, seq,
                  ev_iso8601_ms(etime), "eventbridge", err, 0);
}
