/* test_s3_client — S3 client behaviours that need a server misbehaving on purpose, against a
 * tiny libmicrohttpd server in a thread: a wrong-region reply followed once and not looped,
 * a PermanentRedirect naming the region in its Endpoint, x-oss-qos-delay-time as a floor on
 * the backoff, the injected clock in x-amz-date, a 200 whose body is <Error>, a truncated XML
 * body, and a listing that says "truncated" without a way on (an error, not a loop).
 *
 * Issue 12: a GET cut mid-body resumes with Range; the resumed reply is accepted only when it is
 * a 206 for exactly the bytes asked, of the same object size, with the first reply's ETag —
 * a wrong start, another total, another ETag, a 200, or no Content-Range fails the GET and the
 * sink never gets a byte at the wrong offset (item 2); a first ranged GET answered for another
 * range fails the same way; on a path-style client, keys with '.' or '..' segments are refused
 * before anything is sent (item 16). */
#include "test.h"

#include "ferry/clock.h"
#include "ferry/s3.h"

#include <microhttpd.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int hits[16];

static int bump(int i)
{
    pthread_mutex_lock(&mu);
    int n = ++hits[i];
    pthread_mutex_unlock(&mu);
    return n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *h1, const char *v1)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/xml");
    if (h1)
        MHD_add_response_header(r, h1, v1);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- ranged GETs ---- */

#define RNG_TOTAL 200000
#define RNG_CUT   100000

static char rng_data[RNG_TOTAL];

/* The first reply of a /b/rng-* GET: 200 with the whole length announced, cut at RNG_CUT. */
static ssize_t cut_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= RNG_CUT)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = RNG_CUT - (size_t)pos < max ? RNG_CUT - (size_t)pos : max;
    memcpy(buf, rng_data + pos, n);
    return (ssize_t)n;
}

static enum MHD_Result reply_bytes(struct MHD_Connection *c, unsigned status, size_t off,
                                   size_t len, const char *etag, const char *cr)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, rng_data + off, MHD_RESPMEM_PERSISTENT);
    if (etag)
        MHD_add_response_header(r, "ETag", etag);
    if (cr)
        MHD_add_response_header(r, "Content-Range", cr);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result ranged(struct MHD_Connection *c, const char *url)
{
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    if (!strcmp(url, "/b/part")) /* asked bytes=10-19, answers another range */
        return reply_bytes(c, 206, 0, 10, "\"e1\"", "bytes 0-9/100");
    if (!strcmp(url, "/b/part-ok"))
        return reply_bytes(c, 206, 10, 10, "\"e1\"", "bytes 10-19/100");
    if (!range) {
        struct MHD_Response *r =
            MHD_create_response_from_callback(RNG_TOTAL, 16 * 1024, cut_body, NULL, NULL);
        MHD_add_response_header(r, "ETag", "\"e1\"");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    size_t rest = RNG_TOTAL - RNG_CUT;
    if (!strcmp(url, "/b/rng-ok"))
        return reply_bytes(c, 206, RNG_CUT, rest, "\"e1\"", "bytes 100000-199999/200000");
    if (!strcmp(url, "/b/rng-start")) /* the first half again: spliced, it doubles it */
        return reply_bytes(c, 206, 0, RNG_CUT, "\"e1\"", "bytes 0-99999/200000");
    if (!strcmp(url, "/b/rng-etag"))
        return reply_bytes(c, 206, RNG_CUT, rest, "\"e2\"", "bytes 100000-199999/200000");
    if (!strcmp(url, "/b/rng-total"))
        return reply_bytes(c, 206, RNG_CUT, rest, "\"e1\"", "bytes 100000-199999/300000");
    if (!strcmp(url, "/b/rng-nocr"))
        return reply_bytes(c, 206, RNG_CUT, rest, "\"e1\"", NULL);
    if (!strcmp(url, "/b/rng-200"))
        return reply_bytes(c, 200, 0, RNG_TOTAL, "\"e1\"", NULL);
    return reply(c, 404, "<Error><Code>NoSuchKey</Code></Error>", NULL, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version, (void)upload, (void)method;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *date = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-date");
    if (!auth || !date)
        return reply(c, 403, "<Error><Code>AccessDenied</Code></Error>", NULL, NULL);
    if (!strncmp(url, "/b/rng-", 7) || !strncmp(url, "/b/part", 7))
        return ranged(c, url);
    if (!strcmp(url, "/b/redirect-always")) {
        bump(0);
        return reply(c, 400,
                     "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization "
                     "header is malformed; the region 'x' is wrong; expecting 'eu-west-1'"
                     "</Message><Region>eu-west-1</Region></Error>",
                     NULL, NULL);
    }
    if (!strcmp(url, "/b/perm-redirect")) {
        bump(1);
        if (strstr(auth, "/ap-south-1/s3/aws4_request"))
            return reply(c, 200, "", "ETag", "\"abc\"");
        return reply(c, 301,
                     "<Error><Code>PermanentRedirect</Code><Message>Use the endpoint."
                     "</Message><Endpoint>b.s3.ap-south-1.amazonaws.com</Endpoint></Error>",
                     NULL, NULL);
    }
    if (!strcmp(url, "/b/qos")) {
        if (bump(2) == 1)
            return reply(c, 503, "<Error><Code>ServiceUnavailable</Code></Error>",
                         "x-oss-qos-delay-time", "400");
        return reply(c, 200, "", NULL, NULL);
    }
    if (!strcmp(url, "/b/date"))
        return reply(c, 200, "", "x-echo-date", date);
    if (!strcmp(url, "/b/sha"))
        return reply(c, 200, "", "x-echo-sha",
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256"));
    if (!strcmp(url, "/b/copy-error")) {
        bump(3);
        return reply(c, 200,
                     "<?xml version=\"1.0\"?>\n<Error><Code>AccessDenied</Code><Message>Access "
                     "Denied</Message><RequestId>R1</RequestId></Error>",
                     NULL, NULL);
    }
    if (!strcmp(url, "/b/cut-xml"))
        return reply(c, 200, "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>x", NULL,
                     NULL);
    if (!strcmp(url, "/b/")) {
        bump(4);
        return reply(c, 200,
                     "<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>"
                     "<Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>",
                     NULL, NULL);
    }
    if (!strcmp(url, "/order/") || !strcmp(url, "/loop/") || !strcmp(url, "/after/")) {
        /* ListObjectsV2 pages: "order" goes back across pages (a, c | b, d), "loop" sends
         * tokens T1, T2, T1 (keys always increasing), "after" lists a key before its
         * start-after */
        const char *tok =
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continuation-token");
        int n = bump(5);
        char body[512];
        if (url[1] == 'a' || n > 50) /* 50: a client without guards ends, and fails */
            snprintf(body, sizeof(body), "%s",
                     "<ListBucketResult><IsTruncated>false</IsTruncated>"
                     "<Contents><Key>a</Key></Contents></ListBucketResult>");
        else
            snprintf(body, sizeof(body),
                     "<ListBucketResult><IsTruncated>true</IsTruncated>"
                     "<Contents><Key>%s%02d</Key></Contents><Contents><Key>%s%02d</Key>"
                     "</Contents><NextContinuationToken>%s</NextContinuationToken>"
                     "</ListBucketResult>",
                     url[1] == 'o' ? (tok ? "b" : "a") : "k", url[1] == 'o' ? 0 : 2 * n,
                     url[1] == 'o' ? (tok ? "d" : "c") : "k", url[1] == 'o' ? 0 : 2 * n + 1,
                     !tok                 ? "T1"
                     : !strcmp(tok, "T1") ? "T2"
                                          : "T1");
        return reply(c, 200, body, NULL, NULL);
    }
    return reply(c, 404, "<Error><Code>NoSuchKey</Code></Error>", NULL, NULL);
}

typedef struct {
    int done;
    ferry_s3_result_t r;
    char echo_date[32];
    char echo_sha[80];
} res_t;

static void done_cb(void *arg, const ferry_s3_result_t *r)
{
    res_t *x = arg;
    x->done++;
    x->r = *r;
    const char *d = ferry_s3_result_header(r, "x-echo-date");
    if (d)
        snprintf(x->echo_date, sizeof(x->echo_date), "%s", d);
    d = ferry_s3_result_header(r, "x-echo-sha");
    if (d)
        snprintf(x->echo_sha, sizeof(x->echo_sha), "%s", d);
}

static int64_t fixed_now(void *ud)
{
    (void)ud;
    return 1369353600000LL; /* 2013-05-24T00:00:00Z, the AWS test-suite date */
}

static uv_loop_t loop;
static char endpoint[64];

static ferry_s3_t *client(ferry_profile_t *prof, int fixed_clock)
{
    ferry_profile_overrides_t ov;
    ferry_error_t err;
    ferry_s3_t *c;
    ferry_profile_overrides_init(&ov);
    ov.endpoint = endpoint;
    ov.region = "us-east-1";
    REQUIRE(ferry_profile_resolve("s3c", &ov, prof, &err) == FERRY_OK);
    ferry_retry_policy_t pol;
    ferry_retry_policy_init(&pol);
    pol.base_ms = 1;
    pol.cap_ms = 5;
    ferry_s3_config_t cfg = {.profile = prof,
                             .creds = {"AKID", "SECRET", "TOKEN"},
                             .retry = &pol,
                             .role = "destination",
                             .now_ms = fixed_clock ? fixed_now : NULL};
    REQUIRE(ferry_s3_new(&loop, &cfg, &c, &err) == FERRY_OK);
    return c;
}

static void run(res_t *x)
{
    while (!x->done)
        uv_run(&loop, UV_RUN_ONCE);
}

static void put(ferry_s3_t *c, const char *key, res_t *x)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    ferry_s3_args_init(&a);
    a.bucket = "b";
    a.key = key;
    a.body = "x";
    a.body_len = 1;
    memset(x, 0, sizeof(*x));
    REQUIRE(ferry_s3_put(c, &a, done_cb, x, NULL, &err) == FERRY_OK);
    run(x);
}

static void client_free(ferry_s3_t *c)
{
    ferry_s3_free(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
}

typedef struct {
    size_t off, got; /* where the sink starts in rng_data, bytes taken */
    int bad;         /* a byte differed from rng_data at its offset */
} rng_sink_t;

static int rng_sink(void *arg, const char *p, size_t n)
{
    rng_sink_t *k = arg;
    if (k->off + k->got + n > RNG_TOTAL || memcmp(rng_data + k->off + k->got, p, n) != 0)
        k->bad = 1;
    k->got += n;
    return FERRY_OK;
}

static void get_range(ferry_s3_t *c, const char *key, int64_t start, int64_t end, res_t *x,
                      rng_sink_t *k)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    ferry_s3_args_init(&a);
    a.bucket = "b";
    a.key = key;
    a.range_start = start;
    a.range_end = end;
    a.sink = rng_sink;
    a.arg = k;
    memset(x, 0, sizeof(*x));
    memset(k, 0, sizeof(*k));
    k->off = start > 0 ? (size_t)start : 0;
    REQUIRE(ferry_s3_get(c, &a, done_cb, x, NULL, &err) == FERRY_OK);
    run(x);
}

/* Issue 12 item 2: a resumed GET takes only the exact bytes it asked for. */
static void test_resumed_ranges(void)
{
    ferry_profile_t prof;
    res_t x;
    rng_sink_t k;
    for (size_t i = 0; i < RNG_TOTAL; i++)
        rng_data[i] = (char)((i * 7 + i / 251) & 0xff);
    ferry_s3_t *c = client(&prof, 0);

    get_range(c, "rng-ok", -1, -1, &x, &k); /* a well-behaved resume */
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 2);
    CHECK_INT(k.got, RNG_TOTAL);
    CHECK_INT(k.bad, 0);

    static const struct {
        const char *key;
        int rc;
    } bad[] = {
        {"rng-start", FERRY_ERETRY}, /* 206 for bytes 0-: the first half twice if spliced */
        {"rng-etag", FERRY_ECHANGED}, {"rng-total", FERRY_ERETRY},
        {"rng-nocr", FERRY_ERETRY},   {"rng-200", FERRY_ERETRY},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        get_range(c, bad[i].key, -1, -1, &x, &k);
        printf("resume answered by %s: rc %d, %zu bytes delivered: %s\n", bad[i].key, x.r.rc, k.got,
               x.r.err.msg);
        CHECK_INT(x.r.rc, bad[i].rc);
        CHECK_INT(k.bad, 0);       /* never a byte at the wrong offset */
        CHECK_INT(k.got, RNG_CUT); /* only the first attempt's bytes */
        CHECK(strstr(x.r.err.msg, "bytes=100000-") != NULL);
    }

    /* a first ranged GET answered for another range */
    get_range(c, "part", 10, 19, &x, &k);
    CHECK_INT(x.r.rc, FERRY_ERETRY);
    CHECK_INT(k.got, 0);
    printf("ranged GET answered for another range: %s\n", x.r.err.msg);
    get_range(c, "part-ok", 10, 19, &x, &k);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(k.got, 10);
    CHECK_INT(k.bad, 0);
    client_free(c);
}

static int count_obj(void *arg, const ferry_s3xml_object_t *o)
{
    (void)o;
    (*(int *)arg)++;
    return FERRY_OK;
}

/* Issue 12 item 6: one ListObjects call (all pages, the operation's own guard) stops on keys
 * that go back across pages, on a token seen before, and on a key not after start-after;
 * a bad page delivers none of its entries. */
static void test_list_guard(void)
{
    ferry_profile_t prof;
    res_t x;
    ferry_s3_t *c = client(&prof, 0);
    static const struct {
        const char *bucket, *start_after, *says;
        int delivered;
    } cases[] = {
        {"order", NULL, "out of byte order: key \"b00\" came after \"c00\"", 2},
        {"loop", NULL, "continuation token \"T1\" a second time", 6},
        {"after", "b", "key \"a\" came after \"b\"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferry_s3_list_args_t la;
        ferry_error_t err;
        int n = 0;
        memset(&la, 0, sizeof(la));
        la.bucket = cases[i].bucket;
        la.start_after = cases[i].start_after;
        la.version = 2;
        la.on_object = count_obj;
        la.arg = &n;
        memset(&x, 0, sizeof(x));
        REQUIRE(ferry_s3_list(c, &la, done_cb, &x, NULL, &err) == FERRY_OK);
        run(&x);
        printf("list guard, %s: %s\n", cases[i].bucket, x.r.err.msg);
        CHECK_INT(x.r.rc, FERRY_EPARSE);
        CHECK(strstr(x.r.err.msg, cases[i].says) != NULL);
        CHECK(strstr(x.r.err.msg, endpoint) != NULL);
        CHECK_INT(n, cases[i].delivered);
    }
    client_free(c);
}

/* Issue 12 item 16: '.' and '..' segments cannot travel path-style. */
static void test_dot_segments(void)
{
    ferry_profile_t prof;
    res_t x;
    ferry_s3_t *c = client(&prof, 0);
    REQUIRE(prof.path_style == 1);
    static const char *const refused[] = {"a/../b", "./x", "x/.", "..", "a/./b", "../../etc"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ferry_s3_args_t a;
        ferry_error_t err;
        ferry_s3_args_init(&a);
        a.bucket = "b";
        a.key = refused[i];
        a.body = "x";
        a.body_len = 1;
        memset(&x, 0, sizeof(x));
        CHECK_INT(ferry_s3_put(c, &a, done_cb, &x, NULL, &err), FERRY_EINVAL);
        CHECK(strstr(err.msg, "segment") && strstr(err.msg, "virtual-hosted"));
        a.sink = rng_sink;
        CHECK_INT(ferry_s3_get(c, &a, done_cb, &x, NULL, &err), FERRY_EINVAL);
        CHECK_INT(ferry_s3_delete(c, &a, done_cb, &x, NULL, &err), FERRY_EINVAL);
        if (i == 0)
            printf("path-style dot segment: %s\n", err.msg);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT(x.done, 0);
    /* dots that are not whole segments are ordinary keys */
    static const char *const fine[] = {"a..b", "..a/b.", ".x/y", "a/...", "a/.b/c"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        ferry_s3_args_t a;
        ferry_error_t err;
        ferry_s3_args_init(&a);
        a.bucket = "b";
        a.key = fine[i];
        memset(&x, 0, sizeof(x));
        CHECK_INT(ferry_s3_head(c, &a, done_cb, &x, NULL, &err), FERRY_OK);
        run(&x);
        CHECK_INT(x.r.status, 404);
    }
    client_free(c);
}

int main(void)
{
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                         NULL, handler, NULL, MHD_OPTION_END);
    REQUIRE(d != NULL);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d",
             MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    REQUIRE(uv_loop_init(&loop) == 0);
    ferry_profile_t prof;
    res_t x;

    /* wrong region, every time: followed once, then an error naming the region */
    ferry_s3_t *c = client(&prof, 0);
    put(c, "redirect-always", &x);
    CHECK(x.r.rc != FERRY_OK);
    CHECK_INT(hits[0], 2);
    CHECK_INT(x.r.attempts, 2);
    CHECK(strstr(x.r.err.msg, "eu-west-1") && strstr(x.r.err.msg, "--dst-region"));
    printf("redirect loop: %s\n", x.r.err.msg);
    client_free(c);

    /* PermanentRedirect: the region comes from <Endpoint> */
    c = client(&prof, 0);
    put(c, "perm-redirect", &x);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(hits[1], 2);
    CHECK_STR(ferry_s3_profile(c)->signing_region, "ap-south-1");
    client_free(c);

    /* x-oss-qos-delay-time is a floor on the wait */
    c = client(&prof, 0);
    double t0 = ferry_mono_s();
    put(c, "qos", &x);
    double el = ferry_mono_s() - t0;
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_INT(x.r.attempts, 2);
    CHECK(el >= 0.39);
    printf("qos delay 400 ms: retried after %.3f s\n", el);

    /* a 200 carrying <Error> is a failure, not retried when the code is not retryable */
    ferry_s3_args_t a;
    ferry_error_t err;
    ferry_s3_args_init(&a);
    a.bucket = "b";
    a.key = "copy-error";
    a.copy_bucket = "src";
    a.copy_key = "k";
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_copy(c, &a, done_cb, &x, NULL, &err) == FERRY_OK);
    run(&x);
    CHECK(x.r.rc != FERRY_OK);
    CHECK_INT(x.r.status, 200);
    CHECK_STR(x.r.err.s3_code, "AccessDenied");
    CHECK_INT(hits[3], 1);
    CHECK_STR(x.r.request_id, "R1"); /* from the body when no header has it */
    printf("200 with <Error>: %s\n", x.r.err.msg);

    /* a cut XML body is a parse error */
    ferry_s3_args_init(&a);
    a.bucket = "b";
    a.key = "cut-xml";
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_create_multipart(c, &a, done_cb, &x, NULL, &err) == FERRY_OK);
    run(&x);
    CHECK_INT(x.r.rc, FERRY_EPARSE);

    /* "truncated" with no token: an error after one request, never a loop */
    ferry_s3_list_args_t la;
    memset(&la, 0, sizeof(la));
    la.bucket = "b";
    la.version = 2;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_list(c, &la, done_cb, &x, NULL, &err) == FERRY_OK);
    run(&x);
    CHECK_INT(x.r.rc, FERRY_EPARSE);
    CHECK_INT(hits[4], 1);
    printf("truncated without a token: %s\n", x.r.err.msg);
    client_free(c);

    /* the injected clock signs the request */
    c = client(&prof, 1);
    put(c, "date", &x);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_STR(x.echo_date, "20130524T000000Z");
    client_free(c);

    /* the payload hash of a memory body: its SHA-256, unless a signed checksum header covers
     * the body (then UNSIGNED-PAYLOAD, as for streamed bodies: not hashed twice) */
    c = client(&prof, 0);
    put(c, "sha", &x);
    CHECK_INT(x.r.rc, FERRY_OK);
    CHECK_STR(x.echo_sha, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    const char *sums[2][2] = {{"content_md5", "ndTkYSaMgDT1yFZOFVxnpg=="},
                              {"checksum_crc32c", "qTxfkw=="}};
    for (int i = 0; i < 2; i++) {
        ferry_s3_args_init(&a);
        a.bucket = "b";
        a.key = "sha";
        a.body = "x";
        a.body_len = 1;
        if (i == 0)
            a.content_md5 = sums[i][1];
        else
            a.checksum_crc32c = sums[i][1];
        memset(&x, 0, sizeof(x));
        REQUIRE(ferry_s3_put(c, &a, done_cb, &x, NULL, &err) == FERRY_OK);
        run(&x);
        CHECK_INT(x.r.rc, FERRY_OK);
        CHECK_STR(x.echo_sha, "UNSIGNED-PAYLOAD");
        printf("payload hash with %s: %s\n", sums[i][0], x.echo_sha);
    }
    client_free(c);

    /* argument errors: no callback */
    c = client(&prof, 0);
    memset(&x, 0, sizeof(x));
    ferry_s3_args_init(&a);
    a.bucket = "b";
    CHECK_INT(ferry_s3_put(c, &a, done_cb, &x, NULL, &err), FERRY_EINVAL); /* no key */
    a.key = "k";
    CHECK_INT(ferry_s3_get(c, &a, done_cb, &x, NULL, &err), FERRY_EINVAL); /* no sink */
    a.upload_id = "u";
    a.part_number = 10001;
    CHECK_INT(ferry_s3_upload_part(c, &a, done_cb, &x, NULL, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "10001") != NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT(x.done, 0);
    client_free(c);

    test_resumed_ranges();
    test_list_guard();
    test_dot_segments();

    CHECK_INT(uv_loop_close(&loop), 0);
    MHD_stop_daemon(d);
    return test_summary();
}
