#define _GNU_SOURCE /* strcasestr */
#include "ferry/log.h"
#include "ferry/text.h"

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
static ferry_log_format_t log_format = FERRY_LOG_TEXT;

void ferry_log_setup(ferry_log_level_t min, int fd)
{
    log_min = min;
    log_fd = fd;
}

void ferry_log_set_format(ferry_log_format_t f)
{
    log_format = f == FERRY_LOG_JSON ? FERRY_LOG_JSON : FERRY_LOG_TEXT;
}

int ferry_log_format_parse(const char *s, ferry_log_format_t *out)
{
    if (strcasecmp(s, "text") == 0)
        *out = FERRY_LOG_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = FERRY_LOG_JSON;
    else
        return FERRY_EINVAL;
    return FERRY_OK;
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

/* A field name that may hold a secret: it contains one of these words, in any case. One pass
 * over the name (field names are short and a log line has several: strcasestr per word was a
 * visible part of a line's cost). */
static int is_secret_name(const char *k)
{
    static const struct {
        const char *w;
        size_t n;
    } words[] = {{"secret", 6},         {"token", 5},     {"password", 8},
                 {"authorization", 13}, {"signature", 9}, {"credential", 10}};
    for (const char *p = k; *p; p++) {
        char c = (char)(*p | 0x20); /* ASCII lowercase; other bytes match no word's first */
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            if (c == words[i].w[0] && strncasecmp(p, words[i].w, words[i].n) == 0)
                return 1;
    }
    return 0;
}

/* v quoted: quote and backslash escaped, \n and \t; control bytes (< 0x20, DEL) as \xHH, or
 * \u00HH in JSON; C1 controls (U+0080..U+009F, which some terminals obey as escapes) as \xHH
 * per byte, or \u00HH in JSON; a byte that is not part of valid UTF-8 as \xHH (in JSON the
 * text \\xHH: JSON cannot hold it). */
static void put_quoted(line_t *l, const char *v, int json)
{
    put(l, "\"", 1);
    const unsigned char *end = (const unsigned char *)v + strlen(v);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[16];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(l, esc, 2);
        } else if (*p == '\n') {
            put(l, "\\n", 2);
        } else if (*p == '\t') {
            put(l, "\\t", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x", *p);
            put(l, esc, strlen(esc));
        } else if (*p >= 0x80) {
            size_t n = ferry_utf8_seq_len(p, (size_t)(end - p));
            if (n == 0) { /* one byte at a time */
                snprintf(esc, sizeof(esc), json ? "\\\\x%02x" : "\\x%02x", *p);
                put(l, esc, strlen(esc));
                continue;
            }
            if (!ferry_utf8_is_control(p, n)) {
                put(l, (const char *)p, n);
            } else if (json) { /* U+0080..U+009F: two bytes, C2 80..9F */
                snprintf(esc, sizeof(esc), "\\u%04x", p[1]);
                put(l, esc, 6);
            } else {
                for (size_t k = 0; k < n; k++) {
                    snprintf(esc, sizeof(esc), "\\x%02x", p[k]);
                    put(l, esc, 4);
                }
            }
            p += n - 1;
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
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
    put_quoted(l, v, 0);
}

/* A JSON string: quote, backslash and control bytes escaped (C1 controls as \u0080..\u009f);
 * a byte that is not part of valid UTF-8 is written as the text \xHH (JSON cannot hold it). */
static void put_json(line_t *l, const char *v)
{
    put_quoted(l, v, 1);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, no NUL) into out; returns 24. The part up to the
 * seconds is formatted once per second per thread. */
static size_t format_ts(const struct timeval *tv, char *out)
{
    static _Thread_local time_t sec = (time_t)-1;
    static _Thread_local char head[20];
    if (tv->tv_sec != sec) {
        struct tm tm;
        gmtime_r(&tv->tv_sec, &tm);
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        memcpy(head, tmp, 19);
        sec = tv->tv_sec;
    }
    memcpy(out, head, 19);
    int ms = (int)(tv->tv_usec / 1000);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    return 24;
}

/* Copies the string lit to out + n (out has room: the callers' pieces are short and known).
 * Returns the new length. */
static size_t put_lit(char *out, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    memcpy(out + n, lit, k);
    return n + k;
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
    char ts[96];
    int json = log_format == FERRY_LOG_JSON;
    /* the pieces around the time stamp and the level, per format */
    static const struct {
        const char *ts, *level, *event;
    } head[2] = {{"ts=", " level=", " event="}, {"{\"ts\":\"", "\",\"level\":\"", "\",\"event\":"}};
    size_t n = put_lit(ts, 0, head[json].ts);
    n += format_ts(&tv, ts + n);
    n = put_lit(ts, n, head[json].level);
    n = put_lit(ts, n, lv[level]);
    n = put_lit(ts, n, head[json].event);
    put(&l, ts, n);
    (json ? put_json : put_value)(&l, event ? event : "");
    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        put(&l, json ? "," : " ", 1);
        if (json)
            put_json(&l, k);
        else
            put(&l, k, strlen(k));
        put(&l, json ? ":" : "=", 1);
        (json ? put_json : put_value)(&l, is_secret_name(k) ? "[redacted]" : (v ? v : ""));
    }
    va_end(ap);
    if (json) {
        /* a line cut at the cap is no JSON object: say so in one that is */
        if (l.cut) {
            l.n = 0;
            l.cut = 0;
            put(&l, ts, n);
            put_json(&l, event ? event : "");
            static const char cut[] = ",\"cut\":\"the line was longer than 8 KiB\"";
            put(&l, cut, sizeof(cut) - 1);
        }
        put(&l, "}", 1);
    }
    l.b[l.n++] = '\n';
    ssize_t w = write(log_fd, l.b, l.n);
    (void)w;
}
