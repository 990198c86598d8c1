#include "ferry/cron.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    int lo, hi;
    const char *const *names; /* 3-letter names starting at value `names_base`, or NULL */
    int names_base;
} field_t;

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                     "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field_t fields[5] = {
    {"minute", 0, 59, NULL, 0},  {"hour", 0, 23, NULL, 0},       {"day-of-month", 1, 31, NULL, 0},
    {"month", 1, 12, months, 1}, {"day-of-week", 0, 7, days, 0},
};

/* Parse a number or a name at *p; advance. -1 when neither. */
static int parse_value(const field_t *f, const char **p)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s - '0');
            if (v > 1000)
                return -1;
            s++;
        }
        *p = s;
        return (int)v;
    }
    if (f->names) {
        for (int i = 0; f->names[i]; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
                *p = s + 3;
                return i + f->names_base;
            }
        }
    }
    return -1;
}

/* Parse one field s[0..n) into *bits. */
static int parse_field(int idx, const char *s, size_t n, uint64_t *bits, int *star,
                       ferry_error_t *err)
{
    const field_t *f = &fields[idx];
    char tmp[128];
    if (n == 0 || n >= sizeof(tmp))
        return ferry_error_set(err, FERRY_EPARSE, "cron: field %d (%s) is %s", idx + 1, f->name,
                               n ? "too long" : "empty");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *bits = 0;
    *star = strcmp(tmp, "*") == 0;
    if (tmp[0] == ',' || tmp[n - 1] == ',' || strstr(tmp, ",,"))
        return ferry_error_set(err, FERRY_EPARSE, "cron: field %d (%s) has an empty list item",
                               idx + 1, f->name);
    char *save = NULL;
    for (char *item = strtok_r(tmp, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        const char *p = item;
        int lo, hi, step = 1;
        if (*p == '*') {
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            lo = parse_value(f, &p);
            if (lo < 0)
                goto bad;
            hi = lo;
            if (*p == '-') {
                p++;
                hi = parse_value(f, &p);
                if (hi < 0)
                    goto bad;
            }
        }
        if (*p == '/') {
            p++;
            const char *q = p;
            long st = 0;
            while (isdigit((unsigned char)*q) && st <= 1000)
                st = st * 10 + (*q++ - '0');
            if (q == p || st <= 0 || st > f->hi)
                goto bad;
            step = (int)st;
            p = q;
            if (lo == hi && item[0] != '*')
                hi = f->hi; /* "5/15" means 5-max/15 */
        }
        if (*p != '\0')
            goto bad;
        if (lo < f->lo || hi > f->hi || lo > hi)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "cron: field %d (%s) has %d-%d: allowed %d-%d", idx + 1, f->name,
                                   lo, hi, f->lo, f->hi);
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ULL << (idx == 4 && v == 7 ? 0 : v);
        continue;
    bad:
        return ferry_error_set(err, FERRY_EPARSE,
                               "cron: field %d (%s) has \"%s\": use *, N, A-B, */N or lists",
                               idx + 1, f->name, item);
    }
    if (*bits == 0)
        return ferry_error_set(err, FERRY_EPARSE, "cron: field %d (%s) matches nothing", idx + 1,
                               f->name);
    return FERRY_OK;
}

int ferry_cron_parse(const char *expr, ferry_cron_t *out, ferry_error_t *err)
{
    static const struct {
        const char *macro, *expansion;
    } macros[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                  {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                  {"@annually", "0 0 1 1 *"}};
    if (expr == NULL)
        return ferry_error_set(err, FERRY_EPARSE, "cron: empty expression");
    while (*expr == ' ' || *expr == '\t')
        expr++;
    if (*expr == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (strcmp(expr, macros[i].macro) == 0)
                return ferry_cron_parse(macros[i].expansion, out, err);
        return ferry_error_set(err, FERRY_EPARSE,
                               "cron: unknown macro \"%.32s\": use @hourly, @daily, @weekly, "
                               "@monthly or @yearly",
                               expr);
    }
    memset(out, 0, sizeof(*out));
    const char *p = expr;
    uint64_t bits[5];
    int star[5];
    for (int i = 0; i < 5; i++) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p == start)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "cron: \"%.64s\" has %d fields: want 5 (minute hour "
                                   "day-of-month month day-of-week)",
                                   expr, i);
        int rc = parse_field(i, start, (size_t)(p - start), &bits[i], &star[i], err);
        if (rc)
            return rc;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return ferry_error_set(err, FERRY_EPARSE,
                               "cron: \"%.64s\" has more than 5 fields: want 5 (minute hour "
                               "day-of-month month day-of-week)",
                               expr);
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)bits[4];
    out->dom_star = (uint8_t)star[2];
    out->dow_star = (uint8_t)star[4];
    return FERRY_OK;
}

static int day_matches(const ferry_cron_t *c, const struct tm *tm)
{
    int dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}

int ferry_cron_next(const ferry_cron_t *c, time_t after, time_t *next)
{
    time_t t = after - (after % 60) + 60; /* the next whole minute */
    time_t limit = after + (time_t)5 * 366 * 86400;
    struct tm tm;
    while (t <= limit) {
        gmtime_r(&t, &tm);
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            /* jump to the first day of the next month */
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if (!day_matches(c, &tm)) {
            t += 86400 - (t % 86400);
            continue;
        }
        if (!((c->hour >> tm.tm_hour) & 1)) {
            t += 3600 - (t % 3600);
            continue;
        }
        if (!((c->minute >> tm.tm_min) & 1)) {
            t += 60;
            continue;
        }
        *next = t;
        return FERRY_OK;
    }
    return FERRY_ENOTFOUND;
}
