/* Redis Cluster, end to end: a local 3-master cluster (redis-server --cluster-enabled yes x3
 * joined by redis-cli --cluster create), the ferry binary, fakes3 on both ends.
 *
 *  1. The client behind ferry/redis.h: commands routed to the master of their slot (keys land
 *     on all three), printf-style and argv commands, a pipeline spread over the nodes answered
 *     in order, CROSSSLOT named, KEYS/SCAN/DBSIZE over every master, SCAN on a hash-tag
 *     pattern, ?cluster=no sees MOVED, rediss:// refused with what to do.
 *  2. Ledger, queue and worker for three tasks whose slots live on three different masters:
 *     every object copied byte-identical, counters right. Redis commands per copied object
 *     measured (INFO commandstats over the nodes).
 *  3. A slot migration during a copy: the task's slot is moved key by key (CLUSTER SETSLOT
 *     IMPORTING/MIGRATING + MIGRATE, then SETSLOT NODE) while a worker copies: ASK, TRYAGAIN
 *     and MOVED are followed, the copy ends with everything done, nothing lost, nothing failed,
 *     the ledger on the new master, and a client with the old map reads it through MOVED.
 *  4. One task over eight ledger shards (--ledger-shards 8): its shards' slots on all three
 *     masters, keys in each, a full copy byte-identical, and one shard's slot migrated during
 *     the copy with nothing lost; ferry task rm empties every shard's slot.
 *  5. TLS: rediss:// is refused with what to do; the stunnel client configuration of
 *     docs/redis.md reaches a TLS-only redis-server (certificates made with openssl).
 */
#include "test_worker_util.h"

#include "../../lib/store/cluster_int.h"
#include "ferry/status.h"

static harness_server_t node[3];

static redisContext *ctx(int i)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", node[i].port, tv);
    REQUIRE(c != NULL && c->err == 0);
    return c;
}

static long long node_int(int i, const char *cmd)
{
    redisContext *c = ctx(i);
    redisReply *rep = redisCommand(c, cmd);
    REQUIRE(rep != NULL);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

static void node_id(int i, char *id, size_t n)
{
    redisContext *c = ctx(i);
    redisReply *rep = redisCommand(c, "CLUSTER MYID");
    REQUIRE(rep != NULL && rep->type == REDIS_REPLY_STRING);
    snprintf(id, n, "%s", rep->str);
    freeReplyObject(rep);
    redisFree(c);
}

/* Which node serves slot s (by CLUSTER COUNTKEYSINSLOT not being refused... simpler: ask
 * CLUSTER SLOTS of node 0). */
static int owner(unsigned s)
{
    redisContext *c = ctx(0);
    redisReply *rep = redisCommand(c, "CLUSTER SLOTS");
    REQUIRE(rep != NULL && rep->type == REDIS_REPLY_ARRAY);
    int port = -1;
    for (size_t i = 0; i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        if ((long long)s >= e->element[0]->integer && (long long)s <= e->element[1]->integer)
            port = (int)e->element[2]->element[1]->integer;
    }
    freeReplyObject(rep);
    redisFree(c);
    for (int i = 0; i < 3; i++)
        if (node[i].port == port)
            return i;
    return -1;
}

static unsigned task_slot(const char *task)
{
    return ferry_cluster_key_slot(task, strlen(task));
}

/* A task name "<prefix>N" whose slot is served by node want. */
static void task_on(int want, const char *prefix, char *name, size_t n)
{
    for (int i = 0; i < 1000; i++) {
        snprintf(name, n, "%s%d", prefix, i);
        if (owner(task_slot(name)) == want)
            return;
    }
    REQUIRE(!"no task name found for the node");
}

/* Sum of INFO commandstats calls over the nodes. */
static long long commands_total(void)
{
    long long sum = 0;
    for (int i = 0; i < 3; i++) {
        redisContext *c = ctx(i);
        redisReply *rep = redisCommand(c, "INFO commandstats");
        REQUIRE(rep != NULL && rep->type == REDIS_REPLY_STRING);
        for (const char *p = rep->str; (p = strstr(p, "calls=")) != NULL; p += 6)
            sum += atoll(p + 6);
        freeReplyObject(rep);
        redisFree(c);
    }
    return sum;
}

/* EVALSHA calls that failed (NOSCRIPT), summed over the nodes. */
static long long evalsha_failed(void)
{
    long long sum = 0;
    for (int i = 0; i < 3; i++) {
        redisContext *c = ctx(i);
        redisReply *rep = redisCommand(c, "INFO commandstats");
        REQUIRE(rep != NULL && rep->type == REDIS_REPLY_STRING);
        const char *p = strstr(rep->str, "cmdstat_evalsha:");
        const char *f = p ? strstr(p, "failed_calls=") : NULL;
        if (f)
            sum += atoll(f + strlen("failed_calls="));
        freeReplyObject(rep);
        redisFree(c);
    }
    return sum;
}

/* Sum of INFO stats total_commands_processed over the nodes (commands clients sent). */
static long long commands_top(void)
{
    long long sum = 0;
    for (int i = 0; i < 3; i++) {
        redisContext *c = ctx(i);
        redisReply *rep = redisCommand(c, "INFO stats");
        REQUIRE(rep != NULL && rep->type == REDIS_REPLY_STRING);
        const char *p = strstr(rep->str, "total_commands_processed:");
        REQUIRE(p != NULL);
        sum += atoll(p + strlen("total_commands_processed:"));
        freeReplyObject(rep);
        redisFree(c);
    }
    return sum;
}

static void seed(wt_t *w, const char *json)
{
    char out[1024];
    long st = s3t_control(&w->s, w->src.url, "POST", "/_fakes3/seed", json, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "seed: %ld %s\n", st, out);
    REQUIRE(st == 200);
}

/* wt_start with a cluster instead of one redis-server. */
static void start(wt_t *w)
{
    memset(w, 0, sizeof(*w));
    w->src_scheme = "s3";
    REQUIRE(harness_init() == 0);
    REQUIRE(harness_redis_cluster_start(3, node) == 0);
    w->redis = node[0];
    const char *sb[] = {"--bucket", "src", NULL};
    const char *db[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("s3", sb, &w->src) == 0);
    REQUIRE(harness_fakes3_start("s3", db, &w->dst) == 0);
    setenv("FERRY_SRC_ACCESS_KEY_ID", w->src.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", w->src.secret_key, 1);
    setenv("FERRY_DST_ACCESS_KEY_ID", w->dst.access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", w->dst.secret_key, 1);
    w->src_path = 1;
    snprintf(w->src_ep, sizeof(w->src_ep), "%s", w->src.url);
    REQUIRE(s3t_open(&w->s, "s3", w->src.url, w->src.access_key, w->src.secret_key, FERRY_TRI_ON,
                     "source") == 0);
    REQUIRE(s3t_open(&w->d, "s3", w->dst.url, w->dst.access_key, w->dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    ferry_error_t err;
    int rc = ferry_redis_connect(w->redis.url, NULL, &w->r, &err);
    if (rc)
        fprintf(stderr, "connect: %s\n", err.msg);
    REQUIRE(rc == FERRY_OK);
}

static void client(wt_t *w)
{
    ferry_redis_t *r = w->r;
    ferry_error_t err;
    redisReply *rep = NULL;
    printf("connected: %s\n", ferry_redis_where(r));
    CHECK(strstr(ferry_redis_where(r), "Redis Cluster, 3 masters") != NULL);

    /* 300 keys over the three masters, argv and printf style. */
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "k:%d", i);
        snprintf(v, sizeof(v), "v:%d", i);
        const char *argv[3] = {"SET", k, v};
        if (i % 2)
            CHECK_INT(ferry_redis_argv(r, 3, argv, NULL, NULL), FERRY_OK);
        else
            CHECK_INT(ferry_redis_cmd(r, NULL, "SET %s %s", k, v), FERRY_OK);
    }
    for (int i = 0; i < 3; i++) {
        long long n = node_int(i, "DBSIZE");
        printf("node %d holds %lld keys\n", i, n);
        CHECK(n > N / 6);
    }
    for (int i = 0; i < N; i += 37) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "k:%d", i);
        snprintf(v, sizeof(v), "v:%d", i);
        REQUIRE(ferry_redis_cmd(r, &rep, "GET %s", k) == FERRY_OK);
        CHECK_STR(rep->str, v);
        freeReplyObject(rep);
    }

    /* A pipeline over all nodes, read back in the order sent. */
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof(k), "k:%d", i);
        const char *argv[2] = {"GET", k};
        REQUIRE(ferry_redis_append(r, 2, argv, NULL) == FERRY_OK);
    }
    int good = 0;
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "v:%d", i);
        REQUIRE(ferry_redis_read(r, &rep) == FERRY_OK);
        good += rep->type == REDIS_REPLY_STRING && strcmp(rep->str, v) == 0;
        freeReplyObject(rep);
    }
    CHECK_INT(good, N);

    /* CROSSSLOT names the keys; one hash tag is fine. */
    const char *mget[3] = {"MGET", "a", "b"};
    CHECK_INT(ferry_redis_argv(r, 3, mget, NULL, &rep), FERRY_EINVAL);
    printf("crossslot: %s\n", ferry_redis_error(r)->msg);
    CHECK(strstr(ferry_redis_error(r)->msg, "CROSSSLOT") != NULL);
    CHECK(strstr(ferry_redis_error(r)->msg, "\"a\"") != NULL);
    CHECK(strstr(ferry_redis_error(r)->msg, "\"b\"") != NULL);
    const char *mget2[3] = {"MGET", "{t}a", "{t}b"};
    CHECK_INT(ferry_redis_argv(r, 3, mget2, NULL, &rep), FERRY_OK);
    freeReplyObject(rep);

    /* KEYS, DBSIZE and SCAN visit every master. */
    REQUIRE(ferry_redis_cmd(r, &rep, "KEYS k:*") == FERRY_OK);
    CHECK_INT(rep->elements, N);
    freeReplyObject(rep);
    REQUIRE(ferry_redis_cmd(r, &rep, "DBSIZE") == FERRY_OK);
    CHECK_INT(rep->integer, N);
    freeReplyObject(rep);
    char cursor[64] = "0";
    long seen = 0;
    int rounds = 0;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", "k:*", "COUNT", "50"};
        REQUIRE(ferry_redis_argv(r, 6, argv, NULL, &rep) == FERRY_OK);
        REQUIRE(rep->type == REDIS_REPLY_ARRAY && rep->elements == 2);
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        seen += (long)rep->element[1]->elements;
        freeReplyObject(rep);
        rounds++;
    } while (strcmp(cursor, "0") != 0 && rounds < 1000);
    CHECK_INT(seen, N);
    for (int i = 0; i < 20; i++)
        CHECK_INT(ferry_redis_cmd(r, NULL, "SET ferry:{scan}:%d x", i), FERRY_OK);
    strcpy(cursor, "0");
    seen = 0;
    do {
        const char *argv[4] = {"SCAN", cursor, "MATCH", "ferry:{scan}:*"};
        REQUIRE(ferry_redis_argv(r, 4, argv, NULL, &rep) == FERRY_OK);
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        seen += (long)rep->element[1]->elements;
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    CHECK_INT(seen, 20);

    /* ?cluster=no: one node, so a key of another node answers MOVED. */
    ferry_redis_t *one = NULL;
    char url[300];
    snprintf(url, sizeof(url), "%s?cluster=no", node[0].url);
    REQUIRE(ferry_redis_connect(url, NULL, &one, &err) == FERRY_OK);
    CHECK(strstr(ferry_redis_where(one), "Cluster") == NULL);
    int moved = 0;
    for (int i = 0; i < 20; i++)
        if (ferry_redis_cmd(one, &rep, "GET k:%d", i) == FERRY_EREDIS)
            moved += strstr(ferry_redis_error(one)->msg, "MOVED") != NULL;
        else
            freeReplyObject(rep);
    CHECK(moved > 0);
    ferry_redis_free(one);

    /* TLS: refused with what to do. */
    CHECK_INT(ferry_redis_connect("rediss://127.0.0.1:6380", NULL, &one, &err), FERRY_EUNSUPPORTED);
    CHECK(strstr(err.msg, "stunnel") != NULL);
}

static void tasks_on_three_nodes(wt_t *w)
{
    seed(w, "{\"bucket\":\"src\",\"prefix\":\"p/\",\"count\":120,\"seed\":5,\"sizes\":["
            "{\"size\":0,\"weight\":1},{\"size\":1024,\"weight\":5},{\"size\":70000,"
            "\"weight\":3}]}");
    char name[3][32];
    for (int i = 0; i < 3; i++) {
        task_on(i, "t", name[i], sizeof(name[i]));
        char dp[16];
        snprintf(dp, sizeof(dp), "c%d/", i);
        wt_task(w, name[i], "p/", NULL, dp, NULL);
        printf("task %s: slot %u on node %d\n", name[i], task_slot(name[i]), i);
    }
    long long before = commands_total(), before_top = commands_top();
    size_t total = 0;
    for (int i = 0; i < 3; i++)
        total = wt_enqueue_prefix(w, name[i], "p/");
    CHECK_INT(total, 120);
    pid_t p[3];
    for (int i = 0; i < 3; i++) {
        char log[32], slot[8];
        snprintf(log, sizeof(log), "%s.log", name[i]);
        snprintf(slot, sizeof(slot), "%d", i + 1);
        const char *wopts[] = {"--exit-when-idle", "--concurrency", "8", "--slot", slot, NULL};
        p[i] = wt_worker(w, name[i], log, wopts);
    }
    for (int i = 0; i < 3; i++)
        CHECK_INT(wt_wait(p[i], 300), 0);
    long long ops = commands_total() - before, top = commands_top() - before_top;
    printf("redis for 3 x %zu objects (enqueue + copy + worker bookkeeping): %lld commands "
           "executed, those inside Lua scripts included (INFO stats; %.1f per object; "
           "commandstats: %lld)\n",
           total, top, (double)top / (3.0 * (double)total), ops);
    /* Pipelined EVALSHAs reach nodes that never saw the script: the client loads it first
     * (SCRIPT LOAD queued ahead), so NOSCRIPT stays rare (one per script and node at most on
     * the synchronous path) instead of one per command of the first batch. */
    long long nos = evalsha_failed();
    printf("EVALSHA answered NOSCRIPT: %lld times\n", nos);
    CHECK(nos < 40);
    for (int i = 0; i < 3; i++) {
        ferry_counters_t c;
        wt_counters(w, name[i], &c);
        CHECK_INT(c.objects[FERRY_STATE_DONE], (long long)total);
        CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
        char dp[16];
        snprintf(dp, sizeof(dp), "c%d/", i);
        CHECK_INT(wt_compare(w, &w->d, "p/", dp), 0);
        /* The task's keys live on its node only. */
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "CLUSTER COUNTKEYSINSLOT %u", task_slot(name[i]));
        CHECK(node_int(i, cmd) > 0);
    }
}

/* The CLI on a cluster: a scan under the task's lease (ferry task run), a worker, wait, ls,
 * status, task rm (SCAN on the task's hash tag + UNLINK). */
static void cli(wt_t *w)
{
    char name[32], out[65536], args[256];
    task_on(2, "cli", name, sizeof(name));
    wt_task(w, name, "p/", NULL, "cli/", NULL);
    snprintf(args, sizeof(args), "task run %s", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    const char *wopts[] = {"--exit-when-idle", "--slot", "7", NULL};
    CHECK_INT(wt_wait(wt_worker(w, name, "cli.log", wopts), 300), 0);
    snprintf(args, sizeof(args), "wait %s --timeout 60s", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    snprintf(args, sizeof(args), "ls %s --state done --limit 1000", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    CHECK_INT(lines, 120);
    snprintf(args, sizeof(args), "status %s p/00000003", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    CHECK(strstr(out, "done") != NULL);
    CHECK_INT(wt_cli(w, "task ls", out, sizeof(out)), 0);
    CHECK(strstr(out, name) != NULL);
    CHECK_INT(wt_compare(w, &w->d, "p/", "cli/"), 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "CLUSTER COUNTKEYSINSLOT %u", task_slot(name));
    CHECK(node_int(2, cmd) > 0);
    snprintf(args, sizeof(args), "task rm %s", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    CHECK_INT(node_int(2, cmd), 0);
    CHECK_INT(wt_cli(w, "task ls", out, sizeof(out)), 0);
    CHECK(strstr(out, name) == NULL);
}

/* Slot migration by hand, as redis-cli --cluster reshard does it. */
static void mig_begin(unsigned s, int a, int b)
{
    char ida[64], idb[64];
    node_id(a, ida, sizeof(ida));
    node_id(b, idb, sizeof(idb));
    redisContext *ca = ctx(a), *cb = ctx(b);
    redisReply *rep = redisCommand(cb, "CLUSTER SETSLOT %u IMPORTING %s", s, ida);
    REQUIRE(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = redisCommand(ca, "CLUSTER SETSLOT %u MIGRATING %s", s, idb);
    REQUIRE(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(ca);
    redisFree(cb);
}

/* MIGRATE up to max keys of slot s from a to b, pause_ms between keys. Returns how many. */
static int mig_move(unsigned s, int a, int b, int max, int pause_ms)
{
    redisContext *ca = ctx(a);
    int moved = 0;
    while (moved < max) {
        redisReply *rep = redisCommand(ca, "CLUSTER GETKEYSINSLOT %u 1", s);
        REQUIRE(rep && rep->type == REDIS_REPLY_ARRAY);
        if (rep->elements == 0) {
            freeReplyObject(rep);
            break;
        }
        redisReply *m = redisCommand(ca, "MIGRATE 127.0.0.1 %d %b 0 5000", node[b].port,
                                     rep->element[0]->str, rep->element[0]->len);
        if (m == NULL || m->type == REDIS_REPLY_ERROR)
            fprintf(stderr, "MIGRATE: %s\n", m ? m->str : ca->errstr);
        REQUIRE(m && m->type == REDIS_REPLY_STATUS);
        freeReplyObject(m);
        freeReplyObject(rep);
        moved++;
        if (pause_ms)
            usleep((useconds_t)pause_ms * 1000);
    }
    redisFree(ca);
    return moved;
}

static void mig_end(unsigned s, int b)
{
    char idb[64];
    node_id(b, idb, sizeof(idb));
    for (int i = 0; i < 3; i++) {
        redisContext *c = ctx(i);
        redisReply *rep = redisCommand(c, "CLUSTER SETSLOT %u NODE %s", s, idb);
        REQUIRE(rep && rep->type == REDIS_REPLY_STATUS);
        freeReplyObject(rep);
        redisFree(c);
    }
}

/* Move slot s from node a to node b, one key at a time with a pause between keys, so that
 * the worker meets the slot half moved (ASK, TRYAGAIN) and then moved (MOVED). */
static int migrate_slot(unsigned s, int a, int b, int pause_ms)
{
    mig_begin(s, a, b);
    int moved = mig_move(s, a, b, 1 << 30, pause_ms);
    mig_end(s, b);
    return moved;
}

/* Pipelined GETs of {mv}:0..n-1 through r; how many came back right. */
static int pipeline_gets(ferry_redis_t *r, int n)
{
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "{mv}:%d", i);
        const char *argv[2] = {"GET", k};
        REQUIRE(ferry_redis_append(r, 2, argv, NULL) == FERRY_OK);
    }
    int good = 0;
    for (int i = 0; i < n; i++) {
        char v[32];
        redisReply *rep = NULL;
        snprintf(v, sizeof(v), "v%d", i);
        int rc = ferry_redis_read(r, &rep);
        if (rc) {
            fprintf(stderr, "pipelined GET {mv}:%d: %s\n", i, ferry_redis_error(r)->msg);
            ferry_redis_reset(r);
            return -1;
        }
        good += rep->type == REDIS_REPLY_STRING && strcmp(rep->str, v) == 0;
        if (rep->type == REDIS_REPLY_ERROR)
            fprintf(stderr, "pipelined GET {mv}:%d: %s\n", i, rep->str);
        freeReplyObject(rep);
    }
    return good;
}

/* Redirects inside pipelines and single commands: ASK while the slot is half moved, MOVED once
 * it is; then a node restart (lost connection, reconnect). */
static void redirects(wt_t *w)
{
    ferry_redis_t *r = w->r;
    redisReply *rep = NULL;
    enum { M = 40 };
    for (int i = 0; i < M; i++)
        REQUIRE(ferry_redis_cmd(r, NULL, "SET {mv}:%d v%d", i, i) == FERRY_OK);
    unsigned s = task_slot("mv");
    int a = owner(s), b = (a + 1) % 3;
    mig_begin(s, a, b);
    CHECK_INT(mig_move(s, a, b, M / 2, 0), M / 2);
    /* Half the keys answer ASK from a. */
    CHECK_INT(pipeline_gets(r, M), M);
    REQUIRE(ferry_redis_cmd(r, &rep, "GET {mv}:%d", M - 1) == FERRY_OK);
    CHECK_STR(rep->str, "v39");
    freeReplyObject(rep);
    /* A new key in a migrating slot is created on the importing node (ASK). */
    const char *set[3] = {"SET", "{mv}:new", "x"};
    REQUIRE(ferry_redis_append(r, 3, set, NULL) == FERRY_OK);
    REQUIRE(ferry_redis_read(r, &rep) == FERRY_OK);
    CHECK_INT(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    /* A two-key command over both sides: TRYAGAIN until the migration ends. */
    mig_move(s, a, b, 1 << 30, 0);
    mig_end(s, b);
    CHECK_INT(owner(s), b);
    /* Every key answers MOVED from a: the client re-reads the map. */
    CHECK_INT(pipeline_gets(r, M), M);
    const char *mget[3] = {"MGET", "{mv}:0", "{mv}:new"};
    REQUIRE(ferry_redis_argv(r, 3, mget, NULL, &rep) == FERRY_OK);
    CHECK_INT(rep->elements, 2);
    CHECK_STR(rep->element[1]->str, "x");
    freeReplyObject(rep);

    /* A master restarts: its connection is lost, the next command reconnects. */
    unsigned before = ferry_redis_reconnects(r);
    REQUIRE(harness_restart(&node[b]) == 0);
    double t0 = wt_now();
    while (!harness_redis_cluster_ok(&node[b]) && wt_now() - t0 < 30)
        usleep(50 * 1000);
    /* A pipeline does not reconnect (ferry/redis.h): the first read says the node was lost,
     * the caller resets and sends the batch again. */
    REQUIRE(ferry_redis_cmd(r, &rep, "GET {mv}:new") == FERRY_OK);
    CHECK_STR(rep->str, "x");
    freeReplyObject(rep);
    CHECK_INT(pipeline_gets(r, M), M);
    REQUIRE(harness_restart(&node[b]) == 0);
    t0 = wt_now();
    while (!harness_redis_cluster_ok(&node[b]) && wt_now() - t0 < 30)
        usleep(50 * 1000);
    int got = pipeline_gets(r, M);
    if (got < 0)
        got = pipeline_gets(r, M);
    CHECK_INT(got, M);
    printf("reconnects after a node restart: %u\n", ferry_redis_reconnects(r) - before);
    CHECK(ferry_redis_reconnects(r) > before);
}

static void migration_during_copy(wt_t *w)
{
    enum { N = 400 };
    char js[256];
    snprintf(js, sizeof(js),
             "{\"bucket\":\"src\",\"prefix\":\"g/\",\"count\":%d,\"seed\":9,\"size\":16384}", N);
    seed(w, js);
    char name[32];
    task_on(1, "mig", name, sizeof(name));
    unsigned s = task_slot(name);
    wt_task(w, name, "g/", NULL, "g/", NULL);
    REQUIRE(wt_enqueue_prefix(w, name, "g/") == N);
    /* A client that keeps the old map: it must follow MOVED after the migration. */
    ferry_redis_t *old = NULL;
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(node[2].url, NULL, &old, &err) == FERRY_OK);
    ferry_ledger_t *oldled = NULL;
    REQUIRE(ferry_ledger_open(old, name, 0, &oldled) == FERRY_OK);
    ferry_counters_t c;
    REQUIRE(ferry_ledger_counters(oldled, &c) == FERRY_OK);
    CHECK_INT(c.objects[FERRY_STATE_QUEUED], N);

    /* Slow PUTs so the copy lasts through the migration. */
    char out[512];
    REQUIRE(s3t_control(&w->d, w->dst.url, "POST", "/_fakes3/faults",
                        "[{\"op\":\"PutObject\",\"latency_ms\":100}]", out, sizeof(out)) == 200);
    const char *wopts[] = {"--exit-when-idle", "--concurrency", "2", "--slot", "9", NULL};
    pid_t p = wt_worker(w, name, "mig.log", wopts);
    double t0 = wt_now();
    do {
        usleep(100 * 1000);
        wt_counters(w, name, &c);
    } while (c.objects[FERRY_STATE_DONE] < 30 && wt_now() - t0 < 60);
    long long done_before = c.objects[FERRY_STATE_DONE];
    int from = owner(s);
    CHECK_INT(from, 1);
    double m0 = wt_now();
    int keys = migrate_slot(s, 1, 0, 2);
    wt_counters(w, name, &c);
    printf("migrated slot %u (task %s) node 1 -> node 0: %d keys in %.1f s; done %lld before, "
           "%lld after\n",
           s, name, keys, wt_now() - m0, done_before, c.objects[FERRY_STATE_DONE]);
    CHECK(keys >= 3);
    CHECK(done_before < N);
    CHECK(c.objects[FERRY_STATE_DONE] < N); /* the copy went on after the migration */
    CHECK_INT(owner(s), 0);
    CHECK_INT(wt_wait(p, 300), 0);
    s3t_control(&w->d, w->dst.url, "POST", "/_fakes3/faults", "[]", out, sizeof(out));

    wt_counters(w, name, &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], N);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    CHECK_INT(c.objects[FERRY_STATE_QUEUED] + c.objects[FERRY_STATE_COPYING], 0);
    CHECK_INT(wt_compare(w, &w->d, "g/", "g/"), 0);
    CHECK_INT(wt_log_count("mig.log", "event=copy.failed"), 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "CLUSTER COUNTKEYSINSLOT %u", s);
    CHECK_INT(node_int(1, cmd), 0);
    CHECK(node_int(0, cmd) > 0);
    printf("worker log: %d job.finish_failed, %d job.start_failed (Redis errors retried later)\n",
           wt_log_count("mig.log", "event=job.finish_failed"),
           wt_log_count("mig.log", "event=job.start_failed"));

    /* The client with the old map reads the moved ledger (MOVED followed, map refreshed). */
    REQUIRE(ferry_ledger_counters(oldled, &c) == FERRY_OK);
    CHECK_INT(c.objects[FERRY_STATE_DONE], N);
    ferry_record_t rec;
    CHECK_INT(ferry_ledger_get(oldled, "g/00000007", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    ferry_ledger_free(oldled);
    ferry_redis_free(old);
}

/* The counters of a task with its shards (the wt_ helpers open one shard). */
static void counters_of(wt_t *w, const char *task, ferry_counters_t *c)
{
    ferry_ledger_t *l = NULL;
    REQUIRE(ferry_status_ledger(w->r, task, &l) == FERRY_OK);
    REQUIRE(ferry_ledger_counters(l, c) == FERRY_OK);
    ferry_ledger_free(l);
}

/* One task spread over 8 shards: every master holds some of it; a copy during which one
 * shard's slot moves to another master ends with everything done and byte-identical. */
static void sharded_task(wt_t *w)
{
    enum { N = 400, S = 8 };
    char js[256], out[4096], args[256];
    snprintf(js, sizeof(js),
             "{\"bucket\":\"src\",\"prefix\":\"sh/\",\"count\":%d,\"seed\":11,\"size\":16384}", N);
    seed(w, js);
    const char *name = "wide";
    const char *extra[] = {"--ledger-shards", "8", "--ledger-buckets", "256", NULL};
    wt_task(w, name, "sh/", NULL, "sh/", extra);
    long long before = commands_total(), before_top = commands_top();
    snprintf(args, sizeof(args), "task run %s", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);

    /* Where the shards are: each tag's slot (CLUSTER KEYSLOT agrees with the client's), keys
     * in each slot, and all three masters used. */
    unsigned slot[S];
    int own[S], used[3] = {0, 0, 0};
    for (int s = 0; s < S; s++) {
        char tag[FERRY_LEDGER_TAG_MAX + 1], key[160];
        REQUIRE(ferry_ledger_shard_tag(name, (uint32_t)s, S, tag, sizeof(tag)) == FERRY_OK);
        snprintf(key, sizeof(key), "ferry:{%s}:cnt", tag);
        redisContext *c = ctx(0);
        redisReply *rep = redisCommand(c, "CLUSTER KEYSLOT %s", key);
        REQUIRE(rep && rep->type == REDIS_REPLY_INTEGER);
        slot[s] = (unsigned)rep->integer;
        freeReplyObject(rep);
        redisFree(c);
        CHECK_INT(slot[s], ferry_cluster_key_slot(key, strlen(key)));
        own[s] = owner(slot[s]);
        REQUIRE(own[s] >= 0);
        used[own[s]]++;
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "CLUSTER COUNTKEYSINSLOT %u", slot[s]);
        long long k = node_int(own[s], cmd);
        printf("shard %d: tag %s, slot %u on node %d, %lld keys\n", s, tag, slot[s], own[s], k);
        CHECK(k >= 3); /* buckets, indexes, counters, streams */
    }
    for (int i = 0; i < 3; i++)
        CHECK(used[i] > 0);

    /* Copy, and move a shard that is not shard 0 (the per-task keys stay put) while it runs. */
    int ms = 1;
    while (ms < S - 1 && own[ms] == 0)
        ms++;
    int from = own[ms], to = (from + 1) % 3;
    REQUIRE(s3t_control(&w->d, w->dst.url, "POST", "/_fakes3/faults",
                        "[{\"op\":\"PutObject\",\"latency_ms\":60}]", out, sizeof(out)) == 200);
    const char *wopts[] = {"--exit-when-idle", "--concurrency", "4", "--slot", "11", NULL};
    pid_t p = wt_worker(w, name, "wide.log", wopts);
    ferry_counters_t c;
    double t0 = wt_now();
    do {
        usleep(100 * 1000);
        counters_of(w, name, &c);
    } while (c.objects[FERRY_STATE_DONE] < 40 && wt_now() - t0 < 60);
    long long done_before = c.objects[FERRY_STATE_DONE];
    double m0 = wt_now();
    int keys = migrate_slot(slot[ms], from, to, 2);
    counters_of(w, name, &c);
    printf("migrated shard %d's slot %u node %d -> %d: %d keys in %.1f s; done %lld before, %lld "
           "after\n",
           ms, slot[ms], from, to, keys, wt_now() - m0, done_before, c.objects[FERRY_STATE_DONE]);
    CHECK(keys >= 3);
    CHECK(done_before < N);
    CHECK(c.objects[FERRY_STATE_DONE] < N); /* the copy went on after the migration */
    CHECK_INT(owner(slot[ms]), to);
    CHECK_INT(wt_wait(p, 300), 0);
    s3t_control(&w->d, w->dst.url, "POST", "/_fakes3/faults", "[]", out, sizeof(out));

    long long ops = commands_total() - before, top = commands_top() - before_top;
    printf("redis for %d objects over %d shards (scan + copy + the migration + this test's "
           "polling): %lld commands executed (%.1f per object; commandstats: %lld)\n",
           N, S, top, (double)top / N, ops);
    counters_of(w, name, &c);
    CHECK_INT(c.objects[FERRY_STATE_DONE], N);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    CHECK_INT(c.objects[FERRY_STATE_QUEUED] + c.objects[FERRY_STATE_COPYING], 0);
    CHECK_INT(wt_compare(w, &w->d, "sh/", "sh/"), 0);
    CHECK_INT(wt_log_count("wide.log", "event=copy.failed"), 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "CLUSTER COUNTKEYSINSLOT %u", slot[ms]);
    CHECK_INT(node_int(from, cmd), 0);
    CHECK(node_int(to, cmd) > 0);
    snprintf(args, sizeof(args), "ls %s --state done --limit 1000", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);

    /* task rm: no key of the task is left in any shard's slot (other tests' keys may share
     * a slot). */
    snprintf(args, sizeof(args), "task rm %s", name);
    CHECK_INT(wt_cli(w, args, out, sizeof(out)), 0);
    int left = 0;
    for (int s = 0; s < S; s++) {
        redisContext *rc = ctx(owner(slot[s]));
        redisReply *rep = redisCommand(rc, "CLUSTER GETKEYSINSLOT %u 1000", slot[s]);
        REQUIRE(rep && rep->type == REDIS_REPLY_ARRAY);
        for (size_t i = 0; i < rep->elements; i++)
            if (strncmp(rep->element[i]->str, "ferry:{wide", 11) == 0) {
                fprintf(stderr, "left in slot %u: %s\n", slot[s], rep->element[i]->str);
                left++;
            }
        freeReplyObject(rep);
        redisFree(rc);
    }
    CHECK_INT(left, 0);
}

static void wait_listening(int port, const char *what)
{
    double t0 = wt_now();
    int fd;
    while ((fd = harness_connect(port, 500)) < 0 && wt_now() - t0 < 15)
        usleep(50 * 1000);
    if (fd < 0)
        fprintf(stderr, "%s on port %d did not listen within 15 s\n", what, port);
    REQUIRE(fd >= 0);
    close(fd);
}

/* rediss:// is refused (hiredis 0.14 has no TLS); the stunnel client configuration that
 * docs/redis.md gives reaches a TLS-only redis-server. */
static void tls_via_stunnel(void)
{
    const char *dir = harness_tmpdir();
    char cmd[4096], out[4096], err[4096];
    snprintf(cmd, sizeof(cmd),
             "(cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
             "-days 2 -subj '/CN=ferry test CA' && openssl req -newkey rsa:2048 -nodes -keyout "
             "server.key -out server.csr -subj /CN=localhost && printf "
             "'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf && openssl x509 -req -in "
             "server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
             "-extfile ext.cnf) >/dev/null 2>&1",
             dir);
    int rc = harness_run(cmd, out, sizeof(out), err, sizeof(err));
    if (rc)
        fprintf(stderr, "openssl: %s\n", err);
    REQUIRE(rc == 0);
    int tls = harness_free_port(), local = harness_free_port();
    REQUIRE(tls > 0 && local > 0 && tls != local);
    char tport[16], crt[600], key[600], ca[600], log[600];
    snprintf(tport, sizeof(tport), "%d", tls);
    snprintf(crt, sizeof(crt), "%s/server.crt", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    snprintf(log, sizeof(log), "%s/redis-tls.log", dir);
    const char *rargv[] = {"redis-server",
                           "--port",
                           "0",
                           "--bind",
                           "127.0.0.1",
                           "--tls-port",
                           tport,
                           "--tls-cert-file",
                           crt,
                           "--tls-key-file",
                           key,
                           "--tls-ca-cert-file",
                           ca,
                           "--tls-auth-clients",
                           "no",
                           "--save",
                           "",
                           "--appendonly",
                           "no",
                           "--dir",
                           dir,
                           NULL};
    REQUIRE(harness_spawn(rargv, log, log) > 0);
    wait_listening(tls, "redis-server (TLS)");
    /* The configuration of docs/redis.md, with the test's CA and ports. */
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/stunnel.conf", dir);
    FILE *f = fopen(conf, "w");
    REQUIRE(f != NULL);
    fprintf(f,
            "foreground = yes\npid =\n[redis]\nclient = yes\naccept = 127.0.0.1:%d\n"
            "connect = 127.0.0.1:%d\nverifyChain = yes\nCAfile = %s\ncheckHost = localhost\n",
            local, tls, ca);
    fclose(f);
    snprintf(log, sizeof(log), "%s/stunnel.log", dir);
    const char *sargv[] = {"stunnel", conf, NULL};
    pid_t sp = harness_spawn(sargv, log, log);
    if (sp < 0)
        fprintf(stderr, "stunnel is needed for this test: apt-get install stunnel4 (scripts/test "
                        "installs it)\n");
    REQUIRE(sp > 0);
    wait_listening(local, "stunnel");
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", local);
    ferry_redis_t *r = NULL;
    ferry_error_t e;
    rc = ferry_redis_connect(url, NULL, &r, &e);
    if (rc)
        fprintf(stderr, "through stunnel: %s\n", e.msg);
    REQUIRE(rc == FERRY_OK);
    redisReply *rep = NULL;
    CHECK_INT(ferry_redis_cmd(r, NULL, "SET tls:%s %s", "k", "over TLS"), FERRY_OK);
    REQUIRE(ferry_redis_cmd(r, &rep, "GET tls:k") == FERRY_OK);
    CHECK_STR(rep->str, "over TLS");
    freeReplyObject(rep);
    CHECK(strstr(ferry_redis_where(r), "Cluster") == NULL);
    ferry_redis_free(r);
    /* Straight to the TLS port, without the tunnel: a clear failure, not a hang. */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", tls);
    ferry_redis_opts_t o = {.connect_timeout_ms = 2000, .command_timeout_ms = 2000};
    CHECK(ferry_redis_connect(url, &o, &r, &e) != FERRY_OK);
    printf("plain Redis protocol to the TLS port: %s\n", e.msg);
    CHECK(strstr(e.msg, "TLS") != NULL);
    snprintf(url, sizeof(url), "redis://:secret@127.0.0.1:%d", tls);
    CHECK_INT(ferry_redis_connect(url, &o, &r, &e), FERRY_ENET);
    CHECK(strstr(e.msg, "TLS") != NULL);
    CHECK(strstr(e.msg, "secret") == NULL);
    CHECK_INT(ferry_redis_connect("rediss://127.0.0.1:6380", NULL, &r, &e), FERRY_EUNSUPPORTED);
    printf("rediss://: %s\n", e.msg);
}

int main(void)
{
    wt_t w;
    start(&w);
    client(&w);
    redirects(&w);
    tasks_on_three_nodes(&w);
    cli(&w);
    migration_during_copy(&w);
    sharded_task(&w);
    tls_via_stunnel();
    wt_stop(&w);
    return test_summary();
}
