/* Kodo bucket event rule callbacks, docs/providers.md §5d. `Message` is JSON in a string (already
 * decoded by the caller); `move` copies dest_key and deletes key; `time` is in nanoseconds. */
#include "events_int.h"

#include <string.h>

int ev_parse_kodo(json_t *m, const ferry_events_opts_t *o, ferry_event_list_t *l,
                  ferry_error_t *err)
{
    const char *event, *key, *hash, *dest_key, *bucket;
    int64_t size, t;
    int rc;
    if (!json_is_object(m))
        return ferry_error_set(err, FERRY_EPARSE, "event 1: Message is not an object");
    if ((rc = ev_str(m, "event", 1, &event, "Message.", 0, err)) ||
        (rc = ev_str(m, "key", 1, &key, "Message.", 0, err)) ||
        (rc = ev_size(m, "fsize", &size, "Message.", 0, err)) ||
        (rc = ev_str(m, "hash", 0, &hash, "Message.", 0, err)) ||
        (rc = ev_str(m, "bucket", 0, &bucket, "Message.", 0, err)) ||
        (rc = ev_int(m, "time", 0, &t, "Message.", 0, err)))
        return rc;
    if (json_object_get(m, "time") && (t < 0 || t / 1000000000 > FERRY_EVENTS_MAX_TIME_S))
        return ferry_error_set(err, FERRY_EPARSE, "event 1: Message.time is out of range");
    int64_t ms = t > 0 ? t / 1000000 : 0; /* nanoseconds: int64 holds them up to 2262 */
    ev_in_t cr = {.op = FERRY_EVENT_CREATE,
                  .key = key,
                  .key_len = strlen(key),
                  .key_field = "Message.key",
                  .size = size,
                  .etag = hash,
                  .etag_field = "Message.hash",
                  .time_ms = ms,
                  .bucket = bucket,
                  .bucket_field = "Message.bucket",
                  .format = "kodo"};
    ev_in_t del = cr;
    del.op = FERRY_EVENT_DELETE;
    del.size = -1;
    del.etag = NULL;
    if (strcmp(event, "put") == 0 || strcmp(event, "mkfile") == 0 || strcmp(event, "copy") == 0 ||
        strcmp(event, "append") == 0 || strcmp(event, "restore:completed") == 0 ||
        strcmp(event, "enable") == 0)
        return ev_add(l, &cr, o, err, 0);
    if (strcmp(event, "delete") == 0 || strcmp(event, "deleteMarkerCreate") == 0)
        return ev_add(l, &del, o, err, 0);
    if (strcmp(event, "move") == 0) {
        if ((rc = ev_str(m, "dest_key", 1, &dest_key, "Message.", 0, err)))
            return rc;
        cr.key = dest_key;
        cr.key_len = strlen(dest_key);
        cr.key_field = "Message.dest_key";
        if ((rc = ev_add(l, &cr, o, err, 0)))
            return rc;
        return ev_add(l, &del, o, err, 0);
    }
    l->ignored++; /* disable: the object stays */
    return FERRY_OK;
}
