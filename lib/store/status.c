/* ferry — status queries (CLI and HTTP API). See ferry/status.h. */
#include "ferry/clock.h"
#include "ferry/status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/queue.h"
#include "ferry/task.h"

static ferry_error_t *E(ferry_redis_t *r)
{
    return (ferry_error_t *)ferry_redis_error(r);
}

int ferry_status_ledger(ferry_redis_t *r, const char *task, ferry_ledger_t **out)
{
    ferry_task_t t;
    int rc = ferry_task_get(r, task, &t);
    uint32_t buckets = t.ledger_buckets, shards = t.ledger_shards;
    ferry_task_clear(&t);
    if (rc)
        return rc;
    return ferry_ledger_open_sharded(r, task, buckets, shards, out);
}

int ferry_status_ledger_any(ferry_redis_t *r, const char *task, ferry_ledger_t **out)
{
    int rc = ferry_status_ledger(r, task, out);
    if (rc == FERRY_ENOTFOUND)
        rc = ferry_ledger_open(r, task, 0, out);
    return rc;
}

int ferry_status_object(ferry_redis_t *r, const char *task, const char *key, json_t **out)
{
    *out = NULL;
    ferry_ledger_t *l = NULL;
    int rc = ferry_status_ledger(r, task, &l);
    if (rc)
        return rc;
    ferry_record_t *rec = malloc(sizeof(*rec));
    if (rec == NULL) {
        ferry_ledger_free(l);
        return FERRY_ENOMEM;
    }
    rc = ferry_ledger_get(l, key, rec);
    if (rc == FERRY_ENOTFOUND)
        ferry_error_set(E(r), rc, "task %s has no record of %s", task, key);
    else if (rc == FERRY_OK && (*out = ferry_record_to_json(task, rec)) == NULL)
        rc = FERRY_ENOMEM;
    free(rec);
    ferry_ledger_free(l);
    return rc;
}

typedef struct {
    const char *task;
    json_t *arr;
    int unverified_only;
} list_ctx_t;

static int list_cb(void *ud, const ferry_record_t *rec)
{
    list_ctx_t *c = ud;
    if (c->unverified_only && !ferry_checks_unverified(rec->checks))
        return 0;
    json_t *j = ferry_record_to_json(c->task, rec);
    return j ? json_array_append_new(c->arr, j) : -1;
}

static int status_list(ferry_redis_t *r, const char *task, int state, const char *prefix,
                       const char *cursor, size_t limit, int unverified_only, json_t **out,
                       char *next, size_t next_n)
{
    *out = NULL;
    ferry_ledger_t *l = NULL;
    int rc = ferry_status_ledger(r, task, &l);
    if (rc)
        return rc;
    list_ctx_t c = {task, json_array(), unverified_only};
    rc = ferry_ledger_list(l, state, prefix, cursor, limit, list_cb, &c, next, next_n);
    ferry_ledger_free(l);
    if (rc) {
        json_decref(c.arr);
        return rc;
    }
    *out = c.arr;
    return FERRY_OK;
}

int ferry_status_list(ferry_redis_t *r, const char *task, int state, const char *prefix,
                      const char *cursor, size_t limit, json_t **out, char *next, size_t next_n)
{
    return status_list(r, task, state, prefix, cursor, limit, 0, out, next, next_n);
}

int ferry_status_list_unverified(ferry_redis_t *r, const char *task, int state, const char *prefix,
                                 const char *cursor, size_t limit, json_t **out, char *next,
                                 size_t next_n)
{
    return status_list(r, task, state, prefix, cursor, limit, 1, out, next, next_n);
}

int ferry_status_complete(ferry_redis_t *r, const char *task, const char *prefix, json_t **out)
{
    *out = NULL;
    ferry_ledger_t *l = NULL;
    int rc = ferry_status_ledger(r, task, &l);
    if (rc)
        return rc;
    long long p = 0, f = 0;
    rc = ferry_ledger_progress(l, prefix, &p, &f);
    ferry_ledger_free(l);
    if (rc)
        return rc;
    *out = json_pack("{s:b,s:I,s:I}", "complete", p == 0 && f == 0, "pending", (json_int_t)p,
                     "failed", (json_int_t)f);
    return *out ? FERRY_OK : FERRY_ENOMEM;
}

int ferry_status_task(ferry_redis_t *r, const char *task, json_t **out)
{
    *out = NULL;
    ferry_task_t t;
    int rc = ferry_task_get(r, task, &t);
    if (rc) {
        ferry_task_clear(&t);
        return rc;
    }
    ferry_ledger_t *l = NULL;
    rc = ferry_ledger_open_sharded(r, task, t.ledger_buckets, t.ledger_shards, &l);
    json_t *j = rc ? NULL : ferry_task_to_json(&t);
    ferry_task_clear(&t);
    if (rc)
        return rc;
    ferry_counters_t c;
    long long ev = 0, bu = 0, dead = 0;
    rc = ferry_ledger_counters(l, &c);
    if (rc == FERRY_OK)
        rc = ferry_queue_backlog(l, &ev, &bu, &dead);
    ferry_ledger_free(l);
    if (rc || j == NULL) {
        json_decref(j);
        return rc ? rc : FERRY_ENOMEM;
    }
    json_t *cnt = json_object();
    long long total = 0;
    for (int s = 0; s < FERRY_STATE_COUNT; s++) {
        json_object_set_new(cnt, ferry_state_name(s),
                            json_pack("{s:I,s:I}", "objects", (json_int_t)c.objects[s], "bytes",
                                      (json_int_t)c.bytes[s]));
        total += c.objects[s];
    }
    json_object_set_new(j, "objects", json_integer(total));
    json_object_set_new(j, "counters", cnt);
    json_object_set_new(j, "unverified", json_integer(c.unverified));
    json_object_set_new(j, "backlog",
                        json_pack("{s:I,s:I,s:I}", "event", (json_int_t)ev, "bulk", (json_int_t)bu,
                                  "dead", (json_int_t)dead));
    *out = j;
    return FERRY_OK;
}

#define RETRY_BATCH 256

typedef struct {
    ferry_ledger_t *l;
    char *keys[RETRY_BATCH];
    uint64_t sizes[RETRY_BATCH];
    int n;
    long long requeued;
    int rc;
} retry_ctx_t;

static int retry_flush(retry_ctx_t *c)
{
    if (c->n == 0)
        return FERRY_OK;
    ferry_item_t items[RETRY_BATCH];
    int res[RETRY_BATCH];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < c->n; i++) {
        items[i].key = c->keys[i];
        items[i].size = c->sizes[i];
        items[i].origin = FERRY_ORIGIN_RETRY;
        items[i].force = 1;
    }
    int rc = ferry_ledger_enqueue(c->l, FERRY_QUEUE_BULK, items, (size_t)c->n, res);
    for (int i = 0; i < c->n; i++) {
        if (rc == FERRY_OK && res[i] == FERRY_ENQ_QUEUED)
            c->requeued++;
        free(c->keys[i]);
    }
    c->n = 0;
    return rc;
}

static int retry_cb(void *ud, const ferry_record_t *rec)
{
    retry_ctx_t *c = ud;
    c->keys[c->n] = strdup(rec->key);
    if (c->keys[c->n] == NULL)
        return (c->rc = FERRY_ENOMEM);
    c->sizes[c->n++] = rec->size;
    if (c->n == RETRY_BATCH && (c->rc = retry_flush(c)) != FERRY_OK)
        return c->rc;
    return 0;
}

int ferry_status_retry(ferry_redis_t *r, const char *task, int state, const char *const *keys,
                       size_t n, long long *requeued, long long *unknown)
{
    *requeued = 0;
    if (unknown)
        *unknown = 0;
    ferry_ledger_t *l = NULL;
    int rc = ferry_status_ledger(r, task, &l);
    if (rc)
        return rc;
    retry_ctx_t *c = calloc(1, sizeof(*c));
    ferry_record_t *rec = malloc(sizeof(*rec));
    if (c == NULL || rec == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    c->l = l;
    if (n > 0) {
        for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
            rc = ferry_ledger_get(l, keys[i], rec);
            if (rc == FERRY_ENOTFOUND) {
                if (unknown)
                    (*unknown)++;
                rc = FERRY_OK;
                continue;
            }
            if (rc == FERRY_OK && retry_cb(c, rec))
                rc = c->rc;
        }
    } else {
        /* Page through the state; re-queued keys leave the failed index as we go, the
         * cursor (the last key seen) keeps our place. */
        char cursor[FERRY_KEY_MAX + 8] = "", next[FERRY_KEY_MAX + 8];
        do {
            rc = ferry_ledger_list(l, state, "", cursor, 1024, retry_cb, c, next, sizeof(next));
            if (rc == FERRY_OK)
                rc = c->rc;
            memcpy(cursor, next, sizeof(cursor));
        } while (rc == FERRY_OK && cursor[0]);
    }
    if (rc == FERRY_OK)
        rc = retry_flush(c);
    *requeued = c->requeued;
out:
    if (c)
        for (int i = 0; i < c->n; i++)
            free(c->keys[i]);
    free(c);
    free(rec);
    ferry_ledger_free(l);
    return rc;
}

int ferry_status_wait(ferry_redis_t *r, const char *task, const char *prefix, int64_t timeout_ms,
                      int poll_ms, ferry_wait_fn progress, void *ud, long long *failed)
{
    *failed = 0;
    ferry_ledger_t *l = NULL;
    int rc = ferry_status_ledger(r, task, &l);
    if (rc)
        return rc;
    if (poll_ms <= 0)
        poll_ms = 250;
    long long deadline = timeout_ms >= 0 ? ferry_mono_ms() + timeout_ms : -1;
    for (;;) {
        long long p = 0, f = 0;
        ferry_counters_t c;
        rc = ferry_ledger_progress(l, prefix, &p, &f);
        if (rc == FERRY_OK && progress)
            rc = ferry_ledger_counters(l, &c);
        if (rc)
            break;
        if (progress && progress(ud, &c, p, f)) {
            rc = FERRY_ECANCELED;
            break;
        }
        if (p == 0) {
            *failed = f;
            break;
        }
        if (deadline >= 0 && ferry_mono_ms() >= deadline) {
            *failed = f;
            rc = FERRY_ETIMEOUT;
            break;
        }
        long long wait = poll_ms;
        if (deadline >= 0 && deadline - ferry_mono_ms() < wait)
            wait = deadline - ferry_mono_ms() > 0 ? deadline - ferry_mono_ms() : 0;
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    ferry_ledger_free(l);
    return rc;
}
