/* test_s3_faults — the S3 client's retries against fakes3's injected faults: 5xx and 429
 * retried to success (many requests in flight), Retry-After honoured, resets mid-upload
 * retried only when the source can rewind, resets mid-download resumed with a Range so the
 * sink sees each byte once, slow bodies cut by the low-speed limit and retried, a 200 with an
 * <Error> body treated as a failure, non-retryable errors surfaced once, cancellation during a
 * backoff, and a wrong-region reply followed once. */
#include "harness.h"
#include "test_s3_util.h"

#include <time.h>

#include "ferry/clock.h"

static ferry_retry_policy_t fast_policy(void)
{
    ferry_retry_policy_t p;
    ferry_retry_policy_init(&p);
    p.max_attempts = 8;
    p.base_ms = 5;
    p.cap_ms = 50;
    p.max_floor_ms = 1500;
    return p;
}

static long stat_faults(s3t_t *t, const char *base, const char *op)
{
    char out[8192], pat[64];
    if (s3t_control(t, base, "GET", "/_fakes3/stats", NULL, out, sizeof(out)) != 200)
        return -1;
    snprintf(pat, sizeof(pat), "\"%s\"", op);
    const char *p = strstr(out, pat);
    const char *f = p ? strstr(p, "\"faults\"") : NULL;
    return f ? strtol(f + 9, NULL, 10) : -1;
}

static void test_5xx_many(s3t_t *t, const char *base, const char *bucket)
{
    enum { N = 24 };
    static char body[N][65536];
    s3t_res_t x[N];
    s3t_sink_t sinks[N];
    ferry_error_t err;
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof(k), "many/%02d", i);
        s3t_fill(body[i], sizeof(body[i]), (unsigned)i + 100);
        REQUIRE(s3t_put(t, bucket, k, 0, body[i], sizeof(body[i]), &x[0]) == FERRY_OK);
    }
    REQUIRE(s3t_faults(t, base,
                       "{\"rules\":[{\"op\":\"GetObject\",\"rate\":0.3,\"error\":503},"
                       "{\"op\":\"GetObject\",\"rate\":0.1,\"error\":500},"
                       "{\"op\":\"GetObject\",\"rate\":0.1,\"error\":429}]}") == 0);
    double t0 = ferry_mono_s();
    char keys[N][32];
    for (int i = 0; i < N; i++) {
        ferry_s3_args_t a;
        snprintf(keys[i], sizeof(keys[i]), "many/%02d", i);
        memset(&x[i], 0, sizeof(x[i]));
        memset(&sinks[i], 0, sizeof(sinks[i]));
        ferry_s3_args_init(&a);
        a.bucket = bucket;
        a.key = keys[i];
        a.sink = s3t_sink_cb;
        a.arg = &sinks[i];
        REQUIRE(ferry_s3_get(t->c, &a, s3t_done, &x[i], NULL, &err) == FERRY_OK);
    }
    CHECK_INT(ferry_s3_active(t->c), N);
    for (int i = 0; i < N; i++)
        s3t_wait(t, &x[i]);
    unsigned attempts = 0;
    int ok = 0;
    for (int i = 0; i < N; i++) {
        attempts += x[i].r.attempts;
        if (x[i].r.rc)
            fprintf(stderr, "get %d: %s\n", i, x[i].r.err.msg);
        ok += x[i].r.rc == FERRY_OK && sinks[i].len == sizeof(body[i]) &&
              !memcmp(sinks[i].data, body[i], sizeof(body[i]));
        free(sinks[i].data);
    }
    long faults = stat_faults(t, base, "GetObject");
    printf("5xx/429 at ~50%%: %d/%d GETs correct, %u attempts, %ld faults injected, %.2f s\n", ok,
           N, attempts, faults, ferry_mono_s() - t0);
    CHECK_INT(ok, N);
    CHECK(attempts > N);
    CHECK_INT((long)attempts - N, faults);
    REQUIRE(s3t_faults(t, base, "[]") == 0);
}

static void test_retry_after(s3t_t *t, const char *base, const char *bucket)
{
    s3t_res_t x;
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"HeadObject\",\"count\":1,\"error\":503}]") == 0);
    double t0 = ferry_mono_s();
    CHECK_INT(s3t_head(t, bucket, "many/00", 0, &x), FERRY_OK);
    double el = ferry_mono_s() - t0;
    printf("503 with Retry-After: 1 -> retried after %.2f s\n", el);
    CHECK_INT(x.r.attempts, 2);
    CHECK(el >= 0.95);
    REQUIRE(s3t_faults(t, base, "[]") == 0);
}

static void test_put_reset(s3t_t *t, const char *base, const char *bucket)
{
    size_t n = 3u << 20;
    char *data = malloc(n);
    s3t_fill(data, n, 5);
    s3t_res_t x;
    s3t_sink_t sink = {0};
    ferry_s3_args_t a;
    ferry_error_t err;

    /* a source that can rewind: two resets, then success */
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"PutObject\",\"reset_after\":100000,\"count\":2}]") ==
            0);
    s3t_src_t s = {data, n, 0, 0, 0};
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = "reset/put.bin";
    a.source = s3t_src_read;
    a.rewind = s3t_src_rewind;
    a.arg = &s;
    a.body_len = (int64_t)n;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_put(t->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(t, &x);
    if (x.r.rc)
        fprintf(stderr, "put reset: %s\n", x.r.err.msg);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 3);
    CHECK_INT(s.rewinds, 2);
    CHECK_INT(s3t_get(t, bucket, "reset/put.bin", 0, -1, -1, &sink, &x), FERRY_OK);
    CHECK(sink.len == n && !memcmp(sink.data, data, n));

    /* a source that cannot rewind: the reset surfaces once, as a network error */
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"PutObject\",\"reset_after\":100000,\"count\":1}]") ==
            0);
    s3t_src_t s2 = {data, n, 0, 0, 0};
    a.key = "reset/put2.bin";
    a.arg = &s2;
    a.rewind = NULL;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_put(t->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(t, &x);
    CHECK_INT(x.r.rc, FERRY_ENET);
    CHECK_INT(x.r.attempts, 1);
    printf("reset, no rewind: %s\n", x.r.err.msg);
    REQUIRE(s3t_faults(t, base, "[]") == 0);
    free(sink.data);
    free(data);
}

/* A sink that counts every byte it is given and checks it against the expected data, so a
 * resumed download that repeated or skipped a byte is caught. */
typedef struct {
    const char *want;
    size_t len, got;
    int bad;
} count_sink_t;

static int count_sink(void *arg, const char *p, size_t n)
{
    count_sink_t *c = arg;
    if (c->got + n > c->len || memcmp(c->want + c->got, p, n))
        c->bad = 1;
    c->got += n;
    return FERRY_OK;
}

static void test_get_resume(s3t_t *t, const char *base, const char *bucket)
{
    size_t n = 4u << 20;
    char *data = malloc(n);
    s3t_fill(data, n, 9);
    s3t_res_t x;
    ferry_s3_args_t a;
    ferry_error_t err;
    REQUIRE(s3t_put(t, bucket, "reset/get.bin", 0, data, n, &x) == FERRY_OK);
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"GetObject\",\"reset_after\":1000000,\"count\":2}]") ==
            0);
    count_sink_t cs = {data, n, 0, 0};
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = "reset/get.bin";
    a.sink = count_sink;
    a.arg = &cs;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_get(t->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(t, &x);
    if (x.r.rc)
        fprintf(stderr, "get resume: %s\n", x.r.err.msg);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 3);
    CHECK_INT(cs.got, n);
    CHECK_INT(cs.bad, 0);
    printf("GET reset twice: resumed, %zu bytes delivered once each in %u attempts\n", cs.got,
           x.r.attempts);

    /* a ranged GET resumes inside its range */
    count_sink_t cr = {data + 1000, 2000000, 0, 0};
    a.range_start = 1000;
    a.range_end = 1000 + 2000000 - 1;
    a.arg = &cr;
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"GetObject\",\"reset_after\":700000,\"count\":1}]") ==
            0);
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_get(t->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(t, &x);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 2);
    CHECK_INT(cr.got, 2000000);
    CHECK_INT(cr.bad, 0);
    REQUIRE(s3t_faults(t, base, "[]") == 0);
    free(data);
}

static void test_slow_body(const harness_server_t *srv, const char *bucket)
{
    /* A transport that gives up on bodies under 200 KB/s for 1 s; the first GET is paced at
     * 20 KB/s, so it is cut and retried (resumed). */
    s3t_t t;
    ferry_http_opts_t ho = {.low_speed_limit = 200000, .low_speed_time_s = 1};
    ferry_retry_policy_t pol = fast_policy();
    REQUIRE(s3t_open_ex(&t, "s3", srv->url, srv->access_key, srv->secret_key, FERRY_TRI_OFF,
                        "source", &ho, &pol) == 0);
    size_t n = 2u << 20;
    char *data = malloc(n);
    s3t_fill(data, n, 11);
    s3t_res_t x;
    REQUIRE(s3t_put(&t, bucket, "slow/obj", 0, data, n, &x) == FERRY_OK);
    REQUIRE(s3t_faults(&t, srv->url, "[{\"op\":\"GetObject\",\"bandwidth\":20000,\"count\":1}]") ==
            0);
    count_sink_t cs = {data, n, 0, 0};
    ferry_s3_args_t a;
    ferry_error_t err;
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = "slow/obj";
    a.sink = count_sink;
    a.arg = &cs;
    double t0 = ferry_mono_s();
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_get(t.c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(&t, &x);
    printf("slow body: rc=%d after %u attempts, %.2f s\n", x.r.rc, x.r.attempts,
           ferry_mono_s() - t0);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 2);
    CHECK_INT(cs.got, n);
    CHECK_INT(cs.bad, 0);
    REQUIRE(s3t_faults(&t, srv->url, "[]") == 0);
    free(data);
    s3t_close(&t);
}

static void test_error_body_and_fatal(s3t_t *t, const char *base, const char *bucket)
{
    s3t_res_t x;
    ferry_s3_args_t a;
    ferry_error_t err;
    REQUIRE(s3t_put(t, bucket, "eb/src", 0, "hello", 5, &x) == FERRY_OK);
    /* 200 + <Error>InternalError on CopyObject: a failure, retried; then success */
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"CopyObject\",\"error_body\":true,\"count\":1}]") == 0);
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = "eb/dst";
    a.copy_bucket = bucket;
    a.copy_key = "eb/src";
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_copy(t->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(t, &x);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 2);
    /* always: the error surfaces with status 200 and the store's code */
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"CopyObject\",\"error_body\":true}]") == 0);
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_copy(t->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(t, &x);
    CHECK(x.r.rc != FERRY_OK);
    CHECK_INT(x.r.status, 200);
    CHECK_STR(x.r.err.s3_code, "InternalError");
    CHECK_INT(x.r.attempts, 8);
    printf("200 with <Error>: %s\n", x.r.err.msg);
    /* non-retryable: an injected 403 surfaces once */
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"GetObject\",\"error\":403}]") == 0);
    s3t_sink_t sink = {0};
    CHECK(s3t_get(t, bucket, "eb/src", 0, -1, -1, &sink, &x) != FERRY_OK);
    CHECK_INT(x.r.attempts, 1);
    CHECK_INT(x.r.status, 403);
    printf("injected 403: %s\n", x.r.err.msg);
    /* a 503 that never ends gives up after max_attempts, saying it was throttled */
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"HeadObject\",\"error\":429}]") == 0);
    CHECK(s3t_head(t, bucket, "eb/src", 0, &x) != FERRY_OK);
    CHECK_INT(x.r.attempts, 8);
    CHECK(strstr(x.r.err.msg, "throttled") != NULL);
    printf("429 forever: %s\n", x.r.err.msg);
    REQUIRE(s3t_faults(t, base, "[]") == 0);
    free(sink.data);
}

static void cancel_cb(uv_timer_t *tm)
{
    ferry_s3_cancel(tm->data);
    ferry_s3_cancel(tm->data);
}

static void test_cancel_in_backoff(s3t_t *t, const char *base, const char *bucket)
{
    s3t_res_t x;
    ferry_s3_args_t a;
    ferry_error_t err;
    ferry_s3_op_t *op;
    uv_timer_t tm;
    REQUIRE(s3t_faults(t, base, "[{\"op\":\"HeadObject\",\"error\":503}]") == 0);
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = "eb/src";
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_head(t->c, &a, s3t_done, &x, &op, &err) == FERRY_OK);
    uv_timer_init(&t->loop, &tm);
    tm.data = op;
    uv_timer_start(&tm, cancel_cb, 300, 0); /* inside the 1 s Retry-After wait */
    s3t_wait(t, &x);
    CHECK_INT(x.r.rc, FERRY_ECANCELED);
    CHECK_INT(x.done, 1);
    uv_close((uv_handle_t *)&tm, NULL);
    uv_run(&t->loop, UV_RUN_NOWAIT);
    CHECK_INT(x.done, 1);
    REQUIRE(s3t_faults(t, base, "[]") == 0);
}

static void test_region_redirect(void)
{
    harness_server_t srv;
    const char *extra[] = {"--bucket", "eu-bucket", "--region", "eu-west-1", NULL};
    REQUIRE(harness_fakes3_start("s3", extra, &srv) == 0);
    s3t_t t;
    s3t_res_t x;
    REQUIRE(s3t_open(&t, "s3", srv.url, srv.access_key, srv.secret_key, FERRY_TRI_OFF,
                     "destination") == 0);
    CHECK_INT(s3t_put(&t, "eu-bucket", "k", 0, "v", 1, &x), FERRY_OK);
    CHECK_INT(x.r.attempts, 2);
    CHECK_STR(ferry_s3_profile(t.c)->signing_region, "eu-west-1");
    CHECK_INT(s3t_put(&t, "eu-bucket", "k2", 0, "v", 1, &x), FERRY_OK);
    CHECK_INT(x.r.attempts, 1);
    printf("wrong region: followed once to %s\n", ferry_s3_profile(t.c)->signing_region);
    s3t_close(&t);
    harness_stop(&srv, 15);
}

static int closed_calls;
static void on_closed(void *arg)
{
    (void)arg;
    closed_calls++;
}

/* A client with its own transport freed while operations are in flight (one on the wire, one
 * waiting in a backoff): each completes once with ECANCELED, then the client is freed from
 * the last close callback and closed_cb runs once (ASan checks nothing is touched after). */
static void test_free_inflight(const harness_server_t *srv, const char *bucket)
{
    uv_loop_t lp;
    ferry_profile_overrides_t ov;
    ferry_profile_t prof;
    ferry_error_t err;
    char ep[256];
    s3t_t ctl;
    REQUIRE(s3t_open(&ctl, "s3", srv->url, srv->access_key, srv->secret_key, FERRY_TRI_OFF, NULL) ==
            0);
    REQUIRE(s3t_faults(&ctl, srv->url,
                       "[{\"op\":\"GetObject\",\"latency_ms\":2000},"
                       "{\"op\":\"HeadObject\",\"error\":503}]") == 0);
    REQUIRE(uv_loop_init(&lp) == 0);
    s3t_localhost(srv->url, ep, sizeof(ep));
    ferry_profile_overrides_init(&ov);
    ov.endpoint = ep;
    ov.path_style = FERRY_TRI_OFF;
    REQUIRE(ferry_profile_resolve("s3", &ov, &prof, &err) == FERRY_OK);
    ferry_s3_config_t cfg = {.profile = &prof, .creds = {srv->access_key, srv->secret_key, NULL}};
    ferry_s3_t *c;
    REQUIRE(ferry_s3_new(&lp, &cfg, &c, &err) == FERRY_OK);
    s3t_res_t g, h;
    s3t_sink_t sink = {0};
    ferry_s3_args_t a;
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = "eb/src";
    a.sink = s3t_sink_cb;
    a.arg = &sink;
    memset(&g, 0, sizeof(g));
    memset(&h, 0, sizeof(h));
    REQUIRE(ferry_s3_get(c, &a, s3t_done, &g, NULL, &err) == FERRY_OK);
    REQUIRE(ferry_s3_head(c, &a, s3t_done, &h, NULL, &err) == FERRY_OK);
    double t0 = ferry_mono_s();
    while (ferry_mono_s() - t0 < 0.3)
        uv_run(&lp, UV_RUN_NOWAIT);
    CHECK_INT(g.done + h.done, 0);
    closed_calls = 0;
    ferry_s3_free(c, on_closed, NULL);
    uv_run(&lp, UV_RUN_DEFAULT);
    CHECK_INT(g.done, 1);
    CHECK_INT(g.r.rc, FERRY_ECANCELED);
    CHECK_INT(h.done, 1);
    CHECK_INT(h.r.rc, FERRY_ECANCELED);
    CHECK_INT(closed_calls, 1);
    CHECK_INT(uv_loop_close(&lp), 0);
    REQUIRE(s3t_faults(&ctl, srv->url, "[]") == 0);
    s3t_close(&ctl);
    free(sink.data);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    harness_server_t srv;
    const char *extra[] = {"--bucket", "faulty", NULL};
    REQUIRE(harness_fakes3_start("s3", extra, &srv) == 0);
    s3t_t t;
    ferry_retry_policy_t pol = fast_policy();
    REQUIRE(s3t_open_ex(&t, "s3", srv.url, srv.access_key, srv.secret_key, FERRY_TRI_OFF, "source",
                        NULL, &pol) == 0);
    test_5xx_many(&t, srv.url, "faulty");
    test_retry_after(&t, srv.url, "faulty");
    test_put_reset(&t, srv.url, "faulty");
    test_get_resume(&t, srv.url, "faulty");
    test_error_body_and_fatal(&t, srv.url, "faulty");
    test_cancel_in_backoff(&t, srv.url, "faulty");
    s3t_close(&t);
    test_slow_body(&srv, "faulty");
    test_free_inflight(&srv, "faulty");
    harness_stop(&srv, 15);
    test_region_redirect();
    return test_summary();
}
