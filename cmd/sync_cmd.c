/* ferry sync (one-shot: task, scan, local workers, wait, summary) and ferry task run (scan
 * now, under the task's lease). Their options are parsed by cli.c (cli_parse, cli_scan_opts). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#ifdef __linux__
#include <sched.h>
#endif

#include "cli.h"
#include "lease.h"
#include "progress.h"
#include "scan.h"
#include "supervise.h"

#include "ferry/clock.h"
#include "ferry/ledger.h"
#include "ferry/log.h"
#include "ferry/redisd.h"
#include "ferry/status.h"
#include "ferry/task.h"

static void print_report(cli_t *g, const ferry_scan_report_t *rep)
{
    if (g->json) {
        json_t *j = ferry_scan_report_json(rep);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(j);
        return;
    }
    char line[1024];
    ferry_scan_report_line(rep, line, sizeof(line));
    printf("scan %s: %s\n", rep->task, line);
    /* these quote keys: escaped for the terminal */
    if (rep->guard[0]) {
        printf("scan %s: deletes withheld: ", rep->task);
        cli_puts_escaped(stdout, rep->guard);
        putchar('\n');
    }
    if (rep->skip_example[0]) {
        printf("scan %s: skipped, e.g. ", rep->task);
        cli_puts_escaped(stdout, rep->skip_example);
        putchar('\n');
    }
}

/* Take the task's lease or say who has it. */
static int take_lease(ferry_lease_t *l, ferry_redis_t *r, const char *task)
{
    char who[128] = "";
    if (ferry_lease_init(l, r, task, 30000, NULL) != FERRY_OK)
        return cli_error(CLI_USAGE, "bad task name \"%s\"", task);
    int rc = ferry_lease_acquire(l, who, sizeof(who));
    if (rc == FERRY_EBUSY)
        return cli_error(CLI_FAIL,
                         "task %s is being scanned right now by %s: wait for that scan to finish "
                         "(ferry task show %s) and try again",
                         task, who[0] ? who : "another process", task);
    if (rc)
        return cli_redis_error(r);
    return CLI_OK;
}

/* ferry task run NAME [scan options] */
int cmd_task_run(cli_t *g, const cli_args_t *a)
{
    ferry_scan_opts_t o;
    memset(&o, 0, sizeof(o));
    const char *name = a->pos[0];
    if (cli_scan_opts(a, 1, &o) != CLI_OK)
        return CLI_USAGE;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL)
        return CLI_FAIL;
    ferry_task_t t;
    ferry_task_init(&t);
    int code = CLI_OK;
    if (ferry_task_get(r, name, &t) != FERRY_OK) {
        code = cli_redis_error(r);
        goto out;
    }
    ferry_lease_t lease;
    code = take_lease(&lease, r, name);
    if (code)
        goto out;
    o.lease = &lease;
    ferry_scan_report_t rep;
    ferry_error_t err = {0};
    int rc = ferry_scan_run(r, &t, &o, &rep, &err);
    if (ferry_scan_history_add(r, &rep) != FERRY_OK)
        fprintf(stderr, "ferry: could not record the scan in its history: %s\n",
                ferry_redis_error(r)->msg);
    ferry_lease_release(&lease);
    print_report(g, &rep);
    if (rc) {
        fprintf(stderr, "ferry: scan of %s failed: ", name);
        cli_puts_escaped(stderr, rep.error);
        fputc('\n', stderr);
        code = CLI_FAIL;
    }
out:
    ferry_task_clear(&t);
    ferry_redis_free(r);
    return code;
}

/* ---- ferry sync --------------------------------------------------------------------------- */

/* The default number of local workers: one per CPU this process may run on (its affinity mask,
 * and the cgroup v2 quota in /sys/fs/cgroup/cpu.max when one is set, as in a container), at
 * least 1, at most 16. Each worker already runs 16 copies at once on one loop, so more
 * processes than CPUs only adds contention: on a 2-CPU machine issue 16 measured 10,000 x 16 KiB
 * at 2,700-3,142 obj/s with 2 workers, 2,429-2,653 with 4 and 2,252-2,387 with 8. The one place
 * to change the policy. */
static int sync_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
#endif
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char q[32] = "";
        long long period = 0;
        if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0 && period > 0) {
            long long quota = atoll(q);
            long cpus = quota > 0 ? (long)((quota + period - 1) / period) : 0;
            if (cpus > 0 && cpus < n)
                n = cpus;
        }
        fclose(f);
    }
    if (n < 1)
        n = 1;
    return n > 16 ? 16 : (int)n;
}

typedef struct {
    cli_t *g;
    uv_loop_t loop;
    ferry_redis_t *r;
    ferry_ledger_t *led;
    ferry_task_t t;
    ferry_scan_t *scan;
    ferry_scan_report_t rep;
    int scan_done;
    int nworkers;
    sup_t *sup; /* the local workers (supervise.h) */
    int worker_errors;
    long long last_worker_error;
    uv_timer_t tick;
    uv_timer_t fast; /* after the scan: "nothing pending?" every fast_ms() */
    uv_signal_t sigint, sigterm;
    int stopping;
    int interrupted;
    int tty;
    int64_t t0;
    ferry_counters_t c1;
    long long pending, failed;
    int finished;
    const char *log_format; /* --log-format, passed on to the workers; NULL: text */
    int log_fd;             /* the workers' log file (on a terminal), else -1 */
    char log_path[1200];
    progress_t disp;
    progress_tail_t tail;
    progress_sample_t last;
    char label[96];
    int64_t redis_said; /* when a Redis error was last shown */
} sync_t;

/* A worker exited (supervise.h). */
static void on_worker_exit(void *ud, const sup_exit_t *e)
{
    sync_t *x = ud;
    if (!x->stopping) {
        /* a worker of a sync runs until the sync stops it: any other exit is a failure, and
         * the worker is not started again (its last words are in its log) */
        x->worker_errors++;
        x->last_worker_error = e->code;
        char code[24], slot[12];
        snprintf(code, sizeof(code), "%d", e->code);
        snprintf(slot, sizeof(slot), "%d", e->idx);
        ferry_log(FERRY_LOG_WARN, "sync.worker_exit", "slot", slot, "code", code, "log",
                  x->log_fd >= 0 ? x->log_path : "stderr", NULL);
    } else if (sup_alive(x->sup) == 0 && (x->scan_done || !x->scan)) {
        uv_stop(&x->loop); /* the last worker stopped: the summary now, not at the next tick */
    }
}

/* Start the x->nworkers workers. A worker that does not start counts as one that failed. */
static void spawn_workers(sync_t *x)
{
    char *args[10], peers[16];
    int n = 0;
    args[n++] = "--task";
    args[n++] = x->t.name;
    /* The workers share the jobs from the first one (feeder_share in worker.c): a worker that
     * reads before the others have started takes only its part of the first page. */
    snprintf(peers, sizeof(peers), "%d", x->nworkers);
    args[n++] = "--peers";
    args[n++] = peers;
    /* The lowest slot no live worker holds: another ferry sync on this machine may hold
     * 0..N-1, and a slot whose worker died is taken over with its pending jobs. */
    args[n++] = "--slot";
    args[n++] = "auto";
    /* No --exit-when-idle: the workers stay from before the first job until the scan is done
     * and nothing is pending; then this process stops them with SIGTERM (they drain). */
    if (x->log_format) {
        args[n++] = "--log-format";
        args[n++] = (char *)x->log_format;
    }
    args[n] = NULL;
    for (int i = 0; i < x->nworkers; i++) {
        ferry_error_t err;
        if (sup_spawn(x->sup, args, NULL, &err) != FERRY_OK) {
            x->worker_errors++;
            x->last_worker_error = -1;
            ferry_log(FERRY_LOG_ERROR, "sync.spawn", "error", err.msg, NULL);
        }
    }
}

static void stop_all(sync_t *x, int sig)
{
    x->stopping = 1;
    sup_signal_all(x->sup, sig);
    if (x->scan && !x->scan_done)
        ferry_scan_cancel(x->scan, "interrupted");
}

/* Read the task and show it: the workers' log lines that reach the terminal, then the
 * display. 0, or -1 when Redis did not answer (said above the display). */
static int refresh(sync_t *x, int force)
{
    progress_sample_t s;
    memset(&s, 0, sizeof(s));
    if (x->tail.fd >= 0)
        progress_tail_poll(&x->tail, &x->disp);
    if (progress_read(&x->disp, x->r, x->led, x->t.name, "", &s) != FERRY_OK ||
        ferry_ledger_counters(x->led, &x->c1) != FERRY_OK ||
        ferry_ledger_progress(x->led, "", &x->pending, &x->failed) != FERRY_OK) {
        /* said once every 10 s at most while Redis does not answer, not every tick */
        int64_t now = ferry_mono_ms();
        if (x->redis_said == 0 || now - x->redis_said >= 10000) {
            x->redis_said = now;
            char msg[700];
            int n = snprintf(msg, sizeof(msg), "ferry: sync: %s (retrying)",
                             ferry_redis_error(x->r)->msg);
            progress_print_above(&x->disp, msg, n > 0 ? (size_t)n : 0);
        }
        return -1;
    }
    const ferry_scan_report_t *r =
        x->scan && !x->scan_done ? ferry_scan_progress(x->scan) : &x->rep;
    s.listing = !x->scan_done;
    s.src_objects = r->src_listed;
    s.dst_objects = r->dst_listed;
    s.src_bytes = r->src_listed_bytes;
    s.dst_bytes = r->dst_listed_bytes;
    x->last = s;
    /* a failed scan draws no bar at all */
    if (!(x->scan_done && x->rep.rc))
        progress_show(&x->disp, &s, force);
    return 0;
}

static void on_tick(uv_timer_t *h)
{
    sync_t *x = h->data;
    if (refresh(x, 0) != 0)
        return;
    if (x->stopping) {
        if (sup_alive(x->sup) == 0 && (x->scan_done || !x->scan))
            uv_stop(&x->loop);
        return;
    }
    /* Done: the scan finished and nothing is queued or copying. The workers drain (nothing is
     * in flight) and exit; the loop stops when the last one did. */
    if (x->scan_done && x->pending == 0) {
        x->finished = 1;
        stop_all(x, SIGTERM);
        if (sup_alive(x->sup) == 0)
            uv_stop(&x->loop);
        return;
    }
    /* Every local worker is gone with work left: nothing more will happen here. */
    if (x->nworkers > 0 && sup_alive(x->sup) == 0 && x->worker_errors > 0) {
        stop_all(x, SIGTERM);
        if (x->scan_done || !x->scan)
            uv_stop(&x->loop);
    }
}

/* Once the scan is done, the end is near: look for it every few milliseconds (two ZLEXCOUNTs per
 * ledger shard) rather than at the display's 250 ms tick, which was up to a quarter of a second
 * after the last copy — a fifth of a 2,000-object sync. 5 ms (half of it on average after the
 * last copy, ~1% of a 2,000-object sync) for up to 8 shards; a task spread over more shards
 * is looked at less often, so that this stays under ~3,500 commands/s up to 16 shards and at
 * the former 15 ms above. */
static uint64_t fast_ms(const ferry_task_t *t)
{
    return t->ledger_shards <= 8 ? 5 : t->ledger_shards <= 16 ? 10 : 15;
}

static void on_fast(uv_timer_t *h)
{
    sync_t *x = h->data;
    long long pending = -1, failed = 0;
    if (x->stopping || !x->scan_done)
        return;
    if (ferry_ledger_progress(x->led, "", &pending, &failed) == FERRY_OK && pending == 0)
        on_tick(&x->tick); /* reads everything again and stops the workers */
}

static void on_scan_done(void *ud, const ferry_scan_report_t *r)
{
    sync_t *x = ud;
    x->rep = *r;
    x->scan_done = 1;
    if (r->rc) {
        stop_all(x, SIGTERM);
        return;
    }
    on_tick(&x->tick); /* nothing queued (a re-sync): stop the workers now, not in 250 ms */
    if (!x->stopping)
        uv_timer_start(&x->fast, on_fast, fast_ms(&x->t), fast_ms(&x->t));
}

static void on_signal(uv_signal_t *h, int signum)
{
    sync_t *x = h->data;
    x->interrupted = signum;
    stop_all(x, SIGTERM); /* a second Ctrl-C reaches the workers again: they stop sooner */
}

/* A task name from the two locations: "oss-src-in--s3-dst-out", cut to 64. */
static void derive_name(const char *from, const char *to, char *out, size_t n)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%.250s--%.250s", from, to); /* the name keeps 64 anyway */
    size_t j = 0;
    int dash = 0;
    for (size_t i = 0; buf[i] && j + 1 < n && j < 64; i++) {
        char c = buf[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_';
        if (ok) {
            out[j++] = c;
            dash = 0;
        } else if (j > 0 && dash < 2 && !(buf[i] == ':' || (buf[i] == '/' && buf[i - 1] == '/'))) {
            out[j++] = '-';
            dash++;
        }
    }
    while (j > 0 && out[j - 1] == '-')
        j--;
    out[j] = '\0';
    if (j == 0 || out[0] == '.')
        snprintf(out, n, "sync");
}

/* On a terminal the workers' log (and this process's) goes to STATE_DIR/log/NAME.log, appended;
 * a file past 64 MiB is first moved to NAME.log.1 (one older generation kept). FERRY_OK with
 * x->log_fd and x->log_path set, and *start the offset this run's lines begin at; else an
 * error with the reason in err. */
static int open_log(sync_t *x, long long *start, ferry_error_t *err)
{
    char dir[1024];
    if (ferry_redisd_state_dir(x->g->state_dir, dir, sizeof(dir)) != FERRY_OK)
        return ferry_error_set(err, FERRY_ECONFIG, "no state dir (set HOME or --state-dir)");
    char ld[1100];
    snprintf(ld, sizeof(ld), "%s/log", dir);
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || (mkdir(ld, 0700) != 0 && errno != EEXIST))
        return ferry_error_set(err, FERRY_EIO, "cannot create %s: %s", ld, strerror(errno));
    if (snprintf(x->log_path, sizeof(x->log_path), "%s/%s.log", ld, x->t.name) >=
        (int)sizeof(x->log_path))
        return ferry_error_set(err, FERRY_EINVAL, "the state dir's path is too long");
    struct stat st;
    if (stat(x->log_path, &st) == 0 && st.st_size > 64LL * 1024 * 1024) {
        char old[1300];
        snprintf(old, sizeof(old), "%s.1", x->log_path);
        if (rename(x->log_path, old) != 0)
            return ferry_error_set(err, FERRY_EIO, "cannot move %s aside: %s", x->log_path,
                                   strerror(errno));
    }
    x->log_fd = open(x->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (x->log_fd < 0)
        return ferry_error_set(err, FERRY_EIO, "cannot open %s: %s", x->log_path, strerror(errno));
    *start = lseek(x->log_fd, 0, SEEK_END);
    if (*start < 0)
        *start = 0;
    return FERRY_OK;
}

int cmd_sync(cli_t *g, const cli_args_t *a)
{
    sync_t x;
    memset(&x, 0, sizeof(x));
    x.g = g;
    x.log_fd = -1;
    x.tail.fd = -1;
    x.nworkers = a->v[O_WORKERS].set ? (int)a->v[O_WORKERS].num : sync_default_workers();
    x.log_format = a->v[O_LOG_FORMAT].set ? a->v[O_LOG_FORMAT].str : NULL;
    ferry_scan_opts_t o;
    memset(&o, 0, sizeof(o));
    const char *name = a->v[O_NAME].str;
    int code = CLI_OK;
    ferry_task_init(&x.t);
    if (cli_scan_opts(a, 0, &o) != CLI_OK) /* the filters are the task's (stored) */
        return CLI_USAGE;
    if (name && (strlen(name) >= sizeof(x.t.name) || !ferry_task_name_valid(name))) {
        code =
            cli_error(CLI_USAGE, "sync: --name \"%.70s\" must be 1..64 of A-Z a-z 0-9 . _ -", name);
        goto out;
    }
    if (x.log_format) {
        ferry_log_format_t lf;
        if (ferry_log_format_parse(x.log_format, &lf) == FERRY_OK)
            ferry_log_set_format(lf);
    }
    /* The task's own parser checks the options (the name is set below, from the locations
     * when --name is not given). */
    snprintf(x.t.name, sizeof(x.t.name), "%s", name ? name : "sync");
    ferry_error_t err;
    if (ferry_task_parse_args(&x.t, a->task_argc, a->task_argv, &err) != FERRY_OK) {
        code = cli_error(CLI_USAGE,
                         "sync: %s (ferry sync --from oss://bucket/prefix/ --to "
                         "s3://bucket/prefix/; see ferry sync --help)",
                         err.msg);
        goto out;
    }
    if (name == NULL)
        derive_name(x.t.src.loc, x.t.dst.loc, x.t.name, sizeof(x.t.name));
    if (ferry_scan_check(&x.t, &err) != FERRY_OK) {
        code = cli_error(CLI_USAGE, "sync: %s", err.msg);
        goto out;
    }
    x.r = cli_connect(g);
    if (x.r == NULL) {
        code = CLI_FAIL;
        goto out;
    }
    {
        /* Reuse the task: keep its ledger layout and creation time. */
        ferry_task_t old;
        ferry_task_init(&old);
        if (ferry_task_get(x.r, x.t.name, &old) == FERRY_OK) {
            x.t.ledger_buckets = old.ledger_buckets;
            x.t.ledger_shards = old.ledger_shards;
            x.t.created_at = old.created_at;
        }
        ferry_task_clear(&old);
    }
    if (ferry_task_put(x.r, &x.t, 1) != FERRY_OK ||
        ferry_status_ledger(x.r, x.t.name, &x.led) != FERRY_OK) {
        code = cli_redis_error(x.r);
        goto out;
    }
    ferry_lease_t lease;
    code = take_lease(&lease, x.r, x.t.name);
    if (code)
        goto out;
    o.lease = &lease;
    if (uv_loop_init(&x.loop)) {
        ferry_lease_release(&lease);
        code = cli_error(CLI_FAIL, "out of memory");
        goto out;
    }
    x.tty = isatty(2);
    x.t0 = ferry_mono_ms();
    snprintf(x.label, sizeof(x.label), "sync %s", x.t.name);
    long long interval = a->v[O_PROGRESS_INTERVAL].set ? a->v[O_PROGRESS_INTERVAL].num : 10000;
    progress_init(&x.disp, stderr, x.tty, interval, x.label);
    if (x.tty) {
        long long start = 0;
        if (open_log(&x, &start, &err) == FERRY_OK &&
            progress_tail_open(&x.tail, x.log_path, start, a->v[O_VERBOSE].set) == FERRY_OK) {
            ferry_log_setup(FERRY_LOG_INFO, x.log_fd);
            fprintf(stderr, "ferry: sync %s: the workers' log: %s\n", x.t.name, x.log_path);
        } else {
            fprintf(stderr, "ferry: sync: %s: the workers log to the terminal instead\n",
                    err.msg[0] ? err.msg : strerror(errno));
            if (x.log_fd >= 0)
                close(x.log_fd);
            x.log_fd = -1;
        }
    }
    {
        /* the workers' log: the file under the state dir on a terminal, else our stderr;
         * stdout stays the summary's either way */
        sup_cfg_t sc = {.loop = &x.loop,
                        .max = x.nworkers > 0 ? x.nworkers : 1,
                        .state_dir = g->state_dir,
                        .redis_url = g->redis_url,
                        .log_fd = x.log_fd >= 0 ? x.log_fd : 2,
                        .on_exit = on_worker_exit,
                        .ud = &x};
        if (sup_new(&sc, &x.sup, &err) != FERRY_OK) {
            ferry_lease_release(&lease);
            uv_loop_close(&x.loop);
            code = cli_error(CLI_FAIL, "sync: %s", err.msg);
            goto out;
        }
    }
    {
        /* the baseline of the display, before any worker ran */
        progress_sample_t s0;
        progress_read(&x.disp, x.r, x.led, x.t.name, "", &s0);
    }
    uv_timer_init(&x.loop, &x.tick);
    uv_timer_init(&x.loop, &x.fast);
    x.tick.data = x.fast.data = &x;
    uv_signal_init(&x.loop, &x.sigint);
    uv_signal_init(&x.loop, &x.sigterm);
    x.sigint.data = x.sigterm.data = &x;
    uv_signal_start(&x.sigint, on_signal, SIGINT);
    uv_signal_start(&x.sigterm, on_signal, SIGTERM);
    /* The workers first: they are up and waiting when the scan queues its first page. */
    spawn_workers(&x);
    int start_failed = 0;
    if (ferry_scan_start(&x.loop, x.r, &x.t, &o, on_scan_done, &x, &x.scan, &err) != FERRY_OK) {
        start_failed = 1;
        x.scan = NULL;
        stop_all(&x, SIGTERM);
    }
    uv_timer_start(&x.tick, on_tick, start_failed ? 0 : 100, 250);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    /* Scan history and the lease */
    if (!start_failed && ferry_scan_history_add(x.r, &x.rep) != FERRY_OK)
        fprintf(stderr, "ferry: could not record the scan: %s\n", ferry_redis_error(x.r)->msg);
    ferry_lease_release(&lease);
    /* the final state: every worker has exited and flushed its statistics */
    int scan_failed = start_failed || x.rep.rc != FERRY_OK;
    refresh(&x, 1);
    progress_end(&x.disp, !scan_failed);
    progress_tail_close(&x.tail);
    if (x.log_fd >= 0) {
        ferry_log_setup(FERRY_LOG_INFO, 2);
        close(x.log_fd);
        x.log_fd = -1;
    }
    /* close handles */
    uv_close((uv_handle_t *)&x.tick, NULL);
    uv_close((uv_handle_t *)&x.fast, NULL);
    uv_close((uv_handle_t *)&x.sigint, NULL);
    uv_close((uv_handle_t *)&x.sigterm, NULL);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    ferry_scan_free(x.scan);
    x.scan = NULL;
    sup_free(x.sup); /* every worker has exited and the loop has closed their handles */
    x.sup = NULL;
    uv_loop_close(&x.loop);

    if (start_failed) {
        code = cli_error(CLI_FAIL, "sync: %s", err.msg);
        goto out;
    }
    print_report(g, &x.rep);
    double secs = (double)(ferry_mono_ms() - x.t0) / 1000.0;
    if (!g->json)
        printf("sync %s: copied %lld objects (%lld bytes), deleted %lld, failed %lld, pending "
               "%lld, in %.1fs\n",
               x.t.name, x.last.copied, x.last.done_bytes, x.rep.to_delete, x.failed, x.pending,
               secs);
    if (!g->json && x.c1.unverified > 0) /* issue 12: copies without a source-side check */
        printf("sync %s: %lld done objects have no source-side check (src:unverified): ferry ls "
               "%s --unverified\n",
               x.t.name, x.c1.unverified, x.t.name);
    if (x.failed > 0 && !g->json) {
        fflush(stdout);
        progress_failures(stdout, x.r, x.t.name, "", x.failed);
    }
    if (x.interrupted) {
        code = cli_error(CLI_FAIL, "sync: interrupted; run the same command again to resume");
    } else if (scan_failed) {
        fputs("ferry: sync: the scan failed: ", stderr);
        cli_puts_escaped(stderr, x.rep.error);
        fputc('\n', stderr);
        if (x.last.copied > 0 || x.pending > 0)
            fprintf(stderr,
                    "ferry: sync: %lld objects were copied before the scan stopped and %lld are "
                    "still queued: once the cause is fixed, run the same command again (what is "
                    "done is not copied again)\n",
                    x.last.copied, x.pending);
        code = CLI_FAIL;
    } else if (x.failed > 0) {
        code = cli_error(CLI_FAIL,
                         "sync: %lld objects failed (ferry ls %s --state failed --format csv; "
                         "ferry retry %s)",
                         x.failed, x.t.name, x.t.name);
    } else if (x.pending > 0) {
        code = cli_error(CLI_FAIL,
                         "sync: %lld objects are still pending: the local workers exited (last "
                         "exit code %lld) — see %s, or run ferry worker --task %s",
                         x.pending, x.last_worker_error,
                         x.log_path[0] ? x.log_path : "their messages above", x.t.name);
    }
out:
    if (x.log_fd >= 0) {
        ferry_log_setup(FERRY_LOG_INFO, 2);
        close(x.log_fd);
    }
    progress_tail_close(&x.tail);
    ferry_ledger_free(x.led);
    ferry_redis_free(x.r);
    ferry_task_clear(&x.t);
    return code;
}
