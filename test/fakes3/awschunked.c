/* fakes3 — aws-chunked decoder (see awschunked.h for the grammar and the caps). */
#include "awschunked.h"

#include "ferry/check.h"
#include "ferry/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    A_SIZE,     /* in a chunk-size line */
    A_SIZE_LF,  /* CR seen after the size */
    A_DATA,     /* in chunk data */
    A_DATA_CR,  /* after chunk data */
    A_DATA_LF,  /* CR seen after chunk data */
    A_TRL,      /* at the start of a trailer line or of the final CRLF */
    A_TRL_LINE, /* in a trailer line */
    A_TRL_LF,   /* CR seen after a trailer line */
    A_END_LF,   /* CR of the final CRLF seen */
    A_DONE
};

#define E_SIZE    "InvalidChunkSizeError"
#define E_BODY    "IncompleteBody"
#define E_TRAILER "MalformedTrailerError"

/* The one error setter: the first error wins. Always FERRY_EPARSE. */
static int fail(fakes3_awschunked_t *d, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(fakes3_awschunked_t *d, const char *code, const char *fmt, ...)
{
    if (d->code == NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
        d->code = code;
    }
    return FERRY_EPARSE;
}

void fakes3_awschunked_init(fakes3_awschunked_t *d, char *dst, uint64_t want, const char *trailer)
{
    memset(d, 0, sizeof(*d));
    d->dst = dst;
    d->want = want;
    d->state = A_SIZE;
    if (trailer != NULL) {
        size_t i = 0;
        for (; trailer[i] && i + 1 < sizeof(d->trailer); i++)
            d->trailer[i] =
                (char)((trailer[i] >= 'A' && trailer[i] <= 'Z') ? trailer[i] + 32 : trailer[i]);
        d->trailer[i] = '\0';
    }
}

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* A complete trailer line is in d->line: "name:OWS value OWS". */
static int trailer_line(fakes3_awschunked_t *d)
{
    char *colon = strchr(d->line, ':');
    size_t nl = colon ? (size_t)(colon - d->line) : 0;
    for (size_t i = 0; i < nl; i++)
        if (!is_tchar((unsigned char)d->line[i]))
            nl = 0;
    if (nl == 0)
        return fail(d, E_TRAILER, "a trailer line is not \"name:value\": \"%.60s\"", d->line);
    if (d->trailer[0] == '\0')
        return fail(d, E_TRAILER, "unexpected trailer \"%.*s\": no x-amz-trailer was announced",
                    (int)(nl < 60 ? nl : 60), d->line);
    if (strlen(d->trailer) != nl || strncasecmp(d->line, d->trailer, nl) != 0)
        return fail(d, E_TRAILER, "unexpected trailer \"%.*s\": x-amz-trailer announced %s",
                    (int)(nl < 60 ? nl : 60), d->line, d->trailer);
    if (d->have_value)
        return fail(d, E_TRAILER, "the trailer %s was sent twice", d->trailer);
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (vl == 0)
        return fail(d, E_TRAILER, "the trailer %s has an empty value", d->trailer);
    memcpy(d->value, v, vl);
    d->value[vl] = '\0';
    d->have_value = 1;
    return FERRY_OK;
}

int fakes3_awschunked_feed(fakes3_awschunked_t *d, const char *in, size_t n, size_t *used)
{
    size_t i = 0;
    int rc = d->code ? FERRY_EPARSE : FERRY_OK;
    while (rc == FERRY_OK && i < n && d->state != A_DONE) {
        unsigned char ch = (unsigned char)in[i];
        switch (d->state) {
        case A_SIZE: {
            int v = ferry_hex_val(ch);
            if (ch == '\r' && (d->ndig > 0 || d->zeros)) {
                d->state = A_SIZE_LF;
            } else if (v < 0) {
                if (ch == ';')
                    rc = fail(d, E_SIZE,
                              "chunk extensions (;chunk-signature=...) belong to signed "
                              "streaming, which fakes3 does not implement");
                else
                    rc = fail(d, E_SIZE, "bad chunk size: byte 0x%02x at decoded offset %llu", ch,
                              (unsigned long long)d->decoded);
                break;
            } else if (++d->linelen > FAKES3_AWSCHUNKED_LINE_MAX) {
                rc = fail(d, E_SIZE, "a chunk-size line is longer than %d bytes",
                          FAKES3_AWSCHUNKED_LINE_MAX);
                break;
            } else if (v == 0 && d->ndig == 0) {
                d->zeros = 1; /* leading zero */
            } else if (d->ndig == 16) {
                rc = fail(d, E_SIZE, "a chunk size has more than 16 hex digits");
                break;
            } else {
                d->left = d->left * 16 + (uint64_t)v;
                d->ndig++;
                if (d->left > d->want - d->decoded) {
                    rc = fail(d, E_BODY,
                              "a chunk of %llu or more bytes at decoded offset %llu goes past "
                              "x-amz-decoded-content-length (%llu)",
                              (unsigned long long)d->left, (unsigned long long)d->decoded,
                              (unsigned long long)d->want);
                    break;
                }
            }
            i++;
            break;
        }
        case A_SIZE_LF:
            if (ch != '\n') {
                rc = fail(d, E_SIZE, "a chunk-size line does not end with CRLF");
                break;
            }
            d->state = d->left == 0 ? A_TRL : A_DATA;
            i++;
            break;
        case A_DATA: {
            size_t take = n - i;
            if (take > d->left)
                take = (size_t)d->left;
            if (d->dst != NULL)
                memcpy(d->dst + d->decoded, in + i, take);
            d->decoded += take;
            d->left -= take;
            i += take;
            if (d->left == 0)
                d->state = A_DATA_CR;
            break;
        }
        case A_DATA_CR:
        case A_DATA_LF:
            if (ch != (d->state == A_DATA_CR ? '\r' : '\n')) {
                rc = fail(d, E_SIZE,
                          "chunk data is not followed by CRLF at decoded offset %llu (is the "
                          "chunk size right?)",
                          (unsigned long long)d->decoded);
                break;
            }
            if (d->state == A_DATA_CR) {
                d->state = A_DATA_LF;
            } else {
                d->state = A_SIZE;
                d->ndig = 0;
                d->zeros = 0;
                d->linelen = 0;
            }
            i++;
            break;
        case A_TRL:
            if (ch == '\r') {
                d->state = A_END_LF;
                i++;
            } else {
                d->linelen = 0;
                d->state = A_TRL_LINE; /* this byte starts the line: no i++ */
            }
            break;
        case A_TRL_LINE:
            if (ch == '\r') {
                d->line[d->linelen] = '\0';
                d->state = A_TRL_LF;
            } else if ((ch < ' ' && ch != '\t') || ch == 0x7f) {
                rc = fail(d, E_TRAILER, "control byte 0x%02x in a trailer line", ch);
                break;
            } else if (d->linelen == FAKES3_AWSCHUNKED_LINE_MAX) {
                rc = fail(d, E_TRAILER, "a trailer line is longer than %d bytes",
                          FAKES3_AWSCHUNKED_LINE_MAX);
                break;
            } else {
                d->line[d->linelen++] = (char)ch;
            }
            i++;
            break;
        case A_TRL_LF:
            if (ch != '\n') {
                rc = fail(d, E_TRAILER, "a trailer line does not end with CRLF");
                break;
            }
            rc = trailer_line(d);
            d->state = A_TRL;
            i++;
            break;
        case A_END_LF:
            if (ch != '\n') {
                rc = fail(d, E_TRAILER, "the trailer part does not end with an empty line");
                break;
            }
            d->state = A_DONE;
            d->done = 1;
            i++;
            break;
        default:
            rc = fail(d, E_SIZE, "decoder in a bad state");
        }
    }
    *used = i;
    return rc;
}

int fakes3_awschunked_finish(fakes3_awschunked_t *d)
{
    if (d->code != NULL)
        return FERRY_EPARSE;
    if (!d->done) {
        const char *where = d->state == A_DATA  ? "inside a chunk"
                            : d->state >= A_TRL ? "in the trailer"
                            : d->state == A_SIZE && d->ndig == 0 && !d->zeros
                                ? "where a chunk size was due"
                                : "in a chunk size";
        return fail(d, E_BODY,
                    "The request body terminated unexpectedly: the aws-chunked body ended %s "
                    "after %llu decoded bytes",
                    where, (unsigned long long)d->decoded);
    }
    if (d->decoded != d->want)
        return fail(d, E_BODY,
                    "the aws-chunked body decoded to %llu bytes but x-amz-decoded-content-length "
                    "is %llu",
                    (unsigned long long)d->decoded, (unsigned long long)d->want);
    if (d->trailer[0] != '\0' && !d->have_value)
        return fail(d, E_TRAILER, "the trailer %s announced in x-amz-trailer is missing",
                    d->trailer);
    return FERRY_OK;
}
