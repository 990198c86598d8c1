/* Internal to scheduler/events: shared helpers and the per-format parsers. */
#ifndef FERRY_SCHED_EVENTS_INT_H
#define FERRY_SCHED_EVENTS_INT_H

#include "../events.h"

#include <jansson.h>

/* One event as a parser found it; the *_field members name the JSON path for messages. */
typedef struct ev_in_s {
    ferry_event_op_t op;
    const char *key;
    size_t key_len;
    int decode; /* 0 raw, 1 percent, 2 form ('+' is a space) */
    const char *key_field;
    int64_t size; /* -1 absent; checked by ev_size */
    const char *etag, *etag_field;
    const char *seq, *seq_field;
    int64_t time_ms;
    const char *bucket, *bucket_field; /* NULL: the event names no bucket */
    const char *bucket_alt;            /* another accepted spelling (COS "name-appid"), or NULL */
    const char *format;
} ev_in_t;

/* Append one event (copies the strings, decodes the key) after checking every bound and the
 * bucket against o->bucket. FERRY_OK, FERRY_EPARSE (naming event idx and the field),
 * FERRY_ETOOBIG, FERRY_ENOMEM. */
int ev_add(ferry_event_list_t *l, const ev_in_t *in, const ferry_events_opts_t *o,
           ferry_error_t *err, size_t idx);

/* An object size: -1 when absent; negative or over FERRY_EVENTS_MAX_SIZE is an error. */
int ev_size(json_t *obj, const char *name, int64_t *out, const char *path, size_t idx,
            ferry_error_t *err);

/* An optional ISO 8601 time string: 0 when absent; unparsable or out of range is an error. */
int ev_time(json_t *obj, const char *name, int64_t *ms, const char *path, size_t idx,
            ferry_error_t *err);

/* Field access with messages naming the path. `need`: missing is an error. */
int ev_str(json_t *obj, const char *name, int need, const char **out, const char *path, size_t idx,
           ferry_error_t *err);
int ev_int(json_t *obj, const char *name, int need, int64_t *out, const char *path, size_t idx,
           ferry_error_t *err);
json_t *ev_obj(json_t *obj, const char *name, const char *path, size_t idx, ferry_error_t *err);

/* "2026-08-13T06:45:43.000Z" -> ms since the epoch: 0, or -1 unparsable or out of range. */
int ev_iso8601_ms(const char *s, int64_t *ms);

/* events: the OSS "events" array. */
int ev_parse_oss(json_t *events, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err);
int ev_parse_cos(json_t *records, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err);
int ev_parse_kodo(json_t *msg, const ferry_events_opts_t *o, ferry_event_list_t *l,
                  ferry_error_t *err);
int ev_parse_s3_records(json_t *records, const char *format, const ferry_events_opts_t *o,
                        ferry_event_list_t *l, ferry_error_t *err);
int ev_parse_eventbridge(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l,
                         ferry_error_t *err);

#endif
