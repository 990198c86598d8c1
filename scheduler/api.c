/* ferry scheduler — the HTTP API over libmicrohttpd (see api.h and docs/api.md).
 *
 * Threading: libmicrohttpd's internal thread pool, each thread with its own epoll loop
 * (MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD + MHD_OPTION_THREAD_POOL_SIZE). A request
 * is answered synchronously on the thread that read it, with a Redis connection from the
 * pool below; a slow client only ever holds a socket (libmicrohttpd buffers its bytes and
 * calls us once the request is complete), so it stalls nobody.
 */
#include "api.h"

#include "dashboard.h"
#include "intake.h"
#include "metrics.h"
#include "scale.h"

#include "ferry/stats.h"
#include "scan.h"

#include "ferry/buf.h"
#include "ferry/check.h"
#include "ferry/ledger.h"
#include "ferry/log.h"
#include "ferry/status.h"
#include "ferry/task.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX       64
#define PATH_LOG_MAX   256
#define LIST_LIMIT_MAX 10000
#define RETRY_KEYS_MAX 10000
#define METRICS_MAX    (16u * 1024 * 1024)
#define SAMPLES_MAX    100
#define DISCARD_FACTOR 8 /* an over-cap chunked body is read (and dropped) up to 8x the cap */

struct ferry_api_s {
    struct MHD_Daemon *d;
    char *redis_url;
    char *token;
    size_t token_len;
    int public_read;
    char *cert, *key;
    size_t max_body;
    int port;
    int quiesced;
    pthread_mutex_t mu;
    ferry_redis_t *pool[POOL_MAX];
    int npool;
    atomic_int inflight;
    /* GET /metrics is rendered at most once per METRICS_TTL_MS: scrapers arriving within it
     * get the same page (under mu). Rendering reads every task's counters and streams, ~8
     * Redis commands per task, which a read load would otherwise take from the copies. */
    char *mpage;
    size_t mlen;
    struct timespec mat;
    ferry_scale_cfg_t scale; /* GET /v1/scale's policy settings */
};

typedef struct req_s {
    ferry_api_route_t rt;
    int route_rc;
    ferry_buf_t body;
    size_t discarded;
    int too_big;
    int need_secret; /* authenticate by the task's event secret (?token=) */
    char *qtoken;    /* the ?token= value (secret: never logged) */
    unsigned status; /* the status we answered */
    char method[8];
    char path[PATH_LOG_MAX + 1];
    struct timespec t0;
} req_t;

static long long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- Redis connections: one per busy server thread ------------------------------------------ */

static ferry_redis_t *pool_get(ferry_api_t *a, ferry_error_t *err)
{
    ferry_redis_t *r = NULL;
    pthread_mutex_lock(&a->mu);
    if (a->npool > 0)
        r = a->pool[--a->npool];
    pthread_mutex_unlock(&a->mu);
    if (r)
        return r;
    /* Fail fast: a request waits at most about a second for an unreachable Redis. */
    ferry_redis_opts_t o = {
        .connect_timeout_ms = 1000, .command_timeout_ms = 10000, .retry_ms = 1000};
    if (ferry_redis_connect(a->redis_url, &o, &r, err) != FERRY_OK)
        return NULL;
    return r;
}

static void pool_put(ferry_api_t *a, ferry_redis_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    if (a->npool < POOL_MAX) {
        a->pool[a->npool++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&a->mu);
    ferry_redis_free(r);
}

/* ---- responses ------------------------------------------------------------------------------- */

/* Answer with body (malloc'd, taken). */
static enum MHD_Result reply(struct MHD_Connection *c, req_t *q, unsigned status, const char *ctype,
                             char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ferry\"");
    q->status = status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Answer with j (taken) as one line of JSON. */
static enum MHD_Result reply_json(struct MHD_Connection *c, req_t *q, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return reply(c, q, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                     strdup("{\"error\":\"out of memory\"}"), 25);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t) {
        t[n++] = '\n';
        t[n] = '\0';
        s = t;
    }
    return reply(c, q, status, "application/json", s, n);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, req_t *q, unsigned status,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result reply_error(struct MHD_Connection *c, req_t *q, unsigned status,
                                   const char *fmt, ...)
{
    char msg[FERRY_ERRMSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return reply_json(c, q, status, json_pack("{s:s}", "error", msg));
}

/* A failed library call: 404 for an unknown task or key, 503 when Redis failed. */
static enum MHD_Result reply_status_error(struct MHD_Connection *c, req_t *q, ferry_redis_t *r,
                                          int rc, const char *what)
{
    if (rc == FERRY_ENOTFOUND)
        return reply_error(c, q, MHD_HTTP_NOT_FOUND, "%s (see GET /v1/tasks)", what);
    if (rc == FERRY_ENOMEM)
        return reply_error(c, q, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    const ferry_error_t *e = ferry_redis_error(r);
    return reply_error(c, q, MHD_HTTP_SERVICE_UNAVAILABLE, "%s: %s; retry later", what,
                       e->msg[0] ? e->msg : ferry_strerror(rc));
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- the event secret ------------------------------------------------------------------------ */

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void secret_hash(const char *s, size_t n, char out[65])
{
    uint8_t h[32];
    ferry_sha256(s, n, h);
    hex(h, 32, out);
}

int ferry_api_secret_new(ferry_redis_t *r, const char *task, char *out, size_t n)
{
    ferry_error_t *err = (ferry_error_t *)ferry_redis_error(r);
    if (n < 65)
        return ferry_error_set(err, FERRY_EINVAL, "secret buffer too small");
    ferry_task_t t;
    int rc = ferry_task_get(r, task, &t);
    ferry_task_clear(&t);
    if (rc)
        return rc;
    uint8_t raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t k = getrandom(raw + got, sizeof(raw) - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return ferry_error_set(err, FERRY_EIO, "getrandom failed: %s", strerror(errno));
        got += (size_t)k;
    }
    char secret[65], h[65], key[128];
    hex(raw, sizeof(raw), secret);
    secret_hash(secret, 64, h);
    snprintf(key, sizeof(key), "ferry:{%s}:event_secret", task);
    redisReply *rep = NULL;
    if ((rc = ferry_redis_cmd(r, &rep, "SET %s %s", key, h)) != FERRY_OK)
        return rc;
    freeReplyObject(rep);
    memcpy(out, secret, 65);
    return FERRY_OK;
}

/* 1 when tok is task's event secret, 0 when not (or the task has none), -1 when Redis
 * failed (the error on r). */
static int secret_ok(ferry_redis_t *r, const char *task, const char *tok)
{
    char key[128], h[65];
    snprintf(key, sizeof(key), "ferry:{%s}:event_secret", task);
    redisReply *rep = NULL;
    if (ferry_redis_cmd(r, &rep, "GET %s", key) != FERRY_OK)
        return -1;
    int ok = 0;
    if (rep->type == REDIS_REPLY_STRING && rep->len == 64) {
        secret_hash(tok, strlen(tok), h);
        ok = ferry_api_token_eq(h, 64, rep->str, 64);
    }
    freeReplyObject(rep);
    return ok;
}

/* ---- routes ---------------------------------------------------------------------------------- */

static enum MHD_Result do_events(ferry_api_t *a, struct MHD_Connection *c, req_t *q,
                                 ferry_redis_t *r)
{
    (void)a;
    int ok = q->need_secret ? secret_ok(r, q->rt.task, q->qtoken) : 1;
    if (ok < 0)
        return reply_status_error(c, q, r, ferry_redis_error(r)->code, "cannot check the secret");
    if (ok == 0)
        return reply_error(c, q, MHD_HTTP_UNAUTHORIZED,
                           "wrong event secret in ?token= (make one with ferry task secret %s), "
                           "or send the API token as Authorization: Bearer",
                           q->rt.task);
    ferry_task_t t;
    ferry_task_init(&t);
    int rc = ferry_task_get(r, q->rt.task, &t);
    if (rc) {
        ferry_task_clear(&t);
        return reply_status_error(c, q, r, rc, "no such task");
    }
    ferry_error_t err;
    ferry_error_clear(&err);
    ferry_intake_result_t x;
    rc = ferry_intake_body(r, &t, ferry_buf_cstr(&q->body), q->body.len, 0, &x, &err);
    ferry_task_clear(&t);
    if (rc == FERRY_EPARSE)
        return reply_error(c, q, MHD_HTTP_BAD_REQUEST, "%s (nothing was queued)", err.msg);
    if (rc == FERRY_ETOOBIG)
        return reply_error(c, q, MHD_HTTP_CONTENT_TOO_LARGE, "%s (nothing was queued)", err.msg);
    if (rc)
        return reply_error(c, q, MHD_HTTP_SERVICE_UNAVAILABLE, "%s; send the event again",
                           err.msg[0] ? err.msg : ferry_strerror(rc));
    json_t *j =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "events", (json_int_t)x.events,
                  "queued", (json_int_t)x.queued, "ignored", (json_int_t)x.ignored, "duplicate",
                  (json_int_t)x.duplicate, "unchanged", (json_int_t)x.unchanged, "stale",
                  (json_int_t)x.stale, "ignored_by", "format", (json_int_t)x.ignored_format,
                  "outside_prefix", (json_int_t)x.outside_prefix, "deletes_off",
                  (json_int_t)x.deletes_off, "filtered", (json_int_t)x.filtered);
    if (j && x.sns_confirmation) /* recorded for the operator to confirm; never fetched */
        json_object_set_new(
            j, "sns_confirmation",
            json_pack("{s:s,s:s}", "topic", x.sns_topic, "subscribe_url", x.sns_subscribe_url));
    return reply_json(c, q, MHD_HTTP_ACCEPTED, j);
}

/* The JSON of GET /v1/tasks/NAME from a snapshot (ferry_stats_snapshots): the definition as
 * `ferry task show --json`, counters by state, backlog and streams, the live workers serving
 * the task, the newest scan report. FERRY_OK, FERRY_ENOTFOUND (no definition), FERRY_EPARSE
 * (a stored definition ferry cannot read), FERRY_ENOMEM. */
static int snapshot_json(const char *task, const ferry_task_snapshot_t *s,
                         const ferry_heartbeat_t *hb, size_t nhb, json_t **out)
{
    *out = NULL;
    if (s->definition == NULL)
        return FERRY_ENOTFOUND;
    json_t *def = json_loads(s->definition, 0, NULL);
    ferry_task_t t;
    ferry_task_init(&t);
    ferry_error_t err;
    int rc = def && ferry_task_from_json(def, &t, &err) == FERRY_OK ? FERRY_OK : FERRY_EPARSE;
    json_decref(def);
    json_t *j = rc ? NULL : ferry_task_to_json(&t);
    ferry_task_clear(&t);
    if (rc)
        return rc;
    if (j == NULL)
        return FERRY_ENOMEM;
    json_t *cnt = json_object(), *workers = json_array();
    long long total = 0;
    for (int st = 0; cnt && st < FERRY_STATE_COUNT; st++) {
        json_object_set_new(cnt, ferry_state_name(st),
                            json_pack("{s:I,s:I}", "objects", (json_int_t)s->c.objects[st], "bytes",
                                      (json_int_t)s->c.bytes[st]));
        total += s->c.objects[st];
    }
    for (size_t i = 0; workers && i < nhb; i++)
        if (ferry_heartbeat_serves(&hb[i], task))
            json_array_append_new(workers, ferry_heartbeat_to_json(&hb[i]));
    json_t *last = s->last_scan ? json_loads(s->last_scan, 0, NULL) : NULL;
    json_object_set_new(j, "objects", json_integer(total));
    json_object_set_new(j, "counters", cnt);
    json_object_set_new(j, "unverified", json_integer(s->c.unverified));
    json_object_set_new(j, "backlog",
                        json_pack("{s:I,s:I,s:I}", "event", (json_int_t)s->st[0].length, "bulk",
                                  (json_int_t)s->st[1].length, "dead", (json_int_t)s->dead));
    json_object_set_new(
        j, "streams",
        json_pack("{s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I},s:{s:I,s:I}}", "event", "length",
                  (json_int_t)s->st[0].length, "pending", (json_int_t)s->st[0].pending, "lag",
                  (json_int_t)s->st[0].lag, "bytes", (json_int_t)s->st[0].bytes, "bulk", "length",
                  (json_int_t)s->st[1].length, "pending", (json_int_t)s->st[1].pending, "lag",
                  (json_int_t)s->st[1].lag, "bytes", (json_int_t)s->st[1].bytes, "dead", "length",
                  (json_int_t)s->dead, "pending", (json_int_t)0));
    json_object_set_new(j, "workers", workers);
    json_object_set_new(j, "last_scan", last ? last : json_null());
    if (cnt == NULL || workers == NULL || json_object_get(j, "streams") == NULL) {
        json_decref(j);
        return FERRY_ENOMEM;
    }
    *out = j;
    return FERRY_OK;
}

/* Every task (or the one named), read in one pipelined round trip and one more for the
 * workers' heartbeats (ferry_stats_snapshots). */
static enum MHD_Result do_tasks(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    char **names = NULL, *one[1] = {q->rt.task};
    size_t n = 0, nhb = 0;
    int single = q->rt.id == FERRY_API_TASK;
    int rc = FERRY_OK;
    if (single) {
        names = one;
        n = 1;
    } else if ((rc = ferry_task_list(r, &names, &n)) != FERRY_OK)
        return reply_status_error(c, q, r, rc, "cannot list the tasks");
    ferry_task_snapshot_t *snap = calloc(n ? n : 1, sizeof(*snap));
    ferry_heartbeat_t *hb = NULL;
    json_t *arr = json_array(), *one_task = NULL;
    rc = snap && arr ? ferry_stats_snapshots(r, (const char *const *)names, n, snap, &hb, &nhb)
                     : FERRY_ENOMEM;
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        json_t *j = NULL;
        int k = snapshot_json(names[i], &snap[i], hb, nhb, &j);
        if (k == FERRY_OK && single)
            one_task = j;
        else if (k == FERRY_OK)
            json_array_append_new(arr, j);
        else if (k != FERRY_ENOTFOUND || single) /* a task removed meanwhile: skip it */
            rc = k;
    }
    for (size_t i = 0; snap && i < n; i++)
        ferry_stats_snapshot_clear(&snap[i]);
    free(snap);
    free(hb);
    if (!single) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    int desired = -1;
    size_t nlive = 0;
    if (rc == FERRY_OK && !single) { /* all workers: the policy's last answer, the live ones */
        int64_t at = 0;
        ferry_heartbeat_t *live = NULL;
        if ((rc = ferry_scale_last(r, NULL, &desired, &at)) == FERRY_OK)
            rc = ferry_stats_workers(r, NULL, &live, &nlive);
        free(live);
    }
    if (rc) {
        json_decref(arr);
        if (rc == FERRY_EPARSE)
            return reply_error(c, q, MHD_HTTP_SERVICE_UNAVAILABLE,
                               "a stored task definition cannot be read: see ferry task show");
        return reply_status_error(c, q, r, rc, single ? "no such task" : "cannot read the tasks");
    }
    if (single) {
        json_decref(arr);
        json_t *scans = NULL; /* the last few scan reports, newest first (the dashboard) */
        if ((rc = ferry_scan_history(r, q->rt.task, 5, &scans)) != FERRY_OK) {
            json_decref(one_task);
            return reply_status_error(c, q, r, rc, "cannot read the scan reports");
        }
        json_object_set_new(one_task, "scans", scans);
        return reply_json(c, q, MHD_HTTP_OK, one_task);
    }
    json_t *w = json_pack("{s:I,s:o}", "actual", (json_int_t)nlive, "desired",
                          desired >= 0 ? json_integer(desired) : json_null());
    return reply_json(c, q, MHD_HTTP_OK, json_pack("{s:o,s:o*}", "tasks", arr, "workers", w));
}

/* GET /v1/scale[?task=NAME]: the scaling policy's answer (scale.h), for KEDA and people. */
static enum MHD_Result do_scale(ferry_api_t *a, struct MHD_Connection *c, req_t *q,
                                ferry_redis_t *r)
{
    const char *task = arg(c, "task");
    if (task && !ferry_task_name_valid(task))
        return reply_error(c, q, MHD_HTTP_NOT_FOUND,
                           "no such task: ?task= wants a task name (ferry task ls)");
    ferry_scale_cfg_t cfg = a->scale;
    ferry_scale_in_t in;
    ferry_scale_out_t out;
    int rc = ferry_scale_eval(r, task && task[0] ? task : NULL, &cfg, &in, &out);
    if (rc)
        return reply_status_error(c, q, r, rc, "no such task");
    return reply_json(c, q, MHD_HTTP_OK,
                      ferry_scale_json(task && task[0] ? task : NULL, &cfg, &in, &out));
}

static enum MHD_Result do_object(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    json_t *j = NULL;
    if (q->rt.key[0] == '\0' || strlen(q->rt.key) > FERRY_KEY_MAX)
        return reply_error(c, q, MHD_HTTP_NOT_FOUND, "no such key (a key is 1..%d bytes)",
                           FERRY_KEY_MAX);
    int rc = ferry_status_object(r, q->rt.task, q->rt.key, &j);
    if (rc)
        return reply_status_error(c, q, r, rc, "no such task or key");
    return reply_json(c, q, MHD_HTTP_OK, j);
}

/* The common query of the list routes: prefix, cursor, limit. */
static int list_args(struct MHD_Connection *c, size_t dflt, const char **prefix,
                     const char **cursor, size_t *limit)
{
    *prefix = arg(c, "prefix");
    *cursor = arg(c, "cursor");
    if (*prefix == NULL)
        *prefix = "";
    if (*cursor == NULL)
        *cursor = "";
    if (strlen(*prefix) > FERRY_KEY_MAX || strlen(*cursor) > FERRY_KEY_MAX + 8)
        return FERRY_EINVAL;
    return ferry_api_parse_count(arg(c, "limit"), dflt, LIST_LIMIT_MAX, limit);
}

static enum MHD_Result do_objects(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    const char *prefix, *cursor, *st = arg(c, "state");
    size_t limit;
    if (list_args(c, 100, &prefix, &cursor, &limit))
        return reply_error(c, q, MHD_HTTP_BAD_REQUEST,
                           "limit must be 1..%d; prefix and cursor at most %d bytes",
                           LIST_LIMIT_MAX, FERRY_KEY_MAX);
    int state = -1;
    if (st && *st) {
        ferry_state_t s;
        if (ferry_state_parse(st, &s))
            return reply_error(c, q, MHD_HTTP_BAD_REQUEST,
                               "state must be one of queued, copying, done, failed, skipped, "
                               "deleted");
        state = (int)s;
    }
    json_t *arr = NULL;
    char next[FERRY_KEY_MAX + 16];
    int rc =
        ferry_status_list(r, q->rt.task, state, prefix, cursor, limit, &arr, next, sizeof(next));
    if (rc)
        return reply_status_error(c, q, r, rc, "no such task");
    return reply_json(c, q, MHD_HTTP_OK,
                      json_pack("{s:o,s:o}", "objects", arr, "next_cursor",
                                next[0] ? json_string(next) : json_null()));
}

static enum MHD_Result do_complete(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    const char *prefix = arg(c, "prefix");
    if (prefix && strlen(prefix) > FERRY_KEY_MAX)
        return reply_error(c, q, MHD_HTTP_BAD_REQUEST, "prefix at most %d bytes", FERRY_KEY_MAX);
    json_t *j = NULL;
    int rc = ferry_status_complete(r, q->rt.task, prefix ? prefix : "", &j);
    if (rc)
        return reply_status_error(c, q, r, rc, "no such task");
    return reply_json(c, q, MHD_HTTP_OK, j);
}

#define FAILURES_PAGE       1000    /* failed records read from Redis at a time */
#define FAILURES_BUDGET     100000  /* failed records examined by one request, by default */
#define FAILURES_BUDGET_MAX 1000000 /* … and at most (?limit=) */
#define FAILURES_GROUPS_MAX 1000    /* distinct error texts kept; others count as ungrouped */

typedef struct {
    char *error; /* owned */
    json_int_t count;
    json_t *keys;
} group_t;

typedef struct {
    group_t *v;
    size_t n;
    json_t *index;        /* error text -> position in v */
    json_int_t ungrouped; /* records whose text came after FAILURES_GROUPS_MAX others */
} groups_t;

static int group_cmp(const void *x, const void *y)
{
    const group_t *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->error, b->error);
}

static void groups_free(groups_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->v[i].error);
        json_decref(g->v[i].keys);
    }
    free(g->v);
    json_decref(g->index);
    memset(g, 0, sizeof(*g));
}

/* Count one failed record (rec) in its group. FERRY_OK or FERRY_ENOMEM. */
static int groups_add(groups_t *g, const json_t *rec, size_t samples)
{
    const char *e = json_string_value(json_object_get(rec, "error"));
    if (e == NULL)
        e = "";
    json_t *at = json_object_get(g->index, e);
    size_t k;
    if (at)
        k = (size_t)json_integer_value(at);
    else if (g->n >= FAILURES_GROUPS_MAX) {
        g->ungrouped++;
        return FERRY_OK;
    } else {
        k = g->n;
        g->v[k].error = strdup(e);
        g->v[k].keys = json_array();
        if (g->v[k].error == NULL || g->v[k].keys == NULL ||
            json_object_set_new(g->index, e, json_integer((json_int_t)k)) != 0) {
            free(g->v[k].error);
            json_decref(g->v[k].keys);
            return FERRY_ENOMEM;
        }
        g->n++;
    }
    g->v[k].count++;
    if (json_array_size(g->v[k].keys) < samples)
        json_array_append(g->v[k].keys, json_object_get(rec, "key"));
    return FERRY_OK;
}

/* Failed records grouped by their error text: pages of the failed index are read and merged
 * until every failed record under prefix was examined, or limit of them (then next_cursor
 * says where to go on, and the groups cover what was examined). */
static enum MHD_Result do_failures(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    const char *prefix, *cursor;
    size_t limit, samples;
    prefix = arg(c, "prefix");
    cursor = arg(c, "cursor");
    prefix = prefix ? prefix : "";
    cursor = cursor ? cursor : "";
    if (strlen(prefix) > FERRY_KEY_MAX || strlen(cursor) > FERRY_KEY_MAX + 8 ||
        ferry_api_parse_count(arg(c, "limit"), FAILURES_BUDGET, FAILURES_BUDGET_MAX, &limit) ||
        ferry_api_parse_count(arg(c, "samples"), 5, SAMPLES_MAX, &samples))
        return reply_error(c, q, MHD_HTTP_BAD_REQUEST,
                           "limit must be 1..%d, samples 1..%d; prefix and cursor at most %d "
                           "bytes",
                           FAILURES_BUDGET_MAX, SAMPLES_MAX, FERRY_KEY_MAX);
    groups_t g = {0};
    g.v = calloc(FAILURES_GROUPS_MAX, sizeof(*g.v));
    g.index = json_object();
    char cur[FERRY_KEY_MAX + 16], next[FERRY_KEY_MAX + 16];
    snprintf(cur, sizeof(cur), "%s", cursor);
    next[0] = '\0';
    size_t examined = 0;
    int rc = g.v && g.index ? FERRY_OK : FERRY_ENOMEM;
    while (rc == FERRY_OK && examined < limit) {
        json_t *arr = NULL;
        size_t want = limit - examined < FAILURES_PAGE ? limit - examined : FAILURES_PAGE;
        rc = ferry_status_list(r, q->rt.task, FERRY_STATE_FAILED, prefix, cur, want, &arr, next,
                               sizeof(next));
        for (size_t i = 0; rc == FERRY_OK && i < json_array_size(arr); i++)
            rc = groups_add(&g, json_array_get(arr, i), samples);
        examined += json_array_size(arr);
        json_decref(arr);
        if (next[0] == '\0')
            break;
        memcpy(cur, next, sizeof(cur));
    }
    if (rc) {
        groups_free(&g);
        return reply_status_error(c, q, r, rc, "no such task");
    }
    qsort(g.v, g.n, sizeof(*g.v), group_cmp);
    json_t *groups = json_array();
    for (size_t k = 0; groups && k < g.n; k++) {
        json_array_append_new(groups, json_pack("{s:s,s:I,s:O}", "error", g.v[k].error, "count",
                                                g.v[k].count, "keys", g.v[k].keys));
    }
    json_t *j =
        json_pack("{s:o,s:I,s:I,s:b,s:o}", "groups", groups, "examined", (json_int_t)examined,
                  "ungrouped", g.ungrouped, "complete", next[0] == '\0', "next_cursor",
                  next[0] ? json_string(next) : json_null());
    groups_free(&g);
    return reply_json(c, q, MHD_HTTP_OK, j);
}

/* Re-queue the failed records whose error text starts with prefix (e.g. "dst:403"), a page of
 * the failed index at a time (re-queued keys leave it; the cursor keeps our place). */
static int retry_by_error(ferry_redis_t *r, const char *task, const char *prefix,
                          long long *requeued)
{
    char cursor[FERRY_KEY_MAX + 16] = "", next[FERRY_KEY_MAX + 16];
    size_t plen = strlen(prefix);
    int rc;
    *requeued = 0;
    do {
        json_t *arr = NULL;
        rc = ferry_status_list(r, task, FERRY_STATE_FAILED, "", cursor, 1000, &arr, next,
                               sizeof(next));
        if (rc)
            break;
        size_t n = json_array_size(arr), m = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        if (keys == NULL) {
            json_decref(arr);
            return FERRY_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *rec = json_array_get(arr, i);
            const char *e = json_string_value(json_object_get(rec, "error"));
            const char *k = json_string_value(json_object_get(rec, "key"));
            if (e && k && k[0] && strncmp(e, prefix, plen) == 0) /* a record without a key:
                                                                     not ours to touch */
                keys[m++] = k;
        }
        long long k = 0;
        if (m)
            rc = ferry_status_retry(r, task, FERRY_STATE_FAILED, keys, m, &k, NULL);
        *requeued += k;
        free(keys);
        json_decref(arr);
        memcpy(cursor, next, sizeof(cursor));
    } while (rc == FERRY_OK && cursor[0]);
    return rc;
}

/* Body: empty or {} for every failed record, {"error": "TEXT"} for the failed records whose
 * error starts with TEXT, or {"keys": ["a", …]}. */
static enum MHD_Result do_retry(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    const char **keys = NULL;
    size_t n = 0;
    json_t *body = NULL;
    if (q->body.len) {
        json_error_t je;
        body = json_loadb(ferry_buf_cstr(&q->body), q->body.len, 0, &je);
        json_t *k = body ? json_object_get(body, "keys") : NULL;
        json_t *e = body ? json_object_get(body, "error") : NULL;
        if (body == NULL || !json_is_object(body) || (k && !json_is_array(k)) ||
            (e && (!json_is_string(e) || json_string_length(e) == 0 || k)))
            goto bad;
        if (e) {
            long long requeued = 0;
            int rc = retry_by_error(r, q->rt.task, json_string_value(e), &requeued);
            json_decref(body);
            if (rc)
                return reply_status_error(c, q, r, rc, "no such task");
            return reply_json(
                c, q, MHD_HTTP_OK,
                json_pack("{s:I,s:I}", "requeued", (json_int_t)requeued, "unknown", (json_int_t)0));
        }
        n = json_array_size(k);
        if (n > RETRY_KEYS_MAX)
            goto bad;
        keys = calloc(n ? n : 1, sizeof(*keys));
        if (keys == NULL) {
            json_decref(body);
            return reply_error(c, q, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            keys[i] = json_string_value(json_array_get(k, i));
            if (keys[i] == NULL || keys[i][0] == '\0' || strlen(keys[i]) > FERRY_KEY_MAX) {
                free(keys);
                goto bad;
            }
        }
    }
    long long requeued = 0, unknown = 0;
    int rc = ferry_status_retry(r, q->rt.task, FERRY_STATE_FAILED, keys, n, &requeued, &unknown);
    free(keys);
    json_decref(body);
    if (rc)
        return reply_status_error(c, q, r, rc, "no such task");
    return reply_json(
        c, q, MHD_HTTP_OK,
        json_pack("{s:I,s:I}", "requeued", (json_int_t)requeued, "unknown", (json_int_t)unknown));
bad:
    json_decref(body);
    return reply_error(c, q, MHD_HTTP_BAD_REQUEST,
                       "the body must be empty, {} (retry every failed record), "
                       "{\"error\": \"TEXT\"} (the failed records whose error starts with "
                       "TEXT) or {\"keys\": [\"KEY\", …]} with at most %d keys of 1..%d bytes",
                       RETRY_KEYS_MAX, FERRY_KEY_MAX);
}

/* The throughput series (ferry/stats.h): the hour before now, a point per 10 s. */
static enum MHD_Result do_throughput(struct MHD_Connection *c, req_t *q, ferry_redis_t *r)
{
    ferry_task_t t;
    ferry_task_init(&t);
    int rc = ferry_task_get(r, q->rt.task, &t);
    ferry_task_clear(&t);
    if (rc)
        return reply_status_error(c, q, r, rc, "no such task");
    int64_t now = (int64_t)time(NULL);
    ferry_tput_point_t *p = NULL;
    size_t n = 0;
    if ((rc = ferry_stats_throughput(r, q->rt.task, now, &p, &n)) != FERRY_OK)
        return reply_status_error(c, q, r, rc, "cannot read the throughput");
    json_t *pts = json_array();
    for (size_t i = 0; pts && i < n; i++)
        json_array_append_new(pts,
                              json_pack("{s:I,s:I,s:I}", "t", (json_int_t)p[i].t, "objects",
                                        (json_int_t)p[i].objects, "bytes", (json_int_t)p[i].bytes));
    free(p);
    return reply_json(c, q, MHD_HTTP_OK,
                      json_pack("{s:I,s:i,s:i,s:o}", "now", (json_int_t)now, "step",
                                FERRY_TPUT_STEP_S, "window", FERRY_TPUT_STEP_S * FERRY_TPUT_POINTS,
                                "points", pts ? pts : json_array()));
}

#define METRICS_TTL_MS 1000

/* A malloc'd copy of the page rendered less than METRICS_TTL_MS ago, or NULL. */
static char *metrics_cached(ferry_api_t *a, size_t *len)
{
    char *s = NULL;
    pthread_mutex_lock(&a->mu);
    if (a->mpage && ms_since(&a->mat) < METRICS_TTL_MS && (s = malloc(a->mlen + 1)) != NULL) {
        memcpy(s, a->mpage, a->mlen + 1);
        *len = a->mlen;
    }
    pthread_mutex_unlock(&a->mu);
    return s;
}

static void metrics_keep(ferry_api_t *a, const char *page, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return; /* not kept: the next request renders again */
    memcpy(copy, page, len);
    copy[len] = '\0';
    pthread_mutex_lock(&a->mu);
    free(a->mpage);
    a->mpage = copy;
    a->mlen = len;
    clock_gettime(CLOCK_MONOTONIC, &a->mat);
    pthread_mutex_unlock(&a->mu);
}

static enum MHD_Result do_metrics(ferry_api_t *a, struct MHD_Connection *c, req_t *q,
                                  ferry_redis_t *r)
{
    size_t clen = 0;
    char *cached = metrics_cached(a, &clen);
    if (cached)
        return reply(c, q, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", cached, clen);
    ferry_buf_t out;
    ferry_buf_init(&out, METRICS_MAX);
    ferry_error_t err;
    ferry_error_clear(&err);
    int rc = ferry_metrics_render(r, &out, &err);
    if (rc) {
        ferry_buf_free(&out);
        return reply_error(c, q, MHD_HTTP_SERVICE_UNAVAILABLE, "metrics: %s",
                           err.msg[0] ? err.msg : ferry_strerror(rc));
    }
    size_t len = 0;
    char *s = ferry_buf_steal(&out, &len);
    if (s)
        metrics_keep(a, s, len);
    return reply(c, q, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", s, len);
}

static enum MHD_Result dispatch(ferry_api_t *a, struct MHD_Connection *c, req_t *q)
{
    if (q->rt.id == FERRY_API_HEALTHZ)
        return reply_json(c, q, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    if (q->rt.id == FERRY_API_DASHBOARD) /* static, from the binary: no Redis */
        return (enum MHD_Result)ferry_dashboard_serve(c, q->rt.key, &q->status);
    ferry_error_t err;
    ferry_error_clear(&err);
    ferry_redis_t *r = pool_get(a, &err);
    if (r == NULL) {
        if (q->rt.id == FERRY_API_READYZ)
            return reply_json(c, q, MHD_HTTP_SERVICE_UNAVAILABLE,
                              json_pack("{s:s,s:s}", "status", "unready", "error", err.msg));
        return reply_error(c, q, MHD_HTTP_SERVICE_UNAVAILABLE, "%s; retry later", err.msg);
    }
    enum MHD_Result ret;
    switch (q->rt.id) {
    case FERRY_API_READYZ: {
        redisReply *rep = NULL;
        if (ferry_redis_cmd(r, &rep, "PING") == FERRY_OK) {
            freeReplyObject(rep);
            ret = reply_json(c, q, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
        } else
            ret = reply_json(
                c, q, MHD_HTTP_SERVICE_UNAVAILABLE,
                json_pack("{s:s,s:s}", "status", "unready", "error", ferry_redis_error(r)->msg));
        break;
    }
    case FERRY_API_METRICS:
        ret = do_metrics(a, c, q, r);
        break;
    case FERRY_API_TASKS:
        ret = do_tasks(c, q, r);
        break;
    case FERRY_API_TASK:
        ret = do_tasks(c, q, r);
        break;
    case FERRY_API_OBJECT:
        ret = do_object(c, q, r);
        break;
    case FERRY_API_OBJECTS:
        ret = do_objects(c, q, r);
        break;
    case FERRY_API_COMPLETE:
        ret = do_complete(c, q, r);
        break;
    case FERRY_API_FAILURES:
        ret = do_failures(c, q, r);
        break;
    case FERRY_API_EVENTS:
        ret = do_events(a, c, q, r);
        break;
    case FERRY_API_RETRY:
        ret = do_retry(c, q, r);
        break;
    case FERRY_API_THROUGHPUT:
        ret = do_throughput(c, q, r);
        break;
    case FERRY_API_SCALE:
        ret = do_scale(a, c, q, r);
        break;
    default:
        ret = reply_error(c, q, MHD_HTTP_NOT_FOUND, "no such route");
    }
    /* After a failure the connection may hold unread replies of a pipeline: drop it. */
    if (q->status >= 500)
        ferry_redis_free(r);
    else
        pool_put(a, r);
    return ret;
}

/* ---- the request cycle ----------------------------------------------------------------------- */

/* 1 when the request carries the API token (Bearer, or the EventBridge header). */
static int has_token(ferry_api_t *a, struct MHD_Connection *c)
{
    if (a->token == NULL)
        return 0;
    const char *tok = NULL;
    size_t len = 0;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && ferry_api_bearer(h, &tok, &len) == FERRY_OK &&
        ferry_api_token_eq(tok, len, a->token, a->token_len))
        return 1;
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-eventbridge-signature-token");
    if (h && strlen(h) <= FERRY_API_TOKEN_MAX &&
        ferry_api_token_eq(h, strlen(h), a->token, a->token_len))
        return 1;
    return 0;
}

/* The first call for a request: route, authenticate, check the announced size. Returns 0 to
 * go on reading, or 1 when a response was queued (*ret says how). */
static int first_call(ferry_api_t *a, struct MHD_Connection *c, req_t *q, enum MHD_Result *ret)
{
    q->route_rc = ferry_api_route(q->method, q->path[0] ? q->path : "/", &q->rt);
    if (q->route_rc == FERRY_ENOTFOUND) {
        *ret = reply_error(c, q, MHD_HTTP_NOT_FOUND,
                           "no such route (see docs/api.md: /v1/tasks, /healthz, /readyz, "
                           "/metrics; the dashboard is at /)");
        return 1;
    }
    if (q->route_rc) {
        *ret = reply_error(c, q, MHD_HTTP_METHOD_NOT_ALLOWED, "use %s for this route",
                           q->rt.write ? "POST" : "GET");
        return 1;
    }
    const char *qtok = arg(c, "token");
    int tok = has_token(a, c);
    if (qtok && q->rt.id != FERRY_API_EVENTS) {
        *ret = reply_error(c, q, MHD_HTTP_UNAUTHORIZED,
                           "?token= is accepted by POST /v1/tasks/NAME/events only; send the "
                           "API token as Authorization: Bearer TOKEN");
        return 1;
    }
    int open = q->rt.id == FERRY_API_HEALTHZ || q->rt.id == FERRY_API_READYZ ||
               q->rt.id == FERRY_API_DASHBOARD || (!q->rt.write && a->public_read);
    if (!open && !tok) {
        if (qtok && qtok[0] && strlen(qtok) <= FERRY_API_TOKEN_MAX &&
            (q->qtoken = strdup(qtok)) != NULL)
            q->need_secret = 1; /* checked against the task's secret once Redis is at hand */
        else {
            *ret = reply_error(c, q, MHD_HTTP_UNAUTHORIZED,
                               "missing or wrong API token: send Authorization: Bearer TOKEN "
                               "(the server's FERRY_API_TOKEN or --api-token-file)");
            return 1;
        }
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *e;
        errno = 0;
        unsigned long long v = strtoull(cl, &e, 10);
        if (errno || e == cl || v > a->max_body) {
            *ret = reply_error(c, q, MHD_HTTP_CONTENT_TOO_LARGE,
                               "the body is larger than %zu bytes (nothing was queued); split "
                               "the batch",
                               a->max_body);
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    ferry_api_t *a = cls;
    req_t *q = *con_cls;
    (void)version;
    if (q == NULL) {
        q = calloc(1, sizeof(*q));
        if (q == NULL)
            return MHD_NO;
        *con_cls = q;
        atomic_fetch_add(&a->inflight, 1);
        clock_gettime(CLOCK_MONOTONIC, &q->t0);
        snprintf(q->method, sizeof(q->method), "%s", method ? method : "");
        snprintf(q->path, sizeof(q->path), "%s", url ? url : "");
        ferry_buf_init(&q->body, a->max_body);
        enum MHD_Result ret = MHD_YES;
        if (first_call(a, c, q, &ret))
            return ret;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!q->too_big && ferry_buf_add(&q->body, upload, *upload_size) != FERRY_OK) {
            q->too_big = 1;
            ferry_buf_free(&q->body);
        }
        if (q->too_big) {
            q->discarded += *upload_size;
            if (q->discarded > DISCARD_FACTOR * a->max_body)
                return MHD_NO; /* a sender that does not stop: close the connection */
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->status)
        return MHD_YES; /* already answered */
    if (q->too_big)
        return reply_error(c, q, MHD_HTTP_CONTENT_TOO_LARGE,
                           "the body is larger than %zu bytes (nothing was queued); split the "
                           "batch",
                           a->max_body);
    return dispatch(a, c, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ferry_api_t *a = cls;
    req_t *q = *con_cls;
    (void)c;
    if (q == NULL)
        return;
    *con_cls = NULL;
    char status[16], ms[24], in[24];
    snprintf(status, sizeof(status), "%u", q->status);
    snprintf(ms, sizeof(ms), "%lld", ms_since(&q->t0));
    snprintf(in, sizeof(in), "%zu", q->body.len + q->discarded);
    ferry_log_level_t lv = FERRY_LOG_DEBUG;
    if (q->status >= 500 || q->status == 0 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        lv = FERRY_LOG_WARN;
    else if (q->status >= 400)
        lv = FERRY_LOG_INFO;
    /* The path only: the query string (which may hold an event secret) is never logged. */
    if (ferry_log_enabled(lv))
        ferry_log(lv, "api.request", "method", q->method, "path", q->path, "status", status, "ms",
                  ms, "bytes_in", in, "completed",
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "yes" : "no", NULL);
    ferry_buf_free(&q->body);
    if (q->qtoken) {
        memset(q->qtoken, 0, strlen(q->qtoken));
        free(q->qtoken);
    }
    free(q);
    atomic_fetch_sub(&a->inflight, 1);
}

/* ---- start and stop -------------------------------------------------------------------------- */

int ferry_api_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, int *v6, ferry_error_t *err)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0' || (size_t)(colon - s) >= sizeof(host))
        return ferry_error_set(err, FERRY_EINVAL,
                               "--listen \"%s\" is not HOST:PORT (e.g. 127.0.0.1:8470, "
                               "[::1]:8470, 0.0.0.0:8470)",
                               s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']')
            return ferry_error_set(err, FERRY_EINVAL, "--listen \"%s\": unbalanced [ ]", s);
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    char *e;
    long port = strtol(colon + 1, &e, 10);
    if (*e || port < 0 || port > 65535)
        return ferry_error_set(err, FERRY_EINVAL, "--listen \"%s\": the port must be 0..65535", s);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g || res == NULL)
        return ferry_error_set(err, FERRY_EINVAL, "--listen \"%s\": cannot resolve %s: %s", s, host,
                               gai_strerror(g));
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return FERRY_OK;
}

int ferry_api_start(const ferry_api_opts_t *o, ferry_api_t **out, ferry_error_t *err)
{
    *out = NULL;
    int rc = FERRY_OK;
    const char *listen = o->listen && o->listen[0] ? o->listen : FERRY_API_DEFAULT_LISTEN;
    struct sockaddr_storage ss;
    int v6 = 0;
    if ((rc = parse_listen(listen, &ss, &v6, err)) != FERRY_OK)
        return rc;
    int tls = (o->tls_cert_pem != NULL) + (o->tls_key_pem != NULL);
    if (tls == 1)
        return ferry_error_set(err, FERRY_EINVAL,
                               "TLS needs both --tls-cert and --tls-key (PEM files)");
    if (tls && !ferry_api_tls_supported())
        return ferry_error_set(err, FERRY_EUNSUPPORTED,
                               "this libmicrohttpd was built without TLS: drop --tls-cert and "
                               "--tls-key and put a TLS ingress (nginx, a load balancer) in front");
    ferry_api_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    a->redis_url = strdup(o->redis_url ? o->redis_url : "");
    a->public_read = o->public_read;
    if (o->scale)
        a->scale = *o->scale;
    if (a->scale.max <= 0)
        a->scale.max = FERRY_SCALE_DEFAULT_MAX;
    a->max_body = o->max_body ? o->max_body : FERRY_EVENTS_MAX_BODY;
    if (o->token && o->token[0]) {
        a->token = strdup(o->token);
        a->token_len = strlen(o->token);
    }
    if (tls) {
        a->cert = strdup(o->tls_cert_pem);
        a->key = strdup(o->tls_key_pem);
    }
    if (a->redis_url == NULL || (o->token && o->token[0] && a->token == NULL) ||
        (tls && (a->cert == NULL || a->key == NULL))) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    unsigned limit = o->conn_limit ? o->conn_limit : 4096;
    /* A connection is a descriptor: raise the soft limit (often 1024) toward the hard one so
     * the connection cap, not EMFILE, is what a flood meets. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)limit + 256) {
        rlim_t want = (rlim_t)limit + 256;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned threads = o->threads ? o->threads : 4;
    if (threads > POOL_MAX)
        threads = POOL_MAX;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)(o->timeout_s ? o->timeout_s : 15), NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(o->max_header ? o->max_header : 16 * 1024),
         NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, a},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, tls ? a->cert : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls ? a->key : NULL},
        {MHD_OPTION_END, 0, NULL}};
    if (!tls) /* end the list before the TLS options */
        opts[7].option = MHD_OPTION_END;
    int port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    a->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, a, MHD_OPTION_ARRAY,
                            opts, MHD_OPTION_END);
    if (a->d == NULL) {
        rc = ferry_error_set(err, FERRY_ENET,
                             "cannot serve the API on %s (address in use, not local, or a bad "
                             "TLS certificate/key): pass another --listen ADDR, or --listen off",
                             listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = di ? di->port : port;
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", a->port);
    ferry_log(FERRY_LOG_INFO, "api.listen", "listen", listen, "port", portbuf, "tls",
              tls ? "yes" : "no", "auth", a->token ? "token" : "none (only event secrets)",
              "public_read", a->public_read ? "yes" : "no", NULL);
    *out = a;
    return FERRY_OK;
fail:
    ferry_api_stop(a, 0);
    return rc;
}

int ferry_api_port(const ferry_api_t *a)
{
    return a ? a->port : 0;
}

void ferry_api_quiesce(ferry_api_t *a)
{
    if (a == NULL || a->d == NULL || a->quiesced)
        return;
    a->quiesced = 1;
    MHD_socket s = MHD_quiesce_daemon(a->d);
    if (s != MHD_INVALID_SOCKET)
        close(s);
}

void ferry_api_stop(ferry_api_t *a, int grace_ms)
{
    if (a == NULL)
        return;
    if (a->d) {
        ferry_api_quiesce(a);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (atomic_load(&a->inflight) > 0 && ms_since(&t0) < grace_ms) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(a->d);
    }
    for (int i = 0; i < a->npool; i++)
        ferry_redis_free(a->pool[i]);
    pthread_mutex_destroy(&a->mu);
    free(a->mpage);
    free(a->redis_url);
    if (a->token) {
        memset(a->token, 0, a->token_len);
        free(a->token);
    }
    free(a->cert);
    if (a->key) {
        memset(a->key, 0, strlen(a->key));
        free(a->key);
    }
    free(a);
}
