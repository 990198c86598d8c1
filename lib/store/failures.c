/* ferry — failed records grouped by error code, and retry by code (ferry/status.h). */
#include "ferry/errcode.h"
#include "ferry/status.h"

#include <stdlib.h>
#include <string.h>

#define PAGE           1000 /* failed records read from Redis at a time */
#define GROUPS_DEFAULT 1000

typedef struct {
    char code[FERRY_ERRCODE_MAX + 1];
    json_int_t count;
    json_t *keys;  /* owned */
    json_t *error; /* owned: the first record's text */
} group_t;

typedef struct {
    group_t *v;
    size_t n, max;
    json_int_t ungrouped;
} groups_t;

static int group_cmp(const void *x, const void *y)
{
    const group_t *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->code, b->code);
}

static void groups_free(groups_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        json_decref(g->v[i].keys);
        json_decref(g->v[i].error);
    }
    free(g->v);
}

/* Count one failed record in its code's group. FERRY_OK or FERRY_ENOMEM. A linear search:
 * codes are few (a vocabulary, not texts). */
static int groups_add(groups_t *g, json_t *rec, size_t samples)
{
    const char *code = json_string_value(json_object_get(rec, "error_code"));
    if (code == NULL || *code == '\0')
        code = "other";
    size_t k = 0;
    while (k < g->n && strcmp(g->v[k].code, code) != 0)
        k++;
    if (k == g->n) {
        if (g->n >= g->max) {
            g->ungrouped++;
            return FERRY_OK;
        }
        group_t *n = &g->v[g->n];
        memset(n, 0, sizeof(*n));
        snprintf(n->code, sizeof(n->code), "%s", code);
        n->keys = json_array();
        json_t *e = json_object_get(rec, "error");
        n->error = e ? json_incref(e) : json_null();
        if (n->keys == NULL) {
            json_decref(n->error);
            return FERRY_ENOMEM;
        }
        g->n++;
    }
    g->v[k].count++;
    if (json_array_size(g->v[k].keys) < samples &&
        json_array_append(g->v[k].keys, json_object_get(rec, "key")) != 0)
        return FERRY_ENOMEM;
    return FERRY_OK;
}

int ferry_status_failure_groups(ferry_redis_t *r, const char *task, const char *prefix,
                                const char *cursor, size_t limit, size_t samples, size_t max_groups,
                                json_t **out)
{
    *out = NULL;
    groups_t g = {0};
    g.max = max_groups ? max_groups : GROUPS_DEFAULT;
    g.v = calloc(g.max, sizeof(*g.v));
    if (g.v == NULL)
        return FERRY_ENOMEM;
    char cur[FERRY_KEY_MAX + 16], next[FERRY_KEY_MAX + 16];
    snprintf(cur, sizeof(cur), "%s", cursor ? cursor : "");
    next[0] = '\0';
    size_t examined = 0;
    int rc = FERRY_OK;
    while (rc == FERRY_OK && examined < limit) {
        json_t *arr = NULL;
        size_t want = limit - examined < PAGE ? limit - examined : PAGE;
        rc = ferry_status_list(r, task, FERRY_STATE_FAILED, prefix ? prefix : "", cur, want, &arr,
                               next, sizeof(next));
        for (size_t i = 0; rc == FERRY_OK && i < json_array_size(arr); i++)
            rc = groups_add(&g, json_array_get(arr, i), samples);
        examined += json_array_size(arr);
        json_decref(arr);
        if (next[0] == '\0')
            break;
        memcpy(cur, next, sizeof(cur));
    }
    if (rc != FERRY_OK) {
        groups_free(&g);
        return rc;
    }
    qsort(g.v, g.n, sizeof(*g.v), group_cmp);
    json_t *groups = json_array();
    for (size_t k = 0; groups && k < g.n; k++)
        if (json_array_append_new(groups, json_pack("{s:s,s:I,s:O,s:O}", "code", g.v[k].code,
                                                    "count", g.v[k].count, "keys", g.v[k].keys,
                                                    "error", g.v[k].error)) != 0) {
            json_decref(groups);
            groups = NULL;
        }
    json_t *j = groups ? json_pack("{s:o,s:I,s:I,s:b,s:o}", "groups", groups, "examined",
                                   (json_int_t)examined, "ungrouped", g.ungrouped, "complete",
                                   next[0] == '\0', "next_cursor",
                                   next[0] ? json_string(next) : json_null())
                       : NULL;
    groups_free(&g);
    if (j == NULL)
        return FERRY_ENOMEM;
    *out = j;
    return FERRY_OK;
}

int ferry_error_code_selects(const char *sel, const char *code)
{
    if (sel == NULL || code == NULL || *sel == '\0')
        return 0;
    size_t n = strlen(sel);
    return strncmp(sel, code, n) == 0 && (code[n] == '\0' || code[n] == ':');
}

int ferry_status_retry_code(ferry_redis_t *r, const char *task, const char *prefix, const char *sel,
                            long long *requeued)
{
    char cursor[FERRY_KEY_MAX + 16] = "", next[FERRY_KEY_MAX + 16];
    int rc;
    *requeued = 0;
    do {
        json_t *arr = NULL;
        rc = ferry_status_list(r, task, FERRY_STATE_FAILED, prefix ? prefix : "", cursor, PAGE,
                               &arr, next, sizeof(next));
        if (rc)
            break;
        size_t n = json_array_size(arr), m = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        if (keys == NULL) {
            json_decref(arr);
            return FERRY_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *rec = json_array_get(arr, i);
            const char *c = json_string_value(json_object_get(rec, "error_code"));
            const char *k = json_string_value(json_object_get(rec, "key"));
            if (k && k[0] && ferry_error_code_selects(sel, c ? c : "other"))
                keys[m++] = k; /* a record without a key: not ours to touch */
        }
        long long k = 0;
        if (m)
            rc = ferry_status_retry(r, task, FERRY_STATE_FAILED, keys, m, &k, NULL);
        *requeued += k;
        free(keys);
        json_decref(arr);
        memcpy(cursor, next, sizeof(cursor));
    } while (rc == FERRY_OK && cursor[0]);
    return rc;
}
