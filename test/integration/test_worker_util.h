/* Helpers for the test_worker* integration tests: servers, a task, jobs, a worker process,
 * and an end-to-end comparison of source and destination. Header-only (one test per binary). */
#ifndef TEST_WORKER_UTIL_H
#define TEST_WORKER_UTIL_H

#include "harness.h"
#include "test_s3_util.h"

#include "ferry/check.h"
#include "ferry/clock.h"
#include "ferry/ledger.h"
#include "ferry/queue.h"
#include "ferry/redis.h"
#include "ferry/task.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct wt_s {
    harness_server_t redis, src, dst;
    s3t_t s, d; /* clients to the source and destination servers */
    ferry_redis_t *r;
    const char *src_scheme;
    int src_path;     /* path-style on the source (OSS refuses it: virtual hosts) */
    char src_ep[256]; /* the source endpoint as the task names it */
} wt_t;

static inline double wt_now(void)
{
    return ferry_mono_s();
}

/* Start Redis, a source fakes3 (personality) with bucket "src" and a destination fakes3 (s3)
 * with bucket "dst"; set the credentials the worker reads from the environment. */
static inline void wt_start(wt_t *w, const char *personality, const char *scheme)
{
    memset(w, 0, sizeof(*w));
    w->src_scheme = scheme;
    REQUIRE(harness_init() == 0);
    REQUIRE(harness_redis_start(&w->redis) == 0);
    /* The task's localhost endpoint means path style; fakes3's OSS accepts it on request. */
    const char *sb[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *db[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start(personality, sb, &w->src) == 0);
    REQUIRE(harness_fakes3_start("s3", db, &w->dst) == 0);
    setenv("FERRY_SRC_ACCESS_KEY_ID", w->src.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", w->src.secret_key, 1);
    setenv("FERRY_DST_ACCESS_KEY_ID", w->dst.access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", w->dst.secret_key, 1);
    w->src_path = 1;
    if (w->src_path)
        snprintf(w->src_ep, sizeof(w->src_ep), "%s", w->src.url);
    else
        s3t_localhost(w->src.url, w->src_ep, sizeof(w->src_ep));
    REQUIRE(s3t_open(&w->s, scheme, w->src.url, w->src.access_key, w->src.secret_key,
                     w->src_path ? FERRY_TRI_ON : FERRY_TRI_OFF, "source") == 0);
    REQUIRE(s3t_open(&w->d, "s3", w->dst.url, w->dst.access_key, w->dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(w->redis.url, NULL, &w->r, &err) == FERRY_OK);
}

static inline void wt_stop(wt_t *w)
{
    s3t_close(&w->s);
    s3t_close(&w->d);
    ferry_redis_free(w->r);
}

/* Define task NAME: SCHEME://src/SP -> s3://dst/DP with extra task options. */
static inline void wt_task(wt_t *w, const char *name, const char *sp, const char *dst_url,
                           const char *dp, const char *const *extra)
{
    char from[256], to[256];
    snprintf(from, sizeof(from), "%s://src/%s", w->src_scheme, sp);
    snprintf(to, sizeof(to), "s3://dst/%s", dp);
    const char *argv[40];
    int n = 0;
    argv[n++] = "--from";
    argv[n++] = from;
    argv[n++] = "--to";
    argv[n++] = to;
    argv[n++] = "--src-endpoint";
    argv[n++] = w->src_ep;
    argv[n++] = "--dst-endpoint";
    argv[n++] = dst_url ? dst_url : w->dst.url;
    argv[n++] = "--src-region";
    argv[n++] = "us-east-1";
    argv[n++] = "--dst-region";
    argv[n++] = "us-east-1";
    if (w->src_path)
        argv[n++] = "--src-path-style";
    argv[n++] = "--dst-path-style";
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    ferry_task_t t;
    ferry_error_t err;
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "%s", name);
    if (ferry_task_parse_args(&t, n, (char **)argv, &err) != FERRY_OK)
        fprintf(stderr, "task: %s\n", err.msg);
    REQUIRE(ferry_task_put(w->r, &t, 1) == FERRY_OK);
    ferry_task_clear(&t);
}

/* List the source under prefix and enqueue every object as a bulk job. Returns the count. */
static inline size_t wt_enqueue_prefix(wt_t *w, const char *task, const char *prefix)
{
    s3t_list_t l;
    s3t_res_t x;
    memset(&l, 0, sizeof(l));
    REQUIRE(s3t_list(&w->s, "src", prefix, NULL, 0, 1000, &l, &x) == FERRY_OK);
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w->r, task, 0, &led) == FERRY_OK);
    ferry_item_t *items = calloc(l.n ? l.n : 1, sizeof(*items));
    REQUIRE(items != NULL);
    for (size_t i = 0; i < l.n; i++) {
        items[i].key = l.keys[i];
        items[i].size = (uint64_t)l.sizes[i];
        items[i].origin = FERRY_ORIGIN_SCAN;
    }
    REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, items, l.n, NULL) == FERRY_OK);
    size_t n = l.n;
    free(items);
    ferry_ledger_free(led);
    s3t_list_free(&l);
    return n;
}

/* PUT len bytes of s3t_fill(seed) as the source object key. */
static inline void wt_put(wt_t *w, const char *key, size_t len, unsigned seed)
{
    char *b = malloc(len ? len : 1);
    REQUIRE(b != NULL);
    s3t_fill(b, len, seed);
    s3t_res_t x;
    int rc = s3t_put(&w->s, "src", key, strlen(key), b, len, &x);
    if (rc != FERRY_OK)
        fprintf(stderr, "put %s: %s\n", key, x.r.err.msg);
    REQUIRE(rc == FERRY_OK);
    free(b);
}

/* wt_put, the object stored with its whole-object CRC32C (x-amz-checksum-crc32c): an s3
 * source HEAD with x-amz-checksum-mode answers it (FULL_OBJECT), so the worker copies it in
 * parallel parts checked by that CRC32C (a plain-MD5 source without one above the threshold
 * is copied as one streamed PUT, for its MD5 check). */
static inline void wt_put_crc32c(wt_t *w, const char *key, size_t len, unsigned seed)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    s3t_res_t x;
    char crc[16];
    char *b = malloc(len ? len : 1);
    REQUIRE(b != NULL);
    s3t_fill(b, len, seed);
    ferry_crc32c_b64(ferry_crc32c_update(0, b, len), crc);
    ferry_s3_args_init(&a);
    a.bucket = "src";
    a.key = key;
    a.body = b;
    a.body_len = (int64_t)len;
    a.checksum_crc32c = crc;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_put(w->s.c, &a, s3t_done, &x, NULL, &e) == FERRY_OK);
    s3t_wait(&w->s, &x);
    if (x.r.rc != FERRY_OK)
        fprintf(stderr, "put %s: %s\n", key, x.r.err.msg);
    REQUIRE(x.r.rc == FERRY_OK);
    free(b);
}

/* Enqueue one key (event stream). */
static inline void wt_enqueue_key(wt_t *w, const char *task, const char *key, uint64_t size)
{
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w->r, task, 0, &led) == FERRY_OK);
    ferry_item_t it = {.key = key, .size = size, .origin = FERRY_ORIGIN_EVENT};
    REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_EVENT, &it, 1, NULL) == FERRY_OK);
    ferry_ledger_free(led);
}

/* Run the ferry binary with args (shell words) against w's Redis; its exit code, stdout in out
 * (n bytes). A non-zero exit prints the command's stderr. */
static inline int wt_cli(wt_t *w, const char *args, char *out, size_t n)
{
    char cmd[2048], err[4096];
    const char *dir = getenv("FERRY_BIN_DIR");
    snprintf(cmd, sizeof(cmd), "'%s/ferry' --redis '%s' %s", dir ? dir : ".", w->redis.url, args);
    int rc = harness_run(cmd, out, n, err, sizeof(err));
    if (rc)
        fprintf(stderr, "ferry %s: exit %d: %s\n", args, rc, err);
    return rc;
}

/* Start `ferry worker` for task with extra options; stderr to LOGNAME in the temp dir. */
static inline pid_t wt_worker(wt_t *w, const char *task, const char *logname,
                              const char *const *extra)
{
    static char bin[1024], log[1024];
    const char *dir = getenv("FERRY_BIN_DIR");
    snprintf(bin, sizeof(bin), "%s/ferry", dir ? dir : ".");
    snprintf(log, sizeof(log), "%s/%s", harness_tmpdir(), logname);
    const char *argv[48];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--redis";
    argv[n++] = w->redis.url;
    argv[n++] = "worker";
    argv[n++] = "--task";
    argv[n++] = task;
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t p = harness_spawn(argv, NULL, log);
    REQUIRE(p > 0);
    return p;
}

/* Wait for a child up to secs; returns its exit status (or -1 on timeout: it is killed). */
static inline int wt_wait(pid_t p, double secs)
{
    double end = wt_now() + secs;
    int st = 0;
    while (wt_now() < end) {
        pid_t r = waitpid(p, &st, WNOHANG);
        if (r == p)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(50 * 1000);
    }
    fprintf(stderr, "worker %d did not exit within %.0f s: killing it\n", (int)p, secs);
    kill(p, SIGKILL);
    waitpid(p, &st, 0);
    return -1;
}

/* One object's record. */
static inline int wt_record(wt_t *w, const char *task, const char *key, ferry_record_t *rec)
{
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w->r, task, 0, &led) == FERRY_OK);
    int rc = ferry_ledger_get(led, key, rec);
    ferry_ledger_free(led);
    return rc;
}

static inline void wt_counters(wt_t *w, const char *task, ferry_counters_t *c)
{
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w->r, task, 0, &led) == FERRY_OK);
    REQUIRE(ferry_ledger_counters(led, c) == FERRY_OK);
    ferry_ledger_free(led);
}

/* CRC-64 and size of an object (GET whole). rc from the GET. */
static inline int wt_crc(s3t_t *t, const char *bucket, const char *key, size_t klen, uint64_t *crc,
                         size_t *len)
{
    s3t_sink_t s = {0};
    s3t_res_t x;
    int rc = s3t_get(t, bucket, key, klen, -1, -1, &s, &x);
    *crc = rc == FERRY_OK ? ferry_crc64_update(0, s.data ? s.data : "", s.len) : 0;
    *len = s.len;
    free(s.data);
    return rc;
}

/* Compare every source object under sp with dst/dp + rest: byte-identical (CRC-64 + size).
 * Returns how many differ or are missing. */
static inline size_t wt_compare(wt_t *w, s3t_t *dst, const char *sp, const char *dp)
{
    s3t_list_t l;
    s3t_res_t x;
    size_t bad = 0;
    memset(&l, 0, sizeof(l));
    REQUIRE(s3t_list(&w->s, "src", sp, NULL, 0, 1000, &l, &x) == FERRY_OK);
    for (size_t i = 0; i < l.n; i++) {
        char dk[2200];
        size_t sl = strlen(sp);
        snprintf(dk, sizeof(dk), "%s%.*s", dp, (int)(l.lens[i] - sl), l.keys[i] + sl);
        uint64_t a = 0, b = 0;
        size_t la = 0, lb = 0;
        int ra = wt_crc(&w->s, "src", l.keys[i], l.lens[i], &a, &la);
        int rb = wt_crc(dst, "dst", dk, strlen(dk), &b, &lb);
        if (ra != FERRY_OK || rb != FERRY_OK || a != b || la != lb) {
            fprintf(stderr, "differs: \"%s\" (src rc %d len %zu, dst rc %d len %zu)\n", l.keys[i],
                    ra, la, rb, lb);
            bad++;
        }
    }
    s3t_list_free(&l);
    return bad;
}

/* A counter from fakes3's /_fakes3/stats: op ("UploadPart") and field ("count",
 * "bytes_in", "faults"...), or -1 (0 when the op never ran). */
static inline long wt_stat(s3t_t *t, const char *base, const char *op, const char *field)
{
    char out[8192];
    if (s3t_control(t, base, "GET", "/_fakes3/stats", NULL, out, sizeof(out)) != 200)
        return -1;
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    long v = -1;
    if (j) {
        json_t *e = json_object_get(j, op);
        v = 0;
        if (json_is_object(e) && json_is_integer(json_object_get(e, field)))
            v = (long)json_integer_value(json_object_get(e, field));
        json_decref(j);
    }
    return v;
}

/* How many times a line with this text appears in a log in the temp dir. */
static inline int wt_log_count(const char *logname, const char *needle)
{
    char path[1024], line[16384];
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

/* A multipart upload of parts (sizes[0..n), n <= 16) of s3t_fill(seed) as key in bucket: an
 * object whose ETag is the composite md5(md5s)-N, on the given part boundaries. With crc, the
 * upload is created with x-amz-checksum-algorithm CRC32C (a COMPOSITE checksum: each part's
 * CRC32C sent with it and listed in Complete). */
static inline void wt_put_multipart(s3t_t *t, const char *bucket, const char *key,
                                    const size_t *sizes, int n, unsigned seed, int crc)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    s3t_res_t x;
    size_t total = 0;
    REQUIRE(n > 0 && n <= 16);
    for (int i = 0; i < n; i++)
        total += sizes[i];
    char *b = malloc(total ? total : 1);
    REQUIRE(b != NULL);
    s3t_fill(b, total, seed);
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.checksum_algorithm = crc ? "CRC32C" : NULL;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_create_multipart(t->c, &a, s3t_done, &x, NULL, &e) == FERRY_OK);
    s3t_wait(t, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    char id[FERRY_UPLOAD_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", x.r.upload_id);
    ferry_s3xml_cpart_t cp[16];
    char etags[16][FERRY_ETAG_MAX + 1], crcs[16][16];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        ferry_s3_args_init(&a);
        a.bucket = bucket;
        a.key = key;
        a.upload_id = id;
        a.part_number = i + 1;
        a.body = b + off;
        a.body_len = (int64_t)sizes[i];
        ferry_crc32c_b64(ferry_crc32c_update(0, b + off, sizes[i]), crcs[i]);
        a.checksum_crc32c = crc ? crcs[i] : NULL;
        memset(&x, 0, sizeof(x));
        REQUIRE(ferry_s3_upload_part(t->c, &a, s3t_done, &x, NULL, &e) == FERRY_OK);
        s3t_wait(t, &x);
        REQUIRE(x.r.rc == FERRY_OK);
        snprintf(etags[i], sizeof(etags[i]), "%s", x.r.etag);
        memset(&cp[i], 0, sizeof(cp[i]));
        cp[i].number = i + 1;
        cp[i].etag = etags[i];
        cp[i].checksum_crc32c = crc ? crcs[i] : NULL;
        off += sizes[i];
    }
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.upload_id = id;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_complete_multipart(t->c, &a, cp, (size_t)n, s3t_done, &x, NULL, &e) ==
            FERRY_OK);
    s3t_wait(t, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    free(b);
}

typedef struct wt_lp_s {
    int done, n;
} wt_lp_t;

static inline int wt_on_part(void *arg, const ferry_s3xml_part_t *p)
{
    (void)p;
    ((wt_lp_t *)arg)->n++;
    return FERRY_OK;
}

static inline void wt_lp_done(void *arg, const ferry_s3_result_t *r)
{
    wt_lp_t *x = arg;
    x->done = 1;
    if (r->rc != FERRY_OK)
        x->n = -1;
}

/* Parts of an open upload of key in the destination bucket "dst", or -1 when ListParts fails
 * (no such upload). */
static inline int wt_count_parts(s3t_t *t, const char *key, const char *upload_id)
{
    wt_lp_t x = {0, 0};
    ferry_s3_list_args_t a;
    ferry_error_t e;
    memset(&a, 0, sizeof(a));
    a.bucket = "dst";
    a.key = key;
    a.upload_id = upload_id;
    a.on_part = wt_on_part;
    a.arg = &x;
    if (ferry_s3_list_parts(t->c, &a, wt_lp_done, &x, NULL, &e) != FERRY_OK)
        return -1;
    while (!x.done)
        uv_run(&t->loop, UV_RUN_ONCE);
    return x.n;
}

#endif
