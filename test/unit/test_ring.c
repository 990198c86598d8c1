/* Unit tests for worker/ring.c: all-or-nothing writes, wrap-around, byte-exact streaming of
 * a large pseudo-random stream through a small ring with random chunk sizes. */
#include "../../worker/ring.h"
#include "ferry/check.h"
#include "ferry/error.h"
#include "test.h"

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

int main(void)
{
    ferry_ring_t r;
    CHECK_INT(ferry_ring_init(&r, 0), FERRY_EINVAL);
    REQUIRE(ferry_ring_init(&r, 10) == FERRY_OK);
    CHECK_INT(ferry_ring_write(&r, "abcdefg", 7), 7);
    CHECK_INT(ferry_ring_write(&r, "hijk", 4), 0); /* does not fit: nothing taken */
    CHECK_INT(ferry_ring_used(&r), 7);
    CHECK(ferry_ring_write(&r, "01234567890", 11) == (size_t)-1);
    char out[16] = {0};
    CHECK_INT(ferry_ring_read(&r, out, 5), 5);
    CHECK(memcmp(out, "abcde", 5) == 0);
    CHECK_INT(ferry_ring_write(&r, "hijkl", 5), 5); /* wraps */
    memset(out, 0, sizeof(out));
    CHECK_INT(ferry_ring_read(&r, out, 16), 7);
    CHECK_STR(out, "fghijkl");
    CHECK_INT(ferry_ring_read(&r, out, 4), 0);
    ferry_ring_free(&r);
    ferry_ring_free(&r); /* twice is fine */

    /* 64 MiB through a 256 KiB ring, random chunk sizes on both sides: CRC in == CRC out */
    REQUIRE(ferry_ring_init(&r, 256 * 1024) == FERRY_OK);
    const uint64_t total = 64ull << 20;
    uint64_t produced = 0, consumed = 0, crc_in = 0, crc_out = 0;
    static uint8_t chunk[64 * 1024], sink[80 * 1024];
    size_t pending = 0; /* a chunk offered but not taken (the writer is "paused") */
    while (consumed < total) {
        if (pending == 0 && produced < total) {
            pending = 1 + rnd() % sizeof(chunk);
            if (pending > total - produced)
                pending = (size_t)(total - produced);
            for (size_t i = 0; i < pending; i++)
                chunk[i] = (uint8_t)((produced + i) * 2654435761u >> 13);
        }
        if (pending) {
            size_t w = ferry_ring_write(&r, chunk, pending);
            if (w == pending) {
                crc_in = ferry_crc64_update(crc_in, chunk, pending);
                produced += pending;
                pending = 0;
            } else {
                REQUIRE(w == 0);
            }
        }
        size_t want = 1 + rnd() % sizeof(sink);
        size_t got = ferry_ring_read(&r, sink, want);
        crc_out = ferry_crc64_update(crc_out, sink, got);
        consumed += got;
    }
    CHECK(crc_in == crc_out);
    CHECK(r.total_in == total && r.total_out == total);
    ferry_ring_free(&r);

    /* the cache hands a freed buffer to the next ring of the same size, empty */
    ferry_ring_t a, b, c;
    REQUIRE(ferry_ring_init_cached(&a, 4096) == FERRY_OK);
    CHECK_INT((int)ferry_ring_write(&a, "abc", 3), 3);
    uint8_t *abuf = a.buf;
    ferry_ring_free_cached(&a);
    CHECK(a.buf == NULL);
    REQUIRE(ferry_ring_init_cached(&b, 4096) == FERRY_OK);
    CHECK(b.buf == abuf);
    CHECK_INT((int)ferry_ring_used(&b), 0);
    CHECK_INT((int)b.cap, 4096);
    /* another size is not served from it, and retires the old size */
    REQUIRE(ferry_ring_init_cached(&c, 8192) == FERRY_OK);
    CHECK(c.buf != abuf);
    CHECK_INT((int)c.cap, 8192);
    ferry_ring_free_cached(&c);
    ferry_ring_free_cached(&b); /* 4096 again: the 8192 one is freed */
    REQUIRE(ferry_ring_init_cached(&c, 8192) == FERRY_OK);
    CHECK_INT((int)c.cap, 8192);
    ferry_ring_free(&c);
    /* at most FERRY_RING_CACHE_MAX kept: the rest go back to the C library */
    ferry_ring_t many[FERRY_RING_CACHE_MAX + 4];
    for (int i = 0; i < FERRY_RING_CACHE_MAX + 4; i++)
        REQUIRE(ferry_ring_init_cached(&many[i], 4096) == FERRY_OK);
    for (int i = 0; i < FERRY_RING_CACHE_MAX + 4; i++)
        ferry_ring_free_cached(&many[i]);
    ferry_ring_cache_drain();
    REQUIRE(ferry_ring_init_cached(&a, 4096) == FERRY_OK);
    ferry_ring_free(&a);
    return test_summary();
}
