/* ferry worker against s3rver (an independent S3 implementation) as the destination:
 *
 *  1. fakes3 (oss) -> s3rver: mixed sizes (0 B, small, streamed single PUT, multipart) and a
 *     few hostile keys arrive byte-identical; the ledger says done.
 *  2. s3rver -> s3rver (same endpoint and credentials): server-side CopyObject, no bytes
 *     through the worker, ETag compared with the source's.
 *  3. The default --dst-checksum (auto: aws-chunked CRC32C trailers on s3:// multipart parts)
 *     against s3rver, which does not implement aws-chunked: the multipart object is `failed`
 *     with a message naming --dst-checksum md5, never `done`, and nothing lands under its key.
 */
#include "test_worker_util.h"

#include <jansson.h>

/* checksum: the --dst-checksum value, or NULL for the default (auto). */
static void task_raw(wt_t *w, const char *name, const char *from, const char *src_ep,
                     const char *to, const char *dst_ep, const char *checksum)
{
    const char *argv[] = {"--from",
                          from,
                          "--to",
                          to,
                          "--src-endpoint",
                          src_ep,
                          "--dst-endpoint",
                          dst_ep,
                          "--src-region",
                          "us-east-1",
                          "--dst-region",
                          "us-east-1",
                          "--src-path-style",
                          "--dst-path-style",
                          "--multipart-threshold",
                          "8MiB",
                          "--part-size",
                          "5MiB",
                          "--dst-checksum",
                          checksum};
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - (checksum == NULL ? 2 : 0);
    ferry_task_t t;
    ferry_error_t err;
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "%s", name);
    if (ferry_task_parse_args(&t, argc, (char **)argv, &err))
        fprintf(stderr, "task: %s\n", err.msg);
    REQUIRE(ferry_task_put(w->r, &t, 1) == FERRY_OK);
    ferry_task_clear(&t);
}

int main(void)
{
    wt_t w;
    wt_start(&w, "oss", "oss");
    harness_server_t s3r;
    const char *buckets[] = {"dst", NULL};
    REQUIRE(harness_s3rver_start(buckets, &s3r) == 0);
    s3t_t r;
    REQUIRE(s3t_open(&r, "s3", s3r.url, s3r.access_key, s3r.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    setenv("FERRY_DST_ACCESS_KEY_ID", s3r.access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", s3r.secret_key, 1);

    char out[8192];
    long st = s3t_control(&w.s, w.src.url, "POST", "/_fakes3/seed",
                          "{\"bucket\":\"src\",\"prefix\":\"s/\",\"count\":24,\"seed\":4,"
                          "\"sizes\":[{\"size\":0,\"weight\":1},{\"size\":2000,\"weight\":4},"
                          "{\"size\":3145728,\"weight\":1},{\"size\":11534336,\"weight\":1}]}",
                          out, sizeof(out));
    REQUIRE(st == 200);
    const char *keys[] = {"s/a b+c.txt", "s/ünï/名前", "s/dir/", NULL};
    for (int i = 0; keys[i]; i++) {
        s3t_res_t x;
        size_t len = keys[i][strlen(keys[i]) - 1] == '/' ? 0 : 777;
        char buf[777];
        s3t_fill(buf, sizeof(buf), (unsigned)i);
        REQUIRE(s3t_put(&w.s, "src", keys[i], strlen(keys[i]), buf, len, &x) == FERRY_OK);
    }
    /* s3rver has no aws-chunked trailing checksums: MD5 (section 3 shows what auto does) */
    task_raw(&w, "tos3rver", "oss://src/s/", w.src_ep, "s3://dst/in/", s3r.url, "md5");
    size_t n = wt_enqueue_prefix(&w, "tos3rver", "s/");
    const char *wopts[] = {"--exit-when-idle", "--ring", "1MiB", NULL};
    pid_t p = wt_worker(&w, "tos3rver", "s3rver.log", wopts);
    CHECK_INT(wt_wait(p, 300), 0);
    ferry_counters_t c;
    wt_counters(&w, "tos3rver", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], (long long)n);
    CHECK_INT(wt_compare(&w, &r, "s/", "in/"), 0);

    /* ---- server-side: s3rver -> s3rver ---- */
    setenv("FERRY_SRC_ACCESS_KEY_ID", s3r.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", s3r.secret_key, 1);
    task_raw(&w, "inside", "s3://dst/in/", s3r.url, "s3://dst/again/", s3r.url, "md5");
    {
        ferry_ledger_t *led = NULL;
        REQUIRE(ferry_ledger_open(w.r, "inside", 0, &led) == FERRY_OK);
        /* (A key with '+' and ' ' fails CopyObject on s3rver: NoSuchKey — reported.) */
        ferry_item_t it[2] = {{.key = "in/dir/", .size = 0}, {.key = "in/ünï/名前", .size = 777}};
        REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, it, 2, NULL) == FERRY_OK);
        ferry_ledger_free(led);
    }
    p = wt_worker(&w, "inside", "inside.log", wopts);
    CHECK_INT(wt_wait(p, 120), 0);
    CHECK_INT(wt_log_count("inside.log", "server_side=yes"), 1);
    CHECK_INT(wt_log_count("inside.log", "event=copy.done"), 2);
    CHECK_INT(wt_log_count("inside.log", "dst:etag"), 2);
    uint64_t a = 0, b = 0;
    size_t la = 0, lb = 0;
    const char *k1 = "in/ünï/名前", *k2 = "again/ünï/名前";
    CHECK_INT(wt_crc(&r, "dst", k1, strlen(k1), &a, &la), FERRY_OK);
    CHECK_INT(wt_crc(&r, "dst", k2, strlen(k2), &b, &lb), FERRY_OK);
    CHECK(a == b && la == lb && la == 777);

    /* ---- 3. auto (trailers) against a store without aws-chunked ---- */
    setenv("FERRY_SRC_ACCESS_KEY_ID", w.src.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", w.src.secret_key, 1);
    {
        s3t_res_t x;
        size_t big = 11u << 20; /* multipart: 5 + 5 + 1 MiB */
        char *buf = malloc(big);
        REQUIRE(buf != NULL);
        s3t_fill(buf, big, 77);
        REQUIRE(s3t_put(&w.s, "src", "t/big", 5, buf, big, &x) == FERRY_OK);
        REQUIRE(s3t_put(&w.s, "src", "t/small", 7, buf, 1000, &x) == FERRY_OK);
        free(buf);
    }
    task_raw(&w, "auto", "oss://src/t/", w.src_ep, "s3://dst/auto/", s3r.url, NULL);
    CHECK_INT((long long)wt_enqueue_prefix(&w, "auto", "t/"), 2);
    const char *aopts[] = {"--exit-when-idle", "--max-deliveries", "1", "--ring", "1MiB", NULL};
    p = wt_worker(&w, "auto", "auto.log", aopts);
    CHECK_INT(wt_wait(p, 120), 0);
    ferry_record_t rec;
    CHECK_INT(wt_record(&w, "auto", "t/big", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_FAILED);
    CHECK(strstr(rec.error, "--dst-checksum md5") != NULL);
    if (strstr(rec.error, "--dst-checksum md5") == NULL)
        fprintf(stderr, "t/big: %s\n", rec.error);
    CHECK_INT(wt_record(&w, "auto", "t/small", &rec), FERRY_OK); /* single PUT: MD5, fine */
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    {
        s3t_res_t x;
        CHECK_INT(s3t_head(&r, "dst", "auto/big", 8, &x), FERRY_ENOTFOUND);
    }

    s3t_close(&r);
    wt_stop(&w);
    return test_summary();
}
