/* ferry — the one binary: find the command, parse its options against the table in cli.c, run
 * it. Each command is one row of COMMANDS (its help is made from that row and the option
 * table); the commands' code is in the *_cmd.c files. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ferry/task.h"

#define TASK_ALL (~0u)

static const cli_cmd_t COMMANDS[] = {
    {"task add", C_TASK_ADD, "NAME --from LOC --to LOC [task options]", 1, 1, TASK_ALL,
     "define a task (a source, a destination, a schedule)",
     "Define task NAME: copy --from LOC to --to LOC, scanned on its schedule by ferry scheduler\n"
     "(or now by ferry task run). Fails if NAME exists: remove it first (ferry task rm).",
     "ferry task add photos --from oss://src-bucket/photos/ --to s3://dst-bucket/photos/\n"
     "ferry task add logs --from cos://logs-1250000000/ --to s3://archive/logs/ --cron '0 2 * * *' "
     "--min-age 1d",
     cmd_task_add, 0},
    {"task ls", C_TASK_LS, "", 0, 0, 0, "list the tasks with their counts",
     "List every task: locations, schedule, and how many objects are done and failed.",
     "ferry task ls\nferry task ls --json", cmd_task_ls, 0},
    {"task show", C_TASK_SHOW, "NAME", 1, 1, 0, "one task: definition, counters, last scans",
     "Print task NAME as JSON: its definition, counts and bytes per state, backlog, the last 10\n"
     "scans, and an SNS subscription waiting for confirmation if there is one.",
     "ferry task show photos", cmd_task_show, 0},
    {"task rm", C_TASK_RM, "NAME", 1, 1, 0, "remove a task and its ledger",
     "Remove task NAME with every record, queue and counter it has in Redis. The objects already\n"
     "copied stay where they are.",
     "ferry task rm photos", cmd_task_rm, 0},
    {"task run", C_TASK_RUN, "NAME [options]", 1, 1, FERRY_TASK_OPT_SCAN,
     "scan a task now (under its lease)",
     "Scan task NAME once now: list both sides, queue what differs, print the scan's report.\n"
     "Workers (ferry worker, ferry up) copy what was queued.",
     "ferry task run photos\nferry task run photos --dry-run\nferry task run photos --min-size "
     "1MiB",
     cmd_task_run, 0},
    {"task secret", C_TASK_SECRET, "NAME", 1, 1, 0, "a new secret for the events route",
     "Make a new event secret for task NAME and print it once (only its SHA-256 is kept).\n"
     "Providers deliver events to POST /v1/tasks/NAME/events?token=SECRET.",
     "ferry task secret photos", cmd_task_secret, 0},
    {"status", C_STATUS, "NAME KEY", 2, 2, 0, "one object's record",
     "Print the ledger record of KEY in task NAME: state, size, versions, attempts, times, error.",
     "ferry status photos 2026/01/cat.jpg\nferry status photos 2026/01/cat.jpg --json", cmd_status,
     0},
    {"ls", C_LS, "NAME [options]", 1, 1, 0, "list or export records",
     "List the records of task NAME in key order. The table shows one page (--limit) and prints\n"
     "the command for the next one. --format csv|json|jsonl exports every matching record, page\n"
     "after page in constant memory, with its error, attempts, times and worker.",
     "ferry ls photos --state failed\n"
     "ferry ls photos --state failed --format csv > failed.csv\n"
     "ferry ls photos --prefix 2026/ --format jsonl | jq -r .key",
     cmd_ls, 0},
    {"wait", C_WAIT, "NAME [options]", 1, 1, 0, "wait until nothing is pending",
     "Wait until task NAME (or the keys under --prefix) has nothing queued or copying. Exit 0\n"
     "when all is done, 1 when some failed (listed), 124 on --timeout.",
     "ferry wait photos --progress\nferry wait photos --prefix 2026/ --timeout 30m", cmd_wait, 0},
    {"retry", C_RETRY, "NAME [KEY…] [options]", 1, -1, 0, "queue failed objects again",
     "Queue the failed records of task NAME again (or those in --state, or just the KEYs given).\n"
     "Use -- before keys that start with '-'.",
     "ferry retry photos\nferry retry photos 2026/01/cat.jpg\nferry retry photos -- -odd-key",
     cmd_retry, 0},
    {"down", C_DOWN, "", 0, 0, 0, "stop the private redis-server",
     "Stop the private redis-server of the state dir (the one ferry starts when no --redis or\n"
     "FERRY_REDIS_URL is given). Its data stays on disk for the next command.",
     "ferry down", cmd_down, 0},
    {"sync", C_SYNC, "--from LOC --to LOC [options] [task options]", 0, 0, TASK_ALL,
     "one-shot copy: define, scan, copy, wait, report",
     "Copy --from LOC to --to LOC once: define (or update) the task, scan it, run local workers\n"
     "until everything queued is copied, and print a summary. Run it again to resume or to copy\n"
     "what changed since.",
     "ferry sync --from oss://src-bucket/photos/ --to s3://dst-bucket/photos/\n"
     "ferry sync --from kodo://media/ --to s3://media/ --workers 8 --exclude '*.tmp'",
     cmd_sync, 0},
    {"up", C_UP, "[options] [-- WORKER OPTIONS]", 0, 0, FERRY_TASK_OPT_SCAN,
     "scheduler, API and autoscaled local workers in one process",
     "Run the scheduler, the HTTP API (default 127.0.0.1:8470) and local ferry worker processes,\n"
     "started and stopped as the scaling policy says (GET /v1/scale; docs/scaling.md). What\n"
     "follows -- goes to every worker (ferry up sets --slot auto, --concurrency and the Redis "
     "URL).\n"
     "Without --redis or FERRY_REDIS_URL it starts a private redis-server and stops it on exit.\n"
     "With no task yet it says how to add one and keeps serving. SIGINT/SIGTERM: drain the\n"
     "workers (in-flight copies finish), then exit; a second one stops them at once (the next\n"
     "run resumes what was in flight).\n"
     "exit codes: 0 stopped by SIGINT/SIGTERM after draining; 1 could not start (Redis, the API\n"
     "address); 2 bad usage; 130 stopped at once by a second signal.",
     "ferry up\nferry up --workers 2..8 --api-token-file /etc/ferry/token --listen 0.0.0.0:8470\n"
     "ferry up --workers 4 -- --grace 1m --lease 30s",
     cmd_up, 1},
    {"worker", C_WORKER, "[options]", 0, 0, 0, "copy queued objects (long-running)",
     "Take jobs from the queues of every task (or of --task NAME …) and copy them. Stops on\n"
     "SIGTERM after the copies in flight finish (--grace).",
     "ferry worker\nferry worker --task photos --concurrency 64\nferry worker --exit-when-idle",
     cmd_worker, 0},
    {"scheduler", C_SCHEDULER, "[options]", 0, 0, FERRY_TASK_OPT_SCAN,
     "scan tasks on schedule, serve the HTTP API",
     "Scan each task when its schedule says, one scan at a time under the task's lease (run\n"
     "several for more), and serve the HTTP API (docs/api.md).",
     "ferry scheduler\nferry scheduler --listen 0.0.0.0:8470 --api-token-file /run/ferry/token",
     cmd_scheduler, 0},
    {"event", C_EVENT, "NAME [FILE|-]", 1, 2, 0, "queue one event notification",
     "Read one event payload (S3, SNS, EventBridge, OSS, COS or Kodo notification) from FILE or\n"
     "stdin and queue what it names, as the HTTP events route does (docs/events.md).",
     "ferry event photos notification.json\nsome-consumer | ferry event photos -", cmd_event, 0},
    {"check", C_CHECK, "NAME [options]", 1, 1, 0, "audit a copy without the ledger",
     "List the source and the destination of task NAME, join them in key order and report every\n"
     "key missing on the destination, extra on it, of a different size, or of a different MD5\n"
     "where both ETags are single-part MD5s (other pairs are \"not comparable\"). The task's\n"
     "filters apply. Exit 0 match, 1 differences, 2 usage, 3 unknown task, 4 the check could not\n"
     "finish.",
     "ferry check photos\nferry check photos --prefix 2026/ --download", cmd_check, 0},
};
#define NCOMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: ferry [--redis URL] [--state-dir DIR] COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-13s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nferry COMMAND --help shows a command's options and examples; docs/cli.md has "
               "them all.\n\nRedis: --redis URL or FERRY_REDIS_URL "
               "(redis://[:password@]host:port[/db], unix:///path);\nwithout one, a private "
               "redis-server under the state dir.\n");
    return code;
}

/* The row of "NAME" (or "task SUB"); NULL if none. */
static const cli_cmd_t *find(const char *name, const char *sub)
{
    for (size_t c = 0; c < NCOMMANDS; c++) {
        const char *n = COMMANDS[c].name;
        size_t l = strlen(name);
        if (strncmp(n, name, l) != 0)
            continue;
        if (n[l] == '\0')
            return &COMMANDS[c];
        if (n[l] == ' ' && sub && strcmp(n + l + 1, sub) == 0)
            return &COMMANDS[c];
    }
    return NULL;
}

static int task_usage(FILE *f, int code)
{
    fprintf(f, "usage: ferry task SUBCOMMAND …\n\nsubcommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strncmp(COMMANDS[i].name, "task ", 5) == 0)
            fprintf(f, "  %-12s %s\n", COMMANDS[i].name + 5, COMMANDS[i].summary);
    fprintf(f, "\nferry task SUBCOMMAND --help shows its options and examples.\n");
    return code;
}

int main(int argc, char **argv)
{
    cli_t g = {0};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout, CLI_OK);
        int r = cli_global_opt(&g, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r == 0)
            return cli_error(CLI_USAGE,
                             "unknown option %s before the command (see ferry --help; a "
                             "command's own options follow its name)",
                             argv[i]);
    }
    if (i >= argc) {
        usage(stderr, CLI_USAGE);
        return cli_error(CLI_USAGE, "a command is missing (see the list above)");
    }
    if (strcmp(argv[i], "help") == 0) {
        const cli_cmd_t *c =
            i + 1 < argc ? find(argv[i + 1], i + 2 < argc ? argv[i + 2] : NULL) : NULL;
        if (c) {
            cli_help(stdout, c);
            return CLI_OK;
        }
        return usage(stdout, CLI_OK);
    }
    const cli_cmd_t *cmd = NULL;
    if (strcmp(argv[i], "task") == 0) {
        /* global options may come between task and its subcommand */
        int j = i + 1;
        while (j < argc && argv[j][0] == '-') {
            if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0)
                return task_usage(stdout, CLI_OK);
            int r = cli_global_opt(&g, argc, argv, &j);
            if (r < 0)
                return CLI_USAGE;
            if (r == 0)
                return cli_error(CLI_USAGE, "task: unknown option %s (see ferry task --help)",
                                 argv[j]);
        }
        if (j >= argc)
            return cli_error(CLI_USAGE,
                             "task: add, ls, show, rm, run or secret? (see ferry task --help)");
        cmd = find("task", argv[j]);
        if (cmd == NULL)
            return cli_error(CLI_USAGE,
                             "task: unknown subcommand \"%s\" (add, ls, show, rm, run, secret; "
                             "see ferry task --help)",
                             argv[j]);
        i = j;
    } else
        cmd = find(argv[i], NULL);
    if (cmd == NULL)
        return cli_error(CLI_USAGE, "unknown command \"%s\" (see ferry --help)", argv[i]);
    cli_args_t a;
    int code = cli_parse(&g, cmd, argc - i, argv + i, &a);
    if (code == CLI_HELP)
        code = CLI_OK;
    else if (code == CLI_OK)
        code = cmd->fn(&g, &a);
    cli_args_free(&a);
    return code;
}
