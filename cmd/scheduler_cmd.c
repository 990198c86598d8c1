/* ferry scheduler: scan each task on its schedule, under the task's Redis lease.
 *
 * Every tick (1 s) the scheduler reads the task registry (every 10 s), and for each task whose
 * next scan is due — ferry:{T}:scan:last + every, or the cron time after it — tries the lease.
 * The process that gets it scans; the others see the lease (or, once the scan recorded its end,
 * a new due time) and wait. A holder that dies stops renewing: its lease expires within the
 * ttl and the next scheduler to tick takes the task over. One scan at a time per process; run
 * more processes for more. SIGINT/SIGTERM cancel the scan (nothing is deleted), release the
 * lease and exit 0.
 *
 * The HTTP API (scheduler/api.h) is served on its own threads while the loop schedules: every
 * replica serves it (--listen ADDR, default 127.0.0.1:8470; --listen off for none). On
 * SIGINT/SIGTERM it stops accepting at once, answers the requests in flight, then closes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "api.h"
#include "cli.h"
#include "lease.h"
#include "scan.h"
#include "sched_part.h"

#include "ferry/clock.h"
#include "ferry/cron.h"
#include "ferry/log.h"
#include "ferry/task.h"

#define SCHED_TASKS_MAX 64
_Static_assert(CLI_MANY_MAX <= SCHED_TASKS_MAX, "every --task cli_parse keeps fits in only[]");

typedef struct api_args_s {
    const char *listen, *token_file, *cert_file, *key_file;
    int public_read;
    char *token, *cert, *key;
} api_args_t;

struct sched_s {
    cli_t *g;
    uv_loop_t own;   /* ferry scheduler's loop; ferry up passes its own */
    uv_loop_t *loop; /* the loop it runs on */
    api_args_t ao;
    const struct ferry_scale_cfg_s *scale; /* GET /v1/scale's settings (ferry up's); NULL */
    int started;                           /* the timers run */
    uv_check_t check;
    ferry_redis_t *r;
    ferry_scan_opts_t o;
    const char *only[SCHED_TASKS_MAX];
    int nonly;
    int no_scan; /* --no-scan: serve the API only */
    int64_t tick_ms, ttl_ms;
    char **names;
    size_t nnames;
    int64_t names_at;
    size_t rr; /* round-robin start */
    ferry_scan_t *scan;
    ferry_task_t t;
    ferry_lease_t lease;
    uv_timer_t tick;
    ferry_api_t *api;
    int stopping;
    long long scans;
};

/* When stopping and no scan runs any more: stop the loop if it is ours. */
static void maybe_stopped(sched_t *s)
{
    if (s->stopping && s->scan == NULL && s->loop == &s->own)
        uv_stop(s->loop);
}

static void free_names(sched_t *s)
{
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
    s->names = NULL;
    s->nnames = 0;
}

static int wanted(const sched_t *s, const char *name)
{
    if (s->nonly == 0)
        return 1;
    for (int i = 0; i < s->nonly; i++)
        if (strcmp(s->only[i], name) == 0)
            return 1;
    return 0;
}

/* When the task's next scan is due (epoch ms). */
static int64_t due_at(sched_t *s, const ferry_task_t *t)
{
    char key[128];
    redisReply *rep = NULL;
    int64_t last = 0;
    snprintf(key, sizeof(key), "ferry:{%s}:scan:last", t->name);
    if (ferry_redis_cmd(s->r, &rep, "GET %s", key) == FERRY_OK) {
        if (rep->type == REDIS_REPLY_STRING)
            last = strtoll(rep->str, NULL, 10);
        freeReplyObject(rep);
    }
    if (last == 0)
        return 0; /* never scanned: now */
    if (t->cron[0]) {
        ferry_cron_t c;
        time_t next;
        if (ferry_cron_parse(t->cron, &c, NULL) != FERRY_OK ||
            ferry_cron_next(&c, (time_t)(last / 1000), &next) != FERRY_OK)
            return INT64_MAX;
        return (int64_t)next * 1000;
    }
    return last + (t->every_ms > 0 ? t->every_ms : 3600000);
}

static void on_scan_done(void *ud, const ferry_scan_report_t *r)
{
    sched_t *s = ud;
    if (ferry_scan_history_add(s->r, r) != FERRY_OK)
        ferry_log(FERRY_LOG_ERROR, "scheduler.history", "task", r->task, "error",
                  ferry_redis_error(s->r)->msg, NULL);
    ferry_lease_release(&s->lease);
    s->scans++;
    char line[900];
    ferry_scan_report_line(r, line, sizeof(line));
    ferry_log(r->rc ? FERRY_LOG_WARN : FERRY_LOG_INFO, "scheduler.scan", "task", r->task, "report",
              line, NULL);
}

static void try_tasks(sched_t *s)
{
    if (s->no_scan)
        return;
    int64_t now = ferry_wall_ms();
    if (s->names == NULL || now - s->names_at > 10000) {
        free_names(s);
        if (ferry_task_list(s->r, &s->names, &s->nnames) != FERRY_OK) {
            ferry_log(FERRY_LOG_ERROR, "scheduler.tasks", "error", ferry_redis_error(s->r)->msg,
                      NULL);
            return;
        }
        s->names_at = now;
    }
    for (size_t k = 0; k < s->nnames && s->scan == NULL; k++) {
        const char *name = s->names[(s->rr + k) % s->nnames];
        if (!wanted(s, name))
            continue;
        ferry_task_clear(&s->t);
        ferry_task_init(&s->t);
        if (ferry_task_get(s->r, name, &s->t) != FERRY_OK)
            continue;
        if (due_at(s, &s->t) > now)
            continue;
        if (ferry_lease_init(&s->lease, s->r, name, s->ttl_ms, NULL) != FERRY_OK ||
            ferry_lease_acquire(&s->lease, NULL, 0) != FERRY_OK)
            continue; /* another scheduler has it */
        /* Re-check under the lease: the previous holder may just have finished. */
        if (due_at(s, &s->t) > ferry_wall_ms()) {
            ferry_lease_release(&s->lease);
            continue;
        }
        ferry_scan_opts_t o = s->o;
        o.lease = &s->lease;
        ferry_error_t err;
        if (ferry_scan_start(s->loop, s->r, &s->t, &o, on_scan_done, s, &s->scan, &err) !=
            FERRY_OK) {
            /* Record the failure so the task waits a period instead of failing every tick. */
            ferry_scan_report_t rep;
            memset(&rep, 0, sizeof(rep));
            snprintf(rep.task, sizeof(rep.task), "%s", name);
            rep.started_ms = rep.finished_ms = ferry_wall_ms();
            rep.rc = err.code ? err.code : FERRY_ECONFIG;
            snprintf(rep.error, sizeof(rep.error), "%s", err.msg);
            ferry_log(FERRY_LOG_ERROR, "scheduler.scan", "task", name, "error", err.msg, NULL);
            ferry_scan_history_add(s->r, &rep);
            ferry_lease_release(&s->lease);
            s->scan = NULL;
        }
        s->rr = (s->rr + k + 1) % (s->nnames ? s->nnames : 1);
    }
}

static void on_tick(uv_timer_t *h)
{
    sched_t *s = h->data;
    if (s->stopping) {
        maybe_stopped(s);
        return;
    }
    if (s->scan == NULL)
        try_tasks(s);
}

void sched_stop(sched_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    ferry_api_quiesce(s->api); /* no new connections; requests in flight are answered */
    if (s->scan)
        ferry_scan_cancel(s->scan, "the scheduler is stopping");
    ferry_log(FERRY_LOG_INFO, "scheduler.stop", NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    sched_stop(h->data);
}

/* The scan's done callback cannot free the scan from inside itself safely before its caller
 * returns; a check handle frees finished scans after each loop iteration. */
static void on_check(uv_check_t *h)
{
    sched_t *s = h->data;
    if (s->scan && ferry_scan_progress(s->scan)->finished_ms && !s->lease.held) {
        ferry_scan_free(s->scan);
        s->scan = NULL;
        maybe_stopped(s);
    }
}

/* Read a small file whole (a token, a PEM). *out new (free); FERRY_ETOOBIG past cap. */
static int read_small(const char *path, size_t cap, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return FERRY_EIO;
    char *b = malloc(cap + 2);
    size_t n = b ? fread(b, 1, cap + 1, f) : 0;
    int bad = b == NULL || ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return b ? FERRY_EIO : FERRY_ENOMEM;
    }
    if (n > cap) {
        free(b);
        return FERRY_ETOOBIG;
    }
    b[n] = '\0';
    *out = b;
    return FERRY_OK;
}

/* The API options as cli_parse found them. */
static void api_args(const cli_args_t *a, api_args_t *o)
{
    o->listen = a->v[O_LISTEN].str; /* "off" is the keyword: none */
    o->token_file = a->v[O_API_TOKEN_FILE].str;
    o->cert_file = a->v[O_TLS_CERT].str;
    o->key_file = a->v[O_TLS_KEY].str;
    o->public_read = a->v[O_PUBLIC_READ].set;
}

/* Load the token and TLS files. CLI_OK or an exit code (printed). */
static int api_load(api_args_t *o)
{
    int rc;
    if (o->token_file) {
        if ((rc = read_small(o->token_file, FERRY_API_TOKEN_MAX, &o->token)) != FERRY_OK)
            return cli_error(CLI_USAGE, "scheduler: --api-token-file %s: %s", o->token_file,
                             rc == FERRY_ETOOBIG ? "longer than 4096 bytes" : strerror(errno));
    } else if (getenv("FERRY_API_TOKEN") && getenv("FERRY_API_TOKEN")[0]) {
        if ((o->token = strdup(getenv("FERRY_API_TOKEN"))) == NULL)
            return cli_error(CLI_FAIL, "out of memory");
    }
    if (o->token) { /* a file ends with a newline; the token is the text without it */
        size_t n = strlen(o->token);
        while (n && (o->token[n - 1] == '\n' || o->token[n - 1] == '\r' || o->token[n - 1] == ' '))
            o->token[--n] = '\0';
        if (n == 0)
            return cli_error(CLI_USAGE, "scheduler: the API token is empty");
    }
    if ((o->cert_file != NULL) != (o->key_file != NULL))
        return cli_error(CLI_USAGE, "scheduler: TLS needs both --tls-cert and --tls-key");
    if (o->cert_file && !ferry_api_tls_supported())
        return cli_error(CLI_USAGE,
                         "scheduler: this libmicrohttpd was built without TLS: drop --tls-cert "
                         "and --tls-key and terminate TLS in an ingress in front of ferry");
    if (o->cert_file && (rc = read_small(o->cert_file, 1 << 20, &o->cert)) != FERRY_OK)
        return cli_error(CLI_USAGE, "scheduler: --tls-cert %s: cannot read it (%s)", o->cert_file,
                         rc == FERRY_ETOOBIG ? "over 1 MiB" : strerror(errno));
    if (o->key_file && (rc = read_small(o->key_file, 1 << 20, &o->key)) != FERRY_OK)
        return cli_error(CLI_USAGE, "scheduler: --tls-key %s: cannot read it (%s)", o->key_file,
                         rc == FERRY_ETOOBIG ? "over 1 MiB" : strerror(errno));
    return CLI_OK;
}

static void api_args_free(api_args_t *o)
{
    if (o->token) {
        memset(o->token, 0, strlen(o->token));
        free(o->token);
    }
    free(o->cert);
    if (o->key) {
        memset(o->key, 0, strlen(o->key));
        free(o->key);
    }
}

/* ferry task secret NAME: a new event secret for the events route's ?token=, printed once. */
int cmd_task_secret(cli_t *g, const cli_args_t *a)
{
    const char *name = a->pos[0];
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    char secret[80];
    int code = CLI_OK;
    if (ferry_api_secret_new(r, name, secret, sizeof(secret)) != FERRY_OK)
        code = cli_redis_error(r);
    else {
        printf("%s\n", secret);
        fprintf(stderr,
                "ferry: the event secret of task %s (shown once; only its SHA-256 is "
                "kept). Deliver events to POST /v1/tasks/%s/events?token=SECRET; "
                "run this again to replace it.\n",
                name, name);
    }
    memset(secret, 0, sizeof(secret));
    ferry_redis_free(r);
    return code;
}

/* ---- the scheduler as a part: ferry scheduler runs it on its own loop, ferry up on its --- */

sched_t *sched_new(cli_t *g)
{
    sched_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->g = g;
    s->tick_ms = 1000;
    s->ttl_ms = 30000;
    ferry_task_init(&s->t);
    return s;
}

/* GET /v1/scale's policy settings (borrowed until sched_start): ferry up's. */
void sched_scale_cfg(sched_t *s, const struct ferry_scale_cfg_s *cfg)
{
    s->scale = cfg;
}

/* The scheduler's options as cli_parse found them (API, scan, --task, --tick, --lease-ttl):
 * ferry scheduler's and ferry up's. CLI_OK or CLI_USAGE (printed). */
int sched_args(sched_t *s, const cli_args_t *a)
{
    api_args(a, &s->ao);
    if (cli_scan_opts(a, 1, &s->o) != CLI_OK)
        return CLI_USAGE;
    for (int i = 0; i < a->nmany; i++) /* --task, repeatable */
        s->only[s->nonly++] = a->many[i];
    if (a->v[O_TICK].set)
        s->tick_ms = a->v[O_TICK].num;
    if (a->v[O_LEASE_TTL].set)
        s->ttl_ms = a->v[O_LEASE_TTL].num;
    s->no_scan = a->v[O_NO_SCAN].set;
    return CLI_OK;
}

/* Connect, serve the API (unless --listen off) and start scheduling on loop (NULL: its own).
 * CLI_OK or an exit code (printed); on failure call sched_free only. */
int sched_start(sched_t *s, uv_loop_t *loop)
{
    cli_t *g = s->g;
    int code = api_load(&s->ao);
    if (code)
        return code;
    s->r = cli_connect(g);
    if (s->r == NULL)
        return CLI_FAIL;
    if (s->ao.listen == NULL || strcmp(s->ao.listen, "off") != 0) {
        char url[1200];
        ferry_error_t err;
        ferry_error_clear(&err);
        ferry_api_opts_t o = {.listen = s->ao.listen,
                              .token = s->ao.token,
                              .public_read = s->ao.public_read,
                              .tls_cert_pem = s->ao.cert,
                              .tls_key_pem = s->ao.key,
                              .redis_url = url,
                              .scale = s->scale};
        if (cli_redis_url(g, url, sizeof(url), &err) != FERRY_OK)
            code =
                cli_error(CLI_FAIL, "scheduler: cannot tell the API where Redis is: %s", err.msg);
        else if (ferry_api_start(&o, &s->api, &err) != FERRY_OK)
            code = cli_error(err.code == FERRY_EINVAL ? CLI_USAGE : CLI_FAIL, "scheduler: %s",
                             err.msg);
        else if (s->ao.token == NULL)
            ferry_log(FERRY_LOG_WARN, "api.auth", "warning",
                      "no API token (FERRY_API_TOKEN or --api-token-file): write routes accept "
                      "only task event secrets, read routes need --public-read",
                      NULL);
    }
    api_args_free(&s->ao);
    memset(&s->ao, 0, sizeof(s->ao));
    if (code)
        return code;
    if (loop == NULL) {
        if (uv_loop_init(&s->own))
            return cli_error(CLI_FAIL, "cannot make an event loop");
        loop = &s->own;
    }
    s->loop = loop;
    uv_timer_init(loop, &s->tick);
    uv_check_init(loop, &s->check);
    s->tick.data = s->check.data = s;
    uv_timer_start(&s->tick, on_tick, 0, (uint64_t)s->tick_ms);
    uv_check_start(&s->check, on_check);
    s->started = 1;
    return CLI_OK;
}

/* The port the API listens on (0: none). */
int sched_api_port(const sched_t *s)
{
    return s->api ? ferry_api_port(s->api) : 0;
}

/* 1 once sched_stop was called and no scan runs any more. */
int sched_done(const sched_t *s)
{
    return s->stopping && s->scan == NULL;
}

/* Close the loop handles (run the loop afterwards to finish closing). */
void sched_close(sched_t *s)
{
    if (!s->started)
        return;
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_close((uv_handle_t *)&s->check, NULL);
    s->started = 0;
}

/* Stop the API (answering what is in flight, at most 10 s) and free. Accepts NULL. */
void sched_free(sched_t *s)
{
    if (s == NULL)
        return;
    ferry_api_stop(s->api, 10000);
    ferry_scan_free(s->scan);
    free_names(s);
    ferry_task_clear(&s->t);
    ferry_redis_free(s->r);
    api_args_free(&s->ao);
    free(s);
}

int cmd_scheduler(cli_t *g, const cli_args_t *a)
{
    sched_t *s = sched_new(g);
    if (s == NULL)
        return cli_error(CLI_FAIL, "out of memory");
    if (sched_args(s, a) != CLI_OK) {
        sched_free(s);
        return CLI_USAGE;
    }
    int code = sched_start(s, NULL);
    if (code) {
        sched_free(s);
        return code;
    }
    uv_signal_t sigint, sigterm;
    uv_signal_init(s->loop, &sigint);
    uv_signal_init(s->loop, &sigterm);
    sigint.data = sigterm.data = s;
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)s->ttl_ms);
    ferry_log(FERRY_LOG_INFO, "scheduler.start", "redis", ferry_redis_where(s->r), "lease_ttl_ms",
              ttl, NULL);
    uv_run(s->loop, UV_RUN_DEFAULT);
    sched_close(s);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_run(s->loop, UV_RUN_DEFAULT);
    uv_loop_close(s->loop);
    sched_free(s);
    return CLI_OK;
}
