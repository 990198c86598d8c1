/* ferry scheduler — HTTP API request parsing: routes, bearer tokens, counts (see api.h). Pure
 * functions, fuzzed by test/fuzz/fuzz_api.c. */
#include "api.h"

#include "ferry/check.h"
#include "ferry/task.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy the path segment at *p (up to '/' or the end) into task, advancing *p past it. 0 when
 * the segment is a valid task name. */
static int take_task(const char **p, char *task, size_t n)
{
    const char *s = *p, *e = strchr(s, '/');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == 0 || len >= n)
        return -1;
    memcpy(task, s, len);
    task[len] = '\0';
    *p = s + len;
    return ferry_task_name_valid(task) ? 0 : -1;
}

int ferry_api_route(const char *method, const char *path, ferry_api_route_t *out)
{
    memset(out, 0, sizeof(*out));
    if (method == NULL || path == NULL)
        return FERRY_ENOTFOUND;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    int want_post = 0;
    if (strcmp(path, "/") == 0 || strncmp(path, "/ui/", 4) == 0) {
        out->id = FERRY_API_DASHBOARD; /* the page and its assets (dashboard.c) */
        out->key = path;
    } else if (strcmp(path, "/healthz") == 0)
        out->id = FERRY_API_HEALTHZ;
    else if (strcmp(path, "/readyz") == 0)
        out->id = FERRY_API_READYZ;
    else if (strcmp(path, "/metrics") == 0)
        out->id = FERRY_API_METRICS;
    else if (strcmp(path, "/v1/scale") == 0)
        out->id = FERRY_API_SCALE;
    else if (strcmp(path, "/v1/tasks") == 0 || strcmp(path, "/v1/tasks/") == 0)
        out->id = FERRY_API_TASKS;
    else if (strncmp(path, "/v1/tasks/", 10) == 0) {
        const char *p = path + 10;
        if (take_task(&p, out->task, sizeof(out->task)))
            return FERRY_ENOTFOUND;
        if (*p == '\0' || strcmp(p, "/") == 0)
            out->id = FERRY_API_TASK;
        else if (strcmp(p, "/objects") == 0 || strcmp(p, "/objects/") == 0)
            out->id = FERRY_API_OBJECTS;
        else if (strncmp(p, "/objects/", 9) == 0) {
            out->id = FERRY_API_OBJECT;
            out->key = p + 9;
        } else if (strcmp(p, "/complete") == 0)
            out->id = FERRY_API_COMPLETE;
        else if (strcmp(p, "/failures") == 0)
            out->id = FERRY_API_FAILURES;
        else if (strcmp(p, "/throughput") == 0)
            out->id = FERRY_API_THROUGHPUT;
        else if (strcmp(p, "/events") == 0) {
            out->id = FERRY_API_EVENTS;
            want_post = out->write = 1;
        } else if (strcmp(p, "/retry") == 0) {
            out->id = FERRY_API_RETRY;
            want_post = out->write = 1;
        } else
            return FERRY_ENOTFOUND;
    } else
        return FERRY_ENOTFOUND;
    if (want_post ? !post : !get)
        return FERRY_EINVAL;
    return FERRY_OK;
}

int ferry_api_bearer(const char *h, const char **tok, size_t *len)
{
    *tok = NULL;
    *len = 0;
    if (h == NULL)
        return FERRY_EINVAL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return FERRY_EINVAL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n > FERRY_API_TOKEN_MAX)
        return FERRY_EINVAL;
    *tok = h;
    *len = n;
    return FERRY_OK;
}

int ferry_api_token_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    uint8_t ha[32], hb[32];
    ferry_sha256(a, alen, ha);
    ferry_sha256(b, blen, hb);
    volatile uint8_t diff = 0;
    for (int i = 0; i < 32; i++)
        diff |= (uint8_t)(ha[i] ^ hb[i]);
    return diff == 0 && alen == blen;
}

int ferry_api_parse_count(const char *s, size_t dflt, size_t max, size_t *out)
{
    *out = dflt;
    if (s == NULL || *s == '\0')
        return FERRY_OK;
    size_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 19)
            return FERRY_EINVAL;
        v = v * 10 + (size_t)(*p - '0');
    }
    if (v < 1 || v > max)
        return FERRY_EINVAL;
    *out = v;
    return FERRY_OK;
}
