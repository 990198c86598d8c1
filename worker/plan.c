#include "plan.h"

#include "ferry/check.h"

#include <stdlib.h>
#include <string.h>

int ferry_plan_make(uint64_t size, uint64_t threshold, uint64_t part_size, int server_side,
                    ferry_plan_t *out, ferry_error_t *err)
{
    return ferry_plan_make_aligned(size, threshold, part_size, server_side, FERRY_MIB, out, err);
}

int ferry_plan_make_aligned(uint64_t size, uint64_t threshold, uint64_t part_size, int server_side,
                            uint64_t align, ferry_plan_t *out, ferry_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (align < FERRY_MIB || (align & (align - 1)) != 0 || FERRY_S3_MAX_PART % align != 0)
        return ferry_error_set(err, FERRY_EINVAL,
                               "internal: part alignment %llu is not a power of two of 1 MiB "
                               "or more",
                               (unsigned long long)align);
    out->size = size;
    if (threshold == 0)
        threshold = 64 * FERRY_MIB;
    if (part_size == 0)
        part_size = 16 * FERRY_MIB;
    if (size > FERRY_S3_MAX_OBJECT)
        return ferry_error_set(err, FERRY_ERANGE,
                               "the object has %llu bytes; S3 holds at most %llu per object",
                               (unsigned long long)size, (unsigned long long)FERRY_S3_MAX_OBJECT);
    if (size <= threshold && size <= FERRY_S3_MAX_PUT) {
        out->kind = server_side ? FERRY_PLAN_SERVER_COPY : FERRY_PLAN_SINGLE;
        out->parts = 1;
        return FERRY_OK;
    }
    /* size / 10,000 rounded up, then up to a whole multiple of align */
    uint64_t need = (size + FERRY_S3_MAX_PARTS - 1) / FERRY_S3_MAX_PARTS;
    need = (need + align - 1) / align * align;
    uint64_t ps = part_size > need ? part_size : need;
    if (ps < FERRY_S3_MIN_PART)
        ps = FERRY_S3_MIN_PART;
    if (align > FERRY_MIB) /* a configured size too (1 MiB: taken as given, as always) */
        ps = (ps + align - 1) / align * align;
    if (ps > FERRY_S3_MAX_PART)
        ps = FERRY_S3_MAX_PART; /* a multiple of align (checked above) */
    out->kind = server_side ? FERRY_PLAN_SERVER_PARTS : FERRY_PLAN_MULTIPART;
    out->part_size = ps;
    out->parts = (uint32_t)((size + ps - 1) / ps);
    return FERRY_OK;
}

void ferry_plan_part_range(const ferry_plan_t *p, uint32_t i, uint64_t *first, uint64_t *last)
{
    if (p->parts <= 1 || p->part_size == 0) {
        *first = 0;
        *last = p->size ? p->size - 1 : 0;
        return;
    }
    *first = (uint64_t)i * p->part_size;
    uint64_t end = *first + p->part_size;
    if (end > p->size)
        end = p->size;
    *last = end - 1;
}

static int meta_cmp(const void *a, const void *b)
{
    return strcmp(((const ferry_meta_t *)a)->name, ((const ferry_meta_t *)b)->name);
}

static int needs_encoding(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return 1;
    return 0;
}

static int name_ok(const char *n)
{
    if (*n == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return 0;
    return 1;
}

int ferry_meta_apply(const ferry_meta_t *in, size_t n, size_t limit, ferry_buf_t *out,
                     size_t *dropped, ferry_error_t *err)
{
    int rc = FERRY_OK;
    ferry_meta_t *sorted = NULL;
    char **values = NULL;
    *dropped = 0;
    if (limit == 0)
        limit = FERRY_S3_META_LIMIT;
    if (n == 0)
        return FERRY_OK;
    sorted = malloc(n * sizeof(*sorted));
    values = calloc(n, sizeof(*values));
    if (sorted == NULL || values == NULL) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(sorted, in, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), meta_cmp);
    /* Encode values first: sizes are counted as sent. */
    for (size_t i = 0; i < n; i++) {
        if (!name_ok(sorted[i].name)) {
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "user metadata name \"%.64s\" cannot be sent to S3 (want "
                                 "lowercase letters, digits, '-', '_', '.')",
                                 sorted[i].name);
            goto out;
        }
        const char *v = sorted[i].value ? sorted[i].value : "";
        if (needs_encoding(v)) {
            size_t vl = strlen(v);
            values[i] = malloc(ferry_b64_len(vl) + 16);
            if (values[i] == NULL) {
                rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(values[i], "=?UTF-8?B?", 10);
            ferry_b64((const uint8_t *)v, vl, values[i] + 10);
            strcat(values[i], "?=");
        } else {
            values[i] = strdup(v);
            if (values[i] == NULL) {
                rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    /* Take entries while they fit; if any is left out, keep room for the marker. */
    const size_t marker = strlen("ferry-dropped") + 5; /* name + up to 5 digits */
    size_t total = 0, taken = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(sorted[i].name) + strlen(values[i]);
    size_t budget = total <= limit ? limit : (limit > marker ? limit - marker : 0);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sz = strlen(sorted[i].name) + strlen(values[i]);
        if (used + sz > budget)
            continue;
        used += sz;
        taken++;
        if ((rc = ferry_buf_addf(out, "x-amz-meta-%s: %s\n", sorted[i].name, values[i])))
            goto out;
    }
    *dropped = n - taken;
    if (*dropped && (rc = ferry_buf_addf(out, "x-amz-meta-ferry-dropped: %zu\n", *dropped)))
        goto out;
out:
    if (values)
        for (size_t i = 0; i < n; i++)
            free(values[i]);
    free(values);
    free(sorted);
    return rc;
}
