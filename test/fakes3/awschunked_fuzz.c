/* Fuzz the aws-chunked decoder two ways.
 *
 * 1. The input as an encoded body. An optional first line "WANT FLAGS\n" (within the first
 *    40 bytes) sets x-amz-decoded-content-length (default 4096, at most 1 MiB) and flags: 't'
 *    expects an x-amz-checksum-crc32c trailer, 'n' discards the data, 's<N>' feeds slices of
 *    N bytes (default: two halves). Checked: no overrun, decoded <= want, the error state.
 * 2. A round trip: the input as the payload, encoded with chunk sizes drawn from its own
 *    bytes and fed in slices of varying size; it must decode to exactly the payload and
 *    trailer. A mismatch aborts.
 */
#include "fuzz.h"
#include "awschunked.h"

#include "ferry/buf.h"
#include "ferry/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WANT_MAX (1u << 20)

static void raw(const uint8_t *data, size_t size)
{
    uint64_t want = 4096;
    size_t slice = 0, off = 0;
    int trailer = 0, discard = 0;
    const uint8_t *nl = memchr(data, '\n', size < 40 ? size : 40);
    if (nl != NULL && size > 0 && data[0] >= '0' && data[0] <= '9') {
        want = 0;
        const uint8_t *p = data;
        for (; p < nl && *p >= '0' && *p <= '9'; p++)
            want = want * 10 + (uint64_t)(*p - '0');
        for (; p < nl; p++) {
            if (*p == 't')
                trailer = 1;
            else if (*p == 'n')
                discard = 1;
            else if (*p == 's')
                for (slice = 0; p + 1 < nl && p[1] >= '0' && p[1] <= '9'; p++)
                    slice = slice * 10 + (size_t)(p[1] - '0');
        }
        off = (size_t)(nl + 1 - data);
    }
    if (want > WANT_MAX)
        want = WANT_MAX;
    char *dst = discard ? NULL : malloc(want ? want : 1);
    if (!discard && dst == NULL)
        return;
    fakes3_awschunked_t d;
    fakes3_awschunked_init(&d, dst, want, trailer ? "x-amz-checksum-crc32c" : NULL);
    const char *in = (const char *)data + off;
    size_t n = size - off, pos = 0;
    if (slice == 0)
        slice = n / 2 + 1;
    int rc = FERRY_OK;
    while (pos < n && rc == FERRY_OK && !d.done) {
        size_t k = n - pos < slice ? n - pos : slice, used = 0;
        rc = fakes3_awschunked_feed(&d, in + pos, k, &used);
        if (used > k || (rc == FERRY_OK && !d.done && used != k))
            abort();
        pos += used;
    }
    if (rc == FERRY_OK)
        rc = fakes3_awschunked_finish(&d);
    if (d.decoded > want || (rc == FERRY_OK) != (d.code == NULL) ||
        (rc == FERRY_OK && d.decoded != want) || strlen(d.msg) >= sizeof(d.msg))
        abort();
    free(dst);
}

static void round_trip(const uint8_t *data, size_t size)
{
    ferry_buf_t enc;
    ferry_buf_init(&enc, 16u << 20);
    size_t pos = 0, i = 0;
    int rc = FERRY_OK;
    while (pos < size && rc == FERRY_OK) {
        size_t k = (size_t)(data[i++ % size] % 37) + 1;
        if (k > size - pos)
            k = size - pos;
        rc = ferry_buf_addf(&enc, (i & 1) ? "%zx\r\n" : "%zX\r\n", k);
        if (rc == FERRY_OK)
            rc = ferry_buf_add(&enc, data + pos, k);
        if (rc == FERRY_OK)
            rc = ferry_buf_adds(&enc, "\r\n");
        pos += k;
    }
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&enc, "0\r\nX-Amz-Checksum-CRC32C:  AAAAAA== \r\n\r\nNEXT");
    if (rc != FERRY_OK) {
        ferry_buf_free(&enc);
        return;
    }
    char *dst = malloc(size ? size : 1);
    if (dst == NULL) {
        ferry_buf_free(&enc);
        return;
    }
    fakes3_awschunked_t d;
    fakes3_awschunked_init(&d, dst, size, "x-amz-checksum-crc32c");
    size_t at = 0, used = 0;
    i = 0;
    while (at < enc.len && !d.done) {
        size_t k = size ? (size_t)(data[i++ % size] % 23) + 1 : enc.len;
        if (k > enc.len - at)
            k = enc.len - at;
        if (fakes3_awschunked_feed(&d, enc.data + at, k, &used) != FERRY_OK)
            abort();
        at += used;
    }
    if (fakes3_awschunked_finish(&d) != FERRY_OK || d.decoded != size ||
        (size && memcmp(dst, data, size) != 0) || strcmp(d.value, "AAAAAA==") != 0 ||
        enc.len - at != 4)
        abort();
    free(dst);
    ferry_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raw(data, size);
    round_trip(data, size);
    return 0;
}
