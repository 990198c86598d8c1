/* Fuzz the listing parser (ListObjects V1/V2): any bytes, fed in chunks chosen by the input.
 * Invariants: no crash, keys reported within 1..1024 bytes, sizes within -1..5 TiB, ETags
 * within their slot, complete only when finish is OK. */
#include "fuzz.h"
#include "ferry/s3xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int on_object(void *ud, const ferry_s3xml_object_t *o)
{
    if (o->key_len == 0 || o->key_len > FERRY_S3XML_KEY_MAX || o->key[o->key_len] != '\0')
        abort();
    if (o->size < -1 || o->size > FERRY_S3XML_SIZE_MAX ||
        memchr(o->etag, '\0', sizeof(o->etag)) == NULL)
        abort();
    (*(long *)ud)++;
    return FERRY_OK;
}

static int on_prefix(void *ud, const char *p, size_t n)
{
    if (n > FERRY_S3XML_KEY_MAX || p[n] != '\0')
        abort();
    return FERRY_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* first byte: bit 0 list version, bit 1 plus_literal, bits 2-7 chunk size - 1 */
    uint8_t mode = size ? data[0] : 0;
    const uint8_t *body = size ? data + 1 : data;
    size_t len = size ? size - 1 : 0;
    long n = 0;
    ferry_s3xml_opts_t o = {.expect = FERRY_S3XML_LIST,
                            .list_version = (mode & 1) ? 1 : 2,
                            .plus_literal = (mode >> 1) & 1};
    ferry_s3xml_cbs_t cb = {.ud = &n, .on_object = on_object, .on_prefix = on_prefix};
    ferry_s3xml_t *p;
    if (ferry_s3xml_new(&o, &cb, &p))
        return 0;
    size_t chunk = (size_t)(mode >> 2) + 1;
    int rc = FERRY_OK;
    for (size_t off = 0; off < len && !rc; off += chunk)
        rc = ferry_s3xml_feed(p, body + off, len - off < chunk ? len - off : chunk);
    if (!rc)
        rc = ferry_s3xml_finish(p);
    const ferry_s3xml_result_t *r = ferry_s3xml_result(p);
    if (rc == FERRY_OK && r->root == FERRY_S3XML_LIST && r->is_truncated && o.list_version == 1 &&
        r->next_marker_len == 0)
        abort(); /* a truncated V1 page must say where to go on */
    if (rc == FERRY_OK && r->objects != n)
        abort();
    ferry_s3xml_free(p);
    return 0;
}
