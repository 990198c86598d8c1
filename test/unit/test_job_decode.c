/* Unit tests: the job decoder on replies built by hiredis's own reader. */
#include <hiredis/hiredis.h>

#include "ferry/queue.h"
#include "test.h"

static redisReply *resp_n(const char *s, size_t n)
{
    redisReader *r = redisReaderCreate();
    void *rep = NULL;
    redisReaderFeed(r, s, n);
    if (redisReaderGetReply(r, &rep) != REDIS_OK)
        rep = NULL;
    redisReaderFree(r);
    return rep;
}

static int dec_n(const char *s, size_t n, ferry_job_t *j)
{
    redisReply *rep = resp_n(s, n);
    REQUIRE(rep != NULL);
    ferry_error_t e;
    int rc = ferry_job_decode(rep, FERRY_QUEUE_BULK, j, &e);
    freeReplyObject(rep);
    return rc;
}

static int dec(const char *s, ferry_job_t *j)
{
    return dec_n(s, strlen(s), j);
}

int main(void)
{
    ferry_job_t j;
    CHECK(dec("*2\r\n$3\r\n1-0\r\n*10\r\n$1\r\nk\r\n$5\r\na/b.c\r\n$1\r\ns\r\n$3\r\n123\r\n"
              "$1\r\nm\r\n$10\r\n1786603543\r\n$2\r\nop\r\n$6\r\ndelete\r\n$1\r\no\r\n$"
              "5\r\nevent\r\n",
              &j) == FERRY_OK);
    CHECK_STR(j.key, "a/b.c");
    CHECK_INT(j.size, 123);
    CHECK_INT(j.mtime, 1786603543);
    CHECK(j.op_delete);
    CHECK_INT(j.origin, FERRY_ORIGIN_EVENT);
    CHECK_STR(j.id, "1-0");
    CHECK_INT(j.kind, FERRY_QUEUE_BULK);
    CHECK(dec("*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nk\r\n$1\r\nx\r\n$1\r\nc\r\n$"
              "20\r\n11051505435318425153\r\n",
              &j) == FERRY_OK);
    CHECK(j.has_crc64 && j.crc64 == 11051505435318425153ULL);
    CHECK(dec("*2\r\n$3\r\n1-0\r\n$-1\r\n", &j) == FERRY_ENOTFOUND);
    CHECK(dec("*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\ns\r\n$1\r\n1\r\n", &j) == FERRY_EPARSE); /* no key */
    CHECK(dec("*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nk\r\n$1\r\nx\r\n$1\r\ns\r\n$2\r\n-1\r\n", &j) ==
          FERRY_EPARSE);
    CHECK(dec("*2\r\n$3\r\n1-0\r\n*3\r\n$1\r\nk\r\n$1\r\nx\r\n$1\r\ns\r\n", &j) ==
          FERRY_EPARSE);                                                               /* odd */
    CHECK(dec("*2\r\n$3\r\nabc\r\n*2\r\n$1\r\nk\r\n$1\r\nx\r\n", &j) == FERRY_EPARSE); /* id */
    static const char nul[] = "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nk\r\n$3\r\na\0b\r\n";
    CHECK(dec_n(nul, sizeof(nul) - 1, &j) == FERRY_EPARSE); /* NUL in key */
    CHECK(dec("*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nk\r\n$1\r\nx\r\n$2\r\nop\r\n$4\r\nmove\r\n", &j) ==
          FERRY_EPARSE);
    CHECK(dec(":1\r\n", &j) == FERRY_EPARSE);
    char big[1200 + 64];
    int n = snprintf(big, sizeof(big), "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nk\r\n$1100\r\n");
    memset(big + n, 'a', 1100);
    memcpy(big + n + 1100, "\r\n", 3);
    CHECK(dec(big, &j) == FERRY_EPARSE); /* key too long */
    return test_summary();
}
