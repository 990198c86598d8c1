/* ferry worker, end to end: fakes3 (oss personality) -> fakes3 (s3), real Redis, the ferry
 * binary.
 *
 *  1. 1,000 mixed objects (0 B .. 12 MiB, plus one 64 MiB multipart object and a set of hostile
 *     keys) with ~10% injected 5xx and connection resets on both ends: every object arrives
 *     byte-identical (CRC-64 of source and destination compared object by object), none is
 *     lost, the ledger says done for all. Sizes are kept modest so the test stays within CI
 *     time under ASan; FERRY_WORKER_TEST_N changes the count.
 *  2. A byte flipped in one source GET (count 1) is detected and the copy retried: done and
 *     identical. A byte flipped in every GET of some keys: never done (failed), and nothing
 *     corrupt is left at the destination.
 *  3. Source object gone -> skipped; destination credentials refused -> failed at the first
 *     attempt with a message.
 *  4. Issue 12 item 3 (worker side): a delete job deletes the destination copy only when the
 *     source answers 404 just before: a delete event for a key whose source still exists is
 *     refused (the copy survives, the record returns to done, delete.refused_source_exists);
 *     one whose source is gone deletes the copy.
 */
#include "test_worker_util.h"

#include <jansson.h>
#include <sys/stat.h>

static void seed(wt_t *w, const char *json)
{
    char out[1024];
    long st = s3t_control(&w->s, w->src.url, "POST", "/_fakes3/seed", json, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "seed: %ld %s\n", st, out);
    REQUIRE(st == 200);
}

static const char *const hostile[] = {"h/a b+c%20d.txt",
                                      "h/dir/",
                                      "h/x/..y", /* not "../": path style (item 16) */
                                      "h/tab\there",
                                      "h/ünïcödé/名前.bin",
                                      "h/q?a=1&b=2#f",
                                      "h//double//slash",
                                      "h/~!@$^*()[]{};',=",
                                      "h/<xml>&amp;\"",
                                      "h/trailing.",
                                      NULL};

int main(void)
{
    wt_t w;
    wt_start(&w, "oss", "oss");
    const char *ns = getenv("FERRY_WORKER_TEST_N");
    long n = ns ? atol(ns) : 1000;

    /* ---- 1. mixed objects under faults ---- */
    char js[1024];
    snprintf(js, sizeof(js),
             "{\"bucket\":\"src\",\"prefix\":\"m/\",\"count\":%ld,\"seed\":7,\"sizes\":["
             "{\"size\":0,\"weight\":5},{\"size\":1,\"weight\":5},{\"size\":1024,\"weight\":400},"
             "{\"size\":16384,\"weight\":300},{\"size\":307200,\"weight\":100},"
             "{\"size\":3145728,\"weight\":20},{\"size\":12582912,\"weight\":5}]}",
             n - 12);
    seed(&w, js);
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"big/\",\"count\":1,\"size\":67108864,\"seed\":3}");
    for (int i = 0; hostile[i]; i++)
        wt_put(&w, hostile[i], hostile[i][strlen(hostile[i]) - 1] == '/' ? 0 : 1000 + i * 777,
               (unsigned)i);
    const char *opts[] = {"--multipart-threshold", "8MiB", "--part-size", "5MiB", NULL};
    wt_task(&w, "mixed", "", NULL, "copy/", opts);
    size_t total = wt_enqueue_prefix(&w, "mixed", "");
    printf("enqueued %zu objects\n", total);
    CHECK_INT(total, n - 12 + 1 + 10);
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"rate\":0.05,\"error\":503},"
                       "{\"op\":\"GetObject\",\"rate\":0.05,\"reset_after\":700},"
                       "{\"op\":\"HeadObject\",\"rate\":0.05,\"error\":500}]}") == 0);
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"PutObject\",\"rate\":0.05,\"error\":503},"
                       "{\"op\":\"PutObject\",\"rate\":0.05,\"reset_after\":500},"
                       "{\"op\":\"UploadPart\",\"rate\":0.05,\"error\":500},"
                       "{\"op\":\"UploadPart\",\"rate\":0.05,\"reset_after\":100000},"
                       "{\"op\":\"CompleteMultipartUpload\",\"rate\":0.1,\"error\":503}]}") == 0);
    double t0 = wt_now();
    const char *wopts[] = {"--exit-when-idle", "--concurrency", "16", "--ring", "1MiB", NULL};
    pid_t p = wt_worker(&w, "mixed", "mixed.log", wopts);
    CHECK_INT(wt_wait(p, 400), 0);
    printf("mixed copy took %.1f s\n", wt_now() - t0);
    printf("faults injected: src %ld GET / %ld HEAD, dst %ld PUT / %ld UploadPart\n",
           wt_stat(&w.s, w.src.url, "GetObject", "faults"),
           wt_stat(&w.s, w.src.url, "HeadObject", "faults"),
           wt_stat(&w.d, w.dst.url, "PutObject", "faults"),
           wt_stat(&w.d, w.dst.url, "UploadPart", "faults"));
    CHECK(wt_stat(&w.s, w.src.url, "GetObject", "faults") > 0);
    CHECK(wt_stat(&w.d, w.dst.url, "PutObject", "faults") > 0);
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    ferry_counters_t c;
    wt_counters(&w, "mixed", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], (long long)total);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    CHECK_INT(c.objects[FERRY_STATE_QUEUED] + c.objects[FERRY_STATE_COPYING], 0);
    CHECK_INT(wt_compare(&w, &w.d, "", "copy/"), 0);
    ferry_record_t rec;
    REQUIRE(wt_record(&w, "mixed", "big/00000000", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK(rec.has_crc64);
    CHECK(rec.dst_etag[0] != '\0');
    CHECK(strchr(rec.dst_etag, '-') != NULL); /* multipart */
    CHECK_INT(rec.upload_id[0], 0);
    /* The metadata of a hostile key and the 0-byte "directory" arrived. */
    s3t_res_t x;
    CHECK_INT(s3t_head(&w.d, "dst", "copy/h/dir/", 11, &x), FERRY_OK);
    CHECK_INT(x.r.object_size, 0);
    CHECK_INT(wt_log_count("mixed.log", "event=copy.failed"), 0);

    /* ---- 2. flipped bytes ---- */
    wt_put(&w, "f1/small", 5000, 11);
    wt_put(&w, "f1/stream", 3u << 20, 12);
    wt_put(&w, "fa/small", 5000, 13);
    wt_put(&w, "fa/stream", 3u << 20, 14);
    wt_put(&w, "fa/multi", 12u << 20, 15);
    wt_task(&w, "flip", "", NULL, "flip/", opts);
    wt_enqueue_prefix(&w, "flip", "f");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,\"count\":1,"
                       "\"key_prefix\":\"f1/small\"},"
                       "{\"op\":\"GetObject\",\"flip_byte\":true,\"count\":1,"
                       "\"key_prefix\":\"f1/stream\"},"
                       "{\"op\":\"GetObject\",\"flip_byte\":true,\"key_prefix\":\"fa/\"}]}") == 0);
    const char *fopts[] = {"--exit-when-idle", "--max-deliveries", "3", "--ring", "1MiB", NULL};
    p = wt_worker(&w, "flip", "flip.log", fopts);
    CHECK_INT(wt_wait(p, 200), 0);
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    CHECK_INT(wt_record(&w, "flip", "f1/small", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK(rec.attempts >= 2);
    CHECK_INT(wt_record(&w, "flip", "f1/stream", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK(rec.attempts >= 2);
    CHECK_INT(wt_compare(&w, &w.d, "f1/", "flip/f1/"), 0);
    const char *fa[] = {"fa/small", "fa/stream", "fa/multi"};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(wt_record(&w, "flip", fa[i], &rec), FERRY_OK);
        CHECK_INT(rec.state, FERRY_STATE_FAILED);
        CHECK(strstr(rec.error, "CRC-64") != NULL);
        char dk[64];
        snprintf(dk, sizeof(dk), "flip/%s", fa[i]);
        /* Nothing corrupt was committed. */
        CHECK_INT(s3t_head(&w.d, "dst", dk, strlen(dk), &x), FERRY_ENOTFOUND);
    }
    CHECK(wt_log_count("flip.log", "CRC-64") >= 4);

    /* ---- 3. gone -> skipped, refused -> failed at once ---- */
    wt_task(&w, "edge", "", NULL, "edge/", NULL);
    wt_enqueue_key(&w, "edge", "no/such/key", 10);
    const char *eopts[] = {"--exit-when-idle", NULL};
    p = wt_worker(&w, "edge", "edge.log", eopts);
    CHECK_INT(wt_wait(p, 60), 0);
    CHECK_INT(wt_record(&w, "edge", "no/such/key", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_SKIPPED);
    CHECK_INT(wt_log_count("edge.log", "event=copy.skipped"), 1); /* with the reason */

    char cred[1024];
    snprintf(cred, sizeof(cred), "%s/creds", harness_tmpdir());
    FILE *f = fopen(cred, "w");
    REQUIRE(f != NULL);
    fprintf(f, "[bad]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n");
    fclose(f);
    REQUIRE(chmod(cred, 0600) == 0); /* a credentials file others can read is refused */
    setenv("FERRY_CREDENTIALS", cred, 1);
    const char *bopts[] = {"--dst-profile", "bad", NULL};
    wt_task(&w, "denied", "", NULL, "denied/", bopts);
    wt_enqueue_key(&w, "denied", "f1/small", 5000);
    p = wt_worker(&w, "denied", "denied.log", eopts);
    CHECK_INT(wt_wait(p, 60), 0);
    CHECK_INT(wt_record(&w, "denied", "f1/small", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_FAILED);
    CHECK_INT(rec.attempts, 1);
    printf("denied: %s\n", rec.error);
    CHECK(strstr(rec.error, "destination") != NULL);

    /* ---- 4. delete only when the source says 404 ---- */
    unsetenv("FERRY_CREDENTIALS");
    wt_put(&w, "d/keep.txt", 3000, 41);
    wt_put(&w, "d/gone.txt", 2000, 42);
    const char *dopts[] = {"--delete", NULL};
    wt_task(&w, "del", "d/", NULL, "d/", dopts);
    CHECK_INT(wt_enqueue_prefix(&w, "del", "d/"), 2);
    p = wt_worker(&w, "del", "del1.log", eopts);
    CHECK_INT(wt_wait(p, 60), 0);
    s3t_res_t dx;
    REQUIRE(s3t_head(&w.d, "dst", "d/keep.txt", 10, &dx) == FERRY_OK);
    REQUIRE(s3t_head(&w.d, "dst", "d/gone.txt", 10, &dx) == FERRY_OK);
    REQUIRE(s3t_delete(&w.s, "src", "d/gone.txt", 10, &dx) == FERRY_OK);
    {
        ferry_ledger_t *led = NULL;
        REQUIRE(ferry_ledger_open(w.r, "del", 0, &led) == FERRY_OK);
        ferry_item_t del[2] = {
            {.key = "d/keep.txt", .origin = FERRY_ORIGIN_EVENT, .op_delete = 1}, /* stale */
            {.key = "d/gone.txt", .origin = FERRY_ORIGIN_EVENT, .op_delete = 1}};
        REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_EVENT, del, 2, NULL) == FERRY_OK);
        ferry_ledger_free(led);
    }
    p = wt_worker(&w, "del", "del2.log", eopts);
    CHECK_INT(wt_wait(p, 60), 0);
    CHECK_INT(s3t_head(&w.d, "dst", "d/keep.txt", 10, &dx), FERRY_OK); /* survives */
    CHECK_INT(s3t_head(&w.d, "dst", "d/gone.txt", 10, &dx), FERRY_ENOTFOUND);
    CHECK_INT(wt_record(&w, "del", "d/keep.txt", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    /* The refused delete left the copy's checks as they were. */
    CHECK(strstr(rec.checks, "src:crc64") != NULL);
    CHECK_INT(wt_record(&w, "del", "d/gone.txt", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DELETED);
    CHECK_STR(rec.checks, "src:404"); /* what the delete rested on */
    CHECK_INT(wt_log_count("del2.log", "event=delete.refused_source_exists"), 1);
    CHECK_INT(wt_log_count("del2.log", "event=copy.deleted"), 1);

    /* ---- 5. a worker expecting a peer holds its share, not every free slot ---- */
    /* 8 jobs, --peers 2: the first read takes ceil(8 / 2) = 4 (without the share: all 8 in one
     * read, jobs_per_lease_batch=8.0); the rest follow as the first ones are recorded. */
    for (int i = 0; i < 8; i++) {
        char k[32];
        snprintf(k, sizeof(k), "share/%d", i);
        wt_put(&w, k, 3000, (unsigned)(40 + i));
    }
    wt_task(&w, "share", "", NULL, "share/", NULL);
    CHECK_INT(wt_enqueue_prefix(&w, "share", "share/"), 8);
    const char *sopts[] = {"--exit-when-idle", "--peers", "2", NULL};
    p = wt_worker(&w, "share", "share.log", sopts);
    CHECK_INT(wt_wait(p, 60), 0);
    ferry_counters_t sc;
    wt_counters(&w, "share", &sc);
    CHECK_INT(sc.objects[FERRY_STATE_DONE], 8);
    {
        char path[1024], line[4096];
        snprintf(path, sizeof(path), "%s/share.log", harness_tmpdir());
        FILE *lf = fopen(path, "r");
        double batch = -1;
        while (lf && fgets(line, sizeof(line), lf)) {
            const char *b = strstr(line, "jobs_per_lease_batch=");
            if (strstr(line, "event=worker.stopped") && b)
                batch = strtod(b + strlen("jobs_per_lease_batch="), NULL);
        }
        if (lf)
            fclose(lf);
        printf("share: jobs per lease batch %.1f\n", batch);
        CHECK(batch > 0 && batch <= 4.0);
    }

    wt_stop(&w);
    return test_summary();
}
