/* Issue 12 (integrity), "Tests": the fault matrix. Four fakes3 sources (personalities oss, cos,
 * kodo, s3) and s3rver (an s3c:// source) are copied at once to one fakes3 s3 destination, one
 * worker per task at the default --max-attempts, with faults on both ends at once:
 *
 *  source (fakes3): a byte flipped in GET bodies (random, and always for keys under zflip/),
 *    resets mid-body (reset_after), 503 SlowDown and 500 on GET, 503 on HEAD;
 *  destination: PUT / UploadPart 200 with a wrong ETag, with no ETag (nothing stored), with a
 *    wrong CRC32C echo, resets mid-body and 503; CompleteMultipartUpload with a wrong ETag, a
 *    wrong composite CRC32C and 500; always a wrong ETag for keys under zetag/, always no ETag
 *    under znoetag/.
 *
 * About 1,000 objects (FERRY_MATRIX_N) of 0 B .. 3 MiB plus two 12 MiB multipart copies per
 * source (the s3 source's are multipart objects themselves, ETag md5-of-md5s-N). Afterwards,
 * with the faults cleared, for every source key:
 *  - the record is `done` or `failed`, nothing else; a failed record has a reason;
 *  - the destination object is downloaded and compared with the source's bytes (CRC-64 and
 *    length over the whole bodies, not ETags): no `done` record has wrong or missing bytes;
 *  - the keys under zflip/, zetag/ and znoetag/ are `failed`;
 *  - `ferry check NAME --download --json` reports exactly the keys whose destination bytes are
 *    missing or wrong (every done key matches), and exits 1 iff it reports one.
 * A wrong 206 Content-Range is not in the matrix: fakes3 has no such fault (the range check is
 * tested against a custom server in test_s3_client).
 */
#include "test_worker_util.h"

#include <jansson.h>

#define NSRC 5
#define MiB  (1024u * 1024u)

typedef struct msrc_s {
    const char *name;   /* also the destination prefix */
    const char *pers;   /* fakes3 personality, NULL for s3rver */
    const char *scheme; /* of the task's --from */
    int md5;            /* --dst-checksum md5 (else auto: CRC32C) */
    harness_server_t srv;
    s3t_t cl;
    s3t_list_t keys;
    long faults;
} msrc_t;

/* One task: a source to a destination, one worker, and what came of each key. */
typedef struct mrun_s {
    msrc_t *src;
    int s3rver_dst; /* to s3rver (no destination faults) instead of the fakes3 destination */
    char task[40], log[48];
    char *state; /* per key: 'd' done, 'f' failed, '?' other */
    char *dst_ok;
    char *reported; /* ferry check: missing / size / digest / bytes */
    pid_t pid;
    int done, failed, failed_random, failed_but_same, bad, other, check_rc;
} mrun_t;

static wt_t w; /* redis, the destination (dst, d) and the ledger connection (r) */
static msrc_t S[NSRC] = {
    {.name = "oss", .pers = "oss", .scheme = "oss", .md5 = 1},
    {.name = "cos", .pers = "cos", .scheme = "cos"},
    {.name = "kodo", .pers = "kodo", .scheme = "kodo", .md5 = 1},
    {.name = "s3", .pers = "s3", .scheme = "s3"},
    {.name = "s3rver", .pers = NULL, .scheme = "s3c"},
};
#define NRUN (NSRC + 1)
static mrun_t R[NRUN];       /* one per source to fakes3, then cos to s3rver */
static harness_server_t s3r; /* s3rver: bucket src (a source) and dst (a destination) */
static s3t_t s3r_d;
static char out[1 << 18], errbuf[16384];

static int has_prefix(const char *k, const char *p)
{
    return strncmp(k, p, strlen(p)) == 0;
}

static void seed(msrc_t *s, const char *json)
{
    char o[512];
    long st = s3t_control(&s->cl, s->srv.url, "POST", "/_fakes3/seed", json, o, sizeof(o));
    if (st != 200)
        fprintf(stderr, "%s: seed %s: %ld %s\n", s->name, json, st, o);
    REQUIRE(st == 200);
}

static void put(msrc_t *s, const char *key, size_t len, unsigned sd)
{
    char *b = malloc(len ? len : 1);
    REQUIRE(b != NULL);
    s3t_fill(b, len, sd);
    s3t_res_t x;
    int rc = s3t_put(&s->cl, "src", key, strlen(key), b, len, &x);
    if (rc != FERRY_OK)
        fprintf(stderr, "%s: put %s: %s\n", s->name, key, x.r.err.msg);
    REQUIRE(rc == FERRY_OK);
    free(b);
}

/* The objects of one source: n in all, 6 of them always failing, plus two of 12 MiB. */
static void populate(msrc_t *s, int n, unsigned sd)
{
    char js[1024];
    int plain = n - 6;
    if (s->pers) {
        snprintf(
            js, sizeof(js),
            "{\"bucket\":\"src\",\"prefix\":\"m/\",\"count\":%d,\"seed\":%u,\"sizes\":["
            "{\"size\":0,\"weight\":2},{\"size\":1,\"weight\":2},{\"size\":1000,\"weight\":40},"
            "{\"size\":16384,\"weight\":30},{\"size\":200000,\"weight\":15},"
            "{\"size\":1048576,\"weight\":6},{\"size\":3145728,\"weight\":3}]}",
            plain, sd);
        seed(s, js);
        seed(s, "{\"bucket\":\"src\",\"prefix\":\"zflip/\",\"count\":2,\"size\":2000,\"seed\":5}");
        seed(s, "{\"bucket\":\"src\",\"prefix\":\"zetag/\",\"count\":2,\"size\":3000,\"seed\":6}");
        seed(s,
             "{\"bucket\":\"src\",\"prefix\":\"znoetag/\",\"count\":2,\"size\":1500,\"seed\":7}");
    } else { /* s3rver: PUT them (no zflip/: s3rver injects no faults) */
        static const size_t sizes[] = {0,      1,    1000,  16384,   1000,
                                       200000, 1000, 16384, 1048576, 3145728};
        char key[64];
        for (int i = 0; i < plain + 2; i++) {
            snprintf(key, sizeof(key), "m/%08d", i);
            put(s, key, sizes[i % 10], sd + (unsigned)i);
        }
        put(s, "zetag/00000000", 3000, 6);
        put(s, "zetag/00000001", 3001, 7);
        put(s, "znoetag/00000000", 1500, 8);
        put(s, "znoetag/00000001", 1501, 9);
    }
    if (s->pers && strcmp(s->pers, "s3") == 0) { /* ETag md5(md5s)-3: src:multipart-etag */
        size_t parts[] = {5 * MiB, 5 * MiB, 2 * MiB};
        wt_put_multipart(&s->cl, "src", "mp/00000000", parts, 3, sd + 1000, 0);
        wt_put_multipart(&s->cl, "src", "mp/00000001", parts, 3, sd + 1001, 0);
    } else if (s->pers) {
        seed(s, "{\"bucket\":\"src\",\"prefix\":\"mp/\",\"count\":2,\"size\":12582912,\"seed\":9}");
    } else {
        put(s, "mp/00000000", 12 * MiB, sd + 1000);
        put(s, "mp/00000001", 12 * MiB + 12345, sd + 1001);
    }
}

/* The key fails on every attempt by a rule: what the record's error must name, or NULL. */
static const char *always_fails(const mrun_t *r, const char *key)
{
    if (r->src->pers != NULL && has_prefix(key, "zflip/"))
        return "corrupted"; /* the source check of the bytes read */
    if (!r->s3rver_dst && has_prefix(key, "zetag/"))
        return "ETag";
    if (!r->s3rver_dst && has_prefix(key, "znoetag/"))
        return "without an ETag";
    return NULL;
}

static void define_task(mrun_t *r)
{
    msrc_t *s = r->src;
    char from[128], to[128];
    snprintf(r->task, sizeof(r->task), "mx-%s%s", s->name, r->s3rver_dst ? "-to-s3rver" : "");
    snprintf(r->log, sizeof(r->log), "%s.log", r->task);
    snprintf(from, sizeof(from), "%s://src/", s->scheme);
    snprintf(to, sizeof(to), "s3://dst/%s/", s->name);
    /* s3rver has no aws-chunked trailers: MD5 mode there */
    int md5 = s->md5 || r->s3rver_dst;
    const char *argv[] = {"--from",
                          from,
                          "--to",
                          to,
                          "--src-endpoint",
                          s->srv.url,
                          "--dst-endpoint",
                          r->s3rver_dst ? s3r.url : w.dst.url,
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
                          "md5"};
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - (md5 ? 0 : 2);
    ferry_task_t t;
    ferry_error_t err;
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "%s", r->task);
    if (ferry_task_parse_args(&t, argc, (char **)argv, &err) != FERRY_OK)
        fprintf(stderr, "task %s: %s\n", r->task, err.msg);
    REQUIRE(ferry_task_put(w.r, &t, 1) == FERRY_OK);
    ferry_task_clear(&t);
}

/* Enqueue every key of the source's listing (as a scan would). */
static void enqueue_all(mrun_t *r)
{
    msrc_t *s = r->src;
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(w.r, r->task, 0, &led) == FERRY_OK);
    ferry_item_t *items = calloc(s->keys.n ? s->keys.n : 1, sizeof(*items));
    REQUIRE(items != NULL);
    for (size_t i = 0; i < s->keys.n; i++) {
        items[i].key = s->keys.keys[i];
        items[i].size = (uint64_t)s->keys.sizes[i];
        items[i].origin = FERRY_ORIGIN_SCAN;
    }
    REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, items, s->keys.n, NULL) == FERRY_OK);
    free(items);
    ferry_ledger_free(led);
    r->state = calloc(s->keys.n + 1, 1);
    r->dst_ok = calloc(s->keys.n + 1, 1);
    r->reported = calloc(s->keys.n + 1, 1);
    REQUIRE(r->state && r->dst_ok && r->reported);
}

/* The worker and `ferry check` read credentials from the environment (taken at spawn). */
static void use_creds(const mrun_t *r)
{
    setenv("FERRY_SRC_ACCESS_KEY_ID", r->src->srv.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", r->src->srv.secret_key, 1);
    const harness_server_t *d = r->s3rver_dst ? &s3r : &w.dst;
    setenv("FERRY_DST_ACCESS_KEY_ID", d->access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", d->secret_key, 1);
}

static const char src_rules[] =
    "{\"rules\":["
    "{\"op\":\"GetObject\",\"key_prefix\":\"zflip/\",\"flip_byte\":true},"
    "{\"op\":\"GetObject\",\"rate\":0.04,\"flip_byte\":true},"
    "{\"op\":\"GetObject\",\"rate\":0.04,\"reset_after\":700},"
    "{\"op\":\"GetObject\",\"rate\":0.03,\"error\":503},"
    "{\"op\":\"GetObject\",\"rate\":0.02,\"error\":500},"
    "{\"op\":\"HeadObject\",\"rate\":0.03,\"error\":503}]}";

/* Random rules for every key, and the always-failing prefixes of each source's keys. */
static void dst_rules(char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "{\"rules\":[");
    for (int i = 0; i < NSRC && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o,
                              "{\"op\":\"PutObject\",\"key_prefix\":\"%s/zetag/\","
                              "\"wrong_etag\":true},"
                              "{\"op\":\"PutObject\",\"key_prefix\":\"%s/znoetag/\","
                              "\"no_etag\":true},",
                              S[i].name, S[i].name);
    if (o < n)
        o += (size_t)snprintf(
            buf + o, n - o, "%s",
            "{\"op\":\"PutObject\",\"rate\":0.03,\"wrong_etag\":true},"
            "{\"op\":\"PutObject\",\"rate\":0.03,\"no_etag\":true},"
            "{\"op\":\"PutObject\",\"rate\":0.03,\"wrong_crc32c\":true},"
            "{\"op\":\"PutObject\",\"rate\":0.03,\"reset_after\":500},"
            "{\"op\":\"PutObject\",\"rate\":0.03,\"error\":503},"
            "{\"op\":\"UploadPart\",\"rate\":0.05,\"wrong_etag\":true},"
            "{\"op\":\"UploadPart\",\"rate\":0.05,\"no_etag\":true},"
            "{\"op\":\"UploadPart\",\"rate\":0.05,\"wrong_crc32c\":true},"
            "{\"op\":\"UploadPart\",\"rate\":0.05,\"reset_after\":100000},"
            "{\"op\":\"UploadPart\",\"rate\":0.05,\"error\":503},"
            "{\"op\":\"CompleteMultipartUpload\",\"rate\":0.1,\"wrong_etag\":true},"
            "{\"op\":\"CompleteMultipartUpload\",\"rate\":0.1,\"wrong_crc32c\":true},"
            "{\"op\":\"CompleteMultipartUpload\",\"rate\":0.1,\"error\":500}]}");
    REQUIRE(o < n);
}

static long fakes3_faults(s3t_t *t, const char *url, const char *const *ops)
{
    long sum = 0;
    for (int i = 0; ops[i]; i++) {
        long v = wt_stat(t, url, ops[i], "faults");
        sum += v > 0 ? v : 0;
    }
    return sum;
}

/* Whether a line of the worker's log names key and contains needle. */
static int log_has(const char *logname, const char *key, const char *needle)
{
    char path[1024], line[16384], kk[600];
    snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), logname);
    snprintf(kk, sizeof(kk), " key=%s ", key);
    FILE *f = fopen(path, "r");
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, kk) != NULL && strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Records and destination bytes of every source key. */
static void verify(mrun_t *r)
{
    msrc_t *s = r->src;
    s3t_t *dcl = r->s3rver_dst ? &s3r_d : &w.d;
    char dk[2200];
    for (size_t i = 0; i < s->keys.n; i++) {
        const char *key = s->keys.keys[i];
        ferry_record_t rec;
        memset(&rec, 0, sizeof(rec));
        int rrc = wt_record(&w, r->task, key, &rec);
        snprintf(dk, sizeof(dk), "%s/%s", s->name, key);
        uint64_t a = 0, b = 0;
        size_t la = 0, lb = 0;
        int ra = wt_crc(&s->cl, "src", key, s->keys.lens[i], &a, &la);
        int rb = wt_crc(dcl, "dst", dk, strlen(dk), &b, &lb);
        CHECK_INT(ra, FERRY_OK);
        r->dst_ok[i] = ra == FERRY_OK && rb == FERRY_OK && a == b && la == lb;
        const char *why = always_fails(r, key);
        if (rrc == FERRY_OK && rec.state == FERRY_STATE_DONE) {
            r->state[i] = 'd';
            r->done++;
            /* Both ends checked; the source unverified only where no check exists (an s3c
             * object copied in parts whose store does not answer ?partNumber). */
            int unverified_ok = r->src->pers == NULL && has_prefix(key, "mp/");
            if (!strstr(rec.checks, "src:") || !strstr(rec.checks, "dst:") ||
                (strstr(rec.checks, "src:unverified") && !unverified_ok)) {
                fprintf(stderr, "%s %s: done with checks \"%s\"\n", r->task, key, rec.checks);
                CHECK(0);
            }
            if (!r->dst_ok[i]) {
                fprintf(stderr,
                        "DONE WITH WRONG BYTES: %s %s (dst rc %d, %zu vs %zu bytes) checks %s\n",
                        r->task, key, rb, lb, la, rec.checks);
                r->bad++;
            }
        } else if (rrc == FERRY_OK && rec.state == FERRY_STATE_FAILED) {
            r->state[i] = 'f';
            r->failed++;
            if (rec.error[0] == '\0') {
                fprintf(stderr, "%s %s: failed without a reason\n", r->task, key);
                CHECK(rec.error[0] != '\0');
            }
            /* The last error may be a random fault's; the rule's shows in the log. */
            if (why && strstr(rec.error, why) == NULL && !log_has(r->log, key, why)) {
                fprintf(stderr, "%s %s: no error names \"%s\": %s\n", r->task, key, why, rec.error);
                CHECK(0);
            }
            if (!why) {
                r->failed_random++;
                printf("  %s %s failed (random faults, %u attempts): %.200s\n", r->task, key,
                       rec.attempts, rec.error);
            }
            if (r->dst_ok[i])
                r->failed_but_same++; /* e.g. a wrong ETag on a PUT that stored the bytes */
        } else {
            r->state[i] = '?';
            r->other++;
            fprintf(stderr, "%s %s: record rc %d state %d (neither done nor failed)\n", r->task,
                    key, rrc, rec.state);
        }
        if (why && r->state[i] != 'f') {
            fprintf(stderr, "%s %s: under an always-failing rule but state '%c'\n", r->task, key,
                    r->state[i]);
            CHECK(r->state[i] == 'f');
        }
    }
}

static long key_index(const msrc_t *s, const char *key)
{
    for (size_t i = 0; i < s->keys.n; i++)
        if (strcmp(s->keys.keys[i], key) == 0)
            return (long)i;
    return -1;
}

/* ferry check NAME --download --json: the keys it reports must be exactly those whose
 * destination bytes are missing or wrong, and it exits 1 iff there are some. */
static void check_cli(mrun_t *r)
{
    msrc_t *s = r->src;
    char cmd[2048];
    const char *dir = getenv("FERRY_BIN_DIR");
    use_creds(r);
    snprintf(cmd, sizeof(cmd), "%s/ferry --redis '%s' check %s --download --json", dir ? dir : ".",
             w.redis.url, r->task);
    r->check_rc = harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
    int errors = 0, extra = 0;
    for (char *line = out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (j == NULL) {
            fprintf(stderr, "%s: ferry check printed a line that is not JSON: %.200s\n", r->task,
                    line);
            CHECK(j != NULL);
            continue;
        }
        const char *kind = json_string_value(json_object_get(j, "kind"));
        const char *sk = json_string_value(json_object_get(j, "src_key"));
        if (kind == NULL) {
            json_decref(j);
            continue; /* the summary */
        }
        if (strcmp(kind, "missing") == 0 || strcmp(kind, "size") == 0 ||
            strcmp(kind, "digest") == 0 || strcmp(kind, "bytes") == 0) {
            long i = sk ? key_index(s, sk) : -1;
            if (i < 0) {
                fprintf(stderr, "%s: ferry check reports an unknown key: %.200s\n", r->task, line);
                CHECK(i >= 0);
            } else {
                r->reported[i] = 1;
            }
        } else if (strcmp(kind, "extra") == 0) {
            extra++;
            fprintf(stderr, "%s: ferry check: %.200s\n", r->task, line);
        } else if (strcmp(kind, "error") == 0 || strcmp(kind, "not-comparable") == 0) {
            errors++;
            fprintf(stderr, "%s: ferry check: %.200s\n", r->task, line);
        }
        json_decref(j);
    }
    CHECK_INT(errors, 0);
    CHECK_INT(extra, 0);
    int differ = 0;
    for (size_t i = 0; i < s->keys.n; i++) {
        differ += !r->dst_ok[i];
        if (r->reported[i] != !r->dst_ok[i]) {
            fprintf(stderr,
                    "%s %s: ferry check %s it, but the destination bytes are %s (record '%c')\n",
                    r->task, s->keys.keys[i], r->reported[i] ? "reports" : "does not report",
                    r->dst_ok[i] ? "the source's" : "missing or wrong", r->state[i]);
            CHECK(r->reported[i] == !r->dst_ok[i]);
        }
    }
    if (r->check_rc != (differ ? 1 : 0))
        fprintf(stderr, "%s: ferry check exit %d with %d keys differing\nstderr: %.2000s\n",
                r->task, r->check_rc, differ, errbuf);
    CHECK_INT(r->check_rc, differ ? 1 : 0);
}

int main(void)
{
    const char *nv = getenv("FERRY_MATRIX_N");
    int total = nv ? atoi(nv) : 1000;
    if (total < 60)
        total = 60;
    int n_s3rver = total / 25;
    int n_fake = (total - n_s3rver) / 4;

    memset(&w, 0, sizeof(w));
    REQUIRE(harness_init() == 0);
    REQUIRE(harness_redis_start(&w.redis) == 0);
    const char *db[] = {"--bucket", "dst", "--seed", "99", NULL};
    REQUIRE(harness_fakes3_start("s3", db, &w.dst) == 0);
    REQUIRE(s3t_open(&w.d, "s3", w.dst.url, w.dst.access_key, w.dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    const char *s3b[] = {"src", "dst", NULL};
    REQUIRE(harness_s3rver_start(s3b, &s3r) == 0);
    REQUIRE(s3t_open(&s3r_d, "s3", s3r.url, s3r.access_key, s3r.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(w.redis.url, NULL, &w.r, &err) == FERRY_OK);

    double t0 = wt_now();
    for (int i = 0; i < NSRC; i++) {
        msrc_t *s = &S[i];
        if (s->pers) {
            char sd[16];
            snprintf(sd, sizeof(sd), "%d", 11 + i);
            const char *sb[] = {"--bucket", "src", "--path-style-ok", "--seed", sd, NULL};
            REQUIRE(harness_fakes3_start(s->pers, sb, &s->srv) == 0);
        } else {
            s->srv = s3r;
        }
        REQUIRE(s3t_open(&s->cl, s->scheme, s->srv.url, s->srv.access_key, s->srv.secret_key,
                         FERRY_TRI_ON, "source") == 0);
        populate(s, s->pers ? n_fake : n_s3rver, 100u * (unsigned)(i + 1));
        s3t_res_t x;
        memset(&s->keys, 0, sizeof(s->keys));
        REQUIRE(s3t_list(&s->cl, "src", "", NULL, 0, 1000, &s->keys, &x) == FERRY_OK);
        R[i].src = s;
    }
    R[NSRC].src = &S[1]; /* cos -> s3rver: source faults only */
    R[NSRC].s3rver_dst = 1;
    for (int i = 0; i < NRUN; i++) {
        define_task(&R[i]);
        enqueue_all(&R[i]);
        printf("%s: %zu objects enqueued\n", R[i].task, R[i].src->keys.n);
    }
    printf("setup took %.1f s\n", wt_now() - t0);

    static char drules[8192];
    dst_rules(drules, sizeof(drules));
    REQUIRE(s3t_faults(&w.d, w.dst.url, drules) == 0);
    for (int i = 0; i < NSRC; i++)
        if (S[i].pers)
            REQUIRE(s3t_faults(&S[i].cl, S[i].srv.url, src_rules) == 0);

    t0 = wt_now();
    for (int i = 0; i < NRUN; i++) {
        char slot[8];
        snprintf(slot, sizeof(slot), "%d", i);
        use_creds(&R[i]);
        const char *o[] = {"--exit-when-idle", "--concurrency", "8", "--slot", slot, NULL};
        R[i].pid = wt_worker(&w, R[i].task, R[i].log, o);
    }
    for (int i = 0; i < NRUN; i++)
        CHECK_INT(wt_wait(R[i].pid, 600), 0);
    printf("copy under faults took %.1f s\n", wt_now() - t0);

    static const char *const src_ops[] = {"GetObject", "HeadObject", NULL};
    static const char *const dst_ops[] = {"PutObject", "UploadPart", "CompleteMultipartUpload",
                                          NULL};
    long dst_faults = fakes3_faults(&w.d, w.dst.url, dst_ops);
    s3t_faults(&w.d, w.dst.url, "{\"rules\":[]}");
    for (int i = 0; i < NSRC; i++)
        if (S[i].pers) {
            S[i].faults = fakes3_faults(&S[i].cl, S[i].srv.url, src_ops);
            s3t_faults(&S[i].cl, S[i].srv.url, "{\"rules\":[]}");
        }

    t0 = wt_now();
    for (int i = 0; i < NRUN; i++)
        verify(&R[i]);
    printf("comparison of every object took %.1f s\n", wt_now() - t0);
    t0 = wt_now();
    for (int i = 0; i < NRUN; i++)
        check_cli(&R[i]);
    printf("ferry check --download took %.1f s\n", wt_now() - t0);

    printf("\n%-16s %7s %6s %7s %14s %16s %10s %6s\n", "task", "objects", "done", "failed",
           "failed:random", "failed:dst-same", "src faults", "check");
    int all = 0, bad = 0, other = 0;
    for (int i = 0; i < NRUN; i++) {
        mrun_t *r = &R[i];
        size_t n = r->src->keys.n;
        printf("%-16s %7zu %6d %7d %14d %16d %10ld %6d\n", r->task, n, r->done, r->failed,
               r->failed_random, r->failed_but_same, r->src->faults, r->check_rc);
        all += (int)n;
        bad += r->bad;
        other += r->other;
        /* Most keys survive the random faults: a worker that fails everything is no answer. */
        CHECK(r->failed_random <= 3 + (int)n / 50);
    }
    printf("%d copies; destination (fakes3) faults fired: %ld; done with wrong bytes: %d\n\n", all,
           dst_faults, bad);
    CHECK_INT(bad, 0);
    CHECK_INT(other, 0);
    CHECK(dst_faults > 0);
    for (int i = 0; i < NSRC; i++)
        if (S[i].pers)
            CHECK(S[i].faults > 0);

    for (int i = 0; i < NRUN; i++) {
        free(R[i].state);
        free(R[i].dst_ok);
        free(R[i].reported);
    }
    for (int i = 0; i < NSRC; i++) {
        s3t_list_free(&S[i].keys);
        s3t_close(&S[i].cl);
    }
    s3t_close(&s3r_d);
    s3t_close(&w.d);
    ferry_redis_free(w.r);
    return test_summary();
}
