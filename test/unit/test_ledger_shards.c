/* Ledger shards (ferry/ledger.h): the hash tag of each shard, the shard of a key, the keys of
 * shard 0 (the layout of a task before shards), and the --ledger-shards task option. Pure: no
 * Redis (ferry_ledger_open_sharded only computes names). */
#include "../../lib/store/cluster_int.h"
#include "test.h"

#include "ferry/errcode.h"
#include "ferry/ledger.h"
#include "ferry/task.h"

static unsigned tag_slot(const char *tag)
{
    return ferry_cluster_crc16(tag, strlen(tag)) & (FERRY_CLUSTER_SLOTS - 1);
}

/* Every tag of S shards: shard 0 is the task's name, the others "T/s.x"; each in its own
 * range of the slot space counted from shard 0's slot; all slots distinct; the same tags
 * twice. */
static void tags(const char *task, uint32_t S)
{
    static unsigned char used[FERRY_CLUSTER_SLOTS];
    memset(used, 0, sizeof(used));
    unsigned base = tag_slot(task);
    int bad_range = 0, collide = 0, bad_form = 0, unstable = 0;
    for (uint32_t s = 0; s < S; s++) {
        char t[FERRY_LEDGER_TAG_MAX + 1], t2[FERRY_LEDGER_TAG_MAX + 1];
        REQUIRE(ferry_ledger_shard_tag(task, s, S, t, sizeof(t)) == FERRY_OK);
        REQUIRE(ferry_ledger_shard_tag(task, s, S, t2, sizeof(t2)) == FERRY_OK);
        unstable += strcmp(t, t2) != 0;
        char want[FERRY_LEDGER_TAG_MAX + 1];
        snprintf(want, sizeof(want), "%s/%u.", task, s);
        if (s == 0)
            bad_form += strcmp(t, task) != 0;
        else
            bad_form += strncmp(t, want, strlen(want)) != 0 || strchr(t, '{') || strchr(t, '}');
        unsigned slot = tag_slot(t);
        /* the key's slot is the tag's: the client routes ferry:{tag}:… there */
        char key[FERRY_LEDGER_TAG_MAX + 32];
        snprintf(key, sizeof(key), "ferry:{%s}:led:7", t);
        bad_range += ferry_cluster_key_slot(key, strlen(key)) != slot;
        unsigned off = (slot + FERRY_CLUSTER_SLOTS - base) % FERRY_CLUSTER_SLOTS;
        unsigned lo = (unsigned)((uint64_t)s * FERRY_CLUSTER_SLOTS / S);
        unsigned hi = (unsigned)((uint64_t)(s + 1) * FERRY_CLUSTER_SLOTS / S);
        if (off < lo || off >= hi) {
            bad_range++;
            fprintf(stderr, "shard %u/%u tag %s: slot offset %u outside [%u, %u)\n", s, S, t, off,
                    lo, hi);
        }
        collide += used[slot]++ != 0;
    }
    CHECK_INT(unstable, 0);
    CHECK_INT(bad_form, 0);
    CHECK_INT(bad_range, 0);
    CHECK_INT(collide, 0);
}

static void tag_errors(void)
{
    char t[FERRY_LEDGER_TAG_MAX + 1];
    CHECK_INT(ferry_ledger_shard_tag("t", 4, 4, t, sizeof(t)), FERRY_EINVAL);
    CHECK_INT(ferry_ledger_shard_tag("t", 0, 0, t, sizeof(t)), FERRY_EINVAL);
    CHECK_INT(ferry_ledger_shard_tag("t", 0, FERRY_LEDGER_SHARDS_MAX + 1, t, sizeof(t)),
              FERRY_EINVAL);
    CHECK_INT(ferry_ledger_shard_tag("bad/name", 0, 2, t, sizeof(t)), FERRY_EINVAL);
    CHECK_INT(ferry_ledger_shard_tag(NULL, 0, 2, t, sizeof(t)), FERRY_EINVAL);
    CHECK_INT(ferry_ledger_shard_tag("task", 1, 2, t, 5), FERRY_ERANGE);
    /* the longest name and shard fit the documented bound */
    char name[FERRY_TASK_NAME_MAX + 1];
    memset(name, 'n', FERRY_TASK_NAME_MAX);
    name[FERRY_TASK_NAME_MAX] = '\0';
    CHECK_INT(ferry_ledger_shard_tag(name, FERRY_LEDGER_SHARDS_MAX - 1, FERRY_LEDGER_SHARDS_MAX, t,
                                     sizeof(t)),
              FERRY_OK);
}

/* One shard is the layout from before shards: every key "ferry:{T}:…". */
static void one_shard_layout(void)
{
    ferry_ledger_t *l = NULL;
    REQUIRE(ferry_ledger_open(NULL, "job1", 16, &l) == FERRY_OK);
    CHECK_INT(ferry_ledger_shards(l), 1);
    char k[160];
    REQUIRE(ferry_ledger_shard_key(l, 0, "cnt", k, sizeof(k)) == FERRY_OK);
    CHECK_STR(k, "ferry:{job1}:cnt");
    REQUIRE(ferry_ledger_shard_key(l, 0, "q:bulk", k, sizeof(k)) == FERRY_OK);
    CHECK_STR(k, "ferry:{job1}:q:bulk");
    CHECK_INT(ferry_ledger_shard_key(l, 1, "cnt", k, sizeof(k)), FERRY_EINVAL);
    CHECK_INT(ferry_ledger_shard_of(l, "a/b/c"), 0);
    ferry_ledger_free(l);
}

/* The shard of a key is its bucket mod S; shard 0 keeps the plain tag; keys spread. */
static void shard_of(void)
{
    ferry_ledger_t *l = NULL;
    REQUIRE(ferry_ledger_open_sharded(NULL, "job1", 64, 4, &l) == FERRY_OK);
    CHECK_INT(ferry_ledger_shards(l), 4);
    char k[160];
    REQUIRE(ferry_ledger_shard_key(l, 0, "pending", k, sizeof(k)) == FERRY_OK);
    CHECK_STR(k, "ferry:{job1}:pending");
    REQUIRE(ferry_ledger_shard_key(l, 3, "pending", k, sizeof(k)) == FERRY_OK);
    CHECK(strncmp(k, "ferry:{job1/3.", 14) == 0);
    int per[4] = {0}, wrong = 0;
    for (int i = 0; i < 4000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "photos/%05d.jpg", i);
        uint32_t s = ferry_ledger_shard_of(l, key);
        wrong += s != ferry_ledger_bucket_of(key, strlen(key), 64) % 4;
        if (s < 4)
            per[s]++;
    }
    CHECK_INT(wrong, 0);
    for (int s = 0; s < 4; s++)
        CHECK(per[s] > 700); /* 1,000 expected */
    ferry_ledger_free(l);
    /* more shards than buckets would leave shards empty: refused */
    l = NULL;
    CHECK(ferry_ledger_open_sharded(NULL, "job1", 4, 8, &l) != FERRY_OK);
    CHECK(l == NULL);
}

static void option(void)
{
    ferry_task_t t;
    ferry_error_t err;
    char *ok[] = {"--from", "oss://a/", "--to", "s3://b/", "--ledger-shards", "8"};
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "t1");
    CHECK_INT(t.ledger_shards, 1);
    int prc = ferry_task_parse_args(&t, 6, ok, &err);
    if (prc)
        fprintf(stderr, "parse: %s\n", err.msg);
    REQUIRE(prc == FERRY_OK);
    CHECK_INT(t.ledger_shards, 8);
    json_t *j = ferry_task_to_json(&t);
    CHECK_INT(json_integer_value(json_object_get(j, "ledger_shards")), 8);
    ferry_task_t back;
    CHECK_INT(ferry_task_from_json(j, &back, &err), FERRY_OK);
    CHECK_INT(back.ledger_shards, 8);
    ferry_task_clear(&back);
    /* a definition from before shards has none: one shard */
    json_object_del(j, "ledger_shards");
    CHECK_INT(ferry_task_from_json(j, &back, &err), FERRY_OK);
    CHECK_INT(back.ledger_shards, 1);
    ferry_task_clear(&back);
    /* a stored count that cannot be right is an error, never a guess */
    json_object_set_new(j, "ledger_shards", json_integer(0));
    CHECK_INT(ferry_task_from_json(j, &back, &err), FERRY_EPARSE);
    ferry_task_clear(&back);
    json_decref(j);
    ferry_task_clear(&t);
    const char *bad[] = {"0", "1025", "x", "-1", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *a[] = {"--from", "oss://a/", "--to", "s3://b/", "--ledger-shards", (char *)bad[i]};
        ferry_task_init(&t);
        snprintf(t.name, sizeof(t.name), "t1");
        CHECK_INT(ferry_task_parse_args(&t, 6, a, &err), FERRY_EINVAL);
        CHECK(strstr(err.msg, "--ledger-shards") != NULL);
        ferry_task_clear(&t);
    }
    char *more[] = {"--from", "oss://a/",         "--to", "s3://b/", "--ledger-shards",
                    "16",     "--ledger-buckets", "8"};
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "t1");
    CHECK_INT(ferry_task_parse_args(&t, 8, more, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "--ledger-buckets") != NULL);
    ferry_task_clear(&t);
}

int main(void)
{
    const uint32_t counts[] = {1, 2, 3, 4, 8, 50, 256, 1000, 1024};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        tags("job1", counts[i]);
        tags("photos-2026_eu.west", counts[i]);
    }
    tag_errors();
    one_shard_layout();
    shard_of();
    option();
    return test_summary();
}
