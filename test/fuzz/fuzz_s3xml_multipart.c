/* Fuzz the multipart and DeleteObjects reply parsers, and the XML escaper. The first byte picks
 * the expected reply. */
#include "fuzz.h"
#include "ferry/s3xml.h"

#include <stdint.h>
#include <stdlib.h>

static int on_part(void *ud, const ferry_s3xml_part_t *pt)
{
    if (pt->number < 1 || pt->number > 10000)
        abort();
    return FERRY_OK;
}

static int on_upload(void *ud, const ferry_s3xml_upload_t *u)
{
    if (u->key_len == 0 || u->key_len > FERRY_S3XML_KEY_MAX || u->upload_id == NULL)
        abort();
    return FERRY_OK;
}

static int on_deleted(void *ud, const ferry_s3xml_deleted_t *d)
{
    if (d->key_len == 0 || d->key_len > FERRY_S3XML_KEY_MAX)
        abort();
    return FERRY_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ferry_s3xml_kind_t kinds[] = {FERRY_S3XML_INITIATE,     FERRY_S3XML_COMPLETE,
                                               FERRY_S3XML_COPY,         FERRY_S3XML_LIST_PARTS,
                                               FERRY_S3XML_LIST_UPLOADS, FERRY_S3XML_DELETE};
    uint8_t mode = size ? data[0] : 0;
    const uint8_t *body = size ? data + 1 : data;
    size_t len = size ? size - 1 : 0;
    ferry_s3xml_opts_t o = {.expect = kinds[mode % 6]};
    ferry_s3xml_cbs_t cb = {.on_part = on_part, .on_upload = on_upload, .on_deleted = on_deleted};
    ferry_s3xml_t *p;
    if (ferry_s3xml_new(&o, &cb, &p) == FERRY_OK) {
        size_t chunk = (size_t)(mode / 6) + 1;
        int rc = FERRY_OK;
        for (size_t off = 0; off < len && !rc; off += chunk)
            rc = ferry_s3xml_feed(p, body + off, len - off < chunk ? len - off : chunk);
        if (!rc)
            rc = ferry_s3xml_finish(p);
        ferry_s3xml_free(p);
    }
    ferry_buf_t b;
    ferry_buf_init(&b, 1 << 20);
    ferry_s3xml_escape((const char *)body, len, &b);
    ferry_buf_free(&b);
    return 0;
}
