/* ferry scheduler — the HTTP API: event intake (POST /v1/tasks/NAME/events), the status
 * routes, retry, /healthz, /readyz and /metrics. Served by `ferry scheduler --listen ADDR`.
 *
 * libmicrohttpd runs the server on its own threads (a pool of epoll loops, see docs/api.md);
 * each request is answered on one of them, with a synchronous Redis connection taken from a
 * small pool (one connection per busy thread). Nothing here is shared with the caller's
 * loop: ferry_api_start returns once the socket listens, ferry_api_stop drains and frees.
 *
 * Auth: every write route (events, retry) needs `Authorization: Bearer TOKEN` (or the
 * EventBridge header `x-eventbridge-signature-token: TOKEN`); read routes too unless
 * public_read. The events route also accepts `?token=SECRET`, the task's event secret (`ferry
 * task secret NAME`), kept as its SHA-256 only. Tokens are compared in constant time; a
 * missing or wrong one is 401 and nothing happens. Logs carry the method, the path (never the
 * query string) and the status, never a token.
 */
#ifndef FERRY_SCHED_API_H
#define FERRY_SCHED_API_H

#include "ferry/error.h"
#include "ferry/limits.h"
#include "ferry/redis.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_API_DEFAULT_LISTEN "127.0.0.1:8470"
#define FERRY_API_TOKEN_MAX      4096 /* bytes of an API token or event secret */

typedef struct ferry_api_opts_s {
    const char *listen;       /* "HOST:PORT", "[V6]:PORT"; port 0 picks a free one */
    const char *redis_url;    /* borrowed for start only: each request thread connects here */
    const char *token;        /* the API token (borrowed for start; copied). NULL or "": none,
                                 so only ?token= event secrets and public reads get through */
    int public_read;          /* read routes without a token */
    const char *tls_cert_pem; /* both or neither: PEM text (not paths), copied */
    const char *tls_key_pem;
    unsigned threads;    /* server threads; 0: 4 */
    unsigned conn_limit; /* open connections at most; 0: 4096 */
    unsigned timeout_s;  /* an idle or stalled connection is closed after this; 0: 15 */
    size_t max_body;     /* request body cap (413 past it); 0: FERRY_EVENTS_MAX_BODY */
    size_t max_header;   /* bytes of request line + headers; 0: 16 KiB (431/413 past it) */
    /* GET /v1/scale's policy settings (scale.h; copied): ferry up's --workers, --cooldown,
     * --drain-target, --concurrency. NULL: 0..FERRY_SCALE_DEFAULT_MAX, the defaults. */
    const struct ferry_scale_cfg_s *scale;
} ferry_api_opts_t;

typedef struct ferry_api_s ferry_api_t;

/* Listen and serve. Raises the process's soft RLIMIT_NOFILE (toward the hard limit) to fit
 * conn_limit. *out new (stop and free with ferry_api_stop). FERRY_OK; FERRY_EINVAL (a
 * bad address, only one of the TLS pair), FERRY_EUNSUPPORTED (TLS asked of a libmicrohttpd
 * without it), FERRY_ENET (cannot listen: err says where and what to do), FERRY_ENOMEM. */
int ferry_api_start(const ferry_api_opts_t *o, ferry_api_t **out, ferry_error_t *err);

/* The port the server listens on (useful with port 0). */
int ferry_api_port(const ferry_api_t *a);

/* Stop accepting connections; requests already received are still answered. Any thread. */
void ferry_api_quiesce(ferry_api_t *a);

/* Quiesce, wait up to grace_ms for requests in flight to be answered, close every connection
 * and free. Accepts NULL. Not from a server thread. */
void ferry_api_stop(ferry_api_t *a, int grace_ms);

/* 1 when this libmicrohttpd can serve TLS. */
int ferry_api_tls_supported(void);

/* ---- the task's event secret (the ?token= of the events route) ------------------------------ */

/* Make a new event secret for task (which must exist: FERRY_ENOTFOUND), store its SHA-256
 * (hex) in Redis (ferry:{T}:event_secret, removed with the task), and write the secret (64 hex
 * characters) to out (n >= 65). The secret itself is not kept anywhere. Replaces any previous
 * secret. Errors on the connection. */
int ferry_api_secret_new(ferry_redis_t *r, const char *task, char *out, size_t n);

/* ---- request parsing (pure, fuzzed: test/fuzz/fuzz_api.c) ---------------------------------- */

typedef enum {
    FERRY_API_HEALTHZ = 1,
    FERRY_API_READYZ,
    FERRY_API_METRICS,
    FERRY_API_TASKS,      /* GET /v1/tasks */
    FERRY_API_TASK,       /* GET /v1/tasks/NAME */
    FERRY_API_OBJECT,     /* GET /v1/tasks/NAME/objects/KEY */
    FERRY_API_OBJECTS,    /* GET /v1/tasks/NAME/objects */
    FERRY_API_COMPLETE,   /* GET /v1/tasks/NAME/complete */
    FERRY_API_FAILURES,   /* GET /v1/tasks/NAME/failures */
    FERRY_API_EVENTS,     /* POST /v1/tasks/NAME/events */
    FERRY_API_RETRY,      /* POST /v1/tasks/NAME/retry */
    FERRY_API_DASHBOARD,  /* GET / and /ui/ASSET (key: the whole path): dashboard.h, no token */
    FERRY_API_THROUGHPUT, /* GET /v1/tasks/NAME/throughput */
    FERRY_API_SCALE       /* GET /v1/scale[?task=NAME]: the scaling policy (scale.h) */
} ferry_api_route_id_t;

typedef struct ferry_api_route_s {
    ferry_api_route_id_t id;
    int write;                          /* a write route: always needs the token */
    char task[FERRY_TASK_NAME_MAX + 1]; /* "" for routes without one */
    const char *key; /* FERRY_API_OBJECT: points into path (already percent-decoded) */
} ferry_api_route_t;

/* Route a request: method and path (the path as libmicrohttpd gives it: percent-decoded,
 * without the query). FERRY_OK; FERRY_ENOTFOUND (no such route, or a task name that is not
 * valid: 404); FERRY_EINVAL (the route exists but not with this method: 405). Pure. */
int ferry_api_route(const char *method, const char *path, ferry_api_route_t *out);

/* The token of an Authorization header value ("Bearer TOKEN", scheme case-insensitive,
 * spaces around the token ignored): *tok points into h, *len its length. FERRY_OK or
 * FERRY_EINVAL (not a bearer token, empty, or longer than FERRY_API_TOKEN_MAX). Pure. */
int ferry_api_bearer(const char *h, const char **tok, size_t *len);

/* 1 when a[0..alen) equals b[0..blen). The time taken depends on neither content nor where
 * they differ (both are hashed first, then compared without an early exit). */
int ferry_api_token_eq(const char *a, size_t alen, const char *b, size_t blen);

/* A decimal count in 1..max (NULL or "": dflt). FERRY_OK or FERRY_EINVAL. Pure. */
int ferry_api_parse_count(const char *s, size_t dflt, size_t max, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
