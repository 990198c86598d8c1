/* ferry CLI internals shared by the command files (not a library header). */
#ifndef FERRY_CMD_CLI_H
#define FERRY_CMD_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "ferry/redis.h"

/* Exit codes (docs/cli.md). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_UNKNOWN = 3, CLI_TIMEOUT = 124 };

typedef struct cli_s {
    const char *redis_url; /* --redis, else $FERRY_REDIS_URL, else the private server */
    const char *state_dir; /* --state-dir, else $FERRY_STATE_DIR, else ~/.local/state/ferry */
    int json;
} cli_t;

/* ---- the option table (cli.c) ---------------------------------------------------------------
 * Every option of every command is one row of OPTS in cli.c: its name, the kind of value it
 * takes, the value's bounds, the commands that accept it and its help line. The task options
 * (--from, --every, --min-size, …) are the rows of lib/store/task.c's table (ferry/task.h),
 * which the commands that define a task (or override one scan) accept as well. cli_parse reads
 * argv once against both, converts and checks every value, and hands the command a cli_args_t;
 * no command looks at argv itself. */

/* Commands, as bits of an option's command set. */
enum {
    C_TASK_ADD = 1u << 0,
    C_TASK_LS = 1u << 1,
    C_TASK_SHOW = 1u << 2,
    C_TASK_RM = 1u << 3,
    C_TASK_RUN = 1u << 4,
    C_TASK_SECRET = 1u << 5,
    C_STATUS = 1u << 6,
    C_LS = 1u << 7,
    C_WAIT = 1u << 8,
    C_RETRY = 1u << 9,
    C_DOWN = 1u << 10,
    C_SYNC = 1u << 11,
    C_WORKER = 1u << 12,
    C_SCHEDULER = 1u << 13,
    C_EVENT = 1u << 14,
    C_CHECK = 1u << 15,
    C_UP = 1u << 16,
    C_ALL = (1u << 17) - 1,
};

/* Option ids: the index of the option's value in cli_args_t.v. */
typedef enum {
    O_REDIS,
    O_STATE_DIR,
    O_JSON,
    O_STATE,
    O_PREFIX,
    O_LIMIT,
    O_CURSOR,
    O_UNVERIFIED,
    O_FORMAT,
    O_TIMEOUT,
    O_PROGRESS,
    O_DRY_RUN,
    O_ALLOW_EMPTY_SOURCE,
    O_PARALLEL,
    O_MAX_BACKLOG,
    O_NAME,
    O_WORKERS,
    O_TASK,
    O_TICK,
    O_LEASE_TTL,
    O_LISTEN,
    O_API_TOKEN_FILE,
    O_PUBLIC_READ,
    O_TLS_CERT,
    O_TLS_KEY,
    O_CONCURRENCY,
    O_PARTS_PER_JOB,
    O_STREAMS,
    O_MAX_ATTEMPTS,
    O_DELIVERY_CAP,
    O_CONSUMER,
    O_SLOT,
    O_EXIT_WHEN_IDLE,
    O_GRACE,
    O_LEASE,
    O_VISIBILITY,
    O_JANITOR_AGE,
    O_JANITOR_EVERY,
    O_RING,
    O_MD5_HOLD,
    O_PEERS,
    O_LOG_LEVEL,
    O_DOWNLOAD,
    O_UP_WORKERS,
    O_COOLDOWN,
    O_DRAIN_TARGET,
    O_NO_SCAN,
    O_VERBOSE,
    O_PROGRESS_INTERVAL,
    O_LOG_FORMAT,
    O_ERROR_CODE,
    O__COUNT
} cli_opt_id_t;

/* One option's value after parsing. Which member is meaningful follows the option's kind. */
typedef struct {
    int set;         /* given on the command line */
    int word;        /* the option's keyword was given instead of a value ("off", "auto") */
    const char *str; /* the text as given (every kind) */
    long long num;   /* whole numbers; durations in ms; sizes in bytes (CLI_SIZE: see size) */
    uint64_t size;   /* sizes */
} cli_val_t;

#define CLI_POS_MAX  8
#define CLI_MANY_MAX 64

/* What cli_parse found. Strings point into argv. */
typedef struct cli_args_s {
    cli_val_t v[O__COUNT];
    const char *pos[CLI_POS_MAX]; /* positionals, in order */
    int npos;
    const char **rest; /* positionals past CLI_POS_MAX (ferry retry NAME KEY…), nrest of them */
    int nrest;
    const char *many[CLI_MANY_MAX]; /* every value of the repeatable option (--task), in order */
    int nmany;
    char **task_argv; /* task options as given ("--from", "LOC", "--delete", "--every=1h") */
    int task_argc;
    char **pass; /* a passthrough command's arguments after "--", as given (into argv) */
    int npass;
} cli_args_t;

typedef struct cli_cmd_s cli_cmd_t;
struct cli_cmd_s {
    const char *name;     /* "ls", "task add" */
    unsigned bit;         /* C_LS … */
    const char *synopsis; /* after "ferry NAME ": "NAME [KEY…] [options]" */
    int pos_min, pos_max; /* how many positionals (-1: any number) */
    unsigned task_opts;   /* 0; ~0u: every task option; FERRY_TASK_OPT_SCAN: those flags */
    const char *summary;  /* one line for ferry --help */
    const char *text;     /* what it does, a few lines */
    const char *examples; /* lines, each a command */
    int (*fn)(cli_t *g, const cli_args_t *a);
    int passthrough; /* 1: what follows "--" is kept as is in cli_args_t.pass (ferry up hands it
                      * to its workers), not parsed as positionals */
};

/* Parse argv[1..argc) (argv[0] is the command's last word) for cmd: global options anywhere,
 * the command's options, "--opt=VALUE" or "--opt VALUE", "--" ends the options. Returns CLI_OK;
 * CLI_USAGE after printing what is wrong and what to do; CLI_HELP after printing the command's
 * help (for --help or -h); CLI_FAIL when out of memory. a->task_argv and a->rest are allocated
 * whatever it returns: release them with cli_args_free. */
#define CLI_HELP (-1)
int cli_parse(cli_t *g, const cli_cmd_t *cmd, int argc, char **argv, cli_args_t *a);
void cli_args_free(cli_args_t *a);

/* The help of one command (usage, text, options with their help, examples). */
void cli_help(FILE *f, const cli_cmd_t *cmd);

/* Parse only the global options before the command (ferry --redis URL COMMAND …): consume
 * argv[*i] and its value when it is one and return 1; 0 when not; -1 (printed) when its value
 * is missing. */
int cli_global_opt(cli_t *g, int argc, char **argv, int *i);

/* The Redis URL every role uses: --redis, else $FERRY_REDIS_URL, else the private server of
 * the state dir (started if needed). FERRY_OK, or an error code with err set (what to do). */
int cli_redis_url(cli_t *g, char *buf, size_t n, ferry_error_t *err);

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

/* Commands (ferry.c's table names them). */
int cmd_task_add(cli_t *g, const cli_args_t *a);
int cmd_task_ls(cli_t *g, const cli_args_t *a);
int cmd_task_show(cli_t *g, const cli_args_t *a);
int cmd_task_rm(cli_t *g, const cli_args_t *a);
int cmd_status(cli_t *g, const cli_args_t *a);
int cmd_ls(cli_t *g, const cli_args_t *a);
int cmd_wait(cli_t *g, const cli_args_t *a);
int cmd_retry(cli_t *g, const cli_args_t *a);
int cmd_down(cli_t *g, const cli_args_t *a);
int cmd_worker(cli_t *g, const cli_args_t *a);
int cmd_event(cli_t *g, const cli_args_t *a);
int cmd_check(cli_t *g, const cli_args_t *a);
/* sync_cmd.c, scheduler_cmd.c */
int cmd_sync(cli_t *g, const cli_args_t *a);
int cmd_scheduler(cli_t *g, const cli_args_t *a);
int cmd_task_run(cli_t *g, const cli_args_t *a);
int cmd_task_secret(cli_t *g, const cli_args_t *a);
/* up_cmd.c */
int cmd_up(cli_t *g, const cli_args_t *a);

/* The scan options of ferry task run, ferry scheduler and ferry sync (--dry-run,
 * --allow-empty-source, --parallel, --max-backlog) and, with filters, the task's size/age
 * filters given for this scan only (ferry task run, ferry scheduler). CLI_OK or CLI_USAGE
 * (printed). */
struct ferry_scan_opts_s;
int cli_scan_opts(const cli_args_t *a, int filters, struct ferry_scan_opts_s *o);

#endif
