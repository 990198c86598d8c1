/* ferry sync (one-shot: task, scan, local workers, wait, summary) and ferry task run (scan
 * now, under the task's lease). Their options are parsed by cli.c (cli_parse, cli_scan_opts). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "lease.h"
#include "scan.h"

#include "ferry/ledger.h"
#include "ferry/log.h"
#include "ferry/status.h"
#include "ferry/task.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

typedef struct sync_s sync_t;

typedef struct {
    sync_t *x;
    int slot;
    uv_process_t proc;
    int alive;
    int spawned;
    long long exit_code;
} child_t;

struct sync_s {
    cli_t *g;
    uv_loop_t loop;
    ferry_redis_t *r;
    ferry_ledger_t *led;
    ferry_task_t t;
    ferry_scan_t *scan;
    ferry_scan_report_t rep;
    int scan_done;
    int nworkers;
    child_t *kids;
    int alive;
    int worker_errors;
    long long last_worker_error;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    int stopping;
    int interrupted;
    int tty;
    int64_t t0;
    ferry_counters_t c0, c1;
    long long pending, failed, failed0;
    char exe[4096];
    int finished;
};

static void spawn(child_t *k);

static void on_child_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    child_t *k = p->data;
    sync_t *x = k->x;
    k->alive = 0;
    x->alive--;
    k->exit_code = status;
    uv_close((uv_handle_t *)p, on_child_closed);
    if (status != 0 && !x->stopping) {
        x->worker_errors++;
        x->last_worker_error = sig ? 128 + sig : status;
        char code[24], slot[12];
        snprintf(code, sizeof(code), "%lld", (long long)(sig ? 128 + sig : status));
        snprintf(slot, sizeof(slot), "%d", k->slot);
        ferry_log(FERRY_LOG_WARN, "sync.worker_exit", "slot", slot, "code", code, NULL);
    }
}

static void spawn(child_t *k)
{
    sync_t *x = k->x;
    char *args[16];
    int n = 0;
    args[n++] = x->exe;
    /* The Redis URL (it may hold a password) reaches the workers through FERRY_REDIS_URL,
     * set in cmd_sync: never on a command line, which every local user can read. */
    if (x->g->state_dir) {
        args[n++] = "--state-dir";
        args[n++] = (char *)x->g->state_dir;
    }
    args[n++] = "worker";
    args[n++] = "--task";
    args[n++] = x->t.name;
    /* The lowest slot no live worker holds: another ferry sync on this machine may hold
     * 0..N-1, and a slot whose worker died is taken over with its pending jobs. */
    args[n++] = "--slot";
    args[n++] = "auto";
    args[n++] = "--exit-when-idle";
    args[n] = NULL;
    uv_stdio_container_t io[3];
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = 2; /* worker logs go to our stderr; stdout stays the summary's */
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    uv_process_options_t po;
    memset(&po, 0, sizeof(po));
    po.file = x->exe;
    po.args = args;
    po.exit_cb = on_child_exit;
    po.stdio = io;
    po.stdio_count = 3;
    k->proc.data = k;
    int rc = uv_spawn(&x->loop, &k->proc, &po);
    k->spawned++;
    if (rc) {
        x->worker_errors++;
        x->last_worker_error = -1;
        ferry_log(FERRY_LOG_ERROR, "sync.spawn", "error", uv_strerror(rc), NULL);
        return;
    }
    k->alive = 1;
    x->alive++;
}

static void draw(sync_t *x, int final)
{
    long long queued = x->rep.queued + x->rep.to_delete;
    const ferry_scan_report_t *r = x->scan ? ferry_scan_progress(x->scan) : &x->rep;
    if (!x->scan_done && x->scan)
        queued = r->queued + r->to_delete;
    /* Done = what this sync queued minus what is still pending or newly failed. */
    long long done_n = queued - x->pending - (x->failed - x->failed0);
    if (done_n < 0)
        done_n = 0;
    long long qb = x->scan_done ? x->rep.queued_bytes : r->queued_bytes;
    long long bytes = queued > 0 ? (long long)((double)qb * done_n / queued) : 0;
    double secs = (double)(mono_ms() - x->t0) / 1000.0;
    if (!x->tty) {
        if (final)
            return;
        return;
    }
    int width = 30, fill = queued > 0 ? (int)(width * (done_n > queued ? queued : done_n) / queued)
                                      : (x->scan_done ? width : 0);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr,
            "\r[%s] %lld/%lld %s, %.1f MiB, %.1f MiB/s, listed %lld, pending %lld, failed %lld "
            "%s ",
            bar, done_n, queued, x->scan_done ? "copied" : "copied (scanning)",
            (double)bytes / 1048576.0, secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0,
            r->src_listed, x->pending, x->failed, final ? "\n" : "");
    fflush(stderr);
}

static void stop_all(sync_t *x, int sig)
{
    x->stopping = 1;
    for (int i = 0; i < x->nworkers; i++)
        if (x->kids[i].alive)
            uv_process_kill(&x->kids[i].proc, sig);
    if (x->scan && !x->scan_done)
        ferry_scan_cancel(x->scan, "interrupted");
}

static void on_tick(uv_timer_t *h)
{
    sync_t *x = h->data;
    if (ferry_ledger_counters(x->led, &x->c1) != FERRY_OK ||
        ferry_ledger_progress(x->led, "", &x->pending, &x->failed) != FERRY_OK) {
        fprintf(stderr, "\nferry: %s\n", ferry_redis_error(x->r)->msg);
        return;
    }
    draw(x, 0);
    if (x->stopping) {
        if (x->alive == 0 && (x->scan_done || !x->scan))
            uv_stop(&x->loop);
        return;
    }
    /* Keep nworkers alive while the scan runs or work is pending; a worker that exits with
     * an error is not restarted (its code is reported). */
    int want = !x->scan_done || x->pending > 0;
    if (want && x->worker_errors == 0)
        for (int i = 0; i < x->nworkers; i++)
            if (!x->kids[i].alive)
                spawn(&x->kids[i]);
    if (x->scan_done && x->alive == 0 && (x->pending == 0 || x->worker_errors || !x->nworkers)) {
        if (x->nworkers == 0 && x->pending > 0)
            return; /* --workers 0: wait for workers elsewhere */
        x->finished = 1;
        uv_stop(&x->loop);
    }
}

static void on_scan_done(void *ud, const ferry_scan_report_t *r)
{
    sync_t *x = ud;
    x->rep = *r;
    x->scan_done = 1;
    if (r->rc) {
        stop_all(x, SIGTERM);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    sync_t *x = h->data;
    x->interrupted = signum;
    stop_all(x, SIGTERM);
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

static void print_failed(sync_t *x)
{
    json_t *arr = NULL;
    char next[1200];
    if (ferry_status_list(x->r, x->t.name, FERRY_STATE_FAILED, "", "", 20, &arr, next,
                          sizeof(next)) != FERRY_OK)
        return;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *err = json_string_value(json_object_get(e, "error"));
        fputs("  failed: ", stdout);
        cli_puts_escaped(stdout, json_string_value(json_object_get(e, "key")));
        fputs(": ", stdout);
        cli_puts_escaped(stdout, err ? err : "");
        putchar('\n');
    }
    if (next[0])
        printf("  … more: ferry ls %s --state failed\n", x->t.name);
    json_decref(arr);
}

int cmd_sync(cli_t *g, const cli_args_t *a)
{
    sync_t x;
    memset(&x, 0, sizeof(x));
    x.g = g;
    x.nworkers = a->v[O_WORKERS].set ? (int)a->v[O_WORKERS].num : 4;
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
    ssize_t el = readlink("/proc/self/exe", x.exe, sizeof(x.exe) - 1);
    if (el <= 0) {
        snprintf(x.exe, sizeof(x.exe), "ferry");
    } else
        x.exe[el] = '\0';
    x.kids = calloc((size_t)(x.nworkers ? x.nworkers : 1), sizeof(*x.kids));
    if (x.kids == NULL || uv_loop_init(&x.loop)) {
        ferry_lease_release(&lease);
        code = cli_error(CLI_FAIL, "out of memory");
        goto out;
    }
    for (int i = 0; i < x.nworkers; i++) {
        x.kids[i].x = &x;
        x.kids[i].slot = i;
    }
    char self[24];
    snprintf(self, sizeof(self), "%ld", (long)getpid());
    if (setenv("FERRY_SYNC_PID", self, 1) != 0) { /* the workers stop when this process dies */
        ferry_lease_release(&lease);
        uv_loop_close(&x.loop);
        code = cli_error(CLI_FAIL, "sync: cannot set FERRY_SYNC_PID for the workers: %s",
                         strerror(errno));
        goto out;
    }
    if (g->redis_url && *g->redis_url && setenv("FERRY_REDIS_URL", g->redis_url, 1) != 0) {
        ferry_lease_release(&lease);
        uv_loop_close(&x.loop);
        code = cli_error(CLI_FAIL, "sync: cannot pass the Redis URL to the workers: %s",
                         strerror(errno));
        goto out;
    }
    x.tty = isatty(2);
    x.t0 = mono_ms();
    ferry_ledger_counters(x.led, &x.c0);
    x.c1 = x.c0;
    {
        long long p0 = 0;
        ferry_ledger_progress(x.led, "", &p0, &x.failed0);
    }
    if (ferry_scan_start(&x.loop, x.r, &x.t, &o, on_scan_done, &x, &x.scan, &err) != FERRY_OK) {
        ferry_lease_release(&lease);
        uv_loop_close(&x.loop);
        code = cli_error(CLI_FAIL, "sync: %s", err.msg);
        goto out;
    }
    uv_timer_init(&x.loop, &x.tick);
    x.tick.data = &x;
    uv_timer_start(&x.tick, on_tick, 100, 250);
    uv_signal_init(&x.loop, &x.sigint);
    uv_signal_init(&x.loop, &x.sigterm);
    x.sigint.data = x.sigterm.data = &x;
    uv_signal_start(&x.sigint, on_signal, SIGINT);
    uv_signal_start(&x.sigterm, on_signal, SIGTERM);
    for (int i = 0; i < x.nworkers; i++)
        spawn(&x.kids[i]);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    /* Scan history and the lease */
    if (ferry_scan_history_add(x.r, &x.rep) != FERRY_OK)
        fprintf(stderr, "ferry: could not record the scan: %s\n", ferry_redis_error(x.r)->msg);
    ferry_lease_release(&lease);
    ferry_ledger_counters(x.led, &x.c1);
    ferry_ledger_progress(x.led, "", &x.pending, &x.failed);
    draw(&x, 1);
    /* close handles */
    uv_close((uv_handle_t *)&x.tick, NULL);
    uv_close((uv_handle_t *)&x.sigint, NULL);
    uv_close((uv_handle_t *)&x.sigterm, NULL);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    ferry_scan_free(x.scan);
    x.scan = NULL;
    uv_loop_close(&x.loop);

    print_report(g, &x.rep);
    /* What this sync queued and is no longer pending or failed: copied (or deleted). */
    long long newly_failed = x.failed - x.failed0 > 0 ? x.failed - x.failed0 : 0;
    long long copied = x.rep.queued - x.pending - newly_failed;
    if (copied > x.rep.queued)
        copied = x.rep.queued;
    long long bytes = x.pending == 0 && newly_failed == 0 ? x.rep.queued_bytes : -1;
    long long deleted = x.rep.to_delete;
    double secs = (double)(mono_ms() - x.t0) / 1000.0;
    if (!g->json)
        printf("sync %s: copied %lld objects (%s%lld bytes), deleted %lld, failed %lld, pending "
               "%lld, in %.1fs\n",
               x.t.name, copied < 0 ? 0 : copied, bytes < 0 ? "up to " : "",
               bytes < 0 ? x.rep.queued_bytes : bytes, deleted, x.failed, x.pending, secs);
    if (!g->json && x.c1.unverified > 0) /* issue 12: copies without a source-side check */
        printf("sync %s: %lld done objects have no source-side check (src:unverified): ferry ls "
               "%s --unverified\n",
               x.t.name, x.c1.unverified, x.t.name);
    if (x.interrupted) {
        code = cli_error(CLI_FAIL, "sync: interrupted; run the same command again to resume");
    } else if (x.rep.rc) {
        fputs("ferry: sync: the scan failed: ", stderr);
        cli_puts_escaped(stderr, x.rep.error);
        fputc('\n', stderr);
        code = CLI_FAIL;
    } else if (x.failed > 0) {
        print_failed(&x);
        code = cli_error(CLI_FAIL,
                         "sync: %lld objects failed (ferry ls %s --state failed; ferry retry %s)",
                         x.failed, x.t.name, x.t.name);
    } else if (x.pending > 0) {
        code = cli_error(CLI_FAIL,
                         "sync: %lld objects are still pending: the local workers exited (last "
                         "exit code %lld) — check their messages above, or run ferry worker "
                         "--task %s",
                         x.pending, x.last_worker_error, x.t.name);
    }
out:
    free(x.kids);
    ferry_ledger_free(x.led);
    ferry_redis_free(x.r);
    ferry_task_clear(&x.t);
    return code;
}
