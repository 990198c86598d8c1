/* Retry policy: classification of request outcomes and backoff with full jitter.
 * Contract: ferry/retry.h. Sources for the code lists: docs/providers.md §6 (OSS [A23,A24], COS
 * [T15], S3 [S14], rclone [R1]). */
#include "ferry/retry.h"

#include "ferry/error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Store error codes meaning "slow down" (any provider). */
static const char *const throttle_codes[] = {
    "SlowDown", "Throttling", "ThrottlingException", "TooManyRequests", "RequestThrottled",
    "RequestLimitExceeded", "ServiceUnavailable", "TooManyRequestsException",
    "BandwidthLimitExceeded",
    /* Aliyun OSS 503/429 codes [A23,A24]; the oss profile lists them too. */
    "DownloadTrafficRateLimitExceeded", "UploadTrafficRateLimitExceeded",
    "MetaOperationQpsLimitExceeded", "TotalQpsLimitExceeded", "ActiveRequestLimitExceeded",
    "CpuLimitExceeded", "QpsLimitExceeded", NULL};

/* Store error codes for a temporary failure worth another try. */
static const char *const transient_codes[] = {"InternalError",           "InternalServerError",
                                              "RequestTimeout",          "OperationAborted",
                                              "RequestTimeoutException", "ServerBusy",
                                              "PriorRequestNotComplete", "BadGateway",
                                              "GatewayTimeout",          NULL};

/* Codes that say "you are talking to the wrong region or endpoint". */
static const char *const redirect_codes[] = {"PermanentRedirect",
                                             "TemporaryRedirect",
                                             "AuthorizationHeaderMalformed",
                                             "IllegalLocationConstraintException",
                                             "Redirect",
                                             NULL};

/* Codes that never get better by waiting (documented; anything unlisted under 500 is fatal
 * too). They win over a 5xx status. */
static const char *const fatal_codes[] = {"AccessDenied",
                                          "InvalidAccessKeyId",
                                          "SignatureDoesNotMatch",
                                          "NoSuchBucket",
                                          "NoSuchKey",
                                          "NoSuchUpload",
                                          "BadDigest",
                                          "InvalidArgument",
                                          "InvalidRequest",
                                          "InvalidDigest",
                                          "EntityTooSmall",
                                          "EntityTooLarge",
                                          "InvalidPart",
                                          "InvalidPartOrder",
                                          "InvalidBucketName",
                                          "PreconditionFailed",
                                          "NotImplemented",
                                          "MethodNotAllowed",
                                          "MalformedXML",
                                          "RequestTimeTooSkewed",
                                          "ExpiredToken",
                                          "InvalidToken",
                                          "AccountProblem",
                                          "KeyTooLongError",
                                          "MissingContentLength",
                                          "InvalidObjectState",
                                          "SecondLevelDomainForbidden",
                                          "PathStyleDomainForbidden",
                                          "DownloadForbidden",
                                          NULL};

static int in_list(const char *const *l, const char *code)
{
    for (; l && *l; l++)
        if (strcmp(*l, code) == 0)
            return 1;
    return 0;
}

static int has(const char *s)
{
    return s != NULL && s[0] != '\0';
}

void ferry_retry_policy_init(ferry_retry_policy_t *p)
{
    memset(p, 0, sizeof(*p));
    p->max_attempts = 6;
    p->base_ms = 200;
    p->cap_ms = 20000;
    p->max_floor_ms = 120000;
}

ferry_retry_class_t ferry_retry_classify(const ferry_retry_policy_t *pol,
                                         const ferry_retry_outcome_t *o)
{
    const char *code = has(o->s3_code) ? o->s3_code : NULL;
    int st = o->http_status;
    int where = has(o->region) || has(o->endpoint);

    if (o->net != FERRY_NETFAIL_NONE) {
        switch (o->net) {
        case FERRY_NETFAIL_RESET:
        case FERRY_NETFAIL_TIMEOUT:
        case FERRY_NETFAIL_REFUSED:
        case FERRY_NETFAIL_DNS:
            return FERRY_RETRY_TRANSIENT;
        default:
            return FERRY_RETRY_FATAL;
        }
    }
    if (code) {
        if (in_list(redirect_codes, code) || st == 301 || st == 307) {
            /* AuthorizationHeaderMalformed without a region is a real signing bug. */
            return where ? FERRY_RETRY_REDIRECT_REGION : FERRY_RETRY_FATAL;
        }
        if (in_list(throttle_codes, code) || (pol && in_list(pol->extra_codes, code)))
            return FERRY_RETRY_THROTTLED;
        if (in_list(transient_codes, code))
            return FERRY_RETRY_TRANSIENT;
        if (in_list(fatal_codes, code))
            return FERRY_RETRY_FATAL;
    }
    if (st == 301 || st == 307)
        return where ? FERRY_RETRY_REDIRECT_REGION : FERRY_RETRY_FATAL;
    if (st >= 200 && st < 300)
        return code ? FERRY_RETRY_FATAL : FERRY_RETRY_NONE; /* 200 with an unknown <Error> */
    if (st == 429)
        return FERRY_RETRY_THROTTLED;
    if (st == 503)
        return FERRY_RETRY_THROTTLED;
    if (st == 408)
        return FERRY_RETRY_TRANSIENT;
    if (st >= 500 && st <= 599 && st != 501)
        return FERRY_RETRY_TRANSIENT;
    return FERRY_RETRY_FATAL;
}

int ferry_retry_class_retryable(ferry_retry_class_t c)
{
    return c == FERRY_RETRY_TRANSIENT || c == FERRY_RETRY_THROTTLED;
}

const char *ferry_retry_class_name(ferry_retry_class_t c)
{
    switch (c) {
    case FERRY_RETRY_NONE:
        return "none";
    case FERRY_RETRY_TRANSIENT:
        return "transient";
    case FERRY_RETRY_THROTTLED:
        return "throttled";
    case FERRY_RETRY_REDIRECT_REGION:
        return "redirect-region";
    case FERRY_RETRY_FATAL:
        return "fatal";
    }
    return "unknown";
}

uint64_t ferry_retry_delay_ms(const ferry_retry_policy_t *pol, unsigned attempt, uint64_t floor_ms)
{
    if (attempt == 0)
        attempt = 1;
    uint64_t cap = pol->cap_ms;
    uint64_t upper = pol->base_ms;
    for (unsigned i = 1; i < attempt && upper < cap; i++)
        upper <<= 1; /* base_ms < 2^32, so at most cap*2 < 2^33: no overflow */
    if (upper > cap)
        upper = cap;
    uint64_t d = upper;
    if (pol->rand)
        d = upper == UINT64_MAX ? pol->rand(pol->rand_ud) : pol->rand(pol->rand_ud) % (upper + 1);
    uint64_t fl = floor_ms < pol->max_floor_ms ? floor_ms : pol->max_floor_ms;
    return d > fl ? d : fl;
}

int ferry_retry_next(const ferry_retry_policy_t *pol, const ferry_retry_outcome_t *o,
                     unsigned attempt, ferry_retry_class_t *cls, uint64_t *delay_ms)
{
    ferry_retry_class_t c = ferry_retry_classify(pol, o);
    if (cls)
        *cls = c;
    *delay_ms = 0;
    if (c == FERRY_RETRY_REDIRECT_REGION)
        return 1;
    if (!ferry_retry_class_retryable(c) || attempt >= pol->max_attempts)
        return 0;
    *delay_ms = ferry_retry_delay_ms(pol, attempt, o->floor_ms);
    return 1;
}

int ferry_retry_errcode(const ferry_retry_outcome_t *o)
{
    ferry_retry_class_t c = ferry_retry_classify(NULL, o);
    const char *code = has(o->s3_code) ? o->s3_code : "";
    if (c == FERRY_RETRY_NONE)
        return FERRY_OK;
    if (o->net == FERRY_NETFAIL_TIMEOUT)
        return FERRY_ETIMEOUT;
    if (o->net != FERRY_NETFAIL_NONE)
        return FERRY_ENET;
    if (ferry_retry_class_retryable(c))
        return FERRY_ERETRY;
    if (!strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "SignatureDoesNotMatch") ||
        !strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") ||
        !strcmp(code, "RequestTimeTooSkewed"))
        return FERRY_EAUTH;
    if (!strcmp(code, "AccessDenied") || o->http_status == 403)
        return FERRY_EDENIED;
    if (!strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchBucket") ||
        !strcmp(code, "NoSuchUpload") || o->http_status == 404)
        return FERRY_ENOTFOUND;
    if (!strcmp(code, "PreconditionFailed") || o->http_status == 412)
        return FERRY_ECHANGED;
    if (!strcmp(code, "BadDigest") || !strcmp(code, "InvalidDigest"))
        return FERRY_ECHECKSUM;
    if (!strcmp(code, "NotImplemented") || o->http_status == 501)
        return FERRY_EUNSUPPORTED;
    return FERRY_ES3;
}

/* ---- hints ----------------------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (s[i] == ' ')
        i++;
    size_t start = i;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return FERRY_EPARSE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == start)
        return FERRY_EPARSE;
    while (s[i] == ' ')
        i++;
    if (s[i] != '\0')
        return FERRY_EPARSE;
    *out = v;
    return FERRY_OK;
}

static int month_no(const char *m)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strcmp(m, names[i]) == 0)
            return i + 1;
    return 0;
}

static int64_t civil_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, obsolete RFC 850, asctime. */
static int parse_http_date(const char *s, int64_t *out_ms)
{
    char mon[4] = {0}, wd[16] = {0};
    int d, y, h, mi, se, end = -1;
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &h, &mi, &se,
               &end) == 7 &&
        end > 0 && s[end] == '\0') {
        /* IMF-fixdate */
    } else if (end = -1, sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd, &d, mon,
                                &y, &h, &mi, &se, &end) == 7 &&
                             end > 0 && s[end] == '\0') {
        y += y < 70 ? 2000 : 1900;
    } else if (end = -1, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &h,
                                &mi, &se, &y, &end) == 7 &&
                             end > 0 && s[end] == '\0') {
        /* asctime */
    } else {
        return FERRY_EPARSE;
    }
    int m = month_no(mon);
    if (!m || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return FERRY_EPARSE;
    *out_ms = (civil_days(y, m, d) * 86400 + h * 3600 + mi * 60 + se) * 1000;
    return FERRY_OK;
}

int ferry_retry_parse_retry_after(const char *value, int64_t now_ms, uint64_t *out_ms)
{
    if (value == NULL)
        return FERRY_EPARSE;
    uint64_t secs;
    if (parse_u64(value, &secs) == FERRY_OK) {
        if (secs > UINT64_MAX / 1000)
            return FERRY_EPARSE;
        *out_ms = secs * 1000;
        return FERRY_OK;
    }
    int64_t at;
    if (parse_http_date(value, &at))
        return FERRY_EPARSE;
    *out_ms = at > now_ms ? (uint64_t)(at - now_ms) : 0;
    return FERRY_OK;
}

int ferry_retry_parse_qos_delay(const char *value, uint64_t *out_ms)
{
    if (value == NULL)
        return FERRY_EPARSE;
    return parse_u64(value, out_ms);
}

void ferry_retry_rng_seed(ferry_retry_rng_t *r, uint64_t seed)
{
    r->state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t ferry_retry_rng_next(void *rng)
{
    ferry_retry_rng_t *r = rng;
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
