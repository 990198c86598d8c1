/* Tests for lib/core/k8s.c (pod-deletion-cost) against a tiny fake Kubernetes API server in
 * this file: one thread on a loopback port that records every request (method, path,
 * Authorization, Content-Type, body) and answers with the status the test sets. */
#include "ferry/k8s.h"
#include "test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 64

typedef struct {
    char method[16], path[256], auth[256], ctype[128], body[512];
} req_t;

typedef struct {
    int fd, port;
    volatile int stop;
    int status;   /* what to answer */
    int delay_ms; /* before answering (a hanging API server) */
    pthread_mutex_t mu;
    req_t req[REQ_MAX];
    int nreq;
    pthread_t th;
} fake_t;

static void header(const char *head, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    size_t ln = strlen(name);
    for (const char *p = head; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, name, ln) == 0 && p[ln] == ':') {
            p += ln + 1;
            while (*p == ' ')
                p++;
            size_t i = 0;
            while (p[i] && p[i] != '\r' && i + 1 < n) {
                out[i] = p[i];
                i++;
            }
            out[i] = '\0';
            return;
        }
    }
}

static void serve_one(fake_t *f, int c)
{
    char buf[8192];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof(buf) - 1 && (end = strstr(buf, "\r\n\r\n")) == NULL) {
        ssize_t r = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = '\0';
    }
    if (end == NULL)
        return;
    char cl[32];
    *end = '\0';
    header(buf, "Content-Length", cl, sizeof(cl));
    size_t want = (size_t)atoi(cl), have = len - (size_t)(end + 4 - buf);
    while (have < want && len < sizeof(buf) - 1) {
        ssize_t r = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        have += (size_t)r;
    }
    buf[len] = '\0';
    req_t q;
    memset(&q, 0, sizeof(q));
    sscanf(buf, "%15s %255s", q.method, q.path);
    header(buf, "Authorization", q.auth, sizeof(q.auth));
    header(buf, "Content-Type", q.ctype, sizeof(q.ctype));
    snprintf(q.body, sizeof(q.body), "%.*s", (int)(have < want ? have : want), end + 4);
    pthread_mutex_lock(&f->mu);
    if (f->nreq < REQ_MAX)
        f->req[f->nreq++] = q;
    int status = f->status, delay = f->delay_ms;
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < delay / 10 && !f->stop; i++)
        usleep(10000);
    const char *body = status == 200 ? "{\"kind\":\"Pod\"}"
                                     : "{\"kind\":\"Status\",\"message\":\"pods \\\"pod-a\\\" is "
                                       "forbidden: cannot patch\"}";
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n%s",
                     status, strlen(body), body);
    (void)!send(c, out, (size_t)n, MSG_NOSIGNAL);
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    while (!f->stop) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(f, c);
        close(c);
    }
    return NULL;
}

static void fake_start(fake_t *f)
{
    memset(f, 0, sizeof(*f));
    f->status = 200;
    pthread_mutex_init(&f->mu, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(f->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(bind(f->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t al = sizeof(a);
    REQUIRE(getsockname(f->fd, (struct sockaddr *)&a, &al) == 0);
    f->port = ntohs(a.sin_port);
    REQUIRE(listen(f->fd, 16) == 0);
    REQUIRE(pthread_create(&f->th, NULL, fake_main, f) == 0);
}

static void fake_stop(fake_t *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->fd);
    pthread_mutex_destroy(&f->mu);
}

static void fake_set(fake_t *f, int status, int delay_ms)
{
    pthread_mutex_lock(&f->mu);
    f->status = status;
    f->delay_ms = delay_ms;
    pthread_mutex_unlock(&f->mu);
}

static int fake_count(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Wait (up to 20 s: the machine may be loaded) until the fake has seen n requests. */
static int wait_requests(fake_t *f, int n)
{
    for (int i = 0; i < 2000; i++) {
        if (fake_count(f) >= n)
            return 1;
        usleep(10000);
    }
    return 0;
}

static req_t fake_req(fake_t *f, int i)
{
    pthread_mutex_lock(&f->mu);
    req_t q = f->req[i];
    pthread_mutex_unlock(&f->mu);
    return q;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    REQUIRE(fp != NULL);
    fputs(text, fp);
    fclose(fp);
}

static const char *cost_body(int cost, char *buf, size_t n)
{
    snprintf(
        buf, n,
        "{\"metadata\":{\"annotations\":{\"controller.kubernetes.io/pod-deletion-cost\":\"%d\"}}}",
        cost);
    return buf;
}

static char tmpdir[256];

/* idle first, busy at once, idle only after idle_after, nothing for an unchanged state, the
 * token re-read, exactly the request the API expects */
static void test_transitions(void)
{
    fake_t f;
    fake_start(&f);
    char url[64], tok[300], b[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f.port);
    snprintf(tok, sizeof(tok), "%s/token", tmpdir);
    write_file(tok, "tok-1\n");
    ferry_k8s_opts_t o = {.api_url = url,
                          .token_file = tok,
                          .pod_namespace = "ns1",
                          .pod = "pod-a",
                          .min_interval_ms = 20,
                          .idle_after_ms = 200,
                          .idle_cost = -5,
                          .busy_cost = 700};
    ferry_k8s_cost_t *k = NULL;
    ferry_error_t err;
    REQUIRE(ferry_k8s_cost_start(&o, &k, &err) == FERRY_OK);

    REQUIRE(wait_requests(&f, 1)); /* the idle cost at start */
    req_t q = fake_req(&f, 0);
    CHECK_STR(q.method, "PATCH");
    CHECK_STR(q.path, "/api/v1/namespaces/ns1/pods/pod-a");
    CHECK_STR(q.auth, "Bearer tok-1");
    CHECK_STR(q.ctype, "application/merge-patch+json");
    CHECK_STR(q.body, cost_body(-5, b, sizeof(b)));

    ferry_k8s_cost_note(k, 3); /* busy */
    REQUIRE(wait_requests(&f, 2));
    CHECK_STR(fake_req(&f, 1).body, cost_body(700, b, sizeof(b)));

    for (int i = 0; i < 5; i++) /* still busy, more jobs: nothing to send */
        ferry_k8s_cost_note(k, 5 + (unsigned)i);
    write_file(tok, "tok-2\n"); /* the kubelet rotated the token */
    ferry_k8s_cost_note(k, 0);  /* idle: shown after idle_after (200 ms) */
    REQUIRE(wait_requests(&f, 3));
    q = fake_req(&f, 2);
    CHECK_STR(q.body, cost_body(-5, b, sizeof(b)));
    CHECK_STR(q.auth, "Bearer tok-2");
    for (int i = 0; i < 5; i++)
        ferry_k8s_cost_note(k, 0);
    usleep(400 * 1000); /* long past idle_after and min_interval: no further request */
    CHECK_INT(fake_count(&f), 3);

    unsigned patches = 0, failures = 0;
    int last = 0;
    ferry_k8s_cost_stats(k, &patches, &failures, &last, NULL);
    CHECK_INT(patches, 3);
    CHECK_INT(failures, 0);
    CHECK_INT(last, -5);
    ferry_k8s_cost_stop(k);
    fake_stop(&f);
}

/* A 403 (no RBAC) is counted and explained, the worker is not affected, and the PATCH is
 * retried after a back-off until it succeeds. */
static void test_denied_then_granted(void)
{
    fake_t f;
    fake_start(&f);
    fake_set(&f, 403, 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
    ferry_k8s_opts_t o = {
        .api_url = url, .pod_namespace = "ns1", .pod = "pod-a", .min_interval_ms = 20};
    ferry_k8s_cost_t *k = NULL;
    REQUIRE(ferry_k8s_cost_start(&o, &k, NULL) == FERRY_OK);
    REQUIRE(wait_requests(&f, 1));
    CHECK_STR(fake_req(&f, 0).auth, ""); /* no token file: no Authorization header */
    unsigned failures = 0, patches = 0;
    ferry_error_t e;
    ferry_error_clear(&e);
    for (int i = 0; i < 2000 && failures == 0; i++) {
        ferry_k8s_cost_stats(k, NULL, &failures, NULL, &e);
        usleep(10000);
    }
    CHECK(failures >= 1);
    CHECK_INT(e.code, FERRY_EDENIED);
    CHECK_INT(e.http_status, 403);
    CHECK(strstr(e.msg, "patch pods") != NULL);
    CHECK(strstr(e.msg, "rbac.yaml") != NULL);
    CHECK(strstr(e.msg, "forbidden") != NULL); /* the API's own message */
    fake_set(&f, 200, 0);
    int last = 0;
    for (int i = 0; i < 2000 && patches == 0; i++) {
        ferry_k8s_cost_stats(k, &patches, NULL, &last, NULL);
        usleep(10000);
    }
    CHECK_INT(patches, 1);
    CHECK_INT(last, 0); /* default idle cost */
    ferry_k8s_cost_stop(k);
    fake_stop(&f);
}

/* stop does not wait for a hanging API server */
static void test_stop_aborts(void)
{
    fake_t f;
    fake_start(&f);
    fake_set(&f, 200, 10000);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
    ferry_k8s_opts_t o = {.api_url = url, .pod_namespace = "ns1", .pod = "pod-a"};
    ferry_k8s_cost_t *k = NULL;
    REQUIRE(ferry_k8s_cost_start(&o, &k, NULL) == FERRY_OK);
    REQUIRE(wait_requests(&f, 1));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ferry_k8s_cost_stop(k);
    clock_gettime(CLOCK_MONOTONIC, &b);
    /* generous: the request alone would take 10 s, curl's timeout 15 s */
    CHECK(b.tv_sec - a.tv_sec < 8);
    fake_stop(&f);
}

static void test_bad_options(void)
{
    ferry_k8s_cost_t *k = NULL;
    ferry_error_t e;
    ferry_k8s_opts_t o = {.api_url = "http://127.0.0.1:1", .pod_namespace = "ns1", .pod = "Pod_A"};
    CHECK_INT(ferry_k8s_cost_start(&o, &k, &e), FERRY_EINVAL);
    CHECK(strstr(e.msg, "FERRY_POD_NAME") != NULL);
    o.pod = "pod-a/../../x";
    CHECK_INT(ferry_k8s_cost_start(&o, &k, &e), FERRY_EINVAL);
    o.pod = "pod-a";
    o.api_url = "ftp://x";
    CHECK_INT(ferry_k8s_cost_start(&o, &k, &e), FERRY_EINVAL);
    CHECK(k == NULL);
    ferry_k8s_cost_note(NULL, 1); /* no-op */
    ferry_k8s_cost_stop(NULL);
}

/* The worker's entry point: off without FERRY_POD_NAME; from the environment with it. */
static void test_from_env(void)
{
    ferry_k8s_opts_t o;
    char buf[2048];
    ferry_error_t e;
    unsetenv("FERRY_POD_NAME");
    CHECK_INT(ferry_k8s_opts_from_env(&o, buf, sizeof(buf), &e), FERRY_ENOTFOUND);
    ferry_k8s_worker_load(3); /* not in Kubernetes: nothing happens */
    ferry_k8s_worker_stop();

    setenv("FERRY_POD_NAME", "pod-b", 1);
    setenv("FERRY_K8S_SA_DIR", tmpdir, 1);
    unsetenv("FERRY_POD_NAMESPACE");
    unsetenv("FERRY_K8S_API");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    char p[300];
    snprintf(p, sizeof(p), "%s/namespace", tmpdir);
    write_file(p, "team-x\n");
    snprintf(p, sizeof(p), "%s/ca.crt", tmpdir);
    write_file(p, "not read here\n");
    CHECK_INT(ferry_k8s_opts_from_env(&o, buf, sizeof(buf), &e), FERRY_OK);
    CHECK_STR(o.api_url, "https://[fd00::1]:6443");
    CHECK_STR(o.pod, "pod-b");
    CHECK_STR(o.pod_namespace, "team-x");
    CHECK_STR(o.ca_file, p);
    CHECK(o.token_file && strstr(o.token_file, "/token") != NULL);
    setenv("FERRY_POD_DELETION_COST", "off", 1);
    CHECK_INT(ferry_k8s_opts_from_env(&o, buf, sizeof(buf), &e), FERRY_ENOTFOUND);
    unsetenv("FERRY_POD_DELETION_COST");
    unsetenv("KUBERNETES_SERVICE_HOST");
    CHECK_INT(ferry_k8s_opts_from_env(&o, buf, sizeof(buf), &e), FERRY_EINVAL);
    CHECK(strstr(e.msg, "FERRY_K8S_API") != NULL);

    /* the process-wide handle, as the worker uses it */
    fake_t f;
    fake_start(&f);
    char url[64], tok[300], b[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
    setenv("FERRY_K8S_API", url, 1);
    setenv("FERRY_POD_NAMESPACE", "ns2", 1);
    snprintf(tok, sizeof(tok), "%s/token", tmpdir);
    write_file(tok, "tok-env");
    ferry_k8s_worker_load(2);
    REQUIRE(wait_requests(&f, 1));
    req_t q = fake_req(&f, 0);
    CHECK_STR(q.path, "/api/v1/namespaces/ns2/pods/pod-b");
    CHECK_STR(q.auth, "Bearer tok-env");
    /* the first PATCH may be the idle cost if it left before load(2) arrived; busy follows */
    if (strcmp(q.body, cost_body(1000, b, sizeof(b))) != 0) {
        CHECK_STR(q.body, cost_body(0, b, sizeof(b)));
        REQUIRE(wait_requests(&f, 2));
        CHECK_STR(fake_req(&f, 1).body, cost_body(1000, b, sizeof(b)));
    }
    ferry_k8s_worker_stop();
    fake_stop(&f);
}

static void test_status_message(void)
{
    char out[64];
    const char *b =
        "{\"kind\":\"Status\",\"message\":\"pods \\\"p\\\" is forbidden\",\"code\":403}";
    ferry_k8s_status_message(b, strlen(b), out, sizeof(out));
    CHECK_STR(out, "pods \"p\" is forbidden");
    ferry_k8s_status_message(b, 31, out, sizeof(out)); /* cut inside the message */
    CHECK_STR(out, "pod");
    ferry_k8s_status_message("{\"kind\":\"Pod\"}", 14, out, sizeof(out));
    CHECK_STR(out, "");
    const char *u = "{\"message\":\"a\\u00e9b\\n\tc\"}";
    ferry_k8s_status_message(u, strlen(u), out, sizeof(out));
    CHECK_STR(out, "a?bn c");
    ferry_k8s_status_message(b, strlen(b), out, 5);
    CHECK_STR(out, "pods");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-test-k8s.XXXXXX");
    REQUIRE(mkdtemp(tmpdir) != NULL);
    test_status_message();
    test_bad_options();
    test_transitions();
    test_denied_then_granted();
    test_stop_aborts();
    test_from_env();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    (void)!system(cmd);
    curl_global_cleanup();
    return test_summary();
}
