/* Fuzz ferry_md5_update_many (lib/check/md5.c): the input decides the stream count (1..20),
 * each stream's starting partial block, its lengths over up to three calls and where in the
 * input its bytes come from; every stream must end with the digest that per-stream
 * ferry_md5_update gives and that OpenSSL's MD5 gives. The AVX2 path is taken on a CPU that
 * has it; every other input forces the scalar path (md5_int.h). A difference aborts. */
#include "fuzz.h"
#include "ferry/check.h"
#include "ferry/error.h"
#include "md5_int.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

#define MAXS 20

/* The next input byte that decides something (the input again from its start when used up). */
static uint8_t take(const uint8_t *body, size_t bodyn, size_t *cur)
{
    size_t i = (*cur)++;
    return bodyn ? body[i % bodyn] : (uint8_t)i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t count = 1 + data[0] % MAXS;
    ferry_md5_set_simd(data[1] & 1 ? 0 : 1);
    const uint8_t *body = data + 2;
    size_t bodyn = size - 2;
    /* A repeated body makes long streams (up to 8 blocks x 200 per call) from short inputs. */
    size_t big = bodyn * 200 + 64;
    uint8_t *pad = malloc(big);
    if (pad == NULL)
        return 0;
    for (size_t i = 0; i < big; i++)
        pad[i] = bodyn ? body[i % bodyn] : (uint8_t)i;

    ferry_md5_t many[MAXS], one[MAXS], *mp[MAXS];
    EVP_MD_CTX *ref[MAXS];
    const void *pp[MAXS];
    size_t nn[MAXS];
    size_t cur = 0;
    for (size_t i = 0; i < count; i++) {
        ferry_md5_init(&many[i]);
        ferry_md5_init(&one[i]);
        ref[i] = EVP_MD_CTX_new();
        if (ref[i] == NULL || EVP_DigestInit_ex(ref[i], EVP_md5(), NULL) != 1)
            abort();
        size_t pre = take(body, bodyn, &cur) % 64;
        ferry_md5_update(&many[i], pad, pre);
        ferry_md5_update(&one[i], pad, pre);
        EVP_DigestUpdate(ref[i], pad, pre);
        mp[i] = &many[i];
    }
    int calls = 1 + take(body, bodyn, &cur) % 3;
    for (int c = 0; c < calls; c++) {
        for (size_t i = 0; i < count; i++) {
            size_t k = take(body, bodyn, &cur) & 7;
            size_t mul = 1 + (size_t)take(body, bodyn, &cur) % 200;
            size_t n = k * 64 * mul / 8 + take(body, bodyn, &cur) % 130;
            if (n > big - 64)
                n = big - 64;
            size_t off = take(body, bodyn, &cur) % 64;
            nn[i] = n;
            pp[i] = pad + off;
            ferry_md5_update(&one[i], pp[i], n);
            EVP_DigestUpdate(ref[i], pp[i], n);
        }
        if (ferry_md5_update_many(mp, pp, nn, count) != FERRY_OK)
            abort();
    }
    for (size_t i = 0; i < count; i++) {
        uint8_t a[16], b[16], r[16];
        unsigned int len = 16;
        ferry_md5_final(&many[i], a);
        ferry_md5_final(&one[i], b);
        EVP_DigestFinal_ex(ref[i], r, &len);
        EVP_MD_CTX_free(ref[i]);
        if (memcmp(a, b, 16) != 0 || memcmp(b, r, 16) != 0)
            abort();
    }
    free(pad);
    return 0;
}
