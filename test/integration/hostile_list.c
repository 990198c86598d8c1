/* hostile_list — a listing server that misbehaves on purpose. See hostile_list.h. */
#include "hostile_list.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const HL_NESTED_KEYS[] = {"in/deep/a/b/k.txt", "in/deep/a/b/l.txt", "in/top.txt",
                                      "in/x/y.txt"};

struct hostile_list_s {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    hl_mode_t mode;
    long hits;
};

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static void add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
}

static void obj_size(sbuf_t *b, const char *key, const char *size)
{
    add(b,
        "<Contents><Key>%s</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        "<ETag>\"9a0364b9e99bb480dd25e1f0284c8555\"</ETag><Size>%s</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>",
        key, size);
}

static void obj(sbuf_t *b, const char *key)
{
    obj_size(b, key, "7");
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v ? v : "";
}

/* HL_DROP_NESTED: a correct listing of HL_NESTED_KEYS but for the dropped prefixes. */
static void nested(sbuf_t *b, const char *prefix, const char *delim, const char *after)
{
    char last_cp[256] = "";
    for (int i = 0; i < HL_NESTED_N; i++) {
        const char *k = HL_NESTED_KEYS[i];
        size_t pl = strlen(prefix);
        if (strncmp(k, prefix, pl) != 0 || strcmp(k, after) <= 0)
            continue;
        const char *rest = k + pl;
        const char *slash = *delim ? strchr(rest, delim[0]) : NULL;
        if (!slash) {
            obj(b, k);
            continue;
        }
        char cp[256];
        snprintf(cp, sizeof(cp), "%.*s", (int)(slash + 1 - k), k);
        if (!strcmp(cp, last_cp))
            continue;
        /* the bug: a folder is reported only if one of its keys sits right in it */
        int direct = 0;
        for (int j = 0; j < HL_NESTED_N; j++)
            if (!strncmp(HL_NESTED_KEYS[j], cp, strlen(cp)) &&
                !strchr(HL_NESTED_KEYS[j] + strlen(cp), delim[0]))
                direct = 1;
        snprintf(last_cp, sizeof(last_cp), "%s", cp);
        if (direct)
            add(b, "<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>", cp);
    }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    hostile_list_t *h = cls;
    (void)version, (void)upload;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    sbuf_t b = {0};
    unsigned status = 200;
    const char *slash = strchr(url + 1, '/');
    if (strcmp(method, "GET") != 0 || (slash && slash[1])) {
        status = 404;
        add(&b, "<Error><Code>NoSuchKey</Code><Message>hostile_list lists only</Message></Error>");
    } else {
        pthread_mutex_lock(&h->mu);
        long hit = ++h->hits;
        hl_mode_t mode = h->mode;
        pthread_mutex_unlock(&h->mu);
        int v2 = !strcmp(arg(c, "list-type"), "2");
        const char *token = arg(c, "continuation-token");
        const char *marker = arg(c, "marker");
        int last = hit >= HL_HIT_CAP;
        char key[32];
        snprintf(key, sizeof(key), "k%07ld", hit);
        add(&b,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>b</Name>"
            "<Prefix>%s</Prefix><MaxKeys>1000</MaxKeys>",
            arg(c, "prefix"));
        switch (mode) {
        case HL_ALT_TOKENS:
            obj(&b, key);
            add(&b, "<IsTruncated>%s</IsTruncated>", last ? "false" : "true");
            if (!last)
                add(&b, "<NextContinuationToken>%s</NextContinuationToken>",
                    !strcmp(token, "A") ? "B" : "A");
            break;
        case HL_MARKER_BACK:
            snprintf(key, sizeof(key), "z%07ld", hit);
            obj(&b, key);
            add(&b, "<IsTruncated>%s</IsTruncated>", last ? "false" : "true");
            if (!last)
                add(&b, "<NextMarker>%s</NextMarker>", !strcmp(marker, "m2") ? "m1" : "m2");
            break;
        case HL_EMPTY_PAGES:
            add(&b, "<IsTruncated>%s</IsTruncated>", last ? "false" : "true");
            if (!last)
                add(&b, "<NextContinuationToken>t%ld</NextContinuationToken>", hit);
            break;
        case HL_OUT_OF_ORDER:
            obj(&b, "in/b");
            obj(&b, "in/a");
            obj(&b, "in/c");
            add(&b, "<IsTruncated>false</IsTruncated>");
            break;
        case HL_HUGE_SIZE:
            obj(&b, "in/a");
            obj_size(&b, "in/huge", "100000000000000000");
            add(&b, "<IsTruncated>false</IsTruncated>");
            break;
        case HL_DROP_NESTED:
            nested(&b, arg(c, "prefix"), arg(c, "delimiter"), v2 ? arg(c, "start-after") : marker);
            add(&b, "<IsTruncated>false</IsTruncated>");
            break;
        }
        if (v2)
            add(&b, "<KeyCount>1</KeyCount>");
        add(&b, "</ListBucketResult>");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/xml");
    MHD_add_response_header(r, "x-amz-request-id", "hostile");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

int hostile_list_start(hostile_list_t **out, char *url, size_t urln)
{
    hostile_list_t *h = calloc(1, sizeof(*h));
    *out = NULL;
    if (!h)
        return -1;
    pthread_mutex_init(&h->mu, NULL);
    h->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, handler, h, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        return -1;
    }
    snprintf(url, urln, "http://127.0.0.1:%d",
             MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT)->port);
    *out = h;
    return 0;
}

void hostile_list_mode(hostile_list_t *h, hl_mode_t mode)
{
    pthread_mutex_lock(&h->mu);
    h->mode = mode;
    h->hits = 0;
    pthread_mutex_unlock(&h->mu);
}

long hostile_list_hits(hostile_list_t *h)
{
    pthread_mutex_lock(&h->mu);
    long n = h->hits;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void hostile_list_stop(hostile_list_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
