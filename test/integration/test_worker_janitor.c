/* Integration test for the worker's janitor (issue 12 item 11): it aborts only multipart
 * uploads that ferry started (their ids are in the task's upload set), that no live ledger
 * record owns and that are older than --janitor-age. Another application's upload under the
 * destination prefix survives however old it is; an upload whose key's record owns it
 * (copying, with that upload id) is left alone, and so are uploads outside the prefix. A copy
 * that opens a multipart upload puts its id in the set and takes it out when it completes.
 */
#include "test_worker_util.h"

typedef struct {
    char ids[16][1100];
    char keys[16][256];
    int n;
} uploads_t;

static int on_upload(void *arg, const ferry_s3xml_upload_t *u)
{
    uploads_t *l = arg;
    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof(l->keys[0]), "%.*s", (int)u->key_len, u->key);
        snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", u->upload_id);
        l->n++;
    }
    return FERRY_OK;
}

static void list_uploads(wt_t *w, uploads_t *l)
{
    ferry_s3_list_args_t a;
    ferry_error_t e;
    s3t_res_t x;
    memset(&a, 0, sizeof(a));
    memset(l, 0, sizeof(*l));
    memset(&x, 0, sizeof(x));
    a.bucket = "dst";
    a.on_upload = on_upload;
    a.arg = l;
    REQUIRE(ferry_s3_list_uploads(w->d.c, &a, s3t_done, &x, NULL, &e) == FERRY_OK);
    s3t_wait(&w->d, &x);
    REQUIRE(x.r.rc == FERRY_OK);
}

static void create_upload(wt_t *w, const char *key, char *id, size_t n)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    s3t_res_t x;
    memset(&x, 0, sizeof(x));
    ferry_s3_args_init(&a);
    a.bucket = "dst";
    a.key = key;
    REQUIRE(ferry_s3_create_multipart(w->d.c, &a, s3t_done, &x, NULL, &e) == FERRY_OK);
    s3t_wait(&w->d, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    snprintf(id, n, "%s", x.r.upload_id);
}

static int has_id(const uploads_t *l, const char *id)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->ids[i], id) == 0)
            return 1;
    return 0;
}

int main(void)
{
    wt_t w;
    wt_start(&w, "s3", "s3");
    wt_task(&w, "jan", "in/", NULL, "out/", NULL);

    /* ferry's own, left behind (a worker died before recording it, or its record moved on):
     * orphan, orphan2. Another application's multi-day upload under the same prefix: foreign.
     */
    char orphan[1100], orphan2[1100], owned[1100], outside[1100], foreign[1100];
    create_upload(&w, "out/orphan.bin", orphan, sizeof(orphan));
    create_upload(&w, "out/dir/orphan two.bin", orphan2, sizeof(orphan2));
    create_upload(&w, "out/owned.bin", owned, sizeof(owned));
    create_upload(&w, "elsewhere/x.bin", outside, sizeof(outside));
    create_upload(&w, "out/backup-tool/huge.tar", foreign, sizeof(foreign));
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w.r, "jan", 0, &led) == FERRY_OK);
    REQUIRE(ferry_ledger_upload_track(led, orphan) == FERRY_OK);
    REQUIRE(ferry_ledger_upload_track(led, orphan2) == FERRY_OK);
    REQUIRE(ferry_ledger_upload_track(led, owned) == FERRY_OK);
    REQUIRE(ferry_ledger_upload_track(led, outside) == FERRY_OK);

    /* The ledger owns out/owned.bin's upload: its source key in/owned.bin is copying under a
     * lease held by "another worker" (this test), with that upload id recorded. */
    ferry_item_t it = {.key = "in/owned.bin", .size = 100 << 20, .origin = FERRY_ORIGIN_SCAN};
    REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, &it, 1, NULL) == FERRY_OK);
    int sr = 0;
    REQUIRE(ferry_ledger_start(led, "in/owned.bin", "test/0", "tok-test", 120000, &sr, NULL) ==
            FERRY_OK);
    REQUIRE(sr == FERRY_START_COPY);
    REQUIRE(ferry_ledger_set_upload(led, "in/owned.bin", "tok-test", owned) == FERRY_OK);

    /* A long --janitor-age aborts nothing. */
    const char *young[] = {"--janitor-every", "200ms", "--janitor-age", "1h", NULL};
    pid_t p = wt_worker(&w, "jan", "worker-young.log", young);
    usleep(1200 * 1000);
    kill(p, SIGTERM);
    CHECK_INT(wt_wait(p, 20), 0);
    uploads_t l;
    list_uploads(&w, &l);
    CHECK_INT(l.n, 5);

    /* Age 1 ms: ferry's two orphans go; the owned, the outside and the other application's
     * uploads stay. */
    usleep(20 * 1000);
    const char *old[] = {"--janitor-every", "200ms", "--janitor-age", "1ms", NULL};
    p = wt_worker(&w, "jan", "worker-old.log", old);
    usleep(1500 * 1000);
    kill(p, SIGTERM);
    CHECK_INT(wt_wait(p, 20), 0);
    list_uploads(&w, &l);
    CHECK(!has_id(&l, orphan));
    CHECK(!has_id(&l, orphan2));
    CHECK(has_id(&l, owned));
    CHECK(has_id(&l, outside));
    CHECK(has_id(&l, foreign)); /* not ferry's: never aborted */
    CHECK_INT(l.n, 3);
    CHECK(wt_log_count("worker-old.log", "event=janitor.abort") == 2);
    int yes = 1;
    REQUIRE(ferry_ledger_upload_tracked(led, orphan, &yes) == FERRY_OK);
    CHECK_INT(yes, 0); /* aborted: out of the set */
    REQUIRE(ferry_ledger_upload_tracked(led, owned, &yes) == FERRY_OK);
    CHECK_INT(yes, 1);

    /* A multipart copy by the worker: its upload id goes into the set while it is open and
     * out of it once completed. */
    wt_put_crc32c(&w, "in/big.bin", 12u << 20, 7);
    const char *bopts[] = {"--part-size", "5MiB", "--multipart-threshold", "8MiB", NULL};
    wt_task(&w, "janbig", "in/big", NULL, "out/big", bopts);
    wt_enqueue_prefix(&w, "janbig", "in/big");
    const char *run[] = {"--exit-when-idle", NULL};
    p = wt_worker(&w, "janbig", "worker-big.log", run);
    CHECK_INT(wt_wait(p, 60), 0);
    ferry_record_t rec;
    REQUIRE(wt_record(&w, "janbig", "in/big.bin", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    redisReply *rep = NULL;
    REQUIRE(ferry_redis_cmd(w.r, &rep, "HLEN ferry:{janbig}:uploads") == FERRY_OK);
    CHECK_INT(rep->integer, 0);
    freeReplyObject(rep);
    CHECK(wt_log_count("worker-big.log", "event=copy.done") == 1);

    ferry_ledger_free(led);
    wt_stop(&w);
    return test_summary();
}
