/* ferry scheduler — event intake (see intake.h). */
#include "intake.h"

#include "ferry/clock.h"
#include "ferry/stats.h"

#include "ferry/check.h"
#include "ferry/limits.h"
#include "ferry/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_   FERRY_TASK_NAME_MAX /* ferry_task_t.name */
#define DLV_KEY_MAX (NAME_MAX_ + 48)

/* The window in seconds: FERRY_EVENT_DEDUP_SECONDS when it is a number of 1 s .. 30 days. */
static long long dedup_window_s(void)
{
    const char *s = getenv("FERRY_EVENT_DEDUP_SECONDS");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 30LL * 86400)
            return v;
    }
    return FERRY_INTAKE_DEDUP_S;
}

/* "ferry:{task}:dlv:" + 32 hex digits of SHA-256(id): fixed size whatever the id. */
static void dlv_key(const char *task, const char *id, char *buf, size_t n)
{
    uint8_t h[32];
    char hex[33];
    static const char digits[] = "0123456789abcdef";
    ferry_sha256(id, strlen(id), h);
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[32] = '\0';
    snprintf(buf, n, "ferry:{%s}:dlv:%s", task, hex);
}

static void sns_key(const char *task, char *buf, size_t n)
{
    snprintf(buf, n, "ferry:{%s}:sns-confirm", task);
}

/* The distinct delivery ids of the list, as Redis keys: ids[i] is the index in keys of event
 * i's id, or -1. keys is an array of nkeys strings (each DLV_KEY_MAX bytes, one block). */
typedef struct dedup_s {
    char *block;
    const char **keys;
    const char **ids; /* the id each key came from (borrowed from the list) */
    int *of_event;
    size_t nkeys;
} dedup_t;

static void dedup_free(dedup_t *d)
{
    free(d->block);
    free(d->keys);
    free(d->ids);
    free(d->of_event);
    memset(d, 0, sizeof(*d));
}

static int dedup_collect(const char *task, const ferry_event_list_t *l, dedup_t *d)
{
    size_t n = l->n ? l->n : 1;
    memset(d, 0, sizeof(*d));
    d->block = malloc(n * DLV_KEY_MAX);
    d->keys = calloc(n, sizeof(*d->keys));
    d->ids = calloc(n, sizeof(*d->ids));
    d->of_event = calloc(n, sizeof(*d->of_event));
    if (!d->block || !d->keys || !d->ids || !d->of_event) {
        dedup_free(d);
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *id = l->v[i].delivery;
        d->of_event[i] = -1;
        if (id == NULL)
            continue;
        /* a body carries one id (or one per S3 record): a linear search is enough */
        size_t k = 0;
        while (k < d->nkeys && strcmp(d->ids[k], id) != 0)
            k++;
        if (k == d->nkeys) {
            char *key = d->block + k * DLV_KEY_MAX;
            dlv_key(task, id, key, DLV_KEY_MAX);
            d->keys[k] = key;
            d->ids[k] = id;
            d->nkeys++;
        }
        d->of_event[i] = (int)k;
    }
    return FERRY_OK;
}

/* seen[k] = 1 when key k exists. One MGET (the keys share the task's hash slot). */
static int dedup_seen(ferry_redis_t *r, const dedup_t *d, char *seen)
{
    const char **argv = calloc(d->nkeys + 1, sizeof(*argv));
    redisReply *rep = NULL;
    if (argv == NULL)
        return FERRY_ENOMEM;
    argv[0] = "MGET";
    memcpy(argv + 1, d->keys, d->nkeys * sizeof(*argv));
    int rc = ferry_redis_argv(r, (int)d->nkeys + 1, argv, NULL, &rep);
    free(argv);
    if (rc)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != d->nkeys) {
        freeReplyObject(rep);
        return FERRY_EREDIS;
    }
    for (size_t k = 0; k < d->nkeys; k++)
        seen[k] = rep->element[k]->type != REDIS_REPLY_NIL;
    freeReplyObject(rep);
    return FERRY_OK;
}

/* Remember the ids not seen before (SET NX EX, pipelined). */
static int dedup_mark(ferry_redis_t *r, const dedup_t *d, const char *seen)
{
    char ex[24];
    size_t sent = 0;
    int rc = FERRY_OK;
    snprintf(ex, sizeof(ex), "%lld", dedup_window_s());
    for (size_t k = 0; k < d->nkeys; k++) {
        if (seen[k])
            continue;
        const char *argv[] = {"SET", d->keys[k], "1", "NX", "EX", ex};
        if ((rc = ferry_redis_append(r, 6, argv, NULL)) != FERRY_OK)
            break;
        sent++;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep = NULL;
        int rr = ferry_redis_read(r, &rep);
        if (rr) {
            rc = rr;
            break;
        }
        if (rep->type == REDIS_REPLY_ERROR)
            rc = FERRY_EREDIS;
        freeReplyObject(rep);
    }
    if (rc == FERRY_ENET)
        ferry_redis_reset(r);
    return rc;
}

static int record_sns(ferry_redis_t *r, const ferry_task_t *t, const ferry_sns_confirm_t *c,
                      int64_t now_ms, ferry_intake_result_t *res, ferry_error_t *err)
{
    char key[NAME_MAX_ + 32], ttl[24];
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "topic", c->topic_arn, "subscribe_url",
                          c->subscribe_url, "message_id", c->message_id, "received_ms",
                          (json_int_t)now_ms, "time_ms", (json_int_t)c->time_ms);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    sns_key(t->name, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%d", FERRY_INTAKE_SNS_TTL_S);
    const char *argv[] = {"SET", key, s, "EX", ttl};
    redisReply *rep = NULL;
    int rc = ferry_redis_argv(r, 5, argv, NULL, &rep);
    free(s);
    freeReplyObject(rep);
    if (rc)
        return ferry_error_set(err, rc,
                               "recording the SNS subscription confirmation of task %s: %s",
                               t->name, ferry_redis_error(r)->msg);
    res->sns_confirmation = 1;
    snprintf(res->sns_topic, sizeof(res->sns_topic), "%s", c->topic_arn);
    snprintf(res->sns_subscribe_url, sizeof(res->sns_subscribe_url), "%s", c->subscribe_url);
    /* the URL carries the subscription token: not logged */
    ferry_log(FERRY_LOG_WARN, "intake.sns_confirmation", "task", t->name, "topic", c->topic_arn,
              "hint", "open the SubscribeURL shown by `ferry task show` to confirm", NULL);
    return FERRY_OK;
}

int ferry_intake_sns_pending(ferry_redis_t *r, const char *name, json_t **out, ferry_error_t *err)
{
    char key[NAME_MAX_ + 32];
    redisReply *rep = NULL;
    *out = NULL;
    if (!ferry_task_name_valid(name))
        return ferry_error_set(err, FERRY_EINVAL, "\"%.64s\" is not a task name", name);
    sns_key(name, key, sizeof(key));
    const char *argv[] = {"GET", key};
    int rc = ferry_redis_argv(r, 2, argv, NULL, &rep);
    if (rc)
        return ferry_error_set(err, rc, "reading the SNS confirmation of task %s: %s", name,
                               ferry_redis_error(r)->msg);
    if (rep->type == REDIS_REPLY_STRING) {
        json_t *j = json_loadb(rep->str, rep->len, 0, NULL);
        if (json_is_object(j))
            *out = j;
        else
            json_decref(j); /* not ours: as if none */
    }
    freeReplyObject(rep);
    return FERRY_OK;
}

/* The channel that delivered a parsed body, for ferry_events_received_total: the outermost
 * envelope's delivery id says it when there is one (ce: EventBridge/CloudEvents, mns:, sns:,
 * kodo:), else the format (an OSS body without one came from a Function Compute trigger, a
 * COS one from an SCF trigger). */
static const char *channel_of(const ferry_event_list_t *evs, const char *body, size_t len)
{
    if (evs->sns)
        return "sns";
    if (evs->n == 0)
        return "other";
    size_t i0 = 0;
    while (i0 < len &&
           (body[i0] == ' ' || body[i0] == '\t' || body[i0] == '\r' || body[i0] == '\n'))
        i0++;
    if (i0 < len && body[i0] != '{' && body[i0] != '[' && body[i0] != '<')
        return "mns"; /* base64: only MNS (SIMPLIFIED) delivers that */
    const ferry_event_t *e = &evs->v[0];
    static const struct {
        const char *prefix, *channel;
    } ids[] = {{"ce:", "eventbridge"}, {"mns:", "mns"}, {"sns:", "sns"}, {"kodo:", "kodo"}};
    for (size_t i = 0; e->delivery && i < sizeof(ids) / sizeof(ids[0]); i++)
        if (strncmp(e->delivery, ids[i].prefix, strlen(ids[i].prefix)) == 0)
            return ids[i].channel;
    static const struct {
        const char *format, *channel;
    } fmts[] = {{"oss", "fc"},
                {"cos", "scf"},
                {"s3-sns", "sns"},
                {"s3", "s3"},
                {"eventbridge", "eventbridge"},
                {"kodo", "kodo"},
                {"plain", "plain"}};
    for (size_t i = 0; e->format && i < sizeof(fmts) / sizeof(fmts[0]); i++)
        if (strcmp(e->format, fmts[i].format) == 0)
            return fmts[i].channel;
    return "other";
}

/* ferry_events_received_total: what the intake did with a body. A failure to count is logged,
 * never returned: metrics never fail an intake. */
static void count_events(ferry_redis_t *r, const ferry_task_t *t, const ferry_event_list_t *evs,
                         const char *body, size_t len, const char *via, int rc,
                         const ferry_intake_result_t *res)
{
    const char *fmt = evs->n ? evs->v[0].format : "other";
    const char *channel = via ? via : channel_of(evs, body, len);
    struct {
        const char *result;
        long long n;
    } c[4] = {{"rejected", rc == FERRY_EPARSE || rc == FERRY_ETOOBIG ? 1 : 0},
              {"queued", rc ? 0 : (long long)res->queued},
              {"ignored", rc ? 0 : (long long)(res->ignored + res->stale)},
              {"duplicate", rc ? 0 : (long long)(res->duplicate + res->unchanged)}};
    for (int i = 0; i < 4; i++)
        if (c[i].n > 0 &&
            ferry_stats_event(r, t->name, fmt, channel, c[i].result, c[i].n) != FERRY_OK) {
            ferry_log(FERRY_LOG_WARN, "intake.count_failed", "task", t->name, "error",
                      ferry_redis_error(r)->msg, NULL);
            break;
        }
}

int ferry_intake_body(ferry_redis_t *r, const ferry_task_t *t, const char *body, size_t len,
                      int64_t now_ms, ferry_intake_result_t *res, ferry_error_t *err)
{
    return ferry_intake_body_via(r, t, body, len, now_ms, NULL, res, err);
}

int ferry_intake_body_via(ferry_redis_t *r, const ferry_task_t *t, const char *body, size_t len,
                          int64_t now_ms, const char *via, ferry_intake_result_t *res,
                          ferry_error_t *err)
{
    ferry_event_list_t evs = {0};
    ferry_ledger_t *led = NULL;
    ferry_item_t *items = NULL;
    int *results = NULL;
    char *seen = NULL;
    dedup_t dd = {0};
    memset(res, 0, sizeof(*res));
    const ferry_location_t *src = &t->src.parsed;
    if (now_ms <= 0)
        now_ms = ferry_wall_ms();

    /* The whole body is parsed and bounded (and its bucket checked against the task's source
     * bucket) before anything is queued. */
    ferry_events_opts_t eo;
    ferry_events_opts_default(&eo);
    eo.bucket = src->bucket;
    int rc = ferry_events_parse(body, len, &eo, &evs, err);
    if (rc)
        goto out;
    if (evs.sns) {
        rc = record_sns(r, t, evs.sns, now_ms, res, err);
        goto out;
    }
    if ((rc = ferry_ledger_open_sharded(r, t->name, t->ledger_buckets, t->ledger_shards, &led)) !=
        FERRY_OK) {
        ferry_error_set(err, rc, "cannot open the ledger of task %s: %s", t->name,
                        ferry_redis_error(r)->msg);
        goto out;
    }
    items = calloc(evs.n ? evs.n : 1, sizeof(*items));
    results = calloc(evs.n ? evs.n : 1, sizeof(*results));
    seen = calloc(evs.n ? evs.n : 1, 1);
    if (items == NULL || results == NULL || seen == NULL ||
        dedup_collect(t->name, &evs, &dd) != FERRY_OK) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    if (dd.nkeys && (rc = dedup_seen(r, &dd, seen)) != FERRY_OK) {
        ferry_error_set(err, rc, "checking the delivery ids of task %s: %s", t->name,
                        ferry_redis_error(r)->msg);
        goto out;
    }
    /* A plain {"key"} event has no version: mtime 0, "worth a look"; the worker HEADs the
     * source. */
    size_t n = 0;
    size_t plen = strlen(src->prefix);
    for (size_t i = 0; i < evs.n; i++) {
        const ferry_event_t *e = &evs.v[i];
        if (dd.of_event[i] >= 0 && seen[dd.of_event[i]]) {
            res->duplicate++;
            continue;
        }
        if (plen && strncmp(e->key, src->prefix, plen) != 0) {
            res->outside_prefix++;
            continue;
        }
        if (e->op == FERRY_EVENT_DELETE && !t->delete_) {
            res->deletes_off++;
            continue;
        }
        if (!ferry_task_glob_ok(t, e->key + plen) ||
            (e->op == FERRY_EVENT_CREATE && e->size >= 0 &&
             !ferry_filter_size_age_ok(t->min_size, t->max_size, t->min_age_ms, t->max_age_ms,
                                       now_ms, (uint64_t)e->size, e->time_ms))) {
            res->filtered++;
            continue;
        }
        ferry_item_t *it = &items[n++];
        it->key = e->key;
        it->size = e->size > 0 ? (uint64_t)e->size : 0;
        it->mtime = e->time_ms / 1000;
        it->etag = e->etag;
        it->seq = e->sequencer;
        it->origin = FERRY_ORIGIN_EVENT;
        it->op_delete = e->op == FERRY_EVENT_DELETE;
    }
    if (n && (rc = ferry_ledger_enqueue(led, FERRY_QUEUE_EVENT, items, n, results)) != FERRY_OK) {
        ferry_error_set(err, rc, "queueing the events of task %s: %s", t->name,
                        ferry_redis_error(r)->msg);
        goto out;
    }
    /* Only now, with the jobs in Redis, are the ids remembered. A failure here is logged: the
     * jobs are queued, and a redelivery is then only an `unchanged` re-queue. */
    if (dd.nkeys && dedup_mark(r, &dd, seen) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "intake.dedup_mark_failed", "task", t->name, "error",
                  ferry_redis_error(r)->msg, NULL);
    for (size_t i = 0; i < n; i++) {
        res->queued += results[i] == FERRY_ENQ_QUEUED;
        res->stale += results[i] == FERRY_ENQ_STALE;
    }
    res->events = evs.n;
    res->unchanged = n - res->queued - res->stale;
    res->ignored_format = evs.ignored;
    res->ignored = evs.ignored + res->outside_prefix + res->deletes_off + res->filtered;
out:
    if (rc != FERRY_OK)
        memset(res, 0, sizeof(*res));
    count_events(r, t, &evs, body, len, via, rc, res);
    free(items);
    free(results);
    free(seen);
    dedup_free(&dd);
    ferry_ledger_free(led);
    ferry_event_list_free(&evs);
    return rc;
}
