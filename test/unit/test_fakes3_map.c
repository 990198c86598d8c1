/* fakes3 sorted map: random operations against a sorted-array reference. */
#include "map.h"

#include "ferry/error.h"
#include "test.h"

#include <stdint.h>

#define NREF 4096

typedef struct {
    char key[12];
    size_t len;
    uintptr_t val;
} ref_t;

static ref_t ref[NREF];
static size_t nref;

static int cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    return c ? c : (al < bl ? -1 : al > bl);
}

static size_t ref_lower(const char *k, size_t kl, int strict)
{
    size_t i = 0;
    while (i < nref && (strict ? cmp(ref[i].key, ref[i].len, k, kl) <= 0
                               : cmp(ref[i].key, ref[i].len, k, kl) < 0))
        i++;
    return i;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Keys over a small alphabet with bytes 0x00 and 0xff so prefixes and order edges collide. */
static size_t gen_key(char *k)
{
    static const char alpha[] = {'a', 'b', '/', '\0', (char)0xff};
    size_t len = rnd() % 6;
    for (size_t i = 0; i < len; i++)
        k[i] = alpha[rnd() % sizeof(alpha)];
    return len;
}

int main(void)
{
    fakes3_map_t m;
    fakes3_map_init(&m, 1);
    for (int step = 0; step < 200000; step++) {
        char k[12];
        size_t kl = gen_key(k);
        unsigned op = rnd() % 4;
        size_t i = ref_lower(k, kl, 0);
        int present = i < nref && cmp(ref[i].key, ref[i].len, k, kl) == 0;
        if (op == 0) {
            uintptr_t v = (uintptr_t)(rnd() | 1);
            void *old = (void *)1;
            REQUIRE(fakes3_map_put(&m, k, kl, (void *)v, &old) == FERRY_OK);
            CHECK(old == (present ? (void *)ref[i].val : NULL));
            if (present) {
                ref[i].val = v;
            } else if (nref < NREF) {
                memmove(&ref[i + 1], &ref[i], (nref - i) * sizeof(ref_t));
                memcpy(ref[i].key, k, kl);
                ref[i].len = kl;
                ref[i].val = v;
                nref++;
            } else {
                fakes3_map_del(&m, k, kl); /* keep the reference bounded */
            }
        } else if (op == 1) {
            void *v = fakes3_map_del(&m, k, kl);
            CHECK(v == (present ? (void *)ref[i].val : NULL));
            if (present) {
                memmove(&ref[i], &ref[i + 1], (nref - i - 1) * sizeof(ref_t));
                nref--;
            }
        } else if (op == 2) {
            void *v = fakes3_map_get(&m, k, kl);
            CHECK(v == (present ? (void *)ref[i].val : NULL));
        } else {
            int strict = (int)(rnd() % 2);
            size_t j = ref_lower(k, kl, strict);
            const fakes3_map_node_t *n = fakes3_map_seek(&m, k, kl, strict);
            if (j == nref) {
                CHECK(n == NULL);
            } else {
                REQUIRE(n != NULL);
                size_t nl;
                const char *nk = fakes3_map_key(n, &nl);
                CHECK(cmp(nk, nl, ref[j].key, ref[j].len) == 0);
                CHECK((uintptr_t)fakes3_map_val(n) == ref[j].val);
            }
        }
        CHECK_INT(m.count, nref);
    }
    /* Full in-order walk equals the reference. */
    size_t i = 0;
    for (const fakes3_map_node_t *n = fakes3_map_seek(&m, NULL, 0, 0); n;
         n = fakes3_map_next(&m, n), i++) {
        size_t nl;
        const char *nk = fakes3_map_key(n, &nl);
        REQUIRE(i < nref);
        CHECK(cmp(nk, nl, ref[i].key, ref[i].len) == 0);
    }
    CHECK_INT(i, nref);
    fakes3_map_clear(&m, NULL);

    /* Scale: a million ascending keys (the seed pattern) stay logarithmic. */
    fakes3_map_init(&m, 2);
    char key[32];
    for (int k = 0; k < 1000000; k++) {
        int kl = snprintf(key, sizeof(key), "p/%08d", k);
        REQUIRE(fakes3_map_put(&m, key, (size_t)kl, (void *)(uintptr_t)(k + 1), NULL) == FERRY_OK);
    }
    CHECK_INT(m.count, 1000000);
    CHECK((uintptr_t)fakes3_map_get(&m, "p/00654321", 10) == 654322);
    const fakes3_map_node_t *n = fakes3_map_seek(&m, "p/00999999", 10, 1);
    CHECK(n == NULL);
    n = fakes3_map_seek(&m, "p/0050000", 9, 0);
    CHECK(n != NULL && (uintptr_t)fakes3_map_val(n) == 500001);
    for (int k = 0; k < 1000000; k += 2) {
        int kl = snprintf(key, sizeof(key), "p/%08d", k);
        CHECK((uintptr_t)fakes3_map_del(&m, key, (size_t)kl) == (uintptr_t)(k + 1));
    }
    CHECK_INT(m.count, 500000);
    fakes3_map_clear(&m, NULL);
    return test_summary();
}
