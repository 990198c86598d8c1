/* ferry task add|ls|show|rm|run */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "intake.h"
#include "scan.h"
#include "ferry/status.h"
#include "ferry/task.h"

static void print_json(json_t *j, int compact)
{
    char *s = json_dumps(j, compact ? JSON_COMPACT : JSON_INDENT(2));
    if (s) {
        puts(s);
        free(s);
    }
}

int cmd_task_add(cli_t *g, const cli_args_t *a)
{
    const char *name = a->pos[0];
    ferry_task_t t;
    ferry_task_init(&t);
    ferry_error_t err;
    int code = CLI_OK;
    if (strlen(name) >= sizeof(t.name) || !ferry_task_name_valid(name)) {
        code = cli_error(CLI_USAGE, "task add: NAME \"%.70s\" must be 1..64 of A-Z a-z 0-9 . _ -",
                         name);
        goto out;
    }
    snprintf(t.name, sizeof(t.name), "%s", name);
    if (ferry_task_parse_args(&t, a->task_argc, a->task_argv, &err) != FERRY_OK) {
        code = cli_error(CLI_USAGE, "task add: %s", err.msg);
        goto out;
    }
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL) {
        code = CLI_FAIL;
        goto out;
    }
    if (ferry_task_put(r, &t, 0) != FERRY_OK)
        code = ferry_redis_error(r)->code == FERRY_EEXISTS
                   ? cli_error(CLI_USAGE, "%s", ferry_redis_error(r)->msg)
                   : cli_redis_error(r);
    else if (!g->json) {
        printf("task %s: ", t.name);
        cli_puts_escaped(stdout, t.src.loc);
        fputs(" -> ", stdout);
        cli_puts_escaped(stdout, t.dst.loc);
        putchar('\n');
        if (t.min_size || t.max_size || t.min_age_ms || t.max_age_ms) {
            char maxs[32] = "any", maxa[32] = "any";
            if (t.max_size)
                snprintf(maxs, sizeof(maxs), "%llu", (unsigned long long)t.max_size);
            if (t.max_age_ms)
                snprintf(maxa, sizeof(maxa), "%llds", (long long)(t.max_age_ms / 1000));
            printf("task %s: copies source objects of %llu..%s bytes, %llds..%s old\n", t.name,
                   (unsigned long long)t.min_size, maxs, (long long)(t.min_age_ms / 1000), maxa);
        }
    } else {
        json_t *j = ferry_task_to_json(&t);
        print_json(j, 1);
        json_decref(j);
    }
    ferry_redis_free(r);
out:
    ferry_task_clear(&t);
    return code;
}

int cmd_task_ls(cli_t *g, const cli_args_t *a)
{
    (void)a;
    int code = CLI_OK;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    char **names;
    size_t n;
    if (ferry_task_list(r, &names, &n) != FERRY_OK) {
        code = cli_redis_error(r);
        ferry_redis_free(r);
        return code;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *j = NULL;
        if (ferry_status_task(r, names[i], &j) == FERRY_OK) {
            if (g->json)
                print_json(j, 1);
            else {
                json_t *c = json_object_get(j, "counters");
                long long done =
                    json_integer_value(json_object_get(json_object_get(c, "done"), "objects"));
                long long failed =
                    json_integer_value(json_object_get(json_object_get(c, "failed"), "objects"));
                const char *cron = json_string_value(json_object_get(j, "cron"));
                char sched[160];
                if (cron)
                    snprintf(sched, sizeof(sched), "cron \"%s\"", cron);
                else
                    snprintf(sched, sizeof(sched), "every %llds",
                             (long long)json_integer_value(json_object_get(j, "every_ms")) / 1000);
                printf("%s\t", names[i]);
                cli_puts_escaped(stdout, json_string_value(json_object_get(j, "from")));
                fputs(" -> ", stdout);
                cli_puts_escaped(stdout, json_string_value(json_object_get(j, "to")));
                fputc('\t', stdout);
                cli_puts_escaped(stdout, sched);
                printf("\tobjects=%lld done=%lld failed=%lld unverified=%lld\n",
                       (long long)json_integer_value(json_object_get(j, "objects")), done, failed,
                       (long long)json_integer_value(json_object_get(j, "unverified")));
            }
            json_decref(j);
        }
        free(names[i]);
    }
    free(names);
    ferry_redis_free(r);
    return CLI_OK;
}

static int task_show_rm(cli_t *g, const cli_args_t *a, int rm)
{
    const char *const *pos = a->pos;
    int code = CLI_OK;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    if (rm) {
        if (ferry_task_remove(r, pos[0]) != FERRY_OK)
            code = cli_redis_error(r);
        else if (!g->json)
            printf("removed task %s and its ledger\n", pos[0]);
    } else {
        json_t *j = NULL;
        json_t *scans = NULL;
        if (ferry_status_task(r, pos[0], &j) != FERRY_OK)
            code = cli_redis_error(r);
        else {
            /* the last scans, newest first (scheduler/scan.h) */
            if (ferry_scan_history(r, pos[0], 10, &scans) == FERRY_OK)
                json_object_set_new(j, "scans", scans);
            /* a pending SNS SubscriptionConfirmation: the operator opens the URL (intake.h) */
            json_t *sns = NULL;
            ferry_error_t se;
            ferry_error_clear(&se);
            if (ferry_intake_sns_pending(r, pos[0], &sns, &se) == FERRY_OK && sns) {
                if (!g->json)
                    fprintf(stderr,
                            "task %s: an SNS subscription waits for confirmation: open "
                            "sns_subscription.subscribe_url below (ferry never fetches it)\n",
                            pos[0]);
                json_object_set_new(j, "sns_subscription", sns);
            }
            print_json(j, g->json);
        }
        json_decref(j);
    }
    ferry_redis_free(r);
    return code;
}

int cmd_task_show(cli_t *g, const cli_args_t *a)
{
    return task_show_rm(g, a, 0);
}

int cmd_task_rm(cli_t *g, const cli_args_t *a)
{
    return task_show_rm(g, a, 1);
}
