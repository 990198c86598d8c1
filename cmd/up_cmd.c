/* ferry up — one machine: the scheduler (scans under the task's lease) and the HTTP API in
 * this process, plus `ferry worker` processes it starts and stops as the scaling policy says
 * (scheduler/scale.h; docs/operating.md "ferry up").
 *
 * Every second: evaluate the policy over every task (the same answer GET /v1/scale gives),
 * take this machine's share of it (several `ferry up` on one Redis split the workers between
 * them: each registers in ferry:ups and takes desired / hosts, the remainder to the first in
 * name order), clamp it to --workers MIN..MAX, then
 *   - start workers (cmd/supervise.h: /proc/self/exe worker --slot auto, the Redis URL in
 *     FERRY_REDIS_URL, never on the command line) up to that number, or
 *   - stop one worker per tick beyond it with SIGTERM: the one running fewest jobs (its
 *     heartbeat says), the newest on a tie. A stopped worker drains: it finishes the copies it
 *     runs within its grace, records upload ids and parts, and hands back what it had not
 *     started.
 * A worker that exits without being asked is restarted after 1 s, 2 s, 4 s … (at most 60 s;
 * back to 1 s once one ran a minute), each exit logged as up.worker_exit with its code and
 * the delay.
 *
 * SIGINT/SIGTERM: stop scanning and accepting API connections, SIGTERM every worker, wait for
 * them all, stop the API, stop the private redis-server if this process started it, exit 0.
 * A second SIGINT/SIGTERM: SIGKILL the workers and exit 130 at once (their jobs stay pending
 * in Redis and are taken again by the next workers; finished parts are kept).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "scale.h"
#include "sched_part.h"
#include "supervise.h"

#include "ferry/clock.h"
#include "ferry/log.h"
#include "ferry/redisd.h"
#include "ferry/stats.h"
#include "ferry/task.h"

#define UP_TICK_MS        1000
#define UP_BACKOFF_MS     1000 /* first restart delay; doubles per crash */
#define UP_BACKOFF_MAX_MS 60000
#define UP_STABLE_MS      60000 /* a worker that ran this long resets the backoff */
#define UP_EXIT_KILLED    130   /* the second signal: stopped at once */
#define UP_WORKER_ARGS    32    /* options after "--" passed to every worker */

typedef struct up_s {
    cli_t *g;
    uv_loop_t loop;
    sched_t *sched;
    ferry_redis_t *r; /* the policy's and the supervisor's connection */
    ferry_scale_cfg_t cfg;
    int min, max, concurrency;
    sup_t *sup;  /* the workers: max entries */
    int crashes; /* consecutive unasked exits */
    int64_t next_spawn_ms;
    int last_desired, last_local, last_actual;
    int told_no_tasks;
    int stopping, killed;
    int64_t stop_ms;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    char host[160];
    char member[200]; /* "host/pid" in ferry:ups */
    char **wargs;     /* after "--": given to every `ferry worker` */
    int nwargs;
} up_t;

/* The next start waits 1 s, 2 s, 4 s … (at most 60 s) after as many crashes in a row: the
 * delay, now counted as one more crash. */
static int64_t backoff(up_t *u)
{
    int64_t d = UP_BACKOFF_MS << (u->crashes < 6 ? u->crashes : 6);
    if (d > UP_BACKOFF_MAX_MS)
        d = UP_BACKOFF_MAX_MS;
    u->crashes++;
    u->next_spawn_ms = ferry_mono_ms() + d;
    return d;
}

/* A worker exited (supervise.h): stopped by us, or a crash to restart after a delay. */
static void on_worker_exit(void *ud, const sup_exit_t *e)
{
    up_t *u = ud;
    char c[16], pid[16], delay[24], ran_s[24];
    snprintf(c, sizeof(c), "%d", e->code);
    snprintf(pid, sizeof(pid), "%d", e->pid);
    snprintf(ran_s, sizeof(ran_s), "%lld", (long long)e->ran_ms);
    if (e->asked || u->stopping) {
        ferry_log(e->code ? FERRY_LOG_WARN : FERRY_LOG_INFO, "up.worker_stopped", "pid", pid,
                  "code", c, "ran_ms", ran_s, NULL);
        return;
    }
    /* Not asked: a crash (or a worker that gave up). Restart after a growing delay. */
    if (e->ran_ms >= UP_STABLE_MS)
        u->crashes = 0;
    snprintf(delay, sizeof(delay), "%lld", (long long)backoff(u));
    ferry_log(FERRY_LOG_WARN, "up.worker_exit", "pid", pid, "code", c, "ran_ms", ran_s,
              "restart_in_ms", delay, NULL);
}

/* Start one worker. FERRY_OK, or an error (logged; the next try waits the backoff). */
static int spawn_one(up_t *u)
{
    char conc[16];
    char *args[4 + UP_WORKER_ARGS + 1];
    int n = 0;
    /* the lowest slot no live worker of this host holds: a dead worker's slot and its
     * pending jobs are taken over at once */
    args[n++] = "--slot";
    args[n++] = "auto";
    if (u->concurrency > 0) {
        snprintf(conc, sizeof(conc), "%d", u->concurrency);
        args[n++] = "--concurrency";
        args[n++] = conc;
    }
    for (int i = 0; i < u->nwargs; i++)
        args[n++] = u->wargs[i];
    args[n] = NULL;
    ferry_error_t err;
    int rc = sup_spawn(u->sup, args, NULL, &err);
    if (rc == FERRY_EBUSY)
        return rc; /* every entry alive or closing: next tick */
    if (rc) {
        backoff(u);
        ferry_log(FERRY_LOG_ERROR, "up.spawn_failed", "error", err.msg, NULL);
        return rc;
    }
    return FERRY_OK;
}

/* Stop one running worker: the one with the fewest jobs in flight by its heartbeat (no
 * heartbeat yet: 0), the newest on a tie. */
static void stop_one(up_t *u)
{
    ferry_heartbeat_t *hb = NULL;
    size_t nhb = 0;
    if (ferry_stats_workers(u->r, NULL, &hb, &nhb) != FERRY_OK)
        nhb = 0;
    int best = -1;
    sup_child_t b = {0}, k;
    long long best_jobs = 0;
    for (int i = 0; i < sup_max(u->sup); i++) {
        if (sup_child(u->sup, i, &k) != FERRY_OK || k.asked)
            continue;
        long long jobs = 0;
        for (size_t h = 0; h < nhb; h++)
            if (hb[h].pid == k.pid && strncmp(hb[h].consumer, u->host, strlen(u->host)) == 0 &&
                hb[h].consumer[strlen(u->host)] == '/')
                jobs = hb[h].in_flight;
        if (best < 0 || jobs < best_jobs || (jobs == best_jobs && k.started_ms > b.started_ms)) {
            best = i;
            b = k;
            best_jobs = jobs;
        }
    }
    free(hb);
    if (best < 0)
        return;
    char pid[16], jobs[24];
    snprintf(pid, sizeof(pid), "%d", b.pid);
    snprintf(jobs, sizeof(jobs), "%lld", best_jobs);
    ferry_log(FERRY_LOG_INFO, "up.scale_down", "pid", pid, "in_flight", jobs, NULL);
    sup_stop(u->sup, best);
}

static void tell_no_tasks(up_t *u)
{
    char **names = NULL;
    size_t n = 0;
    if (ferry_task_list(u->r, &names, &n) != FERRY_OK)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (n == 0 && !u->told_no_tasks) {
        u->told_no_tasks = 1;
        int port = sched_api_port(u->sched);
        fprintf(stderr,
                "ferry up: no tasks yet. Add one in another terminal, e.g.\n"
                "  ferry task add photos --from oss://BUCKET/prefix/ --to s3://BUCKET/prefix/ "
                "--every 1h\n"
                "and ferry up scans it and starts workers.\n");
        if (port > 0)
            fprintf(stderr, "Events: POST http://127.0.0.1:%d/v1/tasks/NAME/events.\n", port);
        ferry_log(FERRY_LOG_INFO, "up.no_tasks", "what", "ferry task add NAME --from … --to …",
                  NULL);
    } else if (n > 0)
        u->told_no_tasks = 0;
}

static void on_tick(uv_timer_t *h)
{
    up_t *u = h->data;
    if (u->stopping) {
        if (sup_alive(u->sup) == 0 && sched_done(u->sched))
            uv_stop(&u->loop);
        return;
    }
    tell_no_tasks(u);
    ferry_scale_cfg_t cfg = u->cfg;
    ferry_scale_in_t in;
    ferry_scale_out_t out;
    int rank = 0, hosts = 1;
    /* the policy over every host (per_host: this machine's bounds times the live ferry up
     * count), and this one's place among them */
    int rc = ferry_scale_hosts(u->r, u->member, &rank, &hosts);
    if (rc == FERRY_OK)
        rc = ferry_scale_eval(u->r, NULL, &cfg, &in, &out);
    if (rc) {
        ferry_log(FERRY_LOG_ERROR, "up.redis", "error", ferry_redis_error(u->r)->msg, "what",
                  "workers keep running; retrying every second", NULL);
        return;
    }
    int share = out.desired / hosts + (rank < out.desired % hosts ? 1 : 0);
    int local = share < u->min ? u->min : share > u->max ? u->max : share;
    if (out.desired != u->last_desired || local != u->last_local ||
        (int)in.actual != u->last_actual) {
        char d[16], l[16], a[16], r[16], lag[24], pend[24], bytes[24], hs[16];
        snprintf(d, sizeof(d), "%d", out.desired);
        snprintf(l, sizeof(l), "%d", local);
        snprintf(a, sizeof(a), "%lld", in.actual);
        snprintf(r, sizeof(r), "%d", sup_running(u->sup));
        snprintf(lag, sizeof(lag), "%lld", in.lag);
        snprintf(pend, sizeof(pend), "%lld", in.pending);
        snprintf(bytes, sizeof(bytes), "%lld", in.bytes);
        snprintf(hs, sizeof(hs), "%d", hosts);
        ferry_log(FERRY_LOG_INFO, "up.scale", "desired", d, "here", l, "actual", a, "running", r,
                  "hosts", hs, "lag", lag, "pending", pend, "bytes", bytes, "reason", out.reason,
                  NULL);
        u->last_desired = out.desired;
        u->last_local = local;
        u->last_actual = (int)in.actual;
    }
    if (sup_running(u->sup) < local) {
        if (ferry_mono_ms() >= u->next_spawn_ms)
            while (sup_running(u->sup) < local && spawn_one(u) == FERRY_OK)
                ;
    } else if (sup_running(u->sup) > local)
        stop_one(u); /* one per tick: the policy looks again before the next */
}

static void on_signal(uv_signal_t *h, int signum)
{
    up_t *u = h->data;
    char s[8];
    snprintf(s, sizeof(s), "%d", signum);
    if (u->stopping) {
        ferry_log(FERRY_LOG_WARN, "up.stop_now", "signal", s, "what",
                  "workers killed; their jobs stay pending and the next run resumes them", NULL);
        u->killed = 1;
        sup_signal_all(u->sup, SIGKILL);
        uv_stop(&u->loop);
        return;
    }
    u->stopping = 1;
    u->stop_ms = ferry_mono_ms();
    char n[16];
    snprintf(n, sizeof(n), "%d", sup_alive(u->sup));
    ferry_log(FERRY_LOG_INFO, "up.stop", "signal", s, "workers", n, "what",
              "draining: in-flight copies finish; send the signal again to stop at once", NULL);
    sched_stop(u->sched);
    sup_signal_all(u->sup, SIGTERM);
}

int cmd_up(cli_t *g, const cli_args_t *a)
{
    up_t *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return cli_error(CLI_FAIL, "out of memory");
    u->g = g;
    u->min = 1;
    u->max = 4;
    u->last_desired = u->last_local = u->last_actual = -1;
    int code = CLI_OK, started_redis = 0, loop_ok = 0;
    char state_dir[1024] = "";
    static char priv_url[1200];
    u->sched = sched_new(g);
    if (u->sched == NULL) {
        free(u);
        return cli_error(CLI_FAIL, "out of memory");
    }
    if (sched_args(u->sched, a) != CLI_OK) {
        code = CLI_USAGE;
        goto out;
    }
    u->wargs = a->pass; /* what follows --: for the workers */
    u->nwargs = a->npass;
    if (u->nwargs > UP_WORKER_ARGS) {
        code = cli_error(CLI_USAGE, "up: at most %d worker options after --", UP_WORKER_ARGS);
        goto out;
    }
    if (a->v[O_UP_WORKERS].set &&
        ferry_scale_parse_range(a->v[O_UP_WORKERS].str, &u->min, &u->max) != FERRY_OK) {
        code = cli_error(CLI_USAGE,
                         "up: --workers wants MIN..MAX (0 <= MIN <= MAX, 1 <= MAX <= %d) or N, "
                         "not \"%s\" (example: --workers 1..8)",
                         FERRY_SCALE_MAX, a->v[O_UP_WORKERS].str);
        goto out;
    }
    if (a->v[O_CONCURRENCY].set) {
        u->concurrency = (int)a->v[O_CONCURRENCY].num;
        u->cfg.concurrency = u->concurrency;
    }
    if (a->v[O_COOLDOWN].set)
        u->cfg.cooldown_ms = a->v[O_COOLDOWN].num;
    if (a->v[O_DRAIN_TARGET].set)
        u->cfg.drain_target_ms = a->v[O_DRAIN_TARGET].num;
    /* Redis: --redis, FERRY_REDIS_URL, or the private server (started here, stopped on exit) */
    if ((g->redis_url == NULL || *g->redis_url == '\0') &&
        (getenv("FERRY_REDIS_URL") == NULL || *getenv("FERRY_REDIS_URL") == '\0')) {
        ferry_error_t err;
        ferry_error_clear(&err);
        if (ferry_redisd_state_dir(g->state_dir, state_dir, sizeof(state_dir)) != FERRY_OK) {
            code = cli_error(CLI_FAIL, "no state dir: set HOME, FERRY_STATE_DIR or --state-dir");
            goto out;
        }
        if (ferry_redisd_ensure(state_dir, priv_url, sizeof(priv_url), &started_redis, &err) !=
            FERRY_OK) {
            code = cli_error(CLI_FAIL, "%s", err.msg);
            goto out;
        }
        g->redis_url = priv_url;
    }
    const char *hn = getenv("FERRY_HOSTNAME");
    if (hn && *hn)
        snprintf(u->host, sizeof(u->host), "%.150s", hn);
    else if (gethostname(u->host, sizeof(u->host) - 1) != 0)
        snprintf(u->host, sizeof(u->host), "localhost");
    snprintf(u->member, sizeof(u->member), "%s/%ld", u->host, (long)getpid());
    if ((u->r = cli_connect(g)) == NULL) {
        code = CLI_FAIL;
        goto out;
    }
    if (uv_loop_init(&u->loop)) {
        code = cli_error(CLI_FAIL, "cannot make an event loop");
        goto out;
    }
    loop_ok = 1;
    {
        /* the workers: their Redis URL in FERRY_REDIS_URL, their logs on our stderr */
        sup_cfg_t sc = {.loop = &u->loop,
                        .max = u->max,
                        .state_dir = g->state_dir,
                        .redis_url = g->redis_url,
                        .log_fd = 2,
                        .on_exit = on_worker_exit,
                        .ud = u};
        ferry_error_t err;
        if (sup_new(&sc, &u->sup, &err) != FERRY_OK) {
            code = cli_error(CLI_FAIL, "up: %s", err.msg);
            goto out;
        }
    }
    u->cfg.min = u->min;
    u->cfg.max = u->max;
    u->cfg.per_host = 1;
    sched_scale_cfg(u->sched, &u->cfg);
    if ((code = sched_start(u->sched, &u->loop)) != CLI_OK)
        goto out;
    uv_timer_init(&u->loop, &u->tick);
    uv_signal_init(&u->loop, &u->sigint);
    uv_signal_init(&u->loop, &u->sigterm);
    u->tick.data = u->sigint.data = u->sigterm.data = u;
    uv_timer_start(&u->tick, on_tick, 0, UP_TICK_MS);
    uv_signal_start(&u->sigint, on_signal, SIGINT);
    uv_signal_start(&u->sigterm, on_signal, SIGTERM);
    {
        char port[16], mn[16], mx[16];
        snprintf(port, sizeof(port), "%d", sched_api_port(u->sched));
        snprintf(mn, sizeof(mn), "%d", u->min);
        snprintf(mx, sizeof(mx), "%d", u->max);
        ferry_log(FERRY_LOG_INFO, "up.start", "redis", ferry_redis_where(u->r), "api_port", port,
                  "workers_min", mn, "workers_max", mx, "host", u->host, NULL);
    }
    uv_run(&u->loop, UV_RUN_DEFAULT);
    code = u->killed ? UP_EXIT_KILLED : CLI_OK;
    {
        redisReply *rep = NULL; /* leave the split to the other hosts at once */
        const char *rm[] = {"ZREM", FERRY_SCALE_HOSTS_KEY, u->member};
        if (ferry_redis_argv(u->r, 3, rm, NULL, &rep) == FERRY_OK)
            freeReplyObject(rep);
    }
    uv_close((uv_handle_t *)&u->tick, NULL);
    uv_close((uv_handle_t *)&u->sigint, NULL);
    uv_close((uv_handle_t *)&u->sigterm, NULL);
    if (u->killed) /* reap the killed workers before closing the loop */
        while (sup_alive(u->sup) > 0 && uv_run(&u->loop, UV_RUN_ONCE))
            ;
    char took[24];
    snprintf(took, sizeof(took), "%lld",
             (long long)(u->stop_ms ? ferry_mono_ms() - u->stop_ms : 0));
    ferry_log(FERRY_LOG_INFO, "up.stopped", "drain_ms", took, "killed", u->killed ? "1" : "0",
              NULL);
out:
    if (loop_ok) {
        sched_close(u->sched);
        uv_run(&u->loop, UV_RUN_DEFAULT);
        sup_free(u->sup); /* every worker has exited and the loop has closed their handles */
        uv_loop_close(&u->loop);
    }
    sched_free(u->sched); /* stops the API */
    ferry_redis_free(u->r);
    if (started_redis) {
        ferry_error_t err;
        ferry_error_clear(&err);
        if (ferry_redisd_stop(state_dir, NULL, &err) != FERRY_OK)
            fprintf(stderr, "ferry: up: could not stop the private redis-server: %s (ferry down)\n",
                    err.msg);
        else
            ferry_log(FERRY_LOG_INFO, "up.redis_stopped", "dir", state_dir, NULL);
    }
    free(u);
    return code;
}
