/* OSS events: Function Compute trigger and MNS (same JSON), docs/providers.md §5a-5b. */
#include "events_int.h"

#include <string.h>

int ev_parse_oss(json_t *events, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err)
{
    size_t n = json_array_size(events);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_array_get(events, i), *oss, *obj, *bucket;
        const char *name, *key, *etag, *bname = NULL;
        int64_t size, tms;
        int rc;
        if (!json_is_object(ev))
            return ferry_error_set(err, FERRY_EPARSE, "event %zu is not an object", i + 1);
        if ((rc = ev_str(ev, "eventName", 1, &name, "", i, err)) ||
            (rc = ev_time(ev, "eventTime", &tms, "", i, err)))
            return rc;
        if ((oss = ev_obj(ev, "oss", "", i, err)) == NULL ||
            (obj = ev_obj(oss, "object", "oss.", i, err)) == NULL)
            return FERRY_EPARSE;
        if ((rc = ev_str(obj, "key", 1, &key, "oss.object.", i, err)) ||
            (rc = ev_size(obj, "size", &size, "oss.object.", i, err)) ||
            (rc = ev_str(obj, "eTag", 0, &etag, "oss.object.", i, err)))
            return rc;
        if ((bucket = json_object_get(oss, "bucket")) != NULL &&
            (!json_is_object(bucket) ||
             (rc = ev_str(bucket, "name", 0, &bname, "oss.bucket.", i, err))))
            return rc ? rc
                      : ferry_error_set(err, FERRY_EPARSE, "event %zu: oss.bucket is not an object",
                                        i + 1);
        /* The trigger config's "oss:" prefix may or may not be in the payload. */
        if (strncmp(name, "oss:", 4) == 0)
            name += 4;
        ferry_event_op_t op;
        if (strncmp(name, "ObjectCreated:", 14) == 0) {
            const char *what = name + 14;
            if (strcmp(what, "InitiateMultipartUpload") == 0 || strcmp(what, "UploadPart") == 0 ||
                strcmp(what, "UploadPartCopy") == 0) {
                l->ignored++; /* the object does not exist yet */
                continue;
            }
            op = FERRY_EVENT_CREATE;
        } else if (strncmp(name, "ObjectModified:", 15) == 0 ||
                   strncmp(name, "ObjectReplication:ObjectCreated", 31) == 0 ||
                   strncmp(name, "ObjectReplication:ObjectModified", 32) == 0) {
            op = FERRY_EVENT_CREATE; /* metadata changed: copy again */
        } else if (strcmp(name, "ObjectRemoved:DeleteObject") == 0 ||
                   strcmp(name, "ObjectRemoved:DeleteObjects") == 0 ||
                   strncmp(name, "ObjectReplication:ObjectRemoved", 31) == 0) {
            op = FERRY_EVENT_DELETE;
        } else {
            l->ignored++; /* AbortMultipartUpload, GetObject, restores */
            continue;
        }
        ev_in_t in = {.op = op,
                      .key = key,
                      .key_len = strlen(key),
                      .decode = o->oss_key_urlencoded ? 1 : 0,
                      .key_field = "oss.object.key",
                      .size = size,
                      .etag = etag,
                      .etag_field = "oss.object.eTag",
                      .time_ms = tms,
                      .bucket = bname,
                      .bucket_field = "oss.bucket.name",
                      .format = "oss"};
        if ((rc = ev_add(l, &in, o, err, i)))
            return rc;
    }
    return FERRY_OK;
}
