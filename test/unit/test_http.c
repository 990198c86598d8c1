/* test_http — the transport (lib/s3/http.c) against a tiny libmicrohttpd server in a thread:
 * streaming GET and PUT, many in flight, keep-alive reuse, pause/unpause on both sides (a GET
 * piped into a PUT through a bounded ring), error bodies captured and capped, cancellation,
 * timeouts, refused connections, close with requests in flight, the callback contract, and a
 * peer that closes an idle keep-alive connection (a raw socket server). */
#include "test.h"

#include "ferry/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the server -------------------------------------------------------------------------- */

static unsigned char pattern_byte(uint64_t i)
{
    return (unsigned char)((i * 7 + 3) & 255);
}

static uint64_t fnv_update(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}
#define FNV_INIT 14695981039346656037ull

static uint64_t pattern_sum(uint64_t n)
{
    uint64_t h = FNV_INIT;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = pattern_byte(i);
        h = fnv_update(h, &c, 1);
    }
    return h;
}

static int srv_conns; /* connections accepted */
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;

/* The gate: a GET with "?gate=N" is held in the server until N gated requests are in it at once,
 * so the client must have them all in flight on N connections. Without it, curl runs each newly
 * added transfer as far as it can go at once, and a fast local server often answers before curl
 * starts the next one, which then reuses the connection just freed: how many connections N
 * "simultaneous" requests use is a race. The deadline only keeps a broken client from hanging
 * the test; gate_timed_out makes that a failure. Guarded by srv_mu. */
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_arrived;
static int gate_timed_out;

static void gate_pass(int want)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&srv_mu);
    gate_arrived++;
    pthread_cond_broadcast(&gate_cv);
    while (gate_arrived < want && !gate_timed_out)
        if (pthread_cond_timedwait(&gate_cv, &srv_mu, &deadline) == ETIMEDOUT) {
            gate_timed_out = 1;
            pthread_cond_broadcast(&gate_cv);
        }
    pthread_mutex_unlock(&srv_mu);
}

static void gate_reset(void)
{
    pthread_mutex_lock(&srv_mu);
    gate_arrived = 0;
    gate_timed_out = 0;
    pthread_mutex_unlock(&srv_mu);
}

typedef struct {
    uint64_t len;
    uint64_t sum;
} put_state_t;

static ssize_t data_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    uint64_t total = (uint64_t)(uintptr_t)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = (size_t)(total - pos < max ? total - pos : max);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)pattern_byte(pos + i);
    return (ssize_t)n;
}

static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 200)
        return MHD_CONTENT_READER_END_OF_STREAM;
    usleep(50 * 1000);
    buf[0] = 'x';
    return 1;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void on_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
    (void)cls, (void)c, (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&srv_mu);
        srv_conns++;
        pthread_mutex_unlock(&srv_mu);
    }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version;
    struct MHD_Response *resp = NULL;
    unsigned status = 200;
    enum MHD_Result ret;

    if (!strcmp(method, "PUT") || !strcmp(method, "POST")) {
        put_state_t *st = *con_cls;
        if (!st) {
            *con_cls = st = calloc(1, sizeof(*st));
            st->sum = FNV_INIT;
            return MHD_YES;
        }
        if (*upload_size) {
            st->sum = fnv_update(st->sum, upload, *upload_size);
            st->len += *upload_size;
            *upload_size = 0;
            return MHD_YES;
        }
        char body[128];
        snprintf(body, sizeof(body), "len=%llu sum=%016llx", (unsigned long long)st->len,
                 (unsigned long long)st->sum);
        resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-test");
        MHD_add_response_header(resp, "x-echo-test", ct ? ct : "");
        ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        MHD_add_response_header(resp, "x-echo-ctype", ct ? ct : "-");
        char seen[160]; /* the request's x-empty and x-two headers, "-" when absent */
        const char *e = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-empty"),
                   *two = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-two");
        snprintf(seen, sizeof(seen), "[%s][%s]", e ? e : "-", two ? two : "-");
        MHD_add_response_header(resp, "x-echo-seen", seen);
        ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (!*con_cls) {
        *con_cls = calloc(1, 1);
        return MHD_YES;
    }
    const char *gate = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "gate");
    if (gate)
        gate_pass(atoi(gate)); /* a thread per connection: blocking here holds only this one */
    if (!strncmp(url, "/data/", 6)) {
        uint64_t n = strtoull(url + 6, NULL, 10);
        resp = MHD_create_response_from_callback(n, 64 * 1024, data_reader, (void *)(uintptr_t)n,
                                                 NULL);
        MHD_add_response_header(resp, "ETag", "\"0123abcd\"");
        MHD_add_response_header(resp, "x-amz-request-id", "RID1");
        MHD_add_response_header(resp, "X-Amz-Meta-Color", "  blue  ");
    } else if (!strcmp(url, "/slow")) {
        resp = MHD_create_response_from_callback(200, 1, slow_reader, NULL, NULL);
    } else if (!strcmp(url, "/err")) {
        const char *b = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
        resp = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "x-oss-request-id", "OSSRID");
        status = 404;
    } else if (!strcmp(url, "/bigerr")) {
        resp = MHD_create_response_from_callback(200 * 1024, 64 * 1024, data_reader,
                                                 (void *)(uintptr_t)(200 * 1024), NULL);
        status = 500;
    } else if (!strcmp(url, "/head")) {
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "x-oss-hash-crc64ecma", "11051210869376104954");
    } else {
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        status = 404;
    }
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static struct MHD_Daemon *srv;
static int srv_port;
static char base[64];

static void server_start(void)
{
    srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                           MHD_OPTION_NOTIFY_CONNECTION, on_conn, NULL,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    REQUIRE(srv != NULL);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    srv_port = info->port;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv_port);
}

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
    int calls;
    int rc;
    long status;
    char etag[64];
    char rid[64];
    char meta[64];
    char ctype[64]; /* /echo: the Content-Type the server received ("-" when none) */
    char test[64];  /* /echo: its x-test header */
    char seen[160]; /* /echo: "[x-empty][x-two]" as received ("-" when absent) */
    char body[512];
    size_t body_len;
    int truncated;
    int reused;
    uint64_t got;
    uint64_t sum;
    int pause_every; /* sink: pause on every Nth call */
    int sink_calls;
    ferry_http_req_t *req;
    uv_timer_t t;
    int headers_seen;
    char errmsg[320];
} ctx_t;

static char *url(const char *path)
{
    static char u[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(u[i], sizeof(u[i]), "%s%s", base, path);
    return u[i];
}

static void done_cb(void *arg, int rc, const ferry_error_t *err, const ferry_http_resp_t *r)
{
    ctx_t *c = arg;
    c->calls++;
    c->rc = rc;
    c->status = r->status;
    const char *v;
    if ((v = ferry_http_resp_header(r, "etag")))
        snprintf(c->etag, sizeof(c->etag), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-amz-request-id")))
        snprintf(c->rid, sizeof(c->rid), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-oss-request-id")))
        snprintf(c->rid, sizeof(c->rid), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-amz-meta-color")))
        snprintf(c->meta, sizeof(c->meta), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-echo-ctype")))
        snprintf(c->ctype, sizeof(c->ctype), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-echo-test")))
        snprintf(c->test, sizeof(c->test), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-echo-seen")))
        snprintf(c->seen, sizeof(c->seen), "%s", v);
    if ((v = ferry_http_resp_header(r, "x-oss-hash-crc64ecma")))
        snprintf(c->meta, sizeof(c->meta), "%s", v);
    snprintf(c->body, sizeof(c->body), "%s", r->body);
    c->body_len = r->body_len;
    c->truncated = r->body_truncated;
    c->reused = r->reused;
    if (rc)
        snprintf(c->errmsg, sizeof(c->errmsg), "%s", err->msg);
    c->req = NULL;
}

static void resume_cb(uv_timer_t *t)
{
    ctx_t *c = t->data;
    if (c->req)
        ferry_http_unpause(c->req);
}

static int sink_cb(void *arg, const char *p, size_t n)
{
    ctx_t *c = arg;
    c->sink_calls++;
    if (c->pause_every && c->sink_calls % c->pause_every == 0) {
        uv_timer_start(&c->t, resume_cb, 1, 0);
        return FERRY_HTTP_PAUSE;
    }
    c->sum = fnv_update(c->sum, p, n);
    c->got += n;
    return FERRY_OK;
}

static int headers_cb(void *arg, const ferry_http_resp_t *r)
{
    ctx_t *c = arg;
    c->headers_seen++;
    CHECK(r->status == 200);
    CHECK(ferry_http_resp_header(r, "etag") != NULL);
    return FERRY_OK;
}

static void ctx_init(uv_loop_t *loop, ctx_t *c)
{
    memset(c, 0, sizeof(*c));
    c->sum = FNV_INIT;
    uv_timer_init(loop, &c->t);
    c->t.data = c;
}

static void ctx_close(ctx_t *c)
{
    uv_close((uv_handle_t *)&c->t, NULL);
}

static int closed_flag;
static void closed_cb(void *arg)
{
    (void)arg;
    closed_flag++;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_get_stream(uv_loop_t *loop, ferry_http_t *h)
{
    ctx_t c;
    ctx_init(loop, &c);
    c.pause_every = 3;
    ferry_http_reqopts_t o = {.method = "GET",
                              .url = url("/data/3000000"),
                              .sink = sink_cb,
                              .on_headers = headers_cb,
                              .done = done_cb,
                              .arg = &c};
    REQUIRE(ferry_http_submit(h, &o, &c.req) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(c.calls, 1);
    CHECK_INT(c.rc, FERRY_OK);
    CHECK_INT(c.status, 200);
    CHECK_INT(c.got, 3000000);
    CHECK(c.sum == pattern_sum(3000000));
    CHECK_STR(c.etag, "\"0123abcd\"");
    CHECK_STR(c.rid, "RID1");
    CHECK_STR(c.meta, "blue");
    CHECK_INT(c.headers_seen, 1);
    CHECK(c.sink_calls > 3); /* it did pause and resume */
    ctx_close(&c);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* FERRY_HTTP_PAUSE_AFTER: the chunk is taken, and until the unpause the sink gets at most
 * FERRY_HTTP_RECV_MAX more bytes (what curl had read already) — the room worker/copy_unit.c
 * keeps in its ring so that it never refuses a chunk. */
typedef struct {
    ctx_t c;
    uint64_t since;            /* accepted since the last pause ended */
    uint64_t after, after_max; /* accepted while paused (the current pause, the most) */
    int paused, pauses;
} pa_ctx_t;

static void pa_resume(uv_timer_t *t)
{
    pa_ctx_t *a = t->data;
    a->paused = 0;
    a->since = 0;
    if (a->c.req)
        ferry_http_unpause(a->c.req);
}

static int pa_sink(void *arg, const char *p, size_t n)
{
    pa_ctx_t *a = arg;
    a->c.sink_calls++;
    a->c.sum = fnv_update(a->c.sum, p, n);
    a->c.got += n;
    if (a->paused) {
        a->after += n;
        if (a->after > a->after_max)
            a->after_max = a->after;
        return FERRY_HTTP_PAUSE_AFTER;
    }
    a->since += n;
    if (a->since < 300 * 1024)
        return FERRY_OK;
    a->paused = 1;
    a->after = 0;
    a->pauses++;
    uv_timer_start(&a->c.t, pa_resume, 2, 0);
    return FERRY_HTTP_PAUSE_AFTER;
}

static void test_get_pause_after(uv_loop_t *loop, ferry_http_t *h)
{
    pa_ctx_t a;
    memset(&a, 0, sizeof(a));
    ctx_init(loop, &a.c);
    a.c.t.data = &a;
    ferry_http_reqopts_t o = {
        .method = "GET", .url = url("/data/12000000"), .sink = pa_sink, .done = done_cb, .arg = &a};
    REQUIRE(ferry_http_submit(h, &o, &a.c.req) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(a.c.calls, 1);
    CHECK_INT(a.c.rc, FERRY_OK);
    CHECK_INT(a.c.status, 200);
    CHECK_INT(a.c.got, 12000000);
    CHECK(a.c.sum == pattern_sum(12000000));
    CHECK(a.pauses > 5);
    CHECK(a.after_max <= FERRY_HTTP_RECV_MAX);
    ctx_close(&a.c);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void test_captured_and_errors(uv_loop_t *loop, ferry_http_t *h)
{
    ctx_t a, b, d, e, f;
    ctx_init(loop, &a);
    ctx_init(loop, &b);
    ctx_init(loop, &d);
    ctx_init(loop, &e);
    ctx_init(loop, &f);
    /* 2xx captured without a sink */
    ferry_http_reqopts_t o1 = {
        .method = "GET", .url = url("/data/100"), .done = done_cb, .arg = &a};
    /* error body captured, sink not called */
    ferry_http_reqopts_t o2 = {
        .method = "GET", .url = url("/err"), .sink = sink_cb, .done = done_cb, .arg = &b};
    /* a large error body is cut at 64 KiB */
    ferry_http_reqopts_t o3 = {.method = "GET", .url = url("/bigerr"), .done = done_cb, .arg = &d};
    /* a 2xx body over body_max is an error (it would be parsed) */
    ferry_http_reqopts_t o4 = {
        .method = "GET", .url = url("/data/5000"), .body_max = 1000, .done = done_cb, .arg = &e};
    ferry_http_reqopts_t o5 = {.method = "HEAD", .url = url("/head"), .done = done_cb, .arg = &f};
    REQUIRE(ferry_http_submit(h, &o1, NULL) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &o2, NULL) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &o3, NULL) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &o4, NULL) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &o5, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.rc, FERRY_OK);
    CHECK_INT(a.body_len, 100);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.rc, FERRY_OK);
    CHECK_INT(b.status, 404);
    CHECK(strstr(b.body, "<Code>NoSuchKey</Code>") != NULL);
    CHECK_STR(b.rid, "OSSRID");
    CHECK_INT(b.sink_calls, 0);
    CHECK_INT(d.status, 500);
    CHECK_INT(d.body_len, 64 * 1024);
    CHECK_INT(d.truncated, 1);
    CHECK_INT(e.calls, 1);
    CHECK_INT(e.rc, FERRY_ETOOBIG);
    CHECK_INT(f.rc, FERRY_OK);
    CHECK_INT(f.status, 200);
    CHECK_STR(f.meta, "11051210869376104954");
    ctx_close(&a), ctx_close(&b), ctx_close(&d), ctx_close(&e), ctx_close(&f);
    uv_run(loop, UV_RUN_DEFAULT);
}

typedef struct {
    uint64_t total, off;
    int calls;
    int pause_every;
    ferry_http_req_t *req;
    uv_timer_t t;
} src_t;

static void src_resume(uv_timer_t *t)
{
    src_t *s = t->data;
    ferry_http_unpause(s->req);
}

static ssize_t source_cb(void *arg, char *buf, size_t n)
{
    src_t *s = arg;
    s->calls++;
    if (s->pause_every && s->calls % s->pause_every == 0) {
        uv_timer_start(&s->t, src_resume, 1, 0);
        return FERRY_HTTP_PAUSE;
    }
    uint64_t left = s->total - s->off;
    size_t take = left < n ? (size_t)left : n;
    if (take > 10000)
        take = 10000; /* short reads are fine */
    for (size_t i = 0; i < take; i++)
        buf[i] = (char)pattern_byte(s->off + i);
    s->off += take;
    return (ssize_t)take;
}

/* PUT with a source and a memory body; both arrive intact. */
typedef struct {
    ctx_t c;
    src_t s;
} put_t;

static ssize_t put_source(void *arg, char *buf, size_t n)
{
    return source_cb(&((put_t *)arg)->s, buf, n);
}
static void put_done(void *arg, int rc, const ferry_error_t *err, const ferry_http_resp_t *r)
{
    done_cb(&((put_t *)arg)->c, rc, err, r);
}

static void test_put(uv_loop_t *loop, ferry_http_t *h)
{
    put_t p;
    memset(&p, 0, sizeof(p));
    ctx_init(loop, &p.c);
    p.s.total = 2000000;
    p.s.pause_every = 4;
    uv_timer_init(loop, &p.s.t);
    p.s.t.data = &p.s;
    ferry_kv_t hdr[] = {{"x-test", "hello"}};
    ferry_http_reqopts_t o = {.method = "PUT",
                              .url = url("/echo"),
                              .headers = hdr,
                              .nheaders = 1,
                              .source = put_source,
                              .body_len = (int64_t)p.s.total,
                              .done = put_done,
                              .arg = &p};
    REQUIRE(ferry_http_submit(h, &o, &p.s.req) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    char want[128];
    snprintf(want, sizeof(want), "len=2000000 sum=%016llx",
             (unsigned long long)pattern_sum(2000000));
    CHECK_INT(p.c.calls, 1);
    CHECK_INT(p.c.rc, FERRY_OK);
    CHECK_STR(p.c.body, want);

    /* memory body, POST */
    ctx_t m;
    ctx_init(loop, &m);
    char body[5000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)pattern_byte(i);
    ferry_http_reqopts_t o2 = {.method = "POST",
                               .url = url("/echo"),
                               .body = body,
                               .body_len = sizeof(body),
                               .done = done_cb,
                               .arg = &m};
    REQUIRE(ferry_http_submit(h, &o2, NULL) == FERRY_OK);
    /* an empty PUT sends Content-Length: 0 */
    ctx_t z;
    ctx_init(loop, &z);
    ferry_http_reqopts_t o3 = {.method = "PUT", .url = url("/echo"), .done = done_cb, .arg = &z};
    REQUIRE(ferry_http_submit(h, &o3, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    snprintf(want, sizeof(want), "len=5000 sum=%016llx", (unsigned long long)pattern_sum(5000));
    CHECK_STR(m.body, want);
    snprintf(want, sizeof(want), "len=0 sum=%016llx", (unsigned long long)FNV_INIT);
    CHECK_STR(z.body, want);
    /* small memory bodies go with the head in one send (POSTFIELDS): curl's default
     * form Content-Type must not appear, a given one must; a larger one takes the read path */
    CHECK_STR(m.ctype, "-");
    CHECK_STR(z.ctype, "-");
    /* header lines as given: "Name: value", and an empty value sent as an empty header */
    ctx_t hx;
    ctx_init(loop, &hx);
    ferry_kv_t hh[] = {{"x-test", "a b:c"}, {"x-empty", ""}, {"x-two", "2"}};
    ferry_http_reqopts_t o8 = {.method = "PUT",
                               .url = url("/echo"),
                               .headers = hh,
                               .nheaders = 3,
                               .body = "xy",
                               .body_len = 2,
                               .done = done_cb,
                               .arg = &hx};
    REQUIRE(ferry_http_submit(h, &o8, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_STR(hx.test, "a b:c");
    CHECK_STR(hx.seen, "[][2]");
    CHECK_STR(hx.ctype, "-");
    ctx_close(&hx);
    /* a header line over 16 KiB is refused before anything is sent (and nothing leaks) */
    static char longv[17000];
    memset(longv, 'a', sizeof(longv) - 1);
    ferry_kv_t lh[] = {{"x-test", "hello"}, {"x-long", longv}};
    ferry_http_reqopts_t o7 = {.method = "PUT",
                               .url = url("/echo"),
                               .headers = lh,
                               .nheaders = 2,
                               .done = done_cb,
                               .arg = &z};
    CHECK_INT(ferry_http_submit(h, &o7, NULL), FERRY_ETOOBIG);
    static char big[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)pattern_byte(i);
    ferry_kv_t cth[] = {{"Content-Type", "image/png"}};
    ctx_t s1, s2;
    ctx_init(loop, &s1);
    ctx_init(loop, &s2);
    ferry_http_reqopts_t o5 = {.method = "PUT",
                               .url = url("/echo"),
                               .headers = cth,
                               .nheaders = 1,
                               .body = big,
                               .body_len = 60000,
                               .done = done_cb,
                               .arg = &s1};
    ferry_http_reqopts_t o6 = o5;
    o6.body_len = sizeof(big);
    o6.arg = &s2;
    REQUIRE(ferry_http_submit(h, &o5, NULL) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &o6, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    snprintf(want, sizeof(want), "len=60000 sum=%016llx", (unsigned long long)pattern_sum(60000));
    CHECK_STR(s1.body, want);
    CHECK_STR(s1.ctype, "image/png");
    snprintf(want, sizeof(want), "len=200000 sum=%016llx",
             (unsigned long long)pattern_sum(sizeof(big)));
    CHECK_STR(s2.body, want);
    CHECK_STR(s2.ctype, "image/png");
    ctx_close(&s1), ctx_close(&s2);

    /* a source that gives more than body_len is an error, not a corrupt upload */
    put_t q;
    memset(&q, 0, sizeof(q));
    ctx_init(loop, &q.c);
    q.s.total = 100000;
    uv_timer_init(loop, &q.s.t);
    ferry_http_reqopts_t o4 = {.method = "PUT",
                               .url = url("/echo"),
                               .source = put_source,
                               .body_len = 5000,
                               .done = put_done,
                               .arg = &q};
    REQUIRE(ferry_http_submit(h, &o4, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(q.c.calls, 1);
    CHECK_INT(q.c.rc, FERRY_ERANGE);

    ctx_close(&p.c), ctx_close(&m), ctx_close(&z), ctx_close(&q.c);
    uv_close((uv_handle_t *)&p.s.t, NULL);
    uv_close((uv_handle_t *)&q.s.t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* A GET piped into a PUT through a 64 KiB ring: the way the worker copies. */
#define RING 65536
typedef struct {
    char ring[RING];
    size_t head, len; /* read position, bytes held */
    ferry_http_req_t *get, *put;
    int get_paused, put_paused;
    int get_pauses, put_pauses;
    ctx_t gc, pc;
} pipe_t;

static int pipe_sink(void *arg, const char *p, size_t n)
{
    pipe_t *x = arg;
    if (RING - x->len < n) {
        x->get_paused = 1;
        x->get_pauses++;
        return FERRY_HTTP_PAUSE;
    }
    for (size_t i = 0; i < n; i++)
        x->ring[(x->head + x->len + i) % RING] = p[i];
    x->len += n;
    if (x->put_paused) {
        x->put_paused = 0;
        ferry_http_unpause(x->put);
    }
    return FERRY_OK;
}

static ssize_t pipe_source(void *arg, char *buf, size_t n)
{
    pipe_t *x = arg;
    if (x->len == 0) {
        x->put_paused = 1;
        x->put_pauses++;
        return FERRY_HTTP_PAUSE;
    }
    size_t take = x->len < n ? x->len : n;
    for (size_t i = 0; i < take; i++)
        buf[i] = x->ring[(x->head + i) % RING];
    x->head = (x->head + take) % RING;
    x->len -= take;
    if (x->get_paused) {
        x->get_paused = 0;
        ferry_http_unpause(x->get);
    }
    return (ssize_t)take;
}

static void pipe_get_done(void *arg, int rc, const ferry_error_t *err, const ferry_http_resp_t *r)
{
    pipe_t *x = arg;
    done_cb(&x->gc, rc, err, r);
    x->get = NULL;
}

static void pipe_put_done(void *arg, int rc, const ferry_error_t *err, const ferry_http_resp_t *r)
{
    pipe_t *x = arg;
    done_cb(&x->pc, rc, err, r);
    x->put = NULL;
}

static void test_pipe(uv_loop_t *loop, ferry_http_t *h)
{
    const uint64_t n = 8u << 20;
    pipe_t *x = calloc(1, sizeof(*x));
    ctx_init(loop, &x->gc);
    ctx_init(loop, &x->pc);
    char u[64];
    snprintf(u, sizeof(u), "/data/%llu", (unsigned long long)n);
    ferry_http_reqopts_t g = {
        .method = "GET", .url = url(u), .sink = pipe_sink, .done = pipe_get_done, .arg = x};
    ferry_http_reqopts_t p = {.method = "PUT",
                              .url = url("/echo"),
                              .source = pipe_source,
                              .body_len = (int64_t)n,
                              .done = pipe_put_done,
                              .arg = x};
    REQUIRE(ferry_http_submit(h, &p, &x->put) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &g, &x->get) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    char want[128];
    snprintf(want, sizeof(want), "len=%llu sum=%016llx", (unsigned long long)n,
             (unsigned long long)pattern_sum(n));
    CHECK_INT(x->gc.rc, FERRY_OK);
    CHECK_INT(x->pc.rc, FERRY_OK);
    CHECK_STR(x->pc.body, want);
    CHECK(x->get_pauses > 0);
    CHECK(x->put_pauses > 0);
    printf("pipe: %d GET pauses, %d PUT pauses through a %d-byte ring\n", x->get_pauses,
           x->put_pauses, RING);
    ctx_close(&x->gc);
    ctx_close(&x->pc);
    uv_run(loop, UV_RUN_DEFAULT);
    free(x);
}

/* N requests in flight at once (the gate proves it), then N more on the idle keep-alive
 * connections the first round left. The gate makes the first round leave at least N idle
 * connections, so with reuse working every request of the second round finds one: all N reuse
 * and the server sees no new connection. */
static void test_many_and_reuse(uv_loop_t *loop, ferry_http_t *h)
{
    enum { N = 40 };
    ctx_t *c = calloc(2 * N, sizeof(*c));
    char gated[64];
    snprintf(gated, sizeof(gated), "/data/200000?gate=%d", N);
    gate_reset();
    for (int i = 0; i < N; i++) {
        ctx_init(loop, &c[i]);
        ferry_http_reqopts_t o = {
            .method = "GET", .url = url(gated), .sink = sink_cb, .done = done_cb, .arg = &c[i]};
        REQUIRE(ferry_http_submit(h, &o, NULL) == FERRY_OK);
    }
    CHECK_INT(ferry_http_active(h), N);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(ferry_http_active(h), 0);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += c[i].calls == 1 && c[i].rc == 0 && c[i].got == 200000;
    CHECK_INT(ok, N);
    pthread_mutex_lock(&srv_mu);
    int arrived = gate_arrived, timed_out = gate_timed_out;
    int before = srv_conns;
    pthread_mutex_unlock(&srv_mu);
    CHECK_INT(arrived, N);
    CHECK_INT(timed_out, 0); /* all N were in the server at once */
    /* a second round rides the idle keep-alive connections */
    int reused = 0;
    for (int i = N; i < 2 * N; i++) {
        ctx_init(loop, &c[i]);
        ferry_http_reqopts_t o = {.method = "GET",
                                  .url = url("/data/1000"),
                                  .sink = sink_cb,
                                  .done = done_cb,
                                  .arg = &c[i]};
        REQUIRE(ferry_http_submit(h, &o, NULL) == FERRY_OK);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = N; i < 2 * N; i++)
        reused += c[i].reused;
    pthread_mutex_lock(&srv_mu);
    int after = srv_conns;
    pthread_mutex_unlock(&srv_mu);
    printf("reuse: %d of %d requests on reused connections, %d new connections\n", reused, N,
           after - before);
    CHECK_INT(reused, N);
    CHECK_INT(after - before, 0);
    for (int i = 0; i < 2 * N; i++)
        ctx_close(&c[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    free(c);
}

static void cancel_timer(uv_timer_t *t)
{
    ctx_t *c = t->data;
    ferry_http_cancel(c->req);
    ferry_http_cancel(c->req); /* twice is fine */
}

static void test_cancel_timeout_refused(uv_loop_t *loop, ferry_http_t *h)
{
    ctx_t a, b, d;
    ctx_init(loop, &a);
    ctx_init(loop, &b);
    ctx_init(loop, &d);
    ferry_http_reqopts_t o1 = {.method = "GET", .url = url("/slow"), .done = done_cb, .arg = &a};
    REQUIRE(ferry_http_submit(h, &o1, &a.req) == FERRY_OK);
    uv_timer_start(&a.t, cancel_timer, 200, 0);
    ferry_http_reqopts_t o2 = {
        .method = "GET", .url = url("/slow"), .timeout_ms = 300, .done = done_cb, .arg = &b};
    REQUIRE(ferry_http_submit(h, &o2, NULL) == FERRY_OK);
    ferry_http_reqopts_t o3 = {
        .method = "GET", .url = "http://127.0.0.1:1/x", .done = done_cb, .arg = &d};
    REQUIRE(ferry_http_submit(h, &o3, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.rc, FERRY_ECANCELED);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.rc, FERRY_ETIMEOUT);
    CHECK_INT(d.calls, 1);
    CHECK_INT(d.rc, FERRY_ENET);
    CHECK(d.errmsg[0] != 0);
    printf("refused: %s\ntimeout: %s\n", d.errmsg, b.errmsg);
    ctx_close(&a), ctx_close(&b), ctx_close(&d);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void test_bad_args(ferry_http_t *h)
{
    ctx_t c;
    memset(&c, 0, sizeof(c));
    ferry_http_reqopts_t o = {.method = "GET", .url = NULL, .done = done_cb, .arg = &c};
    CHECK_INT(ferry_http_submit(h, &o, NULL), FERRY_EINVAL);
    o.url = url("/x");
    o.done = NULL;
    CHECK_INT(ferry_http_submit(h, &o, NULL), FERRY_EINVAL);
    CHECK_INT(c.calls, 0);
}

/* Proxies from the environment: a transport made while http_proxy names a closed port sends its
 * requests there (and fails to connect), one made with no_proxy covering the server goes
 * direct, and one made with neither goes direct (the transport then tells curl "no proxy" once
 * instead of curl's per-request lookups). */
static int get_status(uv_loop_t *loop, int *rc)
{
    ferry_http_t *h;
    ctx_t c;
    REQUIRE(ferry_http_new(loop, NULL, &h) == FERRY_OK);
    ctx_init(loop, &c);
    ferry_http_reqopts_t o = {.method = "GET", .url = url("/data/10"), .done = done_cb, .arg = &c};
    REQUIRE(ferry_http_submit(h, &o, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(c.calls, 1);
    *rc = c.rc;
    ctx_close(&c);
    ferry_http_close(h, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return c.status;
}

static void test_env_proxy(uv_loop_t *loop)
{
    int rc;
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    get_status(loop, &rc);
    CHECK_INT(rc, FERRY_ENET); /* it went to the proxy */
    setenv("no_proxy", "127.0.0.1", 1);
    CHECK_INT(get_status(loop, &rc), 200);
    CHECK_INT(rc, FERRY_OK);
    unsetenv("http_proxy");
    unsetenv("no_proxy");
    CHECK_INT(get_status(loop, &rc), 200);
    CHECK_INT(rc, FERRY_OK);
}

/* Closing with requests in flight completes each with ECANCELED, then frees from the close
 * callbacks; submit after close is refused without a callback. */
static void test_close_inflight(uv_loop_t *loop)
{
    ferry_http_t *h;
    REQUIRE(ferry_http_new(loop, NULL, &h) == FERRY_OK);
    ctx_t a, b;
    ctx_init(loop, &a);
    ctx_init(loop, &b);
    ferry_http_reqopts_t o1 = {.method = "GET", .url = url("/slow"), .done = done_cb, .arg = &a};
    ferry_http_reqopts_t o2 = {.method = "GET",
                               .url = url("/data/100000000"),
                               .sink = sink_cb,
                               .done = done_cb,
                               .arg = &b};
    REQUIRE(ferry_http_submit(h, &o1, NULL) == FERRY_OK);
    REQUIRE(ferry_http_submit(h, &o2, NULL) == FERRY_OK);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_run(loop, UV_RUN_NOWAIT);
    closed_flag = 0;
    ferry_http_close(h, closed_cb, NULL);
    ctx_t z;
    memset(&z, 0, sizeof(z));
    ferry_http_reqopts_t o3 = {.method = "GET", .url = url("/x"), .done = done_cb, .arg = &z};
    CHECK_INT(ferry_http_submit(h, &o3, NULL), FERRY_ECANCELED);
    ctx_close(&a), ctx_close(&b);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.rc, FERRY_ECANCELED);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.rc, FERRY_ECANCELED);
    CHECK_INT(z.calls, 0);
    CHECK_INT(closed_flag, 1);
    ferry_http_close(NULL, closed_cb, NULL); /* NULL is fine */
}

/* TLS: verification is on by default (a self-signed server is refused with FERRY_ECONFIG, which
 * the client does not retry); the CA file makes it pass; only the explicit insecure option
 * skips verification. The certificate is made here with the openssl command. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = calloc(1, 65536);
    size_t n = fread(b, 1, 65535, f);
    fclose(f);
    b[n] = 0;
    return b;
}

static void test_tls(uv_loop_t *loop)
{
    char dir[] = "/tmp/ferry-test-http-XXXXXX", cmd[1024], kp[128], cp[128], u[128];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(kp, sizeof(kp), "%s/key.pem", dir);
    snprintf(cp, sizeof(cp), "%s/cert.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
             ">/dev/null 2>&1",
             kp, cp);
    int made = system(cmd) == 0;
    CHECK(made); /* the openssl command line is needed to make a certificate */
    char *key = made ? slurp(kp) : NULL, *cert = made ? slurp(cp) : NULL;
    if (!key || !cert) {
        free(key);
        free(cert);
        return;
    }
    struct MHD_Daemon *tls = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL,
        NULL, handler, NULL, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    REQUIRE(tls != NULL);
    int port = MHD_get_daemon_info(tls, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(u, sizeof(u), "https://localhost:%d/data/1000", port);
    ferry_http_opts_t variants[3] = {{0}, {.ca_file = cp}, {.insecure = 1}};
    int want[3] = {FERRY_ECONFIG, FERRY_OK, FERRY_OK};
    for (int i = 0; i < 3; i++) {
        ferry_http_t *h;
        ctx_t c;
        REQUIRE(ferry_http_new(loop, &variants[i], &h) == FERRY_OK);
        ctx_init(loop, &c);
        ferry_http_reqopts_t o = {
            .method = "GET", .url = u, .sink = sink_cb, .done = done_cb, .arg = &c};
        REQUIRE(ferry_http_submit(h, &o, NULL) == FERRY_OK);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK_INT(c.rc, want[i]);
        if (want[i] == FERRY_OK)
            CHECK_INT(c.got, 1000);
        else
            printf("tls, default verification: %s\n", c.errmsg);
        ctx_close(&c);
        ferry_http_close(h, NULL, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    MHD_stop_daemon(tls);
    unlink(kp);
    unlink(cp);
    rmdir(dir);
    free(key);
    free(cert);
}

/* A server that answers one keep-alive request per connection, then closes the connection
 * 100 ms later, while the client holds it idle; two connections, then it stops. */
static int raw_lfd = -1, raw_port;

static void *raw_server(void *arg)
{
    (void)arg;
    for (int n = 0; n < 2; n++) {
        int fd = accept(raw_lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        char buf[4096];
        size_t got = 0;
        while (got < sizeof(buf) - 1) { /* to the end of the request head */
            ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if (send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) < 0) {
            close(fd);
            return NULL;
        }
        usleep(100 * 1000);
        close(fd); /* the client has it parked in its connection cache now */
    }
    return NULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void stop_cb(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_peer_closes_idle(uv_loop_t *loop)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    raw_lfd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(raw_lfd >= 0 && bind(raw_lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            listen(raw_lfd, 4) == 0 && getsockname(raw_lfd, (struct sockaddr *)&a, &al) == 0);
    raw_port = ntohs(a.sin_port);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, raw_server, NULL) == 0);
    ferry_http_t *h;
    REQUIRE(ferry_http_new(loop, NULL, &h) == FERRY_OK);
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", raw_port);
    for (int round = 0; round < 2; round++) {
        ctx_t c;
        ctx_init(loop, &c);
        ferry_http_reqopts_t o = {.method = "GET", .url = u, .done = done_cb, .arg = &c};
        REQUIRE(ferry_http_submit(h, &o, &c.req) == FERRY_OK);
        uv_run(loop, UV_RUN_DEFAULT); /* an idle (parked) connection keeps no loop alive */
        CHECK_INT(c.calls, 1);
        CHECK_INT(c.rc, FERRY_OK);
        CHECK_INT(c.status, 200);
        CHECK_STR(c.body, "ok");
        CHECK_INT(c.reused, 0); /* round 2: the closed connection was not used */
        ctx_close(&c);
        uv_run(loop, UV_RUN_DEFAULT);
        if (round == 0) {
            /* The server closes the idle connection: the parked handle is woken once and
             * stops watching; no busy loop on the readable EOF. */
            uv_timer_t t;
            uv_timer_init(loop, &t);
            double c0 = cpu_seconds();
            uv_timer_start(&t, stop_cb, 400, 0);
            uv_run(loop, UV_RUN_DEFAULT);
            CHECK(cpu_seconds() - c0 < 0.2);
            uv_close((uv_handle_t *)&t, NULL);
            uv_run(loop, UV_RUN_DEFAULT);
        }
    }
    closed_flag = 0;
    ferry_http_close(h, closed_cb, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(closed_flag, 1);
    pthread_join(th, NULL);
    close(raw_lfd);
}

int main(void)
{
    uv_loop_t loop;
    ferry_http_t *h;
    server_start();
    REQUIRE(uv_loop_init(&loop) == 0);
    REQUIRE(ferry_http_new(&loop, NULL, &h) == FERRY_OK);
    test_bad_args(h);
    test_get_stream(&loop, h);
    test_get_pause_after(&loop, h);
    test_captured_and_errors(&loop, h);
    test_put(&loop, h);
    test_pipe(&loop, h);
    test_many_and_reuse(&loop, h);
    test_cancel_timeout_refused(&loop, h);
    closed_flag = 0;
    ferry_http_close(h, closed_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(closed_flag, 1);
    test_close_inflight(&loop);
    test_peer_closes_idle(&loop);
    test_env_proxy(&loop);
    test_tls(&loop);
    CHECK_INT(uv_loop_close(&loop), 0);
    MHD_stop_daemon(srv);
    return test_summary();
}
