/* fakes3 — internal interfaces shared by the server's modules.
 *
 * Threads: one accept loop (main.c) and one thread per connection (server.c). Shared state
 * hangs off fakes3_server_t: the store (buckets -> sorted maps of objects, each bucket under
 * its own rwlock), the fault rules (a mutex), and the stats (atomics). There are no other
 * globals.
 *
 * Object lifetime: a fakes3_obj_t is immutable once published in a bucket and is reference
 * counted; a reader takes a reference under the bucket's read lock and streams the body after
 * dropping the lock. Bodies are lists of slices of reference-counted segments (memory, a
 * seeded generator, or a file in --data-dir), so CopyObject and CompleteMultipartUpload share
 * segments instead of copying bytes.
 */
#ifndef FAKES3_H
#define FAKES3_H

#include "http.h"
#include "map.h"

#include "ferry/buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration ----------------------------------------------------------------------- */

typedef enum { FAKES3_S3 = 0, FAKES3_OSS, FAKES3_COS, FAKES3_KODO } fakes3_personality_t;

typedef struct fakes3_config_s {
    fakes3_personality_t personality;
    const char *access_key; /* borrowed from argv */
    const char *secret_key;
    const char *region;     /* "us-east-1" unless --region */
    int region_set;         /* --region given: s3 checks the credential scope against it */
    const char *domain;     /* virtual-host suffix, "localhost" */
    const char *data_dir;   /* NULL: memory only */
    int path_style_ok;      /* oss: accept path-style */
    int list_v2;            /* cos: answer ListObjectsV2 */
    uint64_t min_part_size; /* EntityTooSmall below this for non-last parts; 0 = off */
    uint64_t max_object;    /* PUT / UploadPart body cap */
    uint64_t seed;          /* PRNG seed for faults and IDs */
    int verbose;            /* one logfmt line per request on stderr */
} fakes3_config_t;

/* ---- store ------------------------------------------------------------------------------- */

typedef enum { FAKES3_SEG_MEM, FAKES3_SEG_SEED, FAKES3_SEG_FILE } fakes3_seg_kind_t;

/* A run of immutable bytes. Reference counted; freed (file unlinked) at zero. */
typedef struct fakes3_seg_s {
    atomic_uint refs;
    fakes3_seg_kind_t kind;
    uint64_t len;
    uint64_t seed;             /* SEED: the generator key (see fakes3_seed_fill) */
    char *mem;                 /* MEM: owned, len bytes */
    char *path;                /* FILE: owned path of the blob */
    char blob[24];             /* FILE: the blob id (file name under DATA/blobs) */
    const atomic_int *closing; /* FILE: the store's flag; the blob is kept when set */
} fakes3_seg_t;

typedef struct fakes3_slice_s {
    fakes3_seg_t *seg; /* one reference owned by the slice's holder */
    uint64_t off, len;
} fakes3_slice_t;

#define FAKES3_ETAG_MAX 48

typedef struct fakes3_obj_s {
    atomic_uint refs;
    uint64_t size;
    int64_t mtime_ms;
    uint64_t crc64;
    int has_crc;
    uint32_t crc32c;            /* S3 x-amz-checksum-crc32c, with has_crc32c */
    int has_crc32c;             /* given on PUT, or composed by a CRC32C multipart upload */
    uint32_t crc32c_parts;      /* 0: CRC32C of the whole object; N: COMPOSITE over N parts */
    int persisted;              /* a meta file exists for it in --data-dir */
    char etag[FAKES3_ETAG_MAX]; /* with quotes */
    char sclass[24];            /* "STANDARD" ... */
    char *hdrs;                 /* owned: stored response headers "Name: value\r\n"..., or NULL */
    int has_ctype;              /* hdrs has a Content-Type line */
    uint32_t nslices;
    fakes3_slice_t *slices; /* owned array (slices hold segment references) */
    uint32_t nparts;        /* parts a Complete joined (HEAD/GET ?partNumber=), 0 otherwise */
    uint64_t *part_sizes;   /* owned: nparts sizes, or NULL */
} fakes3_obj_t;

typedef struct fakes3_part_s {
    uint32_t num;
    uint64_t size;
    int64_t mtime_ms;
    uint8_t md5[16];
    char etag[FAKES3_ETAG_MAX];
    uint64_t crc64;
    int has_crc;
    uint32_t crc32c; /* the part's CRC32C (header or aws-chunked trailer), with has_crc32c */
    int has_crc32c;
    uint32_t nslices;
    fakes3_slice_t *slices;
} fakes3_part_t;

typedef struct fakes3_upload_s {
    char id[40];
    char *key; /* owned, NUL-terminated (keys never contain NUL) */
    size_t keylen;
    int64_t initiated_ms;
    char *hdrs; /* owned, headers given at Create */
    int has_ctype;
    char sclass[24];
    int crc32c; /* created with x-amz-checksum-algorithm: CRC32C (COMPOSITE) */
    size_t nparts, cap;
    fakes3_part_t **parts; /* owned, sorted by num */
} fakes3_upload_t;

typedef struct fakes3_bucket_s {
    char name[64];
    int64_t created_ms;
    pthread_rwlock_t lock; /* guards objects and uploads */
    fakes3_map_t objects;  /* key -> fakes3_obj_t * (one reference each) */
    fakes3_map_t uploads;  /* key NUL upload-id -> fakes3_upload_t * */
    int seeded;            /* --data-dir: a seed record exists (deletes write tombstones) */
    int tombstones;        /* --data-dir: tombstone metas exist (seeding removes them) */
    struct fakes3_bucket_s *next_dead;
} fakes3_bucket_t;

typedef struct fakes3_store_s {
    pthread_rwlock_t lock; /* guards buckets and dead */
    fakes3_map_t buckets;  /* name -> fakes3_bucket_t * */
    fakes3_bucket_t *dead; /* deleted buckets, freed at exit (a thread may still hold one) */
    const char *data_dir;  /* borrowed from the config */
    fakes3_personality_t personality;
    atomic_int closing; /* set by fakes3_store_free: FILE segments keep their blobs */
    atomic_uint_fast64_t next_id;
    uint64_t id_salt;
} fakes3_store_t;

int fakes3_store_new(const fakes3_config_t *cfg, fakes3_store_t **out); /* free with _free */
void fakes3_store_free(fakes3_store_t *s);
/* Load --data-dir (buckets, objects, seeds); removes unreferenced blobs. */
int fakes3_store_load(fakes3_store_t *s, char *err, size_t errlen);

/* Bucket lookup: borrowed; valid until fakes3_store_free (deleted buckets are parked). */
fakes3_bucket_t *fakes3_store_bucket(fakes3_store_t *s, const char *name);
int fakes3_store_bucket_create(fakes3_store_t *s, const char *name); /* OK / EEXISTS */
int fakes3_store_bucket_delete(fakes3_store_t *s, const char *name); /* OK/ENOTFOUND/ECONFLICT */

fakes3_seg_t *fakes3_seg_new_mem(char *mem, uint64_t len); /* takes mem; NULL on ENOMEM */
fakes3_seg_t *fakes3_seg_new_seed(uint64_t seed, uint64_t len);
void fakes3_seg_ref(fakes3_seg_t *g);
void fakes3_seg_unref(fakes3_seg_t *g);

/* Copy the byte range [off, off+n) of a body (slices) into dst. FERRY_OK or FERRY_EIO. */
int fakes3_body_read(const fakes3_slice_t *sl, uint32_t nsl, uint64_t off, void *dst, size_t n);
/* Slices covering [off, off+len) of a body, each with a new reference. *out owned by the
 * caller (free with fakes3_slices_free). FERRY_OK or FERRY_ENOMEM. */
int fakes3_slices_sub(const fakes3_slice_t *sl, uint32_t nsl, uint64_t off, uint64_t len,
                      fakes3_slice_t **out, uint32_t *nout);
void fakes3_slices_free(fakes3_slice_t *sl, uint32_t n);

fakes3_obj_t *fakes3_obj_new(void); /* refs = 1; NULL on ENOMEM */
void fakes3_obj_ref(fakes3_obj_t *o);
void fakes3_obj_unref(fakes3_obj_t *o);

/* Publish o under key (takes the caller's reference). With --data-dir, writes its data (MEM
 * segments become FILE blobs) and meta first. FERRY_OK, FERRY_ENOMEM, FERRY_EIO. */
int fakes3_store_put(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen,
                     fakes3_obj_t *o);
/* A new reference to the object at key, or NULL. */
fakes3_obj_t *fakes3_store_get(fakes3_bucket_t *b, const char *key, size_t klen);
/* Remove key. FERRY_OK (also when absent). */
int fakes3_store_del(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen);

/* Parts and uploads (callers hold nothing; the functions lock b). */
void fakes3_part_free(fakes3_part_t *p);
void fakes3_upload_free(fakes3_upload_t *u);

/* A unique 64-bit id (upload ids, blob names). */
uint64_t fakes3_store_new_id(fakes3_store_t *s);

/* The quoted ETag for an MD5 in the personality's style (OSS: uppercase hex). */
void fakes3_etag_md5(fakes3_personality_t p, const uint8_t md5[16], char out[FAKES3_ETAG_MAX]);

/* Seeded content: deterministic bytes at any offset of object (seed, index). */
uint64_t fakes3_seed_key(uint64_t seed, uint64_t index);
void fakes3_seed_fill(uint64_t key, uint64_t off, void *dst, size_t n);

typedef struct fakes3_seed_spec_s {
    const char *prefix; /* borrowed */
    uint64_t start, count, seed;
    int width;     /* zero-padded index width */
    size_t nsizes; /* 1..64 */
    uint64_t sizes[64];
    uint64_t weights[64];
    int crc32c; /* s3: store each object's whole-object CRC32C, as a PUT with
                   x-amz-checksum-crc32c would (HEAD/GET with x-amz-checksum-mode answer it) */
} fakes3_seed_spec_t;

/* Create spec->count seeded objects in b without any request traffic (ETag and CRC computed
 * from generated content). With --data-dir the spec is recorded, not each object.
 * FERRY_OK, FERRY_ENOMEM, FERRY_EIO. */
int fakes3_store_seed(fakes3_store_t *s, fakes3_bucket_t *b, const fakes3_seed_spec_t *spec,
                      uint64_t *created);

/* --data-dir: move MEM segments of these slices into blob files (in place). */
int fakes3_persist_slices(fakes3_store_t *s, fakes3_slice_t *sl, uint32_t n);

/* ---- faults ------------------------------------------------------------------------------ */

typedef struct fakes3_fault_rule_s {
    char op[40];      /* operation name or "*" */
    char *key_prefix; /* owned, or NULL */
    double rate;      /* 0..1, default 1 */
    int64_t count;    /* -1: unlimited */
    int64_t fired;
    int error;           /* HTTP status or 0 */
    int64_t reset_after; /* -1: none */
    int latency_ms;
    uint64_t bandwidth;
    int error_body;
    int flip_byte;
    int wrong_etag;      /* PUT/UploadPart/Complete: 200 with an ETag that is not the content's;
                            HEAD/GET: the object's ETag (and If-Match) is not its content's */
    int no_etag;         /* PUT/UploadPart: 200 with no ETag, and nothing stored */
    int wrong_crc32c;    /* PUT/UploadPart/Complete: echo a CRC32C that is not the content's */
    int upload_id_len;   /* CreateMultipartUpload: answer an UploadId this long, create nothing */
    int sse_kms;         /* HeadObject/GetObject: say x-amz-server-side-encryption: aws:kms */
    char list_omit[257]; /* ListObjects(V2): leave keys with this prefix (<= 256 bytes) out */
    int list_repeat;     /* ListObjects(V2): send the page's Nth <Contents> twice (out of order) */
    int64_t range_start; /* -1, or: only a request whose Range starts at this byte */
    int64_t skip;        /* let the first N requests the rule applies to pass (0) */
    int64_t skipped;
} fakes3_fault_rule_t;

typedef struct fakes3_faults_s {
    pthread_mutex_t mu;
    fakes3_fault_rule_t *rules; /* owned */
    size_t n;
    uint64_t rng;
} fakes3_faults_t;

/* What fired for one request (the union of the firing rules; first non-zero field wins). */
typedef struct fakes3_fault_hit_s {
    int fired;
    int error;
    int64_t reset_after; /* -1: none */
    int latency_ms;
    uint64_t bandwidth;
    int error_body;
    int flip_byte;
    int wrong_etag;
    int no_etag;
    int wrong_crc32c;
    int upload_id_len;
    int sse_kms;
    char list_omit[257]; /* "": none */
    int list_repeat;     /* 0: none */
} fakes3_fault_hit_t;

void fakes3_faults_init(fakes3_faults_t *f, uint64_t seed);
void fakes3_faults_free(fakes3_faults_t *f);
/* Replace the rules with a JSON array (or {"rules":[...]}). FERRY_OK or FERRY_EPARSE with a
 * message in err. */
int fakes3_faults_set(fakes3_faults_t *f, const char *json, size_t n, char *err, size_t errlen);
/* The rules as JSON into out. */
int fakes3_faults_dump(fakes3_faults_t *f, ferry_buf_t *out);
/* The rules that apply to a request of op on key (NULL: none) whose Range header starts at
 * range_start (-1: no Range, or not of the form bytes=N-[M]), into hit. */
void fakes3_faults_match(fakes3_faults_t *f, const char *op, const char *key, size_t klen,
                         int64_t range_start, fakes3_fault_hit_t *hit);

/* ---- stats ------------------------------------------------------------------------------- */

#define FAKES3_OPS(XX)                                                                             \
    XX(LIST_BUCKETS, "ListBuckets")                                                                \
    XX(CREATE_BUCKET, "CreateBucket")                                                              \
    XX(HEAD_BUCKET, "HeadBucket")                                                                  \
    XX(DELETE_BUCKET, "DeleteBucket")                                                              \
    XX(GET_BUCKET_LOCATION, "GetBucketLocation")                                                   \
    XX(LIST_OBJECTS_V2, "ListObjectsV2")                                                           \
    XX(LIST_OBJECTS, "ListObjects")                                                                \
    XX(HEAD_OBJECT, "HeadObject")                                                                  \
    XX(GET_OBJECT, "GetObject")                                                                    \
    XX(PUT_OBJECT, "PutObject")                                                                    \
    XX(DELETE_OBJECT, "DeleteObject")                                                              \
    XX(DELETE_OBJECTS, "DeleteObjects")                                                            \
    XX(COPY_OBJECT, "CopyObject")                                                                  \
    XX(CREATE_MULTIPART_UPLOAD, "CreateMultipartUpload")                                           \
    XX(UPLOAD_PART, "UploadPart")                                                                  \
    XX(UPLOAD_PART_COPY, "UploadPartCopy")                                                         \
    XX(COMPLETE_MULTIPART_UPLOAD, "CompleteMultipartUpload")                                       \
    XX(ABORT_MULTIPART_UPLOAD, "AbortMultipartUpload")                                             \
    XX(LIST_PARTS, "ListParts")                                                                    \
    XX(LIST_MULTIPART_UPLOADS, "ListMultipartUploads")                                             \
    XX(UNKNOWN, "Unknown")

typedef enum {
#define FAKES3_OP_ENUM_(e, s) FAKES3_OP_##e,
    FAKES3_OPS(FAKES3_OP_ENUM_)
#undef FAKES3_OP_ENUM_
        FAKES3_OP_COUNT
} fakes3_op_t;

const char *fakes3_op_name(fakes3_op_t op);

typedef struct fakes3_opstat_s {
    atomic_uint_fast64_t count, bytes_in, bytes_out, errors, faults;
} fakes3_opstat_t;

/* Requests whose body was aws-chunked (or claimed to be): count, those answered >= 400, and
 * the bytes decoded from the ones accepted. */
typedef struct fakes3_chunkstat_s {
    atomic_uint_fast64_t count, errors, bytes_decoded;
} fakes3_chunkstat_t;

typedef struct fakes3_stats_s {
    fakes3_opstat_t op[FAKES3_OP_COUNT];
    fakes3_chunkstat_t aws_chunked;
} fakes3_stats_t;

int fakes3_stats_dump(fakes3_stats_t *st, ferry_buf_t *out);
void fakes3_stats_reset(fakes3_stats_t *st);

/* ---- server ------------------------------------------------------------------------------ */

typedef struct fakes3_server_s {
    fakes3_config_t cfg;
    fakes3_store_t *store; /* owned */
    fakes3_faults_t faults;
    fakes3_stats_t stats;
    atomic_uint_fast64_t req_seq; /* request ids */
    atomic_int inflight;          /* requests being answered (for a clean stop) */
    atomic_int stopping;
} fakes3_server_t;

/* Serve one accepted connection until it closes; takes ownership of fd. */
void fakes3_server_conn(fakes3_server_t *srv, int fd);

/* ---- helpers (xml.c) --------------------------------------------------------------------- */

/* Append s[0..n) XML-escaped (&<>"' and control bytes as character references). */
int fakes3_xml_escape(ferry_buf_t *out, const char *s, size_t n);
/* S3 encoding-type=url: unreserved and '/' kept, ' ' -> '+', others %XX. */
int fakes3_url_encode(ferry_buf_t *out, const char *s, size_t n);

typedef struct fakes3_xml_part_s {
    uint32_t num;
    char etag[FAKES3_ETAG_MAX + 8];
    char crc32c[16]; /* <ChecksumCRC32C> as sent (base64), "" when absent */
} fakes3_xml_part_t;

/* Parse a CompleteMultipartUpload body. *parts owned by the caller (free()). FERRY_OK,
 * FERRY_EPARSE (malformed XML or a bad part number), FERRY_ETOOBIG (> 10,000 parts). */
int fakes3_xml_complete(const char *xml, size_t n, fakes3_xml_part_t **parts, size_t *nparts);

typedef struct fakes3_xml_delete_s {
    int quiet;
    size_t n;
    char **keys; /* owned (free with fakes3_xml_delete_free) */
    size_t *klens;
} fakes3_xml_delete_t;

/* Parse a DeleteObjects body (at most 1000 keys). FERRY_OK, FERRY_EPARSE, FERRY_ETOOBIG. */
int fakes3_xml_delete(const char *xml, size_t n, fakes3_xml_delete_t *out);
void fakes3_xml_delete_free(fakes3_xml_delete_t *d);

#endif
