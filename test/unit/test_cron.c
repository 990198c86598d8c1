/* Unit tests for lib/core/cron.c: parsing, errors that name the field, next-fire times. */
#include "ferry/cron.h"
#include "test.h"

#include <time.h>

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return timegm(&tm);
}

static void next_is(const char *expr, time_t after, time_t want)
{
    ferry_cron_t c;
    ferry_error_t e;
    int rc = ferry_cron_parse(expr, &c, &e);
    CHECK_INT(rc, FERRY_OK);
    if (rc) {
        fprintf(stderr, "  %s: %s\n", expr, e.msg);
        return;
    }
    time_t n = 0;
    CHECK_INT(ferry_cron_next(&c, after, &n), FERRY_OK);
    if (n != want)
        fprintf(stderr, "  %s: got %lld want %lld\n", expr, (long long)n, (long long)want);
    CHECK(n == want);
}

static void bad(const char *expr, const char *fragment)
{
    ferry_cron_t c;
    ferry_error_t e;
    ferry_error_clear(&e);
    CHECK_INT(ferry_cron_parse(expr, &c, &e), FERRY_EPARSE);
    if (!strstr(e.msg, fragment))
        fprintf(stderr, "  %s: message \"%s\" lacks \"%s\"\n", expr, e.msg, fragment);
    CHECK(strstr(e.msg, fragment) != NULL);
}

int main(void)
{
    time_t t0 = utc(2026, 11, 22, 2, 55); /* a Sunday */
    next_is("* * * * *", t0, utc(2026, 11, 22, 2, 56));
    next_is("@hourly", t0, utc(2026, 11, 22, 3, 0));
    next_is("@daily", t0, utc(2026, 11, 23, 0, 0));
    next_is("*/15 * * * *", t0, utc(2026, 11, 22, 3, 0));
    next_is("5/20 * * * *", t0, utc(2026, 11, 22, 3, 5));
    next_is("30 2 * * *", t0, utc(2026, 11, 23, 2, 30));
    next_is("0 9 * * mon-fri", t0, utc(2026, 11, 23, 9, 0));
    next_is("0 0 * * 7", t0, utc(2026, 11, 29, 0, 0)); /* 7 = Sunday */
    next_is("0 0 1 jan *", t0, utc(2027, 1, 1, 0, 0));
    next_is("0 0 29 2 *", t0, utc(2028, 2, 29, 0, 0)); /* leap day */
    next_is("0 12 1,15 * *", t0, utc(2026, 12, 1, 12, 0));
    /* both day fields restricted: either matches (the 1st, or a Friday) */
    next_is("0 0 1 * fri", t0, utc(2026, 11, 27, 0, 0));
    /* strictly after: at an exact match, the next one */
    next_is("0 3 * * *", utc(2026, 11, 22, 3, 0), utc(2026, 11, 23, 3, 0));

    ferry_cron_t c;
    time_t n;
    CHECK_INT(ferry_cron_parse("0 0 31 2 *", &c, NULL), FERRY_OK);
    CHECK_INT(ferry_cron_next(&c, t0, &n), FERRY_ENOTFOUND);

    bad("* * * *", "want 5");
    bad("* * * * * *", "more than 5");
    bad("60 * * * *", "field 1 (minute)");
    bad("* 24 * * *", "field 2 (hour)");
    bad("* * 0 * *", "field 3 (day-of-month)");
    bad("* * * 13 *", "field 4 (month)");
    bad("* * * * 8", "field 5 (day-of-week)");
    bad("*/0 * * * *", "field 1");
    bad("5-1 * * * *", "field 1");
    bad("a * * * *", "field 1");
    bad("1,,2 * * * *", "field 1");
    bad("@sometimes", "unknown macro");
    bad("", "want 5");
    return test_summary();
}
