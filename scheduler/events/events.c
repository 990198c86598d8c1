#define _GNU_SOURCE /* strptime */
/* Event intake: format detection, shared helpers, and the plain {"key","size"} format. */
#include "events_int.h"

#include "ferry/buf.h"
#include "ferry/check.h"
#include "ferry/sigv4.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void ferry_events_opts_default(ferry_events_opts_t *o)
{
    o->oss_key_urlencoded = 0;
    o->cos_plus_as_space = 0;
    o->eventbridge_key_urlencoded = 1;
}

void ferry_event_list_free(ferry_event_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].etag);
        free(l->v[i].sequencer);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static char *dup_or_null(const char *s)
{
    if (s == NULL || *s == '\0')
        return NULL;
    return strdup(s);
}

int ev_add(ferry_event_list_t *l, ferry_event_op_t op, const char *key, size_t key_len, int decode,
           int64_t size, const char *etag, const char *sequencer, int64_t time_ms,
           const char *format, ferry_error_t *err, size_t idx)
{
    int rc;
    ferry_buf_t k;
    if (l->n >= FERRY_EVENTS_MAX_EVENTS)
        return ferry_error_set(err, FERRY_ETOOBIG, "more than %d events in one body: split it",
                               FERRY_EVENTS_MAX_EVENTS);
    ferry_buf_init(&k, FERRY_EVENTS_MAX_KEY);
    if (decode)
        rc = ferry_uri_decode(key, key_len, decode == 2, &k);
    else
        rc = ferry_buf_add(&k, key, key_len);
    if (rc != FERRY_OK)
        ferry_buf_free(&k);
    if (rc == FERRY_EPARSE)
        return ferry_error_set(err, rc, "event %zu: the key has a bad %%-escape", idx + 1);
    if (rc == FERRY_ETOOBIG)
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: the key is longer than %d bytes",
                               idx + 1, FERRY_EVENTS_MAX_KEY);
    if (rc)
        return ferry_error_set(err, rc, "out of memory");
    if (k.len == 0 || memchr(k.data, '\0', k.len)) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: the key is empty or has a NUL",
                               idx + 1);
    }
    if (size < -1)
        size = -1;
    ferry_event_t *v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    }
    l->v = v;
    ferry_event_t *e = &l->v[l->n];
    memset(e, 0, sizeof(*e));
    e->op = op;
    e->key = ferry_buf_steal(&k, NULL);
    e->size = op == FERRY_EVENT_DELETE ? -1 : size;
    /* quotes around an etag are transport, not value */
    if (etag && *etag == '"') {
        size_t n = strlen(etag);
        e->etag = n >= 2 && etag[n - 1] == '"' ? strndup(etag + 1, n - 2) : strdup(etag);
    } else {
        e->etag = dup_or_null(etag);
    }
    e->sequencer = dup_or_null(sequencer);
    e->time_ms = time_ms;
    e->format = format;
    l->n++;
    if ((etag && *etag && e->etag == NULL) || (sequencer && *sequencer && !e->sequencer))
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    return FERRY_OK;
}

static const char *json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int ev_str(json_t *obj, const char *name, int need, const char **out, const char *path, size_t idx,
           ferry_error_t *err)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (need)
            return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s%s is missing", idx + 1, path,
                                   name);
        return FERRY_OK;
    }
    if (!json_is_string(v))
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s%s is %s, want a string", idx + 1,
                               path, name, json_kind(v));
    *out = json_string_value(v);
    return FERRY_OK;
}

int ev_int(json_t *obj, const char *name, int need, int64_t *out, const char *path, size_t idx,
           ferry_error_t *err)
{
    json_t *v = json_object_get(obj, name);
    *out = -1;
    if (v == NULL || json_is_null(v)) {
        if (need)
            return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s%s is missing", idx + 1, path,
                                   name);
        return FERRY_OK;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return FERRY_OK;
    }
    /* One older COS sample sends size as a decimal string (PROVIDERS.md §5c ⚠). */
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        long long n = strtoll(s, &end, 10);
        if (*s && *end == '\0' && n >= 0) {
            *out = n;
            return FERRY_OK;
        }
    }
    return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s%s is %s, want an integer", idx + 1,
                           path, name, json_kind(v));
}

json_t *ev_obj(json_t *obj, const char *name, const char *path, size_t idx, ferry_error_t *err)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_object(v)) {
        ferry_error_set(err, FERRY_EPARSE, "event %zu: %s%s is %s, want an object", idx + 1, path,
                        name, v ? json_kind(v) : "missing");
        return NULL;
    }
    return v;
}

int64_t ev_iso8601_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (s == NULL)
        return 0;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return 0;
    int64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (digits < 3) {
                ms = ms * 10 + (*p - '0');
                digits++;
            }
        while (digits++ < 3)
            ms *= 10;
    }
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* {"key":"...","size":N}, or an array of them. */
static int parse_plain(json_t *root, ferry_event_list_t *l, ferry_error_t *err)
{
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_is_array(root) ? json_array_get(root, i) : root;
        const char *key, *op, *etag;
        int64_t size;
        int rc;
        if (!json_is_object(o))
            return ferry_error_set(err, FERRY_EPARSE, "event %zu is %s, want an object", i + 1,
                                   json_kind(o));
        if ((rc = ev_str(o, "key", 1, &key, "", i, err)) ||
            (rc = ev_int(o, "size", 0, &size, "", i, err)) ||
            (rc = ev_str(o, "op", 0, &op, "", i, err)) ||
            (rc = ev_str(o, "etag", 0, &etag, "", i, err)))
            return rc;
        ferry_event_op_t kind = FERRY_EVENT_CREATE;
        if (op && strcmp(op, "delete") == 0)
            kind = FERRY_EVENT_DELETE;
        else if (op && strcmp(op, "create") != 0)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "event %zu: op is \"%.32s\", want \"create\" or \"delete\"",
                                   i + 1, op);
        if ((rc = ev_add(l, kind, key, strlen(key), 0, size, etag, NULL, 0, "plain", err, i)))
            return rc;
    }
    return FERRY_OK;
}

static int parse_json(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l, int depth,
                      ferry_error_t *err)
{
    json_t *v;
    if (json_is_array(root))
        return parse_plain(root, l, err);
    if (!json_is_object(root))
        return ferry_error_set(err, FERRY_EPARSE, "the body is %s, want a JSON object",
                               json_kind(root));
    if (json_is_array(json_object_get(root, "events")))
        return ev_parse_oss(root, o, l, err);
    if ((v = json_object_get(root, "Records")) != NULL) {
        if (!json_is_array(v))
            return ferry_error_set(err, FERRY_EPARSE, "Records is %s, want an array", json_kind(v));
        json_t *first = json_array_get(v, 0);
        if (first && json_object_get(first, "cos"))
            return ev_parse_cos(v, o, l, err);
        return ev_parse_s3_records(v, depth ? "s3-sns" : "s3", l, err);
    }
    if (json_is_string(json_object_get(root, "source")) && json_object_get(root, "detail-type"))
        return ev_parse_eventbridge(root, o, l, err);
    if (json_is_string(v = json_object_get(root, "Message"))) {
        /* SNS envelope (S3 inside) or Kodo callback: both carry JSON as a string. */
        const char *type = json_string_value(json_object_get(root, "Type"));
        if (type && strcmp(type, "Notification") != 0)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "an SNS %s message carries no object event: confirm the "
                                   "subscription with SNS, then events will follow",
                                   type);
        if (depth > 0)
            return ferry_error_set(err, FERRY_EPARSE, "a Message nested in a Message");
        json_error_t je;
        const char *m = json_string_value(v);
        json_t *inner = json_loadb(m, json_string_length(v), JSON_REJECT_DUPLICATES, &je);
        if (inner == NULL)
            return ferry_error_set(err, FERRY_EPARSE, "Message is not JSON: %s at offset %d",
                                   je.text, je.position);
        int rc;
        if (type || json_object_get(inner, "Records"))
            rc = parse_json(inner, o, l, depth + 1, err);
        else if (json_object_get(inner, "event"))
            rc = ev_parse_kodo(inner, l, err);
        else
            rc = ferry_error_set(err, FERRY_EPARSE,
                                 "Message holds neither S3 Records nor a Kodo event");
        json_decref(inner);
        return rc;
    }
    if (json_object_get(root, "Event") || json_object_get(root, "key") == NULL) {
        const char *ev = json_string_value(json_object_get(root, "Event"));
        if (ev && strcmp(ev, "s3:TestEvent") == 0) {
            l->ignored++;
            return FERRY_OK;
        }
        return ferry_error_set(err, FERRY_EPARSE,
                               "unknown event format: send OSS, COS, Kodo, S3 (notification, "
                               "SNS or EventBridge) events, or {\"key\":...,\"size\":...}");
    }
    return parse_plain(root, l, err);
}

int ferry_events_parse(const char *body, size_t len, const ferry_events_opts_t *opts,
                       ferry_event_list_t *out, ferry_error_t *err)
{
    ferry_events_opts_t defaults;
    json_error_t je;
    uint8_t *decoded = NULL;
    json_t *root = NULL;
    int rc;
    memset(out, 0, sizeof(*out));
    if (opts == NULL) {
        ferry_events_opts_default(&defaults);
        opts = &defaults;
    }
    if (len > FERRY_EVENTS_MAX_BODY)
        return ferry_error_set(err, FERRY_ETOOBIG, "the body has %zu bytes; the cap is %d", len,
                               FERRY_EVENTS_MAX_BODY);
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len)
        return ferry_error_set(err, FERRY_EPARSE, "the body is empty");
    if (body[i] != '{' && body[i] != '[') {
        /* MNS delivers the OSS event JSON base64-encoded. */
        size_t cap = len, n = 0;
        decoded = malloc(cap + 1);
        if (decoded == NULL)
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        if (ferry_b64_decode(body + i, len - i, decoded, cap, &n) != FERRY_OK || n == 0 ||
            (decoded[0] != '{' && decoded[0] != '[')) {
            free(decoded);
            return ferry_error_set(err, FERRY_EPARSE,
                                   "the body is neither JSON nor base64-encoded JSON");
        }
        root = json_loadb((const char *)decoded, n, JSON_REJECT_DUPLICATES, &je);
    } else {
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    }
    if (root == NULL) {
        rc = ferry_error_set(err, FERRY_EPARSE, "malformed JSON: %s (line %d, column %d)", je.text,
                             je.line, je.column);
        goto out;
    }
    rc = parse_json(root, opts, out, 0, err);
out:
    if (rc != FERRY_OK)
        ferry_event_list_free(out);
    json_decref(root);
    free(decoded);
    return rc;
}
