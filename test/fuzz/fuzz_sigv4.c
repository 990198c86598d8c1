/* Fuzz the parsers of outside input in sign.c: the Authorization header (fakes3 and any
 * server-side use) and percent-decoding (keys from events and listings), plus canonical
 * request building over arbitrary paths and queries. */
#include "fuzz.h"
#include "ferry/error.h"
#include "ferry/sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;

    ferry_sigv4_auth_t a;
    (void)ferry_sigv4_parse_authorization(s, &a);

    ferry_buf_t b;
    ferry_buf_init(&b, 1 << 16);
    (void)ferry_uri_decode(s, size, 1, &b);
    ferry_buf_reset(&b);
    (void)ferry_uri_encode(s, size, 1, &b);
    ferry_buf_free(&b);

    /* split the input at the first '?' into path and query */
    char *q = strchr(s, '?');
    if (q)
        *q++ = '\0';
    char path[4096];
    snprintf(path, sizeof(path), "/%s", s);
    ferry_kv_t h[] = {{"host", "h"}, {"x-amz-date", "20130524T000000Z"}};
    ferry_sigv4_req_t r = {
        "GET", path, q, h, 2, FERRY_SIGV4_UNSIGNED, "us-east-1", "s3", "20130524T000000Z"};
    ferry_creds_t c = {"AK", "SK", NULL};
    ferry_buf_init(&b, 1 << 16);
    (void)ferry_sigv4_authorization(&r, &c, &b);
    ferry_buf_free(&b);
    free(s);
    return 0;
}
