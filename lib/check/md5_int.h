/* ferry — lib/check internals of MD5 (md5.c), for the tests and the bench only. */
#ifndef FERRY_CHECK_MD5_INT_H
#define FERRY_CHECK_MD5_INT_H

/* Allow (1) or forbid (0) the AVX2 path of ferry_md5_update_many, process-wide; allowed is
 * the default unless the environment says FERRY_MD5_SIMD=0 (read once). A CPU without AVX2
 * never takes it. Returns 1 when the AVX2 path is now in use. Not for production code: meant
 * to be called before any thread hashes (the tests check both paths on one machine). */
int ferry_md5_set_simd(int on);

#endif
