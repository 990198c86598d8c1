/* ferry event NAME [FILE|-]: enqueue one event payload, any supported format, with the same
 * parser the HTTP intake uses (scheduler/intake.h). Exit 0 accepted (duplicates of a delivery
 * already taken are counted, not queued; an SNS SubscriptionConfirmation is recorded and its
 * URL printed for the operator), 2 rejected (with the reason, nothing enqueued), 3 unknown
 * task, 1 runtime error. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "intake.h"
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

int cmd_event(cli_t *g, const cli_args_t *a)
{
    const char *const *pos = a->pos;
    int np = a->npos, code = CLI_OK, rc;
    char *body = NULL;
    size_t len = 0;
    ferry_redis_t *r = NULL;
    ferry_task_t t;
    ferry_task_init(&t);

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
    ferry_error_t err;
    ferry_error_clear(&err);
    ferry_intake_result_t x;
    rc = ferry_intake_body_via(r, &t, body, len, 0, "cli", &x, &err);
    if (rc == FERRY_EPARSE || rc == FERRY_ETOOBIG) {
        code = cli_error(CLI_USAGE, "event rejected: %s (nothing was queued)", err.msg);
        goto out;
    }
    if (rc) {
        code = cli_error(CLI_FAIL, "event: %s", err.msg);
        goto out;
    }
    if (x.sns_confirmation) {
        /* the operator confirms: ferry never fetches the URL */
        if (g->json) {
            json_t *j = json_pack("{s:{s:s,s:s}}", "sns_confirmation", "topic", x.sns_topic,
                                  "subscribe_url", x.sns_subscribe_url);
            char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
            if (s)
                puts(s);
            free(s);
            json_decref(j);
        } else {
            printf("recorded an SNS SubscriptionConfirmation (topic %s); ferry does not confirm "
                   "it: open this URL to confirm the subscription, then events will follow (also "
                   "shown by ferry task show %s):\n%s\n",
                   x.sns_topic[0] ? x.sns_topic : "unnamed", t.name, x.sns_subscribe_url);
        }
        goto out;
    }
    if (g->json)
        printf("{\"events\":%zu,\"queued\":%zu,\"unchanged\":%zu,\"stale\":%zu,\"ignored\":%zu,"
               "\"outside_prefix\":%zu,\"deletes_off\":%zu,\"filtered\":%zu,\"duplicate\":%zu}\n",
               x.events, x.queued, x.unchanged, x.stale, x.ignored_format, x.outside_prefix,
               x.deletes_off, x.filtered, x.duplicate);
    else
        printf("accepted %zu event(s): %zu queued, %zu already queued or unchanged, %zu older "
               "than the recorded version (stale), %zu duplicate deliveries (already taken), "
               "%zu ignored (%zu outside the source prefix, %zu deletes without --delete, %zu "
               "excluded by the task's filters)\n",
               x.events, x.queued, x.unchanged, x.stale, x.duplicate, x.ignored, x.outside_prefix,
               x.deletes_off, x.filtered);
out:
    ferry_redis_free(r);
    ferry_task_clear(&t);
    free(body);
    return code;
}
