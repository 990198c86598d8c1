/* COS events through the SCF COS trigger, PROVIDERS.md §5c. The key is
 * "/{appid}/{bucket}/{key}", URL-encoded: strip the first two segments, then decode. */
#include "events_int.h"

#include <string.h>

int ev_parse_cos(json_t *records, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err)
{
    size_t n = json_array_size(records);
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_array_get(records, i), *cos, *obj, *event;
        const char *name, *key;
        int64_t size, etime;
        int rc;
        if (!json_is_object(rec))
            return ferry_error_set(err, FERRY_EPARSE, "event %zu is not an object", i + 1);
        if ((cos = ev_obj(rec, "cos", "", i, err)) == NULL ||
            (obj = ev_obj(cos, "cosObject", "cos.", i, err)) == NULL ||
            (event = ev_obj(rec, "event", "", i, err)) == NULL)
            return FERRY_EPARSE;
        if ((rc = ev_str(event, "eventName", 1, &name, "event.", i, err)) ||
            (rc = ev_int(event, "eventTime", 0, &etime, "event.", i, err)) ||
            (rc = ev_str(obj, "key", 1, &key, "cos.cosObject.", i, err)) ||
            (rc = ev_int(obj, "size", 0, &size, "cos.cosObject.", i, err)))
            return rc;
        ferry_event_op_t op;
        if (strncmp(name, "cos:ObjectCreated:", 18) == 0)
            op = FERRY_EVENT_CREATE;
        else if (strncmp(name, "cos:ObjectRemove:", 17) == 0 ||
                 strncmp(name, "cos:ObjectRemoved:", 18) == 0)
            op = FERRY_EVENT_DELETE;
        else {
            l->ignored++; /* restores */
            continue;
        }
        /* "/appid/bucket/rest" */
        const char *p = key;
        for (int seg = 0; seg < 3; seg++) {
            if (*p != '/')
                return ferry_error_set(err, FERRY_EPARSE,
                                       "event %zu: cos.cosObject.key \"%.64s\" is not "
                                       "/appid/bucket/key",
                                       i + 1, key);
            if (seg == 2)
                break;
            const char *slash = strchr(p + 1, '/');
            if (slash == NULL)
                return ferry_error_set(err, FERRY_EPARSE,
                                       "event %zu: cos.cosObject.key \"%.64s\" is not "
                                       "/appid/bucket/key",
                                       i + 1, key);
            p = slash;
        }
        p++;
        if ((rc = ev_add(l, op, p, strlen(p), o->cos_plus_as_space ? 2 : 1, size, NULL, NULL,
                         etime > 0 ? etime * 1000 : 0, "cos", err, i)))
            return rc;
    }
    return FERRY_OK;
}
