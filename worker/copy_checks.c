/* ferry worker — the one place that chooses a copy's integrity checks (see copy_checks.h and
 * docs/internals/worker.md "What is verified"). */
#include "copy_checks.h"

#include "plan.h"

#include <stdio.h>

static const char *const tag_names[] = {
    "src:crc64",       "src:md5",         "src:multipart-etag", "src:qetag",     "src:crc32c",
    "dst:content-md5", "dst:crc32c-echo", "dst:etag",           "resume:crc32c", "resume:md5"};

const char *ferry_copy_checks_tags(unsigned bits, char *buf, size_t cap)
{
    size_t l = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++) {
        if (!(bits & (1u << i)))
            continue;
        int n = snprintf(buf + l, cap - l, "%s%s", l ? "," : "", tag_names[i]);
        if (n < 0 || (size_t)n >= cap - l) {
            buf[l] = '\0'; /* whole tags only */
            break;
        }
        l += (size_t)n;
    }
    return buf;
}

/* The source checks of the copy: only bytes that pass through the worker can be compared. */
static unsigned source_checks(const ferry_copy_ck_in_t *in)
{
    int single = in->plan == FERRY_PLAN_SINGLE, multi = in->plan == FERRY_PLAN_MULTIPART;
    unsigned ck = 0;
    if (!single && !multi)
        return 0; /* server-side: no byte passes through the worker */
    if (in->src_crc64)
        ck |= CK_SRC_CRC64;
    if (single && in->src_md5_etag)
        ck |= CK_SRC_MD5;
    if (in->src_crc == CK_CRC_FULL || (in->src_crc == CK_CRC_COMPOSITE && in->src_crc_known))
        ck |= CK_SRC_CRC32C;
    if (in->src_mp_known)
        ck |= CK_SRC_MPETAG;
    if (in->src_etag_qetag && ((single && in->src_qetag_kind) || (multi && in->src_qetag_parts)))
        ck |= CK_SRC_QETAG;
    /* Parts read in parallel: one MD5 of all the bytes is formed in source order (bytes of later
     * parts held until the hash reaches them, copy_md5.c). It costs a pass of MD5 over every
     * byte and memory for what is held, so it runs only when it is the source's one check. */
    if (multi && in->src_md5_etag && ck == 0)
        ck |= CK_SRC_MD5;
    return ck;
}

void ferry_copy_checks(const ferry_copy_ck_in_t *in, ferry_copy_ck_t *out)
{
    int single = in->plan == FERRY_PLAN_SINGLE, multi = in->plan == FERRY_PLAN_MULTIPART;
    *out = (ferry_copy_ck_t){0};
    if (in->stream == CK_COPY) {
        out->checks = source_checks(in);
        if (multi) /* CompleteMultipartUpload's answer */
            out->checks |= in->dst_crc_parts     ? CK_DST_CRC32C_ECHO
                           : in->dst_mp_etag_md5 ? CK_DST_ETAG
                                                 : 0;
        else if (in->plan == FERRY_PLAN_SERVER_COPY && !in->src_etag_multi)
            out->checks |= CK_DST_ETAG; /* CopyObject's ETag = a plain source ETag */
        return;
    }
    int reads = in->stream == CK_STREAM_BUF || in->stream == CK_STREAM_PIPE ||
                in->stream == CK_STREAM_VERIFY;
    out->crc_mode = multi && in->dst_crc_parts && reads;
    out->md5_on = !out->crc_mode;
    out->mp_on = in->src_mp_known && reads;
    out->scrc_on = in->src_crc == CK_CRC_FULL && reads;
    out->qetag_on = (single && in->src_qetag_kind) || (multi && in->src_qetag_parts && reads);
    out->omd5_on = multi && reads && (source_checks(in) & CK_SRC_MD5);
    out->holdback =
        single && in->stream == CK_STREAM_PIPE &&
        (in->src_crc64 || out->qetag_on || in->src_md5_etag || out->mp_on || out->scrc_on);
    switch (in->stream) {
    case CK_STREAM_BUF:
    case CK_STREAM_EMPTY:
        out->send_md5 = !out->crc_mode;
        out->send_crc32c = in->dst_s3 || out->crc_mode;
        break;
    case CK_STREAM_PIPE:
        out->send_md5 = single && in->src_md5_etag; /* the source's ETag is the MD5 */
        out->send_crc32c = out->crc_mode;           /* aws-chunked trailer */
        break;
    case CK_STREAM_VERIFY:
        out->checks = out->crc_mode ? CK_RESUME_CRC32C : in->dst_etag_md5 ? CK_RESUME_MD5 : 0;
        return;
    default: /* UploadPartCopy: the store copies the range itself */
        return;
    }
    if (out->send_crc32c)
        out->checks |= CK_DST_CRC32C_ECHO;
    if (!out->crc_mode && in->dst_etag_md5)
        out->checks |= CK_DST_ETAG;
    if (out->send_md5)
        out->checks |= CK_DST_CONTENT_MD5;
}
