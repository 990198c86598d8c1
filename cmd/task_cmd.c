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

static int task_add(cli_t *g, int argc, char **argv)
{
    /* argv: add NAME options…; global options may be mixed in */
    char **opts = calloc((size_t)argc + 1, sizeof(char *));
    int n = 0;
    const char *name = NULL;
    if (opts == NULL)
        return CLI_FAIL;
    for (int i = 1; i < argc;) {
        int r = cli_global_opt(g, argc, argv, &i);
        if (r < 0) {
            free(opts);
            return CLI_USAGE;
        }
        if (r)
            continue;
        if (name == NULL && strncmp(argv[i], "--", 2) != 0)
            name = argv[i];
        else
            opts[n++] = argv[i];
        i++;
    }
    ferry_task_t t;
    ferry_task_init(&t);
    ferry_error_t err;
    int code = CLI_OK;
    if (name == NULL) {
        code = cli_error(CLI_USAGE,
                         "task add: NAME is required (ferry task add NAME --from LOC --to LOC)");
        goto out;
    }
    if (strlen(name) >= sizeof(t.name) || !ferry_task_name_valid(name)) {
        code = cli_error(CLI_USAGE, "task add: NAME \"%.70s\" must be 1..64 of A-Z a-z 0-9 . _ -",
                         name);
        goto out;
    }
    snprintf(t.name, sizeof(t.name), "%s", name);
    if (ferry_task_parse_args(&t, n, opts, &err) != FERRY_OK) {
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
    free(opts);
    return code;
}

static int parse_simple(cli_t *g, int argc, char **argv, const char **pos, int maxpos, int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc;) {
        int r = cli_global_opt(g, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        if (strncmp(argv[i], "--", 2) == 0)
            return cli_error(CLI_USAGE, "task %s: unknown option %s", argv[0], argv[i]);
        if (*npos >= maxpos)
            return cli_error(CLI_USAGE, "task %s: unexpected argument %s", argv[0], argv[i]);
        pos[(*npos)++] = argv[i++];
    }
    return CLI_OK;
}

static int task_ls(cli_t *g, int argc, char **argv)
{
    const char *pos[1];
    int np, code = parse_simple(g, argc, argv, pos, 0, &np);
    if (code)
        return code;
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

static int task_show_rm(cli_t *g, int argc, char **argv, int rm)
{
    const char *pos[1];
    int np, code = parse_simple(g, argc, argv, pos, 1, &np);
    if (code)
        return code;
    if (np != 1)
        return cli_error(CLI_USAGE, "task %s: NAME is required", argv[0]);
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

int cmd_task(cli_t *g, int argc, char **argv)
{
    int i = 1;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        int r = cli_global_opt(g, argc, argv, &i);
        if (r <= 0)
            return cli_error(CLI_USAGE, "task: unknown option %s", argv[i]);
    }
    if (i >= argc)
        return cli_error(CLI_USAGE, "task: add, ls, show, rm, run or secret?");
    const char *sub = argv[i];
    argc -= i;
    argv += i;
    if (strcmp(sub, "add") == 0)
        return task_add(g, argc, argv);
    if (strcmp(sub, "ls") == 0)
        return task_ls(g, argc, argv);
    if (strcmp(sub, "show") == 0)
        return task_show_rm(g, argc, argv, 0);
    if (strcmp(sub, "rm") == 0)
        return task_show_rm(g, argc, argv, 1);
    if (strcmp(sub, "run") == 0) /* scan now, under the task's lease (sync_cmd.c) */
        return cmd_task_run(g, argc, argv);
    if (strcmp(sub, "secret") == 0) /* the events route's ?token= (scheduler_cmd.c) */
        return cmd_task_secret(g, argc, argv);
    return cli_error(CLI_USAGE, "task: unknown subcommand \"%s\" (add, ls, show, rm, run, secret)",
                     sub);
}
