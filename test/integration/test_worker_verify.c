/* Issue 12 (integrity): a record is `done` only after every check the two stores make possible
 * has passed, and `checks` names exactly the checks that ran. Each case runs a worker against a
 * fakes3 that breaks one property:
 *
 *  1. (item 1) a byte flipped in every GET of a small s3:// object (the one-GET path): the MD5
 *     of the bytes read differs from the source's ETag, the object ends `failed`, nothing at
 *     the destination. A clean small object: checks src:md5, dst:content-md5, dst:etag; one
 *     above the ring (a streamed PUT): Content-MD5 is the source's ETag, checked by the store.
 *  1b. (issue 16) 60 small objects at once, 6 of them with a flipped byte, 6 stopped once
 *     while their MD5 waits in the batch (FERRY_TEST_MD5_CANCEL): their MD5s are formed several
 *     per call (md5_per_batch above 1), the 6 flipped fail, the 6 stopped are retried alone and
 *     done, the rest are done.
 *  2. (item 1) PutObject answering 200 with a wrong ETag (always: `failed`; once: `done`
 *     after the retry, byte-identical).
 *  3. (item 1) PutObject answering 200 with no ETag and storing nothing: `failed`.
 *  4. (item 9) CompleteMultipartUpload answering a wrong ETag (--dst-checksum md5) or a wrong
 *     composite CRC32C (trailer mode): `failed` with the reason, never `done`.
 *     UploadPart answering a wrong CRC32C echo, or 200 with no ETag: `failed`. One
 *     UploadPart answering a wrong ETag in trailer mode (Complete: InvalidPart): retried, done.
 *  5. (item 10) a multipart s3:// source (ETag md5-of-md5s-3): copied on its own part
 *     boundaries (HEAD ?partNumber=1) with checks src:multipart-etag; with a byte flipped in
 *     its GETs it ends `failed` naming the multipart ETag.
 *     The same through the one-GET path (a small multipart object): checked whole.
 *  5c. CreateMultipartUpload answering an UploadId longer than FERRY_UPLOAD_ID_MAX: aborted,
 *     `failed` naming the upload id, never `done`.
 *  7. (item 10) a single-part s3:// source with a stored FULL_OBJECT CRC32C above the
 *     threshold: parallel parts, their CRC32Cs combined = the stored one (src:crc32c); a
 *     flipped byte: `failed` naming CRC32C.
 *  7b. (issue 16) the smallest ring (one curl receive): CRC32C sources in parts with a part's
 *     upload failing once and a GET reset mid-body: done, byte-identical, src:crc32c.
 *  8. (issue 16) 20 MiB single-part MD5 sources, --multipart-threshold 8MiB, no stored
 *     checksum: parallel parts and the MD5 of all the bytes formed in source order (src:md5);
 *     a byte flipped in part 2's GET, or an ETag that is not the bytes' MD5: `failed`; part 1
 *     arriving last: done, with the bytes held for the hash under --md5-hold.
 *  8b. a part whose bytes were hashed is read again (its upload failed): the second read is
 *     compared with the first (CRC32C); a flipped byte in it: the copy is retried, never done
 *     with bytes the MD5 did not see.
 *  8c. a copy that fails while blocks of its MD5 are still queued at the MD5 thread: no
 *     crash, no leak, `failed`, never done.
 *  9. (item 10) a multipart source with a COMPOSITE CRC32C: src:crc32c on its own parts too.
 * 10. (item 10) SSE-KMS sources (ETag no MD5) with a stored CRC32C: src:crc32c; a single
 *     streamed PUT holds its last byte until the CRC32C matched.
 *  6. (items 3, 10) an s3c:// source with opaque ETags (fakes3 kodo personality: qetags, which
 *     s3c cannot recompute): `done` with src:unverified; the same with
 *     --require-source-check: `failed`, nothing copied.
 */
#include "test_worker_util.h"

/* The `checks` value of the copy.done line for key in a log, or "" (static buffer). */
static const char *done_checks(const char *logname, const char *key)
{
    static char out[256];
    char path[1024], line[16384], kk[600];
    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    snprintf(kk, sizeof(kk), " key=%s ", key);
    FILE *f = fopen(path, "r");
    if (!f)
        return out;
    while (fgets(line, sizeof(line), f)) {
        const char *c;
        if (!strstr(line, "event=copy.done") || !strstr(line, kk) ||
            !(c = strstr(line, " checks=")))
            continue;
        c += 8;
        size_t n = strcspn(c, " \n");
        snprintf(out, sizeof(out), "%.*s", (int)n, c);
    }
    fclose(f);
    return out;
}

/* The number in field name= of the last line of a log with event and " key=KEY ", or -1. */
static long log_field_num(const char *logname, const char *event, const char *key, const char *name)
{
    char path[1024], line[16384], kk[600], nn[80];
    long v = -1;
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    snprintf(kk, sizeof(kk), " key=%s ", key);
    snprintf(nn, sizeof(nn), " %s=", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        const char *c;
        if (strstr(line, event) && strstr(line, kk) && (c = strstr(line, nn)) != NULL)
            v = strtol(c + strlen(nn), NULL, 10);
    }
    fclose(f);
    return v;
}

/* The number after needle on the first log line that has it, or -1. */
static double log_number(const char *logname, const char *needle)
{
    char path[1024], line[16384];
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    FILE *f = fopen(path, "r");
    double v = -1;
    if (!f)
        return v;
    while (v < 0 && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, needle);
        if (p)
            v = strtod(p + strlen(needle), NULL);
    }
    fclose(f);
    return v;
}

static void expect_failed(wt_t *w, const char *task, const char *key, const char *reason)
{
    ferry_record_t rec;
    CHECK_INT(wt_record(w, task, key, &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_FAILED);
    if (strstr(rec.error, reason) == NULL)
        fprintf(stderr, "%s: error \"%s\" does not name \"%s\"\n", key, rec.error, reason);
    CHECK(strstr(rec.error, reason) != NULL);
}

/* Failed after more than one attempt: the mismatch was retried, not taken as final at once. */
static void expect_retried(wt_t *w, const char *task, const char *key)
{
    ferry_record_t rec;
    CHECK_INT(wt_record(w, task, key, &rec), FERRY_OK);
    if (rec.attempts < 2)
        fprintf(stderr, "%s: %u attempt(s)\n", key, rec.attempts);
    CHECK(rec.attempts >= 2);
}

static void expect_done(wt_t *w, const char *task, const char *key)
{
    ferry_record_t rec;
    CHECK_INT(wt_record(w, task, key, &rec), FERRY_OK);
    if (rec.state != FERRY_STATE_DONE)
        fprintf(stderr, "%s: state %d error \"%s\"\n", key, rec.state, rec.error);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
}

/* Enqueue one key as a bulk (scan) job. */
static void enqueue_one(wt_t *w, const char *task, const char *key, uint64_t size)
{
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w->r, task, 0, &led) == FERRY_OK);
    ferry_item_t it = {.key = key, .size = size, .origin = FERRY_ORIGIN_SCAN};
    REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, &it, 1, NULL) == FERRY_OK);
    ferry_ledger_free(led);
}

static void run_worker(wt_t *w, const char *task, const char *log)
{
    const char *o[] = {"--exit-when-idle", "--max-deliveries", "2", "--ring", "1MiB", NULL};
    pid_t p = wt_worker(w, task, log, o);
    CHECK_INT(wt_wait(p, 120), 0);
}

int main(void)
{
    wt_t w;
    wt_start(&w, "s3", "s3");
    s3t_res_t x;

    /* ---- 1. one-GET path: flipped byte, and a clean object ---- */
    wt_put(&w, "a/bad", 3000, 1);
    wt_put(&w, "a/good", 5000, 2);
    wt_put(&w, "a/piped", 1536 * 1024, 5); /* above --ring 1MiB: one streamed PUT */
    wt_task(&w, "va", "a/", NULL, "a/", NULL);
    wt_enqueue_prefix(&w, "va", "a/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"a/bad\"}]}") == 0);
    run_worker(&w, "va", "va.log");
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    expect_failed(&w, "va", "a/bad", "MD5");
    CHECK_INT(s3t_head(&w.d, "dst", "a/bad", 5, &x), FERRY_ENOTFOUND);
    expect_done(&w, "va", "a/good");
    CHECK_STR(done_checks("va.log", "a/good"), "src:md5,dst:crc32c-echo,dst:etag,dst:content-md5");
    /* A streamed single PUT sends the source's MD5 ETag as Content-MD5 (the store checks it). */
    expect_done(&w, "va", "a/piped");
    CHECK(strstr(done_checks("va.log", "a/piped"), "dst:content-md5") != NULL);
    CHECK_INT(wt_log_count("va.log", "crc32c=dst"), 0);

    /* ---- 1b. many small objects read whole at once: their MD5s are formed several at a
     * time (ferry_md5_update_many), and each is still its own object's: a byte flipped in
     * every GET of 6 of 60 objects (sizes 700 B .. 20 KB) fails those 6 only, the others are
     * done and byte-identical ---- */
    static const char *const kind[10] = {"ok", "ok", "ok",  "bad", "ok",
                                         "ok", "ok", "cut", "ok",  "ok"};
    for (int i = 0; i < 60; i++) {
        char k[32];
        snprintf(k, sizeof(k), "m/%s%02d", kind[i % 10], i);
        wt_put(&w, k, 700 + (size_t)i * 331, 100u + (unsigned)i);
    }
    wt_task(&w, "vm", "m/", NULL, "m/", NULL);
    wt_enqueue_prefix(&w, "vm", "m/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"m/bad\"}]}") == 0);
    /* and 6 copies stopped while their MD5 waits in the batch (as a drain's grace or a lost
     * lease would): each unit settles unhashed, its copy retries the object alone (a part retry,
     * by a plain GET) and ends done, byte-identical; the others of their batches go on */
    setenv("FERRY_TEST_MD5_CANCEL", "m/cut", 1);
    run_worker(&w, "vm", "vm.log");
    unsetenv("FERRY_TEST_MD5_CANCEL");
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    for (int i = 0; i < 60; i++) {
        char k[32];
        snprintf(k, sizeof(k), "m/%s%02d", kind[i % 10], i);
        if (i % 10 == 3) {
            expect_failed(&w, "vm", k, "MD5");
        } else {
            expect_done(&w, "vm", k);
            CHECK_STR(done_checks("vm.log", k), "src:md5,dst:crc32c-echo,dst:etag,dst:content-md5");
        }
    }
    CHECK_INT(wt_compare(&w, &w.d, "m/", "m/"), 6); /* the 6 failed ones are missing */
    CHECK_INT(wt_log_count("vm.log", "stopped while its MD5 waited"), 6); /* one retry each */
    /* The worker did hash several at a time (60 GETs in flight at once, their responses
     * handled in bursts): the average over its batches is above one. */
    CHECK(log_number("vm.log", "md5_per_batch=") > 1.0);

    /* ---- 2. PUT 200 with a wrong ETag: always, and once ---- */
    wt_put(&w, "b/perm", 3000, 3);
    wt_put(&w, "b/once", 3000, 4);
    wt_task(&w, "vb", "b/", NULL, "b/", NULL);
    wt_enqueue_prefix(&w, "vb", "b/");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"PutObject\",\"wrong_etag\":true,"
                       "\"key_prefix\":\"b/perm\"},{\"op\":\"PutObject\",\"wrong_etag\":true,"
                       "\"key_prefix\":\"b/once\",\"count\":1}]}") == 0);
    run_worker(&w, "vb", "vb.log");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    expect_failed(&w, "vb", "b/perm", "ETag");
    expect_done(&w, "vb", "b/once");
    CHECK_INT(wt_compare(&w, &w.d, "b/once", "b/once"), 0);

    /* ---- 3. PUT 200 with no ETag, nothing stored ---- */
    wt_put(&w, "c/gone", 3000, 5);
    wt_task(&w, "vc", "c/", NULL, "c/", NULL);
    wt_enqueue_prefix(&w, "vc", "c/");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"PutObject\",\"no_etag\":true,"
                       "\"key_prefix\":\"c/\"}]}") == 0);
    run_worker(&w, "vc", "vc.log");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    expect_failed(&w, "vc", "c/gone", "without an ETag");
    CHECK_INT(s3t_head(&w.d, "dst", "c/gone", 6, &x), FERRY_ENOTFOUND);

    /* ---- 4. Complete with a wrong ETag (md5 mode) or composite CRC32C (trailer mode) ---- */
    wt_put_crc32c(&w, "d/md5", 12u << 20, 6);
    wt_put_crc32c(&w, "d/crc", 12u << 20, 7);
    const char *md5opts[] = {"--multipart-threshold", "6MiB", "--part-size", "5MiB",
                             "--dst-checksum",        "md5",  NULL};
    const char *crcopts[] = {"--multipart-threshold", "6MiB", "--part-size", "5MiB", NULL};
    wt_task(&w, "vd1", "d/md5", NULL, "d/md5", md5opts);
    wt_task(&w, "vd2", "d/crc", NULL, "d/crc", crcopts);
    wt_enqueue_prefix(&w, "vd1", "d/md5");
    wt_enqueue_prefix(&w, "vd2", "d/crc");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"CompleteMultipartUpload\",\"wrong_etag\":true,"
                       "\"key_prefix\":\"d/md5\"},{\"op\":\"CompleteMultipartUpload\","
                       "\"wrong_crc32c\":true,\"key_prefix\":\"d/crc\"}]}") == 0);
    run_worker(&w, "vd1", "vd1.log");
    run_worker(&w, "vd2", "vd2.log");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    expect_failed(&w, "vd1", "d/md5", "CompleteMultipartUpload returned ETag");
    expect_failed(&w, "vd2", "d/crc", "composite CRC32C");
    CHECK_INT(wt_log_count("vd1.log", "multipart_etag_differs"), 0);
    CHECK_INT(wt_log_count("vd2.log", "composite_crc32c_differs"), 0);

    /* ---- 4b. UploadPart: a wrong CRC32C echo (trailer mode), no ETag (md5 mode) ---- */
    wt_put_crc32c(&w, "g/crc", 12u << 20, 11);
    wt_put_crc32c(&w, "g/md5", 12u << 20, 12);
    wt_task(&w, "vg1", "g/crc", NULL, "g/crc", crcopts);
    wt_task(&w, "vg2", "g/md5", NULL, "g/md5", md5opts);
    wt_enqueue_prefix(&w, "vg1", "g/crc");
    wt_enqueue_prefix(&w, "vg2", "g/md5");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"UploadPart\",\"wrong_crc32c\":true,"
                       "\"key_prefix\":\"g/crc\"},{\"op\":\"UploadPart\",\"no_etag\":true,"
                       "\"key_prefix\":\"g/md5\"}]}") == 0);
    run_worker(&w, "vg1", "vg1.log");
    run_worker(&w, "vg2", "vg2.log");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    expect_failed(&w, "vg1", "g/crc", "CRC32C");
    expect_failed(&w, "vg2", "g/md5", "without an ETag");
    CHECK_INT(s3t_head(&w.d, "dst", "g/crc", 5, &x), FERRY_ENOTFOUND);
    CHECK_INT(s3t_head(&w.d, "dst", "g/md5", 5, &x), FERRY_ENOTFOUND);

    /* ---- 4c. one UploadPart answered 200 with a wrong ETag in trailer mode (the part's
     * bytes are stored and their CRC32C echoed right): Complete then says InvalidPart. Not a
     * reason to fail the object for good: retried, then done and byte-identical. ---- */
    wt_put_crc32c(&w, "h/crc", 12u << 20, 13);
    wt_task(&w, "vh1", "h/crc", NULL, "h/crc", crcopts);
    wt_enqueue_prefix(&w, "vh1", "h/crc");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"UploadPart\",\"wrong_etag\":true,\"count\":1,"
                       "\"key_prefix\":\"h/crc\"}]}") == 0);
    run_worker(&w, "vh1", "vh1.log");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    expect_done(&w, "vh1", "h/crc");
    CHECK_INT(wt_compare(&w, &w.d, "h/crc", "h/crc"), 0);

    /* ---- 5. multipart s3 source: its own boundaries, and a flipped byte ---- */
    const size_t ps[] = {5u << 20, 5u << 20, 2u << 20};
    wt_put_multipart(&w.s, "src", "e/good", ps, 3, 8, 0);
    wt_put_multipart(&w.s, "src", "e/bad", ps, 3, 9, 0);
    wt_task(&w, "ve", "e/", NULL, "e/", crcopts);
    wt_enqueue_prefix(&w, "ve", "e/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"e/bad\"}]}") == 0);
    run_worker(&w, "ve", "ve.log");
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    expect_done(&w, "ve", "e/good");
    CHECK_INT(wt_compare(&w, &w.d, "e/good", "e/good"), 0);
    CHECK_STR(done_checks("ve.log", "e/good"), "dst:crc32c-echo,src:multipart-etag");
    expect_failed(&w, "ve", "e/bad", "multipart ETag");
    CHECK_INT(s3t_head(&w.d, "dst", "e/bad", 5, &x), FERRY_ENOTFOUND);

    /* ---- 5b. a small multipart source on the one-GET path (ring larger than the object):
     * the GET's ETag is "hex-2", so the copy goes the HEAD way and checks it whole ---- */
    const size_t ps2[] = {5u << 20, 1u << 20};
    wt_put_multipart(&w.s, "src", "h/small", ps2, 2, 13, 0);
    wt_task(&w, "vh", "h/", NULL, "h/", NULL);
    wt_enqueue_prefix(&w, "vh", "h/");
    const char *bigring[] = {"--exit-when-idle", "--max-deliveries", "2", "--ring", "8MiB", NULL};
    pid_t hp = wt_worker(&w, "vh", "vh.log", bigring);
    CHECK_INT(wt_wait(hp, 120), 0);
    expect_done(&w, "vh", "h/small");
    CHECK_STR(done_checks("vh.log", "h/small"),
              "src:multipart-etag,dst:crc32c-echo,dst:etag,dst:content-md5");
    CHECK_INT(wt_compare(&w, &w.d, "h/", "h/"), 0);

    /* ---- 5c. (item 16, upload ids) an UploadId longer than the ledger holds: the upload is
     * aborted and the object fails with a message; never done ---- */
    wt_put_crc32c(&w, "i/long", 12u << 20, 14);
    wt_task(&w, "vi", "i/", NULL, "i/", crcopts);
    wt_enqueue_prefix(&w, "vi", "i/");
    char rule[256];
    snprintf(rule, sizeof(rule),
             "{\"rules\":[{\"op\":\"CreateMultipartUpload\",\"upload_id_len\":%d,"
             "\"key_prefix\":\"i/\"}]}",
             FERRY_UPLOAD_ID_MAX < 1024 ? FERRY_UPLOAD_ID_MAX + 1 : 1025);
    REQUIRE(s3t_faults(&w.d, w.dst.url, rule) == 0);
    long aborts = wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count");
    run_worker(&w, "vi", "vi.log");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    if (FERRY_UPLOAD_ID_MAX < 1024) { /* the copy refuses it (longer ones: the client does) */
        expect_failed(&w, "vi", "i/long", "upload id");
        CHECK(wt_stat(&w.d, w.dst.url, "AbortMultipartUpload", "count") > aborts);
    } else {
        ferry_record_t rec;
        CHECK_INT(wt_record(&w, "vi", "i/long", &rec), FERRY_OK);
        CHECK_INT(rec.state, FERRY_STATE_FAILED);
    }
    CHECK_INT(s3t_head(&w.d, "dst", "i/long", 6, &x), FERRY_ENOTFOUND);

    /* ---- 7. (item 10) a single-part source stored with a FULL_OBJECT CRC32C, above the
     * threshold: copied in parallel parts, the parts' CRC32Cs combined and compared with the
     * stored one (src:crc32c); a flipped byte in its GETs: retried, then failed ---- */
    const char *mpopts[] = {"--multipart-threshold", "8MiB", "--part-size", "5MiB", NULL};
    wt_put_crc32c(&w, "j/good", 20u << 20, 15);
    wt_put_crc32c(&w, "j/bad", 20u << 20, 16);
    wt_put_crc32c(&w, "j/refuse", 20u << 20, 20);
    wt_put_crc32c(&w, "j/small", 3000, 21);
    wt_task(&w, "vj", "j/", NULL, "j/", mpopts);
    wt_enqueue_prefix(&w, "vj", "j/");
    /* j/refuse: its first HEAD (the one with x-amz-checksum-mode) answers 400, as a store that
     * refuses the header would: asked again without it, copied as an MD5 source */
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"j/bad\"},{\"op\":\"HeadObject\",\"error\":400,"
                       "\"count\":1,\"key_prefix\":\"j/refuse\"}]}") == 0);
    long parts0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    run_worker(&w, "vj", "vj.log");
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    CHECK(wt_stat(&w.d, w.dst.url, "UploadPart", "count") > parts0); /* parallel parts */
    expect_done(&w, "vj", "j/good");
    CHECK_INT(wt_compare(&w, &w.d, "j/good", "j/good"), 0);
    CHECK_STR(done_checks("vj.log", "j/good"), "dst:crc32c-echo,src:crc32c");
    expect_failed(&w, "vj", "j/bad", "CRC32C");
    expect_retried(&w, "vj", "j/bad");
    expect_done(&w, "vj", "j/refuse"); /* an MD5 source then: parts, the MD5 in order */
    CHECK_STR(done_checks("vj.log", "j/refuse"), "dst:crc32c-echo,src:md5");
    CHECK_INT(wt_log_count("vj.log", "copy.checksum_mode_refused"), 1);
    expect_done(&w, "vj", "j/small"); /* the one-GET path asks for it too */
    CHECK_STR(done_checks("vj.log", "j/small"),
              "src:md5,src:crc32c,dst:crc32c-echo,dst:etag,dst:content-md5");
    CHECK_INT(wt_compare(&w, &w.d, "j/refuse", "j/refuse"), 0);
    CHECK_INT(wt_compare(&w, &w.d, "j/small", "j/small"), 0);
    CHECK_INT(s3t_head(&w.d, "dst", "j/bad", 5, &x), FERRY_ENOTFOUND);

    /* ---- 7b. (issue 16) the smallest ring, 256 KiB = one curl receive (the GET pauses after
     * every receive, FERRY_HTTP_PAUSE_AFTER, and resumes once the ring is empty), with rings
     * reused from the cache: three 20 MiB CRC32C sources in 5 MiB parts, one UploadPart
     * answering 500 (that part's stream is run again alone, on a reused ring) and one GET reset
     * mid-body (the client resumes it with a Range): done, byte-identical, src:crc32c (the
     * parts' trailer CRC32Cs are the ones formed at the sink, dst:crc32c-echo). ---- */
    wt_put_crc32c(&w, "r/a", 20u << 20, 31);
    wt_put_crc32c(&w, "r/b", 20u << 20, 32);
    wt_put_crc32c(&w, "r/c", 20u << 20, 33);
    wt_task(&w, "vr", "r/", NULL, "r/", mpopts);
    wt_enqueue_prefix(&w, "vr", "r/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"reset_after\":3000000,\"count\":1,"
                       "\"key_prefix\":\"r/b\"}]}") == 0);
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"UploadPart\",\"error\":500,\"count\":1,"
                       "\"key_prefix\":\"r/c\"}]}") == 0);
    const char *smallring[] = {"--exit-when-idle", "--max-deliveries", "2",
                               "--ring",           "256KiB",           NULL};
    pid_t rp = wt_worker(&w, "vr", "vr.log", smallring);
    CHECK_INT(wt_wait(rp, 120), 0);
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    const char *rkeys[] = {"r/a", "r/b", "r/c"};
    for (int i = 0; i < 3; i++) {
        expect_done(&w, "vr", rkeys[i]);
        CHECK_INT(wt_compare(&w, &w.d, rkeys[i], rkeys[i]), 0);
        CHECK_STR(done_checks("vr.log", rkeys[i]), "dst:crc32c-echo,src:crc32c");
    }
    CHECK(wt_log_count("vr.log", "copy.part_retry") >= 1);

    /* ---- 8. (issue 16) a single-part MD5 source above the threshold, no stored checksum:
     * parallel parts (4 of 5 MiB), and the MD5 of all the bytes formed in source order and
     * compared with the ETag before Complete (src:md5). One byte of one ranged GET corrupted
     * (part 2, not the first): never done. A source whose ETag is not the MD5 of its bytes
     * (the store says so consistently, HEAD, GET and If-Match): never done. Part 1's GET held
     * back 1.5 s, so parts 2-4 arrive first and wait for the hash, with --md5-hold 6MiB: still
     * src:md5, byte-identical, and the bytes held never passed the cap. ---- */
    wt_put(&w, "k/good", 20u << 20, 17);
    wt_put(&w, "k/bad", 20u << 20, 18);
    wt_put(&w, "k/etag", 20u << 20, 25);
    wt_put(&w, "k/late", 20u << 20, 26);
    wt_task(&w, "vk", "k/", NULL, "k/", mpopts);
    wt_enqueue_prefix(&w, "vk", "k/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"k/bad\",\"range_start\":5242880},"
                       "{\"op\":\"*\",\"wrong_etag\":true,\"key_prefix\":\"k/etag\"},"
                       "{\"op\":\"GetObject\",\"latency_ms\":1500,\"key_prefix\":\"k/late\","
                       "\"range_start\":0}]}") == 0);
    parts0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    long puts0 = wt_stat(&w.d, w.dst.url, "PutObject", "count");
    const char *holdopts[] = {
        "--exit-when-idle", "--max-deliveries", "2", "--ring", "1MiB", "--md5-hold", "6MiB", NULL};
    pid_t kp = wt_worker(&w, "vk", "vk.log", holdopts);
    CHECK_INT(wt_wait(kp, 120), 0);
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    CHECK(wt_stat(&w.d, w.dst.url, "UploadPart", "count") >= parts0 + 8); /* parallel parts */
    CHECK_INT(wt_stat(&w.d, w.dst.url, "PutObject", "count"), puts0);     /* no single PUT */
    expect_done(&w, "vk", "k/good");
    CHECK_INT(wt_compare(&w, &w.d, "k/good", "k/good"), 0);
    CHECK_STR(done_checks("vk.log", "k/good"), "dst:crc32c-echo,src:md5");
    expect_failed(&w, "vk", "k/bad", "MD5");
    expect_retried(&w, "vk", "k/bad");
    CHECK_INT(s3t_head(&w.d, "dst", "k/bad", 5, &x), FERRY_ENOTFOUND);
    expect_failed(&w, "vk", "k/etag", "differs from the source's ETag");
    expect_retried(&w, "vk", "k/etag");
    CHECK_INT(s3t_head(&w.d, "dst", "k/etag", 6, &x), FERRY_ENOTFOUND);
    expect_done(&w, "vk", "k/late");
    CHECK_INT(wt_compare(&w, &w.d, "k/late", "k/late"), 0);
    CHECK_STR(done_checks("vk.log", "k/late"), "dst:crc32c-echo,src:md5");
    long late_held = log_field_num("vk.log", "event=copy.md5_ordered", "k/late", "held_peak");
    long proc_held =
        log_field_num("vk.log", "event=copy.md5_ordered", "k/late", "process_held_peak");
    printf("k/late: %ld bytes held at most for its MD5 (process: %ld, cap %d)\n", late_held,
           proc_held, 6 << 20);
    CHECK(late_held >= 1 << 20);                  /* later parts came first and were held */
    CHECK(proc_held > 0 && proc_held <= 6 << 20); /* never past --md5-hold */
    CHECK(late_held <= proc_held);
    /* the memory behind it: every hold block allocated (held, at the MD5 thread, spare) */
    long proc_blocks =
        log_field_num("vk.log", "event=copy.md5_ordered", "k/late", "process_blocks_peak");
    printf("k/late: %ld hold blocks of 1 MiB allocated at most in the process\n", proc_blocks);
    CHECK(proc_blocks > 0 && proc_blocks <= 6);
    /* --md5-parts is kept for compatibility and changes nothing: parts, src:md5 */
    const char *mdopts[] = {"--multipart-threshold", "8MiB", "--part-size", "5MiB",
                            "--md5-parts",           NULL};
    wt_task(&w, "vk2", "k/good", NULL, "k2/good", mdopts);
    wt_enqueue_prefix(&w, "vk2", "k/good");
    parts0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
    run_worker(&w, "vk2", "vk2.log");
    CHECK(wt_stat(&w.d, w.dst.url, "UploadPart", "count") > parts0);
    expect_done(&w, "vk2", "k/good");
    CHECK_STR(done_checks("vk2.log", "k/good"), "dst:crc32c-echo,src:md5");
    CHECK_INT(wt_compare(&w, &w.d, "k/good", "k2/good"), 0);

    /* ---- 8b. a part read twice (its UploadPart answered 500 after its bytes were hashed):
     * the second read must give the bytes the MD5 took. t/reread: the same bytes, done, src:md5.
     * t/twice: the second read of part 1 has a flipped byte (fakes3 skip: the rule lets the
     * first read pass): the copy fails and is retried, then done and byte-identical; never a
     * done copy whose part differs from what was hashed. --parts-per-job 1: part 1 is the first
     * UploadPart of each object. ---- */
    wt_put(&w, "t/reread", 20u << 20, 27);
    wt_put(&w, "t/twice", 20u << 20, 28);
    wt_task(&w, "vt", "t/", NULL, "t/", mpopts);
    wt_enqueue_prefix(&w, "vt", "t/");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"UploadPart\",\"error\":500,\"count\":1,"
                       "\"key_prefix\":\"t/reread\"},{\"op\":\"UploadPart\",\"error\":500,"
                       "\"count\":1,\"key_prefix\":\"t/twice\"}]}") == 0);
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,\"skip\":1,"
                       "\"count\":1,\"range_start\":0,\"key_prefix\":\"t/twice\"}]}") == 0);
    const char *ppj1[] = {"--exit-when-idle",
                          "--max-deliveries",
                          "2",
                          "--ring",
                          "1MiB",
                          "--parts-per-job",
                          "1",
                          NULL};
    pid_t tp = wt_worker(&w, "vt", "vt.log", ppj1);
    CHECK_INT(wt_wait(tp, 120), 0);
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    expect_done(&w, "vt", "t/reread");
    CHECK_INT(wt_compare(&w, &w.d, "t/reread", "t/reread"), 0);
    CHECK_STR(done_checks("vt.log", "t/reread"), "dst:crc32c-echo,src:md5");
    expect_done(&w, "vt", "t/twice");
    CHECK_INT(wt_compare(&w, &w.d, "t/twice", "t/twice"), 0);
    CHECK_STR(done_checks("vt.log", "t/twice"), "dst:crc32c-echo,src:md5");
    CHECK(wt_log_count("vt.log", "copy.part_retry") >= 2);
    CHECK_INT(wt_log_count("vt.log", "read differently the second time"), 1);
    {
        ferry_record_t rec;
        CHECK_INT(wt_record(&w, "vt", "t/twice", &rec), FERRY_OK);
        CHECK_INT(rec.attempts, 2);
    }

    /* ---- 8c. a copy that fails while blocks of its MD5 are still at the MD5 thread (made
     * slow: FERRY_TEST_HASHER_DELAY_MS, 1 s a block): every UploadPart answers 500, so the copy
     * fails after its tries with most of its 20 blocks queued. The worker neither crashes nor
     * leaks (ASan: it exits 0), the copy's MD5 state outlives it until the thread is done with
     * it (copy.md5_abandoned), and the record is failed, never done. --ring 8MiB: each 5 MiB
     * part is read whole before its UploadPart, so all its bytes reach the hash. ---- */
    wt_put(&w, "q/fail", 20u << 20, 29);
    wt_task(&w, "vq", "q/", NULL, "q/", mpopts);
    wt_enqueue_prefix(&w, "vq", "q/");
    REQUIRE(s3t_faults(&w.d, w.dst.url,
                       "{\"rules\":[{\"op\":\"UploadPart\",\"error\":500,"
                       "\"key_prefix\":\"q/\"}]}") == 0);
    setenv("FERRY_TEST_HASHER_DELAY_MS", "1000", 1);
    const char *q1[] = {"--exit-when-idle", "--max-deliveries", "1", "--ring", "8MiB", NULL};
    pid_t qp = wt_worker(&w, "vq", "vq.log", q1);
    unsetenv("FERRY_TEST_HASHER_DELAY_MS");
    CHECK_INT(wt_wait(qp, 120), 0);
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    {
        ferry_record_t rec;
        CHECK_INT(wt_record(&w, "vq", "q/fail", &rec), FERRY_OK);
        if (rec.state != FERRY_STATE_FAILED)
            fprintf(stderr, "q/fail: state %d error \"%s\"\n", rec.state, rec.error);
        CHECK_INT(rec.state, FERRY_STATE_FAILED);
    }
    CHECK(wt_log_count("vq.log", "copy.md5_abandoned") >= 1);
    CHECK_INT(s3t_head(&w.d, "dst", "q/fail", 6, &x), FERRY_ENOTFOUND);

    /* ---- 9. (item 10) a multipart source uploaded with CRC32C (COMPOSITE b64-N): the
     * composite is recomputed on the source's part boundaries as well as its ETag ---- */
    wt_put_multipart(&w.s, "src", "l/comp", ps, 3, 19, 1);
    wt_put_multipart(&w.s, "src", "l/bad", ps, 3, 22, 1);
    wt_task(&w, "vl", "l/", NULL, "l/", crcopts);
    wt_enqueue_prefix(&w, "vl", "l/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"flip_byte\":true,"
                       "\"key_prefix\":\"l/bad\"}]}") == 0);
    run_worker(&w, "vl", "vl.log");
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    expect_failed(&w, "vl", "l/bad", "COMPOSITE"); /* compared before the multipart ETag */
    CHECK_INT(s3t_head(&w.d, "dst", "l/bad", 5, &x), FERRY_ENOTFOUND);
    expect_done(&w, "vl", "l/comp");
    CHECK_INT(wt_compare(&w, &w.d, "l/comp", "l/comp"), 0);
    CHECK_STR(done_checks("vl.log", "l/comp"), "dst:crc32c-echo,src:crc32c,src:multipart-etag");

    /* ---- 10. (item 10) SSE-KMS objects (fakes3 sse_kms: the ETag is no MD5) with a stored
     * CRC32C: checked by it alone (src:crc32c, not src:unverified); on the streamed single-PUT
     * path (3 MiB > the 1 MiB ring) the PUT's last byte waits for that check, so a flipped
     * byte leaves nothing at the destination ---- */
    wt_put_crc32c(&w, "m/good", 3u << 20, 23);
    wt_put_crc32c(&w, "m/bad", 3u << 20, 24);
    wt_task(&w, "vm", "m/", NULL, "m/", mpopts);
    wt_enqueue_prefix(&w, "vm", "m/");
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"*\",\"sse_kms\":true,\"key_prefix\":\"m/\"},"
                       "{\"op\":\"GetObject\",\"flip_byte\":true,\"key_prefix\":\"m/bad\"}]}") ==
            0);
    run_worker(&w, "vm", "vm.log");
    s3t_faults(&w.s, w.src.url, "{\"rules\":[]}");
    expect_done(&w, "vm", "m/good");
    CHECK_INT(wt_compare(&w, &w.d, "m/good", "m/good"), 0);
    CHECK_STR(done_checks("vm.log", "m/good"), "src:crc32c,dst:etag");
    expect_failed(&w, "vm", "m/bad", "CRC32C");
    CHECK_INT(s3t_head(&w.d, "dst", "m/bad", 5, &x), FERRY_ENOTFOUND);

    /* ---- 6. s3c source with opaque ETags: src:unverified, or failed when required ---- */
    harness_server_t k;
    const char *kb[] = {"--bucket", "src", "--path-style-ok", NULL};
    REQUIRE(harness_fakes3_start("kodo", kb, &k) == 0);
    s3t_t ks;
    REQUIRE(s3t_open(&ks, "s3c", k.url, k.access_key, k.secret_key, FERRY_TRI_ON, "source") == 0);
    char *body = malloc(4000);
    REQUIRE(body != NULL);
    s3t_fill(body, 4000, 10);
    REQUIRE(s3t_put(&ks, "src", "f/x", 3, body, 4000, &x) == FERRY_OK);
    free(body);
    snprintf(w.src_ep, sizeof(w.src_ep), "%s", k.url);
    w.src_scheme = "s3c";
    setenv("FERRY_SRC_ACCESS_KEY_ID", k.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", k.secret_key, 1);
    const char *req[] = {"--require-source-check", NULL};
    wt_task(&w, "vf1", "f/", NULL, "f1/", NULL);
    wt_task(&w, "vf2", "f/", NULL, "f2/", req);
    enqueue_one(&w, "vf1", "f/x", 4000);
    enqueue_one(&w, "vf2", "f/x", 4000);
    run_worker(&w, "vf1", "vf1.log");
    run_worker(&w, "vf2", "vf2.log");
    expect_done(&w, "vf1", "f/x");
    CHECK(strstr(done_checks("vf1.log", "f/x"), "src:unverified") != NULL);
    uint64_t c1 = 0, c2 = 0;
    size_t l1 = 0, l2 = 0;
    CHECK_INT(wt_crc(&ks, "src", "f/x", 3, &c1, &l1), FERRY_OK);
    CHECK_INT(wt_crc(&w.d, "dst", "f1/x", 4, &c2, &l2), FERRY_OK);
    CHECK(c1 == c2 && l1 == l2);
    expect_failed(&w, "vf2", "f/x", "--require-source-check");
    CHECK_INT(s3t_head(&w.d, "dst", "f2/x", 4, &x), FERRY_ENOTFOUND);
    s3t_close(&ks);

    wt_stop(&w);
    return test_summary();
}
