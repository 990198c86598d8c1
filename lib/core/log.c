#define _GNU_SOURCE /* strcasestr */
#include "ferry/log.h"

#include "ferry/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

static ferry_log_level_t log_min = FERRY_LOG_INFO;
static int log_fd = 2;

void ferry_log_setup(ferry_log_level_t min, int fd)
{
    log_min = min;
    log_fd = fd;
}

int ferry_log_level_parse(const char *s, ferry_log_level_t *out)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (ferry_log_level_t)i;
            return FERRY_OK;
        }
    }
    return FERRY_EINVAL;
}

int ferry_log_enabled(ferry_log_level_t level)
{
    return level >= log_min && log_min != FERRY_LOG_OFF;
}

typedef struct {
    char b[LINE_MAX_BYTES + 8];
    size_t n;
    int cut;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (l->cut)
        return;
    if (l->n + n > LINE_MAX_BYTES - 4) {
        n = LINE_MAX_BYTES - 4 > l->n ? LINE_MAX_BYTES - 4 - l->n : 0;
        l->cut = 1;
    }
    memcpy(l->b + l->n, s, n);
    l->n += n;
    if (l->cut) {
        memcpy(l->b + l->n, "\xe2\x80\xa6", 3); /* … */
        l->n += 3;
    }
}

static int is_secret_name(const char *k)
{
    static const char *words[] = {"secret",        "token",     "password",
                                  "authorization", "signature", "credential"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasestr(k, words[i]))
            return 1;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (NUL-terminated), or 0 when invalid (overlong,
 * surrogate, past U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *p)
{
    size_t len;
    unsigned cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Bytes of a value that are written as \xHH: invalid UTF-8 and C1 controls (U+0080..U+009F,
 * which some terminals obey as escapes). */
static int needs_hex(const unsigned char *p, size_t *len)
{
    *len = utf8_len(p);
    if (*len == 0) {
        *len = 1;
        return 1;
    }
    return *len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

static void put_value(line_t *l, const char *v)
{
    int quote = (*v == '\0');
    for (const unsigned char *p = (const unsigned char *)v; *p && !quote; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            quote = 1;
    if (!quote) {
        put(l, v, strlen(v));
        return;
    }
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(l, esc, 2);
        } else if (*p == '\n') {
            put(l, "\\n", 2);
        } else if (*p == '\t') {
            put(l, "\\t", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", *p);
            put(l, esc, 4);
        } else if (*p >= 0x80) {
            size_t n;
            if (needs_hex(p, &n)) {
                for (size_t k = 0; k < n; k++) {
                    snprintf(esc, sizeof(esc), "\\x%02x", p[k]);
                    put(l, esc, 4);
                }
            } else
                put(l, (const char *)p, n);
            p += n - 1;
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

void ferry_log(ferry_log_level_t level, const char *event, ...)
{
    static const char *lv[] = {"debug", "info", "warn", "error"};
    if (!ferry_log_enabled(level) || level > FERRY_LOG_ERROR)
        return;
    line_t l;
    l.n = 0;
    l.cut = 0;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[64];
    int n = snprintf(ts, sizeof(ts),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), lv[level]);
    put(&l, ts, (size_t)n);
    put_value(&l, event ? event : "");
    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        put(&l, " ", 1);
        put(&l, k, strlen(k));
        put(&l, "=", 1);
        put_value(&l, is_secret_name(k) ? "[redacted]" : (v ? v : ""));
    }
    va_end(ap);
    l.b[l.n++] = '\n';
    ssize_t w = write(log_fd, l.b, l.n);
    (void)w;
}
