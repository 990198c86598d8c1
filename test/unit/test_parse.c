/* Unit tests for the duration and size parsers of ferry/text.h: one table each, every row an
 * input and the expected result (code, value). */
#include "ferry/error.h"
#include "ferry/text.h"
#include "test.h"

#include <stdio.h>

static const struct {
    const char *in;
    int rc;
    int64_t ms;
} DUR[] = {
    {"500ms", FERRY_OK, 500},
    {"0ms", FERRY_OK, 0},
    {"30s", FERRY_OK, 30000},
    {"90", FERRY_OK, 90000}, /* a bare number is seconds */
    {"0", FERRY_OK, 0},
    {"5m", FERRY_OK, 300000},
    {"1h", FERRY_OK, 3600000},
    {"1h30m", FERRY_OK, 5400000},
    {"2d", FERRY_OK, 172800000},
    {"1d2h3m4s5ms", FERRY_OK, 93784005},
    {"1s1s", FERRY_OK, 2000}, /* parts add up */
    {"1000000000d", FERRY_OK, 86400000000000000LL},
    {"1000000000d1000000000d1000000000d", FERRY_OK, 259200000000000000LL},
    {"1000000001s", FERRY_ERANGE, 0}, /* one number above 10^9 */
    {"99999999999999999999999", FERRY_ERANGE, 0},
    {"", FERRY_EINVAL, 0},
    {"h", FERRY_EINVAL, 0},
    {"1x", FERRY_EINVAL, 0},
    {"1h5", FERRY_EINVAL, 0}, /* a bare number only on its own */
    {"-1s", FERRY_EINVAL, 0},
    {"+1s", FERRY_EINVAL, 0},
    {" 1s", FERRY_EINVAL, 0},
    {"1s ", FERRY_EINVAL, 0},
    {"1 s", FERRY_EINVAL, 0},
    {"1.5s", FERRY_EINVAL, 0},
    {"1S", FERRY_EINVAL, 0}, /* units are lower case */
    {"1mss", FERRY_EINVAL, 0},
};

static const struct {
    const char *in;
    int rc;
    uint64_t bytes;
} SIZE[] = {
    {"100", FERRY_OK, 100},
    {"0", FERRY_OK, 0},
    {"100B", FERRY_OK, 100},
    {"100b", FERRY_OK, 100},
    {"64k", FERRY_OK, 65536},
    {"16KiB", FERRY_OK, 16384},
    {"16KB", FERRY_OK, 16384}, /* binary multiples whatever the spelling */
    {"8M", FERRY_OK, 8ULL << 20},
    {"8MiB", FERRY_OK, 8ULL << 20},
    {"5MB", FERRY_OK, 5ULL << 20},
    {"8mib", FERRY_OK, 8ULL << 20},
    {"1G", FERRY_OK, 1ULL << 30},
    {"1GiB", FERRY_OK, 1ULL << 30},
    {"2T", FERRY_OK, 2ULL << 40},
    {"18446744073709551615", FERRY_OK, UINT64_MAX},
    {"16777215T", FERRY_OK, 16777215ULL << 40},
    {"16777216T", FERRY_ERANGE, 0}, /* 2^64 */
    {"99999999999999999999", FERRY_ERANGE, 0},
    {"", FERRY_EINVAL, 0},
    {"K", FERRY_EINVAL, 0},
    {"1Q", FERRY_EINVAL, 0},
    {"-1", FERRY_EINVAL, 0},
    {"+1", FERRY_EINVAL, 0},
    {" 1", FERRY_EINVAL, 0},
    {"1 K", FERRY_EINVAL, 0},
    {"1.5G", FERRY_EINVAL, 0},
    {"1Ki", FERRY_EINVAL, 0},
    {"1KiBs", FERRY_EINVAL, 0},
    {"1BB", FERRY_EINVAL, 0},
    {"1P", FERRY_EINVAL, 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(DUR) / sizeof(DUR[0]); i++) {
        int64_t ms = -7;
        int rc = ferry_parse_duration(DUR[i].in, &ms);
        if (rc != DUR[i].rc || (rc == FERRY_OK ? ms != DUR[i].ms : ms != -7))
            fprintf(stderr, "duration \"%s\": rc %d ms %lld, want rc %d ms %lld\n", DUR[i].in, rc,
                    (long long)ms, DUR[i].rc, (long long)(rc == FERRY_OK ? DUR[i].ms : -7));
        CHECK_INT(rc, DUR[i].rc);
        CHECK(rc == FERRY_OK ? ms == DUR[i].ms : ms == -7); /* untouched on error */
    }
    for (size_t i = 0; i < sizeof(SIZE) / sizeof(SIZE[0]); i++) {
        uint64_t b = 7;
        int rc = ferry_parse_size(SIZE[i].in, &b);
        if (rc != SIZE[i].rc || (rc == FERRY_OK ? b != SIZE[i].bytes : b != 7))
            fprintf(stderr, "size \"%s\": rc %d bytes %llu, want rc %d bytes %llu\n", SIZE[i].in,
                    rc, (unsigned long long)b, SIZE[i].rc, (unsigned long long)SIZE[i].bytes);
        CHECK_INT(rc, SIZE[i].rc);
        CHECK(rc == FERRY_OK ? b == SIZE[i].bytes : b == 7);
    }
    int64_t ms;
    uint64_t b;
    CHECK_INT(ferry_parse_duration(NULL, &ms), FERRY_EINVAL);
    CHECK_INT(ferry_parse_size(NULL, &b), FERRY_EINVAL);
    return test_summary();
}
