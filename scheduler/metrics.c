/* ferry scheduler — Prometheus metrics (see metrics.h and docs/metrics.md). */
#include "metrics.h"
#include "scale.h"

#include "scan.h"

#include "ferry/ledger.h"
#include "ferry/status.h"
#include "ferry/stats.h"
#include "ferry/task.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.1.0"
#endif

/* What one task contributes to the page, read before anything is written so that each metric
 * family is one block (HELP, TYPE, then every task's samples). */
typedef struct mtask_s {
    const char *name;
    ferry_counters_t c;
    ferry_stats_field_t *f;
    size_t nf;
    ferry_stream_stats_t st[2];
    long long dead;
    json_t *scans;  /* newest first */
    size_t workers; /* live heartbeats serving it */
} mtask_t;

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static int add_escaped(ferry_buf_t *out, const char *s)
{
    int rc = FERRY_OK;
    for (; *s && rc == FERRY_OK; s++) {
        if (*s == '\\')
            rc = ferry_buf_adds(out, "\\\\");
        else if (*s == '"')
            rc = ferry_buf_adds(out, "\\\"");
        else if (*s == '\n')
            rc = ferry_buf_adds(out, "\\n");
        else
            rc = ferry_buf_add(out, s, 1);
    }
    return rc;
}

static int family(ferry_buf_t *out, const char *name, const char *type, const char *help)
{
    return ferry_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static long long field_value(const mtask_t *t, const char *name)
{
    for (size_t i = 0; i < t->nf; i++)
        if (strcmp(t->f[i].name, name) == 0)
            return t->f[i].value;
    return 0;
}

/* A counter kept by the workers (ferry/stats.h): one sample per label set found, with the
 * label names given for the stored values (NULL: that value is not shown). */
static int stats_counter(ferry_buf_t *out, const mtask_t *ts, size_t n, const char *metric,
                         const char *help, const char *stat, const char *n1, const char *n2,
                         const char *n3)
{
    int rc = family(out, metric, "counter", help);
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        for (size_t k = 0; rc == FERRY_OK && k < ts[i].nf; k++) {
            char buf[FERRY_STATS_FIELD_MAX];
            const char *v[3];
            const char *names[3] = {n1, n2, n3};
            if (!ferry_stats_field_counter(ts[i].f[k].name, stat, buf, sizeof(buf), &v[0], &v[1],
                                           &v[2]))
                continue;
            rc = ferry_buf_addf(out, "%s{task=\"%s\"", metric, ts[i].name);
            for (int l = 0; rc == FERRY_OK && l < 3; l++) {
                if (names[l] == NULL)
                    continue;
                rc = ferry_buf_addf(out, ",%s=\"", names[l]);
                if (rc == FERRY_OK)
                    rc = add_escaped(out, v[l]);
                if (rc == FERRY_OK)
                    rc = ferry_buf_adds(out, "\"");
            }
            if (rc == FERRY_OK)
                rc = ferry_buf_addf(out, "} %lld\n", ts[i].f[k].value);
        }
    return rc;
}

/* A histogram kept by the workers: stored per bucket, shown cumulative. extra is a label
 * pair ("from=\"event\"") or "". */
static int stats_histogram(ferry_buf_t *out, const mtask_t *t, int h, const char *metric,
                           const char *extra)
{
    const ferry_hist_def_t *d = ferry_stats_hist(h);
    long long cum = 0;
    int rc = FERRY_OK;
    char f[FERRY_STATS_FIELD_MAX];
    for (size_t b = 0; rc == FERRY_OK && b <= d->n; b++) {
        snprintf(f, sizeof(f), "h|%s|%zu", d->id, b);
        cum += field_value(t, f);
        if (b < d->n)
            rc = ferry_buf_addf(out, "%s_bucket{task=\"%s\"%s,le=\"%.17g\"} %lld\n", metric,
                                t->name, extra, d->le[b], cum);
        else
            rc = ferry_buf_addf(out, "%s_bucket{task=\"%s\"%s,le=\"+Inf\"} %lld\n", metric, t->name,
                                extra, cum);
    }
    snprintf(f, sizeof(f), "h|%s|sum", d->id);
    double sum = (double)field_value(t, f) / d->scale;
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(out, "%s_sum{task=\"%s\"%s} %.17g\n%s_count{task=\"%s\"%s} %lld\n",
                            metric, t->name, extra, sum, metric, t->name, extra, cum);
    return rc;
}

/* ---- the serving process (/proc) ------------------------------------------------------------ */

static int process_metrics(ferry_buf_t *out)
{
    int rc = FERRY_OK;
    char buf[2048];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    int ok = p != NULL &&
             sscanf(p + 2,
                    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                    "%*d %llu %llu %lld",
                    &utime, &stime, &start, &vsize, &rss) == 5;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    long long btime = 0;
    f = fopen("/proc/stat", "r");
    while (f && fgets(buf, sizeof(buf), f))
        if (sscanf(buf, "btime %lld", &btime) == 1)
            break;
    if (f)
        fclose(f);
    if (ok && tck > 0) {
        rc = family(out, "process_cpu_seconds_total", "counter",
                    "User and system CPU time of the serving process.");
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "process_cpu_seconds_total %.2f\n",
                                (double)(utime + stime) / (double)tck);
        if (rc == FERRY_OK)
            rc = family(out, "process_resident_memory_bytes", "gauge",
                        "Resident memory of the serving process.");
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "process_resident_memory_bytes %lld\n", rss * page);
        if (rc == FERRY_OK)
            rc = family(out, "process_virtual_memory_bytes", "gauge",
                        "Virtual memory of the serving process.");
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "process_virtual_memory_bytes %llu\n", vsize);
        if (rc == FERRY_OK && btime > 0) {
            rc = family(out, "process_start_time_seconds", "gauge",
                        "When the serving process started, unix seconds.");
            if (rc == FERRY_OK)
                rc = ferry_buf_addf(out, "process_start_time_seconds %.2f\n",
                                    (double)btime + (double)start / (double)tck);
        }
    }
    long long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory we are reading */
        if (rc == FERRY_OK)
            rc = family(out, "process_open_fds", "gauge",
                        "Open file descriptors of the serving process.");
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "process_open_fds %lld\n", fds);
    }
    struct rlimit rl;
    if (rc == FERRY_OK && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        rc = family(out, "process_max_fds", "gauge", "The serving process's limit on open files.");
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    return rc;
}

/* ---- families ------------------------------------------------------------------------------ */

static int render_ledger(ferry_buf_t *out, const mtask_t *ts, size_t n)
{
    int rc = family(out, "ferry_objects", "gauge", "Objects of a task by ledger state.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        for (int s = 0; rc == FERRY_OK && s < FERRY_STATE_COUNT; s++)
            rc = ferry_buf_addf(out, "ferry_objects{task=\"%s\",state=\"%s\"} %lld\n", ts[i].name,
                                ferry_state_name(s), ts[i].c.objects[s]);
    if (rc == FERRY_OK)
        rc = family(out, "ferry_objects_bytes", "gauge",
                    "Source bytes of a task's objects by ledger state.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        for (int s = 0; rc == FERRY_OK && s < FERRY_STATE_COUNT; s++)
            rc = ferry_buf_addf(out, "ferry_objects_bytes{task=\"%s\",state=\"%s\"} %lld\n",
                                ts[i].name, ferry_state_name(s), ts[i].c.bytes[s]);
    if (rc == FERRY_OK)
        rc = family(out, "ferry_objects_unverified", "gauge",
                    "Done objects whose source could not be checked (src:unverified).");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        rc = ferry_buf_addf(out, "ferry_objects_unverified{task=\"%s\"} %lld\n", ts[i].name,
                            ts[i].c.unverified);
    return rc;
}

static int render_scan_histogram(ferry_buf_t *out, const mtask_t *ts, size_t n)
{
    int rc = family(out, "ferry_scan_duration_seconds", "histogram",
                    "Scans that ended (completed or stopped on an error), start to end.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        rc = stats_histogram(out, &ts[i], FERRY_HIST_SCAN_SECONDS, "ferry_scan_duration_seconds",
                             "");
    return rc;
}

static int render_queues(ferry_buf_t *out, const mtask_t *ts, size_t n)
{
    static const char *const sname[2] = {"event", "bulk"};
    static const struct {
        const char *metric, *help;
    } fam[4] = {
        {"ferry_queue_entries", "Jobs in a task's stream (waiting or running)."},
        {"ferry_queue_pending", "Jobs delivered to a worker and not yet acknowledged."},
        {"ferry_queue_lag", "Jobs never delivered to a worker yet."},
        {"ferry_queue_bytes", "Source bytes of the jobs in a task's stream (waiting or running)."},
    };
    int rc = FERRY_OK;
    for (int k = 0; rc == FERRY_OK && k < 4; k++) {
        rc = family(out, fam[k].metric, "gauge", fam[k].help);
        for (size_t i = 0; rc == FERRY_OK && i < n; i++)
            for (int s = 0; rc == FERRY_OK && s < 2; s++) {
                long long v = k == 0   ? ts[i].st[s].length
                              : k == 1 ? ts[i].st[s].pending
                              : k == 2 ? ts[i].st[s].lag
                                       : ts[i].st[s].bytes;
                if (v < 0)
                    continue; /* the server does not know (Redis < 7) */
                rc = ferry_buf_addf(out, "%s{task=\"%s\",stream=\"%s\"} %lld\n", fam[k].metric,
                                    ts[i].name, sname[s], v);
            }
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_dead_letters", "gauge",
                    "Jobs moved to a task's dead-letter stream (delivered too often).");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        rc = ferry_buf_addf(out, "ferry_dead_letters{task=\"%s\"} %lld\n", ts[i].name, ts[i].dead);
    return rc;
}

static int render_stats(ferry_buf_t *out, const mtask_t *ts, size_t n)
{
    int rc = stats_counter(out, ts, n, "ferry_results_total",
                           "Outcomes of jobs recorded by the workers, by result.", "results",
                           "result", NULL, NULL);
    if (rc == FERRY_OK) {
        rc = family(out, "ferry_copied_bytes_total", "counter",
                    "Bytes of objects copied (done): the source size.");
        for (size_t i = 0; rc == FERRY_OK && i < n; i++)
            rc = ferry_buf_addf(out, "ferry_copied_bytes_total{task=\"%s\"} %lld\n", ts[i].name,
                                field_value(&ts[i], "c|bytes|done||"));
    }
    if (rc == FERRY_OK) {
        rc = family(out, "ferry_transferred_bytes_total", "counter",
                    "Bytes that flowed through the workers (0 for server-side copies).");
        for (size_t i = 0; rc == FERRY_OK && i < n; i++)
            rc = ferry_buf_addf(out, "ferry_transferred_bytes_total{task=\"%s\"} %lld\n",
                                ts[i].name, field_value(&ts[i], "c|bytes|moved||"));
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_copy_duration_seconds", "histogram",
                    "Time from the start of a copy to its outcome, for copies done.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        rc = stats_histogram(out, &ts[i], FERRY_HIST_COPY_SECONDS, "ferry_copy_duration_seconds",
                             "");
    if (rc == FERRY_OK)
        rc = family(out, "ferry_object_size_bytes", "histogram", "Sizes of the objects copied.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        rc = stats_histogram(out, &ts[i], FERRY_HIST_OBJECT_BYTES, "ferry_object_size_bytes", "");
    if (rc == FERRY_OK)
        rc = family(out, "ferry_event_to_done_seconds", "histogram",
                    "Event jobs: time to done, from the provider's event time (from=\"event\") "
                    "or from ferry's receipt (from=\"receipt\").");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        rc = stats_histogram(out, &ts[i], FERRY_HIST_EVENT_ORIGIN, "ferry_event_to_done_seconds",
                             ",from=\"event\"");
        if (rc == FERRY_OK)
            rc = stats_histogram(out, &ts[i], FERRY_HIST_EVENT_RECEIPT,
                                 "ferry_event_to_done_seconds", ",from=\"receipt\"");
    }
    if (rc == FERRY_OK)
        rc = stats_counter(out, ts, n, "ferry_events_received_total",
                           "Event records received, by format, result (queued, ignored, "
                           "rejected, duplicate) and delivery channel.",
                           "events", "format", "result", "channel");
    if (rc == FERRY_OK)
        rc = stats_counter(out, ts, n, "ferry_requests_total",
                           "Requests to the source and destination stores, by operation and "
                           "HTTP status class (none: no response).",
                           "requests", "side", "op", "status_class");
    if (rc == FERRY_OK)
        rc = stats_counter(out, ts, n, "ferry_request_retries_total",
                           "Store requests sent again, by reason (throttled, transient, "
                           "redirect-region).",
                           "request_retries", "side", "op", "reason");
    if (rc == FERRY_OK)
        rc = stats_counter(out, ts, n, "ferry_copy_retries_total",
                           "Copies that failed and were queued again, by error.", "copy_retries",
                           "reason", NULL, NULL);
    return rc;
}

static long long jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static int render_scans(ferry_buf_t *out, const mtask_t *ts, size_t n)
{
    static const char *const kinds[] = {"listed_src", "listed_dst", "new",       "changed",
                                        "unchanged",  "skipped",    "in_flight", "stale",
                                        "queued",     "extra",      "to_delete"};
    int rc = family(out, "ferry_scans", "gauge",
                    "Scans in the kept history (the newest 50), by result.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        long long ok = 0, failed = 0;
        for (size_t k = 0; k < json_array_size(ts[i].scans); k++)
            if (json_is_true(json_object_get(json_array_get(ts[i].scans, k), "ok")))
                ok++;
            else
                failed++;
        rc = ferry_buf_addf(out,
                            "ferry_scans{task=\"%s\",result=\"ok\"} %lld\n"
                            "ferry_scans{task=\"%s\",result=\"failed\"} %lld\n",
                            ts[i].name, ok, ts[i].name, failed);
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_scan_last_duration_seconds", "gauge",
                    "How long the last finished scan took.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        const json_t *last = json_array_get(ts[i].scans, 0);
        if (last)
            rc = ferry_buf_addf(out, "ferry_scan_last_duration_seconds{task=\"%s\"} %.3f\n",
                                ts[i].name, (double)jint(last, "duration_ms") / 1000.0);
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_scan_last_end_time_seconds", "gauge",
                    "When the last finished scan ended, unix seconds.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        const json_t *last = json_array_get(ts[i].scans, 0);
        const json_t *fin = last ? json_object_get(last, "finished_at") : NULL;
        int64_t t = 0;
        if (json_is_string(fin) && ferry_time_parse(json_string_value(fin), &t) == FERRY_OK)
            rc = ferry_buf_addf(out, "ferry_scan_last_end_time_seconds{task=\"%s\"} %lld\n",
                                ts[i].name, (long long)t);
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_scan_last_success", "gauge",
                    "1 when the last finished scan completed, 0 when it stopped on an error.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        const json_t *last = json_array_get(ts[i].scans, 0);
        if (last)
            rc = ferry_buf_addf(out, "ferry_scan_last_success{task=\"%s\"} %d\n", ts[i].name,
                                json_is_true(json_object_get(last, "ok")) ? 1 : 0);
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_scan_last_objects", "gauge",
                    "What the last finished scan counted, by kind (listed_src, new, queued…).");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        const json_t *last = json_array_get(ts[i].scans, 0);
        for (size_t k = 0; last && rc == FERRY_OK && k < sizeof(kinds) / sizeof(kinds[0]); k++)
            rc = ferry_buf_addf(out, "ferry_scan_last_objects{task=\"%s\",kind=\"%s\"} %lld\n",
                                ts[i].name, kinds[k], jint(last, kinds[k]));
    }
    return rc;
}

static int render_workers(ferry_buf_t *out, const mtask_t *ts, size_t n,
                          const ferry_heartbeat_t *hb, size_t nhb)
{
    int rc = family(out, "ferry_workers", "gauge",
                    "Live worker processes (heartbeat within 15 s) serving a task.");
    for (size_t i = 0; rc == FERRY_OK && i < n; i++)
        rc = ferry_buf_addf(out, "ferry_workers{task=\"%s\"} %zu\n", ts[i].name, ts[i].workers);
    if (rc == FERRY_OK)
        rc = family(out, "ferry_worker_jobs_in_flight", "gauge",
                    "Jobs a live worker process is running.");
    for (size_t i = 0; rc == FERRY_OK && i < nhb; i++) {
        rc = ferry_buf_adds(out, "ferry_worker_jobs_in_flight{worker=\"");
        if (rc == FERRY_OK)
            rc = add_escaped(out, hb[i].consumer);
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "\"} %lld\n", hb[i].in_flight);
    }
    if (rc == FERRY_OK)
        rc = family(out, "ferry_worker_start_time_seconds", "gauge",
                    "When a live worker process started, unix seconds.");
    for (size_t i = 0; rc == FERRY_OK && i < nhb; i++) {
        rc = ferry_buf_adds(out, "ferry_worker_start_time_seconds{worker=\"");
        if (rc == FERRY_OK)
            rc = add_escaped(out, hb[i].consumer);
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "\"} %.3f\n", (double)hb[i].started_ms / 1000.0);
    }
    return rc;
}

/* The scaling policy, over every task and worker (scale.h): the last answer (absent until
 * ferry up or GET /v1/scale asked) and the live worker processes. */
static int render_scale(ferry_redis_t *r, ferry_buf_t *out, size_t nhb)
{
    int desired = -1;
    int64_t at = 0;
    int rc = family(out, "ferry_workers_actual", "gauge",
                    "Live worker processes of every task (heartbeat within 15 s).");
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(out, "ferry_workers_actual %zu\n", nhb);
    if (rc == FERRY_OK)
        rc = ferry_scale_last(r, NULL, &desired, &at);
    if (rc == FERRY_OK && desired >= 0) {
        rc = family(out, "ferry_workers_desired", "gauge",
                    "Worker processes the scaling policy asks for (its last answer).");
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(out, "ferry_workers_desired %d\n", desired);
    }
    return rc;
}

/* 1 when heartbeat hb serves task (names it, or serves every task). */
static int hb_serves(const ferry_heartbeat_t *hb, const char *task)
{
    size_t tl = strlen(task);
    if (hb->tasks[0] == '\0')
        return 1;
    for (const char *p = hb->tasks; *p;) {
        size_t l = strcspn(p, ",");
        if (l == tl && strncmp(p, task, l) == 0)
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

int ferry_metrics_render(ferry_redis_t *r, ferry_buf_t *out, ferry_error_t *err)
{
    char **names = NULL;
    size_t n = 0, nhb = 0;
    mtask_t *ts = NULL;
    ferry_heartbeat_t *hb = NULL;
    const char *what = "listing the tasks";
    int rc = ferry_task_list(r, &names, &n);
    if (rc)
        goto out;
    ts = calloc(n ? n : 1, sizeof(*ts));
    if (ts == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    what = "reading the workers' heartbeats";
    if ((rc = ferry_stats_workers(r, NULL, &hb, &nhb)) != FERRY_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        mtask_t *t = &ts[i];
        ferry_ledger_t *led = NULL;
        t->name = names[i];
        what = "reading the task counters";
        if ((rc = ferry_status_ledger_any(r, names[i], &led)) != FERRY_OK)
            goto out;
        rc = ferry_ledger_counters(led, &t->c);
        ferry_ledger_free(led);
        if (rc)
            goto out;
        what = "reading the task statistics";
        if ((rc = ferry_stats_read(r, names[i], &t->f, &t->nf)) != FERRY_OK)
            goto out;
        what = "reading the task's streams";
        if ((rc = ferry_stats_streams(r, names[i], t->st, &t->dead)) != FERRY_OK)
            goto out;
        what = "reading the scan history";
        if ((rc = ferry_scan_history(r, names[i], 50, &t->scans)) != FERRY_OK)
            goto out;
        for (size_t k = 0; k < nhb; k++)
            t->workers += (size_t)hb_serves(&hb[k], names[i]);
    }
    what = "writing the page";
    rc = family(out, "ferry_build_info", "gauge", "The running ferry's version.");
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(out, "ferry_build_info{version=\"%s\"} 1\n", FERRY_VERSION);
    if (rc == FERRY_OK)
        rc = render_ledger(out, ts, n);
    if (rc == FERRY_OK)
        rc = render_stats(out, ts, n);
    if (rc == FERRY_OK)
        rc = render_queues(out, ts, n);
    if (rc == FERRY_OK)
        rc = render_scans(out, ts, n);
    if (rc == FERRY_OK)
        rc = render_scan_histogram(out, ts, n);
    if (rc == FERRY_OK)
        rc = render_workers(out, ts, n, hb, nhb);
    if (rc == FERRY_OK)
        rc = render_scale(r, out, nhb);
    if (rc == FERRY_OK)
        rc = process_metrics(out);
out:
    for (size_t i = 0; ts && i < n; i++) {
        free(ts[i].f);
        json_decref(ts[i].scans);
    }
    free(ts);
    free(hb);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == FERRY_ETOOBIG || rc == FERRY_ENOMEM)
        return ferry_error_set(err, rc, "the metrics page does not fit (%s): %s", what,
                               ferry_strerror(rc));
    if (rc)
        return ferry_error_set(err, rc, "%s: %s (is Redis reachable?)", what,
                               ferry_redis_error(r)->msg);
    return FERRY_OK;
}

int ferry_metrics_workers_json(ferry_redis_t *r, const char *task, json_t **out)
{
    ferry_heartbeat_t *hb = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = ferry_stats_workers(r, task, &hb, &n);
    if (rc)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = ferry_heartbeat_to_json(&hb[i]);
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    free(hb);
    if (a == NULL)
        return FERRY_ENOMEM;
    *out = a;
    return FERRY_OK;
}
