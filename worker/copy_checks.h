/* ferry worker — which integrity checks a copy runs (internal to worker/copy*.c).
 *
 * One pure function, ferry_copy_checks, owns the choice: given what the source offers (CRC-64,
 * an MD5 / multipart-MD5 / qetag ETag, a stored CRC32C), what the destination confirms (MD5
 * ETags, CRC32C echo), the plan and the kind of stream, it says which comparisons run (each one
 * a `checks` tag, see copy.h) and how a stream must hash and what its request carries so that
 * they can. The copy code reads the answer; it decides nothing about integrity itself. Checks
 * marked "when answered" in the table below are recorded only if the store's reply has the
 * value to compare (an echo, an ETag of the comparable form).
 */
#ifndef FERRY_WORKER_COPY_CHECKS_H
#define FERRY_WORKER_COPY_CHECKS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The comparisons (one bit per `checks` tag). */
enum {
    CK_SRC_CRC64 = 1u << 0,       /* src:crc64 */
    CK_SRC_MD5 = 1u << 1,         /* src:md5 */
    CK_SRC_MPETAG = 1u << 2,      /* src:multipart-etag */
    CK_SRC_QETAG = 1u << 3,       /* src:qetag */
    CK_SRC_CRC32C = 1u << 4,      /* src:crc32c */
    CK_DST_CONTENT_MD5 = 1u << 5, /* dst:content-md5 */
    CK_DST_CRC32C_ECHO = 1u << 6, /* dst:crc32c-echo (required for CRC32C parts) */
    CK_DST_ETAG = 1u << 7,        /* dst:etag (when the ETag is of the comparable form) */
    CK_RESUME_CRC32C = 1u << 8,   /* resume:crc32c */
    CK_RESUME_MD5 = 1u << 9,      /* resume:md5 (when ListParts gave an MD5 ETag) */
    CK_SRC_ANY = CK_SRC_CRC64 | CK_SRC_MD5 | CK_SRC_MPETAG | CK_SRC_QETAG | CK_SRC_CRC32C
};

/* What the choice is made for: the copy as a whole (its source checks, Complete's or
 * CopyObject's check) or one stream of it. */
typedef enum {
    CK_COPY = 0,      /* the whole copy */
    CK_STREAM_BUF,    /* a GET read whole into memory, then PUT / UploadPart with its digests */
    CK_STREAM_PIPE,   /* GET -> ring -> PUT / UploadPart */
    CK_STREAM_VERIFY, /* resume: re-read an uploaded part, compare with ListParts */
    CK_STREAM_PCOPY,  /* UploadPartCopy */
    CK_STREAM_EMPTY   /* zero bytes, no GET */
} ferry_copy_ck_stream_t;

/* The source's stored CRC32C (x-amz-checksum-crc32c). */
typedef enum { CK_CRC_NONE = 0, CK_CRC_FULL = 1, CK_CRC_COMPOSITE = 2 } ferry_copy_ck_crc_t;

/* Everything the choice depends on. Plain values; fill with what the HEAD (or the one GET),
 * the profiles and the plan said. */
typedef struct ferry_copy_ck_in_s {
    int plan;   /* ferry_plan_kind_t */
    int stream; /* ferry_copy_ck_stream_t */
    /* the source */
    int src_crc64;       /* it gave a CRC-64 (OSS, COS) */
    int src_md5_etag;    /* its ETag is the MD5 of its bytes (plain S3 ETag) */
    int src_qetag_kind;  /* its checksum kind is qetag (Kodo) */
    int src_etag_qetag;  /* its ETag has the qetag form */
    int src_qetag_parts; /* multipart from a Kodo source: parts whole 4 MiB blocks, digests kept */
    int src_mp_known;    /* a multipart ETag hex-N whose part boundaries are known */
    int src_crc;         /* ferry_copy_ck_crc_t */
    int src_crc_known;   /* COMPOSITE: its part boundaries are known (one CRC32C per part) */
    int src_etag_multi;  /* its ETag has a "-" (server-side copy: not comparable) */
    /* the destination */
    int dst_s3;          /* scheme s3: a body from memory also carries x-amz-checksum-crc32c */
    int dst_crc_parts;   /* parts carry a CRC32C (aws-chunked trailer, --dst-checksum) */
    int dst_etag_md5;    /* its PUT / part ETag is the MD5 of the bytes received */
    int dst_mp_etag_md5; /* its Complete ETag is md5(part MD5s)-N */
} ferry_copy_ck_in_t;

/* The answer. */
typedef struct ferry_copy_ck_s {
    unsigned checks; /* CK_* bits that run (copy: source + Complete/CopyObject; stream: its own) */
    /* A stream that reads the source: what it hashes. */
    unsigned char crc_mode; /* a CRC32C part: the destination must echo its CRC32C */
    unsigned char md5_on;   /* MD5 of the bytes read (Content-MD5, dst:etag, src:md5) */
    unsigned char scrc_on;  /* CRC32C of every byte read (a FULL_OBJECT source CRC32C) */
    unsigned char mp_on;    /* one MD5 (and CRC32C) per source part (multipart source) */
    unsigned char qetag_on; /* qetag of the bytes read (single) or their block digests */
    unsigned char holdback; /* piped single PUT: hold the last byte until the source matched */
    unsigned char omd5_on;  /* a part: feed the copy's whole-object MD5, formed in source order
                               (src:md5 over parts read in parallel; copy_md5.c) */
    /* What the PUT / UploadPart carries. */
    unsigned char send_md5;    /* Content-MD5 (piped: the source's MD5 ETag) */
    unsigned char send_crc32c; /* x-amz-checksum-crc32c (header, or trailer when piped) */
} ferry_copy_ck_t;

/* The choice. Pure: no I/O, no allocation. */
void ferry_copy_checks(const ferry_copy_ck_in_t *in, ferry_copy_ck_t *out);

/* The tags of bits, comma-separated in the order of the CK_* enum, into buf (always
 * NUL-terminated); returns buf. */
const char *ferry_copy_checks_tags(unsigned bits, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
