/* Unit tests: ferry's own RESP command formatter (redis.c) against hiredis' redisFormatCommandArgv
 * (byte for byte: empty strings, binary arguments with NUL and CR LF, many and long arguments,
 * a reused buffer), the 1 GiB cap, and the decimal writers against snprintf. Pure. */
#include "../../lib/store/redis_int.h"
#include "test.h"

/* ferry's formatting of argv is exactly hiredis'. */
static int same_as_hiredis(redis_fmt_t *f, int argc, const char **argv, const size_t *lens)
{
    char *want = NULL;
    int wl = redisFormatCommandArgv(&want, argc, argv, lens);
    REQUIRE(wl >= 0);
    int rc = redis_int_format(f, argc, argv, lens);
    int same = rc == FERRY_OK && f->len == (size_t)wl && memcmp(f->buf, want, (size_t)wl) == 0;
    if (!same)
        fprintf(stderr, "  argc %d: rc %d, %zu bytes, hiredis %d: \"%.*s\" vs \"%.*s\"\n", argc, rc,
                f->len, wl, (int)(f->len < 200 ? f->len : 200), f->buf ? f->buf : "",
                wl < 200 ? wl : 200, want);
    redisFreeCommand(want);
    return same;
}

static void check_decimal(uint64_t u, int64_t i)
{
    char got[24], want[32];
    snprintf(want, sizeof(want), "%" PRIu64, u);
    CHECK_STR(redis_int_u64(got, u), want);
    snprintf(want, sizeof(want), "%" PRId64, i);
    CHECK_STR(redis_int_i64(got, i), want);
}

/* The string builder cuts where snprintf into the same buffer cuts. */
static void check_sb(size_t n)
{
    char got[64], want[64];
    memset(got, 'X', sizeof(got));
    memset(want, 'X', sizeof(want));
    snprintf(want, n, "ferry:{%s}:led:%u", "task/3.1", 4294967295u);
    redis_sb_t b = redis_sb(got, n);
    redis_sb_mem(&b, "ferry:{", 7);
    redis_sb_str(&b, "task/3.1");
    redis_sb_mem(&b, "}:led:", 6);
    redis_sb_u64(&b, 4294967295u);
    CHECK(memcmp(got, want, sizeof(got)) == 0);
}

int main(void)
{
    redis_fmt_t f = {0};

    /* plain and NUL-terminated (lens NULL) */
    const char *a1[] = {"PING"};
    CHECK(same_as_hiredis(&f, 1, a1, NULL));
    const char *a2[] = {"HGET", "ferry:{t}:led:17", "dir/key.bin"};
    CHECK(same_as_hiredis(&f, 3, a2, NULL));
    CHECK(f.len > 0 && memcmp(f.buf, "*3\r\n$4\r\nHGET\r\n$16\r\n", 19) == 0);

    /* no arguments, empty arguments */
    CHECK(same_as_hiredis(&f, 0, a1, NULL));
    const char *a3[] = {"SET", "", ""};
    CHECK(same_as_hiredis(&f, 3, a3, NULL));
    size_t l3[] = {3, 0, 0};
    CHECK(same_as_hiredis(&f, 3, a3, l3));

    /* binary: NUL, CR LF, '$' and '*' inside arguments, high bytes */
    const char bin1[] = {'a', '\0', 'b', '\r', '\n', '$', '3', '\r', '\n', '*', '\xff', '\0'};
    const char bin2[] = {'\0', '\0', '\0', '\0', '\0', '\0', '\0', '\x80'};
    const char *a4[] = {"EVALSHA", bin1, bin2, "\r\n"};
    size_t l4[] = {7, sizeof(bin1), sizeof(bin2), 2};
    CHECK(same_as_hiredis(&f, 4, a4, l4));

    /* many arguments (a finish batch: 3 + 2*64 keys + 13*64 args, and past EVAL_MAX_ARGS) */
    enum { MANY = 1500 };
    const char **av = malloc(sizeof(*av) * MANY);
    size_t *al = malloc(sizeof(*al) * MANY);
    char(*nums)[24] = malloc(sizeof(*nums) * MANY);
    REQUIRE(av && al && nums);
    for (int i = 0; i < MANY; i++) {
        snprintf(nums[i], sizeof(nums[i]), "%d", i * 7919);
        av[i] = nums[i];
        al[i] = i % 3 ? strlen(nums[i]) : (size_t)(i % 2); /* some empty, some cut */
    }
    CHECK(same_as_hiredis(&f, MANY, av, al));
    CHECK(same_as_hiredis(&f, MANY, av, NULL));

    /* long arguments, lengths across digit counts (9/10, 99/100, ... 100000) */
    size_t big = 1200001;
    char *blob = malloc(big);
    REQUIRE(blob);
    for (size_t i = 0; i < big; i++)
        blob[i] = (char)(i * 31 + 7);
    size_t cuts[] = {9,     10,    99,    100,    999,    1000,    9999, 10000,
                     65535, 65536, 99999, 100000, 999999, 1000000, big};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        const char *a5[] = {"SET", "k", blob};
        size_t l5[] = {3, 1, cuts[i]};
        CHECK(same_as_hiredis(&f, 3, a5, l5));
    }
    /* the buffer grew past what is kept: done frees it, the next command starts small */
    CHECK(f.cap > REDIS_FMT_KEEP);
    redis_int_fmt_done(&f);
    CHECK(f.buf == NULL && f.cap == 0 && f.len == 0);
    CHECK(same_as_hiredis(&f, 3, a2, NULL));
    size_t small_cap = f.cap;
    redis_int_fmt_done(&f);
    CHECK(f.cap == small_cap && f.len == 0); /* a small buffer is kept for the next command */
    /* reused buffer: a shorter command after a longer one is exact (no stale bytes counted) */
    CHECK(same_as_hiredis(&f, MANY, av, al));
    CHECK(same_as_hiredis(&f, 1, a1, NULL));

    /* caps: an argument over 1 GiB, a command growing past 1 GiB, a negative count */
    CHECK_INT(redis_int_fmt_begin(&f, 1), FERRY_OK);
    CHECK_INT(redis_int_fmt_arg(&f, blob, REDIS_CMD_MAX + 1), FERRY_ERANGE);
    redis_fmt_t huge = {NULL, REDIS_CMD_MAX - 10, 0}; /* pretend 1 GiB - 10 is written */
    CHECK_INT(redis_int_fmt_arg(&huge, "abc", 3), FERRY_ERANGE);
    CHECK(huge.buf == NULL && huge.len == REDIS_CMD_MAX - 10);
    CHECK_INT(redis_int_fmt_begin(&f, -1), FERRY_EINVAL);

    /* decimal writers against snprintf */
    check_decimal(0, 0);
    check_decimal(1, -1);
    check_decimal(UINT64_MAX, INT64_MIN);
    check_decimal((uint64_t)INT64_MAX, INT64_MAX);
    for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
        check_decimal(p, (int64_t)(p - 1));
        check_decimal(p - 1, -(int64_t)(p / 2) - 1);
        check_decimal(p + 1, (int64_t)(p / 3));
    }
    for (size_t n = 0; n <= 40; n++)
        check_sb(n); /* 0: nothing written; 1: ""; ... 31 bytes fit in 32 */
    char d[24];
    CHECK_INT(ferry_utoa(d, 12345), 5);
    CHECK(memcmp(d, "12345", 5) == 0);

    free(blob);
    free(nums);
    free(al);
    free(av);
    redis_int_fmt_free(&f);
    return test_summary();
}
