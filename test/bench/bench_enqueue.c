/* bench_enqueue — list a source prefix and enqueue every object as a bulk job of a task, as the
 * scheduler's scan would (used by test/bench/bench_copy.sh, which must not depend on the
 * scheduler). Credentials: FERRY_SRC_ACCESS_KEY_ID / FERRY_SRC_SECRET_ACCESS_KEY.
 *
 *   bench_enqueue REDIS_URL TASK SCHEME ENDPOINT BUCKET PREFIX
 *
 * Prints "enqueued N in S s". Exit 0, or 1 with a message. */
#include "ferry/ledger.h"
#include "ferry/redis.h"
#include "ferry/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct st_s {
    ferry_ledger_t *led;
    ferry_item_t items[1000];
    char *keys[1000];
    size_t n, total;
    int done, rc;
    ferry_error_t err;
} st_t;

static int flush(st_t *s)
{
    int rc = s->n ? ferry_ledger_enqueue(s->led, FERRY_QUEUE_BULK, s->items, s->n, NULL) : 0;
    for (size_t i = 0; i < s->n; i++)
        free(s->keys[i]);
    s->total += s->n;
    s->n = 0;
    return rc;
}

static int on_object(void *arg, const ferry_s3xml_object_t *o)
{
    st_t *s = arg;
    s->keys[s->n] = strndup(o->key, o->key_len);
    if (s->keys[s->n] == NULL)
        return FERRY_ENOMEM;
    s->items[s->n] = (ferry_item_t){
        .key = s->keys[s->n], .size = (uint64_t)o->size, .origin = FERRY_ORIGIN_SCAN};
    if (++s->n == 1000)
        return flush(s);
    return FERRY_OK;
}

static void on_done(void *arg, const ferry_s3_result_t *r)
{
    st_t *s = arg;
    s->done = 1;
    s->rc = r->rc;
    s->err = r->err;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_enqueue REDIS_URL TASK SCHEME ENDPOINT BUCKET PREFIX\n");
        return 1;
    }
    static st_t s;
    ferry_error_t err;
    ferry_redis_t *r = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ferry_redis_connect(argv[1], NULL, &r, &err) != FERRY_OK ||
        ferry_ledger_open(r, argv[2], 0, &s.led) != FERRY_OK) {
        fprintf(stderr, "bench_enqueue: %s\n", r ? ferry_redis_error(r)->msg : err.msg);
        return 1;
    }
    ferry_profile_overrides_t ov;
    ferry_profile_t prof;
    ferry_profile_overrides_init(&ov);
    ov.endpoint = argv[4];
    ov.region = "us-east-1";
    ov.path_style = FERRY_TRI_ON;
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *ak = getenv("FERRY_SRC_ACCESS_KEY_ID"), *sk = getenv("FERRY_SRC_SECRET_ACCESS_KEY");
    ferry_s3_t *c = NULL;
    if (ak == NULL || sk == NULL || ferry_profile_resolve(argv[3], &ov, &prof, &err) ||
        ferry_s3_new(&loop, &(ferry_s3_config_t){.profile = &prof, .creds = {ak, sk, NULL}}, &c,
                     &err)) {
        fprintf(stderr, "bench_enqueue: %s\n", ak && sk ? err.msg : "set FERRY_SRC_* keys");
        return 1;
    }
    ferry_s3_list_args_t la;
    memset(&la, 0, sizeof(la));
    la.bucket = argv[5];
    la.prefix = argv[6];
    la.on_object = on_object;
    la.arg = &s;
    if (ferry_s3_list(c, &la, on_done, &s, NULL, &err) != FERRY_OK) {
        fprintf(stderr, "bench_enqueue: %s\n", err.msg);
        return 1;
    }
    while (!s.done)
        uv_run(&loop, UV_RUN_ONCE);
    int rc = s.rc == FERRY_OK ? flush(&s) : s.rc;
    ferry_s3_free(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ferry_ledger_free(s.led);
    ferry_redis_free(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != FERRY_OK) {
        fprintf(stderr, "bench_enqueue: %s\n", s.rc ? s.err.msg : ferry_strerror(rc));
        return 1;
    }
    printf("enqueued %zu in %.2f s\n", s.total,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
