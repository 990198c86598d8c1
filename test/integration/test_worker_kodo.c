/* ferry worker with a Qiniu Kodo source (fakes3 --personality kodo: qetag ETags, no CRC-64):
 *
 *  1. Single-request and multipart copies (parts on 4 MiB qetag blocks, a last partial block,
 *     a part size that is not a multiple of 4 MiB rounded up) arrive byte-identical, and every
 *     copy.done lists src:qetag: the qetag of the bytes copied equals the source's ETag, for
 *     multipart copies from the parts' block digests.
 *  2. A byte flipped in every GET of a multipart object: the qetag differs, the upload is
 *     aborted, the object is never done and nothing is left at the destination.
 */
#include "test_worker_util.h"

int main(void)
{
    wt_t w;
    wt_start(&w, "kodo", "kodo");
    ferry_record_t rec;

    /* ---- 1. qetag checked, single and multipart ---- */
    wt_put(&w, "k/small", 3000, 1);
    wt_put(&w, "k/one-block", 4u << 20, 2); /* single PUT, exactly one qetag block */
    wt_put(&w, "k/multi", 21u << 20, 3);    /* 8 + 8 + 5 MiB: a partial last block */
    wt_put(&w, "k/aligned", 16u << 20, 4);  /* 8 + 8 MiB: block-aligned end */
    const char *topts[] = {"--multipart-threshold", "6MiB", "--part-size", "6MiB", NULL};
    wt_task(&w, "kq", "k/", NULL, "k/", topts); /* 6 MiB parts are rounded up to 8 MiB */
    size_t n = wt_enqueue_prefix(&w, "kq", "k/");
    CHECK_INT((long long)n, 4);
    const char *wopts[] = {"--exit-when-idle", "--ring", "1MiB", NULL};
    pid_t p = wt_worker(&w, "kq", "kq.log", wopts);
    CHECK_INT(wt_wait(p, 120), 0);
    ferry_counters_t c;
    wt_counters(&w, "kq", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], 4);
    CHECK_INT(wt_log_count("kq.log", "event=copy.done"), 4);
    CHECK_INT(wt_log_count("kq.log", "src:qetag"), 4);
    CHECK_INT(wt_compare(&w, &w.d, "k/", "k/"), 0);
    /* the multipart ones really were multipart, with 8 MiB parts */
    CHECK_INT(wt_stat(&w.d, w.dst.url, "UploadPart", "count"), 5);

    /* ---- 2. corrupted reads of a multipart object ---- */
    wt_put(&w, "bad/multi", 13u << 20, 5);
    wt_task(&w, "kbad", "bad/", NULL, "bad/", topts);
    wt_enqueue_prefix(&w, "kbad", "bad/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"bad/\"}]}") == 0);
    const char *bopts[] = {"--exit-when-idle", "--max-deliveries", "2", "--ring", "1MiB", NULL};
    long aborts = wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count");
    p = wt_worker(&w, "kbad", "kbad.log", bopts);
    CHECK_INT(wt_wait(p, 120), 0);
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    CHECK_INT(wt_record(&w, "kbad", "bad/multi", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_FAILED);
    CHECK(strstr(rec.error, "qetag") != NULL);
    CHECK(wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count") >= aborts + 2);
    s3t_res_t x;
    CHECK_INT(s3t_head(&w.d, "dst", "bad/multi", 9, &x), FERRY_ENOTFOUND);

    wt_stop(&w);
    return test_summary();
}
