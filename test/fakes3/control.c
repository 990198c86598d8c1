/* fakes3 control routes under /_fakes3/: no auth, JSON in and out. */
#include "server_int.h"

#include "ferry/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_json(fakes3_ctx_t *ctx, int status, const char *body, size_t n)
{
    fakes3_ctx_reply(ctx, status, NULL, "application/json", body, n);
}

static void reply_jerr(fakes3_ctx_t *ctx, int status, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL)
        reply_json(ctx, status, s, strlen(s));
    else
        fakes3_ctx_reply(ctx, 500, NULL, NULL, "", 0);
    free(s);
    json_decref(o);
}

static int get_u64(json_t *o, const char *name, uint64_t dflt, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        *out = dflt;
        return FERRY_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return FERRY_EPARSE;
    *out = (uint64_t)json_integer_value(v);
    return FERRY_OK;
}

static void seed(fakes3_ctx_t *ctx)
{
    json_error_t jerr;
    char msg[256];
    json_t *root = json_loadb(ctx->body ? ctx->body : "", ctx->body_len, 0, &jerr);
    fakes3_seed_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    uint64_t width = 8;
    if (!json_is_object(root)) {
        snprintf(msg, sizeof(msg), "seed: want a JSON object (%s)", root ? "" : jerr.text);
        reply_jerr(ctx, 400, msg);
        goto out;
    }
    const char *bucket = json_string_value(json_object_get(root, "bucket"));
    const char *prefix = json_string_value(json_object_get(root, "prefix"));
    json_t *sizes = json_object_get(root, "sizes");
    if (bucket == NULL || get_u64(root, "start", 0, UINT64_MAX / 2, &sp.start) ||
        get_u64(root, "count", 0, 100000000, &sp.count) ||
        get_u64(root, "seed", 0, UINT64_MAX / 2, &sp.seed) ||
        get_u64(root, "width", 8, 20, &width) || json_object_get(root, "count") == NULL) {
        reply_jerr(ctx, 400,
                   "seed: need bucket, count (<= 1e8); start, seed, width (<= 20) "
                   "are optional non-negative integers");
        goto out;
    }
    sp.prefix = prefix ? prefix : "";
    sp.width = (int)width;
    sp.crc32c = json_is_true(json_object_get(root, "crc32c"));
    if (strlen(sp.prefix) > 900) {
        reply_jerr(ctx, 400, "seed: prefix too long");
        goto out;
    }
    if (json_is_array(sizes)) {
        size_t i;
        json_t *e;
        if (json_array_size(sizes) == 0 || json_array_size(sizes) > 64) {
            reply_jerr(ctx, 400, "seed: sizes must hold 1..64 entries");
            goto out;
        }
        json_array_foreach(sizes, i, e)
        {
            if (get_u64(e, "size", 0, 5ULL << 30, &sp.sizes[i]) ||
                get_u64(e, "weight", 1, 1000000, &sp.weights[i]) ||
                json_object_get(e, "size") == NULL) {
                reply_jerr(ctx, 400, "seed: each sizes entry is {\"size\":N,\"weight\":W}");
                goto out;
            }
        }
        sp.nsizes = json_array_size(sizes);
    } else {
        if (get_u64(root, "size", 0, 5ULL << 30, &sp.sizes[0]) != FERRY_OK) {
            reply_jerr(ctx, 400, "seed: size must be an integer <= 5 GiB");
            goto out;
        }
        sp.weights[0] = 1;
        sp.nsizes = 1;
    }
    int rc = fakes3_store_bucket_create(ctx->srv->store, bucket);
    if (rc != FERRY_OK && rc != FERRY_EEXISTS) {
        reply_jerr(ctx, 500, "seed: could not create the bucket");
        goto out;
    }
    fakes3_bucket_t *bk = fakes3_store_bucket(ctx->srv->store, bucket);
    uint64_t created = 0;
    rc = bk ? fakes3_store_seed(ctx->srv->store, bk, &sp, &created) : FERRY_ENOTFOUND;
    if (rc != FERRY_OK) {
        snprintf(msg, sizeof(msg), "seed failed after %llu objects: %s",
                 (unsigned long long)created, ferry_strerror(rc));
        reply_jerr(ctx, 500, msg);
        goto out;
    }
    snprintf(msg, sizeof(msg), "{\"created\":%llu}", (unsigned long long)created);
    reply_json(ctx, 200, msg, strlen(msg));
out:
    json_decref(root);
}

int fakes3_control(fakes3_ctx_t *ctx)
{
    const char *route = ctx->req->path + 9; /* after "/_fakes3/" */
    const char *m = ctx->req->method;
    fakes3_server_t *srv = ctx->srv;
    ferry_buf_t out;
    char err[256] = "";
    ferry_buf_init(&out, 1 << 20);
    if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
        goto done;
    if (strcmp(route, "stats") == 0 && strcmp(m, "GET") == 0) {
        if (fakes3_stats_dump(&srv->stats, &out) == FERRY_OK)
            reply_json(ctx, 200, out.data, out.len);
        else
            reply_jerr(ctx, 500, "stats too large");
    } else if (strcmp(route, "stats/reset") == 0 && strcmp(m, "POST") == 0) {
        fakes3_stats_reset(&srv->stats);
        reply_json(ctx, 200, "{\"ok\":true}", 11);
    } else if (strcmp(route, "faults") == 0 && strcmp(m, "GET") == 0) {
        if (fakes3_faults_dump(&srv->faults, &out) == FERRY_OK)
            reply_json(ctx, 200, out.data, out.len);
        else
            reply_jerr(ctx, 500, "out of memory");
    } else if (strcmp(route, "faults") == 0 && (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0)) {
        if (fakes3_faults_set(&srv->faults, ctx->body ? ctx->body : "", ctx->body_len, err,
                              sizeof(err)) == FERRY_OK)
            reply_json(ctx, 200, "{\"ok\":true}", 11);
        else
            reply_jerr(ctx, 400, err[0] ? err : "bad fault rules");
    } else if (strcmp(route, "faults") == 0 && strcmp(m, "DELETE") == 0) {
        fakes3_faults_set(&srv->faults, "[]", 2, err, sizeof(err));
        reply_json(ctx, 200, "{\"ok\":true}", 11);
    } else if (strcmp(route, "seed") == 0 && strcmp(m, "POST") == 0) {
        seed(ctx);
    } else if (strcmp(route, "health") == 0) {
        reply_json(ctx, 200, "{\"ok\":true}", 11);
    } else {
        reply_jerr(ctx, 404,
                   "unknown control route: try GET /_fakes3/stats, "
                   "POST /_fakes3/stats/reset, GET|POST|DELETE /_fakes3/faults, "
                   "POST /_fakes3/seed");
    }
done:
    ferry_buf_free(&out);
    return FERRY_OK;
}
