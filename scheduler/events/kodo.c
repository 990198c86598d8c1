/* Kodo bucket event rule callbacks, PROVIDERS.md §5d. `Message` is JSON in a string (already
 * decoded by the caller); `move` copies dest_key and deletes key; `time` is in nanoseconds. */
#include "events_int.h"

#include <string.h>

int ev_parse_kodo(json_t *m, ferry_event_list_t *l, ferry_error_t *err)
{
    const char *event, *key, *hash, *dest_key;
    int64_t size, t;
    int rc;
    if (!json_is_object(m))
        return ferry_error_set(err, FERRY_EPARSE, "event 1: Message is not an object");
    if ((rc = ev_str(m, "event", 1, &event, "Message.", 0, err)) ||
        (rc = ev_str(m, "key", 1, &key, "Message.", 0, err)) ||
        (rc = ev_int(m, "fsize", 0, &size, "Message.", 0, err)) ||
        (rc = ev_str(m, "hash", 0, &hash, "Message.", 0, err)) ||
        (rc = ev_int(m, "time", 0, &t, "Message.", 0, err)))
        return rc;
    int64_t ms = t > 0 ? t / 1000000 : 0;
    if (strcmp(event, "put") == 0 || strcmp(event, "mkfile") == 0 || strcmp(event, "copy") == 0 ||
        strcmp(event, "append") == 0 || strcmp(event, "restore:completed") == 0 ||
        strcmp(event, "enable") == 0)
        return ev_add(l, FERRY_EVENT_CREATE, key, strlen(key), 0, size, hash, NULL, ms, "kodo", err,
                      0);
    if (strcmp(event, "delete") == 0 || strcmp(event, "deleteMarkerCreate") == 0)
        return ev_add(l, FERRY_EVENT_DELETE, key, strlen(key), 0, -1, NULL, NULL, ms, "kodo", err,
                      0);
    if (strcmp(event, "move") == 0) {
        if ((rc = ev_str(m, "dest_key", 1, &dest_key, "Message.", 0, err)))
            return rc;
        if ((rc = ev_add(l, FERRY_EVENT_CREATE, dest_key, strlen(dest_key), 0, size, hash, NULL, ms,
                         "kodo", err, 0)))
            return rc;
        return ev_add(l, FERRY_EVENT_DELETE, key, strlen(key), 0, -1, NULL, NULL, ms, "kodo", err,
                      0);
    }
    l->ignored++; /* disable: the object stays */
    return FERRY_OK;
}
