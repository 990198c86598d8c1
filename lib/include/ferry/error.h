/* ferry — one error enum for the whole project.
 *
 * Every function that can fail returns an int: FERRY_OK (0) or one of the negative codes
 * below. Codes are never renumbered; new ones are appended. Details that a user can act on
 * travel beside the code in a ferry_error_t owned by the caller's context.
 */
#ifndef FERRY_ERROR_H
#define FERRY_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, message) */
#define FERRY_ERRNO_MAP(XX)                                                                        \
    XX(NOMEM, -1, "out of memory")                                                                 \
    XX(INVAL, -2, "invalid argument")                                                              \
    XX(TOOBIG, -3, "input exceeds its size cap")                                                   \
    XX(PARSE, -4, "malformed input")                                                               \
    XX(IO, -5, "I/O error")                                                                        \
    XX(NOTFOUND, -6, "not found")                                                                  \
    XX(EXISTS, -7, "already exists")                                                               \
    XX(TIMEOUT, -8, "timed out")                                                                   \
    XX(NET, -9, "network error")                                                                   \
    XX(AUTH, -10, "authentication failed")                                                         \
    XX(DENIED, -11, "access denied")                                                               \
    XX(S3, -12, "the object store returned an error")                                              \
    XX(CHECKSUM, -13, "checksum mismatch")                                                         \
    XX(CHANGED, -14, "the source object changed during the copy")                                  \
    XX(REDIS, -15, "Redis error")                                                                  \
    XX(CONFLICT, -16, "a newer record exists (compare-and-set lost)")                              \
    XX(CANCELED, -17, "canceled")                                                                  \
    XX(UNSUPPORTED, -18, "not supported")                                                          \
    XX(RANGE, -19, "value out of range")                                                           \
    XX(BUSY, -20, "held by another process")                                                       \
    XX(SPAWN, -21, "could not start a process")                                                    \
    XX(RETRY, -22, "temporary failure, retry later")                                               \
    XX(CONFIG, -23, "bad configuration")

enum {
    FERRY_OK = 0,
#define FERRY_ERR_ENUM_(name, val, msg) FERRY_E##name = (val),
    FERRY_ERRNO_MAP(FERRY_ERR_ENUM_)
#undef FERRY_ERR_ENUM_
};

/* A short English message for a code; never NULL ("unknown error" for unknown codes). */
const char *ferry_strerror(int code);

/* The code's name, e.g. "FERRY_ENOMEM"; never NULL. */
const char *ferry_err_name(int code);

/* Error details carried on a context (client request, queue, parser). Fixed size: writing it
 * never allocates, so it works on the out-of-memory path too. */
typedef struct ferry_error_s {
    int code;         /* FERRY_OK or a FERRY_E* code */
    int http_status;  /* HTTP status when a server answered, else 0 */
    char s3_code[64]; /* the store's error code (e.g. "AccessDenied"), or "" */
    char msg[320];    /* a sentence the user can act on, or "" */
    char side[4];     /* which store answered: "src", "dst", or "" (ferry/errcode.h) */
} ferry_error_t;

/* The one setter. Formats msg (truncated to fit), sets code, clears http_status, s3_code and side.
 * Returns code, so callers can write `return ferry_error_set(err, FERRY_EINVAL, ...)`.
 * err may be NULL (then only the code is returned). */
int ferry_error_set(ferry_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset to FERRY_OK with empty strings. err may be NULL. */
void ferry_error_clear(ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
