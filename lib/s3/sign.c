/* AWS Signature Version 4 for S3 (header auth). See sigv4.h for the canonicalisation rules. */
/* The low-level SHA256_* calls (deprecated in OpenSSL 3, still shipped and still backed by the
 * same assembly): a plain context that can be copied, no provider lookup and no allocation per
 * hash. Signing hashes twice per request with a key fixed for a day, so the HMAC's keyed inner
 * and outer states are computed once (ferry_sigv4_key_t) and copied per request: ~4 us per
 * signature with EVP contexts built and freed per hash, ~1 us this way (bench_hot). */
#define OPENSSL_API_COMPAT 10101
#include "ferry/sigv4.h"

#include "ferry/check.h"
#include "ferry/error.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS      64
#define MAX_QUERY_PARAMS 128
#define CANON_CAP        (64 * 1024)

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((ferry_sigv4_key_t *)0)->hmac_in),
               "ferry_sigv4_key_t's HMAC states must hold a SHA256_CTX");

/* Zero memory that held key material: explicit_bzero is a store the compiler keeps, at
 * memset's speed (the volatile byte loop it replaces was ~1,000 instructions a signature). */
static void wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

void ferry_sigv4_amz_date(time_t t, char out[17])
{
    /* every request asks, many in the same second: the last answer is kept per thread */
    static _Thread_local time_t last = (time_t)-1;
    static _Thread_local char last_s[17];
    if (t != last) {
        struct tm tm;
        gmtime_r(&t, &tm);
        if (strftime(last_s, sizeof(last_s), "%Y%m%dT%H%M%SZ", &tm) != 16) {
            memcpy(out, "19700101T000000Z", 17); /* a year past 9999: no valid date */
            return;
        }
        last = t;
    }
    memcpy(out, last_s, 17);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int ferry_uri_encode(const char *s, size_t n, int keep_slash, ferry_buf_t *out)
{
    static const char hexd[] = "0123456789ABCDEF";
    int rc;
    /* Worst case 3 bytes out per byte in: reserve once, fill, commit. */
    if (n > (size_t)-1 / 3)
        return FERRY_ETOOBIG;
    char *dst = ferry_buf_reserve(out, n * 3, &rc);
    if (dst == NULL)
        return rc;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '%';
            dst[o++] = hexd[c >> 4];
            dst[o++] = hexd[c & 15];
        }
    }
    ferry_buf_commit(out, o);
    return FERRY_OK;
}

int ferry_uri_decode(const char *s, size_t n, int plus_as_space, ferry_buf_t *out)
{
    int rc;
    char *dst = ferry_buf_reserve(out, n, &rc);
    if (dst == NULL)
        return rc;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return FERRY_EPARSE;
            int hi = ferry_hex_val((unsigned char)s[i + 1]),
                lo = ferry_hex_val((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return FERRY_EPARSE;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_as_space) {
            dst[o++] = ' ';
        } else {
            dst[o++] = (char)c;
        }
    }
    ferry_buf_commit(out, o);
    return FERRY_OK;
}

/* Decode then canonically re-encode s[0..n) into out. */
static int reencode(const char *s, size_t n, int keep_slash, ferry_buf_t *out)
{
    if (memchr(s, '%', n) == NULL) /* nothing to decode: s is its own decoding */
        return ferry_uri_encode(s, n, keep_slash, out);
    ferry_buf_t tmp;
    ferry_buf_init(&tmp, n + 1);
    int rc = ferry_uri_decode(s, n, 0, &tmp);
    if (rc == FERRY_OK)
        rc = ferry_uri_encode(tmp.data ? tmp.data : "", tmp.len, keep_slash, out);
    ferry_buf_free(&tmp);
    return rc;
}

typedef struct {
    char *name; /* canonical (encoded) */
    char *value;
} qparam_t;

static int qparam_cmp(const void *a, const void *b)
{
    const qparam_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(const char *q, ferry_buf_t *out)
{
    qparam_t params[MAX_QUERY_PARAMS];
    size_t np = 0;
    int rc = FERRY_OK;
    if (q == NULL)
        return FERRY_OK;
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > 0) {
            if (np == MAX_QUERY_PARAMS) {
                rc = FERRY_ETOOBIG;
                goto out;
            }
            const char *eq = memchr(p, '=', seg);
            size_t nlen = eq ? (size_t)(eq - p) : seg;
            ferry_buf_t nb, vb;
            ferry_buf_init(&nb, CANON_CAP);
            ferry_buf_init(&vb, CANON_CAP);
            rc = reencode(p, nlen, 0, &nb);
            if (rc == FERRY_OK && eq)
                rc = reencode(eq + 1, seg - nlen - 1, 0, &vb);
            if (rc == FERRY_OK && nb.data == NULL)
                rc = ferry_buf_add(&nb, "", 0);
            if (rc == FERRY_OK && vb.data == NULL)
                rc = ferry_buf_add(&vb, "", 0);
            if (rc != FERRY_OK) {
                ferry_buf_free(&nb);
                ferry_buf_free(&vb);
                goto out;
            }
            params[np].name = ferry_buf_steal(&nb, NULL);
            params[np].value = ferry_buf_steal(&vb, NULL);
            np++;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    qsort(params, np, sizeof(params[0]), qparam_cmp);
    for (size_t i = 0; i < np && rc == FERRY_OK; i++)
        rc = ferry_buf_addf(out, "%s%s=%s", i ? "&" : "", params[i].name, params[i].value);
out:
    for (size_t i = 0; i < np; i++) {
        free(params[i].name);
        free(params[i].value);
    }
    return rc;
}

typedef struct {
    char name[128];
    const char *value;
    size_t idx; /* original position, for a stable sort */
} hdr_t;

static int hdr_cmp(const void *a, const void *b)
{
    const hdr_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Append value trimmed, with inner runs of spaces/tabs folded to one space. */
static int add_trimmed(ferry_buf_t *out, const char *v)
{
    int rc = FERRY_OK;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    size_t k = 0; /* the common case: no tab and no run of spaces inside, one copy */
    while (k < n && v[k] != '\t' && !(v[k] == ' ' && v[k + 1] == ' '))
        k++;
    if (k == n)
        return ferry_buf_add(out, v, n);
    int in_space = 0;
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        if (v[i] == ' ' || v[i] == '\t') {
            in_space = 1;
            continue;
        }
        if (in_space)
            rc = ferry_buf_add(out, " ", 1);
        in_space = 0;
        if (rc == FERRY_OK)
            rc = ferry_buf_add(out, v + i, 1);
    }
    return rc;
}

int ferry_sigv4_canonical_request(const ferry_sigv4_req_t *r, ferry_buf_t *creq,
                                  ferry_buf_t *signed_headers)
{
    hdr_t h[MAX_HEADERS];
    int rc;
    if (!r->method || !r->path || r->path[0] != '/' || !r->payload_hash ||
        (r->nheaders && !r->headers))
        return FERRY_EINVAL;
    if (r->nheaders > MAX_HEADERS)
        return FERRY_ETOOBIG;
    for (size_t i = 0; i < r->nheaders; i++) {
        size_t n = strlen(r->headers[i].name);
        if (n == 0 || n >= sizeof(h[i].name) || r->headers[i].value == NULL)
            return FERRY_EINVAL;
        for (size_t j = 0; j <= n; j++)
            h[i].name[j] = (char)tolower((unsigned char)r->headers[i].name[j]);
        h[i].value = r->headers[i].value;
        h[i].idx = i;
    }
    qsort(h, r->nheaders, sizeof(h[0]), hdr_cmp);

    if ((rc = ferry_buf_adds(creq, r->method)) || (rc = ferry_buf_add(creq, "\n", 1)))
        return rc;
    /* The path without its query (a caller may hand the request-target as is). */
    const char *qm = strchr(r->path, '?');
    size_t plen = qm ? (size_t)(qm - r->path) : strlen(r->path);
    if ((rc = reencode(r->path, plen, 1, creq)) || (rc = ferry_buf_add(creq, "\n", 1)))
        return rc;
    if ((rc = canonical_query(r->query, creq)) || (rc = ferry_buf_add(creq, "\n", 1)))
        return rc;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            /* a repeated name: values joined with ',' on the previous line */
            creq->len--; /* drop '\n' */
            if ((rc = ferry_buf_add(creq, ",", 1)) || (rc = add_trimmed(creq, h[i].value)) ||
                (rc = ferry_buf_add(creq, "\n", 1)))
                return rc;
            continue;
        }
        if ((rc = ferry_buf_adds(creq, h[i].name)) || (rc = ferry_buf_add(creq, ":", 1)) ||
            (rc = add_trimmed(creq, h[i].value)) || (rc = ferry_buf_add(creq, "\n", 1)))
            return rc;
        if ((signed_headers->len && (rc = ferry_buf_add(signed_headers, ";", 1))) ||
            (rc = ferry_buf_adds(signed_headers, h[i].name)))
            return rc;
    }
    if ((rc = ferry_buf_add(creq, "\n", 1)) ||
        (rc = ferry_buf_add(creq, signed_headers->data ? signed_headers->data : "",
                            signed_headers->len)) ||
        (rc = ferry_buf_add(creq, "\n", 1)) || (rc = ferry_buf_adds(creq, r->payload_hash)))
        return rc;
    return FERRY_OK;
}

/* "YYYYMMDD/region/service/aws4_request" */
static int add_scope(ferry_buf_t *out, const char *amz_date, const char *region,
                     const char *service)
{
    int rc;
    if ((rc = ferry_buf_add(out, amz_date, 8)) || (rc = ferry_buf_add(out, "/", 1)) ||
        (rc = ferry_buf_adds(out, region)) || (rc = ferry_buf_add(out, "/", 1)) ||
        (rc = ferry_buf_adds(out, service)) || (rc = ferry_buf_add(out, "/aws4_request", 13)))
        return rc;
    return FERRY_OK;
}

int ferry_sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                               const char *creq, size_t creq_len, ferry_buf_t *out)
{
    uint8_t d[32];
    char hex[65];
    if (!amz_date || strlen(amz_date) != 16 || !region || !service)
        return FERRY_EINVAL;
    /* SHA256_Init/Update/Final, not the one-shot SHA256(): OpenSSL 3 routes that through
     * EVP_Q_digest, which looks the algorithm up in its providers on every call (3x the hash
     * itself for a ~300-byte canonical request) */
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, creq, creq_len);
    SHA256_Final(d, &c);
    ferry_hex_lower(d, 32, hex);
    int rc;
    if ((rc = ferry_buf_add(out, "AWS4-HMAC-SHA256\n", 17)) ||
        (rc = ferry_buf_add(out, amz_date, 16)) || (rc = ferry_buf_add(out, "\n", 1)) ||
        (rc = add_scope(out, amz_date, region, service)) || (rc = ferry_buf_add(out, "\n", 1)) ||
        (rc = ferry_buf_add(out, hex, 64)))
        return rc;
    return FERRY_OK;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request") */
static void derive_key(const char *secret, const char *amz_date, const char *region,
                       const char *service, uint8_t k[32])
{
    char kdate[300];
    int n = snprintf(kdate, sizeof(kdate), "AWS4%s", secret);
    if (n < 0 || (size_t)n >= sizeof(kdate))
        n = (int)sizeof(kdate) - 1; /* secrets are 40 chars; a longer one cannot match anyway */
    ferry_hmac_sha256(kdate, (size_t)n, amz_date, 8, k);
    ferry_hmac_sha256(k, 32, region, strlen(region), k);
    ferry_hmac_sha256(k, 32, service, strlen(service), k);
    ferry_hmac_sha256(k, 32, "aws4_request", 12, k);
    wipe(kdate, sizeof(kdate));
}

void ferry_sigv4_signature(const char *secret, const char *amz_date, const char *region,
                           const char *service, const char *string_to_sign, char out[65])
{
    uint8_t k[32];
    derive_key(secret, amz_date, region, service, k);
    ferry_hmac_sha256(k, 32, string_to_sign, strlen(string_to_sign), k);
    ferry_hex_lower(k, 32, out);
    wipe(k, sizeof(k));
}

void ferry_sigv4_key_wipe(ferry_sigv4_key_t *kc)
{
    if (kc)
        wipe(kc, sizeof(*kc));
}

int ferry_sigv4_authorization(const ferry_sigv4_req_t *r, const ferry_creds_t *creds,
                              ferry_buf_t *out)
{
    return ferry_sigv4_authorization_cached(r, creds, NULL, out);
}

/* HMAC-SHA256's keyed states for a 32-byte key: the hash of (key ^ ipad) and of (key ^ opad),
 * each one block, so an HMAC with this key is a copy of each state and two short updates. */
static void hmac_states(const uint8_t key[32], SHA256_CTX *in, SHA256_CTX *out)
{
    uint8_t pad[64];
    memset(pad, 0x36, sizeof(pad));
    for (int i = 0; i < 32; i++)
        pad[i] ^= key[i];
    SHA256_Init(in);
    SHA256_Update(in, pad, 64);
    memset(pad, 0x5c, sizeof(pad));
    for (int i = 0; i < 32; i++)
        pad[i] ^= key[i];
    SHA256_Init(out);
    SHA256_Update(out, pad, 64);
    wipe(pad, sizeof(pad));
}

/* HMAC over p[0..n) from the keyed states. */
static void hmac_from(const SHA256_CTX *in, const SHA256_CTX *out, const void *p, size_t n,
                      uint8_t mac[32])
{
    SHA256_CTX c;
    uint8_t inner[32];
    memcpy(&c, in, sizeof(c));
    SHA256_Update(&c, p, n);
    SHA256_Final(inner, &c);
    memcpy(&c, out, sizeof(c));
    SHA256_Update(&c, inner, 32);
    SHA256_Final(mac, &c);
    wipe(&c, sizeof(c));
}

void ferry_sigv4_scratch_init(ferry_sigv4_scratch_t *s)
{
    ferry_buf_init(&s->creq, CANON_CAP);
    ferry_buf_init(&s->sh, 4096);
    ferry_buf_init(&s->sts, 1024);
}

void ferry_sigv4_scratch_free(ferry_sigv4_scratch_t *s)
{
    if (s == NULL)
        return;
    ferry_buf_free(&s->creq);
    ferry_buf_free(&s->sh);
    ferry_buf_free(&s->sts);
}

int ferry_sigv4_authorization_cached(const ferry_sigv4_req_t *r, const ferry_creds_t *creds,
                                     ferry_sigv4_key_t *kc, ferry_buf_t *out)
{
    return ferry_sigv4_authorization_scratch(r, creds, kc, NULL, out);
}

int ferry_sigv4_authorization_scratch(const ferry_sigv4_req_t *r, const ferry_creds_t *creds,
                                      ferry_sigv4_key_t *kc, ferry_sigv4_scratch_t *scratch,
                                      ferry_buf_t *out)
{
    ferry_sigv4_scratch_t local;
    char sig[65];
    int rc;
    if (!creds || !creds->access_key || !creds->secret_key || !r->amz_date || !r->region ||
        !r->service || strlen(r->amz_date) != 16)
        return FERRY_EINVAL;
    if (scratch == NULL) {
        ferry_sigv4_scratch_init(&local);
    } else {
        ferry_buf_reset(&scratch->creq);
        ferry_buf_reset(&scratch->sh);
        ferry_buf_reset(&scratch->sts);
    }
    ferry_sigv4_scratch_t *sc = scratch ? scratch : &local;
    ferry_buf_t *creq = &sc->creq, *sh = &sc->sh, *sts = &sc->sts;
    /* room for a typical request at once (the buffers grow past it as needed) */
    if (ferry_buf_reserve(creq, 1024, &rc) == NULL || ferry_buf_reserve(sh, 256, &rc) == NULL ||
        ferry_buf_reserve(sts, 256, &rc) == NULL)
        goto out;
    rc = ferry_sigv4_canonical_request(r, creq, sh);
    if (rc == FERRY_OK)
        rc = ferry_sigv4_string_to_sign(r->amz_date, r->region, r->service, ferry_buf_cstr(creq),
                                        creq->len, sts);
    if (rc == FERRY_OK) {
        uint8_t k[32];
        SHA256_CTX in, outer;
        /* The derived key depends only on (secret, day, region, service): reuse it, and its
         * HMAC states, while they hold. A scope that does not fit the cache's fields is derived
         * every time. */
        size_t rl = strlen(r->region), sl = strlen(r->service);
        int cacheable = kc && rl < sizeof(kc->region) && sl < sizeof(kc->service);
        if (cacheable && kc->valid && memcmp(kc->date, r->amz_date, 8) == 0 &&
            strcmp(kc->region, r->region) == 0 && strcmp(kc->service, r->service) == 0) {
            memcpy(&in, kc->hmac_in, sizeof(in));
            memcpy(&outer, kc->hmac_out, sizeof(outer));
        } else {
            derive_key(creds->secret_key, r->amz_date, r->region, r->service, k);
            hmac_states(k, &in, &outer);
            if (cacheable) {
                memcpy(kc->date, r->amz_date, 8);
                kc->date[8] = 0;
                memcpy(kc->region, r->region, rl + 1);
                memcpy(kc->service, r->service, sl + 1);
                memcpy(kc->key, k, 32);
                memcpy(kc->hmac_in, &in, sizeof(in));
                memcpy(kc->hmac_out, &outer, sizeof(outer));
                kc->valid = 1;
            }
            wipe(k, sizeof(k));
        }
        hmac_from(&in, &outer, sts->data, sts->len, k);
        wipe(&in, sizeof(in));
        wipe(&outer, sizeof(outer));
        ferry_hex_lower(k, 32, sig);
        wipe(k, sizeof(k));
        if ((rc = ferry_buf_add(out, "AWS4-HMAC-SHA256 Credential=", 28)) ||
            (rc = ferry_buf_adds(out, creds->access_key)) || (rc = ferry_buf_add(out, "/", 1)) ||
            (rc = add_scope(out, r->amz_date, r->region, r->service)) ||
            (rc = ferry_buf_add(out, ", SignedHeaders=", 16)) ||
            (rc = ferry_buf_add(out, sh->data ? sh->data : "", sh->len)) ||
            (rc = ferry_buf_add(out, ", Signature=", 12)) || (rc = ferry_buf_add(out, sig, 64)))
            goto out;
    }
out:
    if (scratch == NULL)
        ferry_sigv4_scratch_free(&local);
    return rc;
}

/* Copy s[0..n) into dst[cap] with a NUL; FERRY_ETOOBIG if it does not fit. */
static int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return FERRY_ETOOBIG;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return FERRY_OK;
}

int ferry_sigv4_parse_authorization(const char *value, ferry_sigv4_auth_t *out)
{
    static const char algo[] = "AWS4-HMAC-SHA256";
    int have = 0, rc;
    memset(out, 0, sizeof(*out));
    if (value == NULL || strncmp(value, algo, sizeof(algo) - 1) != 0 ||
        (value[sizeof(algo) - 1] != ' '))
        return FERRY_EPARSE;
    const char *p = value + sizeof(algo) - 1;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            return FERRY_EPARSE;
        const char *end = strchr(eq, ',');
        if (end == NULL)
            end = eq + strlen(eq);
        size_t klen = (size_t)(eq - p), vlen = (size_t)(end - eq - 1);
        const char *v = eq + 1;
        while (vlen > 0 && v[vlen - 1] == ' ')
            vlen--;
        if (klen == 10 && memcmp(p, "Credential", 10) == 0) {
            /* AK/DATE/REGION/SERVICE/aws4_request; the key id itself has no '/' */
            const char *f[5];
            size_t fl[5];
            size_t nf = 0;
            const char *s = v, *vend = v + vlen;
            while (nf < 5) {
                const char *sl = memchr(s, '/', (size_t)(vend - s));
                f[nf] = s;
                fl[nf] = sl ? (size_t)(sl - s) : (size_t)(vend - s);
                nf++;
                if (!sl)
                    break;
                s = sl + 1;
            }
            if (nf != 5 || f[4] + fl[4] != vend || fl[4] != 12 ||
                memcmp(f[4], "aws4_request", 12) != 0 || fl[1] != 8 || fl[0] == 0)
                return FERRY_EPARSE;
            if ((rc = copy_field(out->access_key, sizeof(out->access_key), f[0], fl[0])) ||
                (rc = copy_field(out->date, sizeof(out->date), f[1], fl[1])) ||
                (rc = copy_field(out->region, sizeof(out->region), f[2], fl[2])) ||
                (rc = copy_field(out->service, sizeof(out->service), f[3], fl[3])))
                return rc;
            have |= 1;
        } else if (klen == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
            if (vlen == 0)
                return FERRY_EPARSE;
            if ((rc = copy_field(out->signed_headers, sizeof(out->signed_headers), v, vlen)))
                return rc;
            have |= 2;
        } else if (klen == 9 && memcmp(p, "Signature", 9) == 0) {
            if (vlen != 64)
                return FERRY_EPARSE;
            for (size_t i = 0; i < 64; i++)
                if (ferry_hex_val((unsigned char)v[i]) < 0)
                    return FERRY_EPARSE;
            copy_field(out->signature, sizeof(out->signature), v, vlen);
            have |= 4;
        } else {
            return FERRY_EPARSE;
        }
        p = end;
    }
    return have == 7 ? FERRY_OK : FERRY_EPARSE;
}
