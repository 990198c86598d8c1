/* cmd/cli.c's parser against its table: both value forms, --, positionals past CLI_POS_MAX,
 * repeatable options, keywords, bounds, task options where they belong, and the help text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "scan.h"
#include "test.h"

static const cli_cmd_t LS = {"ls", C_LS, "NAME [options]", 1, 1, 0, "", "", "", NULL, 0};
static const cli_cmd_t RETRY = {"retry", C_RETRY, "NAME [KEY…]", 1, -1, 0, "", "", "", NULL, 0};
static const cli_cmd_t WORKER = {"worker", C_WORKER, "[options]", 0, 0, 0, "", "", "", NULL, 0};
static const cli_cmd_t ADD = {"task add", C_TASK_ADD, "NAME", 1, 1, ~0u, "", "", "", NULL, 0};
static const cli_cmd_t RUN = {"task run", C_TASK_RUN,       "NAME", 1, 1, FERRY_TASK_OPT_SCAN, "",
                              "",         "ferry task run", NULL,   0};

static int parse(const cli_cmd_t *c, cli_args_t *a, cli_t *g, int n, ...)
{
    static char *argv[64];
    va_list ap;
    va_start(ap, n);
    argv[0] = (char *)c->name;
    for (int i = 0; i < n; i++)
        argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    memset(g, 0, sizeof(*g));
    return cli_parse(g, c, n + 1, argv, a);
}

int main(void)
{
    cli_t g;
    cli_args_t a;
    /* --opt VALUE and --opt=VALUE, flags, globals anywhere */
    CHECK_INT(parse(&LS, &a, &g, 6, "--limit", "5", "t", "--state=failed", "--json", "--redis=u"),
              CLI_OK);
    CHECK_INT((int)a.v[O_LIMIT].num, 5);
    CHECK_STR(a.v[O_STATE].str, "failed");
    CHECK_STR(a.pos[0], "t");
    CHECK_INT(g.json, 1);
    CHECK_STR(g.redis_url, "u");
    CHECK(!a.v[O_PREFIX].set);
    cli_args_free(&a);
    /* an empty value is a value */
    CHECK_INT(parse(&LS, &a, &g, 2, "t", "--prefix="), CLI_OK);
    CHECK(a.v[O_PREFIX].set && a.v[O_PREFIX].str[0] == '\0');
    cli_args_free(&a);
    /* bounds, kinds */
    CHECK_INT(parse(&LS, &a, &g, 3, "t", "--limit", "1000001"), CLI_USAGE);
    cli_args_free(&a);
    CHECK_INT(parse(&LS, &a, &g, 3, "t", "--limit", "12abc"), CLI_USAGE);
    cli_args_free(&a);
    CHECK_INT(parse(&LS, &a, &g, 3, "t", "--format", "csvx"), CLI_USAGE);
    cli_args_free(&a);
    CHECK_INT(parse(&LS, &a, &g, 3, "t", "--format", "jsonl"), CLI_OK);
    cli_args_free(&a);
    CHECK_INT(parse(&LS, &a, &g, 2, "t", "u"), CLI_USAGE); /* one NAME only */
    cli_args_free(&a);
    CHECK_INT(parse(&LS, &a, &g, 0), CLI_USAGE);
    cli_args_free(&a);
    /* retry: -- ends the options; more keys than CLI_POS_MAX land in rest, in order */
    CHECK_INT(parse(&RETRY, &a, &g, 13, "t", "k1", "--", "--help", "-x", "k4", "k5", "k6", "k7",
                    "k8", "k9", "k10", "k11"),
              CLI_OK);
    CHECK_INT(a.npos, CLI_POS_MAX);
    CHECK_INT(a.nrest, 12 - CLI_POS_MAX);
    CHECK_STR(a.pos[2], "--help");
    CHECK_STR(a.pos[3], "-x");
    CHECK_STR(a.rest[a.nrest - 1], "k11");
    cli_args_free(&a);
    /* worker: sizes, durations, keywords, repeatable --task, the alias */
    CHECK_INT(parse(&WORKER, &a, &g, 12, "--ring", "1MiB", "--grace=90s", "--janitor-age", "off",
                    "--slot", "auto", "--task", "a", "--task=b", "--max-deliveries", "7"),
              CLI_OK);
    CHECK(a.v[O_RING].size == (1u << 20));
    CHECK_INT((int)a.v[O_GRACE].num, 90000);
    CHECK(a.v[O_JANITOR_AGE].word && a.v[O_SLOT].word);
    CHECK_INT(a.nmany, 2);
    CHECK_STR(a.many[1], "b");
    CHECK_INT((int)a.v[O_MAX_ATTEMPTS].num, 7);
    cli_args_free(&a);
    CHECK_INT(parse(&WORKER, &a, &g, 2, "--slot", "100001"), CLI_USAGE);
    cli_args_free(&a);
    CHECK_INT(parse(&WORKER, &a, &g, 2, "--grace", "0"), CLI_USAGE);
    cli_args_free(&a);
    CHECK_INT(parse(&WORKER, &a, &g, 1, "--exit-when-idle=1"), CLI_USAGE);
    cli_args_free(&a);
    /* task options: all of them for task add, in both forms, flags without a value */
    CHECK_INT(parse(&ADD, &a, &g, 7, "x", "--from", "oss://a/", "--to=s3://b/", "--delete",
                    "--min-size", "1k"),
              CLI_OK);
    CHECK_INT(a.task_argc, 6);
    CHECK_STR(a.task_argv[2], "--to=s3://b/");
    CHECK_STR(a.task_argv[5], "1k");
    cli_args_free(&a);
    CHECK_INT(parse(&ADD, &a, &g, 2, "x", "--from"), CLI_USAGE);
    cli_args_free(&a);
    /* task run: the filters only, applied to the scan */
    CHECK_INT(parse(&RUN, &a, &g, 4, "x", "--min-size=2k", "--max-age", "1h"), CLI_OK);
    ferry_scan_opts_t o;
    memset(&o, 0, sizeof(o));
    CHECK_INT(cli_scan_opts(&a, 1, &o), CLI_OK);
    CHECK(o.min_size == 2048 && o.max_age_ms == 3600000 && o.max_size == 0);
    cli_args_free(&a);
    CHECK_INT(parse(&RUN, &a, &g, 3, "x", "--min-size", "12Q"), CLI_OK); /* checked by the task */
    memset(&o, 0, sizeof(o));
    CHECK_INT(cli_scan_opts(&a, 1, &o), CLI_USAGE);
    cli_args_free(&a);
    CHECK_INT(parse(&RUN, &a, &g, 3, "x", "--from", "oss://a/"), CLI_USAGE);
    cli_args_free(&a);
    /* --help anywhere: the help, on stdout */
    CHECK_INT(parse(&RUN, &a, &g, 2, "x", "--help"), CLI_HELP);
    cli_args_free(&a);
    return test_summary();
}
