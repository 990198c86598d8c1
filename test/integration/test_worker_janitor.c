/* Integration test for the worker's janitor: multipart uploads on the destination that no
 * live ledger record owns and that are older than --janitor-age are aborted; an upload whose
 * key's record owns it (copying, with that upload id) is left alone, and so are uploads
 * outside the task's destination prefix. */
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

    char orphan[1100], orphan2[1100], owned[1100], outside[1100];
    create_upload(&w, "out/orphan.bin", orphan, sizeof(orphan));
    create_upload(&w, "out/dir/orphan two.bin", orphan2, sizeof(orphan2));
    create_upload(&w, "out/owned.bin", owned, sizeof(owned));
    create_upload(&w, "elsewhere/x.bin", outside, sizeof(outside));

    /* The ledger owns out/owned.bin's upload: its source key in/owned.bin is copying under a
     * lease held by "another worker" (this test), with that upload id recorded. */
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w.r, "jan", 0, &led) == FERRY_OK);
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
    CHECK_INT(l.n, 4);

    /* Age 1 ms: the two orphans go; the owned and the outside uploads stay. */
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
    CHECK_INT(l.n, 2);
    CHECK(wt_log_count("worker-old.log", "event=janitor.abort") == 2);

    ferry_ledger_free(led);
    wt_stop(&w);
    return test_summary();
}
