/* The dashboard in a real browser (issue 15). Starts Redis, a fakes3 OSS source holding 24
 * objects (one of them the hostile key "dir/a b+c%ü.txt") and a fakes3 S3 destination whose
 * PUTs fail for some keys (403 under bad/, 400 for the hostile key), a `ferry scheduler` with
 * an API token and --public-read (it scans once) and a `ferry worker`, and waits until every
 * object is done or failed. Then:
 *   - the throughput series in Redis (ring overwrite, late points) and over the API;
 *   - test/browser/dashboard.mjs drives headless Chromium (playwright-core) through the page:
 *     counts equal the API's and `ferry status`'s, the chart has points, the hostile key's
 *     record, retry per group and per key with the token asked once, everything done, no
 *     request off loopback, no console error, a screenshot in build/test-artifacts/.
 * Skipped (exit 77, "SKIP: …") only when Chromium is not installed. */
#include "test_worker_util.h"

#include "ferry/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TASK     "dash"
#define TOKEN    "dash-api-token-0123456789"
#define HOSTILE  "dir/a b+c%\xc3\xbc.txt"
#define HOSTILE2 "dir/50%25 off?#1.txt" /* "%25" stays three characters; '?' and '#' are key */
#define NOK      19                     /* objects that copy (HOSTILE2 one of them) */
#define MARKUP   "bad/<img src=x onerror=alert(1)>.bin" /* shown as text, never parsed */
#define NBAD     60 /* objects under bad/: PUT 403 (more than a page of the failed list) */

static char body[1 << 16];
static wt_t w;

/* One GET with "Connection: close" to 127.0.0.1:port; the status (body in body[]) or -1. */
static int http_get(int port, const char *path, const char *headers)
{
    int fd = harness_connect(port, 10000);
    if (fd < 0)
        return -1;
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", path,
                     headers ? headers : "");
    REQUIRE(n > 0 && (size_t)n < sizeof(req));
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    static char buf[(1 << 16) + 4096];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof(buf) - 1 && (k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    int status = -1;
    body[0] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (b)
        snprintf(body, sizeof(body), "%s", b + 4);
    return status;
}

/* The series in Redis, through the library: a point replaces the one an hour older in its
 * slot; a point older than what its slot holds is dropped; the read keeps the last hour. */
static void series_ring(void)
{
    printf("== the throughput series: a ring of 360 ten-second slots\n");
    const char *task = "ring";
    int64_t now = 1765000000; /* a multiple of 10 */
    ferry_stats_t *s = NULL;
    REQUIRE(ferry_stats_new(task, &s) == FERRY_OK);
    CHECK_INT(ferry_stats_tput_add(s, now - 3600, 5, 500), FERRY_OK); /* the slot of now */
    CHECK_INT(ferry_stats_tput_add(s, now - 20, 2, 200), FERRY_OK);
    CHECK_INT(ferry_stats_tput_add(s, now - 15, 1, 100), FERRY_OK); /* same point as now-20 */
    CHECK_INT(ferry_stats_flush(s, w.r), FERRY_OK);
    ferry_tput_point_t *p = NULL;
    size_t n = 0;
    CHECK_INT(ferry_stats_throughput(w.r, task, now, &p, &n), FERRY_OK);
    CHECK_INT((long long)n, 1); /* now-3600 is outside the hour */
    if (n == 1)
        CHECK(p[0].t == now - 20 && p[0].objects == 3 && p[0].bytes == 300);
    free(p);
    CHECK_INT(ferry_stats_tput_add(s, now + 5, 7, 700), FERRY_OK); /* takes the slot of now-3600 */
    CHECK_INT(ferry_stats_flush(s, w.r), FERRY_OK);
    CHECK_INT(ferry_stats_tput_add(s, now - 3600, 9, 900), FERRY_OK); /* late: dropped */
    CHECK_INT(ferry_stats_flush(s, w.r), FERRY_OK);
    CHECK_INT(ferry_stats_throughput(w.r, task, now + 9, &p, &n), FERRY_OK);
    CHECK_INT((long long)n, 2);
    if (n == 2)
        CHECK(p[0].t == now - 20 && p[1].t == now && p[1].objects == 7 && p[1].bytes == 700);
    free(p);
    redisReply *rep = NULL;
    REQUIRE(ferry_redis_cmd(w.r, &rep, "HLEN ferry:{ring}:tput") == FERRY_OK);
    CHECK_INT(rep->integer, 2);
    freeReplyObject(rep);
    REQUIRE(ferry_redis_cmd(w.r, &rep, "TTL ferry:{ring}:tput") == FERRY_OK);
    CHECK(rep->integer > 3500 && rep->integer <= 3600); /* an idle task's series goes away */
    freeReplyObject(rep);
    CHECK_INT(ferry_stats_throughput(w.r, "nothing", now, &p, &n), FERRY_OK);
    CHECK_INT((long long)n, 0);
    free(p);
    ferry_stats_free(s);
}

/* Sum of "objects" over the points of a GET /v1/tasks/NAME/throughput answer. */
static long long series_objects(const char *json)
{
    long long sum = 0;
    for (const char *p = json; (p = strstr(p, "\"objects\":")) != NULL; p += 10)
        sum += strtoll(p + 10, NULL, 10);
    return sum;
}

int main(void)
{
    const char *chromium = getenv("FERRY_CHROMIUM");
    if (chromium == NULL || !*chromium)
        chromium = "/usr/bin/chromium";
    if (access(chromium, X_OK) != 0) {
        printf("SKIP: %s not found: the dashboard test needs Chromium (apt-get install chromium; "
               "scripts/lib.sh installs it), or set FERRY_CHROMIUM\n",
               chromium);
        return 77;
    }
    const char *root = getenv("FERRY_ROOT");
    const char *bindir = getenv("FERRY_BIN_DIR");
    REQUIRE(root && bindir);
    /* playwright-core: in .deps (scripts/test installs test/npm's packages there), or in
     * $FERRY_NODE_MODULES (a node_modules directory of its own). */
    char modules[1024], pw[1100], ferry_bin[1024];
    const char *nm = getenv("FERRY_NODE_MODULES");
    if (nm && *nm)
        snprintf(modules, sizeof(modules), "%s", nm);
    else
        snprintf(modules, sizeof(modules), "%s/.deps/node_modules", root);
    snprintf(pw, sizeof(pw), "%s/playwright-core/package.json", modules);
    if (access(pw, R_OK) != 0) {
        fprintf(stderr,
                "%s missing: run scripts/test (it installs test/npm's packages into .deps), or "
                "point FERRY_NODE_MODULES at a node_modules holding playwright-core\n",
                pw);
        return 1;
    }
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bindir);
    REQUIRE(access(ferry_bin, X_OK) == 0);

    wt_start(&w, "oss", "oss");
    setenv("HOME", harness_tmpdir(), 1);
    series_ring();

    printf("== a source of %d objects; the destination refuses bad/ (403) and the hostile key\n",
           NOK + NBAD + 1);
    char key[256];
    wt_put(&w, HOSTILE2, 512, 98);
    for (int i = 0; i < NOK - 1; i++) {
        snprintf(key, sizeof(key), "dir/ok-%02d.bin", i);
        wt_put(&w, key, 1000 + 3000 * (size_t)i, (unsigned)i + 1);
    }
    wt_put(&w, MARKUP, 1024, 97); /* one of the NBAD */
    for (int i = 0; i < NBAD - 1; i++) {
        snprintf(key, sizeof(key), "bad/%02d.bin", i);
        wt_put(&w, key, 2048, 100 + (unsigned)i);
    }
    wt_put(&w, HOSTILE, 777, 99);
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "[{\"op\":\"PutObject\",\"key_prefix\":\"bad/\",\"error\":403},"
                       "{\"op\":\"PutObject\",\"key_prefix\":\"dir/a b\",\"error\":400}]") == 0);
    wt_task(&w, TASK, "", NULL, "", NULL);

    setenv("FERRY_API_TOKEN", TOKEN, 1);
    int port = harness_free_port(), port2 = harness_free_port();
    REQUIRE(port > 0 && port2 > 0 && port != port2);
    char listen[64], listen2[64], log[1024], log2[1024], wlog[1024];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(listen2, sizeof(listen2), "127.0.0.1:%d", port2);
    snprintf(log, sizeof(log), "%s/scheduler.log", harness_tmpdir());
    snprintf(log2, sizeof(log2), "%s/scheduler2.log", harness_tmpdir());
    snprintf(wlog, sizeof(wlog), "%s/worker.log", harness_tmpdir());
    const char *sargv[] = {ferry_bin, "--redis",  w.redis.url, "scheduler",     "--task",
                           TASK,      "--listen", listen,      "--public-read", NULL};
    REQUIRE(harness_spawn(sargv, NULL, log) > 0);
    /* A second API without --public-read: the page must ask for the token to read. */
    const char *s2argv[] = {ferry_bin, "--redis",  w.redis.url, "scheduler", "--task",
                            TASK,      "--listen", listen2,     NULL};
    REQUIRE(harness_spawn(s2argv, NULL, log2) > 0);
    const char *wargv[] = {ferry_bin, "--redis", w.redis.url, "worker", "--task", TASK, NULL};
    REQUIRE(harness_spawn(wargv, NULL, wlog) > 0);

    ferry_counters_t c;
    double t0 = wt_now();
    do {
        usleep(100 * 1000);
        wt_counters(&w, TASK, &c);
    } while (wt_now() - t0 < 60 &&
             (c.objects[FERRY_STATE_DONE] < NOK || c.objects[FERRY_STATE_FAILED] < NBAD + 1));
    printf("  done %lld, failed %lld after %.1f s\n", (long long)c.objects[FERRY_STATE_DONE],
           (long long)c.objects[FERRY_STATE_FAILED], wt_now() - t0);
    REQUIRE(c.objects[FERRY_STATE_DONE] == NOK && c.objects[FERRY_STATE_FAILED] == NBAD + 1);

    printf("== GET /v1/tasks/%s/throughput counts the %d objects done\n", TASK, NOK);
    long long sum = 0;
    t0 = wt_now();
    while (wt_now() - t0 < 10 && sum < NOK) { /* the worker flushes its stats every second */
        CHECK_INT(http_get(port, "/v1/tasks/" TASK "/throughput", NULL), 200);
        sum = series_objects(body);
        if (sum < NOK)
            usleep(200 * 1000);
    }
    printf("  %s", body);
    CHECK_INT(sum, NOK);
    CHECK(strstr(body, "\"step\":10") != NULL && strstr(body, "\"window\":3600") != NULL);
    CHECK_INT(http_get(port2, "/v1/tasks/" TASK "/throughput", NULL), 401);
    CHECK_INT(http_get(port, "/v1/tasks/nosuch/throughput", NULL), 404);

    printf("== the page and its assets: types, ETag, CSP, no token needed\n");
    CHECK_INT(http_get(port2, "/", NULL), 200);
    CHECK(strstr(body, "/ui/app.js") != NULL);
    CHECK_INT(http_get(port2, "/ui/nosuch.js", NULL), 404);
    CHECK_INT(http_get(port2, "/ui/app.js?token=x", NULL), 401); /* ?token= stays refused */

    printf("== the browser\n");
    char cmd[4096], out[1 << 15], err[1 << 15];
    snprintf(cmd, sizeof(cmd),
             "FERRY_DASH_URL=http://127.0.0.1:%d/ FERRY_DASH_URL2=http://127.0.0.1:%d/ "
             "FERRY_DASH_TOKEN=%s FERRY_DASH_TASK=%s FERRY_DASH_FAULTS=%s/_fakes3/faults "
             "FERRY_DASH_TOTAL=%d FERRY_DASH_FAILED=%d FERRY_BIN=%s FERRY_REDIS_URL=%s "
             "FERRY_CHROMIUM=%s FERRY_ARTIFACTS=%s/../test-artifacts FERRY_NODE_MODULES=%s "
             "node %s/test/browser/dashboard.mjs",
             port, port2, TOKEN, TASK, w.dst.url, NOK + NBAD + 1, NBAD + 1, ferry_bin, w.redis.url,
             chromium, bindir, modules, root); /* bindir is build/bin */
    int rc = harness_run(cmd, out, sizeof(out), err, sizeof(err));
    fputs(out, stdout);
    if (rc != 0)
        fprintf(stderr, "dashboard.mjs exited %d:\n%s\n", rc, err);
    CHECK_INT(rc, 0);

    wt_counters(&w, TASK, &c);
    CHECK_INT((long long)c.objects[FERRY_STATE_DONE], NOK + NBAD + 1);
    CHECK_INT((long long)c.objects[FERRY_STATE_FAILED], 0);
    CHECK(wt_compare(&w, &w.d, "", "") == 0);
    CHECK_INT(wt_log_count("scheduler.log", "ERROR: AddressSanitizer"), 0);
    CHECK_INT(wt_log_count("scheduler.log", TOKEN), 0);
    wt_stop(&w);
    return test_summary();
}
