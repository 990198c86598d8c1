/* S3 events: notifications (SQS/Lambda, or inside SNS) and EventBridge, docs/providers.md §5e.
 * Notification keys are form-encoded ('+' is a space). */
#include "events_int.h"

#include <string.h>

/* The optional bucket name at obj.bucket.name (path names obj for messages). */
static int bucket_name(json_t *obj, const char *path, size_t i, const char **out,
                       ferry_error_t *err)
{
    json_t *b = json_object_get(obj, "bucket");
    char p[64];
    *out = NULL;
    if (b == NULL || json_is_null(b))
        return FERRY_OK;
    if (!json_is_object(b))
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: %sbucket is not an object", i + 1,
                               path);
    snprintf(p, sizeof(p), "%sbucket.", path);
    return ev_str(b, "name", 0, out, p, i, err);
}

int ev_parse_s3_records(json_t *records, const char *format, const ferry_events_opts_t *o,
                        ferry_event_list_t *l, ferry_error_t *err)
{
    size_t n = json_array_size(records);
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_array_get(records, i), *s3, *obj;
        const char *name, *key, *etag, *seq, *bname;
        int64_t size, tms;
        int rc;
        if (!json_is_object(rec))
            return ferry_error_set(err, FERRY_EPARSE, "event %zu is not an object", i + 1);
        if ((rc = ev_str(rec, "eventName", 1, &name, "", i, err)) ||
            (rc = ev_time(rec, "eventTime", &tms, "", i, err)))
            return rc;
        if ((s3 = ev_obj(rec, "s3", "", i, err)) == NULL ||
            (obj = ev_obj(s3, "object", "s3.", i, err)) == NULL)
            return FERRY_EPARSE;
        if ((rc = ev_str(obj, "key", 1, &key, "s3.object.", i, err)) ||
            (rc = ev_size(obj, "size", &size, "s3.object.", i, err)) ||
            (rc = ev_str(obj, "eTag", 0, &etag, "s3.object.", i, err)) ||
            (rc = ev_str(obj, "sequencer", 0, &seq, "s3.object.", i, err)) ||
            (rc = bucket_name(s3, "s3.", i, &bname, err)))
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
        ev_in_t in = {.op = op,
                      .key = key,
                      .key_len = strlen(key),
                      .decode = 2,
                      .key_field = "s3.object.key",
                      .size = size,
                      .etag = etag,
                      .etag_field = "s3.object.eTag",
                      .seq = seq,
                      .seq_field = "s3.object.sequencer",
                      .time_ms = tms,
                      .bucket = bname,
                      .bucket_field = "s3.bucket.name",
                      .format = format};
        if ((rc = ev_add(l, &in, o, err, i)))
            return rc;
    }
    return FERRY_OK;
}

int ev_parse_eventbridge(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l,
                         ferry_error_t *err)
{
    const char *source, *dtype, *key, *etag, *seq, *bname;
    json_t *detail, *obj;
    int64_t size, tms;
    int rc;
    if ((rc = ev_str(root, "source", 1, &source, "", 0, err)) ||
        (rc = ev_str(root, "detail-type", 1, &dtype, "", 0, err)) ||
        (rc = ev_time(root, "time", &tms, "", 0, err)))
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
        (rc = ev_size(obj, "size", &size, "detail.object.", 0, err)) ||
        (rc = ev_str(obj, "etag", 0, &etag, "detail.object.", 0, err)) ||
        (rc = ev_str(obj, "sequencer", 0, &seq, "detail.object.", 0, err)) ||
        (rc = bucket_name(detail, "detail.", 0, &bname, err)))
        return rc;
    ev_in_t in = {.op = op,
                  .key = key,
                  .key_len = strlen(key),
                  .decode = o->eventbridge_key_urlencoded ? 2 : 0,
                  .key_field = "detail.object.key",
                  .size = size,
                  .etag = etag,
                  .etag_field = "detail.object.etag",
                  .seq = seq,
                  .seq_field = "detail.object.sequencer",
                  .time_ms = tms,
                  .bucket = bname,
                  .bucket_field = "detail.bucket.name",
                  .format = "eventbridge"};
    return ev_add(l, &in, o, err, 0);
}
