/* Fuzz target: the job decoder (input parsed as RESP by hiredis's reader, then decoded as a
 * stream entry) and the record decoder (the raw input as a stored record). */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ferry/queue.h"

/* hiredis 0.14 (Debian's) allocates an aggregate by its declared count with no cap, so a
 * "*1086603543" header exhausts memory inside hiredis before our decoder runs. Replies come
 * from the Redis server, which ferry trusts for framing; what we fuzz is our decoding of
 * their contents. So inputs declaring an aggregate larger than any real stream entry are
 * skipped here. */
static int declares_huge_aggregate(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '*' && p[i] != '%' && p[i] != '~' && p[i] != '$')
            continue;
        unsigned long long v = 0;
        size_t j = i + 1;
        while (j < n && p[j] >= '0' && p[j] <= '9' && v < (1ull << 32))
            v = v * 10 + (p[j++] - '0');
        if (v > 4096)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ferry_record_t rec;
    static ferry_job_t job;
    ferry_error_t e;
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        ferry_record_decode("k", 1, data + 1, size - 1, &rec);
        return 0;
    }
    if (declares_huge_aggregate(data + 1, size - 1))
        return 0;
    redisReader *r = redisReaderCreate();
    if (r == NULL)
        return 0;
    r->maxbuf = 0;
    if (redisReaderFeed(r, (const char *)data + 1, size - 1) == REDIS_OK) {
        void *rep = NULL;
        while (redisReaderGetReply(r, &rep) == REDIS_OK && rep) {
            ferry_job_decode(rep, FERRY_QUEUE_EVENT, &job, &e);
            freeReplyObject(rep);
            rep = NULL;
        }
    }
    redisReaderFree(r);
    return 0;
}
