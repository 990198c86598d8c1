/* Internal to scheduler/events: shared helpers and the per-format parsers. */
#ifndef FERRY_SCHED_EVENTS_INT_H
#define FERRY_SCHED_EVENTS_INT_H

#include "../events.h"

#include <jansson.h>

/* Append one event (copies the strings; key decoded per `decode`: 0 raw, 1 percent, 2 form).
 * FERRY_OK, FERRY_EPARSE (bad escape, empty or oversized key), FERRY_ETOOBIG, FERRY_ENOMEM. */
int ev_add(ferry_event_list_t *l, ferry_event_op_t op, const char *key, size_t key_len, int decode,
           int64_t size, const char *etag, const char *sequencer, int64_t time_ms,
           const char *format, ferry_error_t *err, size_t idx);

/* Field access with messages naming the path. `need`: missing is an error. */
int ev_str(json_t *obj, const char *name, int need, const char **out, const char *path, size_t idx,
           ferry_error_t *err);
int ev_int(json_t *obj, const char *name, int need, int64_t *out, const char *path, size_t idx,
           ferry_error_t *err);
json_t *ev_obj(json_t *obj, const char *name, const char *path, size_t idx, ferry_error_t *err);

/* "2026-08-13T06:45:43.000Z" -> ms since the epoch; 0 when absent or unparsable. */
int64_t ev_iso8601_ms(const char *s);

int ev_parse_oss(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err);
int ev_parse_cos(json_t *records, const ferry_events_opts_t *o, ferry_event_list_t *l,
                 ferry_error_t *err);
int ev_parse_kodo(json_t *msg, ferry_event_list_t *l, ferry_error_t *err);
int ev_parse_s3_records(json_t *records, const char *format, ferry_event_list_t *l,
                        ferry_error_t *err);
int ev_parse_eventbridge(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l,
                         ferry_error_t *err);

#endif
