/* ferry scheduler — serving the embedded dashboard (see dashboard.h, docs/dashboard.md). */
#include "dashboard.h"

#include <microhttpd.h>

#include <string.h>

const ferry_dash_asset_t *ferry_dash_find(const char *path)
{
    if (path == NULL)
        return NULL;
    if (strcmp(path, "/index.html") == 0)
        path = "/";
    for (size_t i = 0; i < ferry_dash_nassets; i++)
        if (strcmp(ferry_dash_assets[i].path, path) == 0)
            return &ferry_dash_assets[i];
    return NULL;
}

int ferry_dash_etag_match(const char *inm, const char *etag)
{
    if (inm == NULL || etag == NULL || etag[0] == '\0')
        return 0;
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0) /* a weak comparison is what If-None-Match uses */
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

static void common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", FERRY_DASH_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

int ferry_dashboard_serve(struct MHD_Connection *c, const char *path, unsigned *status)
{
    const ferry_dash_asset_t *a = ferry_dash_find(path);
    struct MHD_Response *r;
    unsigned st;
    if (a == NULL) {
        static const char msg[] = "no such page: the dashboard is at /\n";
        r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        st = MHD_HTTP_NOT_FOUND;
    } else {
        const char *inm =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        int same = ferry_dash_etag_match(inm, a->etag);
        r = MHD_create_response_from_buffer(same ? 0 : a->len, same ? (void *)"" : (void *)a->data,
                                            MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
        if (!same)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        st = same ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
    }
    common_headers(r);
    *status = st;
    enum MHD_Result ret = MHD_queue_response(c, st, r);
    MHD_destroy_response(r);
    return ret;
}
