/* ferry — the one set of bounds on what ferry stores and passes around: object keys, etags,
 * upload ids, sequencers, worker names, error texts. The codec, the ledger's Lua scripts (the
 * prelude names them KEY_MAX, ETAG_MAX, …), the S3 client's results, the copy and the queue
 * size their buffers from these, so a value one part accepts fits everywhere else.
 *
 * Each *_MAX is a count of bytes (characters) without the terminating NUL: a buffer is
 * `char x[FERRY_X_MAX + 1]`. Values are plain decimal literals, no U/L suffixes, because the
 * ledger stringizes them into Lua (FERRY_STR below); they fit a long on every target ferry
 * builds for. Pure preprocessor: no includes, no types.
 */
#ifndef FERRY_LIMITS_H
#define FERRY_LIMITS_H

#define FERRY_KEY_MAX       1024 /* an object key, in bytes: S3's limit (also a key prefix) */
#define FERRY_ETAG_MAX      130  /* an etag as stored, quotes included: a quoted multipart etag */
#define FERRY_UPLOAD_ID_MAX 1024 /* a multipart upload id (S3 documents no limit) */
#define FERRY_SEQ_MAX       64   /* an S3 event sequencer, hex digits */
#define FERRY_WORKER_MAX    128  /* a worker's consumer name "<host>/<slot>" */
#define FERRY_CHECKS_MAX    256  /* a record's comma-separated list of the checks that ran */
#define FERRY_ERRMSG_MAX    512  /* the error text a record keeps */
#define FERRY_TASK_NAME_MAX 64   /* a task name, [A-Za-z0-9._-] */
#define FERRY_SIZE_MAX      5497558138880 /* 5 TiB: the largest object S3 holds */
#define FERRY_MTIME_MAX     253402300799  /* 9999-12-31T23:59:59Z, unix seconds */

/* A macro's value as a string literal: FERRY_STR(FERRY_KEY_MAX) is "1024". */
#define FERRY_STR_(x) #x
#define FERRY_STR(x)  FERRY_STR_(x)

#endif
