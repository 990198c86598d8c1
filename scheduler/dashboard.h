/* ferry scheduler — the dashboard: one page and its assets (scheduler/web/), embedded in the
 * binary at build time (scheduler/web/embed.cmake turns each file into a C array), served by
 * the API at `GET /` and `GET /ui/NAME` without a token (the page holds no data: it reads the
 * API like any client, with the token the user gives it). See docs/dashboard.md.
 *
 * Every asset answer carries its Content-Type, an ETag (a hash of its bytes, computed at
 * build time; If-None-Match answers 304), `Cache-Control: no-cache` (revalidate each time,
 * so an upgraded binary's page is seen at once) and a strict Content-Security-Policy
 * (default-src 'self': no inline script or style, nothing from another origin).
 */
#ifndef FERRY_SCHED_DASHBOARD_H
#define FERRY_SCHED_DASHBOARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_dash_asset_s {
    const char *path;  /* "/" or "/ui/app.js" */
    const char *ctype; /* "text/html; charset=utf-8" */
    const char *etag;  /* "\"16 hex\"" (quotes included) */
    const unsigned char *data;
    size_t len;
} ferry_dash_asset_t;

/* The embedded assets (generated: dashboard_assets.c in the build tree). */
extern const ferry_dash_asset_t ferry_dash_assets[];
extern const size_t ferry_dash_nassets;

/* The content security policy sent with every asset. */
#define FERRY_DASH_CSP                                                                             \
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The asset served at path (the request path without its query), or NULL. Static storage.
 * Pure. */
const ferry_dash_asset_t *ferry_dash_find(const char *path);

/* 1 when an If-None-Match header value (a comma-separated list of entity tags, weak "W/"
 * ones included, or "*") names etag (quotes included). Pure (fuzzed: test/fuzz/fuzz_api.c). */
int ferry_dash_etag_match(const char *inm, const char *etag);

struct MHD_Connection;

/* Queue the answer to GET/HEAD path on c: the asset (200, or 304 when the If-None-Match
 * header names its ETag) or 404. *status gets the status queued. Returns libmicrohttpd's
 * MHD_YES / MHD_NO (as an int). */
int ferry_dashboard_serve(struct MHD_Connection *c, const char *path, unsigned *status);

#ifdef __cplusplus
}
#endif
#endif
