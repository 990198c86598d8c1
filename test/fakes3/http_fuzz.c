/* Fuzz the fakes3 request parsers: the request head, then the rest as a chunked body (fed in
 * two slices so state carries across calls), then the two XML bodies. */
#include "fuzz.h"
#include "fakes3.h"
#include "http.h"

#include "ferry/error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    fakes3_http_req_t *req = malloc(sizeof(*req));
    if (req == NULL) {
        free(buf);
        return 0;
    }
    int rc = fakes3_http_parse(buf, size, req);
    size_t off = rc == FERRY_OK ? req->head_len : 0;
    if (rc == FERRY_OK) {
        for (size_t i = 0; i < req->nhdrs; i++)
            (void)strlen(req->hdrs[i].name), (void)strlen(req->hdrs[i].value);
        (void)strlen(req->path);
        if (req->query)
            (void)strlen(req->query);
    }
    memcpy(buf, data, size); /* the parser wrote into buf */
    fakes3_chunked_t ch;
    memset(&ch, 0, sizeof(ch));
    ferry_buf_t out;
    ferry_buf_init(&out, 1 << 20);
    size_t used = 0, half = off + (size - off) / 2;
    rc = fakes3_chunked_feed(&ch, buf + off, half - off, &used, &out);
    if (rc == FERRY_OK && !ch.done)
        (void)fakes3_chunked_feed(&ch, buf + half, size - half, &used, &out);
    ferry_buf_free(&out);

    fakes3_xml_part_t *parts = NULL;
    size_t np = 0;
    if (fakes3_xml_complete((const char *)data, size, &parts, &np) == FERRY_OK)
        free(parts);
    fakes3_xml_delete_t del;
    if (fakes3_xml_delete((const char *)data, size, &del) == FERRY_OK)
        fakes3_xml_delete_free(&del);
    free(req);
    free(buf);
    return 0;
}
