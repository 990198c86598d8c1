/* ferry — error codes (ferry/errcode.h): from a structured error, and from a stored text. */
#include "ferry/errcode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int code_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == ':' || ch == '.' || ch == '_' || ch == '-';
}

int ferry_error_code_valid(const char *s, size_t n)
{
    if (s == NULL || n == 0 || n > FERRY_ERRCODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!code_char(s[i]))
            return 0;
    return 1;
}

static void put(char *out, size_t n, const char *a, const char *b)
{
    if (n == 0)
        return;
    snprintf(out, n, "%s%s", a, b ? b : "");
}

/* An S3 error code as part of ours: its well-formed leading characters, at most what fits
 * after "dst:". "" when none. */
static void s3_part(const char *s3code, char *out, size_t n)
{
    size_t i = 0;
    for (; s3code && s3code[i] && code_char(s3code[i]) && i + 1 < n && i < FERRY_ERRCODE_MAX - 4;
         i++)
        out[i] = s3code[i];
    out[i] = '\0';
}

/* side:… for an answer of a store: status (0 unknown) and its code ("" none). */
static void store_code(const char *side, long status, const char *s3code, char *out, size_t n)
{
    char pre[8], c[FERRY_ERRCODE_MAX + 1];
    snprintf(pre, sizeof(pre), "%s:", side && *side ? side : "dst");
    s3_part(s3code, c, sizeof(c));
    if (status == 403 ||
        (status == 0 && (!strcmp(c, "AccessDenied") || !strcmp(c, "AllAccessDisabled") ||
                         !strcmp(c, "InvalidAccessKeyId") || !strcmp(c, "SignatureDoesNotMatch"))))
        put(out, n, pre, "403"); /* refused, whatever the store calls it: the text says which */
    else if (!strcmp(c, "NoSuchKey") || (status == 404 && !*c))
        put(out, n, pre, "404");
    else if (!strcmp(c, "SlowDown") || !strcmp(c, "TooManyRequests") ||
             (!*c && (status == 429 || status == 503)))
        put(out, n, pre, "SlowDown");
    else if (status >= 500 || !strcmp(c, "InternalError") || !strcmp(c, "ServiceUnavailable"))
        put(out, n, pre, "5xx");
    else if (*c)
        put(out, n, pre, c);
    else {
        char st[16];
        snprintf(st, sizeof(st), "%ld", status > 0 && status < 1000 ? status : 0L);
        put(out, n, pre, st);
    }
}

static int has(const char *t, const char *needle)
{
    return strstr(t, needle) != NULL;
}

/* Which store a message of the S3 client is about: its hint names the side, else the method
 * (reads go to the source, writes to the destination). */
static const char *side_of_text(const char *t)
{
    if (has(t, "source credentials") || has(t, "source access key") || has(t, "--src-"))
        return "src";
    if (has(t, "destination credentials") || has(t, "destination access key") || has(t, "--dst-"))
        return "dst";
    const char *on = strstr(t, " on ");
    if (on && (!strncmp(on + 4, "GET ", 4) || !strncmp(on + 4, "HEAD ", 5)))
        return "src";
    return "dst";
}

static const char *net_code(const char *t)
{
    if (has(t, "timed out") || has(t, "Timeout") || has(t, "timeout"))
        return "net:timeout";
    if (has(t, "SSL") || has(t, "TLS") || has(t, "certificate"))
        return "tls";
    if (has(t, "connect") || has(t, "resolve") || has(t, "refused"))
        return "net:connect";
    return "net:reset";
}

static const char *checksum_code(const char *t)
{
    if (has(t, "the read was corrupted") || has(t, "the source sent") || has(t, "source stored") ||
        has(t, "differs from the source"))
        return "checksum:src";
    if (has(t, "corrupted in transit") || has(t, "destination") || has(t, "CompleteMultipart") ||
        has(t, "CRC32C") || has(t, "did not confirm"))
        return "checksum:dst";
    return NULL;
}

/* "gave up after 3 attempts: …" and "gave up after 40 deliveries: …": the cause follows. */
static const char *skip_gave_up(const char *t, int *deliveries)
{
    for (int i = 0; i < 4 && !strncmp(t, "gave up after ", 14); i++) {
        const char *p = t + 14;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!strncmp(p, " deliveries", 11))
            *deliveries = 1;
        const char *colon = strstr(p, ": ");
        if (colon == NULL)
            return "";
        t = colon + 2;
    }
    return t;
}

/* The classifier: a code for a text ferry wrote without one. */
static void classify(const char *t, char *out, size_t n)
{
    int deliveries = 0;
    t = skip_gave_up(t, &deliveries);
    if (t[0] == '[') {
        const char *e = strchr(t, ']');
        if (e && ferry_error_code_valid(t + 1, (size_t)(e - t - 1))) {
            snprintf(out, n, "%.*s", (int)(e - t - 1), t + 1);
            return;
        }
    }
    if (*t == '\0') {
        put(out, n, deliveries ? "deliveries" : "other", NULL);
        return;
    }
    const char *said = strstr(t, " said ");
    if (said && strstr(said, " on ")) {
        /* "<STORE> said <S3Code|HTTP nnn> on <METHOD> <scheme>://…: <hint> (<message>)" */
        const char *w = said + 6, *sp = strchr(w, ' ');
        char what[FERRY_ERRCODE_MAX + 1] = "";
        long status = 0;
        if (!strncmp(w, "HTTP ", 5))
            status = strtol(w + 5, NULL, 10);
        else if (sp)
            snprintf(
                what, sizeof(what), "%.*s",
                (int)((size_t)(sp - w) < sizeof(what) - 1 ? (size_t)(sp - w) : sizeof(what) - 1),
                w);
        if (has(t, "check the key's permissions"))
            status = 403; /* the client's hint for a 403 */
        else if (has(t, "still throttled after"))
            status = 503;
        else if (has(t, "kept failing after"))
            status = 500;
        store_code(side_of_text(t), status, what, out, n);
        return;
    }
    if (!strncmp(t, "could not complete ", 19)) {
        put(out, n, net_code(t), NULL);
        return;
    }
    const char *ck;
    if (has(t, "source object is gone") || has(t, "NoSuchKey"))
        put(out, n, "src:404", NULL);
    else if (has(t, "reappeared during the copy") || has(t, "changed while") ||
             has(t, "changed during") || has(t, "object changed since"))
        put(out, n, "changed", NULL);
    else if ((ck = checksum_code(t)) != NULL &&
             (has(t, "differs") || has(t, "does not match") || has(t, "corrupted") ||
              has(t, "without an ETag") || has(t, "did not echo") || has(t, "no CRC32C") ||
              has(t, "did not confirm") || has(t, "returned no") || has(t, "the source sent")))
        put(out, n, ck, NULL);
    else if (has(t, "no source check is possible"))
        put(out, n, "unverifiable", NULL);
    else if (has(t, "archive storage class"))
        put(out, n, "archived", NULL);
    else if (has(t, "delete refused"))
        put(out, n, "stale-delete", NULL);
    else if (has(t, "longer than S3's 1024") || has(t, "cannot be addressed path-style"))
        put(out, n, "key", NULL);
    else if (has(t, "worker is stopping") || has(t, "canceled"))
        put(out, n, "canceled", NULL);
    else if (has(t, "out of memory"))
        put(out, n, "internal", NULL);
    else
        put(out, n, deliveries ? "deliveries" : "other", NULL);
}

void ferry_error_code_for(const ferry_error_t *e, char *out, size_t n)
{
    if (n == 0)
        return;
    out[0] = '\0';
    if (e == NULL || e->code == FERRY_OK)
        return;
    const char *t = e->msg;
    const char *side = e->side[0] ? e->side : NULL;
    const char *ck;
    switch (e->code) {
    case FERRY_ECHECKSUM:
        ck = checksum_code(t);
        put(out, n, ck ? ck : side && !strcmp(side, "src") ? "checksum:src" : "checksum:dst", NULL);
        return;
    case FERRY_ECHANGED:
        put(out, n, "changed", NULL);
        return;
    case FERRY_ETIMEOUT:
        put(out, n, "net:timeout", NULL);
        return;
    case FERRY_ENET:
        put(out, n, net_code(t), NULL);
        return;
    case FERRY_ECANCELED:
        put(out, n, "canceled", NULL);
        return;
    case FERRY_ETOOBIG:
        put(out, n, "size", NULL);
        return;
    case FERRY_EREDIS:
        put(out, n, "redis", NULL);
        return;
    case FERRY_ECONFIG:
        put(out, n, has(t, "SSL") || has(t, "certificate") ? "tls" : "config", NULL);
        return;
    case FERRY_EUNSUPPORTED:
        put(out, n, has(t, "no source check is possible") ? "unverifiable" : "unsupported", NULL);
        return;
    default:
        break;
    }
    if (e->http_status >= 300) {
        store_code(side ? side : side_of_text(t), e->http_status, e->s3_code, out, n);
        return;
    }
    if (e->code == FERRY_EPARSE && side) {
        char pre[8];
        snprintf(pre, sizeof(pre), "%s:", side);
        put(out, n, pre, "bad-reply");
        return;
    }
    classify(t, out, n);
    if (!strcmp(out, "other"))
        put(out, n, "internal", NULL);
}

const char *ferry_error_code_of(const char *text, char *code, size_t n)
{
    if (n)
        code[0] = '\0';
    if (text == NULL || *text == '\0')
        return "";
    if (text[0] == '[') {
        const char *e = memchr(text, ']', strnlen(text, FERRY_ERRCODE_MAX + 2));
        if (e && ferry_error_code_valid(text + 1, (size_t)(e - text - 1))) {
            if (n)
                snprintf(code, n, "%.*s", (int)(e - text - 1), text + 1);
            return e[1] == ' ' ? e + 2 : e + 1;
        }
    }
    if (n)
        classify(text, code, n);
    return text;
}

char *ferry_error_text_coded(char *out, size_t n, const char *code, const char *text)
{
    if (n == 0)
        return out;
    text = text ? text : "";
    if (code && ferry_error_code_valid(code, strlen(code)))
        snprintf(out, n, "[%s] %s", code, text);
    else
        snprintf(out, n, "%s", text);
    return out;
}
