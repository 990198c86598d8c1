/* Tests for ferry/retry.h: the classification table, full-jitter bounds with a fixed random
 * source, the cap, server hints as floors, and hint parsing. */
#include "ferry/retry.h"

#include "ferry/error.h"

#include "test.h"

static ferry_retry_outcome_t st(int status, const char *code)
{
    ferry_retry_outcome_t o = {.http_status = status, .s3_code = code};
    return o;
}

static void test_classify(void)
{
    static const struct {
        int status;
        const char *code;
        ferry_netfail_t net;
        const char *region;
        ferry_retry_class_t want;
    } rows[] = {
        {200, NULL, 0, NULL, FERRY_RETRY_NONE},
        {204, "", 0, NULL, FERRY_RETRY_NONE},
        {500, NULL, 0, NULL, FERRY_RETRY_TRANSIENT},
        {500, "InternalError", 0, NULL, FERRY_RETRY_TRANSIENT},
        {502, NULL, 0, NULL, FERRY_RETRY_TRANSIENT},
        {504, NULL, 0, NULL, FERRY_RETRY_TRANSIENT},
        {501, NULL, 0, NULL, FERRY_RETRY_FATAL},
        {501, "NotImplemented", 0, NULL, FERRY_RETRY_FATAL},
        {503, NULL, 0, NULL, FERRY_RETRY_THROTTLED},
        {503, "SlowDown", 0, NULL, FERRY_RETRY_THROTTLED},
        {503, "ServiceUnavailable", 0, NULL, FERRY_RETRY_THROTTLED},
        {429, NULL, 0, NULL, FERRY_RETRY_THROTTLED},
        {429, "QpsLimitExceeded", 0, NULL, FERRY_RETRY_THROTTLED},
        {503, "DownloadTrafficRateLimitExceeded", 0, NULL, FERRY_RETRY_THROTTLED},
        {503, "MetaOperationQpsLimitExceeded", 0, NULL, FERRY_RETRY_THROTTLED},
        {400, "RequestTimeout", 0, NULL, FERRY_RETRY_TRANSIENT},
        {409, "OperationAborted", 0, NULL, FERRY_RETRY_TRANSIENT},
        {408, NULL, 0, NULL, FERRY_RETRY_TRANSIENT},
        {200, "InternalError", 0, NULL, FERRY_RETRY_TRANSIENT}, /* COS Complete 200+Error */
        {200, "AccessDenied", 0, NULL, FERRY_RETRY_FATAL},
        {200, "SomethingNew", 0, NULL, FERRY_RETRY_FATAL},
        {403, NULL, 0, NULL, FERRY_RETRY_FATAL},
        {403, "AccessDenied", 0, NULL, FERRY_RETRY_FATAL},
        {403, "InvalidAccessKeyId", 0, NULL, FERRY_RETRY_FATAL},
        {403, "SignatureDoesNotMatch", 0, NULL, FERRY_RETRY_FATAL},
        {403, "RequestTimeTooSkewed", 0, NULL, FERRY_RETRY_FATAL},
        {404, NULL, 0, NULL, FERRY_RETRY_FATAL},
        {404, "NoSuchKey", 0, NULL, FERRY_RETRY_FATAL},
        {404, "NoSuchBucket", 0, NULL, FERRY_RETRY_FATAL},
        {400, "BadDigest", 0, NULL, FERRY_RETRY_FATAL},
        {400, "InvalidArgument", 0, NULL, FERRY_RETRY_FATAL},
        {412, "PreconditionFailed", 0, NULL, FERRY_RETRY_FATAL},
        {403, "SecondLevelDomainForbidden", 0, NULL, FERRY_RETRY_FATAL},
        {500, "AccessDenied", 0, NULL, FERRY_RETRY_FATAL}, /* the code wins */
        {301, "PermanentRedirect", 0, "eu-west-1", FERRY_RETRY_REDIRECT_REGION},
        {301, NULL, 0, "eu-west-1", FERRY_RETRY_REDIRECT_REGION}, /* HEAD: no body */
        {301, NULL, 0, NULL, FERRY_RETRY_FATAL},
        {307, "TemporaryRedirect", 0, "us-west-2", FERRY_RETRY_REDIRECT_REGION},
        {400, "AuthorizationHeaderMalformed", 0, "eu-west-1", FERRY_RETRY_REDIRECT_REGION},
        {400, "AuthorizationHeaderMalformed", 0, NULL, FERRY_RETRY_FATAL},
        {0, NULL, FERRY_NETFAIL_RESET, NULL, FERRY_RETRY_TRANSIENT},
        {0, NULL, FERRY_NETFAIL_TIMEOUT, NULL, FERRY_RETRY_TRANSIENT},
        {0, NULL, FERRY_NETFAIL_REFUSED, NULL, FERRY_RETRY_TRANSIENT},
        {0, NULL, FERRY_NETFAIL_DNS, NULL, FERRY_RETRY_TRANSIENT},
        {0, NULL, FERRY_NETFAIL_TLS, NULL, FERRY_RETRY_FATAL},
        {0, NULL, FERRY_NETFAIL_OTHER, NULL, FERRY_RETRY_FATAL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ferry_retry_outcome_t o = {.http_status = rows[i].status,
                                   .s3_code = rows[i].code,
                                   .net = rows[i].net,
                                   .region = rows[i].region};
        ferry_retry_class_t c = ferry_retry_classify(NULL, &o);
        if (c != rows[i].want)
            fprintf(stderr, "row %zu: %d %s -> %s, want %s\n", i, rows[i].status,
                    rows[i].code ? rows[i].code : "-", ferry_retry_class_name(c),
                    ferry_retry_class_name(rows[i].want));
        CHECK_INT(c, rows[i].want);
    }
    /* profile extras: an unknown 400 code becomes throttling */
    static const char *const extra[] = {"WeirdThrottle", NULL};
    ferry_retry_policy_t pol;
    ferry_retry_policy_init(&pol);
    ferry_retry_outcome_t o = st(400, "WeirdThrottle");
    CHECK_INT(ferry_retry_classify(&pol, &o), FERRY_RETRY_FATAL);
    pol.extra_codes = extra;
    CHECK_INT(ferry_retry_classify(&pol, &o), FERRY_RETRY_THROTTLED);
    CHECK_STR(ferry_retry_class_name(FERRY_RETRY_REDIRECT_REGION), "redirect-region");
    CHECK(ferry_retry_class_retryable(FERRY_RETRY_THROTTLED));
    CHECK(!ferry_retry_class_retryable(FERRY_RETRY_REDIRECT_REGION));
}

static void test_errcode(void)
{
    ferry_retry_outcome_t o = st(404, "NoSuchKey");
    CHECK_INT(ferry_retry_errcode(&o), FERRY_ENOTFOUND);
    o = st(403, "AccessDenied");
    CHECK_INT(ferry_retry_errcode(&o), FERRY_EDENIED);
    o = st(403, "SignatureDoesNotMatch");
    CHECK_INT(ferry_retry_errcode(&o), FERRY_EAUTH);
    o = st(412, NULL);
    CHECK_INT(ferry_retry_errcode(&o), FERRY_ECHANGED);
    o = st(400, "BadDigest");
    CHECK_INT(ferry_retry_errcode(&o), FERRY_ECHECKSUM);
    o = st(503, "SlowDown");
    CHECK_INT(ferry_retry_errcode(&o), FERRY_ERETRY);
    o = st(200, NULL);
    CHECK_INT(ferry_retry_errcode(&o), FERRY_OK);
    o = st(400, "InvalidArgument");
    CHECK_INT(ferry_retry_errcode(&o), FERRY_ES3);
    o = st(501, NULL);
    CHECK_INT(ferry_retry_errcode(&o), FERRY_EUNSUPPORTED);
    ferry_retry_outcome_t t = {.net = FERRY_NETFAIL_TIMEOUT};
    CHECK_INT(ferry_retry_errcode(&t), FERRY_ETIMEOUT);
    t.net = FERRY_NETFAIL_TLS;
    CHECK_INT(ferry_retry_errcode(&t), FERRY_ENET);
}

/* A scripted random source. */
typedef struct {
    uint64_t v[8];
    int n, i;
} script_t;
static uint64_t scripted(void *ud)
{
    script_t *s = ud;
    return s->v[s->i++ % s->n];
}

static void test_backoff(void)
{
    ferry_retry_policy_t pol;
    ferry_retry_policy_init(&pol);
    CHECK_INT(pol.max_attempts, 6);
    CHECK_INT(pol.base_ms, 200);
    CHECK_INT(pol.cap_ms, 20000);
    /* no rand: the upper bound, doubling, capped */
    CHECK_INT(ferry_retry_delay_ms(&pol, 0, 0), 200);
    CHECK_INT(ferry_retry_delay_ms(&pol, 1, 0), 200);
    CHECK_INT(ferry_retry_delay_ms(&pol, 2, 0), 400);
    CHECK_INT(ferry_retry_delay_ms(&pol, 5, 0), 3200);
    CHECK_INT(ferry_retry_delay_ms(&pol, 8, 0), 20000);
    CHECK_INT(ferry_retry_delay_ms(&pol, 1000, 0), 20000);
    /* full jitter: rand % (upper + 1) */
    script_t s = {{0, 1, 401, UINT64_MAX, 12345678901234ull}, 5, 0};
    pol.rand = scripted;
    pol.rand_ud = &s;
    CHECK_INT(ferry_retry_delay_ms(&pol, 2, 0), 0);
    CHECK_INT(ferry_retry_delay_ms(&pol, 2, 0), 1);
    CHECK_INT(ferry_retry_delay_ms(&pol, 2, 0), 0); /* 401 % 401 */
    CHECK_INT(ferry_retry_delay_ms(&pol, 2, 0), UINT64_MAX % 401);
    CHECK_INT(ferry_retry_delay_ms(&pol, 30, 0), 12345678901234ull % 20001);
    /* bounds over many draws with a real generator */
    ferry_retry_rng_t rng;
    ferry_retry_rng_seed(&rng, 42);
    pol.rand = ferry_retry_rng_next;
    pol.rand_ud = &rng;
    for (unsigned a = 1; a <= 12; a++) {
        uint64_t upper = 200ull << (a - 1);
        if (upper > 20000)
            upper = 20000;
        uint64_t mx = 0, mn = UINT64_MAX;
        for (int i = 0; i < 2000; i++) {
            uint64_t d = ferry_retry_delay_ms(&pol, a, 0);
            mx = d > mx ? d : mx;
            mn = d < mn ? d : mn;
        }
        CHECK(mx <= upper);
        CHECK(mx > upper * 9 / 10); /* the whole range is used */
        CHECK(mn < upper / 10 + 1);
    }
    /* floors: Retry-After / x-oss-qos-delay-time; capped at max_floor_ms */
    pol.rand = scripted;
    pol.rand_ud = &s;
    s = (script_t){{0}, 1, 0};
    CHECK_INT(ferry_retry_delay_ms(&pol, 1, 5000), 5000);
    s.v[0] = 150;
    CHECK_INT(ferry_retry_delay_ms(&pol, 1, 100), 150); /* jitter above the floor wins */
    CHECK_INT(ferry_retry_delay_ms(&pol, 1, 10000000), 120000);

    /* the whole decision */
    ferry_retry_class_t cls;
    uint64_t d;
    ferry_retry_outcome_t o = st(503, "SlowDown");
    o.floor_ms = 3000;
    CHECK_INT(ferry_retry_next(&pol, &o, 1, &cls, &d), 1);
    CHECK_INT(cls, FERRY_RETRY_THROTTLED);
    CHECK_INT(d, 3000);
    CHECK_INT(ferry_retry_next(&pol, &o, 5, &cls, &d), 1);
    CHECK_INT(ferry_retry_next(&pol, &o, 6, &cls, &d), 0); /* 6 attempts made */
    CHECK_INT(d, 0);
    o = st(404, "NoSuchKey");
    CHECK_INT(ferry_retry_next(&pol, &o, 1, &cls, &d), 0);
    CHECK_INT(cls, FERRY_RETRY_FATAL);
    o = st(400, "AuthorizationHeaderMalformed");
    o.region = "eu-west-1";
    CHECK_INT(ferry_retry_next(&pol, &o, 1, NULL, &d), 1);
    CHECK_INT(d, 0);
}

static void test_hints(void)
{
    uint64_t ms = 7;
    CHECK_INT(ferry_retry_parse_retry_after("120", 0, &ms), FERRY_OK);
    CHECK_INT(ms, 120000);
    CHECK_INT(ferry_retry_parse_retry_after(" 0 ", 0, &ms), FERRY_OK);
    CHECK_INT(ms, 0);
    /* 1994-11-06T08:49:37Z = 784111777 s */
    int64_t now = 784111777000LL - 30000;
    CHECK_INT(ferry_retry_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, &ms), FERRY_OK);
    CHECK_INT(ms, 30000);
    CHECK_INT(ferry_retry_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, &ms), FERRY_OK);
    CHECK_INT(ms, 30000);
    CHECK_INT(ferry_retry_parse_retry_after("Sun Nov  6 08:49:37 1994", now, &ms), FERRY_OK);
    CHECK_INT(ms, 30000);
    CHECK_INT(ferry_retry_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60000, &ms),
              FERRY_OK);
    CHECK_INT(ms, 0); /* in the past */
    ms = 7;
    CHECK_INT(ferry_retry_parse_retry_after("soon", 0, &ms), FERRY_EPARSE);
    CHECK_INT(ferry_retry_parse_retry_after("-5", 0, &ms), FERRY_EPARSE);
    CHECK_INT(ferry_retry_parse_retry_after("", 0, &ms), FERRY_EPARSE);
    CHECK_INT(ferry_retry_parse_retry_after(NULL, 0, &ms), FERRY_EPARSE);
    CHECK_INT(ferry_retry_parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0, &ms), FERRY_EPARSE);
    CHECK_INT(ferry_retry_parse_retry_after("99999999999999999999999", 0, &ms), FERRY_EPARSE);
    CHECK_INT(ms, 7);
    CHECK_INT(ferry_retry_parse_qos_delay("250", &ms), FERRY_OK);
    CHECK_INT(ms, 250);
    CHECK_INT(ferry_retry_parse_qos_delay("2.5", &ms), FERRY_EPARSE);
    CHECK_INT(ferry_retry_parse_qos_delay(NULL, &ms), FERRY_EPARSE);
    /* rng: seeded, repeatable, seed 0 allowed */
    ferry_retry_rng_t a, b;
    ferry_retry_rng_seed(&a, 0);
    ferry_retry_rng_seed(&b, 0);
    CHECK(ferry_retry_rng_next(&a) == ferry_retry_rng_next(&b));
    CHECK(ferry_retry_rng_next(&a) != 0);
}

int main(void)
{
    test_classify();
    test_errcode();
    test_backoff();
    test_hints();
    return test_summary();
}
