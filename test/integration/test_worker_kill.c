/* ferry worker: kill -9 three times in the middle of multipart copies (issue 12 items 14 and
 * 15). 4 objects of 64 MiB (8 parts of 8 MiB each, UploadPart paced by fakes3 so that every
 * kill lands mid-copy) and 200 small ones; the worker slot is killed with SIGKILL three times
 * and restarted each time with the same slot and the default lease (60 s) and visibility
 * timeout (300 s). Afterwards:
 *
 *  - every record is done (a delivery is not an attempt: nothing is given up);
 *  - every destination object has the source's exact bytes (CRC-64 over the whole body);
 *  - no multipart upload is left open on the destination;
 *  - no finished part is sent again (fakes3's UploadPart counter against the parts that each
 *    kill left on the server, as ListParts shows them);
 *  - it all ends in well under the visibility timeout and the lease (< 60 s): the restarted
 *    slot takes its pending jobs and its dead predecessor's leases back at once;
 *  - a second worker started on the same slot while one lives is refused.
 */
#include "test_worker_util.h"

#define BIG_N     4
#define BIG_PARTS 8
#define SMALL_N   200

typedef struct {
    int n;
} count_t;

static int on_upload(void *arg, const ferry_s3xml_upload_t *u)
{
    (void)u;
    ((count_t *)arg)->n++;
    return FERRY_OK;
}

static int open_uploads(wt_t *w)
{
    ferry_s3_list_args_t a;
    ferry_error_t e;
    s3t_res_t x;
    count_t c = {0};
    memset(&a, 0, sizeof(a));
    memset(&x, 0, sizeof(x));
    a.bucket = "dst";
    a.on_upload = on_upload;
    a.arg = &c;
    REQUIRE(ferry_s3_list_uploads(w->d.c, &a, s3t_done, &x, NULL, &e) == FERRY_OK);
    s3t_wait(&w->d, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    return c.n;
}

/* Parts of the big objects that are on the server for good: all of a done object's, and the
 * stored parts of the upload a copying record names. */
static int finished_parts(wt_t *w)
{
    int n = 0;
    for (int i = 0; i < BIG_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k/b%08d", i);
        ferry_record_t rec;
        REQUIRE(wt_record(w, "kill", key, &rec) == FERRY_OK);
        if (rec.state == FERRY_STATE_DONE)
            n += BIG_PARTS;
        else if (rec.upload_id[0]) {
            int p = wt_count_parts(&w->d, key, rec.upload_id);
            n += p > 0 ? p : 0;
        }
    }
    return n;
}

/* Every open upload a record names is in the task's set of uploads ferry started (so the
 * janitor would abort it if it were ever left behind). Returns how many are missing. */
static int untracked_uploads(wt_t *w)
{
    int bad = 0;
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w->r, "kill", 0, &led) == FERRY_OK);
    for (int i = 0; i < BIG_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k/b%08d", i);
        ferry_record_t rec;
        int yes = 0;
        REQUIRE(ferry_ledger_get(led, key, &rec) == FERRY_OK);
        if (rec.upload_id[0] && ferry_ledger_upload_tracked(led, rec.upload_id, &yes) == FERRY_OK &&
            !yes)
            bad++;
    }
    ferry_ledger_free(led);
    return bad;
}

static void seed(wt_t *w, const char *json)
{
    char out[8192];
    long st = s3t_control(&w->s, w->src.url, "POST", "/_fakes3/seed", json, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "seed: %ld %s\n", st, out);
    REQUIRE(st == 200);
}

static long parts_sent(wt_t *w)
{
    return wt_stat(&w->d, w->dst.url, "UploadPart", "count");
}

/* Wait until the destination is quiet (the same counts twice, 300 ms apart): a part whose
 * body had fully arrived when the worker died is still stored. */
static void settle(wt_t *w, long *sent, int *there)
{
    *sent = -1;
    *there = -1;
    for (int i = 0; i < 50; i++) {
        long s = parts_sent(w);
        int t = finished_parts(w);
        if (s == *sent && t == *there)
            return;
        *sent = s;
        *there = t;
        usleep(300 * 1000);
    }
}

int main(void)
{
    wt_t w;
    wt_start(&w, "s3", "s3");
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"k/b\",\"count\":4,\"size\":67108864,\"seed\":21,"
             "\"crc32c\":true}");
    seed(&w, "{\"bucket\":\"src\",\"prefix\":\"k/s\",\"count\":200,\"seed\":22,\"sizes\":["
             "{\"size\":1,\"weight\":1},{\"size\":4096,\"weight\":2},{\"size\":70000,"
             "\"weight\":2}]}");
    const char *topts[] = {"--part-size", "8MiB", "--multipart-threshold", "8MiB", NULL};
    wt_task(&w, "kill", "k/", NULL, "k/", topts);
    REQUIRE(wt_enqueue_prefix(&w, "kill", "k/") == BIG_N + SMALL_N);
    /* 4 MiB/s per part upload: a part takes 2 s, so each kill cuts parts in flight. Small
     * PUTs wait a little, so that kills also land among them. */
    char out[512];
    REQUIRE(s3t_control(&w.d, w.dst.url, "POST", "/_fakes3/faults",
                        "[{\"op\":\"UploadPart\",\"bandwidth\":4194304},"
                        "{\"op\":\"PutObject\",\"latency_ms\":20}]",
                        out, sizeof(out)) == 200);
    /* Default lease (60 s) and visibility (300 s): the point is not to wait for them. */
    const char *wopts[] = {"--slot", "5", "--concurrency", "8", "--parts-per-job", "2", NULL};
    const char *last[] = {"--slot",          "5", "--concurrency",    "8",
                          "--parts-per-job", "2", "--exit-when-idle", NULL};
    double t0 = wt_now();
    long sent = 0;
    int there = 0;
    for (int round = 0; round < 3; round++) {
        char log[32];
        snprintf(log, sizeof(log), "kill%d.log", round);
        long before = parts_sent(&w);
        pid_t p = wt_worker(&w, "kill", log, wopts);
        /* mid-copy: parts under way, some finished (2 s each), the next ones cut */
        double end = wt_now() + 30;
        while (parts_sent(&w) < before + 3 && wt_now() < end)
            usleep(10 * 1000);
        usleep(2500 * 1000);
        kill(p, SIGKILL);
        CHECK_INT(wt_wait(p, 10), 128 + SIGKILL);
        int there_before = there;
        long sent_before = round ? sent : 0;
        settle(&w, &sent, &there);
        printf("kill %d at %.1f s: %ld UploadPart requests so far, %d of %d parts stored\n",
               round + 1, wt_now() - t0, sent, there, BIG_N * BIG_PARTS);
        /* Requests of this run: the parts it finished, plus at most one cut per stream in
         * flight (8). A finished part sent again would show as more. */
        if (round)
            CHECK(sent - sent_before <= (there - there_before) + 8);
        CHECK_INT(untracked_uploads(&w), 0);
    }
    CHECK(there < BIG_N * BIG_PARTS); /* the kills did land mid-copy */
    /* each restart took the dead process's consumer name over at once */
    CHECK_INT(wt_log_count("kill1.log", "event=worker.consumer_taken_over"), 1);
    CHECK_INT(wt_log_count("kill2.log", "event=worker.consumer_taken_over"), 1);
    pid_t p = wt_worker(&w, "kill", "kill-last.log", last);
    /* one live process per slot: a second worker on slot 5 is refused at once */
    usleep(300 * 1000);
    pid_t twin = wt_worker(&w, "kill", "kill-twin.log", last);
    CHECK_INT(wt_wait(twin, 20), 1);
    CHECK_INT(wt_log_count("kill-twin.log", "is in use by process"), 1);
    CHECK_INT(wt_wait(p, 120), 0);
    double took = wt_now() - t0;
    printf("all copied %.1f s after the first start\n", took);
    CHECK(took < 60); /* not after the 60 s lease or the 300 s visibility timeout */
    long final_sent = parts_sent(&w);
    printf("the last run sent %ld parts for %d missing\n", final_sent - sent,
           BIG_N * BIG_PARTS - there);
    CHECK_INT(final_sent - sent, BIG_N * BIG_PARTS - there); /* no finished part re-sent */

    ferry_counters_t c;
    wt_counters(&w, "kill", &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], BIG_N + SMALL_N);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    long long dead = -1;
    {
        ferry_ledger_t *led = NULL;
        REQUIRE(ferry_ledger_open(w.r, "kill", 0, &led) == FERRY_OK);
        REQUIRE(ferry_queue_backlog(led, NULL, NULL, &dead) == FERRY_OK);
        ferry_ledger_free(led);
    }
    CHECK_INT(dead, 0);
    CHECK_INT(open_uploads(&w), 0);
    redisReply *rep = NULL;
    REQUIRE(ferry_redis_cmd(w.r, &rep, "HLEN ferry:{kill}:uploads") == FERRY_OK);
    CHECK_INT(rep->integer, 0); /* all completed: none left for the janitor */
    freeReplyObject(rep);
    REQUIRE(s3t_control(&w.d, w.dst.url, "DELETE", "/_fakes3/faults", NULL, out, sizeof(out)) ==
            200);
    CHECK_INT(wt_compare(&w, &w.d, "k/", "k/"), 0);
    CHECK_INT(wt_log_count("kill-last.log", "gave up"), 0);

    wt_stop(&w);
    return test_summary();
}
