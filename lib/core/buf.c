#include "ferry/buf.h"

#include "ferry/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ferry_buf_init(ferry_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

char *ferry_buf_reserve(ferry_buf_t *b, size_t n, int *rc)
{
    *rc = FERRY_OK;
    if (n > b->max || b->len > b->max - n) {
        *rc = FERRY_ETOOBIG;
        return NULL;
    }
    size_t need = b->len + n + 1; /* + NUL */
    if (need > b->cap) {
        size_t ncap = b->cap ? b->cap : 256; /* URLs, header lines, signatures: one allocation */
        while (ncap < need)
            ncap = ncap > ((size_t)-1) / 2 ? need : ncap * 2;
        if (ncap > b->max + 1)
            ncap = b->max + 1;
        if (ncap < need)
            ncap = need;
        char *p = realloc(b->data, ncap);
        if (p == NULL) {
            *rc = FERRY_ENOMEM;
            return NULL;
        }
        b->data = p;
        b->cap = ncap;
    }
    return b->data + b->len;
}

void ferry_buf_commit(ferry_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

int ferry_buf_add(ferry_buf_t *b, const void *p, size_t n)
{
    int rc;
    char *dst = ferry_buf_reserve(b, n, &rc);
    if (dst == NULL)
        return rc;
    if (n)
        memcpy(dst, p, n);
    ferry_buf_commit(b, n);
    return FERRY_OK;
}

int ferry_buf_adds(ferry_buf_t *b, const char *s)
{
    return ferry_buf_add(b, s, strlen(s));
}

int ferry_buf_vaddf(ferry_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return FERRY_EINVAL;
    int rc;
    char *dst = ferry_buf_reserve(b, (size_t)n, &rc);
    if (dst == NULL)
        return rc;
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return FERRY_OK;
}

int ferry_buf_addf(ferry_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ferry_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void ferry_buf_reset(ferry_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

const char *ferry_buf_cstr(const ferry_buf_t *b)
{
    return b->data ? b->data : "";
}

char *ferry_buf_steal(ferry_buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void ferry_buf_free(ferry_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
