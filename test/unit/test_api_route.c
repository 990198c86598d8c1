/* Unit tests of the HTTP API's request parsing (scheduler/api_route.c): routes and methods,
 * task names, object keys, bearer tokens, counts, and the token comparison. */
#include "api.h"
#include "dashboard.h"

#include "test.h"

#include <string.h>

static int route(const char *m, const char *p, ferry_api_route_t *rt)
{
    return ferry_api_route(m, p, rt);
}

int main(void)
{
    ferry_api_route_t rt;
    CHECK_INT(route("GET", "/healthz", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_HEALTHZ);
    CHECK_INT(route("HEAD", "/readyz", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_READYZ);
    CHECK_INT(route("GET", "/metrics", &rt), FERRY_OK);
    CHECK_INT(route("GET", "/v1/tasks", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_TASKS);
    CHECK_INT(route("GET", "/v1/tasks/", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_TASKS);
    CHECK_INT(route("GET", "/v1/tasks/photos", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_TASK);
    CHECK_STR(rt.task, "photos");
    CHECK_INT(rt.write, 0);

    /* the key is everything after /objects/, slashes included */
    CHECK_INT(route("GET", "/v1/tasks/photos/objects/a/b c.jpg", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_OBJECT);
    CHECK_STR(rt.key, "a/b c.jpg");
    CHECK_INT(route("GET", "/v1/tasks/photos/objects", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_OBJECTS);
    CHECK(rt.key == NULL);
    CHECK_INT(route("GET", "/v1/tasks/photos/complete", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_COMPLETE);
    CHECK_INT(route("GET", "/v1/tasks/photos/failures", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_FAILURES);

    CHECK_INT(route("GET", "/v1/tasks/photos/throughput", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_THROUGHPUT);
    CHECK_INT(rt.write, 0);

    /* the dashboard: / and /ui/ASSET, GET or HEAD only */
    CHECK_INT(route("GET", "/", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_DASHBOARD);
    CHECK_STR(rt.key, "/");
    CHECK_INT(route("HEAD", "/ui/app.js", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_DASHBOARD);
    CHECK_STR(rt.key, "/ui/app.js");
    CHECK_INT(rt.write, 0);
    CHECK_INT(route("POST", "/", &rt), FERRY_EINVAL);
    CHECK(ferry_dash_find("/") != NULL && ferry_dash_find("/index.html") == ferry_dash_find("/"));
    CHECK(ferry_dash_find("/ui/app.js") != NULL);
    CHECK(ferry_dash_find("/ui/nosuch.js") == NULL && ferry_dash_find(NULL) == NULL);
    const char *et = "\"0123456789abcdef\"";
    CHECK(ferry_dash_etag_match(et, et));
    CHECK(ferry_dash_etag_match("W/\"0123456789abcdef\"", et));
    CHECK(ferry_dash_etag_match("\"x\", \"0123456789abcdef\"", et));
    CHECK(ferry_dash_etag_match("*", et));
    CHECK(!ferry_dash_etag_match("\"0123456789abcdef0\"", et));
    CHECK(!ferry_dash_etag_match("\"0123456789abcde\"", et));
    CHECK(!ferry_dash_etag_match("", et));
    CHECK(!ferry_dash_etag_match(NULL, et));
    /* the scaling policy (ferry up, KEDA): a read route */
    CHECK_INT(route("GET", "/v1/scale", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_SCALE);
    CHECK_INT(rt.write, 0);
    CHECK_INT(route("POST", "/v1/scale", &rt), FERRY_EINVAL);
    CHECK_INT(route("GET", "/v1/scale/x", &rt), FERRY_ENOTFOUND);

    /* write routes: POST only */
    CHECK_INT(route("POST", "/v1/tasks/photos/events", &rt), FERRY_OK);
    CHECK_INT(rt.id, FERRY_API_EVENTS);
    CHECK_INT(rt.write, 1);
    CHECK_INT(route("POST", "/v1/tasks/photos/retry", &rt), FERRY_OK);
    CHECK_INT(rt.write, 1);
    CHECK_INT(route("GET", "/v1/tasks/photos/events", &rt), FERRY_EINVAL);
    CHECK_INT(route("PUT", "/v1/tasks/photos/events", &rt), FERRY_EINVAL);
    CHECK_INT(route("POST", "/v1/tasks/photos", &rt), FERRY_EINVAL);
    CHECK_INT(route("DELETE", "/healthz", &rt), FERRY_EINVAL);

    /* unknown routes and task names that are not names */
    CHECK_INT(route("GET", "/index.html", &rt), FERRY_ENOTFOUND);
    CHECK_INT(route("GET", "/v1/tasks/photos/bogus", &rt), FERRY_ENOTFOUND);
    CHECK_INT(route("GET", "/v1/tasks/../x", &rt), FERRY_ENOTFOUND);
    CHECK_INT(route("GET", "/v1/tasks/.hidden", &rt), FERRY_ENOTFOUND);
    CHECK_INT(route("GET", "/v1/tasks//events", &rt), FERRY_ENOTFOUND);
    char longname[200];
    memset(longname, 'a', sizeof(longname));
    memcpy(longname, "/v1/tasks/", 10);
    longname[199] = '\0';
    CHECK_INT(route("GET", longname, &rt), FERRY_ENOTFOUND);
    CHECK_INT(route("GET", "/healthz/", &rt), FERRY_ENOTFOUND);
    CHECK_INT(route(NULL, "/healthz", &rt), FERRY_ENOTFOUND);

    /* bearer tokens */
    const char *tok;
    size_t len;
    CHECK_INT(ferry_api_bearer("Bearer abc", &tok, &len), FERRY_OK);
    CHECK_INT((int)len, 3);
    CHECK(strncmp(tok, "abc", 3) == 0);
    CHECK_INT(ferry_api_bearer("  bearer \t abc  ", &tok, &len), FERRY_OK);
    CHECK_INT((int)len, 3);
    CHECK_INT(ferry_api_bearer("Bearer", &tok, &len), FERRY_EINVAL);
    CHECK_INT(ferry_api_bearer("Bearer    ", &tok, &len), FERRY_EINVAL);
    CHECK_INT(ferry_api_bearer("Bearerabc", &tok, &len), FERRY_EINVAL);
    CHECK_INT(ferry_api_bearer("Basic abc", &tok, &len), FERRY_EINVAL);
    CHECK_INT(ferry_api_bearer(NULL, &tok, &len), FERRY_EINVAL);
    static char huge[FERRY_API_TOKEN_MAX + 16];
    memset(huge, 'x', sizeof(huge) - 1);
    memcpy(huge, "Bearer ", 7);
    CHECK_INT(ferry_api_bearer(huge, &tok, &len), FERRY_EINVAL);

    /* comparison */
    CHECK(ferry_api_token_eq("abc", 3, "abc", 3));
    CHECK(!ferry_api_token_eq("abc", 3, "abd", 3));
    CHECK(!ferry_api_token_eq("abc", 3, "abc", 2));
    CHECK(!ferry_api_token_eq("", 0, "a", 1));

    /* counts */
    size_t n;
    CHECK_INT(ferry_api_parse_count(NULL, 7, 100, &n), FERRY_OK);
    CHECK_INT((int)n, 7);
    CHECK_INT(ferry_api_parse_count("", 7, 100, &n), FERRY_OK);
    CHECK_INT(ferry_api_parse_count("100", 7, 100, &n), FERRY_OK);
    CHECK_INT((int)n, 100);
    CHECK_INT(ferry_api_parse_count("101", 7, 100, &n), FERRY_EINVAL);
    CHECK_INT(ferry_api_parse_count("0", 7, 100, &n), FERRY_EINVAL);
    CHECK_INT(ferry_api_parse_count("-1", 7, 100, &n), FERRY_EINVAL);
    CHECK_INT(ferry_api_parse_count("1x", 7, 100, &n), FERRY_EINVAL);
    CHECK_INT(ferry_api_parse_count("99999999999999999999999", 7, 100, &n), FERRY_EINVAL);
    return test_summary();
}
