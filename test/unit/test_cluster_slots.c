/* Unit tests: Redis Cluster pure helpers — CRC16 and key slots (hash tags), key positions of
 * the commands ferry sends, CROSSSLOT detection, MOVED/ASK parsing, CLUSTER SLOTS parsing. */
#include "../../lib/store/cluster_int.h"
#include "test.h"

static unsigned slot(const char *k)
{
    return ferry_cluster_key_slot(k, strlen(k));
}

static redisReply *parse_resp(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    REQUIRE(rd != NULL);
    REQUIRE(redisReaderFeed(rd, resp, strlen(resp)) == REDIS_OK);
    REQUIRE(redisReaderGetReply(rd, &rep) == REDIS_OK);
    redisReaderFree(rd);
    return rep;
}

static ferry_cluster_keys_t keys_of(int argc, const char **argv)
{
    ferry_cluster_keys_t k;
    ferry_error_t e;
    CHECK_INT(ferry_cluster_command_keys(argc, argv, NULL, &k, &e), FERRY_OK);
    return k;
}

int main(void)
{
    /* CRC16 (XMODEM) and the reference slots from the Redis Cluster specification. */
    CHECK_INT(ferry_cluster_crc16("123456789", 9), 0x31C3);
    CHECK_INT(slot("foo"), 12182);
    CHECK_INT(slot("bar"), 5061);
    CHECK_INT(slot("hello"), 866);
    CHECK_INT(slot("{user1000}.following"), slot("{user1000}.followers"));
    CHECK_INT(slot("{user1000}.following"), slot("user1000"));
    CHECK_INT(slot("foo{}{bar}"), ferry_cluster_crc16("foo{}{bar}", 10) & 16383);
    CHECK_INT(slot("foo{{bar}}zap"), ferry_cluster_crc16("{bar", 4) & 16383);
    CHECK_INT(slot("foo{bar}{zap}"), slot("bar"));
    CHECK_INT(slot("ferry:{t1}:led:0"), slot("ferry:{t1}:pending"));
    CHECK_INT(slot(""), 0);

    /* Key positions. */
    const char *get[] = {"get", "k"};
    ferry_cluster_keys_t k = keys_of(2, get);
    CHECK_INT(k.kind, FERRY_CLUSTER_KEYED);
    CHECK_INT(k.first, 1);
    CHECK_INT(k.count, 1);
    const char *ping[] = {"PING"};
    CHECK_INT(keys_of(1, ping).kind, FERRY_CLUSTER_ANY);
    const char *keys[] = {"KEYS", "*"};
    CHECK_INT(keys_of(2, keys).kind, FERRY_CLUSTER_EVERY);
    const char *scan[] = {"SCAN", "0", "MATCH", "x*"};
    CHECK_INT(keys_of(4, scan).kind, FERRY_CLUSTER_SCAN);
    const char *xr[] = {"XREADGROUP",
                        "GROUP",
                        "g",
                        "c",
                        "COUNT",
                        "5",
                        "BLOCK",
                        "100",
                        "STREAMS",
                        "ferry:{t}:q:event",
                        "ferry:{t}:q:bulk",
                        ">",
                        ">"};
    k = keys_of(13, xr);
    CHECK_INT(k.first, 9);
    CHECK_INT(k.count, 2);
    const char *xi[] = {"XINFO", "GROUPS", "ferry:{t}:q:bulk"};
    k = keys_of(3, xi);
    CHECK_INT(k.first, 2);
    const char *ev[] = {"EVALSHA", "abc", "2", "ferry:{t}:a", "ferry:{t}:b", "arg"};
    k = keys_of(6, ev);
    CHECK_INT(k.first, 3);
    CHECK_INT(k.count, 2);
    const char *ev0[] = {"EVAL", "return 1", "0"};
    CHECK_INT(keys_of(3, ev0).kind, FERRY_CLUSTER_ANY);
    const char *mset[] = {"MSET", "a", "1", "b", "2"};
    k = keys_of(5, mset);
    CHECK_INT(k.step, 2);
    CHECK_INT(k.count, 2);
    const char *rpush[] = {"RPUSH", "ferry:{t}:spool", "not-a-key-1", "not-a-key-2"};
    CHECK_INT(keys_of(4, rpush).count, 1);
    ferry_error_t e;
    const char *evbad[] = {"EVALSHA", "abc", "3", "k"};
    CHECK_INT(ferry_cluster_command_keys(4, evbad, NULL, &k, &e), FERRY_EINVAL);
    const char *xbad[] = {"XREAD", "STREAMS", "a", "b", "0"};
    CHECK_INT(ferry_cluster_command_keys(5, xbad, NULL, &k, &e), FERRY_EINVAL);

    /* CROSSSLOT names the keys. */
    unsigned s;
    const char *mget[] = {"MGET", "ferry:{t}:a", "ferry:{t}:b"};
    k = keys_of(3, mget);
    CHECK_INT(ferry_cluster_command_slot(3, mget, NULL, &k, &s, &e), FERRY_OK);
    CHECK_INT(s, slot("t"));
    const char *cross[] = {"MGET", "a", "b"};
    k = keys_of(3, cross);
    CHECK_INT(ferry_cluster_command_slot(3, cross, NULL, &k, &s, &e), FERRY_EINVAL);
    CHECK(strstr(e.msg, "CROSSSLOT") != NULL);
    CHECK(strstr(e.msg, "\"a\"") != NULL);
    CHECK(strstr(e.msg, "\"b\"") != NULL);
    CHECK(strstr(e.msg, "hash tag") != NULL);
    const char *evx[] = {"EVALSHA", "abc", "2", "ferry:{t1}:a", "ferry:{t2}:a"};
    k = keys_of(5, evx);
    CHECK_INT(ferry_cluster_command_slot(5, evx, NULL, &k, &s, &e), FERRY_EINVAL);
    CHECK(strstr(e.msg, "ferry:{t2}:a") != NULL);

    /* MOVED / ASK. */
    ferry_cluster_redirect_t rd;
    const char *m1 = "MOVED 3999 127.0.0.1:6381";
    CHECK_INT(ferry_cluster_parse_redirect(m1, strlen(m1), &rd), FERRY_OK);
    CHECK_INT(rd.kind, FERRY_CLUSTER_MOVED);
    CHECK_INT(rd.slot, 3999);
    CHECK_STR(rd.host, "127.0.0.1");
    CHECK_INT(rd.port, 6381);
    const char *a1 = "ASK 16383 ::1:7000";
    CHECK_INT(ferry_cluster_parse_redirect(a1, strlen(a1), &rd), FERRY_OK);
    CHECK_INT(rd.kind, FERRY_CLUSTER_ASK);
    CHECK_STR(rd.host, "::1");
    CHECK_INT(rd.port, 7000);
    const char *m2 = "MOVED 1 :6380";
    CHECK_INT(ferry_cluster_parse_redirect(m2, strlen(m2), &rd), FERRY_OK);
    CHECK_STR(rd.host, "");
    const char *m3 = "MOVED 1 [fe80::1]:6380";
    CHECK_INT(ferry_cluster_parse_redirect(m3, strlen(m3), &rd), FERRY_OK);
    CHECK_STR(rd.host, "fe80::1");
    const char *other = "ERR unknown command";
    CHECK_INT(ferry_cluster_parse_redirect(other, strlen(other), &rd), FERRY_ENOTFOUND);
    const char *bad[] = {"MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h:0", "MOVED 1 h:65536",
                         "MOVED 1 h",       "MOVED 1",     "ASK 1 h 2:3", "MOVED  1 h:1",
                         "MOVED 1 h:",      NULL};
    for (int i = 0; bad[i]; i++)
        CHECK_INT(ferry_cluster_parse_redirect(bad[i], strlen(bad[i]), &rd), FERRY_EPARSE);

    /* CLUSTER SLOTS: three masters, one replica each (ignored), one host left empty. */
    ferry_cluster_map_t *m = malloc(sizeof(*m));
    REQUIRE(m != NULL);
    redisReply *rep =
        parse_resp("*3\r\n"
                   "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                   "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
                   "*3\r\n:5461\r\n:10922\r\n*2\r\n$0\r\n\r\n:7001\r\n"
                   "*3\r\n:10923\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n");
    CHECK_INT(ferry_cluster_parse_slots(rep, "10.0.0.9", m, &e), FERRY_OK);
    CHECK_INT(m->nnodes, 3);
    CHECK_INT(m->covered, 16384);
    CHECK_INT(m->nodes[m->owner[0]].port, 7000);
    CHECK_INT(m->nodes[m->owner[5461]].port, 7001);
    CHECK_STR(m->nodes[m->owner[5461]].host, "10.0.0.9");
    CHECK_INT(m->nodes[m->owner[16383]].port, 7002);
    freeReplyObject(rep);
    rep = parse_resp("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n");
    CHECK_INT(ferry_cluster_parse_slots(rep, "h", m, &e), FERRY_EPARSE);
    CHECK(strstr(e.msg, "range") != NULL);
    freeReplyObject(rep);
    rep = parse_resp("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n");
    CHECK_INT(ferry_cluster_parse_slots(rep, "h", m, &e), FERRY_EPARSE);
    freeReplyObject(rep);
    rep = parse_resp("-ERR This instance has cluster support disabled\r\n");
    CHECK_INT(ferry_cluster_parse_slots(rep, "h", m, &e), FERRY_EPARSE);
    freeReplyObject(rep);
    rep = parse_resp("*0\r\n");
    CHECK_INT(ferry_cluster_parse_slots(rep, "h", m, &e), FERRY_OK);
    CHECK_INT(m->covered, 0);
    freeReplyObject(rep);
    free(m);
    return test_summary();
}
