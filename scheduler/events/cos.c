/* COS events through the SCF COS trigger, docs/providers.md §5c. The key is
 * "/{appid}/{bucket}/{key}", URL-encoded: strip the first two segments, then decode. */
#include "events_int.h"

#include <string.h>

int ev_parse_cos(json_t *records, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err)
{
    size_t n = json_array_size(records);
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_array_get(records, i), *cos, *obj, *event, *bucket;
        const char *name, *key, *bname = NULL, *appid = NULL;
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
            (rc = ev_size(obj, "size", &size, "cos.cosObject.", i, err)))
            return rc;
        /* Seconds; anything past 9999 (or negative) would overflow the ms below. */
        if (json_object_get(event, "eventTime") && (etime < 0 || etime > FERRY_EVENTS_MAX_TIME_S))
            return ferry_error_set(err, FERRY_EPARSE, "event %zu: event.eventTime is out of range",
                                   i + 1);
        if ((bucket = json_object_get(cos, "cosBucket")) != NULL) {
            if (!json_is_object(bucket))
                return ferry_error_set(err, FERRY_EPARSE,
                                       "event %zu: cos.cosBucket is not an object", i + 1);
            if ((rc = ev_str(bucket, "name", 0, &bname, "cos.cosBucket.", i, err)) ||
                (rc = ev_str(bucket, "appid", 0, &appid, "cos.cosBucket.", i, err)))
                return rc;
        }
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
        /* the key's own bucket segment: "/appid/" is key[0..seg1), the bucket up to p */
        const char *seg1 = strchr(key + 1, '/');
        char kb[128], full[192];
        size_t kbn = (size_t)(p - seg1 - 1);
        if (kbn >= sizeof(kb))
            return ferry_error_set(err, FERRY_EPARSE,
                                   "event %zu: cos.cosObject.key names a bucket longer than %zu "
                                   "bytes",
                                   i + 1, sizeof(kb) - 1);
        memcpy(kb, seg1 + 1, kbn);
        kb[kbn] = '\0';
        if (bname && *bname && strcmp(bname, kb) != 0)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "event %zu: cos.cosObject.key names bucket \"%.64s\" but "
                                   "cos.cosBucket.name is \"%.64s\"",
                                   i + 1, kb, bname);
        /* the appid: cosBucket.appid, else the key's first segment */
        if (appid && *appid)
            snprintf(full, sizeof(full), "%s-%s", kb, appid);
        else
            snprintf(full, sizeof(full), "%s-%.*s", kb, (int)(seg1 - key - 1), key + 1);
        p++;
        ev_in_t in = {.op = op,
                      .key = p,
                      .key_len = strlen(p),
                      .decode = o->cos_plus_as_space ? 2 : 1,
                      .key_field = "cos.cosObject.key",
                      .size = size,
                      .time_ms = etime > 0 ? etime * 1000 : 0,
                      .bucket = kb,
                      .bucket_alt = full[0] ? full : NULL,
                      .bucket_field = "cos.cosBucket.name",
                      .format = "cos"};
        if ((rc = ev_add(l, &in, o, err, i)))
            return rc;
    }
    return FERRY_OK;
}
