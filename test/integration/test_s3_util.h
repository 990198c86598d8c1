/* Helpers shared by the test_s3_* integration tests: make a client against a test server and
 * run one operation to completion on the loop (synchronously, for readable tests). */
#ifndef TEST_S3_UTIL_H
#define TEST_S3_UTIL_H

#include "test.h"

#include "ferry/s3.h"

#include <stdlib.h>
#include <string.h>

typedef struct s3t_s {
    uv_loop_t loop;
    ferry_http_t *http;
    ferry_s3_t *c;
    ferry_profile_t prof;
    char ak[64], sk[64];
} s3t_t;

/* What a finished operation left: the result, plus copies of a few headers. */
typedef struct s3t_res_s {
    int done;
    ferry_s3_result_t r;
    char content_type[128];
    char meta[256]; /* x-amz-meta-color */
    char cache_control[128];
    char last_modified[64];
} s3t_res_t;

/* Endpoint for virtual-hosted tests: http://127.0.0.1:P -> http://localhost:P
 * (libcurl resolves *.localhost to the loopback address). */
static inline void s3t_localhost(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "127.0.0.1");
    if (p)
        snprintf(out, n, "%.*slocalhost%s", (int)(p - url), url, p + 9);
    else
        snprintf(out, n, "%s", url);
}

/* A client for scheme at url; path_style FERRY_TRI_*. Shares one transport per s3t_t.
 * ho and pol may be NULL (defaults). */
static inline int s3t_open_ex(s3t_t *t, const char *scheme, const char *url, const char *ak,
                              const char *sk, int path_style, const char *role,
                              const ferry_http_opts_t *ho, const ferry_retry_policy_t *pol)
{
    ferry_profile_overrides_t ov;
    ferry_error_t err;
    char ep[256];
    memset(t, 0, sizeof(*t));
    if (uv_loop_init(&t->loop))
        return -1;
    if (ferry_http_new(&t->loop, ho, &t->http))
        return -1;
    ferry_profile_overrides_init(&ov);
    if (path_style == FERRY_TRI_OFF)
        s3t_localhost(url, ep, sizeof(ep));
    else
        snprintf(ep, sizeof(ep), "%s", url);
    ov.endpoint = ep;
    ov.region = "us-east-1";
    ov.path_style = path_style;
    if (ferry_profile_resolve(scheme, &ov, &t->prof, &err)) {
        fprintf(stderr, "profile: %s\n", err.msg);
        return -1;
    }
    snprintf(t->ak, sizeof(t->ak), "%s", ak);
    snprintf(t->sk, sizeof(t->sk), "%s", sk);
    ferry_s3_config_t cfg = {.profile = &t->prof,
                             .creds = {t->ak, t->sk, NULL},
                             .http = t->http,
                             .role = role,
                             .retry = pol};
    if (ferry_s3_new(&t->loop, &cfg, &t->c, &err)) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static inline int s3t_open(s3t_t *t, const char *scheme, const char *url, const char *ak,
                           const char *sk, int path_style, const char *role)
{
    return s3t_open_ex(t, scheme, url, ak, sk, path_style, role, NULL, NULL);
}

static inline void s3t_close(s3t_t *t)
{
    int closed = 0;
    ferry_s3_free(t->c, NULL, NULL);
    ferry_http_close(t->http, NULL, NULL);
    (void)closed;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&t->loop), 0);
}

static inline void s3t_done(void *arg, const ferry_s3_result_t *r)
{
    s3t_res_t *x = arg;
    const char *v;
    x->done++;
    x->r = *r;
    x->r.resp = NULL;
    if ((v = ferry_s3_result_header(r, "content-type")))
        snprintf(x->content_type, sizeof(x->content_type), "%s", v);
    if ((v = ferry_s3_result_header(r, "x-amz-meta-color")))
        snprintf(x->meta, sizeof(x->meta), "%s", v);
    if ((v = ferry_s3_result_header(r, "cache-control")))
        snprintf(x->cache_control, sizeof(x->cache_control), "%s", v);
    if ((v = ferry_s3_result_header(r, "last-modified")))
        snprintf(x->last_modified, sizeof(x->last_modified), "%s", v);
}

static inline void s3t_wait(s3t_t *t, s3t_res_t *x)
{
    while (!x->done)
        uv_run(&t->loop, UV_RUN_ONCE);
}

/* A streamed request body over a memory buffer that can rewind (for retries). piece > 0
 * hands it over in pieces of at most that many bytes, to exercise odd chunk boundaries. */
typedef struct s3t_src_s {
    const char *data;
    size_t len, off;
    int rewinds;
    size_t piece;
} s3t_src_t;

static inline ssize_t s3t_src_read(void *arg, char *buf, size_t n)
{
    s3t_src_t *s = arg;
    size_t take = s->len - s->off < n ? s->len - s->off : n;
    if (s->piece && take > s->piece)
        take = s->piece;
    memcpy(buf, s->data + s->off, take);
    s->off += take;
    return (ssize_t)take;
}

static inline int s3t_src_rewind(void *arg)
{
    s3t_src_t *s = arg;
    s->off = 0;
    s->rewinds++;
    return FERRY_OK;
}

/* A memory sink. */
typedef struct s3t_sink_s {
    char *data;
    size_t len, cap;
} s3t_sink_t;

static inline int s3t_sink_cb(void *arg, const char *p, size_t n)
{
    s3t_sink_t *s = arg;
    if (s->len + n > s->cap) {
        size_t nc = (s->len + n) * 2;
        char *d = realloc(s->data, nc);
        if (!d)
            return FERRY_ENOMEM;
        s->data = d;
        s->cap = nc;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    return FERRY_OK;
}

static inline int s3t_put(s3t_t *t, const char *bucket, const char *key, size_t klen,
                          const void *data, size_t len, s3t_res_t *x)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    memset(x, 0, sizeof(*x));
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.key_len = klen;
    a.body = data;
    a.body_len = (int64_t)len;
    int rc = ferry_s3_put(t->c, &a, s3t_done, x, NULL, &err);
    if (rc)
        return rc;
    s3t_wait(t, x);
    return x->r.rc;
}

static inline int s3t_get(s3t_t *t, const char *bucket, const char *key, size_t klen, int64_t start,
                          int64_t end, s3t_sink_t *s, s3t_res_t *x)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    memset(x, 0, sizeof(*x));
    s->len = 0;
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.key_len = klen;
    a.range_start = start;
    a.range_end = end;
    a.sink = s3t_sink_cb;
    a.arg = s;
    int rc = ferry_s3_get(t->c, &a, s3t_done, x, NULL, &err);
    if (rc)
        return rc;
    s3t_wait(t, x);
    return x->r.rc;
}

static inline int s3t_head(s3t_t *t, const char *bucket, const char *key, size_t klen, s3t_res_t *x)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    memset(x, 0, sizeof(*x));
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.key_len = klen;
    int rc = ferry_s3_head(t->c, &a, s3t_done, x, NULL, &err);
    if (rc)
        return rc;
    s3t_wait(t, x);
    return x->r.rc;
}

static inline int s3t_delete(s3t_t *t, const char *bucket, const char *key, size_t klen,
                             s3t_res_t *x)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    memset(x, 0, sizeof(*x));
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.key_len = klen;
    int rc = ferry_s3_delete(t->c, &a, s3t_done, x, NULL, &err);
    if (rc)
        return rc;
    s3t_wait(t, x);
    return x->r.rc;
}

/* A listing collected into memory. */
typedef struct s3t_list_s {
    size_t n;
    char **keys;
    size_t *lens;
    int64_t *sizes;
    size_t nprefixes;
    char **prefixes;
} s3t_list_t;

static inline int s3t_on_object(void *arg, const ferry_s3xml_object_t *o)
{
    s3t_list_t *l = arg;
    l->keys = realloc(l->keys, (l->n + 1) * sizeof(*l->keys));
    l->lens = realloc(l->lens, (l->n + 1) * sizeof(*l->lens));
    l->sizes = realloc(l->sizes, (l->n + 1) * sizeof(*l->sizes));
    l->keys[l->n] = malloc(o->key_len + 1);
    memcpy(l->keys[l->n], o->key, o->key_len + 1);
    l->lens[l->n] = o->key_len;
    l->sizes[l->n] = o->size;
    l->n++;
    return FERRY_OK;
}

static inline int s3t_on_prefix(void *arg, const char *p, size_t n)
{
    s3t_list_t *l = arg;
    l->prefixes = realloc(l->prefixes, (l->nprefixes + 1) * sizeof(*l->prefixes));
    l->prefixes[l->nprefixes] = malloc(n + 1);
    memcpy(l->prefixes[l->nprefixes], p, n + 1);
    l->nprefixes++;
    return FERRY_OK;
}

static inline void s3t_list_free(s3t_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    for (size_t i = 0; i < l->nprefixes; i++)
        free(l->prefixes[i]);
    free(l->keys);
    free(l->lens);
    free(l->sizes);
    free(l->prefixes);
    memset(l, 0, sizeof(*l));
}

/* A listing with the caller's callbacks (a->on_object, a->on_prefix, a->arg and any other
 * field set; bucket, prefix, delimiter, version and max_keys are set here), waited for. */
static inline int s3t_list_with(s3t_t *t, const char *bucket, const char *prefix, const char *delim,
                                int version, unsigned max_keys, ferry_s3_list_args_t *a,
                                s3t_res_t *x)
{
    ferry_error_t err;
    memset(x, 0, sizeof(*x));
    a->bucket = bucket;
    a->prefix = prefix;
    a->delimiter = delim;
    a->version = version;
    a->max_keys = max_keys;
    int rc = ferry_s3_list(t->c, a, s3t_done, x, NULL, &err);
    if (rc) {
        fprintf(stderr, "list: %s\n", err.msg);
        return rc;
    }
    s3t_wait(t, x);
    return x->r.rc;
}

static inline int s3t_list(s3t_t *t, const char *bucket, const char *prefix, const char *delim,
                           int version, unsigned max_keys, s3t_list_t *l, s3t_res_t *x)
{
    ferry_s3_list_args_t a = {.on_object = s3t_on_object, .on_prefix = s3t_on_prefix, .arg = l};
    return s3t_list_with(t, bucket, prefix, delim, version, max_keys, &a, x);
}

/* A control request to fakes3 (unsigned): POST /_fakes3/faults, GET /_fakes3/stats, ...
 * The reply body goes to out (may be NULL). Returns the HTTP status or -1. */
typedef struct s3t_ctl_s {
    int done;
    long status;
    char body[8192];
} s3t_ctl_t;

static inline void s3t_ctl_done(void *arg, int rc, const ferry_error_t *err,
                                const ferry_http_resp_t *r)
{
    s3t_ctl_t *x = arg;
    (void)err;
    x->done = 1;
    x->status = rc ? -1 : r->status;
    snprintf(x->body, sizeof(x->body), "%s", r->body);
}

static inline long s3t_control(s3t_t *t, const char *base, const char *method, const char *path,
                               const char *json, char *out, size_t outlen)
{
    char url[512];
    s3t_ctl_t x = {0};
    snprintf(url, sizeof(url), "%s%s", base, path);
    ferry_kv_t h[] = {{"Content-Type", "application/json"}};
    ferry_http_reqopts_t o = {.method = method,
                              .url = url,
                              .headers = h,
                              .nheaders = 1,
                              .body = json,
                              .body_len = json ? (int64_t)strlen(json) : 0,
                              .done = s3t_ctl_done,
                              .arg = &x};
    if (ferry_http_submit(t->http, &o, NULL))
        return -1;
    while (!x.done)
        uv_run(&t->loop, UV_RUN_ONCE);
    if (out && outlen) { /* truncated to fit */
        size_t k = strnlen(x.body, outlen - 1);
        memcpy(out, x.body, k);
        out[k] = '\0';
    }
    return x.status;
}

/* Set fakes3's fault rules (JSON text); "[]" clears them. */
static inline int s3t_faults(s3t_t *t, const char *base, const char *json)
{
    char out[1024];
    long st = s3t_control(t, base, "POST", "/_fakes3/faults", json, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "faults %s: %ld %s\n", json, st, out);
    return st == 200 ? 0 : -1;
}

/* Deterministic test bytes. */
static inline void s3t_fill(char *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)x;
    }
}

#endif
