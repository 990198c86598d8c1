/* Integration test of the HTTP API (scheduler/api.c) served by `ferry scheduler --listen`,
 * against a harness redis-server, through a raw socket client (so the test controls every
 * byte: partial headers, garbage, oversized bodies, a thousand idle connections).
 *
 * Event intake: every sample in test/data/events/ is POSTed to one task and fed to
 * `ferry event` (the same library call) on a twin task; both must end with the same records,
 * and a sample the CLI rejects must be a 400 that queues nothing. Auth (Bearer, the
 * EventBridge header, ?token= event secrets, 401s that queue nothing), 404/405/413, the read
 * routes' shapes, retry, metrics, slow-loris and 1,000 connections, readyz when Redis is down,
 * and SIGTERM (exit 0). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry/clock.h"
#include "ferry/ledger.h"
#include "ferry/redis.h"
#include "ferry/status.h"
#include "harness.h"
#include "test.h"

#define TOKEN "s3cr3t-api-token"

static harness_server_t srv;
static char ferry_bin[512];
static char out[1 << 20], errbuf[8192];
static int api_port;
static pid_t api_pid;
static char api_log[700];

/* Run "ferry --redis URL ARGS"; returns the exit code. */
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s --redis %s %s", ferry_bin, srv.url, args);
    return harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
}

static int connect_api(void)
{
    return harness_connect(api_port, 10000);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static char body[1 << 20]; /* the last response's body */

/* Read a whole response (the server closes: Connection: close). Returns the status or -1. */
static int read_response(int fd)
{
    static char buf[(1 << 20) + 8192];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(buf) - 1 && (k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    body[0] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (b)
        snprintf(body, sizeof(body), "%s", b + 4);
    return status;
}

/* One request with "Connection: close"; extra headers end with \r\n each. */
static int http(const char *method, const char *path, const char *headers, const char *data,
                size_t len)
{
    int fd = connect_api();
    if (fd < 0)
        return -1;
    const char *fmt = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                      "Content-Length: %zu\r\n\r\n";
    const char *hs = headers ? headers : "";
    size_t cap = strlen(method) + strlen(path) + strlen(hs) + 128; /* the huge-header case too */
    char *head = malloc(cap);
    REQUIRE(head != NULL);
    int hn = snprintf(head, cap, fmt, method, path, hs, data ? len : 0);
    REQUIRE(hn > 0 && (size_t)hn < cap);
    int status = -1;
    /* A server that answers early (401, 413) may close before taking the whole body: read its
     * answer even when sending failed. */
    if (send_all(fd, head, (size_t)hn) == 0) {
        if (data)
            send_all(fd, data, len);
        status = read_response(fd);
    }
    free(head);
    close(fd);
    return status;
}

#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static int get(const char *path)
{
    return http("GET", path, AUTH, NULL, 0);
}

static int post(const char *path, const char *data)
{
    return http("POST", path, AUTH, data, strlen(data));
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Records of a task as `ferry ls --json` prints them, sorted, without the timestamps. */
static void keys_of(const char *task, char *dst, size_t n)
{
    REQUIRE(run("ls %s --json | sed -e 's/\"queued_at\":\"[^\"]*\"//' -e 's/\"task\":\"[^\"]*\"//' "
                "| sort",
                task) == 0);
    snprintf(dst, n, "%s", out);
}

/* 200 from GET /healthz over HTTPS (curl -k: the test's own self-signed certificate). */
static int https_healthz(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -sk -o /dev/null -w '%%{http_code}' https://127.0.0.1:%d/healthz", api_port);
    return harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf)) == 0 &&
           strcmp(out, "200") == 0;
}

/* Start `ferry scheduler` serving the API on a free port, with the extra arguments (a
 * NULL-terminated list, may be NULL); wait for /healthz (over HTTPS when tls). */
static void start_api(const char *const *extra, int tls)
{
    char tokfile[700], listen[64], cmd[1000];
    snprintf(tokfile, sizeof(tokfile), "%s/token", harness_tmpdir());
    FILE *f = fopen(tokfile, "w");
    REQUIRE(f != NULL);
    fputs(TOKEN "\n", f);
    fclose(f);
    api_port = harness_free_port();
    REQUIRE(api_port > 0);
    static int starts;
    snprintf(api_log, sizeof(api_log), "%s/api%d.log", harness_tmpdir(), ++starts);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", api_port);
    /* Under a soft descriptor limit of 512 (a common default is 1024): the server raises it
     * itself to hold the thousand connections below. */
    const char *argv[32] = {"/bin/sh",   "-c",      "ulimit -Sn 512 && exec \"$0\" \"$@\"",
                            ferry_bin,   "--redis", srv.url,
                            "scheduler", "--task",  "nosuch",
                            "--listen",  listen,    "--api-token-file",
                            tokfile};
    int n = 13;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    api_pid = harness_spawn(argv, NULL, api_log);
    REQUIRE(api_pid > 0);
    for (int i = 0; i < 100; i++) {
        if (tls ? https_healthz() : http("GET", "/healthz", NULL, NULL, 0) == 200)
            return;
        usleep(100000);
    }
    fprintf(stderr, "the API did not come up; its log:\n");
    snprintf(cmd, sizeof(cmd), "cat %s >&2", api_log);
    harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
    fputs(errbuf, stderr);
    REQUIRE(0);
}

static void stop_api(void)
{
    kill(api_pid, SIGTERM);
    int st = 0;
    waitpid(api_pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static const char *scheme_of(const char *file)
{
    if (strncmp(file, "cos-", 4) == 0)
        return "cos";
    if (strncmp(file, "kodo-", 5) == 0)
        return "kodo";
    if (strncmp(file, "s3-", 3) == 0)
        return "s3";
    return "oss";
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    char *b = malloc(1 << 20);
    REQUIRE(b != NULL);
    *len = fread(b, 1, (1 << 20) - 1, f);
    b[*len] = '\0';
    fclose(f);
    return b;
}

/* Every sample (test/data/events: the providers' shapes): HTTP on task hN and `ferry event` on twin
 * cN agree. */
/* The delivery channel ferry_events_received_total should show for a sample's name. */
static const char *channel_of_sample(const char *name)
{
    static const struct {
        const char *prefix, *channel;
    } m[] = {{"oss-eventbridge", "eventbridge"},
             {"oss-fc", "fc"},
             {"oss-mns", "mns"},
             {"cos-scf", "scf"},
             {"cos-eventbridge", "eventbridge"},
             {"kodo", "kodo"},
             {"s3-notification", "s3"},
             {"s3-sns-wrapped", "sns"},
             {"s3-eventbridge", "eventbridge"},
             {"minimal", "plain"}};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (strncmp(name, m[i].prefix, strlen(m[i].prefix)) == 0)
            return m[i].channel;
    return NULL;
}

/* 1 when a line of page holds both needles. */
static int line_has(const char *page, const char *a, const char *b)
{
    for (const char *p = page; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
        if (strstr(line, a) && strstr(line, b))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static char sample_names[64][256];
static int nsample_names;

static void samples(void)
{
    const char *dir = FERRY_TEST_DATA "/events";
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    struct dirent *e;
    int n = 0, accepted = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        char path[1200], ht[32], ct[32], url[128], hk[65536], ck[65536];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(ht, sizeof(ht), "h%d", n);
        snprintf(ct, sizeof(ct), "c%d", n);
        if (n < 64) {
            snprintf(sample_names[n], sizeof(sample_names[n]), "%s", e->d_name);
            nsample_names = n + 1;
        }
        n++;
        const char *bucket = strncmp(e->d_name, "cos-scf", 7) == 0 ? "src" : "src-bucket";
        for (int k = 0; k < 2; k++)
            REQUIRE(run("task add %s --from %s://%s/ --to s3://dst/ --delete", k ? ct : ht,
                        scheme_of(e->d_name), bucket) == 0);
        size_t len;
        char *data = slurp(path, &len);
        snprintf(url, sizeof(url), "/v1/tasks/%s/events", ht);
        int st = http("POST", url, AUTH, data, len);
        int cli = run("event %s %s --json", ct, path);
        keys_of(ht, hk, sizeof(hk));
        keys_of(ct, ck, sizeof(ck));
        int bad = strncmp(e->d_name, "bad-", 4) == 0;
        printf("  %-32s HTTP %d  cli %d  %s\n", e->d_name, st, cli, body);
        if (bad) {
            CHECK_INT(st, 400);
            CHECK_INT(cli, 2);
            CHECK(strstr(body, "\"error\"") != NULL);
            CHECK_INT(count_lines(hk), 0);
        } else if (cli == 0) {
            accepted++;
            CHECK_INT(st, 202);
            CHECK(strstr(body, "\"queued\":") != NULL && strstr(body, "\"ignored\":") != NULL);
            CHECK(strstr(body, "\"duplicate\":") != NULL);
            if (strstr(e->d_name, "reqid")) { /* the same delivery id again: a duplicate */
                CHECK_INT(http("POST", url, AUTH, data, len), 202);
                CHECK(strstr(body, "\"duplicate\":1") != NULL && strstr(body, "\"queued\":0"));
            }
        } else {
            CHECK_INT(st, 400);
            CHECK_INT(count_lines(hk), 0);
        }
        CHECK_STR(hk, ck);
        free(data);
    }
    closedir(d);
    CHECK(n >= 20);
    CHECK(accepted >= 14);
    /* the wrong bucket says which field */
    size_t len;
    char *data = slurp(FERRY_TEST_DATA "/events/bad-other-bucket.json", &len);
    CHECK_INT(http("POST", "/v1/tasks/t1/events", AUTH, data, len), 400);
    CHECK(strstr(body, "another-bucket") != NULL);
    free(data);
    /* ferry_events_received_total names the channel each sample came through: its envelope
     * over HTTP, "cli" for `ferry event` (the page is rendered at most once a second) */
    usleep(1100 * 1000);
    CHECK_INT(get("/metrics"), 200);
    int checked = 0;
    for (int i = 0; i < nsample_names; i++) {
        const char *want = channel_of_sample(sample_names[i]);
        char ht[40], ct[40], ch[40];
        snprintf(ht, sizeof(ht), "{task=\"h%d\",", i);
        snprintf(ct, sizeof(ct), "{task=\"c%d\",", i);
        snprintf(ch, sizeof(ch), ",channel=\"%s\"}", want ? want : "");
        if (want == NULL || !strstr(body, ht))
            continue;
        if (!line_has(body, ht, ch))
            fprintf(stderr, "  %s: no channel=\"%s\" on the page\n", sample_names[i], want);
        CHECK(line_has(body, ht, ch));
        CHECK(line_has(body, ct, ",channel=\"cli\"}"));
        checked++;
    }
    CHECK(checked >= 12);
}

static int queued_t1(void)
{
    REQUIRE(run("ls t1 --json") == 0);
    return count_lines(out);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : ".");
    REQUIRE(access(ferry_bin, X_OK) == 0);
    setenv("HOME", harness_tmpdir(), 1);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    REQUIRE(harness_redis_start(&srv) == 0);
    CHECK_INT(run("task add t1 --from oss://src-bucket/ --to s3://dst/"), 0);
    start_api(NULL, 0);

    printf("== health, auth\n");
    CHECK_INT(http("GET", "/healthz", NULL, NULL, 0), 200);
    CHECK_INT(http("GET", "/readyz", NULL, NULL, 0), 200);
    CHECK_INT(http("GET", "/v1/tasks", NULL, NULL, 0), 401);
    CHECK_INT(http("GET", "/v1/tasks", "Authorization: Bearer wrong\r\n", NULL, 0), 401);
    CHECK_INT(http("GET", "/v1/tasks", "Authorization: Basic " TOKEN "\r\n", NULL, 0), 401);
    CHECK_INT(get("/v1/tasks"), 200);
    CHECK(strstr(body, "\"tasks\":[") != NULL && strstr(body, "\"name\":\"t1\"") != NULL);
    const char *ev = "{\"key\":\"a/b c.bin\",\"size\":3}";
    CHECK_INT(http("POST", "/v1/tasks/t1/events", NULL, ev, strlen(ev)), 401);
    CHECK_INT(
        http("POST", "/v1/tasks/t1/events", "Authorization: Bearer " TOKEN "x\r\n", ev, strlen(ev)),
        401);
    CHECK_INT(http("POST", "/v1/tasks/t1/events", "Authorization: Bearer\r\n", ev, strlen(ev)),
              401);
    CHECK_INT(queued_t1(), 0); /* nothing happened */
    CHECK_INT(http("POST", "/v1/tasks/t1/events", "x-eventbridge-signature-token: " TOKEN "\r\n",
                   ev, strlen(ev)),
              202);
    CHECK(strstr(body, "\"queued\":1") != NULL);
    CHECK_INT(queued_t1(), 1);
    CHECK_INT(post("/v1/tasks/t1/events", ev), 202); /* again: already queued */
    CHECK(strstr(body, "\"queued\":0") != NULL && strstr(body, "\"unchanged\":1") != NULL);

    printf("== ?token= event secrets\n");
    CHECK_INT(run("task secret t1"), 0);
    char secret[128], url[512];
    snprintf(secret, sizeof(secret), "%s", out);
    secret[strcspn(secret, "\n")] = '\0';
    CHECK_INT((int)strlen(secret), 64);
    const char *ev2 = "{\"key\":\"q/one.bin\",\"size\":5}";
    snprintf(url, sizeof(url), "/v1/tasks/t1/events?token=%s", secret);
    CHECK_INT(http("POST", url, NULL, ev2, strlen(ev2)), 202);
    CHECK(strstr(body, "\"queued\":1") != NULL);
    CHECK_INT(http("POST", "/v1/tasks/t1/events?token=0123", NULL, ev2, strlen(ev2)), 401);
    snprintf(url, sizeof(url), "/v1/tasks/h0/events?token=%s", secret); /* another task's */
    CHECK_INT(http("POST", url, NULL, ev2, strlen(ev2)), 401);
    snprintf(url, sizeof(url), "/v1/tasks/t1?token=%s", secret); /* only on events */
    CHECK_INT(http("GET", url, AUTH, NULL, 0), 401);
    CHECK(strstr(body, "events only") != NULL);
    CHECK_INT(run("task secret t1"), 0); /* a new secret replaces the old one */
    snprintf(url, sizeof(url), "/v1/tasks/t1/events?token=%s", secret);
    CHECK_INT(http("POST", url, NULL, ev2, strlen(ev2)), 401);
    CHECK_INT(run("task secret nosuch"), 3);
    { /* the secret goes with the task */
        CHECK_INT(run("task add s1 --from oss://src-bucket/ --to s3://dst/"), 0);
        CHECK_INT(run("task secret s1"), 0);
        ferry_redis_t *r = NULL;
        redisReply *rep = NULL;
        REQUIRE(ferry_redis_connect(srv.url, NULL, &r, NULL) == FERRY_OK);
        REQUIRE(ferry_redis_cmd(r, &rep, "EXISTS ferry:{s1}:event_secret") == FERRY_OK);
        CHECK_INT(rep->integer, 1);
        freeReplyObject(rep);
        CHECK_INT(run("task rm s1"), 0);
        REQUIRE(ferry_redis_cmd(r, &rep, "EXISTS ferry:{s1}:event_secret") == FERRY_OK);
        CHECK_INT(rep->integer, 0);
        freeReplyObject(rep);
        ferry_redis_free(r);
    }
    /* the secret never reaches the log */
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "grep -c -e %s -e %s -e 'token=' %s", secret, TOKEN, api_log);
    CHECK(harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf)) == 1);

    printf("== 404, 405, 413, 400\n");
    CHECK_INT(post("/v1/tasks/nosuch/events", ev), 404);
    CHECK_INT(get("/v1/tasks/nosuch"), 404);
    CHECK_INT(get("/v1/nothing"), 404);
    CHECK_INT(get("/v1/tasks/t1/events"), 405);
    CHECK_INT(http("DELETE", "/v1/tasks/t1", AUTH, NULL, 0), 405);
    {
        size_t big = 1024 * 1024 + 1;
        char *b = malloc(big);
        REQUIRE(b != NULL);
        memset(b, ' ', big);
        int before = queued_t1();
        /* announced by Content-Length: answered before the body is sent (Expect: 100-continue
         * gets the 413 instead of the 100) */
        int fd = connect_api();
        REQUIRE(fd >= 0);
        char hb[512];
        snprintf(hb, sizeof(hb),
                 "POST /v1/tasks/t1/events HTTP/1.1\r\nHost: x\r\n" AUTH
                 "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
                 big);
        REQUIRE(send_all(fd, hb, strlen(hb)) == 0);
        CHECK_INT(read_response(fd), 413);
        CHECK(strstr(body, "larger than") != NULL);
        close(fd);
        /* chunked, no Content-Length: read, dropped, then 413 */
        fd = connect_api();
        REQUIRE(fd >= 0);
        const char *h = "POST /v1/tasks/t1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH
                        "Transfer-Encoding: chunked\r\n\r\n";
        REQUIRE(send_all(fd, h, strlen(h)) == 0);
        for (int i = 0; i < 20; i++) {
            char ch[32];
            snprintf(ch, sizeof(ch), "%x\r\n", 65536);
            send_all(fd, ch, strlen(ch));
            send_all(fd, b, 65536);
            send_all(fd, "\r\n", 2);
        }
        send_all(fd, "0\r\n\r\n", 5);
        CHECK_INT(read_response(fd), 413);
        close(fd);
        free(b);
        CHECK_INT(queued_t1(), before);
        const char *bad = "{\"key\":";
        CHECK_INT(post("/v1/tasks/t1/events", bad), 400);
        CHECK(strstr(body, "\"error\"") != NULL && strstr(body, "nothing was queued") != NULL);
        CHECK_INT(queued_t1(), before);
        /* a huge header */
        char *hh = malloc(40000);
        REQUIRE(hh != NULL);
        memset(hh, 'a', 39990);
        memcpy(hh, "X-Big: ", 7);
        memcpy(hh + 39990, "\r\n", 3);
        int st = http("GET", "/healthz", hh, NULL, 0);
        CHECK(st == 431 || st == 413 || st == -1);
        free(hh);
        CHECK_INT(http("GET", "/healthz", NULL, NULL, 0), 200);
    }

    printf("== every sample\n");
    samples();

    printf("== an SNS SubscriptionConfirmation: recorded and shown, nothing queued\n");
    {
        char path[1024];
        snprintf(path, sizeof(path), "%s/events/s3-sns-subscription-confirmation.json",
                 FERRY_TEST_DATA);
        FILE *f = fopen(path, "rb");
        REQUIRE(f != NULL);
        char conf[16384];
        size_t n = fread(conf, 1, sizeof(conf) - 1, f);
        fclose(f);
        conf[n] = '\0';
        CHECK_INT(run("task add sns1 --from s3://notif-src/ --to s3://dst/sns/"), 0);
        CHECK_INT(post("/v1/tasks/sns1/events", conf), 202);
        CHECK(strstr(body, "\"sns_confirmation\":{") != NULL &&
              strstr(body, "\"subscribe_url\":\"https://sns.") != NULL &&
              strstr(body, "\"queued\":0") != NULL);
    }

    printf("== read routes\n");
    CHECK_INT(get("/v1/tasks/t1"), 200);
    CHECK(strstr(body, "\"counters\"") && strstr(body, "\"streams\"") &&
          strstr(body, "\"event\":{\"length\":") && strstr(body, "\"pending\":") &&
          strstr(body, "\"last_scan\":null") && strstr(body, "\"backlog\"") &&
          strstr(body, "\"workers\":[]")); /* no worker runs: none seen */
    CHECK_INT(get("/v1/tasks/t1/objects/a%2Fb%20c.bin"), 200);
    CHECK(strstr(body, "\"key\":\"a/b c.bin\"") != NULL && strstr(body, "\"state\":\"queued\""));
    CHECK_INT(get("/v1/tasks/t1/objects/a/b%20c.bin"), 200);
    CHECK_INT(get("/v1/tasks/t1/objects/nosuch"), 404);
    CHECK_INT(get("/v1/tasks/t1/objects?state=queued&limit=1"), 200);
    CHECK(strstr(body, "\"objects\":[{") != NULL && strstr(body, "\"next_cursor\":\"") != NULL);
    CHECK_INT(get("/v1/tasks/t1/objects?state=queued&prefix=q/"), 200);
    CHECK(strstr(body, "q/one.bin") && strstr(body, "\"next_cursor\":null"));
    CHECK_INT(get("/v1/tasks/t1/objects?state=bogus"), 400);
    CHECK_INT(get("/v1/tasks/t1/objects?limit=0"), 400);
    CHECK_INT(get("/v1/tasks/t1/complete?prefix=a/"), 200);
    CHECK_STR(body, "{\"complete\":false,\"pending\":1,\"failed\":0}\n");
    {
        CHECK_INT(post("/v1/tasks/t1/events", "{\"key\":\"z/three.bin\",\"size\":1}"), 202);
        ferry_redis_t *r = NULL;
        ferry_ledger_t *l = NULL;
        REQUIRE(ferry_redis_connect(srv.url, NULL, &r, NULL) == FERRY_OK);
        REQUIRE(ferry_status_ledger(r, "t1", &l) == FERRY_OK);
        CHECK_INT(ferry_ledger_fail(l, "a/b c.bin", "[dst:403] AccessDenied on a/b c.bin"),
                  FERRY_OK);
        CHECK_INT(ferry_ledger_fail(l, "q/one.bin", "[dst:403] AccessDenied on q/one.bin"),
                  FERRY_OK);
        CHECK_INT(ferry_ledger_fail(l, "z/three.bin",
                                    "S3 said InternalError on GET s3://src/z/three.bin: the store "
                                    "kept failing after 4 attempts: try again later"),
                  FERRY_OK);
        ferry_ledger_free(l);
        ferry_redis_free(r);
    }
    CHECK_INT(get("/v1/tasks/t1/failures?samples=1"), 200);
    /* one group per code, whatever the texts (they name their keys) */
    CHECK(strstr(body, "{\"code\":\"dst:403\",\"count\":2,\"keys\":[\"a/b "
                       "c.bin\"],\"error\":\"AccessDenied on a/b c.bin\"}") != NULL);
    CHECK(strstr(body, "\"examined\":3") != NULL);
    CHECK(strstr(body, "{\"code\":\"src:5xx\",\"count\":1,\"keys\":[\"z/three.bin\"],") != NULL);
    { /* more failures than a page of the failed index (1,000): one answer groups them all,
       * and ?limit= pages through the rest with next_cursor */
        enum { N403 = 1500, N500 = 700 };
        CHECK_INT(run("task add tfail --from oss://src-bucket/ --to s3://dst/f/"), 0);
        ferry_redis_t *r = NULL;
        ferry_ledger_t *l = NULL;
        REQUIRE(ferry_redis_connect(srv.url, NULL, &r, NULL) == FERRY_OK);
        REQUIRE(ferry_status_ledger(r, "tfail", &l) == FERRY_OK);
        static char kb[N403 + N500][32];
        static char tb[N403 + N500][160];
        static ferry_item_t it[N403 + N500];
        for (int i = 0; i < N403 + N500; i++) {
            snprintf(kb[i], sizeof(kb[i]), "f/%05d", i);
            snprintf(tb[i], sizeof(tb[i]),
                     "S3 said AccessDenied on PUT s3://dst/f/%05d: the destination credentials "
                     "cannot write to this bucket",
                     i); /* written before codes existed: classified */
            it[i] = (ferry_item_t){.key = kb[i], .size = 1, .mtime = 1700000000};
        }
        CHECK_INT(ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, it, N403 + N500, NULL), FERRY_OK);
        for (int i = 0; i < N403 + N500; i++) /* interleaved: every page holds both errors */
            CHECK_INT(ferry_ledger_fail(l, kb[i],
                                        i % 3 == 2 && i < 3 * N500 ? "[src:5xx] Boom"
                                                                   : tb[i] /* a text per key */),
                      FERRY_OK);
        ferry_ledger_free(l);
        ferry_redis_free(r);
        CHECK_INT(get("/v1/tasks/tfail/failures?samples=2"), 200);
        CHECK(strstr(body, "{\"code\":\"dst:403\",\"count\":1500,") != NULL);
        CHECK(strstr(body, "{\"code\":\"src:5xx\",\"count\":700,") != NULL);
        CHECK(strstr(body, "\"examined\":2200") && strstr(body, "\"complete\":true") &&
              strstr(body, "\"next_cursor\":null"));
        /* 1,200 at a time: the second answer goes on where the first stopped */
        CHECK_INT(get("/v1/tasks/tfail/failures?limit=1200"), 200);
        CHECK(strstr(body, "\"examined\":1200") && strstr(body, "\"complete\":false") &&
              strstr(body, "\"next_cursor\":\"") != NULL);
        long long c403 = 0, c500 = 0, c403b = 0, c500b = 0;
        const char *p = strstr(body, "\"dst:403\",\"count\":");
        if (p)
            c403 = atoll(p + strlen("\"dst:403\",\"count\":"));
        p = strstr(body, "\"src:5xx\",\"count\":");
        if (p)
            c500 = atoll(p + strlen("\"src:5xx\",\"count\":"));
        char path[256], cur[64] = "";
        p = strstr(body, "\"next_cursor\":\"");
        if (p)
            sscanf(p + strlen("\"next_cursor\":\""), "%63[^\"]", cur);
        snprintf(path, sizeof(path), "/v1/tasks/tfail/failures?limit=1200&cursor=%s", cur);
        CHECK_INT(get(path), 200);
        CHECK(strstr(body, "\"examined\":1000") && strstr(body, "\"complete\":true"));
        p = strstr(body, "\"dst:403\",\"count\":");
        if (p)
            c403b = atoll(p + strlen("\"dst:403\",\"count\":"));
        p = strstr(body, "\"src:5xx\",\"count\":");
        if (p)
            c500b = atoll(p + strlen("\"src:5xx\",\"count\":"));
        CHECK_INT(c403 + c403b, N403);
        CHECK_INT(c500 + c500b, N500);
        CHECK_INT(get("/v1/tasks/tfail/failures?limit=0"), 400);
        CHECK_INT(get("/v1/tasks/tfail/failures?limit=1000001"), 400);
        CHECK_INT(run("task rm tfail"), 0);
    }
    CHECK_INT(get("/v1/tasks/t1/objects/z%2Fthree.bin"), 200); /* the record shows the code */
    CHECK(strstr(body, "\"error\":\"S3 said InternalError on GET") != NULL &&
          strstr(body, "\"error_code\":\"src:5xx\"") != NULL);
    CHECK_INT(get("/v1/tasks/t1/objects/a%2Fb%20c.bin"), 200);
    CHECK(strstr(body, "\"error\":\"AccessDenied on a/b c.bin\"") != NULL &&
          strstr(body, "\"error_code\":\"dst:403\"") != NULL);
    CHECK_INT(get("/v1/tasks/t1/complete"), 200);
    CHECK(strstr(body, "\"failed\":3") != NULL);
    CHECK_INT(http("POST", "/v1/tasks/t1/retry", NULL, "", 0), 401);
    CHECK_INT(post("/v1/tasks/t1/retry", "{\"keys\":[\"q/one.bin\",\"zzz\"]}"), 200);
    CHECK_STR(body, "{\"requeued\":1,\"unknown\":1}\n");
    CHECK_INT(post("/v1/tasks/t1/retry", "[1]"), 400);
    CHECK_INT(post("/v1/tasks/t1/retry", "{\"error\":5}"), 400);
    CHECK_INT(post("/v1/tasks/t1/retry", "{\"error\":\"dst 403\"}"), 400); /* not a code */
    CHECK_INT(post("/v1/tasks/t1/retry", "{\"error\":\"src:404\"}"), 200); /* not this one */
    CHECK_STR(body, "{\"requeued\":0,\"unknown\":0}\n");
    CHECK_INT(post("/v1/tasks/t1/retry", "{\"error\":\"dst:403\"}"), 200);
    CHECK_STR(body, "{\"requeued\":1,\"unknown\":0}\n");
    CHECK_INT(post("/v1/tasks/t1/retry", ""), 200); /* every failed one: the src:500 */
    CHECK_STR(body, "{\"requeued\":1,\"unknown\":0}\n");
    CHECK_INT(get("/v1/tasks/t1/failures"), 200);
    CHECK(strstr(body, "\"groups\":[]") != NULL);
    CHECK_INT(get("/metrics"), 200);
    CHECK(strstr(body, "ferry_build_info") != NULL);
    CHECK_INT(http("GET", "/metrics", NULL, NULL, 0), 401);
    { /* rendered at most once a second: a new task shows after the page's second, not in it */
        usleep(1100 * 1000);
        CHECK_INT(get("/metrics"), 200);
        CHECK(strstr(body, "task=\"mcache\"") == NULL);
        CHECK_INT(run("task add mcache --from oss://src/m/ --to s3://dst/m/"), 0);
        CHECK_INT(get("/metrics"), 200);
        CHECK(strstr(body, "task=\"mcache\"") == NULL); /* the cached page */
        usleep(1100 * 1000);
        CHECK_INT(get("/metrics"), 200);
        CHECK(strstr(body, "task=\"mcache\"") != NULL);
    }

    printf("== slow-loris and garbage do not stall intake\n");
    {
        int slow[64];
        for (int i = 0; i < 64; i++) {
            slow[i] = connect_api();
            REQUIRE(slow[i] >= 0);
            const char *p = i % 2 ? "POST /v1/tasks/t1/events HTTP/1.1\r\nHost: x\r\nContent-Le"
                                  : "\x16\x03\x01\x02garbage\r\n\r\n\x00\xff";
            send_all(slow[i], p, strlen(p));
        }
        long long t0 = ferry_mono_ms();
        const char *e3 = "{\"key\":\"slow/while.bin\",\"size\":1}";
        CHECK_INT(post("/v1/tasks/t1/events", e3), 202);
        long long dt = ferry_mono_ms() - t0;
        printf("  event POST with 64 stalled connections open: %lld ms\n", dt);
        CHECK(dt < 2000);
        for (int i = 0; i < 64; i++)
            close(slow[i]);
    }

    printf("== 1,000 concurrent connections\n");
    {
        enum { N = 1000 };
        static int fds[N];
        int opened = 0;
        for (int i = 0; i < N; i++) {
            fds[i] = connect_api();
            opened += fds[i] >= 0;
            if (fds[i] >= 0 && i % 3 == 0) {
                const char *g = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
                send_all(fds[i], g, strlen(g));
            } else if (fds[i] >= 0 && i % 3 == 1)
                send_all(fds[i], "GET /v1/tas", 11);
        }
        CHECK_INT(opened, N);
        int answered = 0;
        for (int i = 0; i < N; i += 3) {
            char b[512];
            struct pollfd p = {fds[i], POLLIN, 0};
            if (fds[i] >= 0 && poll(&p, 1, 10000) == 1 && recv(fds[i], b, sizeof(b), 0) > 12 &&
                strncmp(b, "HTTP/1.1 200", 12) == 0)
                answered++;
        }
        printf("  %d of %d healthz answered on the open connections\n", answered, (N + 2) / 3);
        CHECK_INT(answered, (N + 2) / 3);
        const char *e4 = "{\"key\":\"many/after.bin\",\"size\":1}";
        CHECK_INT(post("/v1/tasks/t1/events", e4), 202);
        for (int i = 0; i < N; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        CHECK_INT(post("/v1/tasks/t1/events", e4), 202);
        CHECK(kill(api_pid, 0) == 0);
    }

    printf("== readyz follows Redis\n");
    REQUIRE(harness_stop(&srv, SIGTERM) == 0);
    CHECK_INT(http("GET", "/readyz", NULL, NULL, 0), 503);
    CHECK(strstr(body, "\"unready\"") != NULL);
    CHECK_INT(http("GET", "/healthz", NULL, NULL, 0), 200);
    CHECK_INT(post("/v1/tasks/t1/events", ev), 503);
    REQUIRE(harness_restart(&srv) == 0);
    int ready = 0;
    for (int i = 0; i < 50 && !ready; i++) {
        ready = http("GET", "/readyz", NULL, NULL, 0) == 200;
        if (!ready)
            usleep(100000);
    }
    CHECK(ready);

    printf("== SIGTERM: a request in flight is answered, then exit 0\n");
    {
        int fd = connect_api();
        REQUIRE(fd >= 0);
        const char *e5 = "{\"key\":\"term/in-flight.bin\",\"size\":1}";
        char h[512];
        snprintf(h, sizeof(h),
                 "POST /v1/tasks/t1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH
                 "Content-Length: %zu\r\n\r\n",
                 strlen(e5));
        REQUIRE(send_all(fd, h, strlen(h)) == 0);
        REQUIRE(send_all(fd, e5, 10) == 0); /* part of the body: the request is in flight */
        usleep(200000);
        kill(api_pid, SIGTERM);
        int refused = 0; /* no longer accepting (within a moment) */
        for (int i = 0; i < 30 && !refused; i++) {
            int k = connect_api();
            refused = k < 0;
            if (k >= 0) {
                close(k);
                usleep(100000);
            }
        }
        CHECK(refused);
        usleep(1500000); /* past the scheduler's tick: it is draining now */
        REQUIRE(send_all(fd, e5 + 10, strlen(e5) - 10) == 0);
        CHECK_INT(read_response(fd), 202);
        CHECK(strstr(body, "\"queued\":1") != NULL);
        close(fd);
        int st = 0;
        waitpid(api_pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }

    printf("== --public-read\n");
    {
        const char *pr[] = {"--public-read", NULL};
        start_api(pr, 0);
    }
    CHECK_INT(http("GET", "/v1/tasks/t1", NULL, NULL, 0), 200);
    CHECK_INT(http("POST", "/v1/tasks/t1/events", NULL, ev, strlen(ev)), 401);
    CHECK_INT(http("POST", "/v1/tasks/t1/retry", NULL, "", 0), 401);
    stop_api();

    printf("== TLS\n");
    {
        char crt[700], key[700];
        snprintf(crt, sizeof(crt), "%s/tls.crt", harness_tmpdir());
        snprintf(key, sizeof(key), "%s/tls.key", harness_tmpdir());
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
                 "-subj /CN=127.0.0.1",
                 key, crt);
        REQUIRE(harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf)) == 0);
        const char *tl[] = {"--tls-cert", crt, "--tls-key", key, NULL};
        start_api(tl, 1);
        snprintf(cmd, sizeof(cmd),
                 "curl -sk -H 'Authorization: Bearer " TOKEN "' --data-binary "
                 "'{\"key\":\"tls/x.bin\",\"size\":1}' https://127.0.0.1:%d/v1/tasks/t1/events",
                 api_port);
        CHECK_INT(harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf)), 0);
        CHECK(strstr(out, "\"queued\":1") != NULL);
        CHECK_INT(http("GET", "/healthz", NULL, NULL, 0), -1); /* plain HTTP: no answer */
        stop_api();
        /* a key that is not a key: a clear refusal, not a crash */
        snprintf(cmd, sizeof(cmd), "127.0.0.1:%d", harness_free_port());
        CHECK_INT(
            run("scheduler --task nosuch --listen %s --tls-cert %s --tls-key %s", cmd, crt, crt),
            1);
        CHECK(strstr(errbuf, "TLS") != NULL);
    }

    printf("== option errors\n");
    CHECK_INT(run("scheduler --listen nonsense"), 2);
    CHECK(strstr(errbuf, "HOST:PORT") != NULL);
    CHECK_INT(run("scheduler --listen 127.0.0.1:0 --tls-cert /nonexistent"), 2);
    CHECK(strstr(errbuf, "--tls-key") != NULL);
    /* no sanitizer report from any server run (UBSan reports and goes on) */
    char cmd2[1000];
    snprintf(cmd2, sizeof(cmd2), "cat %s/api*.log | grep -c -E 'runtime error|Sanitizer'",
             harness_tmpdir());
    CHECK(harness_run(cmd2, out, sizeof(out), errbuf, sizeof(errbuf)) == 1);
    return test_summary();
}
