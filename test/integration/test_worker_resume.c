/* ferry worker: crashes, overwrites and shutdowns.
 *
 *  1. kill -9 of the worker in the middle of a 256 MiB multipart copy: a new worker (same
 *     consumer name) resumes the upload from the ledger; fakes3's UploadPart counter shows
 *     that the parts already uploaded were not sent again; the copy is byte-identical.
 *  2. The source is overwritten while a multipart copy runs: the destination ends equal to
 *     the final source version. 2b. The same for small objects copied with one GET: one is
 *     overwritten after its GET, while its PUT is held by the destination; the re-check after
 *     the commit sees the new version and re-queues it, and the destination ends equal to it
 *     (by HEAD; on S3 by listing; with the listing refused; with a listing that hides the
 *     changed key; --src-recheck list on COS, with a well-behaved, a key-hiding and an
 *     out-of-order listing; --src-recheck head on S3).
 *  3. SIGTERM while copies run, with a short grace period: the worker exits 0 at once, no job
 *     is lost (every record is done or still has its job), and a new worker finishes them;
 *     with a long grace period the in-flight copies are drained (finished) instead.
 *  4. --dst-checksum changed between a killed run (md5) and the next (auto: CRC32C parts): the
 *     upload left open cannot be completed with CRC32C parts, so it is aborted and a new one
 *     made; the copy ends byte-identical.
 *  5. kill -9 in the middle of the multipart copy of a plain-MD5 S3 source: the next worker
 *     re-reads the parts already uploaded in order into the whole-object MD5 (src:md5,
 *     resume:crc32c), sending only the missing parts.
 */
#include "test_worker_util.h"

#include <jansson.h>

static void seed(wt_t *w, const char *json)
{
    char out[8192];
    long st = s3t_control(&w->s, w->src.url, "POST", "/_fakes3/seed", json, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "seed: %ld %s\n", st, out);
    REQUIRE(st == 200);
}

static int wait_stat(wt_t *w, const char *op, long at_least, double secs)
{
    double end = wt_now() + secs;
    while (wt_now() < end) {
        if (wt_stat(&w->d, w->dst.url, op, "count") >= at_least)
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* 2b: 40 small objects whose PUTs the destination holds for 1.5 s (so their commits come
 * together); one of them is overwritten after every GET. task_opts: the task's options (NULL:
 * none). Returns the source's HeadObject requests during the copy. */
static long small_overwrite(wt_t *w, const char *task, const char *log, const char *src_faults,
                            const char *dst_faults, const char *const *task_opts)
{
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"sm/\",\"count\":40,\"size\":4096,\"seed\":21}");
    wt_task(w, task, "sm/", NULL, "sm/", task_opts);
    REQUIRE(s3t_faults(&w->d, w->dst.url,
                       dst_faults ? dst_faults
                                  : "{\"rules\":[{\"op\":\"PutObject\",\"key_prefix\":\"sm/\","
                                    "\"latency_ms\":1500,\"count\":40}]}") == 0);
    long gets0 = wt_stat(&w->s, w->src.url, "GetObject", "count");
    long heads0 = wt_stat(&w->s, w->src.url, "HeadObject", "count");
    wt_enqueue_prefix(w, task, "sm/");
    if (src_faults) /* for the worker only (the enqueue above lists the source too) */
        REQUIRE(s3t_faults(&w->s, w->src.url, src_faults) == 0);
    const char *opts[] = {"--exit-when-idle", NULL};
    pid_t p = wt_worker(w, task, log, opts);
    /* every GET is done (the PUTs are held): overwrite one now */
    double end = wt_now() + 60;
    while (wt_now() < end && wt_stat(&w->s, w->src.url, "GetObject", "count") < gets0 + 40)
        usleep(10 * 1000);
    CHECK(wt_stat(&w->s, w->src.url, "GetObject", "count") >= gets0 + 40);
    char nb[5000];
    s3t_fill(nb, sizeof(nb), 77);
    s3t_res_t x;
    REQUIRE(s3t_put(&w->s, "src", "sm/00000007", 11, nb, sizeof(nb), &x) == FERRY_OK);
    CHECK_INT(wt_wait(p, 120), 0);
    if (src_faults) /* the comparison below lists the source */
        REQUIRE(s3t_faults(&w->s, w->src.url, "{\"rules\":[]}") == 0);
    ferry_record_t rec;
    REQUIRE(wt_record(w, task, "sm/00000007", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK_INT(rec.size, sizeof(nb));
    CHECK_INT(wt_compare(w, &w->d, "sm/", "sm/"), 0);
    CHECK_INT(wt_log_count(log, "event=copy.source_changed "), 1);
    REQUIRE(s3t_faults(&w->d, w->dst.url, "{\"rules\":[]}") == 0);
    return wt_stat(&w->s, w->src.url, "HeadObject", "count") - heads0;
}

/* The re-check by listing against a store whose listing misbehaves (op: the source's listing
 * operation; tasks hide and order name the two runs):
 *  - a listing that hides the overwritten key (a buggy store): its absence proves nothing, so
 *    it gets a HEAD, which sees the change (small_overwrite checks the re-queue); the others
 *    are settled by the listings;
 *  - a listing page that turns out bad (out of key order) after its first two entries: what it
 *    said of the keys before is not used, every copy of it gets its HEAD (and the listings that
 *    follow back off to HEADs). */
static void hostile_listings(wt_t *w, const char *what, const char *op, const char *hide,
                             const char *order, const char *const *task_opts)
{
    char faults[160], log[64];
    snprintf(faults, sizeof(faults), "{\"rules\":[{\"op\":\"%s\",\"list_omit\":\"sm/00000007\"}]}",
             op);
    snprintf(log, sizeof(log), "%s.log", hide);
    long heads = small_overwrite(w, hide, log, faults, NULL, task_opts);
    printf("%s, listing hiding the changed key: %ld HEADs\n", what, heads);
    CHECK(heads >= 1 && heads < 41);
    snprintf(faults, sizeof(faults), "{\"rules\":[{\"op\":\"%s\",\"list_repeat\":2}]}", op);
    snprintf(log, sizeof(log), "%s.log", order);
    heads = small_overwrite(w, order, log, faults, NULL, task_opts);
    printf("%s, listing out of order after 2 entries: %ld HEADs\n", what, heads);
    CHECK(heads >= 41);
}

int main(void)
{
    wt_t w;
    wt_start(&w, "cos", "cos");
    ferry_record_t rec;

    /* ---- 1. kill -9 mid-multipart, resume ---- */
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"r/\",\"count\":1,\"size\":268435456,\"seed\":5}");
    const char *topts[] = {"--part-size", "16MiB", NULL};
    wt_task(&w, "resume", "r/", NULL, "r/", topts);
    wt_enqueue_prefix(&w, "resume", "r/");
    const char *wopts[] = {"--slot",          "3", "--lease",          "2s",
                           "--parts-per-job", "2", "--exit-when-idle", NULL};
    pid_t p = wt_worker(&w, "resume", "resume1.log", wopts);
    REQUIRE(wait_stat(&w, "UploadPart", 6, 120));
    usleep(100 * 1000);
    kill(p, SIGKILL);
    CHECK_INT(wt_wait(p, 10), 128 + SIGKILL);
    REQUIRE(wt_record(&w, "resume", "r/00000000", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_COPYING);
    CHECK(rec.upload_id[0] != '\0');
    /* A part whose body had fully arrived when the worker died is still stored by the server:
     * count once the server is quiet (the same figures twice, 300 ms apart). */
    long sent_before = -1;
    int there = -1;
    for (int i = 0; i < 50; i++) {
        long s = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
        int t = wt_count_parts(&w.d, "r/00000000", rec.upload_id);
        if (s == sent_before && t == there)
            break;
        sent_before = s;
        there = t;
        usleep(300 * 1000);
    }
    printf("killed after %ld UploadPart requests, %d parts complete of 16\n", sent_before, there);
    CHECK(there >= 4 && there < 16);
    p = wt_worker(&w, "resume", "resume2.log", wopts);
    CHECK_INT(wt_wait(p, 300), 0);
    long sent_after = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    printf("the second worker sent %ld parts\n", sent_after - sent_before);
    CHECK_INT(sent_after - sent_before, 16 - there);
    CHECK_INT(wt_log_count("resume2.log", "event=copy.resume "), 1);
    REQUIRE(wt_record(&w, "resume", "r/00000000", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK_INT(rec.upload_id[0], 0);
    CHECK(rec.has_crc64);
    CHECK_INT(wt_compare(&w, &w.d, "r/", "r/"), 0);

    /* ---- 2. overwritten during the copy ---- */
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"o/\",\"count\":1,\"size\":83886080,\"seed\":8}");
    const char *oopts[] = {"--part-size", "5MiB", "--multipart-threshold", "8MiB", NULL};
    wt_task(&w, "over", "o/", NULL, "o/", oopts);
    wt_enqueue_prefix(&w, "over", "o/");
    long parts0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    const char *oworker[] = {"--parts-per-job", "1", "--exit-when-idle", NULL};
    p = wt_worker(&w, "over", "over.log", oworker);
    REQUIRE(wait_stat(&w, "UploadPart", parts0 + 3, 120));
    size_t nlen = 9u << 20;
    char *nb = malloc(nlen);
    REQUIRE(nb != NULL);
    s3t_fill(nb, nlen, 99);
    s3t_res_t x;
    REQUIRE(s3t_put(&w.s, "src", "o/00000000", 10, nb, nlen, &x) == FERRY_OK);
    free(nb);
    CHECK_INT(wt_wait(p, 300), 0);
    REQUIRE(wt_record(&w, "over", "o/00000000", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK_INT(rec.size, nlen);
    CHECK_INT(wt_compare(&w, &w.d, "o/", "o/"), 0);
    CHECK(wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count") >= 1 ||
          wt_log_count("over.log", "event=copy.source_changed") >= 1);

    /* ---- 2b. small objects overwritten between their one GET and the commit (COS source: the
     * re-check is a HEAD; the S3 source at the end re-checks by listing) ---- */
    CHECK(small_overwrite(&w, "small", "small.log", NULL, NULL, NULL) >= 41); /* a HEAD each */
    /* --src-recheck list: this COS source is re-checked by listings too (COS documents its
     * listings as eventually consistent: the user's choice), and the change is still caught */
    {
        const char *listed[] = {"--src-recheck", "list", NULL};
        long l0 = wt_stat(&w.s, w.src.url, "ListObjects", "count") +
                  wt_stat(&w.s, w.src.url, "ListObjectsV2", "count");
        long heads = small_overwrite(&w, "smallL", "smallL.log", NULL, NULL, listed);
        long lists = wt_stat(&w.s, w.src.url, "ListObjects", "count") +
                     wt_stat(&w.s, w.src.url, "ListObjectsV2", "count") - l0;
        printf("COS source, --src-recheck list: %ld HEADs and %ld listings re-checked 41 copies\n",
               heads, lists);
        CHECK(heads < 41);
        CHECK(lists > 2); /* more than the enqueue's and the comparison's */
        hostile_listings(&w, "COS source, --src-recheck list", "ListObjects", "smallL2", "smallL3",
                         listed);
    }

    /* ---- 3. SIGTERM ---- */
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"t/\",\"count\":40,\"seed\":9,\"sizes\":["
             "{\"size\":20971520,\"weight\":1},{\"size\":4096,\"weight\":1}]}");
    const char *sopts[] = {"--part-size", "5MiB", "--multipart-threshold", "8MiB", NULL};
    wt_task(&w, "term", "t/", NULL, "t/", sopts);
    size_t n = wt_enqueue_prefix(&w, "term", "t/");
    const char *short_grace[] = {"--grace", "100ms", "--concurrency", "4", "--parts-per-job",
                                 "1",       NULL};
    long c0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    p = wt_worker(&w, "term", "term1.log", short_grace);
    REQUIRE(wait_stat(&w, "UploadPart", c0 + 4, 120));
    double t0 = wt_now();
    kill(p, SIGTERM);
    CHECK_INT(wt_wait(p, 30), 0);
    printf("SIGTERM with 100 ms grace: exited after %.2f s\n", wt_now() - t0);
    CHECK(wt_log_count("term1.log", "event=copy.handed_back") >= 1);
    ferry_counters_t c;
    wt_counters(&w, "term", &c);
    long long backlog = 0, ev = 0, bu = 0;
    {
        ferry_ledger_t *led = NULL;
        REQUIRE(ferry_ledger_open(w.r, "term", 0, &led) == FERRY_OK);
        REQUIRE(ferry_queue_backlog(led, &ev, &bu, NULL) == FERRY_OK);
        ferry_ledger_free(led);
        backlog = ev + bu;
    }
    long long not_done = (long long)n - c.objects[FERRY_STATE_DONE];
    printf("after SIGTERM: %lld done, %lld not done, %lld jobs in the streams\n",
           c.objects[FERRY_STATE_DONE], not_done, backlog);
    CHECK(not_done > 0);
    CHECK_INT(backlog, not_done); /* every unfinished object still has its job */
    /* Drain with a long grace period: SIGTERM, and the copies in flight finish. */
    const char *long_grace[] = {"--grace", "120s", "--concurrency", "4", NULL};
    p = wt_worker(&w, "term", "term2.log", long_grace);
    REQUIRE(wait_stat(&w, "UploadPart", wt_stat(&w.d, w.dst.url, "UploadPart", "count") + 2, 120));
    kill(p, SIGTERM);
    CHECK_INT(wt_wait(p, 150), 0);
    CHECK_INT(wt_log_count("term2.log", "event=copy.handed_back"), 0);
    CHECK(wt_log_count("term2.log", "event=worker.draining") == 1);
    const char *finish[] = {"--exit-when-idle", NULL};
    p = wt_worker(&w, "term", "term3.log", finish);
    CHECK_INT(wt_wait(p, 300), 0);
    wt_counters(&w, "term", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], (long long)n);
    CHECK_INT(wt_compare(&w, &w.d, "t/", "t/"), 0);

    /* ---- 4. the checksum mode changed between two runs ---- */
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"m/\",\"count\":1,\"size\":134217728,\"seed\":12}");
    const char *md5opts[] = {"--part-size", "8MiB", "--dst-checksum", "md5", NULL};
    wt_task(&w, "mode", "m/", NULL, "m/", md5opts);
    wt_enqueue_prefix(&w, "mode", "m/");
    char out[512];
    REQUIRE(s3t_control(&w.d, w.dst.url, "POST", "/_fakes3/faults",
                        "[{\"op\":\"UploadPart\",\"key_prefix\":\"m/\",\"latency_ms\":300}]", out,
                        sizeof(out)) == 200);
    const char *mopts[] = {"--slot",          "4", "--lease",          "2s",
                           "--parts-per-job", "1", "--exit-when-idle", NULL};
    long m0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    p = wt_worker(&w, "mode", "mode1.log", mopts);
    REQUIRE(wait_stat(&w, "UploadPart", m0 + 2, 120));
    kill(p, SIGKILL);
    CHECK_INT(wt_wait(p, 10), 128 + SIGKILL);
    REQUIRE(s3t_control(&w.d, w.dst.url, "DELETE", "/_fakes3/faults", NULL, out, sizeof(out)) ==
            200);
    REQUIRE(wt_record(&w, "mode", "m/00000000", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_COPYING);
    char old_id[sizeof(rec.upload_id)];
    snprintf(old_id, sizeof(old_id), "%s", rec.upload_id);
    CHECK(old_id[0] != '\0' && wt_count_parts(&w.d, "m/00000000", old_id) >= 1);
    long aborts = wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count");
    const char *autoopts[] = {"--part-size", "8MiB", NULL}; /* --dst-checksum auto */
    wt_task(&w, "mode", "m/", NULL, "m/", autoopts);
    p = wt_worker(&w, "mode", "mode2.log", mopts);
    CHECK_INT(wt_wait(p, 300), 0);
    CHECK_INT(wt_log_count("mode2.log", "created without CRC32C part checksums"), 1);
    CHECK_INT(wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count"), aborts + 1);
    CHECK_INT(wt_count_parts(&w.d, "m/00000000", old_id), -1); /* gone */
    REQUIRE(wt_record(&w, "mode", "m/00000000", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK_INT(wt_log_count("mode2.log", "dst:crc32c-echo"), 1); /* CRC32C parts this time */
    CHECK_INT(wt_compare(&w, &w.d, "m/", "m/"), 0);

    wt_stop(&w);
    /* 2b on an S3 source: the re-checks after the commits are listings, not HEADs */
    {
        wt_t w3;
        wt_start(&w3, "s3", "s3");
        long lists0 = wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count");
        long heads = small_overwrite(&w3, "small3", "small3.log", NULL, NULL, NULL);
        printf("S3 source: %ld HEADs and %ld listings re-checked 41 copies\n", heads,
               wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count") - lists0);
        CHECK(heads < 41); /* not a HEAD per copy: batches of 8 or more were listed */
        CHECK(wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count") > lists0);
        /* --src-recheck head: a HEAD per copy even on S3, and no listing but the enqueue's and
         * the comparison's */
        {
            const char *headed[] = {"--src-recheck", "head", NULL};
            lists0 = wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count");
            heads = small_overwrite(&w3, "smallH", "smallH.log", NULL, NULL, headed);
            long lists = wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count") - lists0;
            printf("S3 source, --src-recheck head: %ld HEADs, %ld listings\n", heads, lists);
            CHECK(heads >= 41);
            CHECK(lists <= 2);
        }
        /* credentials that may not list the bucket: the first listing's 403 turns the
         * re-checks back to HEADs, and the change is still caught */
        lists0 = wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count") + 2; /* + the enqueue's
                                                                              and the compare's */
        /* four waves of commits, 1.5 s apart: the later ones must not list again (one more
         * listing may leave before the first one's 403 is back) */
        heads = small_overwrite(
            &w3, "small4", "small4.log", "{\"rules\":[{\"op\":\"ListObjectsV2\",\"error\":403}]}",
            "{\"rules\":[{\"op\":\"PutObject\",\"key_prefix\":\"sm/0000000\",\"latency_ms\":1500},"
            "{\"op\":\"PutObject\",\"key_prefix\":\"sm/0000001\",\"latency_ms\":3000},"
            "{\"op\":\"PutObject\",\"key_prefix\":\"sm/0000002\",\"latency_ms\":4500},"
            "{\"op\":\"PutObject\",\"key_prefix\":\"sm/0000003\",\"latency_ms\":6000}]}",
            NULL);
        long lists = wt_stat(&w3.s, w3.src.url, "ListObjectsV2", "count") - lists0;
        printf("S3 source, listing refused: %ld HEADs, %ld listings\n", heads, lists);
        CHECK(lists >= 1 && lists <= 2);
        CHECK(heads >= 41 - 2 * 10);
        hostile_listings(&w3, "S3 source", "ListObjectsV2", "small5", "small6", NULL);

        /* ---- 5. (issue 16) kill -9 mid-multipart of a plain-MD5 source (its one check is
         * the MD5 of all its bytes, formed in source order over the parts): the next worker
         * re-reads the parts already uploaded (resume:crc32c) and feeds them to the MD5 in
         * order, so the resumed copy is still src:md5; no stored part is sent again ---- */
        seed(&w3, "{\"bucket\":\"src\",\"prefix\":\"q/\",\"count\":1,\"size\":83886080,"
                  "\"seed\":31}");
        const char *qopts[] = {"--part-size", "5MiB", "--multipart-threshold", "8MiB", NULL};
        wt_task(&w3, "md5r", "q/", NULL, "q/", qopts);
        wt_enqueue_prefix(&w3, "md5r", "q/");
        char qout[512];
        REQUIRE(s3t_control(&w3.d, w3.dst.url, "POST", "/_fakes3/faults",
                            "[{\"op\":\"UploadPart\",\"key_prefix\":\"q/\",\"latency_ms\":300}]",
                            qout, sizeof(qout)) == 200);
        const char *qw[] = {"--slot",          "5", "--lease",          "2s",
                            "--parts-per-job", "2", "--exit-when-idle", NULL};
        long q0 = wt_stat(&w3.d, w3.dst.url, "UploadPart", "count");
        pid_t qp = wt_worker(&w3, "md5r", "md5r1.log", qw);
        REQUIRE(wait_stat(&w3, "UploadPart", q0 + 4, 120));
        kill(qp, SIGKILL);
        CHECK_INT(wt_wait(qp, 10), 128 + SIGKILL);
        REQUIRE(s3t_control(&w3.d, w3.dst.url, "DELETE", "/_fakes3/faults", NULL, qout,
                            sizeof(qout)) == 200);
        ferry_record_t qr;
        REQUIRE(wt_record(&w3, "md5r", "q/00000000", &qr) == FERRY_OK);
        CHECK_INT(qr.state, FERRY_STATE_COPYING);
        REQUIRE(qr.upload_id[0] != '\0');
        usleep(500 * 1000); /* parts whose bodies had arrived are stored by now */
        int qthere = wt_count_parts(&w3.d, "q/00000000", qr.upload_id);
        long qsent = wt_stat(&w3.d, w3.dst.url, "UploadPart", "count");
        qp = wt_worker(&w3, "md5r", "md5r2.log", qw);
        CHECK_INT(wt_wait(qp, 300), 0);
        printf("plain-MD5 resume: %d parts there of 16, %ld sent again\n", qthere,
               wt_stat(&w3.d, w3.dst.url, "UploadPart", "count") - qsent);
        CHECK(qthere >= 1 && qthere < 16);
        CHECK_INT(wt_stat(&w3.d, w3.dst.url, "UploadPart", "count") - qsent, 16 - qthere);
        CHECK_INT(wt_log_count("md5r2.log", "event=copy.resume "), 1);
        REQUIRE(wt_record(&w3, "md5r", "q/00000000", &qr) == FERRY_OK);
        CHECK_INT(qr.state, FERRY_STATE_DONE);
        CHECK(strstr(qr.checks, "src:md5") != NULL);
        CHECK(strstr(qr.checks, "resume:crc32c") != NULL);
        CHECK(strstr(qr.checks, "src:unverified") == NULL);
        CHECK_INT(wt_compare(&w3, &w3.d, "q/", "q/"), 0);
        wt_stop(&w3);
    }
    return test_summary();
}
