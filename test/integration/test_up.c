/* ferry up (issue 14): the autoscaler against a real redis-server and two fakes3 (destination
 * paced, so that jobs take time).
 *
 *  1. Scale up and down: 4 objects of 32 MiB first in key order (4 parts of 8 MiB, UploadPart
 *     at 256 KiB/s: 32 s a part), then 200 small ones (PutObject answered after 100 ms).
 *     `ferry up --workers 0..4 --concurrency 2` goes above one worker for the backlog (the
 *     large jobs, taken first, spread over at least two workers); a worker that holds no large
 *     job is SIGKILLed and restarted (up.worker_exit with code 137 and its delay); when only
 *     the large copies are left the policy asks for one worker and three are stopped (SIGTERM)
 *     one a second, so at least one in the middle of its part uploads; idle, it goes to 0.
 * Everything ends done and byte-identical, and no part finished on the destination is sent again
 * (fakes3's UploadPart counter == 16).
 *  2. GET /v1/scale and the gauges in /metrics while it runs.
 *  3. SIGTERM to `ferry up` mid-copy: it drains and exits 0; a second run (PUTs answered
 *     after 5 s, so that draining takes a while) is stopped by two SIGINTs (exit 130); a third
 *     finishes everything byte-identical.
 *  4. Three hosts (three `ferry up` with FERRY_HOSTNAME h1, h2, h3) on one Redis: the workers
 *     split (each host's consumers copy), nothing is copied twice (PutObject count, attempts);
 *     then one host's workers and its ferry up are SIGKILLed mid-run and nothing is lost.
 *  5. Exit codes: --help 0, bad --workers 2, unknown option 2.
 *  6. Without --redis: the private redis-server is started, a hint to add a task is printed
 *     while there is none (and ferry up keeps serving), and SIGTERM stops that server too.
 */
#include "test_worker_util.h"

#include "ferry/stats.h"

#include <jansson.h>
#include <sys/stat.h>

#define SMALL_N 200
#define BIG_N   4
#define PARTS   4

static const char *bin(void)
{
    static char b[1024];
    const char *dir = getenv("FERRY_BIN_DIR");
    snprintf(b, sizeof(b), "%s/ferry", dir ? dir : ".");
    return b;
}

/* Start `ferry up` as host with extra options; stderr to logname. */
static pid_t up_start(wt_t *w, const char *host, const char *logname, int port,
                      const char *const *extra)
{
    static char log[1024], listen[64];
    snprintf(log, sizeof(log), "%s/%s", harness_tmpdir(), logname);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    const char *argv[48];
    int n = 0;
    argv[n++] = bin();
    argv[n++] = "--redis";
    argv[n++] = w->redis.url;
    argv[n++] = "up";
    argv[n++] = "--listen";
    argv[n++] = port > 0 ? listen : "off";
    argv[n++] = "--public-read";
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    setenv("FERRY_HOSTNAME", host, 1);
    pid_t p = harness_spawn(argv, NULL, log);
    unsetenv("FERRY_HOSTNAME");
    REQUIRE(p > 0);
    return p;
}

static long long done_count(wt_t *w, const char *task)
{
    ferry_counters_t c;
    wt_counters(w, task, &c);
    return c.objects[FERRY_STATE_DONE];
}

/* Live heartbeats whose consumer starts with prefix ("" all); pids[] gets up to 16 of them. */
static int live_workers(wt_t *w, const char *prefix, int *pids, long long *in_flight)
{
    ferry_heartbeat_t *hb = NULL;
    size_t n = 0;
    REQUIRE(ferry_stats_workers(w->r, NULL, &hb, &n) == FERRY_OK);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(hb[i].consumer, prefix, strlen(prefix)) == 0) {
            if (pids && k < 16)
                pids[k] = hb[i].pid;
            if (in_flight && k < 16)
                in_flight[k] = hb[i].in_flight;
            k++;
        }
    free(hb);
    return k;
}

/* The pid of a live worker (consumer under prefix) that copies none of the large objects
 * a/a00000000..3, once all four are copying; 0 when there is none yet. */
static int no_large_copy(wt_t *w, const char *prefix)
{
    char holders[BIG_N][FERRY_WORKER_MAX + 1];
    for (int i = 0; i < BIG_N; i++) {
        char key[32];
        ferry_record_t rec;
        snprintf(key, sizeof(key), "a/a%08d", i);
        if (wt_record(w, "a", key, &rec) != FERRY_OK || rec.state != FERRY_STATE_COPYING)
            return 0;
        snprintf(holders[i], sizeof(holders[i]), "%s", rec.worker);
    }
    ferry_heartbeat_t *hb = NULL;
    size_t n = 0;
    int pid = 0;
    REQUIRE(ferry_stats_workers(w->r, NULL, &hb, &n) == FERRY_OK);
    for (size_t i = 0; i < n && pid == 0; i++) {
        int holds = 0;
        for (int k = 0; k < BIG_N; k++)
            holds |= strcmp(hb[i].consumer, holders[k]) == 0;
        if (!holds && strncmp(hb[i].consumer, prefix, strlen(prefix)) == 0)
            pid = hb[i].pid;
    }
    free(hb);
    return pid;
}

/* GET path on 127.0.0.1:port; the body parsed as JSON (NULL if not JSON), *status the code. */
static json_t *http_get_json(int port, const char *path, int *status, char *raw, size_t rawn)
{
    *status = 0;
    int fd = harness_connect(port, 10000);
    if (fd < 0)
        return NULL;
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < rawn && (r = read(fd, raw + got, rawn - 1 - got)) > 0)
        got += (size_t)r;
    raw[got] = '\0';
    close(fd);
    sscanf(raw, "HTTP/1.%*d %d", status);
    const char *body = strstr(raw, "\r\n\r\n");
    json_error_t je;
    return body ? json_loads(body + 4, 0, &je) : NULL;
}

static void seed(wt_t *w, const char *json)
{
    char out[8192];
    long st = s3t_control(&w->s, w->src.url, "POST", "/_fakes3/seed", json, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "seed: %ld %s\n", st, out);
    REQUIRE(st == 200);
}

static void faults(wt_t *w, const char *json)
{
    char out[512];
    REQUIRE(s3t_control(&w->d, w->dst.url, json ? "POST" : "DELETE", "/_fakes3/faults", json, out,
                        sizeof(out)) == 200);
}

/* Wait until task has n done records, at most secs. 1 when it got there. */
static int wait_done(wt_t *w, const char *task, long long n, double secs)
{
    double end = wt_now() + secs;
    while (wt_now() < end) {
        if (done_count(w, task) >= n)
            return 1;
        usleep(200 * 1000);
    }
    fprintf(stderr, "task %s: %lld of %lld done after %.0f s\n", task, done_count(w, task), n,
            secs);
    return 0;
}

/* Records of task under prefix copied more than once (attempts > 1), and the consumer hosts
 * that copied them (bit i: host "h<i+1>/"). */
static int copied_twice(wt_t *w, const char *task, const char *prefix, int count, int *hosts)
{
    int twice = 0;
    *hosts = 0;
    for (int i = 0; i < count; i++) {
        char key[64];
        ferry_record_t rec;
        snprintf(key, sizeof(key), "%s%08d", prefix, i);
        if (wt_record(w, task, key, &rec) != FERRY_OK)
            continue;
        twice += rec.attempts > 1;
        if (rec.worker[0] == 'h' && rec.worker[1] >= '1' && rec.worker[1] <= '3' &&
            rec.worker[2] == '/')
            *hosts |= 1 << (rec.worker[1] - '1');
    }
    return twice;
}

/* Scale-downs logged while only running copies were left (lag 0, pending > 0: every job
 * delivered, so the workers stopped were in the middle of copies). */
static int downs_mid_copy(const char *logname)
{
    char path[1024], line[4096];
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    FILE *f = fopen(path, "r");
    long long lag = -1, pending = -1;
    int n = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        const char *l = strstr(line, " lag="), *p = strstr(line, " pending=");
        if (strstr(line, "event=up.scale ") && l && p) {
            lag = strtoll(l + 5, NULL, 10);
            pending = strtoll(p + 9, NULL, 10);
        } else if (strstr(line, "event=up.scale_down"))
            n += lag == 0 && pending > 0;
    }
    fclose(f);
    return n;
}

static void exit_codes(void)
{
    char out[8192], err[8192], cmd[1200];
    snprintf(cmd, sizeof(cmd), "%s up --help", bin());
    CHECK_INT(harness_run(cmd, out, sizeof(out), err, sizeof(err)), 0);
    CHECK(strstr(out, "exit codes") != NULL);
    snprintf(cmd, sizeof(cmd), "%s up --workers 5..2", bin());
    CHECK_INT(harness_run(cmd, out, sizeof(out), err, sizeof(err)), 2);
    CHECK(strstr(err, "--workers wants MIN..MAX") != NULL);
    snprintf(cmd, sizeof(cmd), "%s up --workers 0", bin());
    CHECK_INT(harness_run(cmd, out, sizeof(out), err, sizeof(err)), 2);
    snprintf(cmd, sizeof(cmd), "%s up --no-such-option", bin());
    CHECK_INT(harness_run(cmd, out, sizeof(out), err, sizeof(err)), 2);
}

/* 1 + 2: scale up, a crash restarted, down mid-copy, to 0 when idle. */
static void scale_up_down(wt_t *w)
{
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"a/s\",\"count\":200,\"size\":4096,\"seed\":31}");
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"a/a\",\"count\":4,\"size\":33554432,\"seed\":32,"
            "\"crc32c\":true}");
    const char *topts[] = {"--part-size", "8MiB", "--multipart-threshold", "8MiB", NULL};
    wt_task(w, "a", "a/", NULL, "a/", topts);
    faults(w, "[{\"op\":\"UploadPart\",\"bandwidth\":262144},"
              "{\"op\":\"PutObject\",\"latency_ms\":100}]");
    int port = harness_free_port();
    REQUIRE(port > 0);
    /* drain target 4 s: 204 jobs at the assumed 20 objects/s are 10 worker-s (3 workers, more
     * once measured); 4 large jobs left (128 MiB at 32 MiB/s: 4 worker-s) ask for one */
    const char *opts[] = {
        "--workers", "0..4", "--concurrency", "2",   "--cooldown", "3s", "--drain-target",
        "4s",        "--",   "--grace",       "90s", NULL};
    double t0 = wt_now();
    pid_t up = up_start(w, "ha", "up-a.log", port, opts);
    int most = 0, killed = 0, scale_seen = 0, metrics_seen = 0;
    double up_at = -1;
    while (wt_now() - t0 < 240 && done_count(w, "a") < SMALL_N + BIG_N) {
        int pids[16];
        int n = live_workers(w, "ha/", pids, NULL);
        if (n > most)
            most = n;
        if (n >= 2 && up_at < 0)
            up_at = wt_now() - t0;
        /* a worker that holds no large copy dies (SIGKILL) in the small-object phase */
        int victim = 0;
        if (!killed && n >= 2 && done_count(w, "a") < SMALL_N / 2 &&
            (victim = no_large_copy(w, "ha/")) > 0) {
            kill(victim, SIGKILL);
            killed = victim;
            printf("killed worker %d at %.1f s\n", killed, wt_now() - t0);
        }
        if (!scale_seen && n >= 1) {
            int st = 0;
            char raw[8192];
            json_t *j = http_get_json(port, "/v1/scale", &st, raw, sizeof(raw));
            if (j && st == 200 && json_integer_value(json_object_get(j, "desired")) >= 1) {
                scale_seen = 1;
                CHECK(json_integer_value(json_object_get(j, "jobs")) >= 1);
                CHECK(json_is_integer(json_object_get(j, "lag")));
                CHECK(json_is_integer(json_object_get(j, "pending")));
                CHECK(json_is_integer(json_object_get(j, "bytes")));
                CHECK_INT(json_integer_value(json_object_get(j, "max")), 4);
                /* the API answers with ferry up's settings: no 60 s default cooldown */
                CHECK(json_integer_value(json_object_get(j, "cooldown_left_ms")) <= 3000);
                printf("/v1/scale: %.300s\n", strstr(raw, "\r\n\r\n") + 4);
            }
            json_decref(j);
            /* the same answer for one task, and 404 for an unknown one */
            j = http_get_json(port, "/v1/scale?task=a", &st, raw, sizeof(raw));
            CHECK_INT(st, 200);
            CHECK_STR(json_string_value(json_object_get(j, "task")), "a");
            json_decref(j);
            j = http_get_json(port, "/v1/scale?task=nosuch", &st, raw, sizeof(raw));
            CHECK_INT(st, 404);
            json_decref(j);
        }
        if (!metrics_seen && n >= 1) {
            int st = 0;
            static char raw[1 << 20];
            json_t *j = http_get_json(port, "/metrics", &st, raw, sizeof(raw));
            json_decref(j);
            if (st == 200 && strstr(raw, "\nferry_workers_desired ") &&
                strstr(raw, "\nferry_workers_actual ")) {
                metrics_seen = 1;
                j = http_get_json(port, "/v1/tasks", &st, raw, sizeof(raw));
                json_t *wk = json_object_get(j, "workers");
                CHECK(json_is_integer(json_object_get(wk, "desired")));
                CHECK(json_is_integer(json_object_get(wk, "actual")));
                json_decref(j);
            }
        }
        usleep(250 * 1000);
    }
    double took = wt_now() - t0;
    printf("task a: %lld done in %.1f s; at most %d workers (2 or more at %.1f s)\n",
           done_count(w, "a"), took, most, up_at);
    CHECK_INT(done_count(w, "a"), SMALL_N + BIG_N);
    CHECK(most >= 2); /* scaled up under the backlog */
    CHECK(killed != 0);
    CHECK(scale_seen);
    CHECK(metrics_seen);
    /* idle: down to 0 after the cooldown (3 s) and the workers' exit */
    double end = wt_now() + 60;
    while (live_workers(w, "ha/", NULL, NULL) > 0 && wt_now() < end)
        usleep(250 * 1000);
    CHECK_INT(live_workers(w, "ha/", NULL, NULL), 0);
    printf("down to 0 workers %.1f s after the last copy\n", wt_now() - t0 - took);
    /* the crash: reported with its code and the restart delay, then restarted */
    CHECK(wt_log_count("up-a.log", "event=up.worker_exit") >= 1);
    CHECK(wt_log_count("up-a.log", "code=137") >= 1);
    CHECK(wt_log_count("up-a.log", "restart_in_ms=1000") >= 1);
    /* scale-down by SIGTERM, in the middle of the large copies: the stopped workers drained */
    int downs = wt_log_count("up-a.log", "event=up.scale_down");
    int mid = downs_mid_copy("up-a.log");
    printf("scale-downs: %d (%d with only running copies left); drains: %d\n", downs, mid,
           wt_log_count("up-a.log", "event=worker.draining"));
    CHECK(downs >= 3);
    CHECK(mid >= 1);
    CHECK(wt_log_count("up-a.log", "event=worker.draining") >= 3);
    CHECK(wt_log_count("up-a.log", "event=up.scale ") >= 2);
    /* nothing lost, nothing re-sent */
    ferry_counters_t c;
    wt_counters(w, "a", &c);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    long parts = wt_stat(&w->d, w->dst.url, "UploadPart", "count");
    printf("UploadPart requests: %ld for %d parts\n", parts, BIG_N * PARTS);
    CHECK_INT(parts, BIG_N * PARTS);
    faults(w, NULL);
    CHECK_INT(wt_compare(w, &w->d, "a/", "a/"), 0);
    /* SIGTERM: drained, exit 0 */
    kill(up, SIGTERM);
    CHECK_INT(wt_wait(up, 60), 0);
    CHECK_INT(wt_log_count("up-a.log", "event=up.stopped"), 1);
}

/* 3: SIGTERM mid-copy, then two SIGINTs, then a run that finishes. */
static void stop_and_resume(wt_t *w)
{
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"b/s\",\"count\":200,\"size\":70000,\"seed\":41}");
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"b/"
            "a\",\"count\":2,\"size\":25165824,\"seed\":42,\"crc32c\":true}");
    const char *topts[] = {"--part-size", "8MiB", "--multipart-threshold", "8MiB", NULL};
    wt_task(w, "b", "b/", NULL, "b/", topts);
    faults(w, "[{\"op\":\"UploadPart\",\"bandwidth\":2097152},"
              "{\"op\":\"PutObject\",\"latency_ms\":100}]");
    const char *opts[] = {"--workers", "2", "--concurrency", "4", NULL};
    pid_t up = up_start(w, "hb", "up-b1.log", 0, opts);
    double end = wt_now() + 120;
    while (done_count(w, "b") < 20 && wt_now() < end)
        usleep(100 * 1000);
    kill(up, SIGTERM);
    double t = wt_now();
    CHECK_INT(wt_wait(up, 90), 0);
    long long d1 = done_count(w, "b");
    printf("SIGTERM at 20+ done: drained in %.1f s, %lld of 202 done\n", wt_now() - t, d1);
    CHECK(d1 < 202);
    CHECK_INT(live_workers(w, "hb/", NULL, NULL), 0); /* the workers stopped with it */

    /* PUTs answered after 5 s: the first SIGINT's drain takes seconds, the second ends it */
    faults(w, "[{\"op\":\"PutObject\",\"latency_ms\":5000}]");
    up = up_start(w, "hb", "up-b2.log", 0, opts);
    end = wt_now() + 120;
    while (done_count(w, "b") < d1 + 2 && wt_now() < end)
        usleep(100 * 1000);
    usleep(500 * 1000); /* the next PUTs are under way */
    kill(up, SIGINT);
    usleep(300 * 1000);
    kill(up, SIGINT);
    t = wt_now();
    CHECK_INT(wt_wait(up, 30), 130);
    printf("two SIGINTs: stopped in %.1f s, %lld of 202 done\n", wt_now() - t, done_count(w, "b"));
    CHECK_INT(wt_log_count("up-b2.log", "event=up.stop_now"), 1);

    faults(w, "[{\"op\":\"UploadPart\",\"bandwidth\":2097152},"
              "{\"op\":\"PutObject\",\"latency_ms\":100}]");
    up = up_start(w, "hb", "up-b3.log", 0, opts);
    CHECK(wait_done(w, "b", 202, 180));
    kill(up, SIGTERM);
    CHECK_INT(wt_wait(up, 60), 0);
    ferry_counters_t c;
    wt_counters(w, "b", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], 202);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    faults(w, NULL);
    CHECK_INT(wt_compare(w, &w->d, "b/", "b/"), 0);
}

/* 4: three hosts on one Redis. */
static void three_hosts(wt_t *w)
{
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"c/s\",\"count\":600,\"size\":2048,\"seed\":51}");
    wt_task(w, "c", "c/", NULL, "c/", NULL);
    faults(w, "[{\"op\":\"PutObject\",\"latency_ms\":150}]");
    long puts0 = wt_stat(&w->d, w->dst.url, "PutObject", "count");
    /* a short lease and visibility: a dead host's jobs are taken by the others in seconds */
    const char *opts[] = {"--workers", "1..2", "--concurrency", "2",  "--drain-target",
                          "5s",        "--",   "--lease",       "5s", "--visibility",
                          "10s",       NULL};
    pid_t up[3];
    int port = harness_free_port();
    REQUIRE(port > 0);
    up[0] = up_start(w, "h1", "up-h1.log", port, opts);
    up[1] = up_start(w, "h2", "up-h2.log", 0, opts);
    up[2] = up_start(w, "h3", "up-h3.log", 0, opts);
    /* GET /v1/scale on h1 answers for all three: bounds 1..2 per host */
    int hosts_seen = 0;
    for (int i = 0; i < 100 && hosts_seen != 3; i++) {
        int st = 0;
        char raw[8192];
        json_t *j = http_get_json(port, "/v1/scale", &st, raw, sizeof(raw));
        hosts_seen = (int)json_integer_value(json_object_get(j, "hosts"));
        if (hosts_seen == 3) {
            CHECK_INT(json_integer_value(json_object_get(j, "max")), 6);
            CHECK_INT(json_integer_value(json_object_get(j, "min")), 3);
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    CHECK_INT(hosts_seen, 3);
    /* phase 1: 300 copies with all three up */
    CHECK(wait_done(w, "c", 300, 180));
    int hosts = 0;
    int twice = copied_twice(w, "c", "c/s", 600, &hosts);
    long puts = wt_stat(&w->d, w->dst.url, "PutObject", "count") - puts0;
    long long done = done_count(w, "c");
    printf("3 hosts: %lld done, %ld PUTs, hosts that copied: %s%s%s, copied twice: %d\n", done,
           puts, hosts & 1 ? "h1 " : "", hosts & 2 ? "h2 " : "", hosts & 4 ? "h3" : "", twice);
    CHECK_INT(hosts, 7);             /* the work split over all three */
    CHECK_INT(twice, 0);             /* nothing copied twice */
    CHECK(puts <= done + 3 * 2 * 2); /* at most the copies in flight beyond the done ones */
    /* phase 2: host h2 dies: its workers and its ferry up, SIGKILL */
    int pids[16];
    int n = live_workers(w, "h2/", pids, NULL);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    kill(up[1], SIGKILL);
    CHECK_INT(wt_wait(up[1], 10), 128 + SIGKILL);
    printf("killed h2's ferry up and %d workers at %lld done\n", n, done_count(w, "c"));
    CHECK(wait_done(w, "c", 600, 240));
    ferry_counters_t c;
    wt_counters(w, "c", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], 600);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    twice = copied_twice(w, "c", "c/s", 600, &hosts);
    printf("after the kill: copied twice %d (at most h2's jobs in flight: %d)\n", twice, n * 2);
    CHECK(twice <= n * 2);
    kill(up[0], SIGTERM);
    kill(up[2], SIGTERM);
    CHECK_INT(wt_wait(up[0], 60), 0);
    CHECK_INT(wt_wait(up[2], 60), 0);
    faults(w, NULL);
    CHECK_INT(wt_compare(w, &w->d, "c/", "c/"), 0);
}

/* 6: without --redis, ferry up starts the state dir's private redis-server, says how to add a
 * task while there is none, keeps serving, and stops that server again on SIGTERM. */
static void private_redis(void)
{
    char dir[1024], log[1024], pidfile[1100];
    snprintf(dir, sizeof(dir), "%s/state", harness_tmpdir());
    REQUIRE(mkdir(dir, 0700) == 0);
    snprintf(log, sizeof(log), "%s/up-private.log", harness_tmpdir());
    snprintf(pidfile, sizeof(pidfile), "%s/redis.pid", dir);
    const char *argv[] = {bin(), "--state-dir", dir,    "up", "--listen",
                          "off", "--workers",   "0..1", NULL};
    char *url = getenv("FERRY_REDIS_URL") ? strdup(getenv("FERRY_REDIS_URL")) : NULL;
    unsetenv("FERRY_REDIS_URL");
    pid_t up = harness_spawn(argv, NULL, log);
    if (url) {
        setenv("FERRY_REDIS_URL", url, 1);
        free(url);
    }
    REQUIRE(up > 0);
    double end = wt_now() + 30;
    while (wt_log_count("up-private.log", "event=up.no_tasks") < 1 && wt_now() < end)
        usleep(100 * 1000);
    CHECK_INT(wt_log_count("up-private.log", "ferry task add"), 2); /* the hint and the log */
    long rpid = 0;
    FILE *f = fopen(pidfile, "r");
    CHECK(f != NULL);
    if (f) {
        CHECK(fscanf(f, "%ld", &rpid) == 1);
        fclose(f);
    }
    CHECK(rpid > 0 && kill((pid_t)rpid, 0) == 0); /* the private server runs */
    usleep(1500 * 1000);
    CHECK(kill(up, 0) == 0); /* no task: still serving */
    kill(up, SIGTERM);
    CHECK_INT(wt_wait(up, 30), 0);
    CHECK_INT(wt_log_count("up-private.log", "event=up.redis_stopped"), 1);
    /* and it stopped it: the daemonized server was re-parented to this test (the harness is a
     * subreaper), so reap it; gone or a zombie both mean it exited */
    end = wt_now() + 10;
    int gone = 0;
    while (rpid > 0 && !gone && wt_now() < end) {
        int st;
        gone = waitpid((pid_t)rpid, &st, WNOHANG) == (pid_t)rpid || kill((pid_t)rpid, 0) != 0;
        if (!gone)
            usleep(100 * 1000);
    }
    CHECK(gone);
}

int main(int argc, char **argv)
{
    /* run one part: codes, scale, stop, hosts, private */
    const char *only = argc > 1 ? argv[1] : NULL;
    wt_t w;
    wt_start(&w, "s3", "s3");
    if (!only || strcmp(only, "codes") == 0)
        exit_codes();
    if (!only || strcmp(only, "scale") == 0)
        scale_up_down(&w);
    if (!only || strcmp(only, "stop") == 0)
        stop_and_resume(&w);
    if (!only || strcmp(only, "hosts") == 0)
        three_hosts(&w);
    if (!only || strcmp(only, "private") == 0)
        private_redis();
    wt_stop(&w);
    return test_summary();
}
