/* MD5 throughput, MB/s of this thread's CPU time (the machine is shared: wall time is noise):
 * OpenSSL's MD5 (EVP, one stream), ferry_md5_update (one stream), and ferry_md5_update_many
 * with 1, 2, 4, 8 and 16 streams given together, for 16 KiB and 1 MiB buffers; the many rows
 * count the bytes of all streams. FERRY_MD5_SIMD=0 in the environment forces the scalar path.
 *
 *   bench_md5 [SECONDS_PER_CELL]   (default 0.3) */
#include "ferry/check.h"
#include "ferry/error.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint8_t sink;

/* kind: -1 OpenSSL, 0 ferry_md5_update, k > 0 update_many of k streams. */
static double run(int kind, const uint8_t *pool, size_t size, double secs)
{
    ferry_md5_t ctx[16], *mp[16];
    const void *pp[16];
    size_t nn[16];
    uint8_t d[16];
    size_t streams = kind > 0 ? (size_t)kind : 1;
    for (size_t i = 0; i < streams; i++) {
        mp[i] = &ctx[i];
        pp[i] = pool + i * size + 16 * i; /* distinct buffers, not 64-byte aligned */
        nn[i] = size;
    }
    EVP_MD_CTX *e = EVP_MD_CTX_new();
    double t0 = cpu_now(), t;
    size_t bytes = 0;
    do {
        for (int r = 0; r < 8; r++) {
            if (kind < 0) {
                unsigned int len = 16;
                EVP_DigestInit_ex(e, EVP_md5(), NULL);
                EVP_DigestUpdate(e, pp[0], size);
                EVP_DigestFinal_ex(e, d, &len);
            } else if (kind == 0) {
                ferry_md5_init(&ctx[0]);
                ferry_md5_update(&ctx[0], pp[0], size);
                ferry_md5_final(&ctx[0], d);
            } else {
                for (size_t i = 0; i < streams; i++)
                    ferry_md5_init(&ctx[i]);
                if (ferry_md5_update_many(mp, pp, nn, streams) != FERRY_OK)
                    abort();
                for (size_t i = 0; i < streams; i++)
                    ferry_md5_final(&ctx[i], d);
            }
            sink ^= d[0];
            bytes += size * streams;
        }
        t = cpu_now() - t0;
    } while (t < secs);
    EVP_MD_CTX_free(e);
    return (double)bytes / t / 1e6;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    if (secs <= 0)
        secs = 0.3;
    const size_t sizes[2] = {16384, 1u << 20};
    uint8_t *pool = malloc(16 * ((1u << 20) + 16) + 64);
    if (pool == NULL)
        return 1;
    for (size_t i = 0; i < 16 * ((1u << 20) + 16) + 64; i++)
        pool[i] = (uint8_t)(i * 2654435761u >> 13);
    const char *simd = getenv("FERRY_MD5_SIMD");
    printf("MD5, MB/s of CPU time (FERRY_MD5_SIMD=%s)\n", simd ? simd : "unset");
    printf("%-28s %12s %12s\n", "", "16 KiB", "1 MiB");
    const int kinds[] = {-1, 0, 1, 2, 4, 8, 16};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        char name[64];
        if (kinds[k] < 0)
            snprintf(name, sizeof(name), "OpenSSL EVP MD5");
        else if (kinds[k] == 0)
            snprintf(name, sizeof(name), "ferry_md5_update");
        else
            snprintf(name, sizeof(name), "update_many, %2d streams", kinds[k]);
        printf("%-28s", name);
        for (int s = 0; s < 2; s++)
            printf(" %12.0f", run(kinds[k], pool, sizes[s], secs));
        printf("\n");
        fflush(stdout);
    }
    free(pool);
    return 0;
}
