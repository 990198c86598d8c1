/* fakes3 — decoder for S3's aws-chunked content coding, unsigned variant with a trailer
 * (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER, AWS "sigv4-streaming-trailers").
 *
 *   body         = *chunk last-chunk trailer-part CRLF
 *   chunk        = chunk-size CRLF chunk-data CRLF          chunk-size = 1*HEXDIG (not zero)
 *   last-chunk   = 1*"0" CRLF
 *   trailer-part = *( field-name ":" OWS field-value OWS CRLF )
 *
 * The decoder is fed any slicing of the encoded bytes (network fragments) and writes the data
 * straight into the caller's destination, so the encoded body is never held in memory. Chunk
 * extensions (";chunk-signature=...") belong to signed streaming, which fakes3 does not
 * implement: they are refused. Exactly one trailer is accepted, the one announced in
 * x-amz-trailer; its value is kept for the caller to verify.
 *
 * Caps, so that hostile input costs no memory beyond the destination: a chunk-size line or a
 * trailer line longer than FAKES3_AWSCHUNKED_LINE_MAX bytes, a chunk size over 16 significant
 * hex digits, and data past the declared decoded length are errors.
 *
 * Errors: _feed and _finish return FERRY_EPARSE and leave an S3 error code
 * ("InvalidChunkSizeError", "IncompleteBody", "MalformedTrailerError") and a message on the
 * decoder, written once by one setter; later calls return the same error. A decoder belongs
 * to one thread and holds no resources (nothing to free).
 */
#ifndef FAKES3_AWSCHUNKED_H
#define FAKES3_AWSCHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define FAKES3_AWSCHUNKED_LINE_MAX 256 /* bytes of a chunk-size or trailer line, CRLF excluded */

typedef struct fakes3_awschunked_s {
    char *dst;        /* borrowed: data lands at dst[0..want); NULL discards (still counted) */
    uint64_t want;    /* x-amz-decoded-content-length */
    char trailer[48]; /* the announced trailer's name, lowercase; "" when none is expected */
    uint64_t decoded; /* data bytes so far */
    uint64_t left;    /* data bytes left in the current chunk */
    int state;
    unsigned ndig;                             /* significant hex digits of the chunk size */
    size_t linelen;                            /* bytes of the current chunk-size or trailer line */
    int zeros;                                 /* the chunk-size line had digits, all zero so far */
    char line[FAKES3_AWSCHUNKED_LINE_MAX + 1]; /* the trailer line being read */
    char value[FAKES3_AWSCHUNKED_LINE_MAX + 1]; /* the announced trailer's value, trimmed */
    int have_value;
    int done;         /* the CRLF after the trailer part was seen */
    const char *code; /* S3 error code, or NULL while all is well */
    char msg[200];
} fakes3_awschunked_t;

/* Start decoding into dst (want bytes expected). trailer: the name announced in x-amz-trailer
 * (matched case-insensitively, at most 47 bytes) or NULL when no trailer may be sent. */
void fakes3_awschunked_init(fakes3_awschunked_t *d, char *dst, uint64_t want, const char *trailer);

/* Decode in[0..n). *used gets the bytes consumed: all of them, unless the body ended (d->done)
 * inside in; what follows belongs to someone else. FERRY_OK or FERRY_EPARSE (d->code set). */
int fakes3_awschunked_feed(fakes3_awschunked_t *d, const char *in, size_t n, size_t *used);

/* The encoded body is over: check that it was complete, that it decoded to exactly want bytes
 * and that the announced trailer came. FERRY_OK or FERRY_EPARSE (d->code set). */
int fakes3_awschunked_finish(fakes3_awschunked_t *d);

#endif
