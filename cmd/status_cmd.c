/* ferry status | ls | wait | retry — thin wrappers over ferry/status.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ferry/status.h"
#include "ferry/task.h"

typedef struct {
    const char *name;
    int has_value;
    const char **value;
    int *flag;
} opt_t;

/* Parse argv[1..]: global options, the given options, positionals. */
static int parse(cli_t *g, int argc, char **argv, opt_t *opts, const char **pos, int maxpos,
                 int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc;) {
        int r = cli_global_opt(g, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r)
            continue;
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0) {
            opt_t *o = opts;
            for (; o && o->name; o++)
                if (strcmp(o->name, a) == 0)
                    break;
            if (o == NULL || o->name == NULL)
                return cli_error(CLI_USAGE, "%s: unknown option %s", argv[0], a);
            if (o->has_value) {
                if (i + 1 >= argc)
                    return cli_error(CLI_USAGE, "%s: %s needs a value", argv[0], a);
                *o->value = argv[i + 1];
                i += 2;
            } else {
                *o->flag = 1;
                i++;
            }
            continue;
        }
        if (*npos >= maxpos)
            return cli_error(CLI_USAGE, "%s: unexpected argument %s", argv[0], a);
        pos[(*npos)++] = argv[i++];
    }
    return CLI_OK;
}

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

int cmd_status(cli_t *g, int argc, char **argv)
{
    const char *pos[2];
    int np, code = parse(g, argc, argv, NULL, pos, 2, &np);
    if (code)
        return code;
    if (np != 2)
        return cli_error(CLI_USAGE, "status: usage: ferry status NAME KEY [--json]");
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

int cmd_ls(cli_t *g, int argc, char **argv)
{
    const char *state = NULL, *prefix = "", *limit_s = NULL, *cursor = "";
    int unverified = 0;
    opt_t opts[] = {{"--state", 1, &state, NULL},   {"--unverified", 0, NULL, &unverified},
                    {"--prefix", 1, &prefix, NULL}, {"--limit", 1, &limit_s, NULL},
                    {"--cursor", 1, &cursor, NULL}, {NULL, 0, NULL, NULL}};
    const char *pos[1];
    int np, code = parse(g, argc, argv, opts, pos, 1, &np);
    if (code)
        return code;
    if (np != 1)
        return cli_error(CLI_USAGE, "ls: usage: ferry ls NAME [--state S] [--prefix P] [--limit N] "
                                    "[--unverified]");
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
    size_t limit = 1000;
    if (limit_s) {
        char *e;
        long v = strtol(limit_s, &e, 10);
        if (*e || v < 1 || v > 1000000)
            return cli_error(CLI_USAGE, "ls: --limit must be 1..1000000");
        limit = (size_t)v;
    }
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
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

typedef struct {
    int tty;
    long long last_ms, start_ms, last_print_ms;
    long long last_bytes;
    double rate;
} progress_t;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void human(double b, char *buf, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int i = 0;
    while (b >= 1024 && i < 5) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static int on_progress(void *ud, const ferry_counters_t *c, long long pending, long long failed)
{
    progress_t *p = ud;
    long long now = mono_ms();
    long long done = c->objects[FERRY_STATE_DONE] + c->objects[FERRY_STATE_SKIPPED] +
                     c->objects[FERRY_STATE_DELETED];
    long long bytes = c->bytes[FERRY_STATE_DONE];
    if (p->last_ms && now > p->last_ms) {
        double inst = (double)(bytes - p->last_bytes) * 1000.0 / (double)(now - p->last_ms);
        p->rate = p->rate == 0 ? inst : 0.7 * p->rate + 0.3 * inst;
    }
    p->last_ms = now;
    p->last_bytes = bytes;
    char hb[32], hr[32];
    human((double)bytes, hb, sizeof(hb));
    human(p->rate < 0 ? 0 : p->rate, hr, sizeof(hr));
    long long total = done + pending + failed;
    if (p->tty) {
        int width = 30, fill = total ? (int)((done + failed) * width / total) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %lld/%lld done, %lld failed, %s, %s/s   ", bar, done, total, failed,
                hb, hr);
        fflush(stderr);
    } else if (now - p->last_print_ms >= 5000 || pending == 0) {
        p->last_print_ms = now;
        fprintf(stderr, "progress done=%lld pending=%lld failed=%lld bytes=%lld rate=%.0fB/s\n",
                done, pending, failed, bytes, p->rate);
    }
    return 0;
}

int cmd_wait(cli_t *g, int argc, char **argv)
{
    const char *prefix = "", *timeout_s = NULL;
    int progress = 0;
    opt_t opts[] = {{"--prefix", 1, &prefix, NULL},
                    {"--timeout", 1, &timeout_s, NULL},
                    {"--progress", 0, NULL, &progress},
                    {NULL, 0, NULL, NULL}};
    const char *pos[1];
    int np, code = parse(g, argc, argv, opts, pos, 1, &np);
    if (code)
        return code;
    if (np != 1)
        return cli_error(CLI_USAGE,
                         "wait: usage: ferry wait NAME [--prefix P] [--timeout DUR] [--progress]");
    int64_t timeout = -1;
    if (timeout_s && ferry_duration_parse(timeout_s, &timeout))
        return cli_error(CLI_USAGE, "wait: --timeout \"%s\" is not a duration (e.g. 30s, 10m)",
                         timeout_s);
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    progress_t p = {.tty = isatty(2), .start_ms = mono_ms()};
    long long failed = 0;
    int rc = ferry_status_wait(r, pos[0], prefix, timeout, 250, progress ? on_progress : NULL, &p,
                               &failed);
    if (progress && p.tty)
        fputc('\n', stderr);
    if (rc == FERRY_ETIMEOUT)
        code = cli_error(CLI_TIMEOUT, "wait: timed out");
    else if (rc)
        code = cli_redis_error(r);
    else if (failed) {
        code = CLI_FAIL;
        json_t *arr = NULL;
        char next[1100];
        if (ferry_status_list(r, pos[0], FERRY_STATE_FAILED, prefix, "", 20, &arr, next,
                              sizeof(next)) == FERRY_OK) {
            fprintf(stderr, "ferry: %lld failed:\n", failed);
            size_t i;
            json_t *v;
            json_array_foreach(arr, i, v)
            {
                fputs("  ", stderr);
                cli_puts_escaped(stderr, js(v, "key"));
                fputs(": ", stderr);
                cli_puts_escaped(stderr, js(v, "error"));
                fputc('\n', stderr);
            }
            if (failed > 20)
                fprintf(stderr, "  … (ferry ls %s --state failed)\n", pos[0]);
        }
        json_decref(arr);
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

int cmd_retry(cli_t *g, int argc, char **argv)
{
    const char *state = NULL;
    opt_t opts[] = {{"--state", 1, &state, NULL}, {NULL, 0, NULL, NULL}};
    const char **pos = calloc((size_t)argc + 1, sizeof(char *));
    if (pos == NULL)
        return CLI_FAIL;
    int np, code = parse(g, argc, argv, opts, pos, argc, &np);
    if (code)
        goto out;
    if (np < 1) {
        code = cli_error(CLI_USAGE, "retry: usage: ferry retry NAME [--state failed] [KEY…]");
        goto out;
    }
    ferry_state_t st = FERRY_STATE_FAILED;
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
    if (ferry_status_retry(r, pos[0], (int)st, pos + 1, (size_t)(np - 1), &n, &unknown) != FERRY_OK)
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
