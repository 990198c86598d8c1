/* End to end through the HTTP API (issue 13): an object PUT into a fakes3 OSS source, its OSS
 * Function Compute event POSTed to `ferry scheduler --listen`, a `ferry worker` running →
 * the record is `done` (polled over GET /v1/tasks/T/objects/KEY, and `ferry status` agrees)
 * and the destination's bytes are the source's. Then the event rules seen from outside:
 * a delete event on a task without --delete changes nothing (the copy stays, the record stays
 * done); an older create event after a newer one is `stale` and does not regress the
 * destination; a repeated delivery id (CloudEvents) is a duplicate that queues nothing.
 * Neither server log may hold a sanitizer report or the token. */
#include "test_worker_util.h"

#include "ferry/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define TASK  "e2e"
#define TOKEN "e2e-api-token-0123456789"
#define AUTH  "Authorization: Bearer " TOKEN "\r\n"

static int api_port;
static char body[1 << 16]; /* the last response's body */
static char out[1 << 16], errbuf[8192];
static char ferry_bin[1024];
static wt_t w;

/* One request with "Connection: close"; returns the status (body in body[]) or -1. */
static int http(const char *method, const char *path, const char *headers, const char *data)
{
    int fd = harness_connect(api_port, 10000);
    if (fd < 0)
        return -1;
    size_t len = data ? strlen(data) : 0;
    size_t cap = strlen(path) + (headers ? strlen(headers) : 0) + len + 256;
    char *req = malloc(cap);
    REQUIRE(req != NULL);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, headers ? headers : "", len, data ? data : "");
    REQUIRE(n > 0 && (size_t)n < cap);
    int status = -1;
    size_t sent = 0;
    while (sent < (size_t)n) {
        ssize_t k = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    free(req);
    static char buf[(1 << 16) + 4096];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof(buf) - 1 && (k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    body[0] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (b)
        snprintf(body, sizeof(body), "%s", b + 4);
    return status;
}

static int post_event(const char *ev)
{
    return http("POST", "/v1/tasks/" TASK "/events", AUTH, ev);
}

/* An OSS event object (as Function Compute and EventBridge carry it) for the source bucket. */
static void oss_event(char *dst, size_t n, const char *name, const char *key, size_t size,
                      const char *etag, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char when[40];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    int k = snprintf(
        dst, n,
        "{\"eventName\":\"%s\",\"eventSource\":\"acs:oss\",\"eventTime\":\"%s\","
        "\"eventVersion\":\"1.0\",\"oss\":{\"bucket\":{\"arn\":\"acs:oss:cn-hangzhou:123456789:"
        "src\",\"name\":\"src\",\"ownerIdentity\":\"1649015465570000\"},\"object\":{"
        "\"deltaSize\":%zu,\"eTag\":\"%s\",\"key\":\"%s\",\"objectMeta\":{\"mimeType\":"
        "\"application/octet-stream\"},\"size\":%zu},\"ossSchemaVersion\":\"1.0\",\"ruleId\":"
        "\"9adac8e253828f4f7c0466d941fa3db811610000\"},\"region\":\"cn-hangzhou\","
        "\"requestParameters\":{\"sourceIPAddress\":\"140.205.1.1\"},\"responseElements\":{"
        "\"requestId\":\"58F9FF2D3DF792092E12044C\"},\"userIdentity\":{\"principalId\":"
        "\"1649015465570000\"}}",
        name, when, size, etag, key, size);
    REQUIRE(k > 0 && (size_t)k < n);
}

/* The Function Compute trigger's body: {"events":[...]} (what deploy/forwarders posts). */
static void fc_body(char *dst, size_t n, const char *name, const char *key, size_t size,
                    const char *etag, int64_t ms)
{
    char ev[2048];
    oss_event(ev, sizeof(ev), name, key, size, etag, ms);
    int k = snprintf(dst, n, "{\"events\":[%s]}", ev);
    REQUIRE(k > 0 && (size_t)k < n);
}

/* PUT len bytes of s3t_fill(seed) at the source; the ETag as an OSS event spells it (bare,
 * upper-case hex). */
static void put_src(const char *key, size_t len, unsigned seed, char *etag, size_t en)
{
    char *b = malloc(len);
    REQUIRE(b != NULL);
    s3t_fill(b, len, seed);
    s3t_res_t x;
    REQUIRE(s3t_put(&w.s, "src", key, strlen(key), b, len, &x) == FERRY_OK);
    free(b);
    size_t j = 0;
    for (const char *p = x.r.etag; *p && j + 1 < en; p++)
        if (*p != '"')
            etag[j++] = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    etag[j] = '\0';
    CHECK_INT((int)strlen(etag), 32);
}

/* A record's state over the API ("" when absent or on error); its size in *size. */
static const char *api_state(const char *key, long long *size)
{
    static char st[32];
    char path[512];
    snprintf(path, sizeof(path), "/v1/tasks/" TASK "/objects/%s", key);
    st[0] = '\0';
    if (http("GET", path, AUTH, NULL) != 200)
        return st;
    const char *p = strstr(body, "\"state\":\"");
    if (p)
        sscanf(p + 9, "%31[a-z]", st);
    p = strstr(body, "\"size\":");
    if (p && size)
        *size = strtoll(p + 7, NULL, 10);
    return st;
}

/* Poll the record until state want (every 10 ms, up to secs); milliseconds it took or -1. */
static long wait_state(const char *key, const char *want, double secs)
{
    double t0 = wt_now();
    while (wt_now() - t0 < secs) {
        if (strcmp(api_state(key, NULL), want) == 0)
            return (long)((wt_now() - t0) * 1000);
        usleep(10 * 1000);
    }
    fprintf(stderr, "%s: not %s after %.0f s (last answer: %s)\n", key, want, secs, body);
    return -1;
}

/* `ferry status TASK KEY`; its exit code, stdout in out[]. */
static int ferry_status(const char *key)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s --redis %s status %s '%s' --json", ferry_bin, w.redis.url, TASK,
             key);
    return harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
}

/* CRC-64 of the destination object key (and its length); rc of the GET. */
static int dst_crc(const char *key, uint64_t *crc, size_t *len)
{
    return wt_crc(&w.d, "dst", key, strlen(key), crc, len);
}

static uint64_t fill_crc(size_t len, unsigned seed)
{
    char *b = malloc(len);
    REQUIRE(b != NULL);
    s3t_fill(b, len, seed);
    uint64_t c = ferry_crc64_update(0, b, len);
    free(b);
    return c;
}

static pid_t spawn(const char *logname, const char *const *args)
{
    static char log[1024];
    snprintf(log, sizeof(log), "%s/%s", harness_tmpdir(), logname);
    pid_t p = harness_spawn(args, NULL, log);
    REQUIRE(p > 0);
    return p;
}

int main(void)
{
    double t_start = wt_now();
    wt_start(&w, "oss", "oss");
    const char *dir = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", dir ? dir : ".");
    REQUIRE(access(ferry_bin, X_OK) == 0);
    setenv("HOME", harness_tmpdir(), 1);
    wt_task(&w, TASK, "", NULL, "", NULL); /* oss://src/ -> s3://dst/, no --delete */

    /* The scheduler serves the API (and scans the task once: the source is empty then). */
    setenv("FERRY_API_TOKEN", TOKEN, 1);
    api_port = harness_free_port();
    REQUIRE(api_port > 0);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", api_port);
    const char *sargv[] = {ferry_bin, "--redis",  w.redis.url, "scheduler", "--task",
                           TASK,      "--listen", listen,      NULL};
    pid_t sched = spawn("scheduler.log", sargv);
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        up = http("GET", "/healthz", NULL, NULL) == 200;
        if (!up)
            usleep(50 * 1000);
    }
    REQUIRE(up);
    int scanned = 0; /* the first scan (of an empty source) done before any object exists */
    for (int i = 0; i < 200 && !scanned; i++) {
        REQUIRE(http("GET", "/v1/tasks/" TASK, AUTH, NULL) == 200);
        scanned = strstr(body, "\"last_scan\":null") == NULL;
        if (!scanned)
            usleep(50 * 1000);
    }
    REQUIRE(scanned);
    const char *wargv[] = {ferry_bin, "--redis", w.redis.url, "worker", "--task", TASK, NULL};
    pid_t worker = spawn("worker.log", wargv);

    char ev[4096], etag[64], etag1[64], etag2[64];
    long long size = 0;

    printf("== an object PUT, its Function Compute event POSTed: done, same bytes\n");
    const size_t len1 = 300 * 1024 + 7;
    put_src("docs/one.bin", len1, 1, etag, sizeof(etag));
    fc_body(ev, sizeof(ev), "ObjectCreated:PutObject", "docs/one.bin", len1, etag, ferry_wall_ms());
    CHECK_INT(http("POST", "/v1/tasks/" TASK "/events", NULL, ev), 401); /* no token: nothing */
    CHECK_STR(api_state("docs/one.bin", NULL), "");
    CHECK_INT(post_event(ev), 202);
    printf("  202 %s\n", body);
    CHECK(strstr(body, "\"queued\":1") != NULL);
    long ms = wait_state("docs/one.bin", "done", 10);
    printf("  done %ld ms after the 202\n", ms);
    CHECK(ms >= 0);
    CHECK(wt_compare(&w, &w.d, "docs/", "docs/") == 0);
    CHECK_INT(ferry_status("docs/one.bin"), 0);
    CHECK(strstr(out, "\"state\":\"done\"") != NULL);
    CHECK(strstr(out, "\"origin\":\"event\"") != NULL);

    printf("== a delete event on a task without --delete: nothing happens\n");
    s3t_res_t x;
    CHECK_INT(s3t_delete(&w.s, "src", "docs/one.bin", strlen("docs/one.bin"), &x), FERRY_OK);
    fc_body(ev, sizeof(ev), "ObjectRemoved:DeleteObject", "docs/one.bin", 0, "", ferry_wall_ms());
    CHECK_INT(post_event(ev), 202);
    printf("  202 %s\n", body);
    CHECK(strstr(body, "\"queued\":0") != NULL);
    CHECK(strstr(body, "\"deletes_off\":1") != NULL);
    usleep(500 * 1000); /* what a worker would have done by now */
    CHECK_STR(api_state("docs/one.bin", NULL), "done");
    uint64_t crc = 0;
    size_t got = 0;
    CHECK_INT(dst_crc("docs/one.bin", &crc, &got), FERRY_OK);
    CHECK(crc == fill_crc(len1, 1) && got == len1);

    printf("== an older create event after a newer one: stale, the destination keeps v2\n");
    const size_t lv1 = 100 * 1024, lv2 = 150 * 1024 + 3;
    put_src("ver/obj.bin", lv1, 11, etag1, sizeof(etag1));
    char ev1[4096];
    fc_body(ev1, sizeof(ev1), "ObjectCreated:PutObject", "ver/obj.bin", lv1, etag1,
            ferry_wall_ms());
    CHECK_INT(post_event(ev1), 202);
    CHECK(strstr(body, "\"queued\":1") != NULL);
    CHECK(wait_state("ver/obj.bin", "done", 10) >= 0);
    CHECK_INT(dst_crc("ver/obj.bin", &crc, &got), FERRY_OK);
    CHECK(crc == fill_crc(lv1, 11) && got == lv1);
    /* v2 in a later second than v1 (versions without a sequencer compare by time) */
    usleep((useconds_t)(1000 - ferry_wall_ms() % 1000 + 50) * 1000);
    put_src("ver/obj.bin", lv2, 12, etag2, sizeof(etag2));
    fc_body(ev, sizeof(ev), "ObjectCreated:PutObject", "ver/obj.bin", lv2, etag2, ferry_wall_ms());
    CHECK_INT(post_event(ev), 202);
    CHECK(strstr(body, "\"queued\":1") != NULL);
    CHECK(wait_state("ver/obj.bin", "done", 10) >= 0);
    CHECK_INT(dst_crc("ver/obj.bin", &crc, &got), FERRY_OK);
    CHECK(crc == fill_crc(lv2, 12) && got == lv2);
    CHECK_INT(post_event(ev1), 202); /* the delayed v1 event, delivered again */
    printf("  202 %s\n", body);
    CHECK(strstr(body, "\"stale\":1") != NULL);
    CHECK(strstr(body, "\"queued\":0") != NULL);
    usleep(500 * 1000);
    CHECK_STR(api_state("ver/obj.bin", &size), "done");
    CHECK_INT(size, (long long)lv2);
    CHECK_INT(dst_crc("ver/obj.bin", &crc, &got), FERRY_OK);
    CHECK(crc == fill_crc(lv2, 12) && got == lv2);
    CHECK(wt_compare(&w, &w.d, "ver/", "ver/") == 0);

    printf("== a duplicate delivery (the same CloudEvents id) queues nothing\n");
    put_src("dup/obj.bin", 4096, 21, etag, sizeof(etag));
    char oe[2048];
    oss_event(oe, sizeof(oe), "ObjectCreated:PutObject", "dup/obj.bin", 4096, etag,
              ferry_wall_ms());
    snprintf(ev, sizeof(ev),
             "{\"specversion\":\"1.0\",\"id\":\"e2e-delivery-1\",\"source\":\"acs.oss\","
             "\"type\":\"oss:ObjectCreated:PutObject\",\"time\":\"2026-11-30T05:40:45.000Z\","
             "\"subject\":\"acs:oss:cn-hangzhou:123456789:src/dup/obj.bin\","
             "\"datacontenttype\":\"application/json;charset=utf-8\",\"data\":%s}",
             oe);
    CHECK_INT(post_event(ev), 202);
    CHECK(strstr(body, "\"queued\":1") != NULL && strstr(body, "\"duplicate\":0") != NULL);
    CHECK_INT(post_event(ev), 202); /* at once: the first job may still be queued */
    printf("  202 %s\n", body);
    CHECK(strstr(body, "\"duplicate\":1") != NULL);
    CHECK(strstr(body, "\"queued\":0") != NULL && strstr(body, "\"unchanged\":0") != NULL);
    CHECK(wait_state("dup/obj.bin", "done", 10) >= 0);
    CHECK_INT(post_event(ev), 202); /* and after the copy */
    CHECK(strstr(body, "\"duplicate\":1") != NULL && strstr(body, "\"queued\":0") != NULL);
    CHECK(wt_compare(&w, &w.d, "dup/", "dup/") == 0);
    CHECK_INT(ferry_status("dup/obj.bin"), 0);
    CHECK(strstr(out, "\"attempts\":1") != NULL); /* copied once */
    CHECK_INT(http("GET", "/v1/tasks/" TASK, AUTH, NULL), 200);
    CHECK(strstr(body, "\"done\":{\"objects\":3") != NULL);

    kill(worker, SIGTERM);
    CHECK_INT(wt_wait(worker, 15), 0);
    kill(sched, SIGTERM);
    CHECK_INT(wt_wait(sched, 15), 0);
    CHECK_INT(wt_log_count("scheduler.log", "ERROR: AddressSanitizer"), 0);
    CHECK_INT(wt_log_count("worker.log", "ERROR: AddressSanitizer"), 0);
    CHECK_INT(wt_log_count("scheduler.log", "runtime error"), 0);
    CHECK_INT(wt_log_count("worker.log", "runtime error"), 0);
    CHECK_INT(wt_log_count("scheduler.log", TOKEN), 0);
    wt_stop(&w);
    double took = wt_now() - t_start;
    printf("test_event_e2e: %.1f s\n", took);
    CHECK(took <= 30);
    return test_summary();
}
