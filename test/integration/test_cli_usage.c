/* Bad invocations of the ferry binary ($FERRY_BIN_DIR/ferry): each one exits 2 with a message
 * that names the problem and says what to do (see --help, the expected form, an example), and
 * nothing is started or connected to. Also: every command's --help exits 0 with its usage,
 * options and examples. No Redis: every case fails while parsing (--redis points at a closed
 * port, so a case that connected by mistake would exit 1, not 2). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

static char ferry_bin[512];
static char out[65536], errbuf[8192];

static int run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s %s", ferry_bin, args);
    return harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
}

typedef struct {
    const char *args;
    const char *what; /* names the problem */
    const char *todo; /* says what to do; NULL when what already does */
} bad_t;

#define R "--redis redis://127.0.0.1:1 "

static const bad_t BAD[] = {
    /* commands */
    {"", "a command is missing", "usage: ferry"},
    {"frobnicate", "unknown command \"frobnicate\"", "ferry --help"},
    {"--bogus ls t", "unknown option --bogus before the command", "ferry --help"},
    {"--redis", "--redis needs a value", "--redis URL"},
    {"task", "add, ls, show, rm, run or secret?", "ferry task --help"},
    {"task frob", "unknown subcommand \"frob\"", "ferry task --help"},
    /* missing positionals */
    {R "task add --from oss://a/ --to s3://b/", "task add: NAME is required",
     "usage: ferry task add NAME"},
    {R "task show", "task show: NAME is required", "ferry task show --help"},
    {R "task rm", "task rm: NAME is required", "ferry task rm --help"},
    {R "task run", "task run: NAME is required", "ferry task run --help"},
    {R "task secret", "task secret: NAME is required", "ferry task secret --help"},
    {R "status t", "status: KEY is required", "usage: ferry status NAME KEY"},
    {R "ls", "ls: NAME is required", "ferry ls --help"},
    {R "wait", "wait: NAME is required", "ferry wait --help"},
    {R "retry", "retry: NAME is required", "ferry retry --help"},
    {R "event", "event: NAME is required", "ferry event --help"},
    {R "check", "check: NAME is required", "ferry check --help"},
    /* too many */
    {R "task show a b", "unexpected argument 'b'", "usage: ferry task show NAME"},
    {R "status t k extra", "unexpected argument 'extra'", "ferry status --help"},
    {R "down now", "unexpected argument 'now'", "ferry down --help"},
    {R "sync oss://a/ s3://b/", "unexpected argument 'oss://a/'", "ferry sync --help"},
    /* unknown options, options of another command */
    {R "ls t --bogus", "ls: unknown option --bogus", "ferry ls --help"},
    {R "ls t --bogus=1", "ls: unknown option --bogus", "ferry ls --help"},
    {R "ls t -x", "ls: unknown option -x", "ferry ls --help"},
    {R "status t k --limit 5", "status: unknown option --limit", "ferry status --help"},
    {R "worker --download", "worker: unknown option --download", "ferry worker --help"},
    {R "task run t --every 1h", "--every is part of a task's definition", "ferry task add"},
    {R "scheduler --from oss://a/", "--from is part of a task's definition", "ferry task add"},
    /* missing values */
    {R "ls t --state", "ls: --state needs a value", "--state STATE"},
    {R "wait t --timeout", "wait: --timeout needs a value", "--timeout DUR"},
    {R "task add x --from oss://a/ --to", "--to needs a value", "--to LOC"},
    {R "sync --from oss://a/ --to s3://b/ --min-size", "--min-size needs a value",
     "--min-size SIZE"},
    {R "worker --task", "worker: --task needs a value", "ferry worker --help"},
    {R "ls t --json=yes", "--json takes no value", "drop '=yes'"},
    {R "task add x --from oss://a/ --to s3://b/ --delete=false", "--delete takes no value",
     "drop '=false'"},
    /* bad values: sizes, durations, numbers, choices */
    {R "worker --ring 12Q", "--ring: '12Q' is not a size", "examples: 10MiB, 1G"},
    {R "worker --ring 1k", "--ring: '1k' is out of range", "from 256KiB to 1GiB"},
    {R "task add x --from oss://a/ --to s3://b/ --min-size 12Q", "--min-size: '12Q' is not a size",
     "examples: 10MiB, 1G"},
    {R "sync --from oss://a/ --to s3://b/ --max-size=1X", "--max-size: '1X' is not a size",
     "examples: 10MiB"},
    {R "task run t --min-age soon", "--min-age: 'soon' is not a duration", "examples: 30s"},
    {R "wait t --timeout 5q", "--timeout: '5q' is not a duration", "examples: 500ms, 30s"},
    {R "scheduler --tick 5ms", "--tick: '5ms' is out of range", "at least 100ms"},
    {R "worker --grace 0", "--grace: '0' is out of range", "at least 1ms"},
    {R "worker --janitor-age never", "--janitor-age: 'never' is not a duration", "or off"},
    {R "ls t --limit 0", "--limit: '0' is not a whole number", "from 1 to 1000000"},
    {R "ls t --limit=1e3", "--limit: '1e3' is not a whole number", "from 1 to 1000000"},
    {R "sync --from oss://a/ --to s3://b/ --workers 999", "--workers: '999' is not a whole number",
     "from 0 to 256"},
    {R "task run t --parallel 0", "--parallel: '0' is not a whole number", "from 1 to 256"},
    {R "worker --concurrency -1", "--concurrency: '-1' is not a whole number", "from 1 to 4096"},
    {R "worker --slot x", "--slot: 'x' is not a whole number", "or auto"},
    {R "ls t --format xml", "--format: 'xml' is not one of", "table|csv|json|jsonl"},
    {R "worker --log-level loud", "--log-level: 'loud' is not one of", "debug|info"},
    /* checks after parsing */
    {R "ls t --state sleeping", "--state \"sleeping\" is not one of", "queued, copying, done"},
    {R "ls t --unverified --state failed", "--unverified lists done records", "drop --state"},
    {R "retry t --state done", "must be failed, queued", "failed"},
    {R "task add 'bad name' --from oss://a/ --to s3://b/", "NAME \"bad name\" must be",
     "A-Z a-z 0-9"},
    {R "task add x --to s3://b/", "--from is required", "--from oss://bucket/prefix/"},
    {R "task add x --from ftp://a/ --to s3://b/", "--from:", NULL},
    {R "task add x --from oss://a/ --to s3://b/ --cron 'x'", "--cron: \"x\" is not a 5-field",
     NULL},
    {R "task add x --from oss://a/ --to s3://b/ --every 1h --cron '0 * * * *'",
     "give one schedule, not both", NULL},
    {R "task add x --from oss://a/ --to s3://b/ --min-size 2M --max-size 1M",
     "--min-size must not exceed --max-size", "nothing would be copied"},
    {R "sync --to s3://b/", "sync: --from is required", "ferry sync --from oss://"},
    {R "sync --from oss://a/ --to s3://b/ --name '-x'", "--name \"-x\" must be", "A-Z a-z"},
    {R "worker --consumer a --slot 1", "give --consumer or --slot, not both", NULL},
    {R "worker --task 'no good'", "\"no good\" is not a task name", "ferry task ls"},
    {R "scheduler --tls-cert /dev/null", "TLS needs both --tls-cert and --tls-key", NULL},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        const bad_t *b = &BAD[i];
        int rc = run(b->args);
        int ok = rc == 2 && strstr(errbuf, b->what) && (b->todo == NULL || strstr(errbuf, b->todo));
        if (!ok)
            fprintf(stderr, "ferry %s: exit %d, stderr:\n%s\n(wanted exit 2, \"%s\", \"%s\")\n",
                    b->args, rc, errbuf, b->what, b->todo ? b->todo : "");
        CHECK(ok);
        CHECK(out[0] == '\0' || strncmp(b->args, "", 1) == 0); /* nothing on stdout */
    }
}

/* Every command and subcommand: --help (and -h, and help CMD) exits 0 with its usage line, its
 * options and examples, wherever --help stands. */
static void test_help(void)
{
    static const char *const CMDS[] = {
        "task add", "task ls", "task show", "task rm", "task run", "task secret",
        "status",   "ls",      "wait",      "retry",   "down",     "sync",
        "up",       "worker",  "scheduler", "event",   "check"};
    char args[256], usage[128];
    for (size_t i = 0; i < sizeof(CMDS) / sizeof(CMDS[0]); i++) {
        snprintf(usage, sizeof(usage), "usage: ferry %s", CMDS[i]);
        snprintf(args, sizeof(args), R "%s --help", CMDS[i]);
        CHECK_INT(run(args), 0);
        CHECK(strncmp(out, usage, strlen(usage)) == 0);
        CHECK(strstr(out, "examples:\n  ferry ") != NULL);
        CHECK(strstr(out, "global options") != NULL);
        snprintf(args, sizeof(args), R "%s -h", CMDS[i]);
        CHECK_INT(run(args), 0);
        CHECK(strncmp(out, usage, strlen(usage)) == 0);
        snprintf(args, sizeof(args), "help %s", CMDS[i]);
        CHECK_INT(run(args), 0);
        CHECK(strncmp(out, usage, strlen(usage)) == 0);
    }
    /* after other arguments too */
    CHECK_INT(run(R "ls t --state failed --help"), 0);
    CHECK(strstr(out, "--format F") != NULL);
    /* the task options are listed where they are taken, the scan filters where they override */
    CHECK_INT(run("sync --help"), 0);
    CHECK(strstr(out, "--min-size SIZE") && strstr(out, "--from LOC") && strstr(out, "--workers"));
    CHECK_INT(run("task run --help"), 0);
    CHECK(strstr(out, "--min-size SIZE") && !strstr(out, "--from LOC"));
    /* ferry --help lists every command; task --help the subcommands */
    CHECK_INT(run("--help"), 0);
    for (size_t i = 0; i < sizeof(CMDS) / sizeof(CMDS[0]); i++) {
        snprintf(args, sizeof(args), "\n  %s ", CMDS[i]);
        CHECK(strstr(out, args) != NULL);
    }
    CHECK_INT(run("task --help"), 0);
    CHECK(strstr(out, "  secret ") != NULL);
    /* a key after -- is a key, not --help */
    CHECK_INT(run(R "retry t -- --help"), 1); /* parsed, then the (closed) Redis port */
    CHECK(strstr(errbuf, "usage") == NULL);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : ".");
    REQUIRE(access(ferry_bin, X_OK) == 0);
    /* nothing here may start a private redis-server: HOME and the state dir are the test's */
    setenv("HOME", harness_tmpdir(), 1);
    unsetenv("FERRY_STATE_DIR");
    unsetenv("FERRY_REDIS_URL");
    test_bad();
    test_help();
    return test_summary();
}
