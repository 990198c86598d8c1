/* ferry — error codes: a short, stable name for why an object failed ("dst:403", "src:404",
 * "checksum:dst", "net:timeout", …), so that failures group by cause, not by text (the text
 * names the key). The vocabulary is documented in docs/cli.md ("Error codes").
 *
 * A code is 1..FERRY_ERRCODE_MAX characters of [A-Za-z0-9:._-]. A record keeps it at the front
 * of its error text, "[dst:403] S3 said AccessDenied on PUT …" (ferry_error_text_coded); the
 * one function that reads it back is ferry_error_code_of, which also classifies texts written
 * without a code (records from before codes existed, dead letters, skip reasons), so every
 * error has a code.
 *
 * Everything here is pure: no allocation, no I/O, any input is safe.
 */
#ifndef FERRY_ERRCODE_H
#define FERRY_ERRCODE_H

#include <stddef.h>

#include "ferry/error.h"
#include "ferry/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when s[0..n) is a well-formed code: 1..FERRY_ERRCODE_MAX of [A-Za-z0-9:._-]. */
int ferry_error_code_valid(const char *s, size_t n);

/* The code of a structured error: e->side ("src"/"dst", set by the S3 client), e->code,
 * e->http_status and e->s3_code decide; e->msg only where those cannot (a checksum mismatch
 * says in its text which side's digest disagreed). out gets the code (cut to n - 1; n should be
 * FERRY_ERRCODE_MAX + 1); "" for FERRY_OK. */
void ferry_error_code_for(const ferry_error_t *e, char *out, size_t n);

/* The code of a stored error text. "[CODE] message": CODE (when well-formed), and the return
 * value points at "message". Any other text: the code the classifier derives from it (the
 * messages ferry writes: "S3 said AccessDenied on PUT …", "could not complete GET … timed out",
 * "gave up after 3 attempts: …", …; "other" when nothing matches), and the return value is the
 * text itself. NULL or "": code "" and "". Never NULL. */
const char *ferry_error_code_of(const char *text, char *code, size_t n);

/* Write "[code] text" into out (n bytes, NUL included), text cut to fit, for a record's error
 * slot (n = FERRY_ERRMSG_MAX + 1). An empty or malformed code writes text alone. Returns out. */
char *ferry_error_text_coded(char *out, size_t n, const char *code, const char *text);

#ifdef __cplusplus
}
#endif
#endif
