/* fakes3 XML: escaping, S3 URL encoding, and the two request bodies we parse (expat). */
#include "fakes3.h"

#include "ferry/error.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fakes3_xml_escape(ferry_buf_t *out, const char *s, size_t n)
{
    int rc = FERRY_OK;
    size_t run = 0; /* bytes copied in one go */
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        char num[16];
        switch (ch) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            if (ch < 0x20 || ch == 0x7f) {
                snprintf(num, sizeof(num), "&#x%X;", ch);
                rep = num;
            }
        }
        if (rep == NULL) {
            run++;
            continue;
        }
        if (run)
            rc = ferry_buf_add(out, s + i - run, run);
        run = 0;
        if (rc == FERRY_OK)
            rc = ferry_buf_adds(out, rep);
    }
    if (rc == FERRY_OK && run)
        rc = ferry_buf_add(out, s + n - run, run);
    return rc;
}

int fakes3_url_encode(ferry_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc;
    char *d = ferry_buf_reserve(out, n * 3, &rc);
    if (d == NULL)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/') {
            d[k++] = (char)ch;
        } else if (ch == ' ') {
            d[k++] = '+';
        } else {
            d[k++] = '%';
            d[k++] = hex[ch >> 4];
            d[k++] = hex[ch & 15];
        }
    }
    ferry_buf_commit(out, k);
    return FERRY_OK;
}

/* ---- request bodies ---------------------------------------------------------------------- */

#define XML_TEXT_MAX  4096
#define XML_DEPTH_MAX 16

typedef struct xctx_s {
    XML_Parser p;
    int depth;
    char path[XML_DEPTH_MAX][32]; /* element names (prefix stripped, truncated) */
    ferry_buf_t text;
    int rc;
    /* Complete */
    fakes3_xml_part_t *parts;
    size_t nparts, cap;
    int have_num, have_etag;
    fakes3_xml_part_t cur;
    /* Delete */
    fakes3_xml_delete_t *del;
    char *curkey;
    size_t curklen;
    int have_key;
} xctx_t;

static const char *local_name(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

static void fail(xctx_t *x, int rc)
{
    if (x->rc == FERRY_OK)
        x->rc = rc;
    XML_StopParser(x->p, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    xctx_t *x = ud;
    (void)attrs;
    if (x->depth >= XML_DEPTH_MAX) {
        fail(x, FERRY_EPARSE);
        return;
    }
    snprintf(x->path[x->depth], sizeof(x->path[0]), "%s", local_name(name));
    x->depth++;
    ferry_buf_reset(&x->text);
    if (strcmp(local_name(name), "Part") == 0 && x->depth == 2) {
        memset(&x->cur, 0, sizeof(x->cur));
        x->have_num = x->have_etag = 0;
    }
    if (strcmp(local_name(name), "Object") == 0 && x->depth == 2)
        x->have_key = 0;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    xctx_t *x = ud;
    if (ferry_buf_add(&x->text, s, (size_t)len) != FERRY_OK)
        fail(x, FERRY_EPARSE);
}

static int parse_partnum(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    if (*s < '0' || *s > '9')
        return FERRY_EPARSE;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint32_t)(*s - '0');
        if (v > 100000)
            return FERRY_EPARSE;
    }
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    if (*s != '\0')
        return FERRY_EPARSE;
    *out = v;
    return FERRY_OK;
}

static void end_complete(xctx_t *x, const char *name)
{
    const char *t = ferry_buf_cstr(&x->text);
    if (x->depth == 3 && strcmp(x->path[1], "Part") == 0) {
        if (strcmp(name, "PartNumber") == 0) {
            if (parse_partnum(t, &x->cur.num) != FERRY_OK) {
                fail(x, FERRY_EPARSE);
                return;
            }
            x->have_num = 1;
        } else if (strcmp(name, "ETag") == 0) {
            if (x->text.len >= sizeof(x->cur.etag)) {
                fail(x, FERRY_EPARSE);
                return;
            }
            memcpy(x->cur.etag, t, x->text.len + 1);
            x->have_etag = 1;
        } else if (strcmp(name, "ChecksumCRC32C") == 0) {
            /* base64 of 4 bytes is 8 characters; anything longer cannot match */
            if (x->text.len == 0 || x->text.len >= sizeof(x->cur.crc32c)) {
                fail(x, FERRY_EPARSE);
                return;
            }
            memcpy(x->cur.crc32c, t, x->text.len + 1);
        }
    } else if (x->depth == 2 && strcmp(name, "Part") == 0) {
        if (!x->have_num || !x->have_etag) {
            fail(x, FERRY_EPARSE);
            return;
        }
        if (x->nparts == 10000) {
            fail(x, FERRY_ETOOBIG);
            return;
        }
        if (x->nparts == x->cap) {
            size_t ncap = x->cap ? x->cap * 2 : 16;
            fakes3_xml_part_t *np = realloc(x->parts, ncap * sizeof(*np));
            if (np == NULL) {
                fail(x, FERRY_ENOMEM);
                return;
            }
            x->parts = np;
            x->cap = ncap;
        }
        x->parts[x->nparts++] = x->cur;
    }
}

static void end_delete(xctx_t *x, const char *name)
{
    fakes3_xml_delete_t *d = x->del;
    if (x->depth == 2 && strcmp(name, "Quiet") == 0) {
        d->quiet = strcmp(ferry_buf_cstr(&x->text), "true") == 0;
    } else if (x->depth == 3 && strcmp(x->path[1], "Object") == 0 && strcmp(name, "Key") == 0) {
        free(x->curkey);
        x->curklen = x->text.len;
        x->curkey = malloc(x->curklen + 1);
        if (x->curkey == NULL) {
            fail(x, FERRY_ENOMEM);
            return;
        }
        memcpy(x->curkey, ferry_buf_cstr(&x->text), x->curklen + 1);
        x->have_key = 1;
    } else if (x->depth == 2 && strcmp(name, "Object") == 0) {
        if (!x->have_key) {
            fail(x, FERRY_EPARSE);
            return;
        }
        if (d->n == 1000) {
            fail(x, FERRY_ETOOBIG);
            return;
        }
        if (d->keys == NULL) {
            d->keys = calloc(1000, sizeof(char *));
            d->klens = calloc(1000, sizeof(size_t));
            if (d->keys == NULL || d->klens == NULL) {
                fail(x, FERRY_ENOMEM);
                return;
            }
        }
        d->keys[d->n] = x->curkey;
        d->klens[d->n] = x->curklen;
        d->n++;
        x->curkey = NULL;
    }
}

static void on_end(void *ud, const XML_Char *name)
{
    xctx_t *x = ud;
    const char *ln = local_name(name);
    if (x->rc != FERRY_OK)
        return;
    if (x->depth == 1) {
        const char *want = x->del ? "Delete" : "CompleteMultipartUpload";
        if (strcmp(ln, want) != 0)
            fail(x, FERRY_EPARSE);
    } else if (x->del) {
        end_delete(x, ln);
    } else {
        end_complete(x, ln);
    }
    x->depth--;
    ferry_buf_reset(&x->text);
}

static int run(xctx_t *x, const char *xml, size_t n)
{
    int rc = FERRY_OK;
    x->p = XML_ParserCreate(NULL);
    ferry_buf_init(&x->text, XML_TEXT_MAX);
    if (x->p == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    if (n > INT32_MAX) {
        rc = FERRY_ETOOBIG;
        goto out;
    }
    if (XML_Parse(x->p, xml, (int)n, XML_TRUE) == XML_STATUS_ERROR && x->rc == FERRY_OK)
        x->rc = FERRY_EPARSE;
    rc = x->rc;
out:
    if (x->p != NULL)
        XML_ParserFree(x->p);
    ferry_buf_free(&x->text);
    free(x->curkey);
    return rc;
}

int fakes3_xml_complete(const char *xml, size_t n, fakes3_xml_part_t **parts, size_t *nparts)
{
    xctx_t x;
    memset(&x, 0, sizeof(x));
    int rc = run(&x, xml, n);
    if (rc == FERRY_OK && x.nparts == 0)
        rc = FERRY_EPARSE;
    if (rc != FERRY_OK) {
        free(x.parts);
        return rc;
    }
    *parts = x.parts;
    *nparts = x.nparts;
    return FERRY_OK;
}

void fakes3_xml_delete_free(fakes3_xml_delete_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->keys[i]);
    free(d->keys);
    free(d->klens);
    memset(d, 0, sizeof(*d));
}

int fakes3_xml_delete(const char *xml, size_t n, fakes3_xml_delete_t *out)
{
    xctx_t x;
    memset(&x, 0, sizeof(x));
    memset(out, 0, sizeof(*out));
    x.del = out;
    int rc = run(&x, xml, n);
    if (rc == FERRY_OK && out->n == 0)
        rc = FERRY_EPARSE;
    if (rc != FERRY_OK)
        fakes3_xml_delete_free(out);
    return rc;
}
