/* ferry — text helpers (see ferry/text.h). */
#include "ferry/text.h"
#include "ferry/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t ferry_utf8_seq_len(const void *v, size_t n)
{
    const unsigned char *p = v;
    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

int ferry_utf8_valid(const void *v, size_t n)
{
    const unsigned char *p = v;
    for (size_t i = 0; i < n;) {
        size_t l = ferry_utf8_seq_len(p + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

int ferry_utf8_is_control(const void *v, size_t len)
{
    const unsigned char *p = v;
    if (len == 1)
        return p[0] < 0x20 || p[0] == 0x7f;
    return len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

/* ---- durations and sizes ------------------------------------------------------------------ */

int ferry_parse_duration(const char *s, int64_t *ms)
{
    if (s == NULL || *s == '\0')
        return FERRY_EINVAL;
    int64_t total = 0;
    const char *p = s;
    int parts = 0;
    while (*p) {
        if (*p < '0' || *p > '9')
            return FERRY_EINVAL;
        errno = 0;
        char *e;
        unsigned long long v = strtoull(p, &e, 10);
        if (errno || v > 1000000000ULL)
            return FERRY_ERANGE;
        int64_t mul;
        if (*e == '\0')
            mul = parts ? -1 : 1000; /* a bare number is seconds, only on its own */
        else if (strncmp(e, "ms", 2) == 0)
            mul = 1, e += 2;
        else if (*e == 's')
            mul = 1000, e++;
        else if (*e == 'm')
            mul = 60000, e++;
        else if (*e == 'h')
            mul = 3600000, e++;
        else if (*e == 'd')
            mul = 86400000, e++;
        else
            return FERRY_EINVAL;
        if (mul < 0)
            return FERRY_EINVAL;
        if ((int64_t)v > (INT64_MAX - total) / mul)
            return FERRY_ERANGE; /* the sum would overflow: no signed overflow (UB) */
        total += (int64_t)v * mul;
        p = e;
        parts++;
    }
    *ms = total;
    return FERRY_OK;
}

int ferry_parse_size(const char *s, uint64_t *bytes)
{
    if (s == NULL || *s < '0' || *s > '9')
        return FERRY_EINVAL;
    errno = 0;
    char *e;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno)
        return FERRY_ERANGE;
    uint64_t mul = 1;
    if (*e) {
        static const char units[] = "kmgt"; /* 1024^1 .. 1024^4, either case */
        char c = (char)(*e | 0x20);         /* ASCII lower case; a non-letter stays no unit */
        const char *u = c ? strchr(units, c) : NULL;
        if (u)
            mul = 1ULL << (10 * (u - units + 1));
        else if (c != 'b')
            return FERRY_EINVAL;
        e++;
        if (mul > 1 && (strcasecmp(e, "ib") == 0 || strcasecmp(e, "b") == 0 || *e == '\0'))
            e += strlen(e);
        if (*e)
            return FERRY_EINVAL;
    }
    if (v > UINT64_MAX / mul)
        return FERRY_ERANGE;
    *bytes = v * mul;
    return FERRY_OK;
}

/* Two decimal digits at p, or -1. */
static int two_digits(const char *p)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

int ferry_http_date_imf(const char *s, int64_t *secs)
{
    static const char wdays[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (s == NULL || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
        memcmp(s + 26, "GMT", 3) != 0)
        return FERRY_EPARSE;
    int wd = -1, mon = -1;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, wdays + 3 * i, 3) == 0)
            wd = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            mon = i + 1;
    int day = two_digits(s + 5), yh = two_digits(s + 12), yl = two_digits(s + 14),
        h = two_digits(s + 17), mi = two_digits(s + 20), se = two_digits(s + 23);
    if (wd < 0 || mon < 0 || day < 1 || yh < 0 || yl < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 59)
        return FERRY_EPARSE;
    int64_t y = yh * 100 + yl;
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || day > mdays[mon - 1] + (mon == 2 && leap))
        return FERRY_EPARSE;
    /* days from 1970-01-01 to y-mon-day (civil calendar, March-based year) */
    int64_t yy = y - (mon <= 2);
    int64_t era = yy / 400, yoe = yy - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    *secs = days * 86400 + h * 3600 + mi * 60 + se;
    return FERRY_OK;
}

size_t ferry_str_copy(char *out, size_t cap, const char *s)
{
    if (cap == 0)
        return 0;
    size_t n = strnlen(s, cap - 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

int ferry_str_cat(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    int cut = 0;
    if (n > cap - 1 - *len) {
        n = cap - 1 - *len;
        cut = -1;
    }
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return cut;
}

size_t ferry_fmt_u64(char *out, uint64_t v)
{
    size_t n = ferry_utoa(out, v);
    out[n] = '\0';
    return n;
}

size_t ferry_fmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return ferry_fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + ferry_fmt_u64(out + 1, 0 - (uint64_t)v);
}
