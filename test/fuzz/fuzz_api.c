/* Fuzz the HTTP API's request parsing (scheduler/api.h): routing of any method and path, the
 * Authorization header, counts from the query string, the token comparison, and the
 * dashboard's If-None-Match matching (dashboard.h). Input: up to four NUL- or
 * newline-separated fields: method, path, Authorization (and If-None-Match) value, count. */
#include "fuzz.h"
#include "api.h"
#include "dashboard.h"

#include "ferry/task.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    char *f[4] = {s, "", "", ""};
    int nf = 1;
    for (char *p = s; *p && nf < 4; p++)
        if (*p == '\n') {
            *p = '\0';
            f[nf++] = p + 1;
        }
    ferry_api_route_t rt;
    int rc = ferry_api_route(f[0], f[1], &rt);
    if (rc == FERRY_OK) {
        if (rt.id < FERRY_API_HEALTHZ || rt.id > FERRY_API_SCALE)
            __builtin_trap();
        if (rt.task[0] && !ferry_task_name_valid(rt.task))
            __builtin_trap();
        if (rt.key && (rt.key < f[1] || rt.key > f[1] + strlen(f[1])))
            __builtin_trap();
        if ((rt.id == FERRY_API_EVENTS || rt.id == FERRY_API_RETRY) != rt.write)
            __builtin_trap();
    } else if (rc != FERRY_ENOTFOUND && rc != FERRY_EINVAL)
        __builtin_trap();
    const char *tok;
    size_t len;
    if (ferry_api_bearer(f[2], &tok, &len) == FERRY_OK) {
        if (len == 0 || len > FERRY_API_TOKEN_MAX || tok < f[2] || tok + len > f[2] + strlen(f[2]))
            __builtin_trap();
        if (!ferry_api_token_eq(tok, len, tok, len))
            __builtin_trap();
        if (len > 1 && ferry_api_token_eq(tok, len, tok, len - 1))
            __builtin_trap();
    }
    if (ferry_dash_etag_match(f[2], "\"0123456789abcdef\"") && strchr(f[2], '*') == NULL &&
        strstr(f[2], "\"0123456789abcdef\"") == NULL)
        __builtin_trap();
    (void)ferry_dash_find(f[1]);
    size_t n;
    if (ferry_api_parse_count(f[3], 7, 1000, &n) == FERRY_OK && (n < 1 || n > 1000))
        __builtin_trap();
    free(s);
    return 0;
}
