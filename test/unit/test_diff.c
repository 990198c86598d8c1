/* Unit tests for scheduler/diff.c: the merge-join finds every difference and nothing else,
 * in any interleaving of the two listings' pages, with keys whose byte order differs from
 * locale order; order violations stop the scan; buffering stays bounded when the listers
 * advance together. */
#include "../../scheduler/diff.h"
#include "ferry/error.h"
#include "test.h"

typedef struct {
    char key[40];
    size_t len;
    uint64_t size;
    int64_t mtime;
} item_t;

typedef struct {
    size_t counts[4];
    char last[40];
    size_t last_len;
    int has_last;
    int order_ok;
    size_t emitted;
} result_t;

static int on_emit(void *ud, ferry_diff_kind_t kind, const ferry_obj_t *src, const ferry_obj_t *dst)
{
    result_t *r = ud;
    const ferry_obj_t *o = src ? src : dst;
    if (r->has_last && ferry_key_cmp(r->last, r->last_len, o->key, o->key_len) >= 0)
        r->order_ok = 0;
    memcpy(r->last, o->key, o->key_len);
    r->last_len = o->key_len;
    r->has_last = 1;
    r->counts[kind]++;
    r->emitted++;
    return 0;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int item_cmp(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    return ferry_key_cmp(x->key, x->len, y->key, y->len);
}

/* Make a key whose bytes include upper-case, '/', ' ', and bytes >= 0x80. */
static void make_key(item_t *it, uint64_t id)
{
    static const char alpha[] = "aB/ z~\xc3\xa9\xe4\xb8\xad-";
    size_t n = 0;
    it->key[n++] = alpha[id % 12];
    for (int i = 0; i < 6; i++) {
        it->key[n++] = alpha[(id >> (4 + i * 3)) % 12];
    }
    n += (size_t)snprintf(it->key + n, sizeof(it->key) - n, "%llu", (unsigned long long)id);
    it->len = n;
}

static void push_all(ferry_diff_t *d, item_t *a, size_t na, item_t *b, size_t nb, size_t page)
{
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int side = (int)(next_rand() & 1);
        if (i >= na)
            side = 1;
        if (j >= nb)
            side = 0;
        size_t k = 1 + next_rand() % page;
        for (; k > 0; k--) {
            item_t *it = side == 0 ? (i < na ? &a[i++] : NULL) : (j < nb ? &b[j++] : NULL);
            if (it == NULL)
                break;
            ferry_obj_t o = {it->key, it->len, it->size, it->mtime, NULL, NULL};
            REQUIRE(ferry_diff_push(d, side, &o) == FERRY_OK);
        }
    }
    REQUIRE(ferry_diff_end(d, 0) == FERRY_OK);
    REQUIRE(ferry_diff_end(d, 1) == FERRY_OK);
}

static void test_random_large(void)
{
    const size_t n = 100000;
    item_t *src = calloc(n, sizeof(item_t)), *dst = calloc(n, sizeof(item_t));
    REQUIRE(src && dst);
    size_t ns = 0, nd = 0, want_new = 0, want_changed = 0, want_same = 0, want_extra = 0;
    for (uint64_t id = 0; id < n; id++) {
        uint64_t r = next_rand() % 100;
        item_t it;
        make_key(&it, id);
        it.size = id % 977;
        it.mtime = 1000;
        if (r < 5) { /* source only */
            src[ns++] = it;
            want_new++;
        } else if (r < 10) { /* destination only */
            dst[nd++] = it;
            want_extra++;
        } else if (r < 20) { /* size differs */
            src[ns++] = it;
            it.size += 1;
            dst[nd++] = it;
            want_changed++;
        } else {
            src[ns++] = it;
            dst[nd++] = it;
            want_same++;
        }
    }
    qsort(src, ns, sizeof(item_t), item_cmp);
    qsort(dst, nd, sizeof(item_t), item_cmp);
    result_t r;
    memset(&r, 0, sizeof(r));
    r.order_ok = 1;
    ferry_diff_t *d = ferry_diff_new(FERRY_COMPARE_SIZE, on_emit, &r);
    REQUIRE(d != NULL);
    push_all(d, src, ns, dst, nd, 1000);
    CHECK(ferry_diff_done(d));
    CHECK_INT(r.counts[FERRY_DIFF_NEW], want_new);
    CHECK_INT(r.counts[FERRY_DIFF_EXTRA], want_extra);
    CHECK_INT(r.counts[FERRY_DIFF_CHANGED], want_changed);
    CHECK_INT(r.counts[FERRY_DIFF_UNCHANGED], want_same);
    CHECK(r.order_ok);
    /* pages of <= 1000 from randomly alternating sides: the buffer stays near a few pages */
    CHECK(ferry_diff_peak(d) < 20000);
    ferry_diff_free(d);
    free(src);
    free(dst);
}

static void test_modes_and_errors(void)
{
    result_t r;
    memset(&r, 0, sizeof(r));
    r.order_ok = 1;
    ferry_diff_t *d = ferry_diff_new(FERRY_COMPARE_SIZE_MTIME, on_emit, &r);
    ferry_obj_t s1 = {"a", 1, 10, 2000, "E1", NULL}, d1 = {"a", 1, 10, 1000, "E2", NULL};
    ferry_obj_t s2 = {"b", 1, 10, 500, NULL, NULL}, d2 = {"b", 1, 10, 1000, NULL, NULL};
    CHECK_INT(ferry_diff_push(d, 0, &s1), FERRY_OK);
    CHECK_INT(ferry_diff_push(d, 1, &d1), FERRY_OK);
    CHECK_INT(r.counts[FERRY_DIFF_CHANGED], 1); /* source newer than the copy */
    CHECK_INT(ferry_diff_push(d, 0, &s2), FERRY_OK);
    CHECK_INT(ferry_diff_push(d, 1, &d2), FERRY_OK);
    CHECK_INT(r.counts[FERRY_DIFF_UNCHANGED], 1);
    /* out of order and repeated keys stop the scan */
    ferry_obj_t back = {"a", 1, 1, 0, NULL, NULL};
    CHECK_INT(ferry_diff_push(d, 0, &back), FERRY_EPARSE);
    CHECK_INT(ferry_diff_push(d, 0, &s2), FERRY_EPARSE);
    /* a prefix sorts before its extension; byte 0xC3 after '~' */
    ferry_obj_t p1 = {"b/", 2, 1, 0, NULL, NULL}, p2 = {"b/x", 3, 1, 0, NULL, NULL},
                p3 = {"b~", 2, 1, 0, NULL, NULL}, p4 = {"b\xc3\xa9", 3, 1, 0, NULL, NULL};
    CHECK_INT(ferry_diff_push(d, 0, &p1), FERRY_OK);
    CHECK_INT(ferry_diff_push(d, 0, &p2), FERRY_OK);
    CHECK_INT(ferry_diff_push(d, 0, &p3), FERRY_OK);
    CHECK_INT(ferry_diff_push(d, 0, &p4), FERRY_OK);
    CHECK_INT(ferry_diff_buffered(d, 0), 4);
    CHECK_INT(ferry_diff_end(d, 1), FERRY_OK);
    CHECK_INT(ferry_diff_buffered(d, 0), 0);
    CHECK_INT(r.counts[FERRY_DIFF_NEW], 4);
    CHECK(!ferry_diff_done(d));
    CHECK_INT(ferry_diff_end(d, 0), FERRY_OK);
    CHECK(ferry_diff_done(d));
    CHECK_INT(ferry_diff_push(d, 0, &p4), FERRY_EINVAL); /* after end */
    CHECK(r.order_ok);
    ferry_diff_free(d);
    ferry_diff_free(NULL);
}

static int stop_at_second(void *ud, ferry_diff_kind_t kind, const ferry_obj_t *src,
                          const ferry_obj_t *dst)
{
    int *n = ud;
    return ++*n == 2 ? FERRY_ECANCELED : 0;
}

static void test_emit_error(void)
{
    int n = 0;
    ferry_diff_t *d = ferry_diff_new(FERRY_COMPARE_SIZE, stop_at_second, &n);
    ferry_obj_t a = {"a", 1, 1, 0, NULL, NULL}, b = {"b", 1, 1, 0, NULL, NULL};
    CHECK_INT(ferry_diff_push(d, 0, &a), FERRY_OK);
    CHECK_INT(ferry_diff_push(d, 0, &b), FERRY_OK);
    CHECK_INT(ferry_diff_end(d, 1), FERRY_ECANCELED);
    ferry_diff_free(d);
}

int main(void)
{
    test_random_large();
    test_modes_and_errors();
    test_emit_error();
    return test_summary();
}
