/* Fuzz target: scratch replies (redis.c). The input is read as RESP both by hiredis' own reader
 * and into a scratch arena; when hiredis reads a reply the arena's tree must be the same, and
 * the input is also formatted back as a command (the input's lines as arguments) and compared
 * with hiredis' redisFormatCommandArgv. */
#include "fuzz.h"

#include "../../lib/store/redis_int.h"

/* hiredis 0.14 allocates an aggregate by its declared count with no cap (see fuzz_job.c): skip
 * inputs declaring one larger than any real reply before hiredis' reader sees them. */
static int declares_huge_aggregate(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '*' && p[i] != '$')
            continue;
        unsigned long long v = 0;
        size_t j = i + 1;
        while (j < n && p[j] >= '0' && p[j] <= '9' && v < (1ull << 32))
            v = v * 10 + (unsigned)(p[j++] - '0');
        if (v > 4096)
            return 1;
    }
    return 0;
}

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
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
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
        return 1;
    }
}

static void check_format(const uint8_t *data, size_t size)
{
    enum { MAXARGS = 64 };
    const char *argv[MAXARGS];
    size_t lens[MAXARGS];
    int argc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAXARGS; i++)
        if (i == size || data[i] == '\n') {
            argv[argc] = (const char *)data + start;
            lens[argc++] = i - start;
            start = i + 1;
        }
    char *want = NULL;
    int wl = redisFormatCommandArgv(&want, argc, argv, lens);
    if (wl < 0)
        return;
    redis_fmt_t f = {0};
    if (redis_int_format(&f, argc, argv, lens) != FERRY_OK || f.len != (size_t)wl ||
        memcmp(f.buf, want, f.len) != 0)
        abort();
    redis_int_fmt_free(&f);
    redisFreeCommand(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_format(data, size);
    if (declares_huge_aggregate(data, size))
        return 0;
    redisReader *rd = redisReaderCreate();
    if (rd == NULL)
        return 0;
    void *want = NULL;
    int hr = redisReaderFeed(rd, (const char *)data, size) == REDIS_OK &&
             redisReaderGetReply(rd, &want) == REDIS_OK;
    redisReaderFree(rd);
    redis_arena_t a = {0};
    const redisReply *got = NULL;
    int rc = redis_int_arena_parse(&a, (const char *)data, size, &got);
    if (hr && want != NULL && (rc != FERRY_OK || !same_tree(got, want)))
        abort(); /* hiredis read a reply: the arena must read the same one */
    if (hr && want == NULL && rc != FERRY_ERETRY)
        abort(); /* incomplete for hiredis: incomplete here too */
    if (!hr && rc == FERRY_OK)
        abort(); /* a protocol error for hiredis: an error here too */
    freeReplyObject(want);
    redis_int_arena_free(&a);
    return 0;
}
