/* ferry CLI internals shared by the command files (not a library header). */
#ifndef FERRY_CMD_CLI_H
#define FERRY_CMD_CLI_H

#include <stdio.h>

#include "ferry/redis.h"

/* Exit codes (INTERFACE.md). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_UNKNOWN = 3, CLI_TIMEOUT = 124 };

typedef struct cli_s {
    const char *redis_url; /* --redis, else $FERRY_REDIS_URL, else the private server */
    const char *state_dir; /* --state-dir, else $FERRY_STATE_DIR, else ~/.local/state/ferry */
    int json;
} cli_t;

/* If argv[*i] is a global option (--redis, --state-dir, --json) consume it (and its value)
 * and return 1; 0 if not; -1 (after printing) on a missing value. */
int cli_global_opt(cli_t *g, int argc, char **argv, int *i);

/* Connect as the options say, starting the private server if needed. Prints the error and
 * returns NULL on failure. */
ferry_redis_t *cli_connect(cli_t *g);

/* Print "ferry: <msg>" to stderr and return code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print the connection's last error and map its code to an exit code. */
int cli_redis_error(ferry_redis_t *r);

/* Print s[0..n) for a terminal: control bytes (< 0x20), DEL, C1 controls (U+0080..U+009F),
 * backslash and every byte that is not part of valid UTF-8 are written as \xHH (backslash as
 * \\), so a key can neither forge an output line nor send a terminal escape. */
void cli_put_escaped(FILE *f, const char *s, size_t n);
/* The same for a NUL-terminated string (NULL prints "-"). */
void cli_puts_escaped(FILE *f, const char *s);
/* 1 when s is printable as is: valid UTF-8 without control bytes, DEL or C1 controls. */
int cli_printable(const char *s);
/* Print s single-quoted for a POSIX shell ('\'' for each quote). Only for printable strings. */
void cli_put_shell_quoted(FILE *f, const char *s);

/* Command families: argv[0] is the command name. */
int cmd_task(cli_t *g, int argc, char **argv);
int cmd_status(cli_t *g, int argc, char **argv);
int cmd_ls(cli_t *g, int argc, char **argv);
int cmd_wait(cli_t *g, int argc, char **argv);
int cmd_retry(cli_t *g, int argc, char **argv);
int cmd_down(cli_t *g, int argc, char **argv);
int cmd_not_yet(cli_t *g, int argc, char **argv);
int cmd_worker(cli_t *g, int argc, char **argv);
int cmd_event(cli_t *g, int argc, char **argv);
int cmd_check(cli_t *g, int argc, char **argv);
/* scheduler issue: sync_cmd.c, scheduler_cmd.c (task run is called by cmd_task) */
int cmd_sync(cli_t *g, int argc, char **argv);
int cmd_scheduler(cli_t *g, int argc, char **argv);
int cmd_task_run(cli_t *g, int argc, char **argv);
/* service issue: ferry task secret NAME (scheduler_cmd.c) */
int cmd_task_secret(cli_t *g, int argc, char **argv);
/* autoscaling issue: ferry up (up_cmd.c) */
int cmd_up(cli_t *g, int argc, char **argv);

#endif
