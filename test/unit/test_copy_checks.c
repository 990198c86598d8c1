/* Unit test for worker/copy_checks.c: which integrity checks a copy runs, for each kind of
 * source (CRC-64, MD5 ETag, multipart ETag, qetag, stored CRC32C), destination (CRC32C parts,
 * MD5 ETags, opaque ETags), plan and stream, as docs/internals/worker.md "What is verified"
 * tables them. One row per case: the inputs, the tags that run, and how the stream hashes. */
#include "../../worker/copy_checks.h"
#include "../../worker/plan.h"
#include "test.h"

#define SINGLE FERRY_PLAN_SINGLE
#define MULTI  FERRY_PLAN_MULTIPART
#define SCOPY  FERRY_PLAN_SERVER_COPY
#define SPARTS FERRY_PLAN_SERVER_PARTS

/* Sources and destinations as their profiles and HEADs describe them. */
#define OSS       .src_crc64 = 1
#define KODO      .src_qetag_kind = 1, .src_etag_qetag = 1
#define S3_PLAIN  .src_md5_etag = 1
#define S3_MP     .src_mp_known = 1, .src_etag_multi = 1
#define CRC_FULL  .src_crc = CK_CRC_FULL
#define DST_S3    .dst_s3 = 1, .dst_crc_parts = 1, .dst_etag_md5 = 1, .dst_mp_etag_md5 = 1
#define DST_S3MD5 .dst_s3 = 1, .dst_etag_md5 = 1, .dst_mp_etag_md5 = 1
#define DST_OSS   .dst_etag_md5 = 1
#define DST_COS   .dst_etag_md5 = 0

typedef struct {
    const char *name;
    ferry_copy_ck_in_t in;
    const char *tags;  /* what runs */
    const char *flags; /* stream rows: how it hashes and what it sends (see flags()) */
} row_t;

static const row_t rows[] = {
    /* The copy as a whole: source checks, and Complete's / CopyObject's. */
    {"oss single", {SINGLE, CK_COPY, OSS, DST_S3}, "src:crc64", NULL},
    {"oss multipart", {MULTI, CK_COPY, OSS, DST_S3MD5}, "src:crc64,dst:etag", NULL},
    {"kodo single", {SINGLE, CK_COPY, KODO, DST_S3}, "src:qetag", NULL},
    {"kodo multipart, block digests",
     {MULTI, CK_COPY, KODO, .src_qetag_parts = 1, DST_S3},
     "src:qetag,dst:crc32c-echo",
     NULL},
    {"kodo multipart, no digests", {MULTI, CK_COPY, KODO, DST_S3}, "dst:crc32c-echo", NULL},
    {"kodo, ETag not a qetag", {SINGLE, CK_COPY, .src_qetag_kind = 1, DST_S3}, "", NULL},
    {"s3 plain single", {SINGLE, CK_COPY, S3_PLAIN, DST_S3}, "src:md5", NULL},
    {"s3 plain multipart: the MD5 formed in source order",
     {MULTI, CK_COPY, S3_PLAIN, DST_S3},
     "src:md5,dst:crc32c-echo",
     NULL},
    {"s3 plain multipart, --dst-checksum md5",
     {MULTI, CK_COPY, S3_PLAIN, DST_S3MD5},
     "src:md5,dst:etag",
     NULL},
    {"s3 plain + FULL_OBJECT crc32c, single",
     {SINGLE, CK_COPY, S3_PLAIN, CRC_FULL, DST_S3},
     "src:md5,src:crc32c",
     NULL},
    {"s3 plain + FULL_OBJECT crc32c, multipart",
     {MULTI, CK_COPY, S3_PLAIN, CRC_FULL, DST_S3},
     "src:crc32c,dst:crc32c-echo",
     NULL},
    {"s3 hex-N single", {SINGLE, CK_COPY, S3_MP, DST_S3}, "src:multipart-etag", NULL},
    {"s3 hex-N + COMPOSITE, boundaries known",
     {MULTI, CK_COPY, S3_MP, .src_crc = CK_CRC_COMPOSITE, .src_crc_known = 1, DST_S3},
     "src:multipart-etag,src:crc32c,dst:crc32c-echo",
     NULL},
    {"s3 COMPOSITE, boundaries unknown",
     {MULTI, CK_COPY, .src_etag_multi = 1, .src_crc = CK_CRC_COMPOSITE, DST_S3},
     "dst:crc32c-echo",
     NULL},
    {"s3c opaque", {SINGLE, CK_COPY, DST_S3}, "", NULL},
    {"to cos, multipart", {MULTI, CK_COPY, OSS, DST_COS}, "src:crc64", NULL},
    {"server-side copy, plain ETag",
     {SCOPY, CK_COPY, OSS, S3_PLAIN, CRC_FULL, DST_S3},
     "dst:etag",
     NULL},
    {"server-side copy, hex-N ETag", {SCOPY, CK_COPY, S3_MP, DST_S3}, "", NULL},
    {"server-side parts", {SPARTS, CK_COPY, OSS, S3_PLAIN, DST_S3}, "", NULL},

    /* Streams: the request's own checks, and what the stream hashes and sends. */
    {"single buffered to s3",
     {SINGLE, CK_STREAM_BUF, S3_PLAIN, DST_S3},
     "dst:content-md5,dst:crc32c-echo,dst:etag",
     "md5 smd5 scrc32c"},
    {"single buffered to oss",
     {SINGLE, CK_STREAM_BUF, OSS, DST_OSS},
     "dst:content-md5,dst:etag",
     "md5 smd5"},
    {"single buffered to cos",
     {SINGLE, CK_STREAM_BUF, OSS, DST_COS},
     "dst:content-md5",
     "md5 smd5"},
    {"single piped, plain MD5 source",
     {SINGLE, CK_STREAM_PIPE, S3_PLAIN, DST_S3},
     "dst:content-md5,dst:etag",
     "md5 hold smd5"},
    {"single piped, oss source", {SINGLE, CK_STREAM_PIPE, OSS, DST_S3}, "dst:etag", "md5 hold"},
    {"single piped, opaque source", {SINGLE, CK_STREAM_PIPE, DST_S3}, "dst:etag", "md5"},
    {"single piped, kodo source", {SINGLE, CK_STREAM_PIPE, KODO, DST_COS}, "", "md5 qetag hold"},
    {"single piped, hex-N + FULL_OBJECT",
     {SINGLE, CK_STREAM_PIPE, S3_MP, CRC_FULL, DST_S3},
     "dst:etag",
     "md5 scrc mp hold"},
    {"single empty to s3",
     {SINGLE, CK_STREAM_EMPTY, S3_PLAIN, DST_S3},
     "dst:content-md5,dst:crc32c-echo,dst:etag",
     "md5 smd5 scrc32c"},
    {"single empty from kodo",
     {SINGLE, CK_STREAM_EMPTY, KODO, DST_OSS},
     "dst:content-md5,dst:etag",
     "md5 qetag smd5"},
    {"part piped, CRC32C trailer",
     {MULTI, CK_STREAM_PIPE, OSS, CRC_FULL, DST_S3},
     "dst:crc32c-echo",
     "crc scrc scrc32c"},
    {"part buffered, CRC32C header",
     {MULTI, CK_STREAM_BUF, OSS, DST_S3},
     "dst:crc32c-echo",
     "crc scrc32c"},
    {"part piped, --dst-checksum md5",
     {MULTI, CK_STREAM_PIPE, S3_PLAIN, DST_S3MD5},
     "dst:etag",
     "md5 omd5"},
    {"part piped, plain MD5 source, CRC32C trailer",
     {MULTI, CK_STREAM_PIPE, S3_PLAIN, DST_S3},
     "dst:crc32c-echo",
     "crc omd5 scrc32c"},
    {"part buffered, plain MD5 source",
     {MULTI, CK_STREAM_BUF, S3_PLAIN, DST_S3},
     "dst:crc32c-echo",
     "crc omd5 scrc32c"},
    {"part piped, plain MD5 + FULL_OBJECT crc32c: no whole MD5",
     {MULTI, CK_STREAM_PIPE, S3_PLAIN, CRC_FULL, DST_S3},
     "dst:crc32c-echo",
     "crc scrc scrc32c"},
    {"part buffered, --dst-checksum md5",
     {MULTI, CK_STREAM_BUF, OSS, DST_S3MD5},
     "dst:content-md5,dst:crc32c-echo,dst:etag",
     "md5 smd5 scrc32c"},
    {"part piped, kodo block digests",
     {MULTI, CK_STREAM_PIPE, KODO, .src_qetag_parts = 1, DST_COS},
     "",
     "md5 qetag"},
    {"part piped, hex-N source",
     {MULTI, CK_STREAM_PIPE, S3_MP, DST_S3},
     "dst:crc32c-echo",
     "crc mp scrc32c"},
    {"part empty, CRC32C upload",
     {MULTI, CK_STREAM_EMPTY, DST_S3},
     "dst:content-md5,dst:crc32c-echo,dst:etag",
     "md5 smd5 scrc32c"},
    {"resume, CRC32C upload", {MULTI, CK_STREAM_VERIFY, OSS, DST_S3}, "resume:crc32c", "crc"},
    {"resume, MD5 ETags", {MULTI, CK_STREAM_VERIFY, OSS, DST_S3MD5}, "resume:md5", "md5"},
    {"resume, opaque ETags", {MULTI, CK_STREAM_VERIFY, OSS, DST_COS}, "", "md5"},
    {"resume, plain MD5 source: re-read in order",
     {MULTI, CK_STREAM_VERIFY, S3_PLAIN, DST_S3},
     "resume:crc32c",
     "crc omd5"},
    {"UploadPartCopy", {SPARTS, CK_STREAM_PCOPY, OSS, DST_S3}, "", "md5"},
    {"UploadPartCopy, plain MD5 source", {SPARTS, CK_STREAM_PCOPY, S3_PLAIN, DST_S3}, "", "md5"},
};

static const char *flags(const ferry_copy_ck_t *k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s%s%s%s%s", k->crc_mode ? "crc " : "", k->md5_on ? "md5 " : "",
             k->scrc_on ? "scrc " : "", k->mp_on ? "mp " : "", k->qetag_on ? "qetag " : "",
             k->omd5_on ? "omd5 " : "", k->holdback ? "hold " : "", k->send_md5 ? "smd5 " : "",
             k->send_crc32c ? "scrc32c " : "");
    size_t l = strlen(buf);
    if (l > 0)
        buf[l - 1] = '\0';
    return buf;
}

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ferry_copy_ck_t k;
        char tags[200], fl[80];
        ferry_copy_checks(&rows[i].in, &k);
        ferry_copy_checks_tags(k.checks, tags, sizeof(tags));
        if (strcmp(tags, rows[i].tags) != 0)
            fprintf(stderr, "row \"%s\": tags\n", rows[i].name);
        CHECK_STR(tags, rows[i].tags);
        if (rows[i].flags != NULL) {
            if (strcmp(flags(&k, fl, sizeof(fl)), rows[i].flags) != 0)
                fprintf(stderr, "row \"%s\": flags\n", rows[i].name);
            CHECK_STR(fl, rows[i].flags);
        } else {
            /* The copy as a whole hashes nothing itself. */
            CHECK(strcmp(flags(&k, fl, sizeof(fl)), "") == 0);
        }
        /* A source check never comes from a server-side plan. */
        if (rows[i].in.plan == SCOPY || rows[i].in.plan == SPARTS)
            CHECK((k.checks & CK_SRC_ANY) == 0);
    }
}

/* Parts read in parallel form the whole-object MD5 in source order exactly when it is the
 * source's one check (any other source check makes it unneeded: it is not paid for). */
static void test_md5_over_parts(void)
{
    static const struct {
        ferry_copy_ck_in_t in;
        int want;
    } cases[] = {
        {{MULTI, CK_COPY, .src_md5_etag = 1}, 1},
        {{MULTI, CK_COPY, .src_md5_etag = 1, .src_crc = CK_CRC_COMPOSITE}, 1}, /* unknown parts */
        {{MULTI, CK_COPY, .src_md5_etag = 1, .src_crc = CK_CRC_FULL}, 0},
        {{MULTI, CK_COPY, .src_md5_etag = 1, .src_crc64 = 1}, 0},
        {{MULTI, CK_COPY, .src_md5_etag = 1, .src_mp_known = 1}, 0},
        {{MULTI, CK_COPY, .src_md5_etag = 0}, 0}, /* nothing to check at all */
        {{SPARTS, CK_COPY, .src_md5_etag = 1}, 0},
        {{SINGLE, CK_COPY, .src_md5_etag = 1, .src_crc = CK_CRC_FULL}, 1}, /* one stream: both */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferry_copy_ck_t k;
        ferry_copy_checks(&cases[i].in, &k);
        if (((k.checks & CK_SRC_MD5) != 0) != cases[i].want)
            fprintf(stderr, "md5 over parts, case %zu\n", i);
        CHECK(((k.checks & CK_SRC_MD5) != 0) == cases[i].want);
    }
}

static void test_tags(void)
{
    char buf[200], small[12];
    CHECK_STR(ferry_copy_checks_tags(0, buf, sizeof(buf)), "");
    CHECK_STR(ferry_copy_checks_tags(CK_SRC_ANY, buf, sizeof(buf)),
              "src:crc64,src:md5,src:multipart-etag,src:qetag,src:crc32c");
    CHECK_STR(ferry_copy_checks_tags(CK_RESUME_MD5 | CK_SRC_CRC64, buf, sizeof(buf)),
              "src:crc64,resume:md5");
    /* Too small: whole tags only, always terminated. */
    CHECK_STR(ferry_copy_checks_tags(CK_SRC_CRC64 | CK_SRC_MD5, small, sizeof(small)), "src:crc64");
}

int main(void)
{
    test_rows();
    test_md5_over_parts();
    test_tags();
    return test_summary();
}
