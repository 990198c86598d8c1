/* ferry — streaming parsers for the XML bodies S3-compatible stores send, and builders for the
 * XML bodies ferry sends.
 *
 * One parser type handles every response body. The caller says which result it expects
 * (FERRY_S3XML_LIST for a listing, ...); the parser accepts that root element or <Error> (a
 * 200 whose body is <Error>, as COS Complete/Copy and S3 Copy/Complete can send, is reported
 * as root FERRY_S3XML_ERROR — the caller must treat it as a failure). Any other root is
 * FERRY_EPARSE.
 *
 * Bytes are fed as they arrive (any chunking gives the same result). Leading whitespace is
 * skipped, because S3 and COS send spaces as keep-alive before the XML of a Complete reply.
 * Hostile input is an error, never a crash: the body is capped (FERRY_ETOOBIG), so is the
 * element depth (FERRY_ETOOBIG) and each text field (keys: 1024 bytes after decoding, the
 * S3 limit; FERRY_ETOOBIG); a listed <Size> above 5 TiB is FERRY_ERANGE naming the key. DTDs and
 * entity declarations are refused (FERRY_EPARSE), so "billion laughs" cannot expand. A body that
 * ends early (unclosed tags, no root) is FERRY_EPARSE from ferry_s3xml_finish(); a listing is
 * complete only when finish returns FERRY_OK.
 *
 * Listing keys: when the response carries <EncodingType>url</EncodingType>, Key, Prefix
 * (CommonPrefixes), NextMarker, and ListMultipartUploads' Key/NextKeyMarker are decoded.
 * Decoding follows the *response*, not the request (Kodo and some S3 clones ignore
 * encoding-type=url and send raw keys; decoding those would corrupt "100%.csv"). S3 encodes
 * a space as '+' and a literal '+' as "%2B" (form encoding; rclone and the AWS SDKs decode with
 * QueryUnescape / unquote_plus), so '+' means space by default; opts.plus_literal = 1 for a
 * store that sends a literal '+' (profile setting list_plus_is_space). Servers that put
 * <EncodingType> after the entries (MinIO) make the parser hold entries back until it knows;
 * the hold is bounded by the body cap.
 *
 * Callback contract: callbacks run only inside ferry_s3xml_feed()/ferry_s3xml_finish(), on the
 * caller's thread. A callback returns FERRY_OK to go on or a negative FERRY_E* code to stop:
 * that code is returned by the feed/finish call and by every later call. Callbacks may have
 * fired for entries of a body that later turns out truncated or malformed: on any error the
 * caller must discard the whole page (nothing from it is "complete"). Strings passed to a
 * callback are borrowed, valid until the callback returns.
 *
 * A parser is used by one thread at a time. No global state (expat is created per parser).
 */
#ifndef FERRY_S3XML_H
#define FERRY_S3XML_H

#include "ferry/buf.h"
#include "ferry/error.h"
#include "ferry/limits.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a body is (the root element). */
typedef enum ferry_s3xml_kind_e {
    FERRY_S3XML_NONE = 0,     /* no root seen yet */
    FERRY_S3XML_ERROR,        /* <Error> */
    FERRY_S3XML_LIST,         /* <ListBucketResult> (ListObjects V1 or V2) */
    FERRY_S3XML_INITIATE,     /* <InitiateMultipartUploadResult> */
    FERRY_S3XML_COMPLETE,     /* <CompleteMultipartUploadResult> */
    FERRY_S3XML_COPY,         /* <CopyObjectResult> or <CopyPartResult> */
    FERRY_S3XML_LIST_PARTS,   /* <ListPartsResult> */
    FERRY_S3XML_LIST_UPLOADS, /* <ListMultipartUploadsResult> */
    FERRY_S3XML_DELETE        /* <DeleteResult> */
} ferry_s3xml_kind_t;

#define FERRY_S3XML_KEY_MAX           FERRY_KEY_MAX  /* bytes, after decoding (S3's limit) */
#define FERRY_S3XML_SIZE_MAX          FERRY_SIZE_MAX /* 5 TiB: S3's object size limit */
#define FERRY_S3XML_DEFAULT_MAX_BYTES (8u << 20)     /* a 1000-key page is ~0.5-1.5 MB */
#define FERRY_S3XML_DEFAULT_MAX_DEPTH 16
#define FERRY_S3XML_DEFAULT_MAX_TEXT  4096 /* any non-key text field (tokens, ids) */

/* Parser options. Zero-initialise, set expect, leave the rest 0 for defaults. */
typedef struct ferry_s3xml_opts_s {
    ferry_s3xml_kind_t expect; /* the result kind the request asks for (not NONE/ERROR) */
    int list_version;          /* FERRY_S3XML_LIST: 1 (ListObjects) or 2 (V2); 0 = 2. V1 only:
                                  a truncated page without NextMarker continues after the last
                                  key or prefix (S3 docs), reported in result.next_marker */
    int plus_literal;          /* 0 (default): '+' is a space when url-decoding, as S3 sends;
                                  1: '+' stays '+' (profile list_plus_is_space = 0) */
    size_t max_bytes;          /* body cap; 0 = FERRY_S3XML_DEFAULT_MAX_BYTES */
    unsigned max_depth;        /* element nesting cap; 0 = FERRY_S3XML_DEFAULT_MAX_DEPTH */
    size_t max_text;           /* cap on any non-key text field; 0 = FERRY_S3XML_DEFAULT_MAX_TEXT */
} ferry_s3xml_opts_t;

/* One <Contents> entry of a listing. */
typedef struct ferry_s3xml_object_s {
    const char *key;               /* decoded, NUL-terminated; may hold a NUL byte if the server
                                      sent %00 — use key_len */
    size_t key_len;                /* 1..FERRY_S3XML_KEY_MAX */
    int64_t size;                  /* bytes, or -1 when absent */
    char etag[FERRY_ETAG_MAX + 1]; /* quotes stripped, case kept ("" when absent) */
    int64_t last_modified_ms;      /* epoch ms, or -1 when absent */
    char storage_class[64];        /* as sent ("" when absent) */
} ferry_s3xml_object_t;

/* One <Part> of ListParts. */
typedef struct ferry_s3xml_part_s {
    int number;                    /* 1..10000 */
    char etag[FERRY_ETAG_MAX + 1]; /* quotes stripped */
    int64_t size;                  /* or -1 */
    int64_t last_modified_ms;      /* or -1 */
    char checksum_crc32c[16];      /* <ChecksumCRC32C> (base64), or "" */
} ferry_s3xml_part_t;

/* One <Upload> of ListMultipartUploads. */
typedef struct ferry_s3xml_upload_s {
    const char *key; /* decoded like listing keys */
    size_t key_len;
    const char *upload_id; /* NUL-terminated */
    int64_t initiated_ms;  /* or -1 */
    char storage_class[64];
} ferry_s3xml_upload_t;

/* One entry of a DeleteResult: <Deleted> (ok = 1) or <Error> (ok = 0, code/message set). */
typedef struct ferry_s3xml_deleted_s {
    const char *key; /* raw (DeleteObjects does not url-encode) */
    size_t key_len;
    int ok;
    char code[64];
    char message[256];
} ferry_s3xml_deleted_t;

/* Callbacks; any may be NULL (the entries are then parsed, checked and dropped). */
typedef struct ferry_s3xml_cbs_s {
    void *ud; /* passed to every callback */
    int (*on_object)(void *ud, const ferry_s3xml_object_t *o);
    /* CommonPrefixes/Prefix, decoded (listings and ListMultipartUploads) */
    int (*on_prefix)(void *ud, const char *prefix, size_t len);
    int (*on_part)(void *ud, const ferry_s3xml_part_t *p);
    int (*on_upload)(void *ud, const ferry_s3xml_upload_t *u);
    int (*on_deleted)(void *ud, const ferry_s3xml_deleted_t *d);
} ferry_s3xml_cbs_t;

/* An <Error> body. Fields longer than their slot are truncated (they are informational). */
typedef struct ferry_s3xml_error_s {
    char code[64]; /* e.g. "NoSuchKey" */
    char message[320];
    char request_id[128];
    char host_id[256];
    char resource[256];
    char trace_id[256]; /* COS <TraceId> */
    char ec[64];        /* OSS <EC>, e.g. "0017-00000804" */
    char region[64];    /* S3 <Region> (AuthorizationHeaderMalformed, ...) */
    char endpoint[256]; /* S3 <Endpoint> (PermanentRedirect) */
    char bucket[64];    /* <BucketName> when sent */
} ferry_s3xml_error_t;

/* Everything a body says besides the per-entry callbacks. Valid after ferry_s3xml_finish()
 * returned FERRY_OK (root, and err when root is FERRY_S3XML_ERROR, also after other codes
 * as far as parsed). Strings are "" when absent; integers -1 when absent. */
typedef struct ferry_s3xml_result_s {
    ferry_s3xml_kind_t root;
    ferry_s3xml_error_t err; /* root == FERRY_S3XML_ERROR */
    /* listings, ListParts, ListMultipartUploads */
    int is_truncated; /* 0/1 */
    int url_encoded;  /* 1 if <EncodingType>url</EncodingType> was seen */
    long key_count;   /* V2 KeyCount, or -1 */
    long objects;     /* entries reported (Contents, Part, Upload, Deleted+Error) */
    long prefixes;    /* CommonPrefixes reported */
    char next_token[FERRY_S3XML_DEFAULT_MAX_TEXT + 1]; /* V2 NextContinuationToken (opaque) */
    char next_marker[FERRY_S3XML_KEY_MAX + 1];         /* V1 NextMarker decoded, or the last key or
                                                          prefix when truncated without NextMarker;
                                                          ListMultipartUploads NextKeyMarker */
    size_t next_marker_len;
    char next_upload_id_marker[FERRY_UPLOAD_ID_MAX + 1]; /* ListMultipartUploads */
    long next_part_number_marker;                        /* ListParts, or -1 */
    char checksum_algorithm[16]; /* ListParts: the upload's <ChecksumAlgorithm>, or "" */
    /* Initiate / Complete / Copy */
    char upload_id[FERRY_UPLOAD_ID_MAX + 1];
    char bucket[256];
    char key[FERRY_S3XML_KEY_MAX + 1]; /* as sent (not decoded) */
    char etag[FERRY_ETAG_MAX + 1];     /* quotes stripped */
    char location[1025];
    int64_t last_modified_ms;
    char checksum_crc32c[16]; /* Complete: <ChecksumCRC32C> ("base64-N" composite), or "" */
} ferry_s3xml_result_t;

typedef struct ferry_s3xml_s ferry_s3xml_t;

/* New parser (free with ferry_s3xml_free). opts and cbs are copied. FERRY_OK, FERRY_EINVAL
 * (expect is NONE/ERROR or out of range, bad list_version), FERRY_ENOMEM. */
int ferry_s3xml_new(const ferry_s3xml_opts_t *opts, const ferry_s3xml_cbs_t *cbs,
                    ferry_s3xml_t **out);

/* Feed the next len bytes (len may be 0). FERRY_OK; FERRY_EPARSE (malformed, wrong root, DTD or
 * entity, bad number or date); FERRY_ETOOBIG (body, depth or field cap); FERRY_ENOMEM; or a
 * callback's code. After an error every call returns the same code. */
int ferry_s3xml_feed(ferry_s3xml_t *p, const void *data, size_t len);

/* The body is complete. FERRY_OK only for a well-formed document with the expected root or
 * <Error>; FERRY_EPARSE for an empty or truncated body; same codes as feed. */
int ferry_s3xml_finish(ferry_s3xml_t *p);

/* Borrowed, valid until ferry_s3xml_free. Never NULL for a non-NULL p. */
const ferry_s3xml_result_t *ferry_s3xml_result(const ferry_s3xml_t *p);

/* The parse error with a sentence (e.g. "S3 XML: key longer than 1024 bytes after decoding
 * at line 1"); code FERRY_OK when none. Borrowed, valid until ferry_s3xml_free. */
const ferry_error_t *ferry_s3xml_last_error(const ferry_s3xml_t *p);

/* Free a parser; NULL is fine. */
void ferry_s3xml_free(ferry_s3xml_t *p);

/* One-shot: parse a whole buffered <Error> body into out (zeroed first). FERRY_OK when the
 * root is <Error>; FERRY_EPARSE otherwise (out->code then ""); caps as above. */
int ferry_s3xml_parse_error(const void *body, size_t len, ferry_s3xml_error_t *out);

/* Write an S3 error into err for the user: code FERRY_ES3 (or the one given), http_status,
 * s3_code, and msg "<what>: <Code>: <Message> (request id R)". what may be NULL. Returns code. */
int ferry_s3xml_error_apply(const ferry_s3xml_error_t *e, int code, int http_status,
                            const char *what, ferry_error_t *err);

/* ---- builders ------------------------------------------------------------------------ */

/* A part for CompleteMultipartUpload. etag with or without quotes (quotes are added). */
typedef struct ferry_s3xml_cpart_s {
    int number;                  /* 1..10000, strictly ascending across the list */
    const char *etag;            /* borrowed */
    const char *checksum_crc32c; /* base64, or NULL/"": no <ChecksumCRC32C> (borrowed) */
} ferry_s3xml_cpart_t;

/* Append <CompleteMultipartUpload> for parts[0..n) to out. FERRY_OK; FERRY_EINVAL (n == 0 or
 * > 10000, numbers out of range or not ascending, empty etag or one holding characters XML
 * cannot carry); buffer errors. */
int ferry_s3xml_build_complete(const ferry_s3xml_cpart_t *parts, size_t n, ferry_buf_t *out);

/* Append <Delete> (DeleteObjects) for keys[0..n) to out; quiet adds <Quiet>true</Quiet>.
 * Keys are NUL-terminated UTF-8, XML-escaped (& < > " ' and CR, TAB, LF as character
 * references). FERRY_EINVAL for n == 0 or > 1000, an empty key, a key over 1024 bytes, invalid
 * UTF-8, or a control character XML 1.0 cannot carry at all (U+0001-U+0008, U+000B, U+000C,
 * U+000E-U+001F, U+FFFE, U+FFFF): such keys must be deleted one by one with DELETE, whose key
 * travels in the URL. err (may be NULL) says which key. Buffer errors otherwise. */
int ferry_s3xml_build_delete(const char *const *keys, size_t n, int quiet, ferry_buf_t *out,
                             ferry_error_t *err);

/* Append s[0..n) XML-escaped as above. FERRY_EINVAL on characters XML 1.0 cannot carry or
 * invalid UTF-8. */
int ferry_s3xml_escape(const char *s, size_t n, ferry_buf_t *out);

/* Parse an ISO 8601 timestamp as S3 writes it ("2009-10-12T17:50:30.000Z"; fraction optional;
 * "Z" or "+hh:mm" / "-hh:mm") to epoch ms. FERRY_OK or FERRY_EPARSE. */
int ferry_s3xml_parse_time(const char *s, size_t n, int64_t *out_ms);

#ifdef __cplusplus
}
#endif
#endif
