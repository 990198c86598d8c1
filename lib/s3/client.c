/* ferry — the S3 client's engine: client life cycle, request building and SigV4 signing,
 * the retry loop on a uv timer, wrong-region redirects, and error messages a user can act on.
 * The operations themselves (what each sends, how each reply is read) are in ops.c. See
 * docs/internals/s3-client.md. */
#include "s3_int.h"

#include "ferry/check.h"
#include "ferry/clock.h"
#include "ferry/log.h"
#include "ferry/text.h"

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define XML_BODY_MAX FERRY_S3XML_DEFAULT_MAX_BYTES

char *s3_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *s3_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static int64_t real_now_ms(void *ud)
{
    (void)ud;
    return ferry_wall_ms();
}

/* ---- client ------------------------------------------------------------------------------ */

/* op_send's three buffers: URL, Host, Authorization (their caps as before). */
static void scratch_init(ferry_buf_t sb[3])
{
    ferry_buf_init(&sb[0], 16384);
    ferry_buf_init(&sb[1], 1024);
    ferry_buf_init(&sb[2], 1024);
}

static void scratch_free(ferry_buf_t sb[3])
{
    for (int i = 0; i < 3; i++)
        ferry_buf_free(&sb[i]);
}

int ferry_s3_new(uv_loop_t *loop, const ferry_s3_config_t *cfg, ferry_s3_t **out,
                 ferry_error_t *err)
{
    ferry_s3_t *c = NULL;
    int rc = FERRY_OK;

    if (out)
        *out = NULL;
    if (!loop || !cfg || !out || !cfg->profile)
        return ferry_error_set(err, FERRY_EINVAL, "S3 client: loop, config and profile needed");
    if (!cfg->creds.access_key || !*cfg->creds.access_key || !cfg->creds.secret_key)
        return ferry_error_set(err, FERRY_EINVAL,
                               "S3 client for %s: no credentials (access key and secret key)",
                               cfg->profile->scheme);
    c = calloc(1, sizeof(*c));
    if (!c)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_list_init(&c->ops);
    scratch_init(c->scratch);
    ferry_sigv4_scratch_init(&c->sigscratch);
    c->loop = loop;
    c->prof = *cfg->profile;
    c->access_key = strdup(cfg->creds.access_key);
    c->secret_key = strdup(cfg->creds.secret_key);
    c->token = cfg->creds.session_token && *cfg->creds.session_token
                   ? strdup(cfg->creds.session_token)
                   : NULL;
    if (!c->access_key || !c->secret_key ||
        (cfg->creds.session_token && *cfg->creds.session_token && !c->token)) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    c->creds.access_key = c->access_key;
    c->creds.secret_key = c->secret_key;
    c->creds.session_token = c->token;
    if (cfg->retry) {
        c->pol = *cfg->retry;
    } else {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
            seed = uv_hrtime() ^ ((uint64_t)getpid() << 32);
        ferry_retry_policy_init(&c->pol);
        ferry_retry_rng_seed(&c->rng, seed);
        c->pol.rand = ferry_retry_rng_next;
        c->pol.rand_ud = &c->rng;
    }
    if (!c->pol.extra_codes)
        c->pol.extra_codes = c->prof.retry_codes; /* static table: outlives the client */
    snprintf(c->role, sizeof(c->role), "%s", cfg->role ? cfg->role : "");
    c->now_ms = cfg->now_ms ? cfg->now_ms : real_now_ms;
    c->now_ud = cfg->now_ud;
    c->timeout_ms = cfg->timeout_ms;
    c->on_attempt = cfg->on_attempt;
    c->on_retry = cfg->on_retry;
    c->observe_ud = cfg->observe_ud;
    if (cfg->http) {
        c->http = cfg->http;
    } else {
        rc = ferry_http_new(loop, &cfg->http_opts, &c->http);
        if (rc) {
            ferry_error_set(err, rc, "S3 client: cannot start the HTTP transport");
            goto fail;
        }
        c->own_http = 1;
    }
    *out = c;
    return FERRY_OK;
fail:
    free(c->access_key);
    free(c->secret_key);
    free(c->token);
    scratch_free(c->scratch);
    ferry_sigv4_scratch_free(&c->sigscratch);
    free(c);
    return rc;
}

const ferry_profile_t *ferry_s3_profile(const ferry_s3_t *c)
{
    return c ? &c->prof : NULL;
}

size_t ferry_s3_active(const ferry_s3_t *c)
{
    return c ? c->nops : 0;
}

static void client_maybe_free(ferry_s3_t *c)
{
    if (!c->closing || c->nops > 0 || c->nalive > 0 || !c->http_closed)
        return;
    void (*cb)(void *) = c->closed_cb;
    void *arg = c->closed_arg;
    if (c->secret_key)
        memset(c->secret_key, 0, strlen(c->secret_key));
    ferry_sigv4_key_wipe(&c->sigkey);
    scratch_free(c->scratch);
    ferry_sigv4_scratch_free(&c->sigscratch);
    free(c->access_key);
    free(c->secret_key);
    free(c->token);
    free(c);
    if (cb)
        cb(arg);
}

static void http_closed(void *arg)
{
    ferry_s3_t *c = arg;
    c->http_closed = 1;
    client_maybe_free(c);
}

void ferry_s3_free(ferry_s3_t *c, void (*closed_cb)(void *arg), void *arg)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->closed_cb = closed_cb;
    c->closed_arg = arg;
    ferry_list_t *it, *tmp;
    FERRY_LIST_FOREACH_SAFE (it, tmp, &c->ops)
        ferry_s3_cancel(FERRY_LIST_ENTRY(it, ferry_s3_op_t, link));
    if (c->own_http) {
        ferry_http_close(c->http, http_closed, c); /* frees after the ops' callbacks */
    } else {
        c->http_closed = 1;
        /* ops finish from their timers; the last one frees the client */
        if (!c->nops && !c->nalive) {
            /* free from the loop, never from inside the caller */
            client_maybe_free(c);
        }
    }
}

/* ---- operations: life cycle -------------------------------------------------------------- */

/* The first "." or ".." path segment of a key ("a/../b", "./x", "x/."), or NULL. */
static const char *dot_segment(const char *key, size_t len)
{
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && key[j] != '/')
            j++;
        size_t n = j - i;
        if ((n == 1 && key[i] == '.') || (n == 2 && key[i] == '.' && key[i + 1] == '.'))
            return n == 1 ? "." : "..";
        i = j + 1;
    }
    return NULL;
}

/* Zero a new op, but not the bytes no one reads before writing: the arena, and the result's
 * two long strings (5 KiB: a listing's resume point) past their first byte. Zeroing all 10 KiB
 * per operation cost more than the rest of s3_op_new and flushed a quarter of L1. */
_Static_assert(offsetof(ferry_s3_result_t, next_marker) > offsetof(ferry_s3_result_t, next_token) &&
                   offsetof(ferry_s3_result_t, deleted_errors) -
                           offsetof(ferry_s3_result_t, next_token) <
                       sizeof(((ferry_s3_result_t *)0)->next_token) +
                           sizeof(((ferry_s3_result_t *)0)->next_marker) + 16,
               "op_clear: next_token and next_marker must be the result's last strings, "
               "followed by deleted_errors");
_Static_assert(offsetof(ferry_s3_op_t, done) - offsetof(ferry_s3_op_t, res) <
                       sizeof(ferry_s3_result_t) + 8 &&
                   offsetof(ferry_s3_op_t, arena) + sizeof(((ferry_s3_op_t *)0)->arena) ==
                       sizeof(ferry_s3_op_t),
               "op_clear: res must be followed by done, and the arena must be the op's last field");
static void op_clear(ferry_s3_op_t *op)
{
    ferry_s3_result_t *r = &op->res;
    size_t tail = offsetof(ferry_s3_result_t, deleted_errors);
    memset(op, 0, offsetof(ferry_s3_op_t, res));
    memset(r, 0, offsetof(ferry_s3_result_t, next_token));
    r->next_token[0] = '\0';
    r->next_marker[0] = '\0';
    memset((char *)r + tail, 0, sizeof(*r) - tail);
    memset((char *)op + offsetof(ferry_s3_op_t, done), 0,
           offsetof(ferry_s3_op_t, arena) - offsetof(ferry_s3_op_t, done));
}

/* s[0..n) and a NUL in the op's arena when it fits, else malloc'd; NULL when out of memory. */
static char *op_strndup(ferry_s3_op_t *op, const char *s, size_t n)
{
    if (n < sizeof(op->arena) - op->arena_used) {
        char *p = op->arena + op->arena_used;
        memcpy(p, s, n);
        p[n] = '\0';
        op->arena_used += n + 1;
        return p;
    }
    return s3_strndup(s, n);
}

/* Free a string from op_strndup (one in the arena is left alone). */
static void op_str_free(ferry_s3_op_t *op, char *p)
{
    uintptr_t a = (uintptr_t)op->arena, x = (uintptr_t)p;
    if (x < a || x >= a + sizeof(op->arena))
        free(p);
}

ferry_s3_op_t *s3_op_new(ferry_s3_t *c, op_kind_t kind, const char *bucket, const char *key,
                         size_t key_len, ferry_error_t *err, int *rc)
{
    ferry_s3_op_t *op;
    *rc = FERRY_OK;
    if (!c) {
        *rc = ferry_error_set(err, FERRY_EINVAL, "S3 operation without a client");
        return NULL;
    }
    if (c->closing) {
        *rc = ferry_error_set(err, FERRY_ECANCELED, "S3 client is closing");
        return NULL;
    }
    if (!bucket || !*bucket) {
        *rc = ferry_error_set(err, FERRY_EINVAL, "S3 operation without a bucket");
        return NULL;
    }
    if (key && c->prof.path_style) {
        /* Servers and proxies normalise a path ("/bucket/a/../b" is "/bucket/b"; "/bucket/.."
         * is another bucket): such a key cannot be addressed path-style. */
        size_t kl = key_len ? key_len : strlen(key);
        const char *seg = dot_segment(key, kl);
        if (seg) {
            *rc = ferry_error_set(err, FERRY_EINVAL,
                                  "key \"%.*s\" has a '%s' segment; such keys cannot be "
                                  "addressed path-style: use virtual-hosted style (drop "
                                  "--%s-path-style, or give an endpoint that takes the bucket "
                                  "in the host name)",
                                  (int)(kl > 200 ? 200 : kl), key, seg,
                                  !strcmp(c->role, "destination") ? "dst"
                                  : !strcmp(c->role, "source")    ? "src"
                                                                  : "src/dst");
            return NULL;
        }
    }
    op = malloc(sizeof(*op));
    if (!op) {
        *rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        return NULL;
    }
    op_clear(op);
    ferry_list_init(&op->link);
    op->c = c;
    op->kind = kind;
    op->range_start = op->range_end = -1;
    op->first_total = -1;
    op->part_marker = -1;
    ferry_buf_init(&op->query, 64 * 1024);
    op->bucket = op_strndup(op, bucket, strlen(bucket));
    if (key) {
        if (!key_len)
            key_len = strlen(key);
        op->key = op_strndup(op, key, key_len);
        op->key_len = key_len;
    }
    if (!op->bucket || (key && !op->key)) {
        s3_op_discard(op);
        *rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        return NULL;
    }
    return op;
}

int s3_op_header(ferry_s3_op_t *op, const char *name, const char *value)
{
    if (op->nhdrs >= OP_MAX_HDRS)
        return FERRY_ETOOBIG;
    /* no header injection: names are tokens, values hold no CR, LF or NUL */
    if (!name || !*name || strpbrk(name, " \t\r\n:()<>@,;\\\"/[]?={}") ||
        (value && strpbrk(value, "\r\n")))
        return FERRY_EINVAL;
    if (!value)
        value = "";
    char *n = op_strndup(op, name, strlen(name)), *v = op_strndup(op, value, strlen(value));
    if (!n || !v) {
        op_str_free(op, n);
        op_str_free(op, v);
        return FERRY_ENOMEM;
    }
    op->hdrs[op->nhdrs].name = n;
    op->hdrs[op->nhdrs].value = v;
    op->nhdrs++;
    return FERRY_OK;
}

void s3_op_discard(ferry_s3_op_t *op)
{
    if (!op)
        return;
    for (size_t i = 0; i < op->nhdrs; i++) {
        op_str_free(op, (char *)op->hdrs[i].name);
        op_str_free(op, (char *)op->hdrs[i].value);
    }
    ferry_buf_free(&op->query);
    op_str_free(op, op->bucket);
    op_str_free(op, op->key);
    free(op->own_body);
    free(op->if_match);
    free(op->prefix);
    free(op->delimiter);
    free(op->start_after);
    free(op->token);
    free(op->marker);
    free(op->upload_id_marker);
    free(op->upload_id);
    ferry_s3_list_guard_free(op->own_guard);
    ferry_buf_free(&op->held);
    free(op);
}

static void op_closed(uv_handle_t *h)
{
    ferry_s3_op_t *op = h->data;
    ferry_s3_t *c = op->c;
    s3_op_discard(op);
    c->nalive--;
    client_maybe_free(c);
}

static void op_unlink(ferry_s3_op_t *op)
{
    ferry_s3_t *c = op->c;
    ferry_list_remove(&op->link);
    c->nops--;
}

/* ---- error messages ------------------------------------------------------------------------ */

static const char *flag_side(const ferry_s3_t *c)
{
    if (!strcmp(c->role, "source"))
        return "src";
    if (!strcmp(c->role, "destination"))
        return "dst";
    return "src/dst";
}

static const char *action(op_kind_t k)
{
    switch (k) {
    case OP_HEAD:
    case OP_GET:
        return "read objects in";
    case OP_LIST:
    case OP_LIST_PARTS:
    case OP_LIST_UPLOADS:
        return "list";
    case OP_DELETE:
    case OP_DELETE_OBJECTS:
    case OP_ABORT:
        return "delete objects in";
    default:
        return "write to";
    }
}

static void provider_name(const ferry_s3_t *c, char *out, size_t n)
{
    size_t i = 0;
    for (const char *s = c->prof.scheme ? c->prof.scheme : "s3"; *s && i + 1 < n; s++)
        out[i++] = (char)toupper((unsigned char)*s);
    out[i] = 0;
    if (!strcmp(out, "S3C"))
        snprintf(out, n, "the store");
}

/* A hint for what to check, by error code then status. */
static void hint(const ferry_s3_op_t *op, const char *code, long status, const char *region,
                 char *out, size_t n)
{
    const ferry_s3_t *c = op->c;
    const char *role = c->role[0] ? c->role : "the";
    (void)role;
    if (!strcmp(code, "AccessDenied") || !strcmp(code, "AllAccessDisabled") ||
        (status == 403 && !*code))
        snprintf(out, n, "the %s credentials cannot %s this bucket (check the key's permissions)",
                 c->role[0] ? c->role : "given", action(op->kind));
    else if (!strcmp(code, "InvalidAccessKeyId"))
        snprintf(
            out, n,
            "the %s access key id is unknown to this store (check --%s-profile and the endpoint)",
            c->role[0] ? c->role : "given", flag_side(c));
    else if (!strcmp(code, "SignatureDoesNotMatch"))
        snprintf(out, n, "the signature was refused: check the %s secret key",
                 c->role[0] ? c->role : "given");
    else if (!strcmp(code, "RequestTimeTooSkewed"))
        snprintf(out, n, "this machine's clock is too far off: sync it (NTP)");
    else if (!strcmp(code, "NoSuchBucket"))
        snprintf(out, n, "bucket %.63s does not exist at %.100s%s%.120s", op->bucket,
                 c->prof.endpoint, c->prof.bucket_note ? "; " : "",
                 c->prof.bucket_note ? c->prof.bucket_note : "");
    else if (!strcmp(code, "NoSuchKey") || (status == 404 && op->key && !*code))
        snprintf(out, n, "the object does not exist (deleted since it was listed?)");
    else if (!strcmp(code, "NoSuchUpload"))
        snprintf(out, n, "the multipart upload is gone (aborted or completed): start a new one");
    else if (!strcmp(code, "PreconditionFailed") || status == 412)
        snprintf(out, n, "the object changed since it was read (ETag no longer matches)");
    else if (!strcmp(code, "SecondLevelDomainForbidden") ||
             !strcmp(code, "PathStyleDomainForbidden"))
        snprintf(out, n, "this store refuses path-style requests: drop --%s-path-style",
                 flag_side(c));
    else if (!strcmp(code, "AuthorizationHeaderMalformed") || !strcmp(code, "PermanentRedirect") ||
             status == 301 || status == 307)
        snprintf(out, n, "the bucket is in another region%s%s%s: set --%s-region",
                 region && *region ? " (" : "", region && *region ? region : "",
                 region && *region ? ")" : "", flag_side(c));
    else if (!strcmp(code, "BadDigest") || !strcmp(code, "InvalidDigest") ||
             !strcmp(code, "XAmzContentChecksumMismatch") ||
             !strcmp(code, "XAmzContentSHA256Mismatch"))
        snprintf(out, n, "the data did not match its checksum on arrival (corrupted in transit)");
    else if (!strcmp(code, "EntityTooSmall"))
        snprintf(out, n, "a part is below the store's minimum part size: raise --part-size");
    else if (!strcmp(code, "EntityTooLarge"))
        snprintf(out, n, "the body is larger than the store accepts: lower --multipart-threshold");
    else if (!strcmp(code, "InvalidPart") || !strcmp(code, "InvalidPartOrder"))
        snprintf(out, n, "the part list does not match the uploaded parts: restart the upload");
    else if (!strcmp(code, "SlowDown") || !strcmp(code, "TooManyRequests") || status == 429 ||
             status == 503)
        snprintf(out, n, "still throttled after %u attempts: lower the concurrency", op->tries);
    else if (status >= 500 || !strcmp(code, "InternalError") ||
             !strcmp(code, "ServiceUnavailable") || !strcmp(code, "RequestTimeout"))
        snprintf(out, n, "the store kept failing after %u attempts: try again later", op->tries);
    else if (status == 403)
        snprintf(out, n, "the %s credentials may not %s this bucket (check the key's permissions)",
                 c->role[0] ? c->role : "given", action(op->kind));
    else if (status == 404)
        snprintf(out, n, "not found");
    else
        snprintf(out, n, "the store refused the request");
}

static void op_fail_s3(ferry_s3_op_t *op, int code, long status, const char *s3code,
                       const char *s3msg, const char *region)
{
    char prov[32], h[400], what[96], sm[160];
    provider_name(op->c, prov, sizeof(prov));
    /* the store's own message, first line only (some quote whole canonical requests) */
    size_t ml = 0;
    for (; s3msg && s3msg[ml] && s3msg[ml] != '\n' && s3msg[ml] != '\r' && ml + 1 < sizeof(sm);
         ml++)
        sm[ml] = s3msg[ml];
    sm[ml] = 0;
    while (ml > 0 && (sm[ml - 1] == ' ' || sm[ml - 1] == ':'))
        sm[--ml] = 0;
    s3msg = sm;
    hint(op, s3code ? s3code : "", status, region, h, sizeof(h));
    if (s3code && *s3code)
        snprintf(what, sizeof(what), "%s", s3code);
    else
        snprintf(what, sizeof(what), "HTTP %ld", status);
    ferry_error_t *e = &op->res.err;
    ferry_error_set(e, code, "%s said %s on %s %s://%s/%.*s: %s%s%s%s", prov, what, op->method,
                    op->c->prof.scheme, op->bucket,
                    op->key ? (int)(op->key_len > 200 ? 200 : op->key_len) : 0,
                    op->key ? op->key : "", h, s3msg && *s3msg ? " (" : "",
                    s3msg && *s3msg ? s3msg : "", s3msg && *s3msg ? ")" : "");
    e->http_status = (int)status;
    snprintf(e->s3_code, sizeof(e->s3_code), "%s", s3code ? s3code : "");
}

static void op_fail_net(ferry_s3_op_t *op, int code, const char *detail)
{
    ferry_error_set(&op->res.err, code,
                    "could not complete %s %s://%s/%.*s at %s after %u attempts: %s", op->method,
                    op->c->prof.scheme, op->bucket,
                    op->key ? (int)(op->key_len > 200 ? 200 : op->key_len) : 0,
                    op->key ? op->key : "", op->c->prof.endpoint, op->tries, detail);
}

/* ---- completion ----------------------------------------------------------------------------- */

/* v into out[n], cut to n - 1 bytes, NUL-terminated (snprintf's "%s" without its cost: these
 * run for every reply). */
static void copy_str(char *out, size_t n, const char *v)
{
    size_t len = strlen(v);
    if (len >= n)
        len = n - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static void header_copy(const ferry_http_resp_t *resp, const char *name, char *out, size_t n)
{
    const char *v = ferry_http_resp_header(resp, name);
    if (v)
        copy_str(out, n, v);
}

static void strip_quotes(const char *v, char *out, size_t n)
{
    size_t len = strlen(v);
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
        v++;
        len -= 2;
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, v, len);
    out[len] = 0;
}

/* Pick up the headers every result carries. */
static void capture_headers(ferry_s3_op_t *op, const ferry_http_resp_t *resp)
{
    ferry_s3_result_t *r = &op->res;
    const char *v;
    r->status = resp->status;
    if ((v = ferry_http_resp_header(resp, "x-amz-request-id")) ||
        (v = ferry_http_resp_header(resp, "x-oss-request-id")) ||
        (v = ferry_http_resp_header(resp, "x-cos-request-id")) ||
        (v = ferry_http_resp_header(resp, "x-reqid")))
        copy_str(r->request_id, sizeof(r->request_id), v);
    if (resp->status < 200 || resp->status >= 300)
        return;
    if ((v = ferry_http_resp_header(resp, "etag")))
        strip_quotes(v, r->etag, sizeof(r->etag));
    if ((v = ferry_http_resp_header(resp, "x-oss-hash-crc64ecma")) ||
        (v = ferry_http_resp_header(resp, "x-cos-hash-crc64ecma")))
        copy_str(r->crc64, sizeof(r->crc64), v);
    header_copy(resp, "x-amz-checksum-crc32c", r->checksum_crc32c, sizeof(r->checksum_crc32c));
    header_copy(resp, "x-amz-checksum-crc64nvme", r->checksum_crc64nvme,
                sizeof(r->checksum_crc64nvme));
    header_copy(resp, "x-amz-version-id", r->version_id, sizeof(r->version_id));
    if ((v = ferry_http_resp_header(resp, "content-length")))
        r->content_length = strtoll(v, NULL, 10);
    if (op->kind == OP_HEAD || op->kind == OP_GET) {
        const char *cr = ferry_http_resp_header(resp, "content-range");
        const char *slash = cr ? strrchr(cr, '/') : NULL;
        if (slash && slash[1] != '*')
            r->object_size = strtoll(slash + 1, NULL, 10);
        else if (resp->status == 200 && r->content_length >= 0)
            r->object_size = r->content_length;
    }
}

static void finish_cb(uv_timer_t *t);

/* Call done once, then close the timer; the op is freed in the close callback. */
static void op_finish(ferry_s3_op_t *op, const ferry_http_resp_t *resp)
{
    ferry_s3_t *c = op->c;
    if (op->finishing)
        return;
    op->finishing = 1;
    uv_timer_stop(&op->timer);
    op->res.rc = op->res.err.code;
    if (op->res.rc != FERRY_OK && strcmp(flag_side(c), "src/dst") != 0) /* ferry/errcode.h */
        memcpy(op->res.err.side, flag_side(c), 4); /* "src" or "dst", NUL included */
    op->res.attempts = op->attempts;
    op->res.resp = resp;
    op_unlink(op);
    op->done(op->done_arg, &op->res);
    op->res.resp = NULL;
    uv_close((uv_handle_t *)&op->timer, op_closed);
    (void)c;
}

/* Finish from the loop (never inside a caller's call). */
static void op_finish_later(ferry_s3_op_t *op)
{
    uv_timer_start(&op->timer, finish_cb, 0, 0);
}

static void finish_cb(uv_timer_t *t)
{
    op_finish(t->data, NULL);
}

/* ---- sending --------------------------------------------------------------------------------- */

static int op_sink(void *arg, const char *p, size_t n)
{
    ferry_s3_op_t *op = arg;
    if (op->canceled)
        return FERRY_ECANCELED;
    int rc = op->sink(op->uarg, p, n);
    if (rc == FERRY_OK || rc == FERRY_HTTP_PAUSE_AFTER)
        op->delivered += (int64_t)n;
    return rc;
}

/* Parse "bytes START-END/TOTAL" (TOTAL may be "*": -1). 0 when it is not exactly that. */
static int parse_content_range(const char *v, int64_t *start, int64_t *end, int64_t *total)
{
    int64_t x[3] = {-1, -1, -1};
    const char *p = v;
    if (!v || strncasecmp(p, "bytes ", 6) != 0)
        return 0;
    p += 6;
    for (int i = 0; i < 3; i++) {
        if (i == 2 && *p == '*') {
            p++;
            break;
        }
        if (*p < '0' || *p > '9')
            return 0;
        int64_t n = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (n > (INT64_MAX - 9) / 10)
                return 0;
            n = n * 10 + (*p - '0');
        }
        x[i] = n;
        if (i < 2 && *p++ != (i == 0 ? '-' : '/'))
            return 0;
    }
    if (*p || x[1] < x[0] || (x[2] >= 0 && x[1] >= x[2]))
        return 0;
    *start = x[0];
    *end = x[1];
    *total = x[2];
    return 1;
}

/* A GET's reply before its body: the bytes it carries must be exactly the ones asked for, so
 * that the sink never gets a byte at the wrong offset. A resumed GET (bytes already delivered)
 * takes only a 206 whose Content-Range starts where we stopped and ends where the first reply
 * said the object (or the asked range) ends, with the first reply's ETag; a first ranged GET
 * takes only a 206 for its range (or a 200 that is exactly that range from byte 0). Anything
 * else fails the operation with FERRY_ERETRY (FERRY_ECHANGED for another ETag): the caller
 * restarts the transfer; nothing is spliced. */
static int check_get_range(ferry_s3_op_t *op, const ferry_http_resp_t *resp)
{
    ferry_s3_t *c = op->c;
    int64_t base = op->range_start > 0 ? op->range_start : 0;
    int64_t want_start = base + op->delivered, want_end = op->range_end;
    int resumed = op->delivered > 0, ranged = resumed || base > 0 || op->range_end >= 0;
    const char *cr = ferry_http_resp_header(resp, "content-range");
    const char *cl = ferry_http_resp_header(resp, "content-length");
    const char *et = ferry_http_resp_header(resp, "etag");
    int64_t s = -1, e = -1, total = -1;
    char asked[64]; /* formatted only when the reply is refused (every GET passes here) */
#define RANGE_FAIL(code, ...)                                                                      \
    do {                                                                                           \
        char why_[300];                                                                            \
        if (want_end >= 0)                                                                         \
            snprintf(asked, sizeof(asked), "bytes=%" PRId64 "-%" PRId64, want_start, want_end);    \
        else                                                                                       \
            snprintf(asked, sizeof(asked), "bytes=%" PRId64 "-", want_start);                      \
        snprintf(why_, sizeof(why_), __VA_ARGS__);                                                 \
        ferry_log(FERRY_LOG_WARN, "s3.bad_range", "bucket", op->bucket, "asked", asked, "why",     \
                  why_, NULL);                                                                     \
        return ferry_error_set(&op->res.err, code,                                                 \
                               "GET %s://%s/%.*s: asked %s, but %s; the transfer must start "      \
                               "over (nothing was spliced)",                                       \
                               c->prof.scheme, op->bucket,                                         \
                               (int)(op->key_len > 200 ? 200 : op->key_len), op->key, asked,       \
                               why_);                                                              \
    } while (0)
    if (resumed && op->first_etag[0] && (!et || strcmp(et, op->first_etag) != 0))
        RANGE_FAIL(FERRY_ECHANGED, "the resumed reply has ETag %.80s instead of %.80s",
                   et ? et : "(none)", op->first_etag);
    if (resp->status == 206) {
        if (!parse_content_range(cr, &s, &e, &total))
            RANGE_FAIL(FERRY_ERETRY, "the 206 reply has %s Content-Range%s%.80s%s",
                       cr ? "an unreadable" : "no", cr ? " \"" : "", cr ? cr : "", cr ? "\"" : "");
        if (!ranged)
            RANGE_FAIL(FERRY_ERETRY, "the store answered 206 (%.80s) to a GET without a range", cr);
        int64_t end = want_end;
        if (resumed && op->first_total >= 0 && (end < 0 || end >= op->first_total))
            end = op->first_total - 1;
        else if (!resumed && total >= 0 && (end < 0 || end >= total))
            end = total - 1;
        if (s != want_start || (end >= 0 && e != end) ||
            (resumed && op->first_total >= 0 && total != op->first_total))
            RANGE_FAIL(FERRY_ERETRY, "the store sent Content-Range \"%.80s\"", cr);
        if (cl && strtoll(cl, NULL, 10) != e - s + 1)
            RANGE_FAIL(FERRY_ERETRY, "Content-Length %.24s does not match Content-Range %.80s", cl,
                       cr);
        return FERRY_OK;
    }
    /* a 200: the whole object */
    if (resumed)
        RANGE_FAIL(FERRY_ERETRY, "the store answered %ld with the whole object", resp->status);
    if (ranged && (base > 0 || !cl || strtoll(cl, NULL, 10) != want_end + 1))
        RANGE_FAIL(FERRY_ERETRY, "the store answered %ld (not 206) with %s bytes", resp->status,
                   cl ? cl : "an unknown number of");
    return FERRY_OK;
#undef RANGE_FAIL
}

static int op_headers(void *arg, const ferry_http_resp_t *resp)
{
    ferry_s3_op_t *op = arg;
    const char *et = ferry_http_resp_header(resp, "etag");
    if (resp->status < 200 || resp->status >= 300)
        return FERRY_OK;
    if (op->kind == OP_GET) {
        int rc = check_get_range(op, resp);
        if (rc || op->delivered > 0)
            return rc;
        const char *cr = ferry_http_resp_header(resp, "content-range");
        const char *cl = ferry_http_resp_header(resp, "content-length");
        int64_t s, e, total = -1;
        if (resp->status == 206 && parse_content_range(cr, &s, &e, &total))
            op->first_total = total;
        else if (resp->status == 200 && cl)
            op->first_total = strtoll(cl, NULL, 10);
    }
    if (et && !op->first_etag[0])
        ferry_str_copy(op->first_etag, sizeof(op->first_etag), et);
    if (op->on_headers && !op->headers_reported) {
        op->headers_reported = 1;
        return op->on_headers(op->uarg, resp);
    }
    return FERRY_OK;
}

/* ---- aws-chunked with a trailing CRC32C ---------------------------------------------------- */

#define CHUNK_MAX    ((int64_t)1 << 20) /* decoded bytes per chunk */
#define TRAILER_HEAD "0\r\nx-amz-checksum-crc32c:"

static int hex_digits(int64_t v)
{
    int d = 1;
    while (v >>= 4)
        d++;
    return d;
}

/* Framing state back to the start of a body of len decoded bytes. */
static void chunked_reset(ferry_s3_op_t *op, int64_t len)
{
    memset(&op->ch, 0, sizeof(op->ch));
    op->ch.on = 1;
    op->ch.len = len;
}

int s3_chunked_init(ferry_s3_op_t *op, int64_t len)
{
    if (len < 0)
        return FERRY_EINVAL;
    chunked_reset(op, len);
    /* per chunk: hex size, CRLF, data, CRLF; then the last chunk and the trailer (8 base64
     * characters for 4 bytes), CRLF, CRLF */
    int64_t full = len / CHUNK_MAX, rest = len % CHUNK_MAX;
    int64_t enc = len + full * (hex_digits(CHUNK_MAX) + 4);
    if (rest)
        enc += hex_digits(rest) + 4;
    op->body_len = enc + (int64_t)strlen(TRAILER_HEAD) + 8 + 4;
    ferry_str_copy(op->payload_hash, sizeof(op->payload_hash),
                   "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    return FERRY_OK;
}

static void chunked_rewind(ferry_s3_op_t *op)
{
    const uint32_t *of = op->ch.of;
    chunked_reset(op, op->ch.len);
    op->ch.of = of;
    op->res.checksum_crc32c[0] = '\0'; /* the next reply's, not this one's */
}

/* Fill buf with framing and the source's bytes: as much as fits without waiting. */
static ssize_t chunked_source(ferry_s3_op_t *op, char *buf, size_t n)
{
    size_t out = 0;
    while (out < n) {
        if (op->ch.frame_off < op->ch.frame_len) {
            size_t k = op->ch.frame_len - op->ch.frame_off;
            if (k > n - out)
                k = n - out;
            memcpy(buf + out, op->ch.frame + op->ch.frame_off, k);
            op->ch.frame_off += k;
            out += k;
            continue;
        }
        if (op->ch.chunk_left > 0) {
            size_t want = n - out;
            if ((int64_t)want > op->ch.chunk_left)
                want = (size_t)op->ch.chunk_left;
            ssize_t r = op->source(op->uarg, buf + out, want);
            if (r == FERRY_HTTP_PAUSE || r < 0)
                return out > 0 && r == FERRY_HTTP_PAUSE ? (ssize_t)out : r;
            if (r == 0 || (size_t)r > want)
                return FERRY_ERANGE; /* the source ended early, or overran */
            if (op->ch.of == NULL)
                op->ch.crc = ferry_crc32c_update(op->ch.crc, buf + out, (size_t)r);
            op->ch.sent += r;
            op->ch.chunk_left -= r;
            out += (size_t)r;
            if (op->ch.chunk_left == 0) {
                memcpy(op->ch.frame, "\r\n", 2);
                op->ch.frame_len = 2;
                op->ch.frame_off = 0;
            }
            continue;
        }
        if (op->ch.sent < op->ch.len) {
            int64_t k = op->ch.len - op->ch.sent;
            if (k > CHUNK_MAX)
                k = CHUNK_MAX;
            op->ch.chunk_left = k;
            op->ch.frame_len = (size_t)snprintf(op->ch.frame, sizeof(op->ch.frame),
                                                "%" PRIx64 "\r\n", (uint64_t)k);
            op->ch.frame_off = 0;
            continue;
        }
        if (op->ch.ended)
            break;
        ferry_crc32c_b64(op->ch.of ? *op->ch.of : op->ch.crc, op->ch.b64);
        op->ch.frame_len = (size_t)snprintf(op->ch.frame, sizeof(op->ch.frame),
                                            TRAILER_HEAD "%s\r\n\r\n", op->ch.b64);
        op->ch.frame_off = 0;
        op->ch.ended = 1;
    }
    return (ssize_t)out;
}

/* A successful aws-chunked request: the store must confirm the CRC32C we sent. */
static int chunked_confirm(ferry_s3_op_t *op)
{
    if (!op->ch.on)
        return FERRY_OK;
    if (op->res.checksum_crc32c[0] && strcmp(op->res.checksum_crc32c, op->ch.b64) == 0)
        return FERRY_OK;
    ferry_s3_t *c = op->c;
    if (!op->res.checksum_crc32c[0])
        return ferry_error_set(&op->res.err, FERRY_ECHECKSUM,
                               "%s %s://%s: the store did not confirm the CRC32C trailer it was "
                               "sent; it may not support aws-chunked uploads (give the task "
                               "--dst-checksum md5 for this destination)",
                               op->method, c->prof.scheme, op->bucket);
    return ferry_error_set(&op->res.err, FERRY_ECHECKSUM,
                           "%s %s://%s: the store's CRC32C %s differs from the %s that was sent: "
                           "corrupted in transit",
                           op->method, c->prof.scheme, op->bucket, op->res.checksum_crc32c,
                           op->ch.b64);
}

static ssize_t op_source(void *arg, char *buf, size_t n)
{
    ferry_s3_op_t *op = arg;
    if (op->canceled)
        return FERRY_ECANCELED;
    if (op->ch.on)
        return chunked_source(op, buf, n);
    return op->source(op->uarg, buf, n);
}

static void on_http_done(void *arg, int rc, const ferry_error_t *err,
                         const ferry_http_resp_t *resp);

/* Where the host part of a URL ends (the start of its path). */
static const char *url_path(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p = strchr(p, '/');
    return p ? p : "/";
}

static int op_send(ferry_s3_op_t *op)
{
    ferry_s3_t *c = op->c;
    ferry_buf_t local[3], *sb = c->scratch;
    ferry_kv_t hv[OP_MAX_HDRS + 10];
    size_t nh = 0;
    char amz_date[17], range[64];
    int rc;

    /* The URL, Host and Authorization are built in the client's buffers, kept from one
     * request to the next (curl and the transport copy what they keep); a nested send, which
     * nothing does today, would get buffers of its own. */
    int own_scratch = c->scratch_busy;
    if (own_scratch) {
        sb = local;
        scratch_init(sb);
    } else {
        c->scratch_busy = 1;
        for (int i = 0; i < 3; i++)
            ferry_buf_reset(&sb[i]);
    }
    ferry_buf_t *url = &sb[0], *host = &sb[1], *auth = &sb[2];
    ferry_buf_reset(&op->query);
    if ((rc = s3_ops_build_query(op)))
        goto out;
    if ((rc = ferry_profile_bucket_url(&c->prof, op->bucket, url, &op->res.err)) ||
        (rc = ferry_profile_bucket_host(&c->prof, op->bucket, host, &op->res.err)))
        goto out;
    if ((rc = ferry_buf_adds(url, "/")))
        goto out;
    if (op->key && (rc = ferry_uri_encode(op->key, op->key_len, 1, url)))
        goto out;
    if (op->query.len && ((rc = ferry_buf_adds(url, "?")) ||
                          (rc = ferry_buf_add(url, op->query.data, op->query.len))))
        goto out;

    int64_t now = c->now_ms(c->now_ud);
    ferry_sigv4_amz_date((time_t)(now / 1000), amz_date);
    hv[nh++] = (ferry_kv_t){"Host", ferry_buf_cstr(host)};
    hv[nh++] = (ferry_kv_t){"x-amz-date", amz_date};
    hv[nh++] = (ferry_kv_t){"x-amz-content-sha256", op->payload_hash};
    if (c->token)
        hv[nh++] = (ferry_kv_t){"x-amz-security-token", c->token};
    for (size_t i = 0; i < op->nhdrs; i++)
        hv[nh++] = op->hdrs[i];
    if (op->kind == OP_GET) {
        int64_t start = op->range_start > 0 ? op->range_start : 0;
        start += op->delivered;
        if (start > 0 || op->range_end >= 0) {
            if (op->range_end >= 0)
                snprintf(range, sizeof(range), "bytes=%" PRId64 "-%" PRId64, start, op->range_end);
            else
                snprintf(range, sizeof(range), "bytes=%" PRId64 "-", start);
            hv[nh++] = (ferry_kv_t){"Range", range};
        }
        if (op->if_match)
            hv[nh++] = (ferry_kv_t){"If-Match", op->if_match};
        else if (op->delivered > 0 && op->first_etag[0])
            hv[nh++] = (ferry_kv_t){"If-Match", op->first_etag};
    }
    ferry_sigv4_req_t sr = {
        .method = op->method,
        .path = url_path(ferry_buf_cstr(url)),
        .query = op->query.len ? ferry_buf_cstr(&op->query) : NULL,
        .headers = hv,
        .nheaders = nh,
        .payload_hash = op->payload_hash,
        .region = c->prof.signing_region,
        .service = "s3",
        .amz_date = amz_date,
    };
    /* sr.path runs on into the query: the canonical request stops the path at the first '?'
     * (a '?' in a key is percent-encoded). The signing key is derived once a day per region. */
    rc = ferry_sigv4_authorization_scratch(&sr, &c->creds, &c->sigkey,
                                           own_scratch ? NULL : &c->sigscratch, auth);
    if (rc) {
        ferry_error_set(&op->res.err, rc, "cannot sign %s %s://%s: %s", op->method, c->prof.scheme,
                        op->bucket, ferry_strerror(rc));
        goto out;
    }
    hv[nh++] = (ferry_kv_t){"Authorization", ferry_buf_cstr(auth)};

    ferry_http_reqopts_t ro = {
        .method = op->method,
        .url = ferry_buf_cstr(url),
        .headers = hv,
        .nheaders = nh,
        .body = op->source ? NULL : op->body,
        .body_len = op->body_len,
        .source = op->source ? op_source : NULL,
        .sink = op->kind == OP_GET ? op_sink : NULL,
        .body_max = XML_BODY_MAX,
        .on_headers = op_headers,
        .done = on_http_done,
        .arg = op,
        .timeout_ms = c->timeout_ms,
    };
    if (!ro.body && !ro.source)
        ro.body_len = 0;
    op->attempts++;
    op->tries++;
    rc = ferry_http_submit(c->http, &ro, &op->req);
    if (rc)
        ferry_error_set(&op->res.err, rc, "cannot start %s %s://%s: %s", op->method, c->prof.scheme,
                        op->bucket, ferry_strerror(rc));
out:
    if (rc && !op->res.err.code)
        ferry_error_set(&op->res.err, rc, "cannot build %s %s://%s: %s", op->method, c->prof.scheme,
                        op->bucket, ferry_strerror(rc));
    if (own_scratch)
        scratch_free(local);
    else
        c->scratch_busy = 0;
    return rc;
}

static void retry_cb(uv_timer_t *t)
{
    ferry_s3_op_t *op = t->data;
    if (op->canceled) {
        ferry_error_set(&op->res.err, FERRY_ECANCELED, "canceled");
        op_finish(op, NULL);
        return;
    }
    ferry_error_clear(&op->res.err);
    if (op_send(op) != FERRY_OK)
        op_finish(op, NULL);
}

/* Replace the old region in the endpoint's host (s3.us-east-1.amazonaws.com ->
 * s3.eu-west-1.amazonaws.com) when it names it. */
static void repoint_region(ferry_s3_t *c, const char *region)
{
    const char *old = c->prof.region[0] ? c->prof.region : c->prof.signing_region;
    char *at = old[0] ? strstr(c->prof.endpoint, old) : NULL;
    if (at) {
        char tmp[sizeof(c->prof.endpoint)];
        int n = snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(at - c->prof.endpoint),
                         c->prof.endpoint, region, at + strlen(old));
        if (n > 0 && (size_t)n < sizeof(tmp))
            memcpy(c->prof.endpoint, tmp, (size_t)n + 1);
    }
    snprintf(c->prof.region, sizeof(c->prof.region), "%s", region);
    snprintf(c->prof.signing_region, sizeof(c->prof.signing_region), "%s", region);
}

/* Pull a region out of an endpoint host ("bucket.s3.eu-west-1.amazonaws.com",
 * "s3-eu-west-1.amazonaws.com"). */
static int region_from_endpoint(const char *ep, char *out, size_t n)
{
    const char *p = strstr(ep, "s3.");
    const char *q = p ? p + 3 : NULL;
    if (!q && (p = strstr(ep, "s3-")))
        q = p + 3;
    if (!q)
        return 0;
    const char *e = strchr(q, '.');
    if (!e || (size_t)(e - q) >= n || e == q)
        return 0;
    memcpy(out, q, (size_t)(e - q));
    out[e - q] = 0;
    return strcmp(out, "amazonaws") != 0;
}

/* A transport failure (no HTTP reply): its retry class in oc, or, when a callback of ours or
 * the caller's stopped the transfer, the op's final error. Returns 1 when it ended the op. */
static int done_transport(ferry_s3_op_t *op, int rc, const ferry_http_resp_t *resp,
                          ferry_retry_outcome_t *oc)
{
    ferry_s3_t *c = op->c;
    switch (rc) {
    case FERRY_ENET:
        oc->net = FERRY_NETFAIL_RESET;
        return 0;
    case FERRY_ETIMEOUT:
        oc->net = FERRY_NETFAIL_TIMEOUT;
        return 0;
    case FERRY_ECONFIG:
        oc->net = FERRY_NETFAIL_TLS;
        return 0;
    default: /* final */
        if (rc == FERRY_ETOOBIG)
            ferry_error_set(&op->res.err, rc, "%s %s://%s: reply larger than %u bytes", op->method,
                            c->prof.scheme, op->bucket, XML_BODY_MAX);
        else if (op->res.err.code != rc) /* else: our own check said why */
            ferry_error_set(&op->res.err, rc, "%s %s://%s/%.*s stopped: %s", op->method,
                            c->prof.scheme, op->bucket, op->key ? (int)op->key_len : 0,
                            op->key ? op->key : "", ferry_strerror(rc));
        op_finish(op, resp);
        return 1;
    }
}

/* Parse a 2xx reply's XML body into *px (the caller frees it), through the op's page checks.
 * Returns 1 when the reply is refused: unreadable, or a check said why; the op is ended. */
static int done_parse(ferry_s3_op_t *op, const ferry_http_resp_t *resp, ferry_s3xml_t **px)
{
    ferry_s3_t *c = op->c;
    ferry_s3xml_opts_t xo = {.expect = op->expect,
                             .list_version = op->list_version,
                             .plus_literal = !c->prof.list_plus_is_space};
    ferry_s3xml_cbs_t vc;
    ferry_error_clear(&op->res.err);
    int prc = ferry_s3xml_new(&xo, s3_ops_check_cbs(op, &vc), px);
    if (!prc)
        prc = ferry_s3xml_feed(*px, resp->body, resp->body_len);
    if (!prc)
        prc = ferry_s3xml_finish(*px);
    if (!prc)
        return 0;
    if (op->cb_stopped) { /* a provisional listing's callback stopped it: the op ends there */
        op->cb_stopped = 0;
        ferry_s3xml_free(*px);
        *px = NULL;
        if (!op->res.err.code)
            ferry_error_set(&op->res.err, prc, "%s %s://%s stopped: %s", op->method, c->prof.scheme,
                            op->bucket, ferry_strerror(prc));
        op_finish(op, resp);
        return 1;
    }
    if (op->res.err.code != prc) { /* else: the page check said why */
        const ferry_error_t *pe = *px ? ferry_s3xml_last_error(*px) : NULL;
        ferry_error_set(&op->res.err, prc, "%s %s://%s at %s: unreadable reply (%s)", op->method,
                        c->prof.scheme, op->bucket, c->prof.endpoint,
                        pe && pe->msg[0] ? pe->msg : ferry_strerror(prc));
    }
    op->res.err.http_status = (int)resp->status;
    ferry_s3xml_free(*px);
    *px = NULL;
    op_finish(op, resp);
    return 1;
}

/* A 2xx: the page to the op; then its next page, or the end. Frees px. */
static void done_success(ferry_s3_op_t *op, const ferry_http_resp_t *resp, ferry_s3xml_t *px)
{
    ferry_s3_t *c = op->c;
    int more = 0;
    int orc = s3_ops_on_page(op, resp, px ? ferry_s3xml_result(px) : NULL, &more);
    ferry_s3xml_free(px);
    if (orc) {
        if (!op->res.err.code)
            ferry_error_set(&op->res.err, orc, "%s %s://%s stopped: %s", op->method, c->prof.scheme,
                            op->bucket, ferry_strerror(orc));
        op_finish(op, resp);
        return;
    }
    if (more) { /* next page */
        op->tries = 0;
        op->redirected = 0;
        if (op_send(op) != FERRY_OK)
            op_finish(op, resp);
        return;
    }
    ferry_error_clear(&op->res.err);
    (void)chunked_confirm(op); /* sets res.err on a failure */
    op_finish(op, resp);
}

/* An error reply (xe: its <Error>, if any): what the retry policy needs in oc — the S3 code,
 * the bucket's region when the reply names it (region, n bytes), a Retry-After floor. */
static void done_error_reply(ferry_s3_op_t *op, const ferry_http_resp_t *resp,
                             ferry_s3xml_error_t *xe, char *region, size_t n,
                             ferry_retry_outcome_t *oc)
{
    ferry_s3_t *c = op->c;
    if (!xe->code[0] && resp->status == 404)
        snprintf(xe->code, sizeof(xe->code), "%s", op->key ? "NoSuchKey" : "NoSuchBucket");
    oc->s3_code = xe->code;
    if (!op->res.request_id[0] && xe->request_id[0])
        snprintf(op->res.request_id, sizeof(op->res.request_id), "%s", xe->request_id);
    snprintf(region, n, "%s", xe->region);
    if (!region[0] && !strcmp(xe->code, "AuthorizationHeaderMalformed")) {
        /* S3 also says it in words: "... the region 'us-east-1' is wrong; expecting
         * 'eu-west-1'" (and fakes3 only in words). */
        const char *e = strstr(xe->message, "expecting '");
        const char *q = e ? strchr(e + 11, '\'') : NULL;
        if (q && (size_t)(q - (e + 11)) < n && q > e + 11)
            snprintf(region, n, "%.*s", (int)(q - (e + 11)), e + 11);
    }
    if (!region[0]) {
        const char *br = ferry_http_resp_header(resp, "x-amz-bucket-region");
        if (br)
            snprintf(region, n, "%s", br);
        else if (xe->endpoint[0])
            region_from_endpoint(xe->endpoint, region, n);
    }
    oc->region = region;
    oc->endpoint = xe->endpoint;
    uint64_t floor_ms = 0, v;
    const char *ra = ferry_http_resp_header(resp, "retry-after");
    if (ra && ferry_retry_parse_retry_after(ra, c->now_ms(c->now_ud), &v) == FERRY_OK)
        floor_ms = v;
    const char *qd = ferry_http_resp_header(resp, "x-oss-qos-delay-time");
    if (qd && ferry_retry_parse_qos_delay(qd, &v) == FERRY_OK && v > floor_ms)
        floor_ms = v;
    oc->floor_ms = floor_ms;
}

/* An HTTP reply. Returns 1 when it ended the op (a success, its next page, or a reply the op's
 * checks refused); else it filled in what the retry policy needs (oc, xe, region). */
static int done_reply(ferry_s3_op_t *op, const ferry_http_resp_t *resp, ferry_s3xml_error_t *xe,
                      char *region, size_t n, ferry_retry_outcome_t *oc)
{
    ferry_s3xml_t *px = NULL;
    oc->http_status = (int)resp->status;
    int ok2xx = resp->status >= 200 && resp->status < 300;
    if (ok2xx && op->expect != FERRY_S3XML_NONE) {
        if (done_parse(op, resp, &px))
            return 1;
        const ferry_s3xml_result_t *xr = ferry_s3xml_result(px);
        if (xr->root == FERRY_S3XML_ERROR) {
            *xe = xr->err; /* a 200 carrying <Error>: a failure */
            ok2xx = 0;
        }
    } else if (!ok2xx && resp->body_len) {
        ferry_s3xml_parse_error(resp->body, resp->body_len, xe);
    }
    if (ok2xx) {
        done_success(op, resp, px);
        return 1;
    }
    ferry_s3xml_free(px);
    done_error_reply(op, resp, xe, region, n, oc);
    return 0;
}

/* Send it again? The retry policy's answer, a region redirect at most once (not an attempt),
 * a streamed body only when its source can start over. Returns 1 when a retry is scheduled. */
static int done_retry(ferry_s3_op_t *op, const ferry_retry_outcome_t *oc, const char *region,
                      const ferry_s3xml_error_t *xe)
{
    ferry_s3_t *c = op->c;
    ferry_retry_class_t cls;
    uint64_t delay = 0;
    int again = ferry_retry_next(&c->pol, oc, op->tries, &cls, &delay);
    if (again && cls == FERRY_RETRY_REDIRECT_REGION) {
        if (op->redirected || !region[0]) {
            again = 0;
        } else {
            op->redirected = 1;
            ferry_log(FERRY_LOG_INFO, "s3.region_redirect", "bucket", op->bucket, "from",
                      c->prof.signing_region, "to", region, NULL);
            repoint_region(c, region);
            op->tries--; /* a redirect is not a failed attempt */
        }
    }
    if (again && op->source) {
        /* A streamed body is sent again only if the source can start over. */
        if (!op->rewind || op->rewind(op->uarg) != FERRY_OK)
            again = 0;
        else if (op->ch.on)
            chunked_rewind(op);
    }
    if (!again)
        return 0;
    if (c->on_retry)
        c->on_retry(c->observe_ud, op->name, cls);
    ferry_log(FERRY_LOG_DEBUG, "s3.retry", "op", op->name, "bucket", op->bucket, "class",
              ferry_retry_class_name(cls), "code", xe->code, NULL);
    op->res.status = 0;
    uv_timer_start(&op->timer, retry_cb, delay, 0);
    return 1;
}

/* The transport's answer to one attempt: cancel, success (maybe the next page), retry, or the
 * final error with the client's sentence (op_fail_net / op_fail_s3). */
static void on_http_done(void *arg, int rc, const ferry_error_t *herr,
                         const ferry_http_resp_t *resp)
{
    ferry_s3_op_t *op = arg;
    ferry_s3_t *c = op->c;
    ferry_retry_outcome_t oc = {0};
    ferry_s3xml_error_t xe;
    char region[64] = "";

    op->req = NULL;
    memset(&xe, 0, sizeof(xe));
    if (op->canceled) {
        ferry_error_set(&op->res.err, FERRY_ECANCELED, "%s %s://%s canceled", op->method,
                        c->prof.scheme, op->bucket);
        op_finish(op, resp);
        return;
    }
    capture_headers(op, resp);
    if (c->on_attempt)
        c->on_attempt(c->observe_ud, op->name, rc == FERRY_OK ? resp->status : 0);
    if (rc != FERRY_OK ? done_transport(op, rc, resp, &oc)
                       : done_reply(op, resp, &xe, region, sizeof(region), &oc))
        return;
    if (done_retry(op, &oc, region, &xe))
        return;
    int code = ferry_retry_errcode(&oc);
    if (code == FERRY_OK)
        code = FERRY_ES3;
    if (oc.net != FERRY_NETFAIL_NONE)
        op_fail_net(op, code, herr && herr->msg[0] ? herr->msg : ferry_strerror(rc));
    else
        op_fail_s3(op, code, resp->status, xe.code, xe.message, region);
    op_finish(op, resp);
}

int s3_op_start(ferry_s3_op_t *op, ferry_s3_done_cb done, void *arg, ferry_s3_op_t **out,
                ferry_error_t *err)
{
    ferry_s3_t *c = op->c;
    if (out)
        *out = NULL;
    if (!done) {
        s3_op_discard(op);
        return FERRY_EINVAL;
    }
    op->done = done;
    op->done_arg = arg;
    op->res.content_length = -1;
    op->res.object_size = -1;
    if (!op->payload_hash[0]) {
        /* A memory body under a signed checksum header is not hashed a second time: the store
         * checks that header against the bytes, as it does for streamed bodies. */
        if (op->source || (op->body && op->body_len > 0 && op->body_checked))
            ferry_str_copy(op->payload_hash, sizeof(op->payload_hash), FERRY_SIGV4_UNSIGNED);
        else if (op->body && op->body_len > 0) {
            uint8_t d[32];
            ferry_sha256(op->body, (size_t)op->body_len, d);
            ferry_hex_lower(d, 32, op->payload_hash);
        } else
            ferry_str_copy(op->payload_hash, sizeof(op->payload_hash), FERRY_SIGV4_EMPTY_SHA256);
    }
    int rc = op_send(op);
    if (rc) {
        if (err)
            *err = op->res.err;
        s3_op_discard(op);
        return rc;
    }
    uv_timer_init(c->loop, &op->timer);
    op->timer.data = op;
    ferry_list_insert_head(&c->ops, &op->link);
    c->nops++;
    c->nalive++;
    if (out)
        *out = op;
    return FERRY_OK;
}

void ferry_s3_unpause(ferry_s3_op_t *op)
{
    if (op && op->req)
        ferry_http_unpause(op->req);
}

void ferry_s3_cancel(ferry_s3_op_t *op)
{
    if (!op || op->canceled || op->finishing)
        return;
    op->canceled = 1;
    if (op->req) {
        ferry_http_cancel(op->req); /* on_http_done finishes it */
    } else {
        ferry_error_set(&op->res.err, FERRY_ECANCELED, "%s %s://%s canceled", op->method,
                        op->c->prof.scheme, op->bucket);
        uv_timer_stop(&op->timer);
        op_finish_later(op);
    }
}

const char *ferry_s3_result_header(const ferry_s3_result_t *r, const char *name)
{
    return r ? ferry_http_resp_header(r->resp, name) : NULL;
}
