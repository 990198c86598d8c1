/* ferry — retry policy for S3 requests: which outcomes to retry, and how long to wait.
 *
 * Pure functions: no clock, no global state. Randomness comes from a function pointer the
 * caller supplies (ferry_retry_rng_next over a per-context ferry_retry_rng_t is provided), so
 * timing is repeatable in tests. Safe from any thread as long as the rng is not shared.
 *
 * Backoff is exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): after failed attempt n (n = 1 after the first failure) the wait is uniform in
 * [0, min(cap_ms, base_ms * 2^(n-1))]. A server hint — Retry-After (seconds or HTTP date) or
 * OSS's x-oss-qos-delay-time (ms) — is a floor on that wait, itself capped at max_floor_ms.
 */
#ifndef FERRY_RETRY_H
#define FERRY_RETRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What to do after an outcome. */
typedef enum ferry_retry_class_e {
    FERRY_RETRY_NONE = 0,        /* success (2xx without an error body): nothing to do */
    FERRY_RETRY_TRANSIENT,       /* retry after a backoff: 5xx but 501, InternalError,
                                    RequestTimeout, resets, timeouts, refused, DNS */
    FERRY_RETRY_THROTTLED,       /* retry after a backoff; the store asked us to slow down
                                    (429, SlowDown, 503 ServiceUnavailable, OSS/COS limits) —
                                    callers may also lower their concurrency */
    FERRY_RETRY_REDIRECT_REGION, /* wrong region: re-sign for outcome.region / use
                                    outcome.endpoint, once, without backoff */
    FERRY_RETRY_FATAL            /* do not retry (4xx, auth, 501, TLS, ...) */
} ferry_retry_class_t;

/* A transport failure before a complete response (from curl's result). */
typedef enum ferry_netfail_e {
    FERRY_NETFAIL_NONE = 0, /* a response was received */
    FERRY_NETFAIL_RESET,    /* connection reset / closed mid-transfer, partial body, send or
                               receive error, HTTP/2 stream error */
    FERRY_NETFAIL_TIMEOUT,  /* operation or low-speed timeout */
    FERRY_NETFAIL_REFUSED,  /* connect refused / unreachable */
    FERRY_NETFAIL_DNS,      /* host name did not resolve */
    FERRY_NETFAIL_TLS,      /* handshake or certificate failure: fatal (configuration) */
    FERRY_NETFAIL_OTHER     /* anything else curl reports: fatal */
} ferry_netfail_t;

/* One request's outcome. All pointers borrowed for the call; NULL and "" mean absent. */
typedef struct ferry_retry_outcome_s {
    int http_status;     /* 0 when net != NONE */
    const char *s3_code; /* <Code> of an error body (also of a 200 with <Error>) */
    ferry_netfail_t net;
    const char *region;   /* <Region> or x-amz-bucket-region, for wrong-region replies */
    const char *endpoint; /* <Endpoint> of a PermanentRedirect */
    uint64_t floor_ms;    /* server hint (Retry-After, x-oss-qos-delay-time), or 0 */
} ferry_retry_outcome_t;

typedef uint64_t (*ferry_retry_rand_fn)(void *ud); /* uniform over 0..UINT64_MAX */

/* The policy. Initialise with ferry_retry_policy_init, then change fields. */
typedef struct ferry_retry_policy_s {
    unsigned max_attempts;    /* total attempts including the first; default 6 */
    uint32_t base_ms;         /* default 200 */
    uint32_t cap_ms;          /* default 20000 */
    uint32_t max_floor_ms;    /* cap on a server hint; default 120000 */
    ferry_retry_rand_fn rand; /* NULL: no jitter, the wait is the upper bound (tests only) */
    void *rand_ud;
    /* Extra store error codes that are throttling (retryable), NULL-terminated, borrowed for
     * the policy's life — the provider profile's retry_codes. May be NULL. */
    const char *const *extra_codes;
} ferry_retry_policy_t;

/* Defaults as documented on the fields; rand NULL. */
void ferry_retry_policy_init(ferry_retry_policy_t *p);

/* Classify an outcome. The error code decides first (a 200 with <Error>InternalError is
 * TRANSIENT; 400 RequestTimeout is TRANSIENT), then the status, then the transport failure.
 * Wrong region: 301 (or code PermanentRedirect), 307 TemporaryRedirect, or 400
 * AuthorizationHeaderMalformed / IllegalLocationConstraintException, when region or endpoint is
 * known -> REDIRECT_REGION; without either -> FATAL. pol may be NULL (no extra codes). */
ferry_retry_class_t ferry_retry_classify(const ferry_retry_policy_t *pol,
                                         const ferry_retry_outcome_t *o);

/* 1 for TRANSIENT and THROTTLED. */
int ferry_retry_class_retryable(ferry_retry_class_t c);

/* A short name ("transient", "throttled", "redirect-region", "fatal", "none"). */
const char *ferry_retry_class_name(ferry_retry_class_t c);

/* The wait after failed attempt `attempt` (1-based), full jitter, at least
 * min(floor_ms, max_floor_ms). attempt 0 is treated as 1. */
uint64_t ferry_retry_delay_ms(const ferry_retry_policy_t *pol, unsigned attempt, uint64_t floor_ms);

/* The whole decision after failed attempt `attempt` (1-based): returns 1 and sets *delay_ms
 * when the request should be sent again — a retryable class and attempt < max_attempts, or
 * REDIRECT_REGION with delay 0 (the caller re-points the request and follows a redirect only
 * once: a second wrong-region reply is treated as fatal by the caller) — else 0 with
 * *delay_ms = 0. *cls (may be NULL) gets the class. */
int ferry_retry_next(const ferry_retry_policy_t *pol, const ferry_retry_outcome_t *o,
                     unsigned attempt, ferry_retry_class_t *cls, uint64_t *delay_ms);

/* The FERRY_E* code for a final (not retried) outcome: 403/AccessDenied/auth codes ->
 * FERRY_EDENIED or FERRY_EAUTH; 404/NoSuchKey/NoSuchBucket -> FERRY_ENOTFOUND; 412 ->
 * FERRY_ECHANGED; BadDigest -> FERRY_ECHECKSUM; timeouts -> FERRY_ETIMEOUT; other transport
 * failures -> FERRY_ENET; retryable classes -> FERRY_ERETRY; other store errors -> FERRY_ES3;
 * success -> FERRY_OK. */
int ferry_retry_errcode(const ferry_retry_outcome_t *o);

/* Parse a Retry-After value: delta-seconds ("120") or an HTTP date (IMF-fixdate, RFC 850 or
 * asctime) relative to now_ms (epoch ms, the caller's clock). A date in the past gives 0.
 * FERRY_OK or FERRY_EPARSE (out untouched). */
int ferry_retry_parse_retry_after(const char *value, int64_t now_ms, uint64_t *out_ms);

/* Parse x-oss-qos-delay-time (milliseconds, decimal). FERRY_OK or FERRY_EPARSE. */
int ferry_retry_parse_qos_delay(const char *value, uint64_t *out_ms);

/* A small per-context random source (xorshift64*), for ferry_retry_policy_t.rand. Seed with
 * something that differs between processes (e.g. getrandom); seed 0 is replaced by a constant. */
typedef struct ferry_retry_rng_s {
    uint64_t state;
} ferry_retry_rng_t;
void ferry_retry_rng_seed(ferry_retry_rng_t *r, uint64_t seed);
uint64_t ferry_retry_rng_next(void *rng); /* rng is a ferry_retry_rng_t * */

#ifdef __cplusplus
}
#endif
#endif
