/* ferry — MD5 (RFC 1321): a portable scalar block function, and AVX2 kernels that run 8
 * independent streams at once, one per 32-bit lane of a ymm register, or 16 as two such groups
 * interleaved (the multi-buffer method of ISA-L crypto's md5_mb, x8 and x8x2, written here:
 * ISA-L crypto is not packaged by Debian).
 *
 * MD5 is one serial dependency chain per stream (~600 MB/s a core here, bench_md5), so a
 * single stream cannot go faster; a worker has many streams in flight (small copies, the
 * hasher thread), and ferry_md5_update_many advances up to 16 of them for roughly the price of
 * three or four (bench_md5). The AVX2 code is compiled with a per-function target attribute and
 * chosen at run time, so the binary still runs on a CPU without AVX2. */
#include "ferry/check.h"
#include "ferry/error.h"
#include "md5_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define MD5_HAVE_AVX2 1
#include <immintrin.h>
#else
#define MD5_HAVE_AVX2 0
#endif

/* The 64 steps: round function, the registers in their rotating order, the message word,
 * the constant floor(|sin(i + 1)| * 2^32) and the rotation (RFC 1321, 3.4). S is the step
 * macro of the scalar or the vector code. */
#define MD5_ROUNDS(S)                                                                              \
    S(F, a, b, c, d, 0, 0xd76aa478, 7)                                                             \
    S(F, d, a, b, c, 1, 0xe8c7b756, 12)                                                            \
    S(F, c, d, a, b, 2, 0x242070db, 17)                                                            \
    S(F, b, c, d, a, 3, 0xc1bdceee, 22)                                                            \
    S(F, a, b, c, d, 4, 0xf57c0faf, 7)                                                             \
    S(F, d, a, b, c, 5, 0x4787c62a, 12)                                                            \
    S(F, c, d, a, b, 6, 0xa8304613, 17)                                                            \
    S(F, b, c, d, a, 7, 0xfd469501, 22)                                                            \
    S(F, a, b, c, d, 8, 0x698098d8, 7)                                                             \
    S(F, d, a, b, c, 9, 0x8b44f7af, 12)                                                            \
    S(F, c, d, a, b, 10, 0xffff5bb1, 17)                                                           \
    S(F, b, c, d, a, 11, 0x895cd7be, 22)                                                           \
    S(F, a, b, c, d, 12, 0x6b901122, 7)                                                            \
    S(F, d, a, b, c, 13, 0xfd987193, 12)                                                           \
    S(F, c, d, a, b, 14, 0xa679438e, 17)                                                           \
    S(F, b, c, d, a, 15, 0x49b40821, 22)                                                           \
    S(G, a, b, c, d, 1, 0xf61e2562, 5)                                                             \
    S(G, d, a, b, c, 6, 0xc040b340, 9)                                                             \
    S(G, c, d, a, b, 11, 0x265e5a51, 14)                                                           \
    S(G, b, c, d, a, 0, 0xe9b6c7aa, 20)                                                            \
    S(G, a, b, c, d, 5, 0xd62f105d, 5)                                                             \
    S(G, d, a, b, c, 10, 0x02441453, 9)                                                            \
    S(G, c, d, a, b, 15, 0xd8a1e681, 14)                                                           \
    S(G, b, c, d, a, 4, 0xe7d3fbc8, 20)                                                            \
    S(G, a, b, c, d, 9, 0x21e1cde6, 5)                                                             \
    S(G, d, a, b, c, 14, 0xc33707d6, 9)                                                            \
    S(G, c, d, a, b, 3, 0xf4d50d87, 14)                                                            \
    S(G, b, c, d, a, 8, 0x455a14ed, 20)                                                            \
    S(G, a, b, c, d, 13, 0xa9e3e905, 5)                                                            \
    S(G, d, a, b, c, 2, 0xfcefa3f8, 9)                                                             \
    S(G, c, d, a, b, 7, 0x676f02d9, 14)                                                            \
    S(G, b, c, d, a, 12, 0x8d2a4c8a, 20)                                                           \
    S(H, a, b, c, d, 5, 0xfffa3942, 4)                                                             \
    S(H, d, a, b, c, 8, 0x8771f681, 11)                                                            \
    S(H, c, d, a, b, 11, 0x6d9d6122, 16)                                                           \
    S(H, b, c, d, a, 14, 0xfde5380c, 23)                                                           \
    S(H, a, b, c, d, 1, 0xa4beea44, 4)                                                             \
    S(H, d, a, b, c, 4, 0x4bdecfa9, 11)                                                            \
    S(H, c, d, a, b, 7, 0xf6bb4b60, 16)                                                            \
    S(H, b, c, d, a, 10, 0xbebfbc70, 23)                                                           \
    S(H, a, b, c, d, 13, 0x289b7ec6, 4)                                                            \
    S(H, d, a, b, c, 0, 0xeaa127fa, 11)                                                            \
    S(H, c, d, a, b, 3, 0xd4ef3085, 16)                                                            \
    S(H, b, c, d, a, 6, 0x04881d05, 23)                                                            \
    S(H, a, b, c, d, 9, 0xd9d4d039, 4)                                                             \
    S(H, d, a, b, c, 12, 0xe6db99e5, 11)                                                           \
    S(H, c, d, a, b, 15, 0x1fa27cf8, 16)                                                           \
    S(H, b, c, d, a, 2, 0xc4ac5665, 23)                                                            \
    S(I, a, b, c, d, 0, 0xf4292244, 6)                                                             \
    S(I, d, a, b, c, 7, 0x432aff97, 10)                                                            \
    S(I, c, d, a, b, 14, 0xab9423a7, 15)                                                           \
    S(I, b, c, d, a, 5, 0xfc93a039, 21)                                                            \
    S(I, a, b, c, d, 12, 0x655b59c3, 6)                                                            \
    S(I, d, a, b, c, 3, 0x8f0ccc92, 10)                                                            \
    S(I, c, d, a, b, 10, 0xffeff47d, 15)                                                           \
    S(I, b, c, d, a, 1, 0x85845dd1, 21)                                                            \
    S(I, a, b, c, d, 8, 0x6fa87e4f, 6)                                                             \
    S(I, d, a, b, c, 15, 0xfe2ce6e0, 10)                                                           \
    S(I, c, d, a, b, 6, 0xa3014314, 15)                                                            \
    S(I, b, c, d, a, 13, 0x4e0811a1, 21)                                                           \
    S(I, a, b, c, d, 4, 0xf7537e82, 6)                                                             \
    S(I, d, a, b, c, 11, 0xbd3af235, 10)                                                           \
    S(I, c, d, a, b, 2, 0x2ad7d2bb, 15)                                                            \
    S(I, b, c, d, a, 9, 0xeb86d391, 21)

/* ---- scalar ------------------------------------------------------------------------------ */

static inline uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint32_t rol32(uint32_t x, unsigned s)
{
    return (x << s) | (x >> (32 - s));
}

/* Each step: a = b + rol(a + f(b, c, d) + x + k, s). The terms without b are summed first, so
 * only the last operation or two of f waits on the previous step; G is split into two
 * disjoint halves added separately ((b & d) | (c & ~d) == (b & d) + (c & ~d)). */
#define SC_F(a, b, c, d, x, k)                                                                     \
    a += (x) + (uint32_t)(k);                                                                      \
    a += d ^ (b & (c ^ d));
#define SC_G(a, b, c, d, x, k)                                                                     \
    a += (x) + (uint32_t)(k) + (c & ~d);                                                           \
    a += b & d;
#define SC_H(a, b, c, d, x, k)                                                                     \
    a += (x) + (uint32_t)(k);                                                                      \
    a += b ^ (c ^ d);
#define SC_I(a, b, c, d, x, k)                                                                     \
    a += (x) + (uint32_t)(k);                                                                      \
    a += c ^ (b | ~d);
#define SC_STEP(f, a, b, c, d, i, k, s) SC_##f(a, b, c, d, X[i], k) a = rol32(a, s) + b;

/* Compress nblk whole blocks from p into h. */
static void md5_blocks(uint32_t h[4], const uint8_t *p, size_t nblk)
{
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (; nblk > 0; nblk--, p += 64) {
        uint32_t X[16];
        for (int i = 0; i < 16; i++)
            X[i] = le32(p + 4 * i);
        uint32_t a0 = a, b0 = b, c0 = c, d0 = d;
        MD5_ROUNDS(SC_STEP)
        a += a0;
        b += b0;
        c += c0;
        d += d0;
    }
    h[0] = a;
    h[1] = b;
    h[2] = c;
    h[3] = d;
}

int ferry_md5_init(ferry_md5_t *m)
{
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
    m->len = 0;
    return FERRY_OK;
}

/* Fill the partial block from p (at most what it lacks, at most n), compressing it when full;
 * returns the bytes taken. */
static size_t md5_top_up(ferry_md5_t *m, const uint8_t *p, size_t n)
{
    size_t have = (size_t)(m->len & 63);
    if (have == 0)
        return 0;
    size_t take = 64 - have < n ? 64 - have : n;
    memcpy(m->buf + have, p, take);
    if (have + take == 64)
        md5_blocks(m->h, m->buf, 1);
    return take;
}

void ferry_md5_update(ferry_md5_t *m, const void *p, size_t n)
{
    if (n == 0)
        return;
    const uint8_t *q = p;
    size_t took = md5_top_up(m, q, n);
    m->len += n;
    q += took;
    n -= took;
    if (n >= 64) {
        md5_blocks(m->h, q, n / 64);
        q += n & ~(size_t)63;
        n &= 63;
    }
    if (n > 0)
        memcpy(m->buf, q, n); /* the partial block was empty or just compressed */
}

void ferry_md5_final(ferry_md5_t *m, uint8_t out[16])
{
    uint64_t bits = m->len << 3;
    size_t have = (size_t)(m->len & 63);
    m->buf[have++] = 0x80;
    if (have > 56) {
        memset(m->buf + have, 0, 64 - have);
        md5_blocks(m->h, m->buf, 1);
        have = 0;
    }
    memset(m->buf + have, 0, 56 - have);
    for (int i = 0; i < 8; i++)
        m->buf[56 + i] = (uint8_t)(bits >> (8 * i));
    md5_blocks(m->h, m->buf, 1);
    for (int i = 0; i < 4; i++) {
        out[4 * i] = (uint8_t)m->h[i];
        out[4 * i + 1] = (uint8_t)(m->h[i] >> 8);
        out[4 * i + 2] = (uint8_t)(m->h[i] >> 16);
        out[4 * i + 3] = (uint8_t)(m->h[i] >> 24);
    }
}

void ferry_md5_free(ferry_md5_t *m)
{
    (void)m;
}

void ferry_md5(const void *p, size_t n, uint8_t out[16])
{
    ferry_md5_t m;
    ferry_md5_init(&m);
    ferry_md5_update(&m, p, n);
    ferry_md5_final(&m, out);
}

/* ---- AVX2: 8 or 16 streams, one per lane ---------------------------------------------------- */

/* The SIMD path: usable (the CPU has AVX2) and allowed (FERRY_MD5_SIMD is not 0, or the tests'
 * ferry_md5_set_simd). Set once by simd_init; the allowed flag is read atomically. */
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static int simd_cpu;
static int simd_allowed;

static void simd_init(void)
{
#if MD5_HAVE_AVX2
    __builtin_cpu_init();
    simd_cpu = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
    const char *e = getenv("FERRY_MD5_SIMD");
    __atomic_store_n(&simd_allowed, !(e != NULL && strcmp(e, "0") == 0), __ATOMIC_RELAXED);
}

static int simd_use(void)
{
    pthread_once(&simd_once, simd_init);
    return simd_cpu && __atomic_load_n(&simd_allowed, __ATOMIC_RELAXED);
}

int ferry_md5_set_simd(int on)
{
    pthread_once(&simd_once, simd_init);
    __atomic_store_n(&simd_allowed, on ? 1 : 0, __ATOMIC_RELAXED);
    return simd_use();
}

#if MD5_HAVE_AVX2

#define V_ROL(x, s)        _mm256_or_si256(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - (s)))
#define V_K(k)             _mm256_set1_epi32((int)(uint32_t)(k))
#define VC_F(b, c, d)      _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
#define VC_H(b, c, d)      _mm256_xor_si256(_mm256_xor_si256(b, c), d)
#define VC_I(b, c, d)      _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, ones)))
#define V_FN_F(a, b, c, d) a = _mm256_add_epi32(a, VC_F(b, c, d));
#define V_FN_H(a, b, c, d) a = _mm256_add_epi32(a, VC_H(b, c, d));
#define V_FN_I(a, b, c, d) a = _mm256_add_epi32(a, VC_I(b, c, d));
#define V_FN_G(a, b, c, d)                                                                         \
    a = _mm256_add_epi32(a, _mm256_andnot_si256(d, c));                                            \
    a = _mm256_add_epi32(a, _mm256_and_si256(b, d));
#define V_STEPW(W, f, a, b, c, d, i, k, s)                                                         \
    a = _mm256_add_epi32(a, _mm256_add_epi32(W[i], V_K(k)));                                       \
    V_FN_##f(a, b, c, d) a = _mm256_add_epi32(V_ROL(a, s), b);
/* One step of one group of 8 lanes (x8), or of two groups interleaved (x16: two independent
 * dependency chains, so one group's latency hides behind the other's work). */
#define V_STEP(f, a, b, c, d, i, k, s) V_STEPW(W, f, a, b, c, d, i, k, s)
#define V_STEP2(f, a, b, c, d, i, k, s)                                                            \
    V_STEPW(W, f, a, b, c, d, i, k, s) V_STEPW(W2, f, a##2, b##2, c##2, d##2, i, k, s)

/* The 16 message words of lanes P[0..8) at byte off, W[j] holding word j of every lane: 16-byte
 * loads, lanes l and l + 4 in one register, and a 4x4 transpose within each 128-bit half. */
#define V_LOAD(W, P, off)                                                                          \
    for (int q = 0; q < 4; q++) {                                                                  \
        __m256i r[4];                                                                              \
        for (int l = 0; l < 4; l++)                                                                \
            r[l] = _mm256_inserti128_si256(                                                        \
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(P[l] + off + 16 * q))),   \
                _mm_loadu_si128((const __m128i *)(P[l + 4] + off + 16 * q)), 1);                   \
        __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);                                            \
        __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);                                            \
        __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);                                            \
        __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);                                            \
        W[4 * q] = _mm256_unpacklo_epi64(t0, t2);                                                  \
        W[4 * q + 1] = _mm256_unpackhi_epi64(t0, t2);                                              \
        W[4 * q + 2] = _mm256_unpacklo_epi64(t1, t3);                                              \
        W[4 * q + 3] = _mm256_unpackhi_epi64(t1, t3);                                              \
    }

#define LANES 16

/* Compress nblk blocks of each of lanes 0..8: st[j][l] is word j of lane l's chaining value,
 * ptr[l] its data (each readable for nblk * 64 bytes; a lane with nothing to do points at
 * another lane's data and its result is ignored). */
__attribute__((target("avx2"))) static void md5_x8(uint32_t st[4][LANES],
                                                   const uint8_t *const ptr[LANES], size_t nblk)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)st[0]);
    __m256i b = _mm256_loadu_si256((const __m256i *)st[1]);
    __m256i c = _mm256_loadu_si256((const __m256i *)st[2]);
    __m256i d = _mm256_loadu_si256((const __m256i *)st[3]);
    const __m256i ones = _mm256_set1_epi32(-1);
    for (size_t off = 0; off < nblk * 64; off += 64) {
        __m256i W[16];
        V_LOAD(W, ptr, off)
        __m256i a0 = a, b0 = b, c0 = c, d0 = d;
        MD5_ROUNDS(V_STEP)
        a = _mm256_add_epi32(a, a0);
        b = _mm256_add_epi32(b, b0);
        c = _mm256_add_epi32(c, c0);
        d = _mm256_add_epi32(d, d0);
    }
    _mm256_storeu_si256((__m256i *)st[0], a);
    _mm256_storeu_si256((__m256i *)st[1], b);
    _mm256_storeu_si256((__m256i *)st[2], c);
    _mm256_storeu_si256((__m256i *)st[3], d);
}

/* The same for all 16 lanes, as two groups of 8 whose steps interleave. */
__attribute__((target("avx2"))) static void md5_x16(uint32_t st[4][LANES],
                                                    const uint8_t *const ptr[LANES], size_t nblk)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)st[0]);
    __m256i b = _mm256_loadu_si256((const __m256i *)st[1]);
    __m256i c = _mm256_loadu_si256((const __m256i *)st[2]);
    __m256i d = _mm256_loadu_si256((const __m256i *)st[3]);
    __m256i a2 = _mm256_loadu_si256((const __m256i *)(st[0] + 8));
    __m256i b2 = _mm256_loadu_si256((const __m256i *)(st[1] + 8));
    __m256i c2 = _mm256_loadu_si256((const __m256i *)(st[2] + 8));
    __m256i d2 = _mm256_loadu_si256((const __m256i *)(st[3] + 8));
    const __m256i ones = _mm256_set1_epi32(-1);
    for (size_t off = 0; off < nblk * 64; off += 64) {
        __m256i W[16], W2[16];
        V_LOAD(W, ptr, off)
        V_LOAD(W2, (ptr + 8), off)
        __m256i a0 = a, b0 = b, c0 = c, d0 = d, a02 = a2, b02 = b2, c02 = c2, d02 = d2;
        MD5_ROUNDS(V_STEP2)
        a = _mm256_add_epi32(a, a0);
        b = _mm256_add_epi32(b, b0);
        c = _mm256_add_epi32(c, c0);
        d = _mm256_add_epi32(d, d0);
        a2 = _mm256_add_epi32(a2, a02);
        b2 = _mm256_add_epi32(b2, b02);
        c2 = _mm256_add_epi32(c2, c02);
        d2 = _mm256_add_epi32(d2, d02);
    }
    _mm256_storeu_si256((__m256i *)st[0], a);
    _mm256_storeu_si256((__m256i *)st[1], b);
    _mm256_storeu_si256((__m256i *)st[2], c);
    _mm256_storeu_si256((__m256i *)st[3], d);
    _mm256_storeu_si256((__m256i *)(st[0] + 8), a2);
    _mm256_storeu_si256((__m256i *)(st[1] + 8), b2);
    _mm256_storeu_si256((__m256i *)(st[2] + 8), c2);
    _mm256_storeu_si256((__m256i *)(st[3] + 8), d2);
}

/* Below this many busy lanes (and none waiting) the rest is finished one stream at a time:
 * one 8-lane pass costs about 1.7 scalar blocks on the bench machine (bench_md5: 8 streams
 * hash 4.7 times as fast as one), so two streams still gain from it, one does not. */
#define MD5_MB_MIN_LANES 2

/* The next stream i >= *next with whole blocks left after the top-up that ferry_md5_update_many
 * already did (m[i]->len counts n[i] already): its context (NULL: none left), data and block
 * count. */
static ferry_md5_t *next_job(ferry_md5_t *const *m, const void *const *p, const size_t *n,
                             size_t count, size_t *next, const uint8_t **q, size_t *nblk)
{
    for (; *next < count; (*next)++) {
        size_t i = *next;
        uint64_t before = m[i]->len - n[i];
        size_t have = (size_t)(before & 63);
        size_t skip = have == 0 ? 0 : (64 - have < n[i] ? 64 - have : n[i]);
        size_t blocks = (n[i] - skip) / 64;
        if (blocks > 0) {
            *q = (const uint8_t *)p[i] + skip;
            *nblk = blocks;
            (*next)++;
            return m[i];
        }
    }
    return NULL;
}

/* Lanes: job[l] the stream in lane l (NULL: idle), ptr[l] its next block, left[l] its blocks
 * still to do; the chaining values live in st while the stream is in a lane. */
typedef struct lanes_s {
    uint32_t st[4][LANES];
    const uint8_t *ptr[LANES];
    size_t left[LANES];
    ferry_md5_t *job[LANES];
} lanes_t;

static int lane_fill(lanes_t *L, int l, ferry_md5_t *const *m, const void *const *p,
                     const size_t *n, size_t count, size_t *next)
{
    L->job[l] = next_job(m, p, n, count, next, &L->ptr[l], &L->left[l]);
    if (L->job[l] == NULL)
        return 0;
    for (int j = 0; j < 4; j++)
        L->st[j][l] = L->job[l]->h[j];
    return 1;
}

static void md5_many_simd(ferry_md5_t *const *m, const void *const *p, const size_t *n,
                          size_t count)
{
    lanes_t L;
    size_t next = 0;
    int busy = 0;
    for (int l = 0; l < LANES; l++)
        busy += lane_fill(&L, l, m, p, n, count, &next);
    while (busy > 0) {
        if (busy < MD5_MB_MIN_LANES && next >= count)
            break;
        int width = busy > 8 ? 16 : 8;
        if (width == 8) /* move the streams of lanes 8..16 down, into idle lanes */
            for (int h = 8, l = 0; h < LANES; h++) {
                if (L.job[h] == NULL)
                    continue;
                while (L.job[l] != NULL)
                    l++;
                for (int j = 0; j < 4; j++)
                    L.st[j][l] = L.st[j][h];
                L.ptr[l] = L.ptr[h];
                L.left[l] = L.left[h];
                L.job[l] = L.job[h];
                L.job[h] = NULL;
            }
        size_t step = SIZE_MAX;
        int any = -1;
        for (int l = 0; l < width; l++)
            if (L.job[l] != NULL) {
                step = L.left[l] < step ? L.left[l] : step;
                any = l;
            }
        for (int l = 0; l < width; l++)
            if (L.job[l] == NULL)
                L.ptr[l] = L.ptr[any]; /* readable for step blocks; result ignored */
        if (width == 8)
            md5_x8(L.st, L.ptr, step);
        else
            md5_x16(L.st, L.ptr, step);
        for (int l = 0; l < width; l++) {
            if (L.job[l] == NULL)
                continue;
            L.ptr[l] += step * 64;
            L.left[l] -= step;
            if (L.left[l] > 0)
                continue;
            for (int j = 0; j < 4; j++)
                L.job[l]->h[j] = L.st[j][l];
            busy--;
            busy += lane_fill(&L, l, m, p, n, count, &next);
        }
    }
    for (int l = 0; l < LANES; l++) /* the few left: one at a time */
        if (L.job[l] != NULL) {
            for (int j = 0; j < 4; j++)
                L.job[l]->h[j] = L.st[j][l];
            md5_blocks(L.job[l]->h, L.ptr[l], L.left[l]);
        }
}

#endif /* MD5_HAVE_AVX2 */

int ferry_md5_update_many(ferry_md5_t *const *m, const void *const *p, const size_t *n,
                          size_t count)
{
    if (count == 0)
        return FERRY_OK;
    if (m == NULL || p == NULL || n == NULL)
        return FERRY_EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (m[i] == NULL || (p[i] == NULL && n[i] > 0))
            return FERRY_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (m[j] == m[i])
                return FERRY_EINVAL;
    }
#if MD5_HAVE_AVX2
    if (count > 1 && simd_use()) {
        /* The partial blocks first and the tails last (scalar, in each context's buffer); the
         * whole blocks in between go through the lanes. */
        for (size_t i = 0; i < count; i++) {
            if (n[i] == 0)
                continue; /* p[i] may be NULL */
            const uint8_t *q = p[i];
            size_t took = md5_top_up(m[i], q, n[i]);
            m[i]->len += n[i];
            size_t tail = (n[i] - took) & 63;
            if (tail > 0)
                memcpy(m[i]->buf, q + n[i] - tail, tail);
        }
        md5_many_simd(m, p, n, count);
        return FERRY_OK;
    }
#endif
    for (size_t i = 0; i < count; i++)
        ferry_md5_update(m[i], p[i], n[i]);
    return FERRY_OK;
}
