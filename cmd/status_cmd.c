/* ferry status | ls | wait | retry — thin wrappers over ferry/status.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "ferry/errcode.h"
#include "ferry/status.h"
#include "ferry/task.h"

static void print_line(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

int cmd_status(cli_t *g, const cli_args_t *a)
{
    const char *const *pos = a->pos;
    int code = CLI_OK;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    json_t *j = NULL;
    if (ferry_status_object(r, pos[0], pos[1], &j) != FERRY_OK)
        code = cli_redis_error(r);
    else if (g->json)
        print_line(j);
    else {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (json_is_null(v))
                continue;
            if (json_is_string(v)) {
                printf("%-12s ", k);
                cli_put_escaped(stdout, json_string_value(v), json_string_length(v));
                putchar('\n');
            } else if (json_is_array(v)) { /* checks: ["src:md5", ...] */
                printf("%-12s", k);
                size_t ai;
                json_t *av;
                json_array_foreach(v, ai, av)
                {
                    putchar(ai ? ',' : ' ');
                    cli_puts_escaped(stdout, json_string_value(av));
                }
                puts(json_array_size(v) ? "" : " none recorded");
            } else
                printf("%-12s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
        }
    }
    json_decref(j);
    ferry_redis_free(r);
    return code;
}

/* Where the next page starts. The command for it is shown only when it can be pasted safely:
 * every argument single-quoted for a POSIX shell, nothing a terminal would obey (the prefix is
 * the user's, the cursor the ledger's). --json gives the cursor exactly, as {"next_cursor": …}
 * on stderr. */
static void print_cursor_hint(cli_t *g, const char *task, const char *next, const char *state,
                              const char *prefix, int unverified)
{
    if (g->json) {
        json_t *j = json_pack("{s:s}", "next_cursor", next);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (s)
            fprintf(stderr, "%s\n", s);
        free(s);
        json_decref(j);
        return;
    }
    if (!cli_printable(next) || !cli_printable(prefix) || (state && !cli_printable(state))) {
        fprintf(stderr, "ferry: more records: the command for the next page holds characters "
                        "a terminal cannot show; run the same command with --json to get the "
                        "cursor\n");
        return;
    }
    fputs("ferry: more records: ferry ls ", stderr);
    cli_put_shell_quoted(stderr, task);
    fputs(" --cursor ", stderr);
    cli_put_shell_quoted(stderr, next);
    if (state) {
        fputs(" --state ", stderr);
        cli_put_shell_quoted(stderr, state);
    }
    if (prefix[0]) {
        fputs(" --prefix ", stderr);
        cli_put_shell_quoted(stderr, prefix);
    }
    if (unverified)
        fputs(" --unverified", stderr);
    fputc('\n', stderr);
}

/* One CSV field, RFC 4180: quoted, a quote written twice. Keys may hold commas, quotes and
 * line breaks; inside quotes they are data. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_text(FILE *f, json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(rec, k));
    if (s)
        csv_field(f, s);
}

static void csv_int(FILE *f, json_t *rec, const char *k)
{
    json_t *v = json_object_get(rec, k);
    if (json_is_integer(v))
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
}

/* The CSV export's columns, in order: the record field and whether it is a number. */
static const struct {
    const char *field;
    int num;
} CSV_COLS[] = {{"key", 0},         {"state", 0},       {"size", 1},      {"attempts", 1},
                {"error_code", 0},  {"error", 0},       {"queued_at", 0}, {"started_at", 0},
                {"finished_at", 0}, {"duration_ms", 1}, {"worker", 0}};
#define NCSV_COLS (sizeof(CSV_COLS) / sizeof(CSV_COLS[0]))

/* ferry ls --format csv|json|jsonl: every matching record, one ledger page (limit records) at a
 * time, so memory stays that of one page whatever the ledger's size. json is one array (its
 * elements written as they come), jsonl one object a line; both hold the whole record
 * (docs/cli.md, "The record"). CLI_OK, or CLI_FAIL / CLI_UNKNOWN after printing (output so far
 * is then incomplete, and says so on stderr). */
static int ls_export(ferry_redis_t *r, const char *task, int st, const char *prefix,
                     const char *cursor, size_t limit, int unverified, const char *format)
{
    int csv = strcmp(format, "csv") == 0, arr_out = strcmp(format, "json") == 0;
    char cur[1100], next[1100];
    long long n = 0;
    snprintf(cur, sizeof(cur), "%s", cursor);
    for (int first = 1;; first = 0) {
        json_t *arr = NULL;
        if ((unverified ? ferry_status_list_unverified : ferry_status_list)(
                r, task, st, prefix, cur, limit, &arr, next, sizeof(next)) != FERRY_OK) {
            int code = cli_redis_error(r);
            if (!first) {
                fflush(stdout);
                fprintf(stderr, "ferry: ls: the export stopped after %lld records: run it again\n",
                        n);
            }
            return code;
        }
        for (size_t c = 0; first && csv && c < NCSV_COLS; c++)
            printf("%s%s", CSV_COLS[c].field, c + 1 < NCSV_COLS ? "," : "\r\n");
        if (first && arr_out)
            fputs("[", stdout);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (csv) {
                for (size_t c = 0; c < NCSV_COLS; c++) {
                    (CSV_COLS[c].num ? csv_int : csv_text)(stdout, v, CSV_COLS[c].field);
                    fputs(c + 1 < NCSV_COLS ? "," : "\r\n", stdout);
                }
            } else {
                char *js_ = json_dumps(v, JSON_COMPACT);
                if (js_ == NULL) {
                    json_decref(arr);
                    return cli_error(CLI_FAIL, "ls: out of memory");
                }
                if (arr_out)
                    fputs(n ? ",\n" : "\n", stdout);
                fputs(js_, stdout);
                if (!arr_out)
                    putchar('\n');
                free(js_);
            }
            n++;
        }
        json_decref(arr);
        if (next[0] == '\0')
            break;
        snprintf(cur, sizeof(cur), "%s", next);
    }
    if (arr_out)
        fputs(n ? "\n]\n" : "]\n", stdout);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_error(CLI_FAIL, "ls: writing the export failed (disk full or pipe closed?)");
    return CLI_OK;
}

int cmd_ls(cli_t *g, const cli_args_t *a)
{
    const char *state = a->v[O_STATE].str, *prefix = a->v[O_PREFIX].set ? a->v[O_PREFIX].str : "";
    const char *cursor = a->v[O_CURSOR].set ? a->v[O_CURSOR].str : "";
    const char *format = a->v[O_FORMAT].set ? a->v[O_FORMAT].str : "table";
    int unverified = a->v[O_UNVERIFIED].set, code = CLI_OK;
    const char *const *pos = a->pos;
    int st = -1;
    if (state) {
        ferry_state_t s;
        if (ferry_state_parse(state, &s))
            return cli_error(CLI_USAGE,
                             "ls: --state \"%s\" is not one of queued, copying, done, failed, "
                             "skipped, deleted",
                             state);
        st = (int)s;
    }
    if (unverified && st >= 0 && st != FERRY_STATE_DONE)
        return cli_error(CLI_USAGE, "ls: --unverified lists done records: drop --state %s", state);
    if (unverified)
        st = FERRY_STATE_DONE; /* done records whose source could not be checked */
    size_t limit = a->v[O_LIMIT].set ? (size_t)a->v[O_LIMIT].num : 1000;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    if (strcmp(format, "csv") == 0 || strcmp(format, "json") == 0 || strcmp(format, "jsonl") == 0) {
        code = ls_export(r, pos[0], st, prefix, cursor, limit, unverified, format);
        ferry_redis_free(r);
        return code;
    }
    json_t *arr = NULL;
    char next[1100];
    if ((unverified ? ferry_status_list_unverified : ferry_status_list)(
            r, pos[0], st, prefix, cursor, limit, &arr, next, sizeof(next)) != FERRY_OK)
        code = cli_redis_error(r);
    else {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (g->json)
                print_line(v);
            else {
                printf("%-8s %12" JSON_INTEGER_FORMAT "  ", js(v, "state"),
                       json_integer_value(json_object_get(v, "size")));
                cli_puts_escaped(stdout, js(v, "key"));
                putchar('\n');
            }
        }
        if (next[0])
            print_cursor_hint(g, pos[0], next, state, prefix, unverified);
    }
    json_decref(arr);
    ferry_redis_free(r);
    return code;
}

/* ferry wait --progress: the display of ferry sync (progress.h), in its copying phase. */
typedef struct {
    progress_t disp;
    ferry_redis_t *r;
    ferry_ledger_t *led;
    const char *task, *prefix;
    int broken; /* the display could not read the task: the wait goes on without it */
} wait_progress_t;

static int on_progress(void *ud, const ferry_counters_t *c, long long pending, long long failed)
{
    (void)c;
    (void)pending;
    (void)failed;
    wait_progress_t *w = ud;
    progress_sample_t s;
    memset(&s, 0, sizeof(s));
    if (w->broken || progress_read(&w->disp, w->r, w->led, w->task, w->prefix, &s) != FERRY_OK) {
        w->broken = 1;
        return 0;
    }
    progress_show(&w->disp, &s, pending == 0);
    return 0;
}

int cmd_wait(cli_t *g, const cli_args_t *a)
{
    const char *prefix = a->v[O_PREFIX].set ? a->v[O_PREFIX].str : "";
    int progress = a->v[O_PROGRESS].set, code = CLI_OK;
    const char *const *pos = a->pos;
    int64_t timeout = a->v[O_TIMEOUT].set ? (int64_t)a->v[O_TIMEOUT].num : -1;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    wait_progress_t w;
    memset(&w, 0, sizeof(w));
    char label[96];
    snprintf(label, sizeof(label), "wait %s", pos[0]);
    progress_init(&w.disp, stderr, isatty(2),
                  a->v[O_PROGRESS_INTERVAL].set ? a->v[O_PROGRESS_INTERVAL].num : 10000, label);
    w.r = r;
    w.task = pos[0];
    w.prefix = prefix;
    if (progress) {
        int orc = ferry_status_ledger(r, pos[0], &w.led);
        if (orc != FERRY_OK) {
            code = cli_redis_error(r);
            ferry_redis_free(r);
            return code;
        }
        progress_sample_t s0; /* the baseline: counts since the wait started */
        if (progress_read(&w.disp, r, w.led, pos[0], prefix, &s0) != FERRY_OK)
            w.broken = 1;
    }
    long long failed = 0;
    int rc = ferry_status_wait(r, pos[0], prefix, timeout, 250, progress ? on_progress : NULL, &w,
                               &failed);
    if (progress)
        progress_end(&w.disp, 1);
    ferry_ledger_free(w.led);
    if (rc == FERRY_ETIMEOUT)
        code = cli_error(CLI_TIMEOUT, "wait: timed out");
    else if (rc)
        code = cli_redis_error(r);
    else if (failed) {
        code = CLI_FAIL;
        progress_failures(stderr, r, pos[0], prefix, failed);
    }
    if (g->json && (rc == FERRY_OK || rc == FERRY_ETIMEOUT)) {
        json_t *j = NULL;
        if (ferry_status_complete(r, pos[0], prefix, &j) == FERRY_OK)
            print_line(j);
        json_decref(j);
    }
    ferry_redis_free(r);
    return code;
}

int cmd_retry(cli_t *g, const cli_args_t *a)
{
    const char *state = a->v[O_STATE].str;
    /* NAME, then the keys: the first positionals, then the rest */
    int np = a->npos + a->nrest, code = CLI_OK;
    const char **pos = calloc((size_t)np + 1, sizeof(char *));
    if (pos == NULL)
        return cli_error(CLI_FAIL, "out of memory");
    for (int k = 0; k < a->npos; k++)
        pos[k] = a->pos[k];
    for (int k = 0; k < a->nrest; k++)
        pos[a->npos + k] = a->rest[k];
    const char *ecode = a->v[O_ERROR_CODE].str;
    ferry_state_t st = FERRY_STATE_FAILED;
    if (ecode && (!ferry_error_code_valid(ecode, strlen(ecode)) || state || np > 1)) {
        code = cli_error(CLI_USAGE,
                         "retry: --error takes one error code (like dst:403: see ferry ls NAME "
                         "--state failed --format csv), without --state or keys");
        goto out;
    }
    if (state && (ferry_state_parse(state, &st) || st == FERRY_STATE_DONE)) {
        code = cli_error(
            CLI_USAGE, "retry: --state \"%s\" must be failed, queued, copying, skipped or deleted",
            state);
        goto out;
    }
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL) {
        code = CLI_FAIL;
        goto out;
    }
    long long n = 0, unknown = 0;
    if ((ecode ? ferry_status_retry_code(r, pos[0], "", ecode, &n)
               : ferry_status_retry(r, pos[0], (int)st, pos + 1, (size_t)(np - 1), &n, &unknown)) !=
        FERRY_OK)
        code = cli_redis_error(r);
    else {
        if (g->json)
            printf("{\"requeued\":%lld,\"unknown\":%lld}\n", n, unknown);
        else
            printf("re-queued %lld\n", n);
        if (unknown) {
            fprintf(stderr, "ferry: %lld key(s) have no record\n", unknown);
            code = CLI_UNKNOWN;
        }
    }
    ferry_redis_free(r);
out:
    free(pos);
    return code;
}
