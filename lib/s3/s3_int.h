/* ferry — S3 client internals shared by client.c (engine: signing, retries, errors) and ops.c
 * (the operations: what each sends and how its reply is read). Not a public header. */
#ifndef FERRY_S3_INT_H
#define FERRY_S3_INT_H

#include "ferry/s3.h"

#include "ferry/buf.h"
#include "ferry/list.h"

typedef enum {
    OP_HEAD,
    OP_GET,
    OP_PUT,
    OP_DELETE,
    OP_COPY,
    OP_CREATE_MPU,
    OP_UPLOAD_PART,
    OP_UPLOAD_PART_COPY,
    OP_COMPLETE,
    OP_ABORT,
    OP_LIST,
    OP_LIST_PARTS,
    OP_LIST_UPLOADS,
    OP_DELETE_OBJECTS
} op_kind_t;

#define OP_MAX_HDRS 48

struct ferry_s3_s {
    uv_loop_t *loop;
    ferry_http_t *http;
    int own_http;
    ferry_profile_t prof;
    char *access_key, *secret_key, *token;
    ferry_creds_t creds;
    ferry_sigv4_key_t sigkey; /* derived signing key for today's scope; wiped with the secret */
    ferry_buf_t scratch[3];   /* op_send's URL, Host, Authorization, kept between requests */
    int scratch_busy;         /* scratch in use (op_send on the stack) */
    ferry_sigv4_scratch_t sigscratch; /* signing's buffers, with scratch */
    ferry_retry_policy_t pol;
    ferry_retry_rng_t rng;
    char role[32];
    int64_t (*now_ms)(void *);
    void *now_ud;
    long timeout_ms;
    void (*on_attempt)(void *, const char *, long);
    void (*on_retry)(void *, const char *, ferry_retry_class_t);
    void *observe_ud;
    ferry_list_t ops; /* in flight (ferry_s3_op_t.link), newest first */
    size_t nops;      /* operations not yet finished (done not called) */
    size_t nalive;    /* operations not yet freed (their timer's close callback pending) */
    int closing;
    int http_closed;
    void (*closed_cb)(void *);
    void *closed_arg;
};

struct ferry_s3_op_s {
    ferry_s3_t *c;
    ferry_list_t link; /* in c->ops */
    op_kind_t kind;
    const char *name;   /* "GetObject" */
    const char *method; /* "GET" */
    char *bucket;
    char *key; /* NULL for bucket-level operations */
    size_t key_len;
    ferry_buf_t query; /* encoded query without '?', rebuilt per attempt */
    /* headers fixed for the operation (names and values owned) */
    ferry_kv_t hdrs[OP_MAX_HDRS];
    size_t nhdrs;
    /* body */
    char *own_body; /* XML bodies built by the client */
    const char *body;
    int64_t body_len;
    ferry_http_source_cb source;
    int (*rewind)(void *);
    char payload_hash[65];
    int body_checked; /* a Content-MD5 or x-amz-checksum-crc32c header covers the body */
    /* aws-chunked body with a trailing CRC32C (args.trailer_crc32c): body_len above is the
     * encoded length; the source's bytes are framed on the fly. */
    struct {
        int on;
        int64_t len;        /* decoded length */
        int64_t sent;       /* decoded bytes taken from the source */
        int64_t chunk_left; /* of the current chunk */
        uint32_t crc;       /* CRC32C of the bytes so far */
        const uint32_t *of; /* args.trailer_crc32c_of: the caller's CRC32C of the body, or NULL */
        int ended;          /* the last chunk and trailer are queued */
        char frame[64];     /* chunk header, CRLF, or last chunk + trailer, pending output */
        size_t frame_len, frame_off;
        char b64[16]; /* the trailer's value, once known */
    } ch;
    /* GET */
    ferry_http_sink_cb sink;
    ferry_http_headers_cb on_headers;
    int headers_reported;
    int64_t range_start, range_end;
    char *if_match;
    int64_t delivered;   /* bytes the sink accepted, over all attempts */
    int64_t first_total; /* whole-object size the first 2xx reply gave, or -1 */
    char first_etag[FERRY_ETAG_MAX + 1];
    void *uarg;
    /* XML reply */
    ferry_s3xml_kind_t expect;
    int list_version;
    /* listings */
    ferry_s3_list_args_t la;
    char *prefix, *delimiter, *start_after, *token, *marker, *upload_id_marker, *upload_id;
    size_t marker_len;
    ferry_s3_list_guard_t *guard; /* ListObjects: borrowed (la.guard) or own_guard */
    ferry_s3_list_guard_t *own_guard;
    /* ListObjects (not provisional): the entries of the page being checked, recorded by the
     * checking pass and delivered from here once the page is known good, instead of a second
     * parse of the XML (~18k instructions an entry with expat). held_ok = 0: nothing usable
     * was recorded (too large, out of memory), the page is parsed again to deliver. */
    ferry_buf_t held;
    int held_ok;
    long part_marker;
    unsigned max_keys;
    int (*on_deleted)(void *, const ferry_s3xml_deleted_t *);
    /* state */
    ferry_http_req_t *req;
    uv_timer_t timer;  /* backoff and deferred completion; the op is freed in its close cb */
    unsigned attempts; /* total */
    unsigned tries;    /* for the current request (page) */
    int redirected;
    int canceled;
    int finishing;
    int cb_stopped; /* la.provisional: the caller's callback stopped the parse of the page */
    ferry_s3_result_t res;
    ferry_s3_done_cb done;
    void *done_arg;
    /* Bucket, key and the fixed headers' names and values of a typical operation live here,
     * in the op's own block, instead of two mallocs per string (~10 per operation); a string
     * that does not fit is malloc'd. s3_op_discard frees only those (op_str_free). */
    size_t arena_used;
    char arena[1024];
};

/* client.c */
ferry_s3_op_t *s3_op_new(ferry_s3_t *c, op_kind_t kind, const char *bucket, const char *key,
                         size_t key_len, ferry_error_t *err, int *rc);
int s3_op_header(ferry_s3_op_t *op, const char *name, const char *value);
void s3_op_discard(ferry_s3_op_t *op); /* before start: free without callbacks */
int s3_op_start(ferry_s3_op_t *op, ferry_s3_done_cb done, void *arg, ferry_s3_op_t **out,
                ferry_error_t *err);
char *s3_strdup(const char *s);
/* aws-chunked: set op->ch for len decoded bytes, op->body_len to the encoded length and the
 * payload hash. FERRY_OK or FERRY_EINVAL (len < 0). */
int s3_chunked_init(ferry_s3_op_t *op, int64_t len);
char *s3_strndup(const char *s, size_t n);

/* ops.c */
/* Build op->query for the next attempt (listings: from the paging state). */
int s3_ops_build_query(ferry_s3_op_t *op);
/* A 2xx reply whose XML parsed into r: update the result; *more = 1 when another page must be
 * fetched. Returns FERRY_OK or the code to finish with (a callback's). */
int s3_ops_on_page(ferry_s3_op_t *op, const ferry_http_resp_t *resp, const ferry_s3xml_result_t *xr,
                   int *more);
/* Callbacks that validate a page in the first (parse-only) pass, or NULL when the operation
 * has none: ListObjects checks the order of keys and prefixes against its guard, so a bad page
 * delivers nothing. A callback's error is set in op->res.err. */
const ferry_s3xml_cbs_t *s3_ops_check_cbs(ferry_s3_op_t *op, ferry_s3xml_cbs_t *cbs);

#endif
