/* Fuzz the IMF-fixdate fast path of ferry/text.h (a store's Last-Modified header, read for every
 * object copied) against curl_getdate, its fallback: a date it takes must give curl's value,
 * and a failure leaves the output untouched. */
#include "fuzz.h"
#include "ferry/error.h"
#include "ferry/text.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    int64_t t = -7;
    int rc = ferry_http_date_imf(s, &t);
    if (rc == FERRY_OK && (int64_t)curl_getdate(s, NULL) != t)
        abort();
    if (rc != FERRY_OK && (rc != FERRY_EPARSE || t != -7))
        abort();
    free(s);
    return 0;
}
