/* Fuzz the command-line parser (cmd/cli.c cli_parse over the option table, then the task options
 * through ferry_task_parse_args and the scan overrides): the input is argv, NUL-separated; its
 * first byte picks the command's shape. Output (errors, help) goes to /dev/null. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scan.h"
#include "ferry/task.h"

/* The shapes of ferry.c's commands that matter to the parser (fn unused here). */
static const cli_cmd_t CMDS[] = {
    {"task add", C_TASK_ADD, "NAME [task options]", 1, 1, ~0u, "", "", "", NULL, 0},
    {"task run", C_TASK_RUN, "NAME [options]", 1, 1, FERRY_TASK_OPT_SCAN, "", "", "", NULL, 0},
    {"ls", C_LS, "NAME [options]", 1, 1, 0, "", "", "", NULL, 0},
    {"retry", C_RETRY, "NAME [KEY…]", 1, -1, 0, "", "", "", NULL, 0},
    {"sync", C_SYNC, "[options]", 0, 0, ~0u, "", "", "", NULL, 0},
    {"worker", C_WORKER, "[options]", 0, 0, 0, "", "", "", NULL, 0},
    {"scheduler", C_SCHEDULER, "[options]", 0, 0, FERRY_TASK_OPT_SCAN, "", "", "", NULL, 0},
    {"event", C_EVENT, "NAME [FILE|-]", 1, 2, 0, "", "", "", NULL, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        quiet = 1;
        if (freopen("/dev/null", "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
            return 0;
    }
    if (size < 1 || size > 4096)
        return 0;
    const cli_cmd_t *cmd = &CMDS[data[0] % (sizeof(CMDS) / sizeof(CMDS[0]))];
    char *buf = malloc(size);
    char *argv[256];
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    int argc = 0;
    argv[argc++] = (char *)cmd->name;
    for (char *p = buf; p < buf + size - 1 && argc < 255; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    cli_t g = {0};
    cli_args_t a;
    if (cli_parse(&g, cmd, argc, argv, &a) == CLI_OK) {
        ferry_task_t t;
        ferry_task_init(&t);
        ferry_error_t err;
        snprintf(t.name, sizeof(t.name), "fuzz");
        (void)ferry_task_parse_args(&t, a.task_argc, a.task_argv, &err);
        ferry_task_clear(&t);
        ferry_scan_opts_t o;
        memset(&o, 0, sizeof(o));
        (void)cli_scan_opts(&a, 1, &o);
    }
    cli_args_free(&a);
    free(buf);
    return 0;
}
