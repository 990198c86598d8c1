/* ferry scheduler — event intake (see intake.h). */
#include "intake.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int ferry_intake_body(ferry_redis_t *r, const ferry_task_t *t, const char *body, size_t len,
                      int64_t now_ms, ferry_intake_result_t *res, ferry_error_t *err)
{
    ferry_event_list_t evs = {0};
    ferry_ledger_t *led = NULL;
    ferry_item_t *items = NULL;
    int *results = NULL;
    memset(res, 0, sizeof(*res));
    const ferry_location_t *src = &t->src.parsed;

    /* The whole body is parsed and bounded (and its bucket checked against the task's source
     * bucket) before anything is queued. */
    ferry_events_opts_t eo;
    ferry_events_opts_default(&eo);
    eo.bucket = src->bucket;
    int rc = ferry_events_parse(body, len, &eo, &evs, err);
    if (rc)
        goto out;
    if ((rc = ferry_ledger_open(r, t->name, t->ledger_buckets, &led)) != FERRY_OK) {
        ferry_error_set(err, rc, "cannot open the ledger of task %s: %s", t->name,
                        ferry_redis_error(r)->msg);
        goto out;
    }
    items = calloc(evs.n ? evs.n : 1, sizeof(*items));
    results = calloc(evs.n ? evs.n : 1, sizeof(*results));
    if (items == NULL || results == NULL) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    if (now_ms <= 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    }
    /* A plain {"key"} event has no version: mtime 0, "worth a look"; the worker HEADs the
     * source. */
    size_t n = 0;
    size_t plen = strlen(src->prefix);
    for (size_t i = 0; i < evs.n; i++) {
        const ferry_event_t *e = &evs.v[i];
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
    for (size_t i = 0; i < n; i++) {
        res->queued += results[i] == FERRY_ENQ_QUEUED;
        res->stale += results[i] == FERRY_ENQ_STALE;
    }
    res->events = evs.n;
    res->unchanged = n - res->queued - res->stale;
    res->ignored_format = evs.ignored;
    res->ignored = evs.ignored + res->outside_prefix + res->deletes_off + res->filtered;
out:
    free(items);
    free(results);
    ferry_ledger_free(led);
    ferry_event_list_free(&evs);
    return rc;
}
