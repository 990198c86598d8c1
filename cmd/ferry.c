/* ferry — the one binary: dispatch to a command family. Later issues add their families to
 * COMMANDS (sync, up, worker, scheduler, event); everything shared is in cli.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*fn)(cli_t *g, int argc, char **argv);
    const char *help;
} command_t;

static const command_t COMMANDS[] = {
    {"task", cmd_task, "task add|ls|show|rm|run|secret …   define and inspect tasks"},
    {"status", cmd_status, "status NAME KEY [--json]   one object's record"},
    {"ls", cmd_ls, "ls NAME [--state S] [--prefix P] [--limit N] [--cursor C] [--json]"},
    {"wait", cmd_wait, "wait NAME [--prefix P] [--timeout DUR] [--progress]"},
    {"retry", cmd_retry, "retry NAME [--state failed] [KEY…]"},
    {"down", cmd_down, "down                        stop the private redis-server"},
    /* Extension points: the roles arrive with later issues. */
    {"sync", cmd_sync, "sync --from LOC --to LOC … one-shot copy"},
    {"up", cmd_up, "up [--workers MIN..MAX]     scheduler, API and local workers"},
    {"worker", cmd_worker, "worker [--task NAME]… [--concurrency N] [--slot N] [--exit-when-idle]"},
    {"scheduler", cmd_scheduler,
     "scheduler [--task NAME]… [--lease-ttl DUR] [--listen ADDR|off] [--api-token-file F] "
     "[--public-read] [--tls-cert F --tls-key F]   scan tasks on schedule, serve the HTTP API"},
    {"event", cmd_event, "event NAME [FILE|-]         enqueue one event payload"},
    {"check", cmd_check,
     "check NAME [--prefix P] [--download] [--json]   audit the copy (no ledger)"},
};

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: ferry [--redis URL] [--state-dir DIR] COMMAND …\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        fprintf(f, "  %s\n", COMMANDS[i].help);
    fprintf(f, "\nRedis: --redis URL or FERRY_REDIS_URL (redis://[:password@]host:port[/db], "
               "unix:///path);\nwithout one, a private redis-server under the state dir.\n");
    return code;
}

int main(int argc, char **argv)
{
    cli_t g = {0};
    int i = 1;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        if (strcmp(argv[i], "--help") == 0)
            return usage(stdout, CLI_OK);
        int r = cli_global_opt(&g, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r == 0)
            return cli_error(CLI_USAGE, "unknown option %s (see ferry --help)", argv[i]);
    }
    if (i >= argc)
        return usage(stderr, CLI_USAGE);
    if (strcmp(argv[i], "help") == 0)
        return usage(stdout, CLI_OK);
    for (size_t c = 0; c < sizeof(COMMANDS) / sizeof(COMMANDS[0]); c++)
        if (strcmp(argv[i], COMMANDS[c].name) == 0) {
            /* "ferry CMD --help": the command's own text when it has one, else its line */
            int own = strcmp(argv[i], "check") == 0 || strcmp(argv[i], "worker") == 0 ||
                      strcmp(argv[i], "up") == 0;
            if (!own && i + 1 < argc &&
                (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
                printf("usage: ferry %s\n", COMMANDS[c].help);
                return CLI_OK;
            }
            return COMMANDS[c].fn(&g, argc - i, argv + i);
        }
    return cli_error(CLI_USAGE, "unknown command \"%s\" (see ferry --help)", argv[i]);
}
