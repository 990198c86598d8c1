/* GET /metrics's page (scheduler/metrics.c) after a worker copied a few objects on fakes3: the
 * ledger's objects by state, the workers' results, histograms and request counts (flushed to
 * Redis), the intake's event counts, the streams, the heartbeats; and `promtool check metrics`
 * accepts the page. */
#include "test_worker_util.h"

#include "metrics.h"
#include "scan.h"

#include "ferry/buf.h"
#include "ferry/queue.h"
#include "ferry/stats.h"

#include <stdio.h>
#include <stdlib.h>

#define TASK    "tm"
#define NOBJ    6
#define OBJSIZE 1000
#define BIGSIZE (300 * 1024)

/* The value of the sample whose line starts with "name{labels} ", or -1 when absent. */
static double sample(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static char *render(wt_t *w)
{
    ferry_buf_t b;
    ferry_error_t err;
    ferry_buf_init(&b, 4u << 20);
    int rc = ferry_metrics_render(w->r, &b, &err);
    if (rc != FERRY_OK)
        fprintf(stderr, "render: %s\n", err.msg);
    REQUIRE(rc == FERRY_OK);
    char *s = ferry_buf_steal(&b, NULL);
    REQUIRE(s != NULL);
    return s;
}

/* Render until the workers' flushed copies show (they flush every second), up to secs. */
static char *render_until(wt_t *w, const char *series, double want, double secs)
{
    double end = wt_now() + secs;
    for (;;) {
        char *page = render(w);
        if (sample(page, series) == want || wt_now() > end)
            return page;
        free(page);
        usleep(200 * 1000);
    }
}

static size_t live_workers(wt_t *w)
{
    json_t *a = NULL;
    REQUIRE(ferry_metrics_workers_json(w->r, TASK, &a) == FERRY_OK);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

/* The value of field name in task's stats hash, or -1 when absent. */
static long long stats_field(wt_t *w, const char *task, const char *name)
{
    ferry_stats_field_t *fs = NULL;
    size_t nf = 0;
    long long v = -1;
    REQUIRE(ferry_stats_read(w->r, task, &fs, &nf) == FERRY_OK);
    for (size_t i = 0; i < nf; i++)
        if (strcmp(fs[i].name, name) == 0)
            v = fs[i].value;
    free(fs);
    return v;
}

/* An accumulator's fields as stored, over three flushes: each flush empties it, and what is
 * added after lands in its own fields again (the field names, the slots and the histograms'
 * cached slots start over). */
static void test_accumulator(wt_t *w)
{
    ferry_stats_t *s = NULL;
    REQUIRE(ferry_stats_new("sa", &s) == FERRY_OK);
    CHECK_INT(ferry_stats_count(s, "requests", "src", "GetObject", "2xx", 2), FERRY_OK);
    CHECK_INT(ferry_stats_count(s, "results", "done", NULL, NULL, 1), FERRY_OK);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 0.01), FERRY_OK); /* bucket 0 */
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 0.2), FERRY_OK);  /* bucket 2 */
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 0.01), FERRY_OK);
    CHECK_INT(ferry_stats_flush(s, w->r), FERRY_OK);
    /* after the flush: other fields first, so the slots are taken in another order */
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_OBJECT_BYTES, 5000), FERRY_OK); /* bucket 2 */
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 0.2), FERRY_OK);
    CHECK_INT(ferry_stats_count(s, "results", "failed", NULL, NULL, 1), FERRY_OK);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 1e9), FERRY_OK);       /* +Inf */
    CHECK_INT(ferry_stats_count(s, "requests", "src", "a key", "2xx", 1), FERRY_OK); /* other */
    CHECK_INT(ferry_stats_flush(s, w->r), FERRY_OK);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 0.01), FERRY_OK);
    CHECK_INT(ferry_stats_flush(s, w->r), FERRY_OK);
    CHECK_INT(ferry_stats_flush(s, w->r), FERRY_OK); /* empty: nothing sent twice */
    ferry_stats_free(s);
    CHECK_INT(stats_field(w, "sa", "c|requests|src|GetObject|2xx"), 2);
    CHECK_INT(stats_field(w, "sa", "c|requests|src|other|2xx"), 1);
    CHECK_INT(stats_field(w, "sa", "c|results|done||"), 1);
    CHECK_INT(stats_field(w, "sa", "c|results|failed||"), 1);
    CHECK_INT(stats_field(w, "sa", "h|copy_seconds|0"), 3);
    CHECK_INT(stats_field(w, "sa", "h|copy_seconds|2"), 2);
    CHECK_INT(stats_field(w, "sa", "h|copy_seconds|16"), 1);
    CHECK_INT(stats_field(w, "sa", "h|copy_seconds|1"), -1);
    CHECK_INT(stats_field(w, "sa", "h|copy_seconds|sum"),
              10 + 200 + 10 + 200 + 1000000000000LL + 10);
    CHECK_INT(stats_field(w, "sa", "h|object_bytes|2"), 1);
    CHECK_INT(stats_field(w, "sa", "h|object_bytes|sum"), 5000);
}

int main(void)
{
    wt_t w;
    wt_start(&w, "s3", "s3");
    test_accumulator(&w);
    char out[1024];
    char json[256];
    snprintf(json, sizeof(json),
             "{\"bucket\":\"src\",\"prefix\":\"m/\",\"count\":%d,\"size\":%d,\"seed\":7}", NOBJ,
             OBJSIZE);
    REQUIRE(s3t_control(&w.s, w.src.url, "POST", "/_fakes3/seed", json, out, sizeof(out)) == 200);
    wt_put(&w, "m/big", BIGSIZE, 3);
    wt_task(&w, TASK, "m/", NULL, "m/", NULL);

    /* Nothing copied yet: the page is there, with zeros. */
    char *page = render(&w);
    CHECK(strstr(page, "\nferry_build_info{version=\"") != NULL);
    CHECK(sample(page, "ferry_objects{task=\"" TASK "\",state=\"done\"}") == 0);
    CHECK(sample(page, "ferry_copy_duration_seconds_count{task=\"" TASK "\"}") == 0);
    CHECK(sample(page, "ferry_copy_duration_seconds_bucket{task=\"" TASK "\",le=\"7200\"}") == 0);
    free(page);

    /* The intake's counts (scheduler/intake.c calls this per body). */
    CHECK_INT(ferry_stats_event(w.r, TASK, "oss", "mns", "queued", 3), FERRY_OK);
    CHECK_INT(ferry_stats_event(w.r, TASK, "oss", "fc", "queued", 4), FERRY_OK);
    CHECK_INT(ferry_stats_event(w.r, TASK, "oss", "mns", "duplicate", 1), FERRY_OK);
    CHECK_INT(ferry_stats_event(w.r, TASK, "s3", "sns", "rejected", 2), FERRY_OK);
    CHECK_INT(ferry_stats_event(w.r, TASK, "a key/with spaces", "cli", "ignored", 1), FERRY_OK);
    CHECK_INT(ferry_stats_event(w.r, TASK, "oss", "mns", "bogus", 1), FERRY_EINVAL);

    /* A scan queues the bulk jobs; the scheduler records its report in the history. */
    ferry_task_t task;
    ferry_scan_report_t rep;
    ferry_error_t err;
    ferry_task_init(&task);
    REQUIRE(ferry_task_get(w.r, TASK, &task) == FERRY_OK);
    CHECK_INT(ferry_scan_run(w.r, &task, NULL, &rep, &err), FERRY_OK);
    ferry_task_clear(&task);
    CHECK_INT(ferry_scan_history_add(w.r, &rep), FERRY_OK);
    size_t n = (size_t)rep.queued;
    CHECK_INT((long long)n, NOBJ + 1);
    /* One event job: its latency goes to the event histograms. */
    wt_put(&w, "m/evt", OBJSIZE, 9);
    wt_enqueue_key(&w, TASK, "m/evt", OBJSIZE);
    n++;
    page = render(&w);
    CHECK(sample(page, "ferry_queue_entries{task=\"" TASK "\",stream=\"bulk\"}") == NOBJ + 1);
    CHECK(sample(page, "ferry_queue_entries{task=\"" TASK "\",stream=\"event\"}") == 1);
    CHECK(sample(page, "ferry_queue_lag{task=\"" TASK "\",stream=\"bulk\"}") == NOBJ + 1);
    /* queue bytes: what the jobs carry (the ledger's enqueue adds, the queue's ack takes off) */
    CHECK(sample(page, "ferry_queue_bytes{task=\"" TASK "\",stream=\"bulk\"}") ==
          NOBJ * OBJSIZE + BIGSIZE);
    CHECK(sample(page, "ferry_queue_bytes{task=\"" TASK "\",stream=\"event\"}") == OBJSIZE);
    CHECK(sample(page, "ferry_objects{task=\"" TASK "\",state=\"queued\"}") == (double)n);
    CHECK(sample(page, "ferry_scans{task=\"" TASK "\",result=\"ok\"}") == 1);
    CHECK(sample(page, "ferry_scan_last_success{task=\"" TASK "\"}") == 1);
    CHECK(sample(page, "ferry_scan_last_objects{task=\"" TASK "\",kind=\"queued\"}") == NOBJ + 1);
    CHECK(sample(page, "ferry_scan_last_objects{task=\"" TASK "\",kind=\"listed_src\"}") ==
          NOBJ + 1);
    CHECK(sample(page, "ferry_scan_last_duration_seconds{task=\"" TASK "\"}") >= 0);
    /* The scan's listings, both sides. */
    CHECK(sample(page, "ferry_requests_total{task=\"" TASK
                       "\",side=\"src\",op=\"ListObjectsV2\",status_class=\"2xx\"}") ==
          (double)wt_stat(&w.s, w.src.url, "ListObjectsV2", "count"));
    CHECK(sample(page, "ferry_requests_total{task=\"" TASK
                       "\",side=\"dst\",op=\"ListObjectsV2\",status_class=\"2xx\"}") >= 1);
    free(page);

    /* Two PutObject attempts answer 503 (S3's "slow down"): retried, counted by reason
     * (throttled) and status class. */
    REQUIRE(s3t_control(&w.d, w.dst.url, "POST", "/_fakes3/faults",
                        "[{\"op\":\"PutObject\",\"error\":503,\"count\":2}]", out,
                        sizeof(out)) == 200);

    /* A long-running worker: it heartbeats while it runs, and its flushes show. */
    const char *wopts[] = {"--concurrency", "2", "--log-level", "info", NULL};
    pid_t p = wt_worker(&w, TASK, "metrics.log", wopts);
    page = render_until(&w, "ferry_copy_duration_seconds_count{task=\"" TASK "\"}", (double)n, 60);
    if (getenv("FERRY_TEST_DUMP")) { /* debugging: the page as rendered, the stored fields */
        fputs(page, stderr);
        ferry_stats_field_t *fs = NULL;
        size_t nf = 0;
        if (ferry_stats_read(w.r, TASK, &fs, &nf) == FERRY_OK)
            for (size_t i = 0; i < nf; i++)
                fprintf(stderr, "field %s = %lld\n", fs[i].name, fs[i].value);
        free(fs);
    }
    CHECK(sample(page, "ferry_objects{task=\"" TASK "\",state=\"done\"}") == (double)n);
    CHECK(sample(page, "ferry_results_total{task=\"" TASK "\",result=\"done\"}") == (double)n);
    CHECK(sample(page, "ferry_copy_duration_seconds_count{task=\"" TASK "\"}") == (double)n);
    CHECK(sample(page, "ferry_copy_duration_seconds_bucket{task=\"" TASK "\",le=\"+Inf\"}") ==
          (double)n);
    CHECK(sample(page, "ferry_object_size_bytes_count{task=\"" TASK "\"}") == (double)n);
    CHECK(sample(page, "ferry_object_size_bytes_sum{task=\"" TASK "\"}") ==
          (double)(NOBJ + 1) * OBJSIZE + BIGSIZE);
    /* 1000-byte objects are in the 1024 bucket, the 300 KiB one is not. */
    CHECK(sample(page, "ferry_object_size_bytes_bucket{task=\"" TASK "\",le=\"1024\"}") ==
          (double)n - 1);
    CHECK(sample(page, "ferry_object_size_bytes_bucket{task=\"" TASK "\",le=\"1048576\"}") ==
          (double)n);
    CHECK(sample(page, "ferry_copied_bytes_total{task=\"" TASK "\"}") ==
          (double)(NOBJ + 1) * OBJSIZE + BIGSIZE);
    CHECK(sample(page, "ferry_event_to_done_seconds_count{task=\"" TASK "\",from=\"receipt\"}") ==
          1);
    CHECK(sample(page, "ferry_event_to_done_seconds_bucket{task=\"" TASK
                       "\",from=\"receipt\",le=\"+Inf\"}") == 1);
    /* Requests, by op and status class, as the stores saw them. */
    double puts = sample(page, "ferry_requests_total{task=\"" TASK
                               "\",side=\"dst\",op=\"PutObject\",status_class=\"2xx\"}");
    CHECK(puts == (double)n);
    CHECK(sample(page, "ferry_requests_total{task=\"" TASK
                       "\",side=\"dst\",op=\"PutObject\",status_class=\"5xx\"}") == 2);
    CHECK(sample(page, "ferry_request_retries_total{task=\"" TASK
                       "\",side=\"dst\",op=\"PutObject\",reason=\"throttled\"}") == 2);
    double gets = sample(page, "ferry_requests_total{task=\"" TASK
                               "\",side=\"src\",op=\"GetObject\",status_class=\"2xx\"}");
    CHECK(gets >= (double)n);
    CHECK(gets == (double)wt_stat(&w.s, w.src.url, "GetObject", "count"));
    /* The intake's counts; a format that is not a short name shows as "other". */
    CHECK(sample(page, "ferry_events_received_total{task=\"" TASK
                       "\",format=\"oss\",result=\"queued\",channel=\"mns\"}") == 3);
    CHECK(sample(page, "ferry_events_received_total{task=\"" TASK
                       "\",format=\"oss\",result=\"queued\",channel=\"fc\"}") == 4);
    CHECK(sample(page, "ferry_events_received_total{task=\"" TASK
                       "\",format=\"s3\",result=\"rejected\",channel=\"sns\"}") == 2);
    CHECK(sample(page, "ferry_events_received_total{task=\"" TASK
                       "\",format=\"other\",result=\"ignored\",channel=\"cli\"}") == 1);
    /* Every scan that ended, as a histogram (the history keeps only the newest 50). */
    CHECK(sample(page, "ferry_scan_duration_seconds_count{task=\"" TASK "\"}") == 1);
    CHECK(sample(page, "ferry_scan_duration_seconds_bucket{task=\"" TASK "\",le=\"172800\"}") == 1);
    CHECK(sample(page, "ferry_scan_duration_seconds_bucket{task=\"" TASK "\",le=\"+Inf\"}") == 1);
    CHECK(sample(page, "ferry_scan_duration_seconds_sum{task=\"" TASK "\"}") ==
          (double)(rep.finished_ms - rep.started_ms) / 1000.0);
    CHECK(sample(page, "ferry_queue_entries{task=\"" TASK "\",stream=\"bulk\"}") == 0);
    CHECK(sample(page, "ferry_dead_letters{task=\"" TASK "\"}") == 0);
    CHECK(sample(page, "ferry_queue_bytes{task=\"" TASK "\",stream=\"bulk\"}") == 0);
    CHECK(sample(page, "ferry_queue_bytes{task=\"" TASK "\",stream=\"event\"}") == 0);
    { /* drained streams forget their byte counts: no drift outlives a drain */
        redisReply *hm = NULL;
        REQUIRE(ferry_redis_cmd(w.r, &hm, "HMGET ferry:{%s}:cnt qbytes:bulk qbytes:event", TASK) ==
                FERRY_OK);
        CHECK(hm->type == REDIS_REPLY_ARRAY && hm->elements == 2 &&
              hm->element[0]->type == REDIS_REPLY_NIL && hm->element[1]->type == REDIS_REPLY_NIL);
        freeReplyObject(hm);
    }
    { /* queue bytes through each way a job leaves its stream: ack, ack of many, dead letter,
       * and an ack repeated (subtracts nothing) */
        ferry_ledger_t *led = NULL;
        ferry_queue_t *qq = NULL;
        wt_task(&w, "qb", "m/", NULL, "m/", NULL);
        REQUIRE(ferry_ledger_open(w.r, "qb", 0, &led) == FERRY_OK);
        ferry_item_t it[4] = {{.key = "a", .size = 10, .mtime = 1},
                              {.key = "b", .size = 200, .mtime = 1},
                              {.key = "c", .size = 3000, .mtime = 1},
                              {.key = "d", .size = 40000, .mtime = 1}};
        REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, it, 4, NULL) == FERRY_OK);
        ferry_queue_opts_t qo = {.consumer = "test/qb"};
        REQUIRE(ferry_queue_open(led, &qo, &qq) == FERRY_OK);
        ferry_stream_stats_t st[2];
        long long dead = 0;
        REQUIRE(ferry_stats_streams(w.r, "qb", st, &dead) == FERRY_OK);
        CHECK_INT(st[1].bytes, 43210);
        ferry_job_t j[4];
        for (int i = 0; i < 4; i++)
            REQUIRE(ferry_queue_next(qq, &j[i], 1000) == FERRY_OK);
        CHECK_INT(ferry_queue_ack(qq, &j[0]), FERRY_OK);
        CHECK_INT(ferry_queue_ack(qq, &j[0]), FERRY_OK); /* again: nothing more taken off */
        REQUIRE(ferry_stats_streams(w.r, "qb", st, &dead) == FERRY_OK);
        CHECK_INT(st[1].bytes, 43210 - (long long)j[0].size);
        const ferry_job_t *two[2] = {&j[1], &j[2]};
        CHECK_INT(ferry_queue_ack_many(qq, two, 2), FERRY_OK);
        REQUIRE(ferry_stats_streams(w.r, "qb", st, &dead) == FERRY_OK);
        CHECK_INT(st[1].bytes, (long long)j[3].size);
        CHECK_INT(ferry_queue_dead(qq, &j[3], "test: dead"), FERRY_OK);
        REQUIRE(ferry_stats_streams(w.r, "qb", st, &dead) == FERRY_OK);
        CHECK(st[1].bytes == 0 && st[1].length == 0 && dead == 1);
        ferry_queue_free(qq);
        ferry_ledger_free(led);
    }
    /* The live worker. */
    CHECK(sample(page, "ferry_workers{task=\"" TASK "\"}") == 1);
    CHECK(sample(page, "process_open_fds") > 2);
    CHECK(sample(page, "process_resident_memory_bytes") > 1e6);
    CHECK(strstr(page, "m/big") == NULL); /* never a key as a label */
    CHECK_INT((long long)live_workers(&w), 1);
    json_t *ws = NULL;
    REQUIRE(ferry_metrics_workers_json(w.r, TASK, &ws) == FERRY_OK);
    json_t *w0 = json_array_get(ws, 0);
    CHECK_INT(json_integer_value(json_object_get(w0, "pid")), (long long)p);
    CHECK_STR(json_string_value(json_array_get(json_object_get(w0, "tasks"), 0)), TASK);
    CHECK_INT(json_integer_value(json_object_get(w0, "concurrency")), 2);
    json_decref(ws);
    { /* GET /v1/tasks[/NAME]'s one-round-trip read says what the separate reads say */
        const char *names[2] = {TASK, "nosuch"};
        ferry_task_snapshot_t snap[2];
        ferry_heartbeat_t *hb = NULL;
        size_t nhb = 0;
        REQUIRE(ferry_stats_snapshots(w.r, names, 2, snap, &hb, &nhb) == FERRY_OK);
        CHECK(snap[0].definition != NULL && strstr(snap[0].definition, "\"name\":\"" TASK "\""));
        CHECK(snap[1].definition == NULL && snap[1].last_scan == NULL);
        ferry_ledger_t *led = NULL;
        ferry_counters_t c;
        REQUIRE(ferry_ledger_open(w.r, TASK, 0, &led) == FERRY_OK);
        REQUIRE(ferry_ledger_counters(led, &c) == FERRY_OK);
        ferry_ledger_free(led);
        CHECK(memcmp(&c, &snap[0].c, sizeof(c)) == 0);
        CHECK(c.objects[FERRY_STATE_DONE] > 0);
        ferry_stream_stats_t st[2];
        long long dead = -1;
        REQUIRE(ferry_stats_streams(w.r, TASK, st, &dead) == FERRY_OK);
        CHECK(memcmp(st, snap[0].st, sizeof(st)) == 0 && dead == snap[0].dead);
        json_t *hist = NULL;
        REQUIRE(ferry_scan_history(w.r, TASK, 1, &hist) == FERRY_OK);
        json_t *last = snap[0].last_scan ? json_loads(snap[0].last_scan, 0, NULL) : NULL;
        CHECK(last != NULL && json_equal(last, json_array_get(hist, 0)));
        json_decref(last);
        json_decref(hist);
        ferry_heartbeat_t *hb2 = NULL;
        size_t nhb2 = 0;
        REQUIRE(ferry_stats_workers(w.r, NULL, &hb2, &nhb2) == FERRY_OK);
        CHECK_INT((long long)nhb, (long long)nhb2);
        CHECK(nhb == 1 && strcmp(hb[0].consumer, hb2[0].consumer) == 0 &&
              ferry_heartbeat_serves(&hb[0], TASK) && !ferry_heartbeat_serves(&hb[0], "another"));
        free(hb2);
        free(hb);
        ferry_stats_snapshot_clear(&snap[0]);
        ferry_stats_snapshot_clear(&snap[1]);
        CHECK(ferry_stats_snapshots(w.r, (const char *[]){"bad name"}, 1, snap, &hb, &nhb) ==
              FERRY_EINVAL);
    }
    json_t *other = NULL;
    REQUIRE(ferry_metrics_workers_json(w.r, "another", &other) == FERRY_OK);
    CHECK_INT((long long)json_array_size(other), 0);
    json_decref(other);

    /* promtool lints the page. */
    char path[1024], cmd[2300];
    snprintf(path, sizeof(path), "%s/metrics.txt", harness_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(page, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' >'%s.promtool' 2>&1", path, path);
    int st = system(cmd);
    if (st != 0) {
        snprintf(cmd, sizeof(cmd), "cat '%s.promtool' >&2", path);
        (void)system(cmd);
    }
    CHECK_INT(st, 0);
    free(page);

    /* What a page costs with many tasks (a figure for docs/metrics.md, not a bound). */
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof(name), "more%02d", i);
        wt_task(&w, name, "m/", NULL, "m/", NULL);
    }
    double t0 = wt_now();
    page = render(&w);
    fprintf(stderr, "metrics page: 51 tasks, %zu bytes, rendered in %.1f ms\n", strlen(page),
            (wt_now() - t0) * 1000);
    CHECK(sample(page, "ferry_objects{task=\"more49\",state=\"done\"}") == 0);
    free(page);

    /* A clean exit removes the heartbeat. */
    kill(p, SIGTERM);
    CHECK_INT(wt_wait(p, 60), 0);
    CHECK_INT((long long)live_workers(&w), 0);
    page = render(&w);
    CHECK(sample(page, "ferry_workers{task=\"" TASK "\"}") == 0);
    free(page);
    wt_stop(&w);
    return test_summary();
}
