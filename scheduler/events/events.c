#define _GNU_SOURCE /* strptime */
/* Event intake: format detection, shared helpers, and the plain {"key","size"} format. */
#include "events_int.h"

#include "ferry/buf.h"
#include "ferry/check.h"
#include "ferry/sigv4.h"
#include "ferry/text.h"

#include <expat.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ferry_events_opts_default(ferry_events_opts_t *o)
{
    o->oss_key_urlencoded = 0;
    o->cos_plus_as_space = 0;
    o->eventbridge_key_urlencoded = 1;
    o->bucket = NULL;
}

void ferry_event_list_free(ferry_event_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].etag);
        free(l->v[i].sequencer);
        free(l->v[i].bucket);
        free(l->v[i].delivery);
    }
    free(l->v);
    if (l->sns) {
        free(l->sns->topic_arn);
        free(l->sns->subscribe_url);
        free(l->sns->message_id);
        free(l->sns);
    }
    memset(l, 0, sizeof(*l));
}

/* The bucket an event names against the task's: FERRY_OK or FERRY_EPARSE naming the field. */
static int bucket_check(const ev_in_t *in, const ferry_events_opts_t *o, ferry_error_t *err,
                        size_t idx)
{
    if (o == NULL || o->bucket == NULL || o->bucket[0] == '\0' || in->bucket == NULL)
        return FERRY_OK;
    if (strcmp(in->bucket, o->bucket) == 0 ||
        (in->bucket_alt && strcmp(in->bucket_alt, o->bucket) == 0))
        return FERRY_OK;
    return ferry_error_set(err, FERRY_EPARSE,
                           "event %zu: %s is \"%.64s\", not the task's source bucket \"%s\": send "
                           "this bucket's events to the task that copies it",
                           idx + 1, in->bucket_field, in->bucket, o->bucket);
}

int ev_add(ferry_event_list_t *l, const ev_in_t *in, const ferry_events_opts_t *o,
           ferry_error_t *err, size_t idx)
{
    int rc;
    ferry_buf_t k;
    const char *kf = in->key_field ? in->key_field : "key";
    if (l->n >= FERRY_EVENTS_MAX_EVENTS)
        return ferry_error_set(err, FERRY_ETOOBIG, "more than %d events in one body: split it",
                               FERRY_EVENTS_MAX_EVENTS);
    if ((rc = bucket_check(in, o, err, idx)))
        return rc;
    /* Decode first, then bound: an encoded key is up to three times its decoded length. The
     * input is inside the body, so its length is already capped. */
    ferry_buf_init(&k, in->key_len + 1);
    if (in->decode)
        rc = ferry_uri_decode(in->key, in->key_len, in->decode == 2, &k);
    else
        rc = ferry_buf_add(&k, in->key, in->key_len);
    if (rc != FERRY_OK)
        ferry_buf_free(&k);
    if (rc == FERRY_EPARSE)
        return ferry_error_set(err, rc, "event %zu: %s has a bad %%-escape", idx + 1, kf);
    if (rc)
        return ferry_error_set(err, rc, "out of memory");
    if (k.len == 0 || memchr(k.data, '\0', k.len)) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: the key is empty or has a NUL",
                               idx + 1);
    }
    if (k.len > FERRY_EVENTS_MAX_KEY) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE,
                               "event %zu: %s is longer than %d bytes (the key is longer than "
                               "%d bytes once decoded)",
                               idx + 1, kf, FERRY_EVENTS_MAX_KEY, FERRY_EVENTS_MAX_KEY);
    }
    if (!ferry_utf8_valid(k.data, k.len)) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s is not valid UTF-8 once decoded",
                               idx + 1, kf);
    }
    if (in->size > FERRY_EVENTS_MAX_SIZE) { /* parsers check with ev_size; this is the backstop */
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: size is over 5 TiB", idx + 1);
    }
    const char *etag = in->etag && *in->etag ? in->etag : NULL;
    if (etag && strlen(etag) > FERRY_ETAG_MAX) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE,
                               "event %zu: %s is longer than %d characters: not an etag", idx + 1,
                               in->etag_field ? in->etag_field : "etag", FERRY_ETAG_MAX);
    }
    const char *seq = in->seq && *in->seq ? in->seq : NULL;
    if (seq) {
        const char *sf = in->seq_field ? in->seq_field : "sequencer";
        size_t sn = strlen(seq);
        if (sn > FERRY_SEQ_MAX) {
            ferry_buf_free(&k);
            return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s is longer than %d characters",
                                   idx + 1, sf, FERRY_SEQ_MAX);
        }
        for (size_t i = 0; i < sn; i++)
            if (ferry_hex_val((unsigned char)seq[i]) < 0) {
                ferry_buf_free(&k);
                return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s is not hex", idx + 1, sf);
            }
    }
    if (in->time_ms < 0 || in->time_ms / 1000 > FERRY_EVENTS_MAX_TIME_S) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: the event time is out of range",
                               idx + 1);
    }
    ferry_event_t *v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL) {
        ferry_buf_free(&k);
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    }
    l->v = v;
    ferry_event_t *e = &l->v[l->n];
    memset(e, 0, sizeof(*e));
    e->op = in->op;
    e->key = ferry_buf_steal(&k, NULL);
    e->size = in->op == FERRY_EVENT_DELETE ? -1 : in->size < 0 ? -1 : in->size;
    /* quotes around an etag are transport, not value */
    if (etag && *etag == '"') {
        size_t n = strlen(etag);
        e->etag = n >= 2 && etag[n - 1] == '"' ? strndup(etag + 1, n - 2) : strdup(etag);
    } else {
        e->etag = etag ? strdup(etag) : NULL;
    }
    e->sequencer = seq ? strdup(seq) : NULL;
    e->bucket = in->bucket && *in->bucket ? strdup(in->bucket) : NULL;
    e->time_ms = in->time_ms;
    e->format = in->format;
    l->n++;
    if (e->key == NULL || (etag && e->etag == NULL) || (seq && !e->sequencer) ||
        (in->bucket && *in->bucket && !e->bucket))
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
    /* One older COS sample sends size as a decimal string (docs/providers.md §5c ⚠). */
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

int ev_iso8601_ms(const char *s, int64_t *ms_out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    *ms_out = 0;
    if (s == NULL || *s == '\0')
        return 0;
    /* Four-digit years only: strptime's %Y takes any number of digits. */
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    if (s[4] != '-')
        return -1;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
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
    int64_t t = (int64_t)timegm(&tm);
    if (t < 0 || t > FERRY_EVENTS_MAX_TIME_S)
        return -1;
    *ms_out = t * 1000 + ms;
    return 0;
}

int ev_time(json_t *obj, const char *name, int64_t *ms, const char *path, size_t idx,
            ferry_error_t *err)
{
    const char *s;
    int rc = ev_str(obj, name, 0, &s, path, idx, err);
    *ms = 0;
    if (rc)
        return rc;
    if (ev_iso8601_ms(s, ms) != 0)
        return ferry_error_set(err, FERRY_EPARSE,
                               "event %zu: %s%s is not a time between 1970 and 9999 "
                               "(want 2026-08-13T06:45:43.000Z)",
                               idx + 1, path, name);
    return FERRY_OK;
}

int ev_size(json_t *obj, const char *name, int64_t *out, const char *path, size_t idx,
            ferry_error_t *err)
{
    json_t *v = json_object_get(obj, name);
    *out = -1;
    if (v == NULL || json_is_null(v))
        return FERRY_OK;
    if (json_is_integer(v) && json_integer_value(v) < 0)
        return ferry_error_set(err, FERRY_EPARSE, "event %zu: %s%s is negative", idx + 1, path,
                               name);
    int rc = ev_int(obj, name, 0, out, path, idx, err);
    if (rc)
        return rc;
    if (*out > FERRY_EVENTS_MAX_SIZE)
        return ferry_error_set(err, FERRY_EPARSE,
                               "event %zu: %s%s is over 5 TiB, the largest object a store holds",
                               idx + 1, path, name);
    return FERRY_OK;
}

/* {"key":"...","size":N}, or an array of them. */
static int parse_plain(json_t *root, const ferry_events_opts_t *eo, ferry_event_list_t *l,
                       ferry_error_t *err)
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
            (rc = ev_size(o, "size", &size, "", i, err)) ||
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
        ev_in_t in = {.op = kind,
                      .key = key,
                      .key_len = strlen(key),
                      .key_field = "key",
                      .size = size,
                      .etag = etag,
                      .etag_field = "etag",
                      .format = "plain"};
        if ((rc = ev_add(l, &in, eo, err, i)))
            return rc;
    }
    return FERRY_OK;
}

/* The body's delivery id (see events.h): the outermost one wins. */
static int set_id_str(char **did, const char *kind, const char *id, const char *field,
                      ferry_error_t *err)
{
    if (*did != NULL || id == NULL || *id == '\0')
        return FERRY_OK;
    size_t n = strlen(id);
    if (n > FERRY_EVENTS_MAX_ID)
        return ferry_error_set(err, FERRY_EPARSE,
                               "%s is longer than %d characters: not a delivery id", field,
                               FERRY_EVENTS_MAX_ID);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return ferry_error_set(err, FERRY_EPARSE, "%s has a control character", field);
    size_t kn = strlen(kind);
    *did = malloc(kn + 1 + n + 1);
    if (*did == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    memcpy(*did, kind, kn);
    (*did)[kn] = ':';
    memcpy(*did + kn + 1, id, n + 1);
    return FERRY_OK;
}

static int set_id(char **did, const char *kind, json_t *obj, const char *name, ferry_error_t *err)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return FERRY_OK;
    if (!json_is_string(v))
        return ferry_error_set(err, FERRY_EPARSE, "%s is %s, want a string", name, json_kind(v));
    return set_id_str(did, kind, json_string_value(v), name, err);
}

/* A JSON text, or base64 of one (MNS encodes the message by default). New reference in *out. */
static int load_message(const char *s, size_t n, const char *field, json_t **out,
                        ferry_error_t *err)
{
    json_error_t je;
    *out = NULL;
    while (n && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        n--;
    }
    if (n && (*s == '{' || *s == '[')) {
        *out = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
        if (*out == NULL)
            return ferry_error_set(err, FERRY_EPARSE, "%s is not JSON: %s at offset %d", field,
                                   je.text, je.position);
        return FERRY_OK;
    }
    uint8_t *d = malloc(n + 1);
    size_t dn = 0;
    if (d == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    if (ferry_b64_decode(s, n, d, n + 1, &dn) != FERRY_OK || dn == 0 ||
        (d[0] != '{' && d[0] != '[')) {
        free(d);
        return ferry_error_set(err, FERRY_EPARSE, "%s is neither JSON nor base64-encoded JSON",
                               field);
    }
    *out = json_loadb((const char *)d, dn, JSON_REJECT_DUPLICATES, &je);
    free(d);
    if (*out == NULL)
        return ferry_error_set(err, FERRY_EPARSE,
                               "%s (base64-decoded) is not JSON: %s at offset %d", field, je.text,
                               je.position);
    return FERRY_OK;
}

/* CloudEvents `time`, leniently: ISO 8601, or ms (12+ digits) or s since the epoch, as a
 * number or a string. 0 when absent. */
static int ce_time(json_t *root, int64_t *ms, ferry_error_t *err)
{
    json_t *v = json_object_get(root, "time");
    *ms = 0;
    if (v == NULL || json_is_null(v))
        return FERRY_OK;
    long long x = -1;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s), i = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (n == 0 || i != n || n > 15) {
            if (ev_iso8601_ms(s, ms) != 0)
                return ferry_error_set(err, FERRY_EPARSE,
                                       "time is not ISO 8601 nor seconds or milliseconds since "
                                       "the epoch (want 2026-08-13T06:45:43.000Z)");
            return FERRY_OK;
        }
        x = strtoll(s, NULL, 10);
    } else {
        return ferry_error_set(err, FERRY_EPARSE, "time is %s, want a string", json_kind(v));
    }
    int64_t t;
    if (x >= 100000000000LL) /* 12+ digits: ms (100000000000 s would be year 5138) */
        t = x;
    else if (x >= 0 && x <= FERRY_EVENTS_MAX_TIME_S)
        t = x * 1000;
    else
        t = -1;
    if (t < 0 || t / 1000 > FERRY_EVENTS_MAX_TIME_S)
        return ferry_error_set(err, FERRY_EPARSE, "time is out of range (1970..9999)");
    *ms = t;
    return FERRY_OK;
}

/* An SNS SubscriptionConfirmation: keep the SubscribeURL for the operator (never fetched). */
static int sns_confirm(json_t *root, ferry_event_list_t *l, ferry_error_t *err)
{
    const char *url, *topic, *mid;
    int64_t tms;
    int rc;
    if ((rc = ev_str(root, "SubscribeURL", 1, &url, "", 0, err)) ||
        (rc = ev_str(root, "TopicArn", 0, &topic, "", 0, err)) ||
        (rc = ev_str(root, "MessageId", 0, &mid, "", 0, err)) ||
        (rc = ev_time(root, "Timestamp", &tms, "", 0, err)))
        return rc;
    size_t n = strlen(url);
    if (n > FERRY_EVENTS_MAX_URL)
        return ferry_error_set(err, FERRY_EPARSE, "SubscribeURL is longer than %d characters",
                               FERRY_EVENTS_MAX_URL);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "SubscribeURL has a space, control or non-ASCII character");
    /* https://sns.REGION.amazonaws.com[.cn]/...: nothing else is an SNS confirmation */
    const char *host = url + 8, *end;
    if (strncmp(url, "https://", 8) != 0)
        return ferry_error_set(err, FERRY_EPARSE, "SubscribeURL is not https://");
    end = host + strcspn(host, "/?#");
    size_t hn = (size_t)(end - host);
    int aws = (hn > 19 && memcmp(end - 14, ".amazonaws.com", 14) == 0) ||
              (hn > 22 && memcmp(end - 17, ".amazonaws.com.cn", 17) == 0);
    if (strncmp(host, "sns.", 4) != 0 || !aws || memchr(host, '@', hn) || memchr(host, ':', hn))
        return ferry_error_set(err, FERRY_EPARSE,
                               "SubscribeURL's host \"%.*s\" is not sns.REGION.amazonaws.com: "
                               "not an SNS subscription",
                               (int)(hn > 64 ? 64 : hn), host);
    if (topic && strlen(topic) > FERRY_EVENTS_MAX_TOPIC)
        return ferry_error_set(err, FERRY_EPARSE, "TopicArn is longer than %d characters",
                               FERRY_EVENTS_MAX_TOPIC);
    if (mid && strlen(mid) > FERRY_EVENTS_MAX_ID)
        return ferry_error_set(err, FERRY_EPARSE, "MessageId is longer than %d characters",
                               FERRY_EVENTS_MAX_ID);
    if (topic)
        for (const char *p = topic; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return ferry_error_set(err, FERRY_EPARSE, "TopicArn has a control character");
    ferry_sns_confirm_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    l->sns = c;
    c->subscribe_url = strdup(url);
    c->topic_arn = strdup(topic ? topic : "");
    c->message_id = strdup(mid ? mid : "");
    c->time_ms = tms;
    if (!c->subscribe_url || !c->topic_arn || !c->message_id)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    return FERRY_OK;
}

static int parse_json(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l, int depth,
                      char **did, ferry_error_t *err);

/* An MNS envelope's Message (JSON or base64 JSON): the OSS events inside. */
static int parse_mns_message(const char *m, size_t n, const ferry_events_opts_t *o,
                             ferry_event_list_t *l, int depth, char **did, ferry_error_t *err)
{
    json_t *inner;
    int rc = load_message(m, n, "Message", &inner, err);
    if (rc)
        return rc;
    if (json_is_object(inner) && json_is_array(json_object_get(inner, "events")))
        rc = parse_json(inner, o, l, depth + 1, did, err);
    else
        rc = ferry_error_set(err, FERRY_EPARSE,
                             "the MNS Message holds no OSS {\"events\":[...]}: point the OSS "
                             "event notification at this topic");
    json_decref(inner);
    return rc;
}

static int parse_json(json_t *root, const ferry_events_opts_t *o, ferry_event_list_t *l, int depth,
                      char **did, ferry_error_t *err)
{
    json_t *v;
    int rc;
    if (depth > 2)
        return ferry_error_set(err, FERRY_EPARSE, "envelopes nested too deep");
    if (json_is_array(root))
        return parse_plain(root, o, l, err);
    if (!json_is_object(root))
        return ferry_error_set(err, FERRY_EPARSE, "the body is %s, want a JSON object",
                               json_kind(root));
    if (json_is_array(v = json_object_get(root, "events")))
        return ev_parse_oss(v, o, l, err);
    if (json_object_get(root, "specversion") && json_is_object(v = json_object_get(root, "data"))) {
        /* CloudEvents 1.0 through EventBridge: OSS puts one event in data (data.oss), the COS
         * forwarder the SCF Records. */
        int64_t tms;
        size_t first = l->n;
        if (depth > 0)
            return ferry_error_set(err, FERRY_EPARSE, "a CloudEvent nested in another");
        if ((rc = set_id(did, "ce", root, "id", err)) || (rc = ce_time(root, &tms, err)))
            return rc;
        if (json_object_get(v, "Records")) {
            rc = parse_json(v, o, l, depth + 1, did, err);
        } else if (json_is_object(json_object_get(v, "oss"))) {
            json_t *arr = json_array(), *ev = v, *type = json_object_get(root, "type");
            /* data.eventName drops the oss: prefix the CloudEvent's type carries; without it,
             * the type says what happened */
            if (json_object_get(v, "eventName") == NULL && json_is_string(type)) {
                ev = json_copy(v);
                if (ev == NULL || json_object_set(ev, "eventName", type) != 0) {
                    json_decref(ev);
                    json_decref(arr);
                    return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
                }
            } else {
                json_incref(ev);
            }
            if (arr == NULL || json_array_append_new(arr, ev) != 0) {
                json_decref(arr);
                return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
            }
            rc = ev_parse_oss(arr, o, l, err);
            json_decref(arr);
        } else {
            return ferry_error_set(err, FERRY_EPARSE,
                                   "a CloudEvent whose data holds neither data.oss nor Records");
        }
        for (size_t i = first; rc == FERRY_OK && i < l->n; i++)
            if (l->v[i].time_ms == 0)
                l->v[i].time_ms = tms; /* the envelope's time when the event has none */
        return rc;
    }
    if ((v = json_object_get(root, "Records")) != NULL) {
        if (!json_is_array(v))
            return ferry_error_set(err, FERRY_EPARSE, "Records is %s, want an array", json_kind(v));
        json_t *first = json_array_get(v, 0);
        if (first && json_object_get(first, "cos"))
            return ev_parse_cos(v, o, l, err);
        return ev_parse_s3_records(v, depth ? "s3-sns" : "s3", o, l, err);
    }
    if (json_is_string(json_object_get(root, "source")) && json_object_get(root, "detail-type")) {
        if ((rc = set_id(did, "ce", root, "id", err)))
            return rc;
        return ev_parse_eventbridge(root, o, l, err);
    }
    if (json_is_string(v = json_object_get(root, "Message"))) {
        /* SNS envelope (S3 inside), MNS envelope (OSS inside) or Kodo callback: all carry the
         * event as a string. */
        const char *type = json_string_value(json_object_get(root, "Type"));
        if (depth > 0)
            return ferry_error_set(err, FERRY_EPARSE, "a Message nested in a Message");
        if (type && strcmp(type, "SubscriptionConfirmation") == 0)
            return sns_confirm(root, l, err);
        if (type && strcmp(type, "UnsubscribeConfirmation") == 0) {
            l->ignored++;
            return FERRY_OK;
        }
        if (type && strcmp(type, "Notification") != 0)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "an SNS message of Type \"%.32s\": want Notification or "
                                   "SubscriptionConfirmation",
                                   type);
        if (!type && (json_object_get(root, "TopicOwner") || json_object_get(root, "TopicName"))) {
            if ((rc = set_id(did, "mns", root, "MessageId", err)))
                return rc;
            return parse_mns_message(json_string_value(v), json_string_length(v), o, l, depth, did,
                                     err);
        }
        if (type && (rc = set_id(did, "sns", root, "MessageId", err)))
            return rc;
        json_error_t je;
        const char *m = json_string_value(v);
        json_t *inner = json_loadb(m, json_string_length(v), JSON_REJECT_DUPLICATES, &je);
        if (inner == NULL)
            return ferry_error_set(err, FERRY_EPARSE, "Message is not JSON: %s at offset %d",
                                   je.text, je.position);
        if (type || json_object_get(inner, "Records"))
            rc = parse_json(inner, o, l, depth + 1, did, err);
        else if (json_is_object(inner) && json_object_get(inner, "event")) {
            rc = set_id(did, "kodo", inner, "reqid", err);
            if (rc == FERRY_OK)
                rc = ev_parse_kodo(inner, o, l, err);
        } else
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
                               "SNS or EventBridge) events, MNS or CloudEvents envelopes, or "
                               "{\"key\":...,\"size\":...}");
    }
    return parse_plain(root, o, l, err);
}

/* The MNS XML envelope: <Notification> with <MessageId> and <Message> children. */
typedef struct mns_xml_s {
    XML_Parser xp;
    int depth, field, root_ok; /* field: 0 none, 1 MessageId, 2 Message */
    ferry_buf_t id, msg;
    int rc;
} mns_xml_t;

static const char *local_name(const XML_Char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static void XMLCALL mns_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    mns_xml_t *x = ud;
    (void)attrs;
    x->depth++;
    if (x->depth == 1)
        x->root_ok = strcmp(local_name(name), "Notification") == 0;
    else if (x->depth == 2)
        x->field = strcmp(local_name(name), "MessageId") == 0 ? 1
                   : strcmp(local_name(name), "Message") == 0 ? 2
                                                              : 0;
    else
        x->field = 0;
    if (x->depth > 8) {
        x->rc = FERRY_EPARSE;
        XML_StopParser(x->xp, XML_FALSE);
    }
}

static void XMLCALL mns_end(void *ud, const XML_Char *name)
{
    mns_xml_t *x = ud;
    (void)name;
    x->depth--;
    x->field = 0;
}

static void XMLCALL mns_text(void *ud, const XML_Char *s, int n)
{
    mns_xml_t *x = ud;
    ferry_buf_t *b = x->field == 1 ? &x->id : x->field == 2 ? &x->msg : NULL;
    if (b == NULL || n <= 0)
        return;
    /* the whole body is capped at FERRY_EVENTS_MAX_BODY, so is any text in it */
    if (b->len + (size_t)n > FERRY_EVENTS_MAX_BODY || ferry_buf_add(b, s, (size_t)n) != FERRY_OK) {
        x->rc = FERRY_ENOMEM;
        XML_StopParser(x->xp, XML_FALSE);
    }
}

static void XMLCALL mns_doctype(void *ud, const XML_Char *n, const XML_Char *s, const XML_Char *p,
                                int i)
{
    mns_xml_t *x = ud;
    (void)n, (void)s, (void)p, (void)i;
    x->rc = FERRY_EPARSE;
    XML_StopParser(x->xp, XML_FALSE);
}

static int parse_mns_xml(const char *body, size_t len, const ferry_events_opts_t *o,
                         ferry_event_list_t *l, char **did, ferry_error_t *err)
{
    mns_xml_t x;
    int rc;
    memset(&x, 0, sizeof(x));
    if (len > INT_MAX)
        return ferry_error_set(err, FERRY_ETOOBIG, "the body is too large");
    x.xp = XML_ParserCreate(NULL);
    if (x.xp == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_buf_init(&x.id, 64);
    ferry_buf_init(&x.msg, 1024);
    XML_SetUserData(x.xp, &x);
    XML_SetElementHandler(x.xp, mns_start, mns_end);
    XML_SetCharacterDataHandler(x.xp, mns_text);
    XML_SetStartDoctypeDeclHandler(x.xp, mns_doctype);
    XML_SetParamEntityParsing(x.xp, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(x.xp, body, (int)len, XML_TRUE) != XML_STATUS_OK || x.rc) {
        if (x.rc == FERRY_ENOMEM)
            rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        else if (x.rc)
            rc = ferry_error_set(err, FERRY_EPARSE,
                                 "the XML body has a DOCTYPE or is nested too deep: want an MNS "
                                 "<Notification>");
        else
            rc = ferry_error_set(err, FERRY_EPARSE, "malformed XML: %s (line %lu, column %lu)",
                                 XML_ErrorString(XML_GetErrorCode(x.xp)),
                                 (unsigned long)XML_GetCurrentLineNumber(x.xp),
                                 (unsigned long)XML_GetCurrentColumnNumber(x.xp));
        goto out;
    }
    if (!x.root_ok) {
        rc = ferry_error_set(err, FERRY_EPARSE,
                             "the XML root is not <Notification>: want an MNS push envelope");
        goto out;
    }
    if (x.msg.len == 0) {
        rc = ferry_error_set(err, FERRY_EPARSE, "the MNS <Message> is missing or empty");
        goto out;
    }
    if (x.id.len && memchr(x.id.data, '\0', x.id.len)) {
        rc = ferry_error_set(err, FERRY_EPARSE, "MessageId has a NUL");
        goto out;
    }
    if ((rc = set_id_str(did, "mns", x.id.len ? ferry_buf_cstr(&x.id) : NULL, "MessageId", err)))
        goto out;
    rc = parse_mns_message(x.msg.data, x.msg.len, o, l, 0, did, err);
out:
    XML_ParserFree(x.xp);
    ferry_buf_free(&x.id);
    ferry_buf_free(&x.msg);
    return rc;
}

/* Each event's delivery id: the body's, else an S3 record's sequencer and key. */
static int stamp_ids(ferry_event_list_t *l, const char *did, ferry_error_t *err)
{
    for (size_t i = 0; i < l->n; i++) {
        ferry_event_t *e = &l->v[i];
        if (did) {
            e->delivery = strdup(did);
        } else if (e->sequencer && strncmp(e->format, "s3", 2) == 0) {
            size_t n = strlen(e->sequencer) + strlen(e->key) + 5;
            if ((e->delivery = malloc(n)) != NULL)
                snprintf(e->delivery, n, "s3:%s:%s", e->sequencer, e->key);
        } else {
            continue;
        }
        if (e->delivery == NULL)
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    }
    return FERRY_OK;
}

int ferry_events_parse(const char *body, size_t len, const ferry_events_opts_t *opts,
                       ferry_event_list_t *out, ferry_error_t *err)
{
    ferry_events_opts_t defaults;
    json_error_t je;
    uint8_t *decoded = NULL;
    json_t *root = NULL;
    char *did = NULL;
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
    if (body[i] == '<') {
        /* MNS push with NotifyContentFormat XML */
        rc = parse_mns_xml(body + i, len - i, opts, out, &did, err);
        goto ids;
    }
    if (body[i] != '{' && body[i] != '[') {
        /* MNS delivers the OSS event JSON base64-encoded (SIMPLIFIED). */
        size_t cap = len, n = 0;
        decoded = malloc(cap + 1);
        if (decoded == NULL)
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        if (ferry_b64_decode(body + i, len - i, decoded, cap, &n) != FERRY_OK || n == 0 ||
            (decoded[0] != '{' && decoded[0] != '[')) {
            free(decoded);
            return ferry_error_set(
                err, FERRY_EPARSE,
                "the body is neither JSON nor base64-encoded JSON (nor MNS XML)");
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
    rc = parse_json(root, opts, out, 0, &did, err);
ids:
    if (rc == FERRY_OK)
        rc = stamp_ids(out, did, err);
out:
    if (rc != FERRY_OK)
        ferry_event_list_free(out);
    json_decref(root);
    free(decoded);
    free(did);
    return rc;
}
