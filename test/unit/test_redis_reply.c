/* Unit tests: scratch replies (redis.c) — RESP read into an arena builds the same redisReply tree
 * as hiredis' own reader (types, strings with NUL bytes, integers, nil, empty and nested arrays,
 * an XREADGROUP page), incomplete input waits, protocol errors fail, arenas are reused. Pure. */
#include "../../lib/store/redis_int.h"
#include "test.h"

/* Two reply trees are equal (type, len, bytes, integer, elements, recursively). */
static int same_tree(const redisReply *a, const redisReply *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0 && a->str[a->len] == '\0';
    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!same_tree(a->element[i], b->element[i]))
                return 0;
        return 1;
    default:
        return a->str == NULL && b->str == NULL && a->elements == 0 && b->elements == 0;
    }
}

/* hiredis' own tree of a complete reply in resp[0..n). */
static redisReply *hiredis_tree(const char *resp, size_t n)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    REQUIRE(rd != NULL);
    REQUIRE(redisReaderFeed(rd, resp, n) == REDIS_OK);
    if (redisReaderGetReply(rd, &rep) != REDIS_OK)
        fprintf(stderr, "hiredis: %s for %.*s\n", rd->errstr, (int)(n < 60 ? n : 60), resp);
    REQUIRE(rep != NULL);
    REQUIRE(rep != NULL);
    redisReaderFree(rd);
    return rep;
}

static int same_as_hiredis(redis_arena_t *a, const char *resp, size_t n)
{
    redisReply *want = hiredis_tree(resp, n);
    const redisReply *got = NULL;
    int rc = redis_int_arena_parse(a, resp, n, &got);
    int same = rc == FERRY_OK && same_tree(got, want);
    if (!same)
        fprintf(stderr, "  differs (rc %d) for: %.*s\n", rc, (int)(n < 120 ? n : 120), resp);
    freeReplyObject(want);
    return same;
}

#define SAME(a, lit) same_as_hiredis((a), (lit), sizeof(lit) - 1)

int main(void)
{
    redis_arena_t a = {0};
    CHECK(SAME(&a, "+OK\r\n"));
    CHECK(SAME(&a, "-ERR NOGROUP no such key\r\n"));
    CHECK(SAME(&a, ":0\r\n"));
    CHECK(SAME(&a, ":-9223372036854775808\r\n"));
    CHECK(SAME(&a, "$-1\r\n"));
    CHECK(SAME(&a, "*-1\r\n"));
    CHECK(SAME(&a, "*0\r\n"));
    CHECK(SAME(&a, "$0\r\n\r\n"));
    CHECK(SAME(&a, "$5\r\na\0b\r\n\r\n")); /* NUL and CR LF inside a bulk string */
    CHECK(SAME(&a, "*3\r\n:1\r\n$-1\r\n*2\r\n*0\r\n+x\r\n"));
    /* an XREADGROUP page: [[stream, [[id, [f, v, …]], [id, nil]]]] */
    CHECK(SAME(&a, "*1\r\n*2\r\n$14\r\nferry:{t}:q:bk\r\n*2\r\n"
                   "*2\r\n$15\r\n1700000000000-0\r\n*6\r\n$1\r\nk\r\n$5\r\na.bin\r\n$1\r\ns\r\n"
                   "$5\r\n16384\r\n$2\r\nop\r\n$4\r\ncopy\r\n"
                   "*2\r\n$15\r\n1700000000000-1\r\n$-1\r\n"));
    /* deep nesting, as deep as hiredis 0.14 reads (its task stack: 9 levels) */
    CHECK(SAME(&a, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n"));

    /* many entries and long strings: several chunks, then reset to one for the next reply */
    size_t cap = 2 * 1024 * 1024;
    char *big = malloc(cap);
    REQUIRE(big);
    size_t n = (size_t)snprintf(big, cap, "*3000\r\n");
    for (int i = 0; i < 3000; i++) {
        int len = 1 + i % 300;
        n += (size_t)snprintf(big + n, cap - n, "*2\r\n$%d\r\n", len);
        memset(big + n, 'a' + i % 26, (size_t)len);
        n += (size_t)len;
        n += (size_t)snprintf(big + n, cap - n, "\r\n:%d\r\n", -i);
    }
    REQUIRE(n < cap - 200000);
    CHECK(same_as_hiredis(&a, big, n));
    char *huge = malloc(150000 + 32);
    REQUIRE(huge);
    size_t hn = (size_t)snprintf(huge, 32, "$150000\r\n");
    memset(huge + hn, 'z', 150000);
    memcpy(huge + hn + 150000, "\r\n", 2);
    CHECK(same_as_hiredis(&a, huge, hn + 150002)); /* one string bigger than a chunk */
    CHECK(SAME(&a, ":1\r\n"));
    CHECK(a.head != NULL && a.total < 1024); /* reset: only this reply's bytes counted */

    /* incomplete input: no reply yet; a protocol error fails */
    const redisReply *got = (const redisReply *)&a;
    CHECK_INT(redis_int_arena_parse(&a, "*2\r\n:1\r\n", 8, &got), FERRY_ERETRY);
    CHECK(got == NULL);
    CHECK_INT(redis_int_arena_parse(&a, "$3\r\nab", 6, &got), FERRY_ERETRY);
    CHECK_INT(redis_int_arena_parse(&a, "?what\r\n", 7, &got), FERRY_EPARSE);
    CHECK_INT(redis_int_arena_parse(&a, "*1\r\n!x\r\n", 8, &got), FERRY_EPARSE);
    /* an aggregate declaring more elements than the cap: refused, not allocated */
    CHECK_INT(redis_int_arena_parse(&a, "*2000000000\r\n", 13, &got), FERRY_ENOMEM);
    CHECK(SAME(&a, "+still fine\r\n"));

    free(huge);
    free(big);
    redis_int_arena_free(&a);
    CHECK(a.head == NULL);
    return test_summary();
}
