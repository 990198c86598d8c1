/* Fuzz <Error> parsing: the one-shot parser and the 200-with-<Error> path of Complete/Copy. */
#include "fuzz.h"
#include "ferry/s3xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_s3xml_error_t e;
    if (ferry_s3xml_parse_error(data, size, &e) == FERRY_OK) {
        if (memchr(e.code, 0, sizeof(e.code)) == NULL ||
            memchr(e.message, 0, sizeof(e.message)) == NULL)
            abort();
        ferry_error_t err;
        ferry_s3xml_error_apply(&e, FERRY_ES3, 500, "fuzz", &err);
    }
    ferry_s3xml_opts_t o = {.expect = (size & 1) ? FERRY_S3XML_COMPLETE : FERRY_S3XML_COPY};
    ferry_s3xml_t *p;
    if (ferry_s3xml_new(&o, NULL, &p))
        return 0;
    /* three uneven chunks */
    size_t a = size / 3, b = size / 2;
    int rc = ferry_s3xml_feed(p, data, a);
    if (!rc)
        rc = ferry_s3xml_feed(p, data + a, b - a);
    if (!rc)
        rc = ferry_s3xml_feed(p, data + b, size - b);
    if (!rc)
        rc = ferry_s3xml_finish(p);
    ferry_s3xml_free(p);
    return 0;
}
