/* One task's ledger over several shards (--ledger-shards, docs/redis.md), on one plain
 * redis-server: the same data set copied by a task of one shard and by a task of four, through
 * the CLI's scan (ferry task run) and a worker, must agree in everything a user sees —
 * counters, progress, ls (key order and paging), the bucket walk, failures grouped by code,
 * retry, the backlog and stream statistics — and the sharded task's keys must really be spread
 * over its four hash tags, and all gone after ferry task rm. (The 3-master cluster runs the
 * same with eight shards in test_cluster.)
 */
#include "test_worker_util.h"

#include "ferry/stats.h"
#include "ferry/status.h"

#define GOOD 300
#define BAD  10

static long long count_keys(wt_t *w, const char *pattern)
{
    redisReply *rep = NULL;
    REQUIRE(ferry_redis_cmd(w->r, &rep, "KEYS %s", pattern) == FERRY_OK);
    long long n = rep->type == REDIS_REPLY_ARRAY ? (long long)rep->elements : -1;
    freeReplyObject(rep);
    return n;
}

static void set_faults(wt_t *w, const char *json)
{
    char out[512];
    REQUIRE(s3t_control(&w->s, w->src.url, "POST", "/_fakes3/faults", json, out, sizeof(out)) ==
            200);
}

static void run_worker(wt_t *w, const char *task, const char *log, const char *slot)
{
    const char *wopts[] = {
        "--exit-when-idle", "--concurrency", "8", "--max-attempts", "1", "--slot", slot, NULL};
    CHECK_INT(wt_wait(wt_worker(w, task, log, wopts), 300), 0);
}

/* Every key of a listing, page by page (limit per page), into keys (sorted when sorted). */
typedef struct {
    char (*k)[64];
    size_t n, cap;
    int pages;
} keyset_t;

static void list_all(wt_t *w, const char *task, int state, size_t limit, keyset_t *ks)
{
    char cursor[1100] = "", next[1100];
    ks->n = 0;
    ks->pages = 0;
    do {
        json_t *a = NULL;
        REQUIRE(ferry_status_list(w->r, task, state, "", cursor, limit, &a, next, sizeof(next)) ==
                FERRY_OK);
        CHECK(json_array_size(a) <= limit);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
            REQUIRE(ks->n < ks->cap);
            snprintf(ks->k[ks->n++], 64, "%s", json_string_value(json_object_get(v, "key")));
        }
        json_decref(a);
        snprintf(cursor, sizeof(cursor), "%s", next);
        ks->pages++;
    } while (cursor[0] && ks->pages < 10000);
}

static int cmp64(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int sorted(const keyset_t *ks)
{
    for (size_t i = 1; i < ks->n; i++)
        if (strcmp(ks->k[i - 1], ks->k[i]) >= 0)
            return 0;
    return 1;
}

static int same(keyset_t *a, keyset_t *b)
{
    if (a->n != b->n)
        return 0;
    qsort(a->k, a->n, 64, cmp64);
    qsort(b->k, b->n, 64, cmp64);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->k[i], b->k[i]))
            return 0;
    return 1;
}

typedef struct {
    ferry_counters_t c;
    long long pending, failed, failed_q, failed_p;
    long long bulk_after_scan;
    char top_code[32];
    long long top_count;
} seen_t;

/* Scan and copy one task, recording what a user sees. */
static void copy_one(wt_t *w, const char *name, const char *dp, const char *shards, seen_t *s)
{
    char out[65536], args[256];
    const char *extra[] = {"--ledger-buckets", "64", "--ledger-shards", shards, NULL};
    wt_task(w, name, "", NULL, dp, extra);
    snprintf(args, sizeof(args), "task run %s", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    /* the backlog and the stream statistics (what /v1/scale and KEDA read) sum the shards */
    ferry_ledger_t *l = NULL;
    REQUIRE(ferry_status_ledger(w->r, name, &l) == FERRY_OK);
    CHECK_INT(ferry_ledger_shards(l), (uint32_t)atoi(shards));
    long long ev = -1, bulk = -1, dead = -1;
    REQUIRE(ferry_queue_backlog(l, &ev, &bulk, &dead) == FERRY_OK);
    CHECK_INT(ev, 0);
    CHECK_INT(bulk, GOOD + BAD);
    CHECK_INT(dead, 0);
    s->bulk_after_scan = bulk;
    ferry_stream_stats_t st[2];
    REQUIRE(ferry_stats_streams(w->r, name, st, &dead) == FERRY_OK);
    CHECK_INT(st[1].length, GOOD + BAD);
    CHECK_INT(st[1].lag >= 0 ? st[1].lag : st[1].length - st[1].pending, GOOD + BAD);
    CHECK(st[1].bytes > 0);

    char slot[16];
    snprintf(slot, sizeof(slot), "%d", atoi(shards) + 10);
    char log[64];
    snprintf(log, sizeof(log), "%s.log", name);
    run_worker(w, name, log, slot);

    REQUIRE(ferry_ledger_counters(l, &s->c) == FERRY_OK);
    REQUIRE(ferry_ledger_progress(l, "", &s->pending, &s->failed) == FERRY_OK);
    long long p;
    REQUIRE(ferry_ledger_progress(l, "q/", &p, &s->failed_q) == FERRY_OK);
    REQUIRE(ferry_ledger_progress(l, "p/", &p, &s->failed_p) == FERRY_OK);
    REQUIRE(ferry_queue_backlog(l, &ev, &bulk, &dead) == FERRY_OK);
    CHECK_INT(ev + bulk, 0);
    json_t *g = NULL;
    REQUIRE(ferry_status_failure_groups(w->r, name, "", "", 1000, 3, 0, &g) == FERRY_OK);
    json_t *g0 = json_array_get(json_object_get(g, "groups"), 0);
    snprintf(s->top_code, sizeof(s->top_code), "%s",
             g0 ? json_string_value(json_object_get(g0, "code")) : "");
    s->top_count = g0 ? json_integer_value(json_object_get(g0, "count")) : 0;
    CHECK_INT(json_array_size(json_object_get(g0, "keys")), 3);
    json_decref(g);
    /* the task API's snapshot sums the shards' counters too */
    const char *names[1] = {name};
    ferry_task_snapshot_t snap;
    ferry_heartbeat_t *hb = NULL;
    size_t nhb = 0;
    REQUIRE(ferry_stats_snapshots(w->r, names, 1, &snap, &hb, &nhb) == FERRY_OK);
    CHECK_INT(snap.c.objects[FERRY_STATE_DONE], GOOD);
    CHECK_INT(snap.c.objects[FERRY_STATE_FAILED], BAD);
    CHECK_INT(snap.st[1].length, 0);
    ferry_stats_snapshot_clear(&snap);
    free(hb);
    ferry_ledger_free(l);
}

int main(void)
{
    wt_t w;
    wt_start(&w, "s3", "s3");
    char js[256], out[65536];
    snprintf(js, sizeof(js),
             "{\"bucket\":\"src\",\"prefix\":\"p/\",\"count\":%d,\"seed\":3,\"sizes\":["
             "{\"size\":0,\"weight\":1},{\"size\":1024,\"weight\":5},{\"size\":70000,"
             "\"weight\":2}]}",
             GOOD);
    REQUIRE(s3t_control(&w.s, w.src.url, "POST", "/_fakes3/seed", js, out, sizeof(out)) == 200);
    for (int i = 0; i < BAD; i++) {
        char k[32];
        snprintf(k, sizeof(k), "q/bad/%03d", i);
        wt_put(&w, k, 100 + (size_t)i, (unsigned)i);
    }
    set_faults(&w, "[{\"op\":\"*\",\"key_prefix\":\"q/bad/\",\"error\":403}]");

    seen_t one, four;
    memset(&one, 0, sizeof(one));
    memset(&four, 0, sizeof(four));
    copy_one(&w, "s1", "one/", "1", &one);
    copy_one(&w, "s4", "four/", "4", &four);

    /* What a user sees agrees. */
    for (int st = 0; st < FERRY_STATE_COUNT; st++) {
        CHECK_INT(four.c.objects[st], one.c.objects[st]);
        CHECK_INT(four.c.bytes[st], one.c.bytes[st]);
    }
    CHECK_INT(four.c.objects[FERRY_STATE_DONE], GOOD);
    CHECK_INT(four.c.objects[FERRY_STATE_FAILED], BAD);
    CHECK_INT(four.pending, 0);
    CHECK_INT(four.failed, BAD);
    CHECK_INT(four.failed_q, one.failed_q);
    CHECK_INT(four.failed_p, 0);
    CHECK_STR(four.top_code, one.top_code);
    CHECK_STR(four.top_code, "src:403");
    CHECK_INT(four.top_count, BAD);
    CHECK_INT(wt_compare(&w, &w.d, "p/", "one/p/"), 0);
    CHECK_INT(wt_compare(&w, &w.d, "p/", "four/p/"), 0);

    /* The keys: one shard is ferry:{s1}:… only; four shards use four tags, each holding
     * records (buckets), counters and streams. */
    CHECK_INT(count_keys(&w, "ferry:{s1/*"), 0);
    CHECK(count_keys(&w, "ferry:{s1}:led:*") > 0);
    CHECK(count_keys(&w, "ferry:{s4}:led:*") > 0);
    for (uint32_t s = 1; s < 4; s++) {
        char tag[FERRY_LEDGER_TAG_MAX + 1], pat[160];
        REQUIRE(ferry_ledger_shard_tag("s4", s, 4, tag, sizeof(tag)) == FERRY_OK);
        snprintf(pat, sizeof(pat), "ferry:{%s}:led:*", tag);
        long long n = count_keys(&w, pat);
        printf("shard %u (tag %s): %lld buckets\n", s, tag, n);
        CHECK(n > 0);
        snprintf(pat, sizeof(pat), "ferry:{%s}:cnt", tag);
        CHECK_INT(count_keys(&w, pat), 1);
        snprintf(pat, sizeof(pat), "ferry:{%s}:q:bulk", tag);
        CHECK_INT(count_keys(&w, pat), 1);
    }

    /* ls: the failed index in key order, in small pages that cross the shards; every record
     * by the bucket walk. Same keys as one shard. */
    keyset_t a = {calloc(1000, 64), 0, 1000, 0}, b = {calloc(1000, 64), 0, 1000, 0};
    REQUIRE(a.k && b.k);
    list_all(&w, "s1", FERRY_STATE_FAILED, 3, &a);
    list_all(&w, "s4", FERRY_STATE_FAILED, 3, &b);
    CHECK_INT(b.n, BAD);
    CHECK(sorted(&b));
    CHECK(b.pages >= 4);
    CHECK(same(&a, &b));
    list_all(&w, "s4", FERRY_STATE_FAILED, 1000, &b);
    CHECK_INT(b.n, BAD);
    CHECK(sorted(&b));
    list_all(&w, "s1", -1, 37, &a);
    list_all(&w, "s4", -1, 37, &b);
    CHECK_INT(b.n, GOOD + BAD);
    CHECK(same(&a, &b));
    list_all(&w, "s4", FERRY_STATE_DONE, 1000, &b);
    CHECK_INT(b.n, GOOD);
    /* the CLI's ls prints the failed keys too */
    CHECK_INT(wt_cli(&w, "ls s4 --state failed --format jsonl", out, sizeof(out)), 0);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    CHECK_INT(lines, BAD);
    CHECK(strstr(out, "q/bad/007") != NULL);

    /* retry: the failed records go back to their shards' streams and get copied. */
    set_faults(&w, "[]");
    CHECK_INT(wt_cli(&w, "retry s4", out, sizeof(out)), 0);
    ferry_ledger_t *l = NULL;
    REQUIRE(ferry_status_ledger(w.r, "s4", &l) == FERRY_OK);
    long long ev, bulk, dead, p, f;
    REQUIRE(ferry_queue_backlog(l, &ev, &bulk, &dead) == FERRY_OK);
    CHECK_INT(ev + bulk, BAD);
    run_worker(&w, "s4", "s4-retry.log", "20");
    ferry_counters_t c;
    REQUIRE(ferry_ledger_counters(l, &c) == FERRY_OK);
    CHECK_INT(c.objects[FERRY_STATE_DONE], GOOD + BAD);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    REQUIRE(ferry_ledger_progress(l, "", &p, &f) == FERRY_OK);
    CHECK_INT(p + f, 0);
    CHECK_INT(wt_compare(&w, &w.d, "q/", "four/q/"), 0);
    ferry_ledger_free(l);

    /* events: queued on their shards' event streams (the backlog sums them), then copied */
    {
        enum { NEV = 6 };
        char path[1024], body[4096];
        size_t o = 0;
        o += (size_t)snprintf(body + o, sizeof(body) - o, "{\"Records\":[");
        for (int i = 0; i < NEV; i++) {
            char k[32];
            snprintf(k, sizeof(k), "ev/%03d", i);
            wt_put(&w, k, 2000 + (size_t)i, 40u + (unsigned)i);
            o += (size_t)snprintf(body + o, sizeof(body) - o,
                                  "%s{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
                                  "\"eventName\":\"ObjectCreated:Put\",\"eventTime\":"
                                  "\"2026-12-06T10:00:0%dZ\",\"s3\":{\"bucket\":{\"name\":"
                                  "\"src\"},\"object\":{\"key\":\"%s\",\"size\":%d,"
                                  "\"sequencer\":\"00A%d\"}}}",
                                  i ? "," : "", i, k, 2000 + i, i);
        }
        snprintf(body + o, sizeof(body) - o, "]}");
        snprintf(path, sizeof(path), "%s/events.json", harness_tmpdir());
        FILE *fp = fopen(path, "w");
        REQUIRE(fp != NULL);
        fputs(body, fp);
        fclose(fp);
        char args[1200];
        snprintf(args, sizeof(args), "event s4 '%s'", path);
        CHECK_INT(wt_cli(&w, args, out, sizeof(out)), 0);
        REQUIRE(ferry_status_ledger(w.r, "s4", &l) == FERRY_OK);
        REQUIRE(ferry_queue_backlog(l, &ev, &bulk, &dead) == FERRY_OK);
        CHECK_INT(ev, NEV);
        CHECK_INT(bulk, 0);
        run_worker(&w, "s4", "s4-events.log", "21");
        REQUIRE(ferry_ledger_counters(l, &c) == FERRY_OK);
        CHECK_INT(c.objects[FERRY_STATE_DONE], GOOD + BAD + NEV);
        CHECK_INT(wt_compare(&w, &w.d, "ev/", "four/ev/"), 0);
        ferry_ledger_free(l);
    }

    /* ferry sync of a new task of 4 shards: scan, copy, wait, report, end to end */
    {
        char args[2048];
        snprintf(args, sizeof(args),
                 "sync --name sy4 --from s3://src/p/ --to s3://dst/sync/ --src-endpoint %s "
                 "--dst-endpoint %s --src-region us-east-1 --dst-region us-east-1 "
                 "--src-path-style --dst-path-style --ledger-shards 4 --workers 1",
                 w.src.url, w.dst.url);
        CHECK_INT(wt_cli(&w, args, out, sizeof(out)), 0);
        CHECK_INT(wt_compare(&w, &w.d, "p/", "sync/"), 0);
        REQUIRE(ferry_status_ledger(w.r, "sy4", &l) == FERRY_OK);
        CHECK_INT(ferry_ledger_shards(l), 4);
        REQUIRE(ferry_ledger_counters(l, &c) == FERRY_OK);
        CHECK_INT(c.objects[FERRY_STATE_DONE], GOOD);
        ferry_ledger_free(l);
        CHECK_INT(wt_cli(&w, "task rm sy4", out, sizeof(out)), 0);
        CHECK_INT(count_keys(&w, "ferry:{sy4*"), 0);
    }

    /* multipart copies of a task of 4 shards (--md5-parts: a plain-MD5 source in parts): the
     * upload id is kept on the record (its shard) while the parts go, the upload list in shard
     * 0 */
    {
        REQUIRE(s3t_control(&w.s, w.src.url, "POST", "/_fakes3/seed",
                            "{\"bucket\":\"src\",\"prefix\":\"big/\",\"count\":3,\"seed\":"
                            "5,\"size\":11534336}",
                            out, sizeof(out)) == 200);
        const char *extra[] = {"--ledger-shards",       "4",    "--part-size", "5MiB",
                               "--multipart-threshold", "5MiB", "--md5-parts", NULL};
        wt_task(&w, "m4", "big/", NULL, "big/", extra);
        CHECK_INT(wt_cli(&w, "task run m4", out, sizeof(out)), 0);
        long parts0 = wt_stat(&w.d, w.dst.url, "UploadPart", "count");
        long done0 = wt_stat(&w.d, w.dst.url, "CompleteMultipartUpload", "count");
        run_worker(&w, "m4", "m4.log", "22");
        CHECK(wt_stat(&w.d, w.dst.url, "UploadPart", "count") - parts0 >= 9);
        CHECK_INT(wt_stat(&w.d, w.dst.url, "CompleteMultipartUpload", "count") - done0, 3);
        REQUIRE(ferry_status_ledger(w.r, "m4", &l) == FERRY_OK);
        REQUIRE(ferry_ledger_counters(l, &c) == FERRY_OK);
        CHECK_INT(c.objects[FERRY_STATE_DONE], 3);
        ferry_ledger_free(l);
        CHECK_INT(wt_compare(&w, &w.d, "big/", "big/"), 0);
        CHECK_INT(count_keys(&w, "ferry:{m4*:uploads"), 0);
        CHECK_INT(wt_cli(&w, "task rm m4", out, sizeof(out)), 0);
        CHECK_INT(count_keys(&w, "ferry:{m4*"), 0);
    }

    /* task show names the shards */
    CHECK_INT(wt_cli(&w, "task show s4", out, sizeof(out)), 0);
    CHECK(strstr(out, "\"ledger_shards\"") != NULL);

    /* task rm: nothing of either task is left, in any shard. */
    CHECK_INT(wt_cli(&w, "task rm s4", out, sizeof(out)), 0);
    CHECK_INT(count_keys(&w, "ferry:{s4*"), 0);
    CHECK_INT(wt_cli(&w, "task rm s1", out, sizeof(out)), 0);
    CHECK_INT(count_keys(&w, "ferry:{s1*"), 0);
    free(a.k);
    free(b.k);
    wt_stop(&w);
    return test_summary();
}
