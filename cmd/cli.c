/* ferry CLI: options and connection shared by every command. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/redisd.h"
#include "ferry/task.h"
#include "scan.h"
#include "ferry/text.h"

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("ferry: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

void cli_put_escaped(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = ferry_utf8_seq_len(p + i, n - i);
        if (l && !ferry_utf8_is_control(p + i, l) && p[i] != '\\') {
            fwrite(p + i, 1, l, f);
            i += l;
        } else if (p[i] == '\\') {
            fputs("\\\\", f);
            i++;
        } else {
            /* an invalid byte, or every byte of a control character */
            size_t m = l ? l : 1;
            for (size_t k = 0; k < m; k++)
                fprintf(f, "\\x%02x", p[i + k]);
            i += m;
        }
    }
}

void cli_puts_escaped(FILE *f, const char *s)
{
    if (s == NULL)
        s = "-";
    cli_put_escaped(f, s, strlen(s));
}

int cli_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = ferry_utf8_seq_len(p + i, n - i);
        if (l == 0 || ferry_utf8_is_control(p + i, l))
            return 0;
        i += l;
    }
    return 1;
}

void cli_put_shell_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* ---- the option table ------------------------------------------------------------------- */

typedef enum { K_FLAG, K_STR, K_INT, K_SIZE, K_DUR, K_CHOICE } kind_t;

typedef struct {
    cli_opt_id_t id;
    const char *name;    /* "--state" */
    kind_t kind;         /* the value's kind */
    long long lo, hi;    /* bounds of K_INT, K_DUR (ms), K_SIZE (bytes; hi 0: none) */
    const char *metavar; /* "S" in the help */
    const char *word;    /* a keyword accepted instead of a value ("off"), or NULL */
    const char *choices; /* K_CHOICE: "a|b|c" */
    unsigned cmds;       /* the commands that take it */
    unsigned flags;      /* F_MANY: repeatable, every value kept (cli_args_t.many) */
    const char *help;
} opt_t;

enum { F_MANY = 1 };

#define SCAN_CMDS  (C_TASK_RUN | C_SCHEDULER | C_SYNC | C_UP)
#define SCHED_CMDS (C_SCHEDULER | C_UP)         /* ferry up runs the scheduler and its API */
#define DUR_MAX    (1000LL * 86400 * 365 * 100) /* 100 years: larger is a typo */

/* Global options first: the help lists them apart. Aliases are rows of their own with the same
 * id (--max-deliveries). */
static const opt_t OPTS[] = {
    {O_REDIS, "--redis", K_STR, 0, 0, "URL", NULL, NULL, C_ALL, 0,
     "Redis: redis://[:PASSWORD@]HOST:PORT[/DB] or unix:///PATH (else $FERRY_REDIS_URL, else a "
     "private redis-server under the state dir)"},
    {O_STATE_DIR, "--state-dir", K_STR, 0, 0, "DIR", NULL, NULL, C_ALL, 0,
     "the private redis-server's directory (else $FERRY_STATE_DIR, else ~/.local/state/ferry)"},
    {O_JSON, "--json", K_FLAG, 0, 0, NULL, NULL, NULL, C_ALL, 0,
     "machine-readable output: one JSON value per line"},
    {O_STATE, "--state", K_STR, 0, 0, "STATE", NULL, NULL, C_LS | C_RETRY, 0,
     "only records in STATE: queued, copying, done, failed, skipped or deleted (retry: failed)"},
    {O_ERROR_CODE, "--error", K_STR, 0, 0, "CODE", NULL, NULL, C_RETRY, 0,
     "only the failed records with error code CODE (dst:403, checksum:dst, …; \"dst\": every "
     "dst:…; docs/cli.md, Error codes)"},
    {O_PREFIX, "--prefix", K_STR, 0, 0, "P", NULL, NULL, C_LS | C_WAIT | C_CHECK, 0,
     "only keys under P (check: relative to the task's locations)"},
    {O_LIMIT, "--limit", K_INT, 1, 1000000, "N", NULL, NULL, C_LS, 0,
     "N records per page (default 1000): the page shown, or each page an export fetches"},
    {O_CURSOR, "--cursor", K_STR, 0, 0, "C", NULL, NULL, C_LS, 0,
     "start where the previous page ended (the cursor it printed)"},
    {O_UNVERIFIED, "--unverified", K_FLAG, 0, 0, NULL, NULL, NULL, C_LS, 0,
     "done records whose source bytes could not be checked (src:unverified)"},
    {O_FORMAT, "--format", K_CHOICE, 0, 0, "F", NULL, "table|csv|json|jsonl", C_LS, 0,
     "table (default, one page); csv, json (one array) or jsonl (one object a line): every "
     "matching record, page after page, with its error, attempts, times and worker"},
    {O_TIMEOUT, "--timeout", K_DUR, 0, DUR_MAX, "DUR", NULL, NULL, C_WAIT, 0,
     "give up after DUR (exit 124)"},
    {O_PROGRESS, "--progress", K_FLAG, 0, 0, NULL, NULL, NULL, C_WAIT, 0,
     "draw progress on stderr"},
    {O_DRY_RUN, "--dry-run", K_FLAG, 0, 0, NULL, NULL, NULL, SCAN_CMDS, 0,
     "decide and count, write nothing"},
    {O_ALLOW_EMPTY_SOURCE, "--allow-empty-source", K_FLAG, 0, 0, NULL, NULL, NULL, SCAN_CMDS, 0,
     "with --delete: delete even when the source lists nothing"},
    {O_PARALLEL, "--parallel", K_INT, 1, 256, "N", NULL, NULL, SCAN_CMDS, 0,
     "list N partitions at once (default 8)"},
    {O_MAX_BACKLOG, "--max-backlog", K_INT, -1, 1LL << 40, "N", NULL, NULL, SCAN_CMDS, 0,
     "pause the scan above N queued jobs (default 500000; -1: never)"},
    {O_NAME, "--name", K_STR, 0, 0, "NAME", NULL, NULL, C_SYNC, 0,
     "the task's name (default: made from --from and --to)"},
    {O_WORKERS, "--workers", K_INT, 0, 256, "N", NULL, NULL, C_SYNC, 0,
     "local worker processes (default: one per CPU this process may use, at most 16; 0: workers "
     "run elsewhere)"},
    {O_VERBOSE, "-v", K_FLAG, 0, 0, NULL, NULL, NULL, C_SYNC, 0,
     "on a terminal, show every line of the workers' log (one per object) above the display"},
    {O_VERBOSE, "--verbose", K_FLAG, 0, 0, NULL, NULL, NULL, C_SYNC, 0, "the same as -v"},
    {O_PROGRESS_INTERVAL, "--progress-interval", K_DUR, 100, DUR_MAX, "DUR", NULL, NULL,
     C_SYNC | C_WAIT, 0, "without a terminal: a progress line every DUR (default 10s)"},
    {O_LOG_FORMAT, "--log-format", K_CHOICE, 0, 0, "F", NULL, "text|json", C_SYNC | C_WORKER, 0,
     "log lines as text (logfmt, the default) or as JSON objects, one a line"},
    {O_TASK, "--task", K_STR, 0, 0, "NAME", NULL, NULL, C_WORKER | SCHED_CMDS, F_MANY,
     "only this task (repeatable, 64 at most; default: every task)"},
    {O_TICK, "--tick", K_DUR, 100, DUR_MAX, "DUR", NULL, NULL, SCHED_CMDS, 0,
     "how often to look for due tasks (default 1s)"},
    {O_LEASE_TTL, "--lease-ttl", K_DUR, 100, DUR_MAX, "DUR", NULL, NULL, SCHED_CMDS, 0,
     "a task's scan lease lapses DUR after its holder stops renewing it (default 30s)"},
    {O_NO_SCAN, "--no-scan", K_FLAG, 0, 0, NULL, NULL, NULL, C_SCHEDULER, 0,
     "serve the API only: scan nothing (another replica, ferry up or ferry sync scans)"},
    {O_LISTEN, "--listen", K_STR, 0, 0, "ADDR", "off", NULL, SCHED_CMDS, 0,
     "serve the HTTP API on ADDR (default 127.0.0.1:8470; off: none)"},
    {O_API_TOKEN_FILE, "--api-token-file", K_STR, 0, 0, "FILE", NULL, NULL, SCHED_CMDS, 0,
     "the API's bearer token (else $FERRY_API_TOKEN)"},
    {O_PUBLIC_READ, "--public-read", K_FLAG, 0, 0, NULL, NULL, NULL, SCHED_CMDS, 0,
     "read routes without the token"},
    {O_TLS_CERT, "--tls-cert", K_STR, 0, 0, "FILE", NULL, NULL, SCHED_CMDS, 0,
     "serve HTTPS with this PEM certificate (with --tls-key)"},
    {O_TLS_KEY, "--tls-key", K_STR, 0, 0, "FILE", NULL, NULL, SCHED_CMDS, 0,
     "the PEM private key of --tls-cert"},
    {O_CONCURRENCY, "--concurrency", K_INT, 1, 4096, "N", NULL, NULL, C_WORKER | C_UP, 0,
     "copies in flight per worker process (default 64)"},
    {O_PARTS_PER_JOB, "--parts-per-job", K_INT, 1, 256, "N", NULL, NULL, C_WORKER, 0,
     "streams one multipart copy may hold (default 4)"},
    {O_STREAMS, "--streams", K_INT, 1, 4096, "N", NULL, NULL, C_WORKER, 0,
     "transfer streams per process (default: concurrency x parts-per-job, at most 64)"},
    {O_MAX_ATTEMPTS, "--max-attempts", K_INT, 1, 1000, "N", NULL, NULL, C_WORKER, 0,
     "a copy that ran and failed N times is failed (default 5)"},
    {O_MAX_ATTEMPTS, "--max-deliveries", K_INT, 1, 1000, "N", NULL, NULL, C_WORKER, 0,
     "the older name of --max-attempts"},
    {O_DELIVERY_CAP, "--delivery-cap", K_INT, 1, 100000, "N", NULL, NULL, C_WORKER, 0,
     "safety cap on one job's deliveries: restarts, busy leases (default 100)"},
    {O_CONSUMER, "--consumer", K_STR, 0, 0, "NAME", NULL, NULL, C_WORKER, 0,
     "this worker's consumer name, 1..100 characters (instead of --slot)"},
    {O_SLOT, "--slot", K_INT, 0, 100000, "N", "auto", NULL, C_WORKER, 0,
     "consumer HOST/N (default 0); auto: the lowest slot no live worker holds"},
    {O_EXIT_WHEN_IDLE, "--exit-when-idle", K_FLAG, 0, 0, NULL, NULL, NULL, C_WORKER, 0,
     "exit once no work is left"},
    {O_GRACE, "--grace", K_DUR, 1, DUR_MAX, "DUR", NULL, NULL, C_WORKER, 0,
     "on SIGTERM, let copies in flight finish for up to DUR (default 30s)"},
    {O_LEASE, "--lease", K_DUR, 1, DUR_MAX, "DUR", NULL, NULL, C_WORKER, 0,
     "per-key copy lease, renewed every third of it (default 60s)"},
    {O_VISIBILITY, "--visibility", K_DUR, 1, DUR_MAX, "DUR", NULL, NULL, C_WORKER, 0,
     "queue visibility timeout: a job unacknowledged for DUR is delivered again (default 300s)"},
    {O_JANITOR_AGE, "--janitor-age", K_DUR, 1, DUR_MAX, "DUR", "off", NULL, C_WORKER, 0,
     "abort multipart uploads that ferry started and no record owns, older than DUR (default "
     "24h; off: never)"},
    {O_JANITOR_EVERY, "--janitor-every", K_DUR, 1, DUR_MAX, "DUR", NULL, NULL, C_WORKER, 0,
     "how often the janitor looks (default 1h)"},
    {O_RING, "--ring", K_SIZE, 256 * 1024, 1LL << 30, "SIZE", NULL, NULL, C_WORKER, 0,
     "bytes per transfer stream, 256KiB..1GiB (default 2MiB)"},
    {O_MD5_HOLD, "--md5-hold", K_SIZE, 1LL << 20, 1LL << 36, "SIZE", NULL, NULL, C_WORKER, 0,
     "bytes read ahead of a whole-object MD5 (parts of a plain-MD5 source) held in memory at "
     "most, per process (default 64MiB)"},
    {O_PEERS, "--peers", K_INT, 1, 1024, "N", NULL, NULL, C_WORKER, 0,
     "workers expected to share the tasks' jobs, this one included (default 1: those that have "
     "read); near the end of a backlog a worker holds at most its share (ferry sync passes its "
     "--workers)"},
    {O_LOG_LEVEL, "--log-level", K_CHOICE, 0, 0, "L", NULL, "debug|info|warn|error|off", C_WORKER,
     0, "log at L and above (default info)"},
    {O_DOWNLOAD, "--download", K_FLAG, 0, 0, NULL, NULL, NULL, C_CHECK, 0,
     "also compare the bytes of every pair of equal size (SHA-256 while streaming)"},
    {O_UP_WORKERS, "--workers", K_STR, 0, 0, "MIN..MAX", NULL, NULL, C_UP, 0,
     "worker processes on this machine, as the scaling policy says (default 1..4; N: N..N)"},
    {O_COOLDOWN, "--cooldown", K_DUR, 100, DUR_MAX, "DUR", NULL, NULL, C_UP, 0,
     "scale down only after the backlog stayed lower this long (default 60s)"},
    {O_DRAIN_TARGET, "--drain-target", K_DUR, 100, DUR_MAX, "DUR", NULL, NULL, C_UP, 0,
     "aim to drain a backlog within DUR (default 60s)"},
};
#define NOPTS   (sizeof(OPTS) / sizeof(OPTS[0]))
#define NGLOBAL 3

/* The row named by arg ("--x" or "--x=v") that cmd takes; NULL if none. */
static const opt_t *find_opt(const char *arg, unsigned cmd)
{
    size_t n = strcspn(arg, "=");
    for (size_t i = 0; i < NOPTS; i++)
        if ((OPTS[i].cmds & cmd) && strncmp(OPTS[i].name, arg, n) == 0 && OPTS[i].name[n] == '\0')
            return &OPTS[i];
    return NULL;
}

static void fmt_size(uint64_t b, char *buf, size_t n)
{
    static const char *const U[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < 4 && b >= 1024 && b % 1024 == 0) {
        b /= 1024;
        u++;
    }
    snprintf(buf, n, "%llu%s", (unsigned long long)b, U[u]);
}

static void fmt_dur(long long ms, char *buf, size_t n)
{
    if (ms % 1000)
        snprintf(buf, n, "%lldms", ms);
    else
        snprintf(buf, n, "%llds", ms / 1000);
}

/* Convert and check v for o. CLI_OK or CLI_USAGE (printed: what is wrong, what would do). */
static int parse_value(const char *cmd, const opt_t *o, const char *v, cli_val_t *out)
{
    out->str = v;
    if (o->word && strcmp(v, o->word) == 0) {
        out->word = 1;
        return CLI_OK;
    }
    char lo[32], hi[32];
    switch (o->kind) {
    case K_FLAG:
    case K_STR:
        if (o->kind == K_STR && strlen(v) > 4096)
            return cli_error(CLI_USAGE, "%s: %s: the value is longer than 4096 bytes", cmd,
                             o->name);
        return CLI_OK;
    case K_CHOICE: {
        size_t n = strlen(v);
        for (const char *c = o->choices; *c;) {
            size_t l = strcspn(c, "|");
            if (l == n && strncmp(c, v, n) == 0)
                return CLI_OK;
            c += l + (c[l] == '|');
        }
        return cli_error(CLI_USAGE, "%s: %s: '%.60s' is not one of %s", cmd, o->name, v,
                         o->choices);
    }
    case K_INT: {
        char *e;
        errno = 0;
        long long x = strtoll(v, &e, 10);
        if (*v == '\0' || *e || errno || x < o->lo || x > o->hi)
            return cli_error(
                CLI_USAGE, "%s: %s: '%.60s' is not a whole number from %lld to %lld%s%s", cmd,
                o->name, v, o->lo, o->hi, o->word ? " or " : "", o->word ? o->word : "");
        out->num = x;
        return CLI_OK;
    }
    case K_SIZE: {
        uint64_t b;
        if (ferry_parse_size(v, &b) != FERRY_OK)
            return cli_error(CLI_USAGE, "%s: %s: '%.60s' is not a size (examples: 10MiB, 1G)", cmd,
                             o->name, v);
        if (b < (uint64_t)o->lo || (o->hi && b > (uint64_t)o->hi)) {
            fmt_size((uint64_t)o->lo, lo, sizeof(lo));
            fmt_size((uint64_t)o->hi, hi, sizeof(hi));
            return cli_error(CLI_USAGE,
                             "%s: %s: '%.60s' is out of range: give a size from %s to %s", cmd,
                             o->name, v, lo, hi);
        }
        out->size = b;
        out->num = (long long)b;
        return CLI_OK;
    }
    case K_DUR: {
        int64_t ms;
        if (ferry_parse_duration(v, &ms) != FERRY_OK)
            return cli_error(CLI_USAGE,
                             "%s: %s: '%.60s' is not a duration (examples: 500ms, 30s, 10m, "
                             "1h30m, 7d)%s%s",
                             cmd, o->name, v, o->word ? "; or " : "", o->word ? o->word : "");
        if (ms < o->lo || ms > o->hi) {
            fmt_dur(o->lo, lo, sizeof(lo));
            return cli_error(CLI_USAGE, "%s: %s: '%.60s' is out of range: give at least %s%s", cmd,
                             o->name, v, lo, ms > o->hi ? " and at most 100 years" : "");
        }
        out->num = ms;
        return CLI_OK;
    }
    }
    return CLI_OK;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int cli_parse(cli_t *g, const cli_cmd_t *cmd, int argc, char **argv, cli_args_t *a)
{
    memset(a, 0, sizeof(*a));
    const char *cn = cmd->name;
    int opts_done = 0;
    a->task_argv = calloc((size_t)argc + 1, sizeof(char *));
    a->rest = calloc((size_t)argc + 1, sizeof(char *));
    if (a->task_argv == NULL || a->rest == NULL)
        return cli_error(CLI_FAIL, "out of memory");
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        if (!opts_done && strcmp(arg, "--") == 0) {
            if (cmd->passthrough) {
                a->pass = argv + i + 1;
                a->npass = argc - i - 1;
                break;
            }
            opts_done = 1;
            i++;
            continue;
        }
        if (opts_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (cmd->pos_max >= 0 && a->npos + a->nrest >= cmd->pos_max)
                return cli_error(CLI_USAGE,
                                 "%s: unexpected argument '%.80s' (usage: ferry %s %s; see ferry "
                                 "%s --help)",
                                 cn, arg, cn, cmd->synopsis, cn);
            if (a->npos < CLI_POS_MAX)
                a->pos[a->npos++] = arg;
            else
                a->rest[a->nrest++] = arg;
            i++;
            continue;
        }
        if (is_help(arg)) {
            cli_help(stdout, cmd);
            return CLI_HELP;
        }
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        const opt_t *o = find_opt(arg, cmd->bit);
        if (o == NULL) {
            const ferry_task_opt_t *t = cmd->task_opts ? ferry_task_opt_find(arg) : NULL;
            if (t && (cmd->task_opts == ~0u || (t->flags & cmd->task_opts))) {
                a->task_argv[a->task_argc++] = argv[i++];
                if (t->metavar && eq == NULL) {
                    if (i >= argc)
                        return cli_error(CLI_USAGE, "%s: %s needs a value (%s %s)", cn, t->name,
                                         t->name, t->metavar);
                    a->task_argv[a->task_argc++] = argv[i++];
                }
                continue;
            }
            if (t)
                return cli_error(CLI_USAGE,
                                 "%s: %s is part of a task's definition: change the task with "
                                 "ferry task add (see ferry %s --help)",
                                 cn, t->name, cn);
            size_t nl = eq ? (size_t)(eq - arg) : strlen(arg); /* the name, not its value */
            return cli_error(CLI_USAGE, "%s: unknown option %.*s (see ferry %s --help)", cn,
                             (int)(nl > 80 ? 80 : nl), arg, cn);
        }
        const char *v = NULL;
        if (o->kind == K_FLAG) {
            if (eq)
                return cli_error(CLI_USAGE, "%s: %s takes no value (drop '%s')", cn, o->name, eq);
            i++;
        } else if (eq) {
            v = eq + 1;
            i++;
        } else {
            if (i + 1 >= argc)
                return cli_error(CLI_USAGE, "%s: %s needs a value (%s %s; see ferry %s --help)", cn,
                                 o->name, o->name, o->metavar, cn);
            v = argv[i + 1];
            i += 2;
        }
        cli_val_t *val = &a->v[o->id];
        if (o->kind == K_FLAG) {
            val->set = 1;
            val->num = 1;
            continue;
        }
        if (parse_value(cn, o, v, val) != CLI_OK)
            return CLI_USAGE;
        val->set = 1;
        if (o->flags & F_MANY) {
            if (a->nmany >= CLI_MANY_MAX)
                return cli_error(CLI_USAGE, "%s: at most %d %s options", cn, CLI_MANY_MAX, o->name);
            a->many[a->nmany++] = v;
        }
    }
    if (a->npos + a->nrest < cmd->pos_min) {
        /* name the first missing positional: the upper-case words of the synopsis */
        char miss[32] = "an argument";
        int k = 0;
        for (const char *w = cmd->synopsis; *w;) {
            size_t l = strcspn(w, " ");
            if (w[0] >= 'A' && w[0] <= 'Z' && k++ == a->npos) {
                snprintf(miss, sizeof(miss), "%.*s", (int)l, w);
                break;
            }
            w += l + (w[l] == ' ');
        }
        return cli_error(CLI_USAGE, "%s: %s is required (usage: ferry %s %s; see ferry %s --help)",
                         cn, miss, cn, cmd->synopsis, cn);
    }
    /* the global options, where the command's code looks for them */
    if (a->v[O_REDIS].set)
        g->redis_url = a->v[O_REDIS].str;
    if (a->v[O_STATE_DIR].set)
        g->state_dir = a->v[O_STATE_DIR].str;
    if (a->v[O_JSON].set)
        g->json = 1;
    return CLI_OK;
}

void cli_args_free(cli_args_t *a)
{
    free(a->task_argv);
    free(a->rest);
    a->task_argv = NULL;
    a->rest = NULL;
}

/* "  --name VALUE   help", the help wrapped at 79 columns under its own column. */
static void help_line(FILE *f, const char *name, const char *metavar, const char *word,
                      const char *help)
{
    char left[64];
    if (metavar && word)
        snprintf(left, sizeof(left), "%s %s|%s", name, metavar, word);
    else if (metavar)
        snprintf(left, sizeof(left), "%s %s", name, metavar);
    else
        snprintf(left, sizeof(left), "%s", name);
    enum { COL = 29, WIDTH = 79 };
    if (strlen(left) < COL - 3)
        fprintf(f, "  %-*s ", COL - 3, left);
    else
        fprintf(f, "  %s\n%*s", left, COL, "");
    size_t col = COL;
    while (*help) {
        size_t w = strcspn(help, " ");
        if (col > COL && col + 1 + w > WIDTH) {
            fprintf(f, "\n%*s", COL, "");
            col = COL;
        } else if (col > COL) {
            fputc(' ', f);
            col++;
        }
        fwrite(help, 1, w, f);
        col += w;
        help += w;
        while (*help == ' ')
            help++;
    }
    fputc('\n', f);
}

void cli_help(FILE *f, const cli_cmd_t *cmd)
{
    fprintf(f, "usage: ferry %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->text);
    int any = 0;
    for (size_t i = NGLOBAL; i < NOPTS; i++)
        if (OPTS[i].cmds & cmd->bit) {
            if (!any++)
                fputs("\noptions:\n", f);
            help_line(f, OPTS[i].name, OPTS[i].metavar, OPTS[i].word, OPTS[i].help);
        }
    if (cmd->task_opts) {
        fputs(cmd->task_opts == ~0u ? "\ntask options (stored in the task):\n"
                                    : "\nthe task's filters, replaced for this scan only:\n",
              f);
        const ferry_task_opt_t *t;
        for (size_t i = 0; (t = ferry_task_opt(i)) != NULL; i++)
            if (cmd->task_opts == ~0u || (t->flags & cmd->task_opts))
                help_line(f, t->name, t->metavar, NULL, t->help);
    }
    fputs("\nglobal options (any command):\n", f);
    for (size_t i = 0; i < NGLOBAL; i++)
        help_line(f, OPTS[i].name, OPTS[i].metavar, NULL, OPTS[i].help);
    if (cmd->examples && cmd->examples[0]) {
        fputs("\nexamples:\n", f);
        for (const char *e = cmd->examples; *e;) {
            size_t l = strcspn(e, "\n");
            fprintf(f, "  %.*s\n", (int)l, e);
            e += l + (e[l] == '\n');
        }
    }
    fputs("\nexit: 0 done; 1 failed (see the message); 2 usage; 3 unknown task or key; 124 timed "
          "out (details: docs/cli.md)\n",
          f);
}

int cli_global_opt(cli_t *g, int argc, char **argv, int *i)
{
    const opt_t *o = find_opt(argv[*i], C_ALL);
    if (o == NULL || o > &OPTS[NGLOBAL - 1])
        return 0;
    cli_val_t v = {0};
    const char *eq = strchr(argv[*i], '=');
    if (o->kind == K_FLAG) {
        if (eq) {
            cli_error(CLI_USAGE, "%s takes no value (drop '%s')", o->name, eq);
            return -1;
        }
        (*i)++;
        g->json = 1;
        return 1;
    }
    if (eq)
        v.str = eq + 1;
    else if (*i + 1 < argc)
        v.str = argv[*i + 1];
    else {
        cli_error(CLI_USAGE, "%s needs a value (%s %s; see ferry --help)", o->name, o->name,
                  o->metavar);
        return -1;
    }
    *i += eq ? 1 : 2;
    if (o->id == O_REDIS)
        g->redis_url = v.str;
    else
        g->state_dir = v.str;
    return 1;
}

int cli_scan_opts(const cli_args_t *a, int filters, struct ferry_scan_opts_s *o)
{
    if (a->v[O_DRY_RUN].set)
        o->dry_run = 1;
    if (a->v[O_ALLOW_EMPTY_SOURCE].set)
        o->allow_empty_source = 1;
    if (a->v[O_PARALLEL].set)
        o->parallel = (int)a->v[O_PARALLEL].num;
    if (a->v[O_MAX_BACKLOG].set)
        o->max_backlog = a->v[O_MAX_BACKLOG].num;
    if (!filters || a->task_argc == 0)
        return CLI_OK;
    /* The filters as the task parses them, onto an empty task; non-zero bounds replace the
     * stored ones for this scan (scan.h). */
    ferry_task_t t;
    ferry_task_init(&t);
    ferry_error_t err;
    ferry_error_clear(&err);
    int rc = ferry_task_apply_args(&t, a->task_argc, a->task_argv, &err);
    if (rc == FERRY_OK) {
        o->min_size = t.min_size;
        o->max_size = t.max_size;
        o->min_age_ms = t.min_age_ms;
        o->max_age_ms = t.max_age_ms;
    }
    ferry_task_clear(&t);
    return rc ? cli_error(CLI_USAGE, "%s", err.msg) : CLI_OK;
}

int cli_redis_url(cli_t *g, char *buf, size_t n, ferry_error_t *err)
{
    const char *url = g->redis_url;
    if (url == NULL || *url == '\0')
        url = getenv("FERRY_REDIS_URL");
    if (url && *url) {
        if (strlen(url) >= n)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "the Redis URL is longer than %zu bytes: shorten it", n - 1);
        memcpy(buf, url, strlen(url) + 1);
        return FERRY_OK;
    }
    char dir[1024];
    if (ferry_redisd_state_dir(g->state_dir, dir, sizeof(dir)) != FERRY_OK)
        return ferry_error_set(err, FERRY_ECONFIG,
                               "no state dir: set HOME, FERRY_STATE_DIR or --state-dir");
    return ferry_redisd_ensure(dir, buf, n, NULL, err);
}

ferry_redis_t *cli_connect(cli_t *g)
{
    char url[1200];
    ferry_error_t err;
    ferry_error_clear(&err);
    if (cli_redis_url(g, url, sizeof(url), &err) != FERRY_OK) {
        cli_error(CLI_FAIL, "%s", err.msg);
        return NULL;
    }
    ferry_redis_opts_t o = {.retry_ms = 3000};
    ferry_redis_t *r = NULL;
    if (ferry_redis_connect(url, &o, &r, &err) != FERRY_OK) {
        cli_error(CLI_FAIL, "%s", err.msg);
        return NULL;
    }
    return r;
}

int cli_redis_error(ferry_redis_t *r)
{
    const ferry_error_t *e = ferry_redis_error(r);
    int code = e->code;
    cli_error(0, "%s", e->msg[0] ? e->msg : ferry_strerror(code));
    if (code == FERRY_EINVAL)
        return CLI_USAGE;
    if (code == FERRY_ENOTFOUND)
        return CLI_UNKNOWN;
    return CLI_FAIL;
}

int cmd_down(cli_t *g, const cli_args_t *a)
{
    (void)a;
    char dir[1024];
    if (ferry_redisd_state_dir(g->state_dir, dir, sizeof(dir)) != FERRY_OK)
        return cli_error(CLI_FAIL, "no state dir: set HOME, FERRY_STATE_DIR or --state-dir");
    ferry_error_t err;
    int was = 0;
    if (ferry_redisd_stop(dir, &was, &err) != FERRY_OK)
        return cli_error(CLI_FAIL, "%s", err.msg);
    printf(was ? "stopped the private redis-server in %s\n"
               : "no private redis-server running in %s\n",
           dir);
    return CLI_OK;
}
