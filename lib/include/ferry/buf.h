/* ferry — a growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every buffer fed by outside data has a maximum: appending past it fails with FERRY_ETOOBIG
 * and leaves the buffer as it was. The data is always NUL-terminated once anything has been
 * added, so text can be read with ferry_buf_cstr().
 *
 * Ownership: the struct is the caller's (stack or embedded); the memory it points to is owned
 * by the buffer and released by ferry_buf_free(). Not thread-safe.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_buf_s {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the cap on len */
} ferry_buf_t;

/* Initialise an empty buffer that may hold at most max bytes. Cannot fail. */
void ferry_buf_init(ferry_buf_t *b, size_t max);

/* Append n bytes. FERRY_OK, FERRY_ETOOBIG (len + n > max) or FERRY_ENOMEM. */
int ferry_buf_add(ferry_buf_t *b, const void *p, size_t n);

/* Append a NUL-terminated string. Same codes as ferry_buf_add. */
int ferry_buf_adds(ferry_buf_t *b, const char *s);

/* Append printf-formatted text. Same codes as ferry_buf_add. */
int ferry_buf_addf(ferry_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ferry_buf_vaddf(ferry_buf_t *b, const char *fmt, va_list ap);

/* Make room for n more bytes without adding them; returns a pointer to write to (then call
 * ferry_buf_commit with how many were written), or NULL with *rc set. */
char *ferry_buf_reserve(ferry_buf_t *b, size_t n, int *rc);
void ferry_buf_commit(ferry_buf_t *b, size_t n);

/* Forget the contents but keep the memory. */
void ferry_buf_reset(ferry_buf_t *b);

/* Borrowed pointer to the contents as a C string ("" when empty); valid until the next call
 * that changes the buffer. */
const char *ferry_buf_cstr(const ferry_buf_t *b);

/* Take the memory out (caller frees with free()); the buffer is left empty. NULL when empty. */
char *ferry_buf_steal(ferry_buf_t *b, size_t *len);

/* Release the memory; the buffer is left empty and reusable with the same max. */
void ferry_buf_free(ferry_buf_t *b);

#ifdef __cplusplus
}
#endif
#endif
