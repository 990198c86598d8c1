/* Unit tests for worker/plan.c: plan choice and part sizing at the limits, part ranges
 * covering the object exactly, and the metadata rule. */
#include "../../worker/plan.h"
#include "test.h"

static void check_cover(const ferry_plan_t *p)
{
    uint64_t next = 0, first, last;
    for (uint32_t i = 0; i < p->parts; i++) {
        ferry_plan_part_range(p, i, &first, &last);
        CHECK(first == next);
        CHECK(last >= first);
        next = last + 1;
    }
    CHECK(next == p->size);
}

static void test_plan(void)
{
    ferry_plan_t p;
    ferry_error_t e;
    CHECK_INT(ferry_plan_make(0, 0, 0, 0, &p, &e), FERRY_OK);
    CHECK_INT(p.kind, FERRY_PLAN_SINGLE);
    CHECK_INT(ferry_plan_make(64 * FERRY_MIB, 0, 0, 0, &p, &e), FERRY_OK);
    CHECK_INT(p.kind, FERRY_PLAN_SINGLE);
    CHECK_INT(ferry_plan_make(64 * FERRY_MIB + 1, 0, 0, 0, &p, &e), FERRY_OK);
    CHECK_INT(p.kind, FERRY_PLAN_MULTIPART);
    CHECK(p.part_size == 16 * FERRY_MIB);
    CHECK_INT(p.parts, 5);
    check_cover(&p);
    CHECK_INT(ferry_plan_make(64 * FERRY_MIB + 1, 0, 0, 1, &p, &e), FERRY_OK);
    CHECK_INT(p.kind, FERRY_PLAN_SERVER_PARTS);
    CHECK_INT(ferry_plan_make(10, 0, 0, 1, &p, &e), FERRY_OK);
    CHECK_INT(p.kind, FERRY_PLAN_SERVER_COPY);
    /* a configured part below S3's minimum is raised to 5 MiB */
    CHECK_INT(ferry_plan_make(100 * FERRY_MIB, 1, 1024, 0, &p, &e), FERRY_OK);
    CHECK(p.part_size == FERRY_S3_MIN_PART);
    CHECK_INT(p.parts, 20);
    check_cover(&p);
    /* 1 TiB: 16 MiB parts would need 65,536 parts; size/10,000 -> 105 MiB (rounded up) */
    uint64_t tib = 1024ull * 1024 * FERRY_MIB;
    CHECK_INT(ferry_plan_make(tib, 0, 0, 0, &p, &e), FERRY_OK);
    CHECK(p.part_size == 105 * FERRY_MIB);
    CHECK(p.parts <= FERRY_S3_MAX_PARTS);
    check_cover(&p);
    /* the largest object S3 holds still fits in 10,000 parts of <= 5 GiB */
    CHECK_INT(ferry_plan_make(FERRY_S3_MAX_OBJECT, 0, 0, 0, &p, &e), FERRY_OK);
    CHECK(p.parts <= FERRY_S3_MAX_PARTS);
    CHECK(p.part_size <= FERRY_S3_MAX_PART);
    check_cover(&p);
    CHECK_INT(ferry_plan_make(FERRY_S3_MAX_OBJECT + 1, 0, 0, 0, &p, &e), FERRY_ERANGE);
    CHECK(strstr(e.msg, "S3 holds at most") != NULL);
    /* a threshold above 5 GiB still cannot make a single PUT above 5 GiB */
    CHECK_INT(ferry_plan_make(6 * 1024 * FERRY_MIB, 100 * 1024 * FERRY_MIB, 0, 0, &p, &e),
              FERRY_OK);
    CHECK_INT(p.kind, FERRY_PLAN_MULTIPART);
}

/* Issue 12 item 12: a Kodo source's parts must be whole 4 MiB qetag blocks at every size up
 * to the 10,000-part limit (the plan used to round the part size to 1 MiB, so above ~157 GiB
 * parts stopped being whole blocks and the qetag check was skipped). */
#ifndef KODO_PLAN /* the old code had only ferry_plan_make: -DKODO_PLAN_OLD shows it failing */
#define KODO_PLAN(sz, ps, p, e) ferry_plan_make_aligned(sz, 0, ps, 0, 4 * FERRY_MIB, p, e)
#endif
static void test_plan_kodo(void)
{
    ferry_plan_t p;
    ferry_error_t e;
    const uint64_t gib = 1024 * FERRY_MIB, blk = 4 * FERRY_MIB;
    const uint64_t sizes[] = {64 * FERRY_MIB + 1,
                              160000 * FERRY_MIB,     /* 16 MiB x 10,000: still 16 MiB parts */
                              160000 * FERRY_MIB + 1, /* needs 17 MiB: must be 20 MiB */
                              157 * gib,
                              158 * gib,
                              200 * gib + 12345,
                              1024 * gib,
                              39 * gib + 7,
                              FERRY_S3_MAX_OBJECT - 1,
                              FERRY_S3_MAX_OBJECT};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        CHECK_INT(KODO_PLAN(sizes[i], 16 * FERRY_MIB, &p, &e), FERRY_OK);
        CHECK_INT(p.kind, FERRY_PLAN_MULTIPART);
        CHECK(p.part_size % blk == 0);
        CHECK(p.parts <= FERRY_S3_MAX_PARTS);
        CHECK(p.part_size <= FERRY_S3_MAX_PART);
        CHECK(p.part_size >= FERRY_S3_MIN_PART);
        check_cover(&p);
        if (p.part_size % blk)
            fprintf(stderr, "size %llu: part size %llu is not whole 4 MiB blocks\n",
                    (unsigned long long)sizes[i], (unsigned long long)p.part_size);
    }
    /* the minimum part (5 MiB) becomes two whole blocks */
    CHECK_INT(KODO_PLAN(100 * FERRY_MIB, 1024, &p, &e), FERRY_OK);
    CHECK(p.part_size == 8 * FERRY_MIB);
}

static void test_meta(void)
{
    ferry_buf_t b;
    ferry_error_t e;
    size_t dropped;
    ferry_meta_t m[] = {{"origin", "camera"}, {"city", "\xe4\xb8\x8a\xe6\xb5\xb7"}};
    ferry_buf_init(&b, 1 << 16);
    CHECK_INT(ferry_meta_apply(m, 2, 0, &b, &dropped, &e), FERRY_OK);
    CHECK_INT(dropped, 0);
    CHECK_STR(ferry_buf_cstr(&b),
              "x-amz-meta-city: =?UTF-8?B?5LiK5rW3?=\nx-amz-meta-origin: camera\n");
    ferry_buf_free(&b);

    /* 4 KB of metadata into 2 KB: entries in name order while they fit, plus the marker */
    static char big[8][600];
    ferry_meta_t many[8];
    for (int i = 0; i < 8; i++) {
        memset(big[i], 'a' + i, 499);
        big[i][499] = '\0';
        static char names[8][8];
        snprintf(names[i], sizeof(names[i]), "k%d", 7 - i);
        many[i].name = names[i];
        many[i].value = big[i];
    }
    ferry_buf_init(&b, 1 << 16);
    CHECK_INT(ferry_meta_apply(many, 8, 0, &b, &dropped, &e), FERRY_OK);
    CHECK_INT(dropped, 4);
    CHECK(strstr(ferry_buf_cstr(&b), "x-amz-meta-k0: ") != NULL);
    CHECK(strstr(ferry_buf_cstr(&b), "x-amz-meta-k3: ") != NULL);
    CHECK(strstr(ferry_buf_cstr(&b), "x-amz-meta-k4: ") == NULL);
    CHECK(strstr(ferry_buf_cstr(&b), "x-amz-meta-ferry-dropped: 4\n") != NULL);
    /* what is sent fits the limit */
    size_t sent = 0;
    const char *s = ferry_buf_cstr(&b);
    for (const char *line = s; *line;) {
        const char *colon = strchr(line, ':'), *nl = strchr(line, '\n');
        sent += (size_t)(colon - line) - strlen("x-amz-meta-") + (size_t)(nl - colon - 2);
        line = nl + 1;
    }
    CHECK(sent <= FERRY_S3_META_LIMIT);
    ferry_buf_free(&b);

    ferry_meta_t bad[] = {{"Upper", "x"}};
    ferry_buf_init(&b, 1 << 16);
    CHECK_INT(ferry_meta_apply(bad, 1, 0, &b, &dropped, &e), FERRY_EINVAL);
    CHECK(strstr(e.msg, "Upper") != NULL);
    ferry_buf_free(&b);
}

int main(void)
{
    test_plan();
    test_plan_kodo();
    test_meta();
    return test_summary();
}
