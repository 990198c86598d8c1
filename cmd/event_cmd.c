/* ferry event NAME [FILE|-]: enqueue one event payload, any supported format, with the same
 * parser the HTTP intake uses (scheduler/events.h). Exit 0 accepted, 2 rejected (with the
 * reason, nothing enqueued), 3 unknown task, 1 runtime error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "events.h"
#include "ferry/ledger.h"
#include "ferry/task.h"

/* Read all of f up to cap bytes. FERRY_OK, FERRY_ETOOBIG (more than cap), FERRY_EIO. */
static int read_all(FILE *f, size_t cap, char **out, size_t *len)
{
    size_t n = 0, size = 64 * 1024;
    char *b = malloc(size);
    if (b == NULL)
        return FERRY_ENOMEM;
    for (;;) {
        if (n == size) {
            if (size > cap) {
                free(b);
                return FERRY_ETOOBIG;
            }
            size *= 2;
            char *nb = realloc(b, size);
            if (nb == NULL) {
                free(b);
                return FERRY_ENOMEM;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, size - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(b);
        return FERRY_EIO;
    }
    if (n > cap) {
        free(b);
        return FERRY_ETOOBIG;
    }
    *out = b;
    *len = n;
    return FERRY_OK;
}

int cmd_event(cli_t *g, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int np = 0, code = CLI_OK, rc;
    char *body = NULL;
    size_t len = 0;
    ferry_event_list_t evs = {0};
    ferry_redis_t *r = NULL;
    ferry_ledger_t *led = NULL;
    ferry_item_t *items = NULL;
    int *results = NULL;
    ferry_task_t t;
    ferry_task_init(&t);

    for (int i = 1; i < argc;) {
        int k = cli_global_opt(g, argc, argv, &i);
        if (k < 0)
            return CLI_USAGE;
        if (k > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_error(CLI_USAGE, "event: unknown option %s", argv[i]);
        if (np == 2)
            return cli_error(CLI_USAGE, "event: usage: ferry event NAME [FILE|-]");
        pos[np++] = argv[i++];
    }
    if (np < 1)
        return cli_error(CLI_USAGE, "event: usage: ferry event NAME [FILE|-]");

    FILE *f = stdin;
    if (np == 2 && strcmp(pos[1], "-") != 0) {
        f = fopen(pos[1], "rb");
        if (f == NULL)
            return cli_error(CLI_USAGE, "event: cannot read %s", pos[1]);
    }
    rc = read_all(f, FERRY_EVENTS_MAX_BODY, &body, &len);
    if (f != stdin)
        fclose(f);
    if (rc == FERRY_ETOOBIG)
        return cli_error(CLI_USAGE, "event rejected: the body is larger than %d bytes",
                         FERRY_EVENTS_MAX_BODY);
    if (rc)
        return cli_error(CLI_FAIL, "event: reading the body: %s", ferry_strerror(rc));

    r = cli_connect(g);
    if (r == NULL) {
        code = CLI_FAIL;
        goto out;
    }
    rc = ferry_task_get(r, pos[0], &t);
    if (rc == FERRY_ENOTFOUND) {
        code = cli_error(CLI_UNKNOWN, "event: no task %s (see ferry task ls)", pos[0]);
        goto out;
    }
    if (rc) {
        code = cli_redis_error(r);
        goto out;
    }
    const ferry_location_t *src = &t.src.parsed; /* filled by ferry_task_get */

    /* The whole body is parsed and bounded (and its bucket checked against the task's source
     * bucket) before anything is queued: exit 2 means nothing was. */
    ferry_error_t err;
    ferry_error_clear(&err);
    ferry_events_opts_t eo;
    ferry_events_opts_default(&eo);
    eo.bucket = src->bucket;
    rc = ferry_events_parse(body, len, &eo, &evs, &err);
    if (rc) {
        code = cli_error(CLI_USAGE, "event rejected: %s (nothing was queued)", err.msg);
        goto out;
    }
    if (ferry_ledger_open(r, t.name, t.ledger_buckets, &led) != FERRY_OK) {
        code = cli_redis_error(r);
        goto out;
    }
    items = calloc(evs.n ? evs.n : 1, sizeof(*items));
    results = calloc(evs.n ? evs.n : 1, sizeof(*results));
    if (items == NULL || results == NULL) {
        code = cli_error(CLI_FAIL, "event: out of memory");
        goto out;
    }
    /* Keys outside the task's source prefix, deletes of a task without --delete, and keys the
     * task's filters (globs, size, age: the scan's own test) exclude are not this task's
     * business: counted as ignored. An event's version is its time (and an S3 event's
     * sequencer): the ledger refuses an event older than the version it holds (stale). A
     * plain {"key"} event has neither: mtime 0, "worth a look"; the worker HEADs the source. */
    size_t n = 0, outside = 0, nodelete = 0, filtered = 0;
    size_t plen = strlen(src->prefix);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    for (size_t i = 0; i < evs.n; i++) {
        const ferry_event_t *e = &evs.v[i];
        if (plen && strncmp(e->key, src->prefix, plen) != 0) {
            outside++;
            continue;
        }
        if (e->op == FERRY_EVENT_DELETE && !t.delete_) {
            nodelete++;
            continue;
        }
        if (!ferry_task_glob_ok(&t, e->key + plen) ||
            (e->op == FERRY_EVENT_CREATE && e->size >= 0 &&
             !ferry_filter_size_age_ok(t.min_size, t.max_size, t.min_age_ms, t.max_age_ms, now_ms,
                                       (uint64_t)e->size, e->time_ms))) {
            filtered++;
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
    if (n && ferry_ledger_enqueue(led, FERRY_QUEUE_EVENT, items, n, results) != FERRY_OK) {
        code = cli_redis_error(r);
        goto out;
    }
    size_t queued = 0, stale = 0;
    for (size_t i = 0; i < n; i++) {
        queued += results[i] == FERRY_ENQ_QUEUED;
        stale += results[i] == FERRY_ENQ_STALE;
    }
    size_t ignored = evs.ignored + outside + nodelete + filtered;
    if (g->json)
        printf("{\"events\":%zu,\"queued\":%zu,\"unchanged\":%zu,\"stale\":%zu,\"ignored\":%zu,"
               "\"outside_prefix\":%zu,\"deletes_off\":%zu,\"filtered\":%zu}\n",
               evs.n, queued, n - queued - stale, stale, evs.ignored, outside, nodelete, filtered);
    else
        printf("accepted %zu event(s): %zu queued, %zu already queued or unchanged, %zu older "
               "than the recorded version (stale), %zu ignored (%zu outside the source prefix, "
               "%zu deletes without --delete, %zu excluded by the task's filters)\n",
               evs.n, queued, n - queued - stale, stale, ignored, outside, nodelete, filtered);
out:
    free(items);
    free(results);
    ferry_ledger_free(led);
    ferry_redis_free(r);
    ferry_event_list_free(&evs);
    ferry_task_clear(&t);
    free(body);
    return code;
}
