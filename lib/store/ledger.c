/* ferry — the ledger. Layout, encoding and transition rules: docs/internals/ledger.md. */
#include "ferry/clock.h"
#include "ferry/ledger.h"
#include "ferry/check.h"
#include "ferry/errcode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_int.h"
#include "keys_int.h"

/* The keys of one shard that a Lua call touches together with a record (docs/redis.md). */
typedef struct {
    char k_pending[128], k_failed[128], k_cnt[128], k_q[3][128]; /* q: event, bulk, dead */
    char tag[FERRY_LEDGER_TAG_MAX + 1];
} led_shard_t;

struct ferry_ledger_s {
    ferry_redis_t *r;
    char task[FERRY_TASK_NAME_MAX + 1];
    uint32_t buckets;
    uint32_t shards;
    led_shard_t *sh; /* shards entries */
};

/* ---- names ---------------------------------------------------------------------------------- */

#define NAME_(name, val, text) [val] = text,
static const char *const STATE_NAMES[FERRY_STATE_COUNT] = {FERRY_STATE_LIST(NAME_)};
static const char *const ORIGIN_NAMES[FERRY_ORIGIN_COUNT] = {FERRY_ORIGIN_LIST(NAME_)};
#undef NAME_

/* The lists in ferry/ledger.h number their entries 0..COUNT-1 (states, origins) and
 * 1..COUNT (slots), without gaps: a value out of range fails the build here. */
#define IN_RANGE_(prefix, name, val, lo, n)                                                        \
    _Static_assert((val) >= (lo) && (val) < (lo) + (n), #prefix #name " out of range");
#define STATE_OK_(name, val, text)  IN_RANGE_(FERRY_STATE_, name, val, 0, FERRY_STATE_COUNT)
#define ORIGIN_OK_(name, val, text) IN_RANGE_(FERRY_ORIGIN_, name, val, 0, FERRY_ORIGIN_COUNT)
#define SLOT_OK_(name, val)         IN_RANGE_(FERRY_SLOT_, name, val, 1, FERRY_SLOT_COUNT)
FERRY_STATE_LIST(STATE_OK_)
FERRY_ORIGIN_LIST(ORIGIN_OK_)
FERRY_SLOT_LIST(SLOT_OK_)

const char *ferry_state_name(int s)
{
    return s >= 0 && s < FERRY_STATE_COUNT ? STATE_NAMES[s] : "?";
}

int ferry_state_parse(const char *s, ferry_state_t *out)
{
    for (int i = 0; i < FERRY_STATE_COUNT; i++)
        if (s && strcmp(s, STATE_NAMES[i]) == 0) {
            *out = (ferry_state_t)i;
            return FERRY_OK;
        }
    return FERRY_EINVAL;
}

const char *ferry_origin_name(int o)
{
    return o >= 0 && o < FERRY_ORIGIN_COUNT ? ORIGIN_NAMES[o] : "?";
}

int ferry_origin_parse(const char *s, ferry_origin_t *out)
{
    for (int i = 0; i < FERRY_ORIGIN_COUNT; i++)
        if (s && strcmp(s, ORIGIN_NAMES[i]) == 0) {
            *out = (ferry_origin_t)i;
            return FERRY_OK;
        }
    return FERRY_EINVAL;
}

/* ---- time ----------------------------------------------------------------------------------- */

void ferry_time_format(int64_t t, char *buf, size_t n)
{
    if (t <= 0) {
        if (n)
            buf[0] = '\0';
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int ferry_time_parse(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return FERRY_EINVAL;
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (*e == '\0' && errno == 0 && v >= 0) {
        *out = v;
        return FERRY_OK;
    }
    int Y, M, D, h, m, sec;
    char tail[16] = "";
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%15s", &Y, &M, &D, &h, &m, &sec, tail) < 6)
        return FERRY_EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970)
        return FERRY_EINVAL;
    /* Accept Z, .123Z, +00:00 (other offsets are not produced by any store we read). */
    const char *t = tail;
    if (*t == '.') {
        t++;
        while (*t >= '0' && *t <= '9')
            t++;
    }
    if (!(strcmp(t, "Z") == 0 || strcmp(t, "") == 0 || strcmp(t, "+00:00") == 0))
        return FERRY_EINVAL;
    *out = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec;
    return FERRY_OK;
}

/* ---- etag packing -----------------------------------------------------------------------------
 */

size_t ferry_etag_pack(const char *etag, uint8_t *out, size_t cap)
{
    if (etag == NULL || *etag == '\0')
        return 0;
    size_t n = strlen(etag);
    const char *h = etag;
    size_t hn = n;
    int quoted = 0;
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        quoted = 1;
        h++;
        hn -= 2;
    }
    int lower = 0, upper = 0, ok = hn >= 2 && hn % 2 == 0 && hn / 2 + 1 <= cap;
    for (size_t i = 0; ok && i < hn; i++) {
        int c = (unsigned char)h[i];
        if (ferry_hex_val(c) < 0)
            ok = 0;
        else if (c >= 'a' && c <= 'f')
            lower = 1;
        else if (c >= 'A' && c <= 'F')
            upper = 1;
    }
    if (ok && !(lower && upper)) {
        /* tag: 1 lower, 2 upper, +2 when quoted (all-digit hex counts as lower) */
        out[0] = (uint8_t)((upper ? 2 : 1) + (quoted ? 2 : 0));
        for (size_t i = 0; i < hn / 2; i++)
            out[1 + i] = (uint8_t)(ferry_hex_val(h[2 * i]) << 4 | ferry_hex_val(h[2 * i + 1]));
        return hn / 2 + 1;
    }
    /* Text form. A tag byte 0 marks text that would otherwise start with a tag value. */
    size_t off = ((unsigned char)etag[0] <= 4) ? 1 : 0;
    if (n + off > cap)
        n = cap - off;
    if (off)
        out[0] = 0;
    memcpy(out + off, etag, n);
    return n + off;
}

int ferry_etag_unpack(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char LO[] = "0123456789abcdef", UP[] = "0123456789ABCDEF";
    if (cap == 0)
        return FERRY_ERANGE;
    out[0] = '\0';
    if (n == 0)
        return FERRY_OK;
    if (in[0] >= 1 && in[0] <= 4) {
        const char *d = (in[0] == 1 || in[0] == 3) ? LO : UP;
        int q = in[0] >= 3;
        size_t need = (n - 1) * 2 + (q ? 2 : 0) + 1;
        if (need > cap)
            return FERRY_ERANGE;
        size_t o = 0;
        if (q)
            out[o++] = '"';
        for (size_t i = 1; i < n; i++) {
            out[o++] = d[in[i] >> 4];
            out[o++] = d[in[i] & 15];
        }
        if (q)
            out[o++] = '"';
        out[o] = '\0';
        return FERRY_OK;
    }
    size_t off = in[0] == 0 ? 1 : 0;
    if (n - off + 1 > cap)
        return FERRY_ERANGE;
    for (size_t i = off; i < n; i++)
        if (in[i] == 0)
            return FERRY_EPARSE;
    memcpy(out, in + off, n - off);
    out[n - off] = '\0';
    return FERRY_OK;
}

/* dst etag "same as source": S3's quoted lower-case MD5 of a source whose etag is a bare MD5.
 * a[0..na), b[0..nb): the two etags packed (ferry_etag_pack). */
static int dst_same_as_src(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && na > 1 && a[0] >= 1 && a[0] <= 4 && b[0] == 3 &&
           memcmp(a + 1, b + 1, na - 1) == 0;
}

/* The same for two etags as text. */
static int dst_same_as_src_text(const char *src, const char *dst)
{
    uint8_t a[FERRY_ETAG_MAX + 2], b[FERRY_ETAG_MAX + 2];
    if (!src || !dst || !*src || !*dst)
        return 0;
    size_t na = ferry_etag_pack(src, a, sizeof(a)), nb = ferry_etag_pack(dst, b, sizeof(b));
    return dst_same_as_src(a, na, b, nb);
}

/* ---- record codec: a run of MessagePack values (what Lua's cmsgpack.pack(...) writes) ------- */

enum { MP_NIL, MP_BOOL, MP_INT, MP_STR, MP_ABSENT };
typedef struct {
    int t;
    int64_t i;
    const uint8_t *s;
    size_t n;
} mp_t;

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Read one value at *pos; 0 or -1. */
static int mp_read(const uint8_t *b, size_t n, size_t *pos, mp_t *v)
{
    size_t p = *pos;
    if (p >= n)
        return -1;
    uint8_t c = b[p++];
    size_t need = 0, len = 0;
    memset(v, 0, sizeof(*v));
    if (c <= 0x7f) {
        v->t = MP_INT;
        v->i = c;
    } else if (c >= 0xe0) {
        v->t = MP_INT;
        v->i = (int8_t)c;
    } else if (c >= 0xa0 && c <= 0xbf) {
        len = c & 0x1f;
        v->t = MP_STR;
    } else {
        switch (c) {
        case 0xc0:
            v->t = MP_NIL;
            break;
        case 0xc2:
            v->t = MP_BOOL;
            v->i = 0;
            break;
        case 0xc3:
            v->t = MP_BOOL;
            v->i = 1;
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            need = (size_t)1 << (c - 0xcc);
            if (p + need > n)
                return -1;
            {
                uint64_t u = be(b + p, (int)need);
                if (u > INT64_MAX)
                    return -1;
                v->t = MP_INT;
                v->i = (int64_t)u;
            }
            p += need;
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            need = (size_t)1 << (c - 0xd0);
            if (p + need > n)
                return -1;
            {
                uint64_t u = be(b + p, (int)need);
                int sh = 64 - 8 * (int)need;
                v->t = MP_INT;
                v->i = sh ? (int64_t)(u << sh) >> sh : (int64_t)u;
            }
            p += need;
            break;
        case 0xcb: /* double: cmsgpack writes non-integral numbers so; we only keep integers */
            if (p + 8 > n)
                return -1;
            {
                uint64_t u = be(b + p, 8);
                double d;
                memcpy(&d, &u, 8);
                if (!(d >= -9.2e18 && d <= 9.2e18))
                    return -1;
                v->t = MP_INT;
                v->i = (int64_t)d;
            }
            p += 8;
            break;
        case 0xd9:
        case 0xc4:
            need = 1;
            break;
        case 0xda:
        case 0xc5:
            need = 2;
            break;
        case 0xdb:
        case 0xc6:
            need = 4;
            break;
        default:
            return -1;
        }
        if (need && (c == 0xd9 || c == 0xda || c == 0xdb || c == 0xc4 || c == 0xc5 || c == 0xc6)) {
            if (p + need > n)
                return -1;
            len = (size_t)be(b + p, (int)need);
            p += need;
            v->t = MP_STR;
        }
    }
    if (v->t == MP_STR) {
        if (len > n - p)
            return -1;
        v->s = b + p;
        v->n = len;
        p += len;
    }
    *pos = p;
    return 0;
}

static int copy_str(const mp_t *v, char *dst, size_t cap)
{
    if (v->t == MP_NIL || v->t == MP_ABSENT) {
        dst[0] = '\0';
        return 0;
    }
    if (v->t != MP_STR || v->n + 1 > cap || memchr(v->s, 0, v->n))
        return -1;
    memcpy(dst, v->s, v->n);
    dst[v->n] = '\0';
    return 0;
}

static int get_int(const mp_t *v, int64_t lo, int64_t hi, int64_t dflt, int64_t *out)
{
    if (v->t == MP_NIL || v->t == MP_ABSENT) {
        *out = dflt;
        return 0;
    }
    if (v->t != MP_INT || v->i < lo || v->i > hi)
        return -1;
    *out = v->i;
    return 0;
}

void ferry_record_init(ferry_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->duration_ms = -1;
}

int ferry_record_decode(const char *key, size_t klen, const void *buf, size_t n,
                        ferry_record_t *rec)
{
    const uint8_t *b = buf;
    mp_t v[FERRY_SLOT_COUNT];
    size_t pos = 0;
    int cnt = 0;
    ferry_record_init(rec);
    if (key) {
        if (klen == 0 || klen > FERRY_KEY_MAX || memchr(key, 0, klen))
            return FERRY_EPARSE;
        memcpy(rec->key, key, klen);
        rec->key[klen] = '\0';
    }
    while (pos < n) {
        if (cnt == FERRY_SLOT_COUNT)
            return FERRY_EPARSE;
        if (mp_read(b, n, &pos, &v[cnt]))
            return FERRY_EPARSE;
        cnt++;
    }
    if (cnt == 0)
        return FERRY_EPARSE;
    for (int i = cnt; i < FERRY_SLOT_COUNT; i++)
        v[i].t = MP_ABSENT;
    int64_t x, q = 0, st = 0;
#define V(f) (&v[FERRY_SLOT_##f - 1])
    if (get_int(V(STATE), 0, FERRY_STATE_COUNT - 1, -1, &x) || x < 0)
        return FERRY_EPARSE;
    rec->state = (int)x;
    if (get_int(V(SIZE), 0, INT64_MAX, 0, &x))
        return FERRY_EPARSE;
    rec->size = (uint64_t)x;
    if (get_int(V(MTIME), 0, INT64_MAX / 2, 0, &rec->src_mtime))
        return FERRY_EPARSE;
    if (V(ETAG)->t == MP_STR) {
        if (ferry_etag_unpack(V(ETAG)->s, V(ETAG)->n, rec->src_etag, sizeof(rec->src_etag)))
            return FERRY_EPARSE;
    } else if (V(ETAG)->t != MP_NIL && V(ETAG)->t != MP_ABSENT)
        return FERRY_EPARSE;
    if (V(CRC64)->t == MP_STR) {
        if (V(CRC64)->n != 8)
            return FERRY_EPARSE;
        rec->has_crc64 = 1;
        rec->src_crc64 = be(V(CRC64)->s, 8);
    } else if (V(CRC64)->t != MP_NIL && V(CRC64)->t != MP_ABSENT)
        return FERRY_EPARSE;
    if (V(DST_ETAG)->t == MP_BOOL && V(DST_ETAG)->i == 1) {
        /* same as the source's MD5, as S3 writes it: quoted lower case */
        uint8_t tmp[FERRY_ETAG_MAX + 2];
        size_t tn = ferry_etag_pack(rec->src_etag, tmp, sizeof(tmp));
        if (tn < 2 || tmp[0] < 1 || tmp[0] > 4)
            return FERRY_EPARSE;
        tmp[0] = 3;
        if (ferry_etag_unpack(tmp, tn, rec->dst_etag, sizeof(rec->dst_etag)))
            return FERRY_EPARSE;
    } else if (V(DST_ETAG)->t == MP_STR) {
        if (ferry_etag_unpack(V(DST_ETAG)->s, V(DST_ETAG)->n, rec->dst_etag, sizeof(rec->dst_etag)))
            return FERRY_EPARSE;
    } else if (V(DST_ETAG)->t != MP_NIL && V(DST_ETAG)->t != MP_ABSENT)
        return FERRY_EPARSE;
    if (get_int(V(ATTEMPTS), 0, UINT32_MAX, 0, &x))
        return FERRY_EPARSE;
    rec->attempts = (uint32_t)x;
    if (get_int(V(ORIGIN), 0, FERRY_ORIGIN_COUNT - 1, 0, &x))
        return FERRY_EPARSE;
    rec->origin = (int)x;
    if (get_int(V(QUEUED_AT), 0, INT64_MAX / 4, 0, &q))
        return FERRY_EPARSE;
    rec->queued_at = q;
    if (get_int(V(STARTED_AFTER), 0, INT64_MAX / 4, -1, &x))
        return FERRY_EPARSE;
    if (x >= 0)
        rec->started_at = st = q + x;
    if (get_int(V(FINISHED_AFTER), 0, INT64_MAX / 4, -1, &x))
        return FERRY_EPARSE;
    if (x >= 0)
        rec->finished_at = (st ? st : q) + x;
    if (get_int(V(DURATION_MS), 0, INT64_MAX / 2, -1, &rec->duration_ms))
        return FERRY_EPARSE;
    if (copy_str(V(ERROR), rec->error, sizeof(rec->error)) ||
        copy_str(V(WORKER), rec->worker, sizeof(rec->worker)) ||
        copy_str(V(UPLOAD_ID), rec->upload_id, sizeof(rec->upload_id)) ||
        copy_str(V(SEQ), rec->seq, sizeof(rec->seq)) ||
        copy_str(V(CHECKS), rec->checks, sizeof(rec->checks)))
        return FERRY_EPARSE;
#undef V
    return FERRY_OK;
}

static int mp_int(ferry_buf_t *o, int64_t v)
{
    uint8_t b[9];
    size_t n;
    if (v >= 0 && v <= 0x7f) {
        b[0] = (uint8_t)v;
        n = 1;
    } else if (v < 0 && v >= -32) {
        b[0] = (uint8_t)(int8_t)v;
        n = 1;
    } else if (v > 0 && v <= 0xff) {
        b[0] = 0xcc, b[1] = (uint8_t)v, n = 2;
    } else if (v > 0 && v <= 0xffff) {
        b[0] = 0xcd, b[1] = (uint8_t)(v >> 8), b[2] = (uint8_t)v, n = 3;
    } else if (v > 0 && v <= 0xffffffffLL) {
        b[0] = 0xce;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = v > 0 ? 0xcf : 0xd3;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
        n = 9;
    }
    return ferry_buf_add(o, b, n);
}

static int mp_str(ferry_buf_t *o, const void *s, size_t n)
{
    uint8_t h[5];
    size_t hn;
    if (n < 32)
        h[0] = (uint8_t)(0xa0 | n), hn = 1;
    else if (n <= 0xff)
        h[0] = 0xd9, h[1] = (uint8_t)n, hn = 2;
    else if (n <= 0xffff)
        h[0] = 0xda, h[1] = (uint8_t)(n >> 8), h[2] = (uint8_t)n, hn = 3;
    else
        h[0] = 0xdb, h[1] = (uint8_t)(n >> 24), h[2] = (uint8_t)(n >> 16), h[3] = (uint8_t)(n >> 8),
        h[4] = (uint8_t)n, hn = 5;
    int rc = ferry_buf_add(o, h, hn);
    return rc ? rc : ferry_buf_add(o, s, n);
}

/* The buffer of a slot (1-based) that ferry_record_encode fills; marks it used. */
static ferry_buf_t *slot_use(ferry_buf_t *parts, int *used, int *last, int slot)
{
    used[slot - 1] = 1;
    if (slot > *last)
        *last = slot;
    return &parts[slot - 1];
}

int ferry_record_encode(const ferry_record_t *rec, ferry_buf_t *out)
{
    /* Build every slot, then drop trailing nils, exactly like the Lua save(). */
    ferry_buf_t parts[FERRY_SLOT_COUNT];
    int used[FERRY_SLOT_COUNT] = {0};
    int rc = FERRY_OK, last = 0;
    for (int i = 0; i < FERRY_SLOT_COUNT; i++)
        ferry_buf_init(&parts[i], 4096);
    uint8_t tmp[FERRY_ETAG_MAX + 2];
#define SLOT(f) slot_use(parts, used, &last, FERRY_SLOT_##f)
    rc |= mp_int(SLOT(STATE), rec->state);
    rc |= mp_int(SLOT(SIZE), (int64_t)rec->size);
    rc |= mp_int(SLOT(MTIME), rec->src_mtime);
    if (rec->src_etag[0]) {
        size_t n = ferry_etag_pack(rec->src_etag, tmp, sizeof(tmp));
        rc |= mp_str(SLOT(ETAG), tmp, n);
    }
    if (rec->has_crc64) {
        uint8_t c[8];
        for (int i = 0; i < 8; i++)
            c[i] = (uint8_t)(rec->src_crc64 >> (56 - 8 * i));
        rc |= mp_str(SLOT(CRC64), c, 8);
    }
    if (rec->dst_etag[0]) {
        if (dst_same_as_src_text(rec->src_etag, rec->dst_etag)) {
            uint8_t t = 0xc3;
            rc |= ferry_buf_add(SLOT(DST_ETAG), &t, 1);
        } else {
            size_t n = ferry_etag_pack(rec->dst_etag, tmp, sizeof(tmp));
            rc |= mp_str(SLOT(DST_ETAG), tmp, n);
        }
    }
    rc |= mp_int(SLOT(ATTEMPTS), rec->attempts);
    rc |= mp_int(SLOT(ORIGIN), rec->origin);
    rc |= mp_int(SLOT(QUEUED_AT), rec->queued_at);
    if (rec->started_at)
        rc |= mp_int(SLOT(STARTED_AFTER), rec->started_at - rec->queued_at);
    if (rec->finished_at)
        rc |= mp_int(SLOT(FINISHED_AFTER),
                     rec->finished_at - (rec->started_at ? rec->started_at : rec->queued_at));
    if (rec->duration_ms >= 0)
        rc |= mp_int(SLOT(DURATION_MS), rec->duration_ms);
    if (rec->error[0])
        rc |= mp_str(SLOT(ERROR), rec->error, strlen(rec->error));
    if (rec->worker[0])
        rc |= mp_str(SLOT(WORKER), rec->worker, strlen(rec->worker));
    if (rec->upload_id[0])
        rc |= mp_str(SLOT(UPLOAD_ID), rec->upload_id, strlen(rec->upload_id));
    if (rec->seq[0])
        rc |= mp_str(SLOT(SEQ), rec->seq, strlen(rec->seq));
    if (rec->checks[0])
        rc |= mp_str(SLOT(CHECKS), rec->checks, strlen(rec->checks));
#undef SLOT
    for (int i = 0; rc == FERRY_OK && i < last; i++) {
        if (used[i])
            rc = ferry_buf_add(out, parts[i].data, parts[i].len);
        else {
            uint8_t nil = 0xc0;
            rc = ferry_buf_add(out, &nil, 1);
        }
    }
    for (int i = 0; i < FERRY_SLOT_COUNT; i++)
        ferry_buf_free(&parts[i]);
    return rc ? FERRY_ENOMEM : FERRY_OK;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t t)
{
    char b[40];
    if (t <= 0)
        return json_null();
    ferry_time_format(t, b, sizeof(b));
    return json_string(b);
}

json_t *ferry_record_to_json(const char *task, const ferry_record_t *rec)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    char crc[24] = "";
    if (rec->has_crc64)
        snprintf(crc, sizeof(crc), "%" PRIu64, rec->src_crc64);
    json_object_set_new(o, "task", json_string(task));
    json_object_set_new(o, "key", json_string(rec->key));
    json_object_set_new(o, "state", json_string(ferry_state_name(rec->state)));
    json_object_set_new(o, "size", json_integer((json_int_t)rec->size));
    json_object_set_new(o, "src_etag", str_or_null(rec->src_etag));
    json_object_set_new(o, "src_mtime", time_or_null(rec->src_mtime));
    json_object_set_new(o, "src_crc64", str_or_null(crc));
    json_object_set_new(o, "dst_etag", str_or_null(rec->dst_etag));
    json_object_set_new(o, "attempts", json_integer(rec->attempts));
    json_object_set_new(o, "origin", json_string(ferry_origin_name(rec->origin)));
    json_object_set_new(o, "queued_at", time_or_null(rec->queued_at));
    json_object_set_new(o, "started_at", time_or_null(rec->started_at));
    json_object_set_new(o, "finished_at", time_or_null(rec->finished_at));
    json_object_set_new(o, "duration_ms",
                        rec->duration_ms >= 0 ? json_integer(rec->duration_ms) : json_null());
    /* "[dst:403] S3 said …" is stored; shown as error_code + error (ferry/errcode.h). A record
     * from before codes existed gets the classifier's code, so no error shows without one. */
    char code[FERRY_ERRCODE_MAX + 1];
    const char *etext = ferry_error_code_of(rec->error, code, sizeof(code));
    json_object_set_new(o, "error", str_or_null(etext));
    json_object_set_new(o, "error_code", str_or_null(code));
    json_object_set_new(o, "worker", str_or_null(rec->worker));
    if (rec->upload_id[0])
        json_object_set_new(o, "upload_id", json_string(rec->upload_id));
    if (rec->seq[0])
        json_object_set_new(o, "src_sequencer", json_string(rec->seq));
    json_t *ch = json_array();
    for (const char *p = rec->checks; ch && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n)
            json_array_append_new(ch, json_stringn(p, n));
        p += n + (e ? 1 : 0);
    }
    json_object_set_new(o, "checks", ch ? ch : json_null());
    return o;
}

int ferry_seq_cmp(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), n = na > nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < na ? (unsigned char)a[i] : '0',
                      y = i < nb ? (unsigned char)b[i] : '0';
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

int ferry_checks_unverified(const char *checks)
{
    for (const char *p = checks; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 14 && memcmp(p, "src:unverified", 14) == 0)
            return 1;
        p += n + (e ? 1 : 0);
    }
    return 0;
}

/* ---- Lua ------------------------------------------------------------------------------------ */

/* The scripts are lib/store/lua/NAME.lua, embedded at build time as FERRY_LUA_<NAME> (the
 * generated ledger_lua.h). Each is sent as LUA_CONSTS, then the prelude (helpers), then its
 * own text; LUA_CONSTS names the states, origins, record slots and bounds, generated here from
 * the lists in ferry/ledger.h and ferry/limits.h so that C and Lua cannot disagree. */
#include "ledger_lua.h"

#define LUA_STATE_(name, val, text)  "local S_" #name " = " #val "\n"
#define LUA_ORIGIN_(name, val, text) "local O_" #name " = " #val "\n"
#define LUA_SLOT_(name, val)         "local F_" #name " = " #val "\n"
#define LUA_SLOT_MAX_(name, val)     ", " #val
#define LUA_BOUND_(name)             "local " #name " = " FERRY_STR(FERRY_##name) "\n"
#define LUA_HEAD                     "-- generated by lib/store/ledger.c from ferry/ledger.h and limits.h\n"
#define LUA_N_SLOTS                  "local N_SLOTS = math.max(0" FERRY_SLOT_LIST(LUA_SLOT_MAX_) ")\n"
#define LUA_NAMES                                                                                  \
    FERRY_STATE_LIST(LUA_STATE_)                                                                   \
    FERRY_ORIGIN_LIST(LUA_ORIGIN_) FERRY_SLOT_LIST(LUA_SLOT_) LUA_N_SLOTS
#define LUA_BOUNDS                                                                                 \
    LUA_BOUND_(KEY_MAX)                                                                            \
    LUA_BOUND_(ETAG_MAX)                                                                           \
    LUA_BOUND_(SEQ_MAX) LUA_BOUND_(UPLOAD_ID_MAX) LUA_BOUND_(SIZE_MAX) LUA_BOUND_(MTIME_MAX)
#define LUA_CONSTS  LUA_HEAD LUA_NAMES LUA_BOUNDS
#define LUA_PRELUDE LUA_CONSTS FERRY_LUA_PRELUDE

static const ferry_redis_script_t LUA_ENQUEUE = {"enqueue",
                                                 LUA_PRELUDE FERRY_LUA_ARGCHECK FERRY_LUA_ENQUEUE};
static const ferry_redis_script_t LUA_SKIP = {"skip",
                                              LUA_PRELUDE FERRY_LUA_ARGCHECK FERRY_LUA_SKIP};
static const ferry_redis_script_t LUA_START = {"start", LUA_PRELUDE FERRY_LUA_START};
static const ferry_redis_script_t LUA_FINISH = {"finish", LUA_PRELUDE FERRY_LUA_FINISH};
static const ferry_redis_script_t LUA_FAIL = {"fail", LUA_PRELUDE FERRY_LUA_FAIL};
static const ferry_redis_script_t LUA_UPLOAD = {"upload", LUA_PRELUDE FERRY_LUA_UPLOAD};
static const ferry_redis_script_t LUA_LEASE = {"lease", FERRY_LUA_LEASE};
static const ferry_redis_script_t LUA_LIST = {"list", LUA_CONSTS FERRY_LUA_LIST};

const char *ferry_ledger_lua_consts(void)
{
    return LUA_CONSTS;
}

const ferry_redis_script_t *ferry_ledger_script(const char *name)
{
    static const ferry_redis_script_t *const all[] = {&LUA_ENQUEUE, &LUA_SKIP, &LUA_START,
                                                      &LUA_FINISH,  &LUA_FAIL, &LUA_UPLOAD,
                                                      &LUA_LEASE,   &LUA_LIST};
    for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* ---- context ----------------------------------------------------------------------------------
 */

uint32_t ferry_ledger_bucket_of(const char *key, size_t klen, uint32_t buckets)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return buckets ? (uint32_t)(h % buckets) : 0;
}

/* CRC16-XMODEM (Redis Cluster's, as ferry_cluster_crc16) by table, resumable: the tag search
 * below hashes the fixed part of a candidate once and only its last digits per try. */
static const uint16_t CRC16_TAB[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b,
    0xc18c, 0xd1ad, 0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401,
    0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738,
    0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96,
    0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd,
    0xad2a, 0xbd0b, 0x8d68, 0x9d49, 0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78, 0x9188, 0x81a9, 0xb1ca, 0xa1eb,
    0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2,
    0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8,
    0xe75f, 0xf77e, 0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827,
    0x18c0, 0x08e1, 0x3882, 0x28a3, 0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92, 0xfd2e, 0xed0f, 0xdd6c, 0xcd4d,
    0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74,
    0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

static uint16_t crc16_more(uint16_t crc, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ CRC16_TAB[((crc >> 8) ^ (unsigned char)p[i]) & 0xff]);
    return crc;
}

/* Shard s > 0 of S gets the tag "T/s.x" with the smallest x whose slot falls in the s-th of S
 * equal ranges of the slot space, counted from the slot of shard 0's tag "T": so every shard
 * has a slot of its own (none shares shard 0's either) and the shards spread evenly over the
 * slot space, hence over the masters. Task names have no '/', so no tag is another task's.
 * About S tries per shard, each hashing only x's digits. */
int ferry_ledger_shard_tag(const char *task, uint32_t s, uint32_t shards, char *buf, size_t n)
{
    if (task == NULL || !keys_task_name_ok(task) || shards < 1 ||
        shards > FERRY_LEDGER_SHARDS_MAX || s >= shards)
        return FERRY_EINVAL;
    if (s == 0) {
        int w = snprintf(buf, n, "%s", task);
        return w < 0 || (size_t)w >= n ? FERRY_ERANGE : FERRY_OK;
    }
    unsigned base = crc16_more(0, task, strlen(task)) & (FERRY_CLUSTER_SLOTS - 1);
    unsigned lo = (unsigned)((uint64_t)s * FERRY_CLUSTER_SLOTS / shards);
    unsigned hi = (unsigned)((uint64_t)(s + 1) * FERRY_CLUSTER_SLOTS / shards);
    char pre[FERRY_LEDGER_TAG_MAX + 1];
    int pl = snprintf(pre, sizeof(pre), "%s/%" PRIu32 ".", task, s);
    if (pl < 0 || (size_t)pl >= sizeof(pre))
        return FERRY_ERANGE;
    uint16_t cp = crc16_more(0, pre, (size_t)pl);
    char d[16] = "0"; /* x in decimal, counted up in place */
    size_t dl = 1;
    for (unsigned long x = 0; x < (1UL << 24); x++) {
        unsigned off =
            (crc16_more(cp, d, dl) + FERRY_CLUSTER_SLOTS - base) & (FERRY_CLUSTER_SLOTS - 1);
        if (off >= lo && off < hi) {
            int w = snprintf(buf, n, "%s%s", pre, d);
            return w < 0 || (size_t)w >= n ? FERRY_ERANGE : FERRY_OK;
        }
        size_t i = dl;
        while (i > 0 && d[i - 1] == '9')
            d[--i] = '0';
        if (i > 0)
            d[i - 1]++;
        else { /* 99…9 + 1 */
            memmove(d + 1, d, dl + 1);
            d[0] = '1';
            dl++;
        }
    }
    return FERRY_ERANGE; /* not reached: each range holds >= 16 slots */
}

int ferry_ledger_open_sharded(ferry_redis_t *r, const char *task, uint32_t buckets, uint32_t shards,
                              ferry_ledger_t **out)
{
    *out = NULL;
    if (task == NULL || !keys_task_name_ok(task))
        return FERRY_EINVAL;
    if (shards == 0)
        shards = 1;
    if (buckets == 0)
        buckets = FERRY_LEDGER_DEFAULT_BUCKETS;
    if ((shards > FERRY_LEDGER_SHARDS_MAX || shards > buckets) && r == NULL)
        return FERRY_EINVAL;
    if (shards > FERRY_LEDGER_SHARDS_MAX || shards > buckets)
        return ferry_error_set((ferry_error_t *)ferry_redis_error(r), FERRY_EINVAL,
                               "task %s: %" PRIu32 " ledger shards for %" PRIu32
                               " buckets: shards must be 1..%d and at most the buckets",
                               task, shards, buckets, FERRY_LEDGER_SHARDS_MAX);
    ferry_ledger_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return FERRY_ENOMEM;
    l->sh = calloc(shards, sizeof(*l->sh));
    if (l->sh == NULL) {
        free(l);
        return FERRY_ENOMEM;
    }
    l->r = r;
    snprintf(l->task, sizeof(l->task), "%s", task);
    l->buckets = buckets;
    l->shards = shards;
    for (uint32_t s = 0; s < shards; s++) {
        led_shard_t *h = &l->sh[s];
        if (ferry_ledger_shard_tag(task, s, shards, h->tag, sizeof(h->tag)) != FERRY_OK) {
            ferry_ledger_free(l);
            return FERRY_EINVAL;
        }
        keys_task(h->k_pending, sizeof(h->k_pending), h->tag, "pending");
        keys_task(h->k_failed, sizeof(h->k_failed), h->tag, "failed");
        keys_task(h->k_cnt, sizeof(h->k_cnt), h->tag, "cnt");
        keys_task(h->k_q[0], sizeof(h->k_q[0]), h->tag, "q:event");
        keys_task(h->k_q[1], sizeof(h->k_q[1]), h->tag, "q:bulk");
        keys_task(h->k_q[2], sizeof(h->k_q[2]), h->tag, "q:dead");
    }
    *out = l;
    return FERRY_OK;
}

int ferry_ledger_open(ferry_redis_t *r, const char *task, uint32_t buckets, ferry_ledger_t **out)
{
    return ferry_ledger_open_sharded(r, task, buckets, 1, out);
}

void ferry_ledger_free(ferry_ledger_t *l)
{
    if (l == NULL)
        return;
    free(l->sh);
    free(l);
}

ferry_redis_t *ferry_ledger_redis(const ferry_ledger_t *l)
{
    return l->r;
}

const char *ferry_ledger_task(const ferry_ledger_t *l)
{
    return l->task;
}

uint32_t ferry_ledger_buckets(const ferry_ledger_t *l)
{
    return l->buckets;
}

uint32_t ferry_ledger_shards(const ferry_ledger_t *l)
{
    return l->shards;
}

uint32_t ferry_ledger_shard_of(const ferry_ledger_t *l, const char *key)
{
    if (l->shards == 1)
        return 0;
    return ferry_ledger_bucket_of(key, strlen(key), l->buckets) % l->shards;
}

int ferry_ledger_shard_key(const ferry_ledger_t *l, uint32_t s, const char *suffix, char *buf,
                           size_t n)
{
    if (s >= l->shards)
        return FERRY_EINVAL;
    int w = snprintf(buf, n, "ferry:{%s}:%s", l->sh[s].tag, suffix);
    return w < 0 || (size_t)w >= n ? FERRY_ERANGE : FERRY_OK;
}

static const led_shard_t *shard_of(const ferry_ledger_t *l, const char *key)
{
    return &l->sh[ferry_ledger_shard_of(l, key)];
}

static void bucket_key(const ferry_ledger_t *l, uint32_t b, char *buf, size_t n)
{
    /* "ferry:{TAG}:led:B", per object: built without snprintf */
    redis_sb_t s = redis_sb(buf, n);
    redis_sb_mem(&s, "ferry:{", 7);
    redis_sb_str(&s, l->sh[b % l->shards].tag);
    redis_sb_mem(&s, "}:led:", 6);
    redis_sb_u64(&s, b);
}

static void key_bucket(const ferry_ledger_t *l, const char *key, char *buf, size_t n)
{
    bucket_key(l, ferry_ledger_bucket_of(key, strlen(key), l->buckets), buf, n);
}

static void lease_key(const ferry_ledger_t *l, const char *key, char *buf, size_t n)
{
    /* "ferry:{TAG}:lk:KEY" */
    redis_sb_t s = redis_sb(buf, n);
    redis_sb_mem(&s, "ferry:{", 7);
    redis_sb_str(&s, shard_of(l, key)->tag);
    redis_sb_mem(&s, "}:lk:", 5);
    redis_sb_str(&s, key);
}

static int key_ok(ferry_ledger_t *l, const char *key)
{
    ferry_error_t *e = (ferry_error_t *)ferry_redis_error(l->r);
    if (key == NULL || *key == '\0')
        return ferry_error_set(e, FERRY_EINVAL, "empty object key");
    if (strlen(key) > FERRY_KEY_MAX)
        return ferry_error_set(e, FERRY_EINVAL, "object key longer than %d bytes", FERRY_KEY_MAX);
    return FERRY_OK;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

int ferry_ledger_get(ferry_ledger_t *l, const char *key, ferry_record_t *rec)
{
    int rc = key_ok(l, key);
    if (rc)
        return rc;
    char b[256];
    key_bucket(l, key, b, sizeof(b));
    redisReply *rep = NULL;
    const char *argv[3] = {"HGET", b, key};
    rc = ferry_redis_argv(l->r, 3, argv, NULL, &rep);
    if (rc)
        return rc;
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return FERRY_ENOTFOUND;
    }
    rc = ferry_record_decode(key, strlen(key), rep->str, rep->len, rec);
    if (rc)
        ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), rc,
                        "the stored record of %s is malformed", key);
    freeReplyObject(rep);
    return rc;
}

/* Pipelined lookups (the scan's ledger join): one round trip for n keys. On a lost connection
 * the batch is resent once (reads are idempotent). */
static int get_many_once(ferry_ledger_t *l, const char *const *keys, size_t n, ferry_record_t *recs,
                         int *found)
{
    int rc = FERRY_OK;
    for (size_t i = 0; i < n; i++) {
        char b[256];
        key_bucket(l, keys[i], b, sizeof(b));
        const char *argv[3] = {"HGET", b, keys[i]};
        rc = ferry_redis_append(l->r, 3, argv, NULL);
        if (rc)
            return rc;
    }
    int first_err = FERRY_OK;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        rc = ferry_redis_read(l->r, &rep);
        if (rc)
            return rc;
        found[i] = 0;
        if (rep->type == REDIS_REPLY_STRING) {
            int drc = ferry_record_decode(keys[i], strlen(keys[i]), rep->str, rep->len, &recs[i]);
            if (drc == FERRY_OK)
                found[i] = 1;
            else if (!first_err)
                first_err = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), drc,
                                            "the stored record of %s is malformed", keys[i]);
        } else if (rep->type == REDIS_REPLY_ERROR && !first_err)
            first_err = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                        "lookup %s: %s", keys[i], rep->str);
        freeReplyObject(rep);
    }
    return first_err;
}

int ferry_ledger_get_many(ferry_ledger_t *l, const char *const *keys, size_t n,
                          ferry_record_t *recs, int *found)
{
    for (size_t i = 0; i < n; i++) {
        int rc = key_ok(l, keys[i]);
        if (rc)
            return rc;
    }
    int rc = FERRY_OK;
    for (int round = 0; round < 2; round++) {
        rc = get_many_once(l, keys, n, recs, found);
        if (rc != FERRY_ENET && rc != FERRY_ETIMEOUT)
            break;
        if (ferry_redis_reset(l->r) != FERRY_OK)
            break;
    }
    return rc;
}

/* ---- enqueue ----------------------------------------------------------------------------------
 */

#define ENQ_CHUNK 256

/* Read the n replies of a pipeline of per-item CAS scripts: results[i] (results may be NULL)
 * gets each integer reply. The first error reply is recorded on the connection as
 * FERRY_EREDIS naming `what` and the key, and returned after every reply was read (so the
 * pipeline stays in step). Connection errors are returned at once. */
static int read_int_replies(ferry_ledger_t *l, const ferry_item_t *items, size_t n,
                            const char *what, int *results)
{
    int first_err = FERRY_OK;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        int rc = ferry_redis_read(l->r, &rep);
        if (rc)
            return rc;
        if (rep->type == REDIS_REPLY_ERROR) {
            if (!first_err)
                first_err = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                            "%s %s: %s", what, items[i].key, rep->str);
        } else if (results)
            results[i] = (int)ferry_redis_reply_int(rep, 0);
        freeReplyObject(rep);
    }
    return first_err;
}

/* An origin's number as text, cut to n - 1 bytes (what snprintf "%d" wrote). */
static void origin_text(char *buf, size_t n, int origin)
{
    char d[24];
    redis_sb_t b = redis_sb(buf, n);
    redis_sb_str(&b, redis_int_i64(d, origin));
}

typedef struct {
    char bucket[160];
    char size[24], mtime[24], origin[4], now[24], nowms[24], crctext[24];
    uint8_t etag[FERRY_ETAG_MAX + 2];
    size_t etag_n;
    uint8_t crc[8];
} enq_args_t;

/* Keys per enqueue script call (one shard's): 13 arguments each, under EVAL_MAX_ARGS. */
#define ENQ_CALL 64

static int enqueue_chunk(ferry_ledger_t *l, ferry_queue_kind_t kind, const ferry_item_t *items,
                         size_t n, int *results, enq_args_t *a)
{
    long long nowms = (long long)ferry_wall_ms();
    char now[24], nows[24];
    redis_int_i64(now, nowms / 1000);
    redis_int_i64(nows, nowms);
    int rc = ferry_redis_script_load(l->r, &LUA_ENQUEUE);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const ferry_item_t *it = &items[i];
        enq_args_t *x = &a[i];
        key_bucket(l, it->key, x->bucket, sizeof(x->bucket));
        redis_int_u64(x->size, it->size);
        redis_int_i64(x->mtime, it->mtime > 0 ? it->mtime : 0);
        origin_text(x->origin, sizeof(x->origin), it->origin);
        x->etag_n = ferry_etag_pack(it->etag, x->etag, sizeof(x->etag));
        x->crctext[0] = '\0';
        if (it->has_crc64) {
            for (int j = 0; j < 8; j++)
                x->crc[j] = (uint8_t)(it->crc64 >> (56 - 8 * j));
            redis_int_u64(x->crctext, it->crc64);
        }
    }
    /* One call per shard and ENQ_CALL keys (KEYS: the shard's pending failed counters stream,
     * then each key's bucket; ARGV: now now_ms, then 12 per key), in item order within a shard,
     * all in one pipeline; call c's keys are items[idx[c's first] …]. */
    size_t *idx = malloc(n * sizeof(*idx)), *first = malloc((n + 1) * sizeof(*first));
    unsigned char *done = calloc(n ? n : 1, 1);
    uint32_t *shard = malloc((n ? n : 1) * sizeof(*shard));
    const char **argv = malloc((6 + 13 * ENQ_CALL) * sizeof(*argv));
    size_t *lens = malloc((6 + 13 * ENQ_CALL) * sizeof(*lens));
    if (!idx || !first || !done || !shard || !argv || !lens) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        shard[i] = ferry_ledger_shard_of(l, items[i].key);
    size_t calls = 0, ni = 0;
    for (size_t s = 0; s < n && rc == FERRY_OK; s++) {
        if (done[s])
            continue;
        uint32_t sh = shard[s];
        const led_shard_t *h = &l->sh[sh];
        for (size_t i = s; i < n && rc == FERRY_OK;) {
            size_t k = 0, call0 = ni;
            for (; i < n && k < ENQ_CALL; i++)
                if (!done[i] && shard[i] == sh) {
                    done[i] = 1;
                    idx[ni++] = i;
                    k++;
                }
            if (k == 0)
                break;
            int ac = 0;
#define ARG(p, len) (argv[ac] = (p), lens[ac] = (len), ac++)
#define SARG(p)     ARG((p), strlen(p))
            SARG(h->k_pending);
            SARG(h->k_failed);
            SARG(h->k_cnt);
            SARG(h->k_q[kind]);
            for (size_t j = call0; j < ni; j++)
                SARG(a[idx[j]].bucket);
            SARG(now);
            SARG(nows);
            for (size_t j = call0; j < ni; j++) {
                const ferry_item_t *it = &items[idx[j]];
                const enq_args_t *x = &a[idx[j]];
                SARG(it->key);
                SARG(x->size);
                SARG(x->mtime);
                ARG((const char *)x->etag, x->etag_n); /* binary, not NUL-terminated */
                ARG((const char *)x->crc, it->has_crc64 ? 8 : 0);
                SARG(it->seq ? it->seq : "");
                SARG(x->origin);
                SARG(it->force == FERRY_FORCE_IDLE ? "2" : it->force ? "1" : "0");
                SARG(it->op_delete ? "delete" : "copy");
                SARG(it->etag ? it->etag : "");
                SARG(x->crctext);
                SARG(ferry_origin_name(it->origin));
            }
#undef SARG
#undef ARG
            first[calls++] = call0;
            rc = ferry_redis_eval_append(l->r, &LUA_ENQUEUE, 4 + (int)k, ac, argv, lens);
        }
    }
    first[calls] = ni;
    /* Replies: one array per call (an error reply names the key; every reply is read so the
     * pipeline stays in step, a lost connection is returned at once). */
    int first_err = FERRY_OK;
    for (size_t c = 0; c < calls && rc == FERRY_OK; c++) {
        redisReply *rep;
        int r2 = ferry_redis_read(l->r, &rep);
        if (r2) {
            rc = r2;
            break;
        }
        size_t k = first[c + 1] - first[c];
        if (rep->type == REDIS_REPLY_ERROR) {
            if (!first_err)
                first_err = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                            "enqueue %s: %s", items[idx[first[c]]].key, rep->str);
        } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != k) {
            if (!first_err)
                first_err = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                            "enqueue %s: a reply of %zu values for %zu keys",
                                            items[idx[first[c]]].key,
                                            rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0, k);
        } else if (results) {
            for (size_t j = 0; j < k; j++)
                results[idx[first[c] + j]] = (int)ferry_redis_reply_int(rep->element[j], 0);
        }
        freeReplyObject(rep);
    }
    if (rc == FERRY_OK)
        rc = first_err;
out:
    free(idx);
    free(first);
    free(done);
    free(shard);
    free(argv);
    free(lens);
    return rc;
}

int ferry_item_validate(const ferry_item_t *it, char *why, size_t n)
{
    const char *k = it->key ? it->key : "";
    size_t kl = strlen(k);
    if (kl == 0)
        snprintf(why, n, "empty object key");
    else if (kl > FERRY_KEY_MAX)
        snprintf(why, n, "%.64s…: the key is longer than %d bytes", k, FERRY_KEY_MAX);
    else if (it->size > FERRY_SIZE_MAX)
        snprintf(why, n, "%.64s: size %" PRIu64 " is over 5 TiB", k, it->size);
    else if (it->mtime > FERRY_MTIME_MAX)
        snprintf(why, n, "%.64s: mtime %" PRId64 " is after the year 9999", k, it->mtime);
    else if (it->etag && strlen(it->etag) > FERRY_ETAG_MAX)
        snprintf(why, n, "%.64s: the etag is longer than %d characters", k, FERRY_ETAG_MAX);
    else if (it->seq && strlen(it->seq) > FERRY_SEQ_MAX)
        snprintf(why, n, "%.64s: the sequencer is longer than %d characters", k, FERRY_SEQ_MAX);
    else {
        for (const char *q = it->seq; q && *q; q++)
            if (ferry_hex_val((unsigned char)*q) < 0) {
                snprintf(why, n, "%.64s: the sequencer is not hex", k);
                return FERRY_EINVAL;
            }
        if (n)
            why[0] = '\0';
        return FERRY_OK;
    }
    return FERRY_EINVAL;
}

/* Every bound the record and the scripts hold, checked before anything is sent. */
static int item_ok(ferry_ledger_t *l, const ferry_item_t *it)
{
    char why[160];
    if (ferry_item_validate(it, why, sizeof(why)) == FERRY_OK)
        return FERRY_OK;
    return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EINVAL, "%s", why);
}

/* One chunk of a batched ledger operation: items[0..m) are items[off..off+m) of the batch. */
typedef int (*chunk_fn)(ferry_ledger_t *l, const void *ctx, size_t off, const ferry_item_t *items,
                        size_t m, int *results, enq_args_t *a);

/* Validate every key, then run fn over chunks of ENQ_CHUNK items. A chunk whose connection was
 * lost mid-pipeline is resent once after a reconnect: safe, because every per-item script is
 * a compare-and-set that is a no-op when repeated. */
static int run_chunks(ferry_ledger_t *l, const ferry_item_t *items, size_t n, int *results,
                      chunk_fn fn, const void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        int rc = item_ok(l, &items[i]);
        if (rc)
            return rc;
    }
    if (n == 0)
        return FERRY_OK;
    enq_args_t *a = malloc(sizeof(*a) * ENQ_CHUNK);
    if (a == NULL)
        return FERRY_ENOMEM;
    int rc = FERRY_OK;
    for (size_t off = 0; off < n && rc == FERRY_OK; off += ENQ_CHUNK) {
        size_t m = n - off < ENQ_CHUNK ? n - off : ENQ_CHUNK;
        for (int round = 0; round < 2; round++) {
            rc = fn(l, ctx, off, items + off, m, results ? results + off : NULL, a);
            if (rc != FERRY_ENET && rc != FERRY_ETIMEOUT)
                break;
            if (ferry_redis_reset(l->r) != FERRY_OK)
                break;
        }
    }
    free(a);
    return rc;
}

static int enqueue_fn(ferry_ledger_t *l, const void *ctx, size_t off, const ferry_item_t *items,
                      size_t m, int *results, enq_args_t *a)
{
    (void)off;
    return enqueue_chunk(l, *(const ferry_queue_kind_t *)ctx, items, m, results, a);
}

int ferry_ledger_enqueue(ferry_ledger_t *l, ferry_queue_kind_t kind, const ferry_item_t *items,
                         size_t n, int *results)
{
    if (kind != FERRY_QUEUE_EVENT && kind != FERRY_QUEUE_BULK)
        return FERRY_EINVAL;
    return run_chunks(l, items, n, results, enqueue_fn, &kind);
}

/* ---- skip (records without a job) ---------------------------------------------------------- */

static int skip_chunk(ferry_ledger_t *l, const ferry_item_t *items, const char *const *reasons,
                      size_t n, int *results, enq_args_t *a)
{
    int rc = ferry_redis_script_load(l->r, &LUA_SKIP);
    if (rc)
        return rc;
    long long now = (long long)now_s();
    for (size_t i = 0; i < n; i++) {
        const ferry_item_t *it = &items[i];
        enq_args_t *x = &a[i];
        const led_shard_t *h = shard_of(l, it->key);
        key_bucket(l, it->key, x->bucket, sizeof(x->bucket));
        snprintf(x->size, sizeof(x->size), "%" PRIu64, it->size);
        snprintf(x->mtime, sizeof(x->mtime), "%" PRId64, it->mtime > 0 ? it->mtime : 0);
        snprintf(x->origin, sizeof(x->origin), "%d", it->origin);
        snprintf(x->now, sizeof(x->now), "%lld", now);
        x->etag_n = ferry_etag_pack(it->etag, x->etag, sizeof(x->etag));
        if (it->has_crc64)
            for (int j = 0; j < 8; j++)
                x->crc[j] = (uint8_t)(it->crc64 >> (56 - 8 * j));
        const char *why = reasons && reasons[i] ? reasons[i] : "";
        const char *argv[13] = {x->bucket,
                                h->k_pending,
                                h->k_failed,
                                h->k_cnt,
                                it->key,
                                x->size,
                                x->mtime,
                                (const char *)x->etag,
                                (const char *)x->crc,
                                it->seq ? it->seq : "",
                                x->origin,
                                x->now,
                                why};
        size_t lens[13];
        for (int j = 0; j < 13; j++)
            lens[j] = (j == 7 || j == 8) ? 0 : strlen(argv[j]);
        lens[7] = x->etag_n;
        lens[8] = it->has_crc64 ? 8 : 0;
        if (lens[12] > FERRY_ERRMSG_MAX)
            lens[12] = FERRY_ERRMSG_MAX;
        rc = ferry_redis_eval_append(l->r, &LUA_SKIP, 4, 13, argv, lens);
        if (rc)
            return rc;
    }
    return read_int_replies(l, items, n, "skip", results);
}

static int skip_fn(ferry_ledger_t *l, const void *ctx, size_t off, const ferry_item_t *items,
                   size_t m, int *results, enq_args_t *a)
{
    const char *const *reasons = ctx;
    return skip_chunk(l, items, reasons ? reasons + off : NULL, m, results, a);
}

int ferry_ledger_skip(ferry_ledger_t *l, const ferry_item_t *items, const char *const *reasons,
                      size_t n, int *results)
{
    return run_chunks(l, items, n, results, skip_fn, reasons);
}

/* ---- transitions --------------------------------------------------------------------------------
 */

int ferry_ledger_start(ferry_ledger_t *l, const char *key, const char *worker, const char *token,
                       int64_t lease_ms, int *result, ferry_record_t *rec)
{
    ferry_start_item_t it = {.key = key, .token = token, .rec = rec};
    int rc = ferry_ledger_start_many(l, &it, 1, worker, lease_ms);
    *result = it.result;
    return rc != FERRY_OK ? rc : it.rc;
}

/* ---- batches over shards ------------------------------------------------------------------- */

/* One script call of a batch: items order[off..off+m) of one shard. */
typedef struct {
    size_t off, m;
    uint32_t shard;
    size_t sent; /* keys sent in the call (after the per-key checks) */
} run_t;

/* The shard of a key for grouping (a key the per-key checks will refuse goes anywhere). */
static uint32_t group_shard(const ferry_ledger_t *l, const char *key)
{
    if (l->shards == 1 || key == NULL || *key == '\0' || strlen(key) > FERRY_KEY_MAX)
        return 0;
    return ferry_ledger_shard_of(l, key);
}

/* Group n items by their keys' shards (key i is the string pointer at key0 + i * stride bytes,
 * i.e. &items[0].key and sizeof(items[0])): *order lists the indices shard by shard (stable, new),
 * *runs the calls (at most per keys of one shard each, new). FERRY_OK or FERRY_ENOMEM. With one
 * shard: the batch in order, cut every per keys (what the code did before shards). */
static int shard_runs(const ferry_ledger_t *l, const char *const *key0, size_t stride, size_t n,
                      size_t per, size_t **order, run_t **runs, size_t *nruns)
{
    *order = malloc(sizeof(**order) * (n ? n : 1));
    *runs = malloc(sizeof(**runs) * (n ? n : 1));
    uint32_t *sh = malloc(sizeof(*sh) * (n ? n : 1));
    size_t *cnt = calloc((size_t)l->shards + 1, sizeof(*cnt));
    if (*order == NULL || *runs == NULL || sh == NULL || cnt == NULL) {
        free(*order);
        free(*runs);
        free(sh);
        free(cnt);
        *order = NULL;
        *runs = NULL;
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        sh[i] = group_shard(l, *(const char *const *)((const char *)key0 + i * stride));
        cnt[sh[i] + 1]++;
    }
    for (uint32_t s = 0; s < l->shards; s++)
        cnt[s + 1] += cnt[s];
    size_t *pos = cnt; /* cnt[s]: where shard s starts; advanced as items are placed */
    for (size_t i = 0; i < n; i++)
        (*order)[pos[sh[i]]++] = i;
    /* now pos[s] is where shard s ends == where s+1 starts: rebuild the runs from order */
    size_t r = 0;
    for (size_t i = 0; i < n;) {
        uint32_t s = sh[(*order)[i]];
        size_t j = i;
        while (j < n && j - i < per && sh[(*order)[j]] == s)
            j++;
        (*runs)[r++] = (run_t){i, j - i, s, 0};
        i = j;
    }
    *nruns = r;
    free(sh);
    free(cnt);
    return FERRY_OK;
}

/* A batch's calls go out one by one (one shard: ferry_redis_eval, as before shards) or, with
 * several shards, all appended to one pipeline and read in order. */
static int run_reply(ferry_ledger_t *l, int piped, const ferry_redis_script_t *s, int nkeys,
                     int argc, const char **argv, const size_t *lens, redisReply **rep)
{
    *rep = NULL;
    if (!piped)
        return ferry_redis_eval(l->r, s, nkeys, argc, argv, lens, rep);
    return ferry_redis_eval_append(l->r, s, nkeys, argc, argv, lens);
}

/* The reply of a piped call, with ferry_redis_eval's contract (an error reply: FERRY_EREDIS). */
static int piped_read(ferry_ledger_t *l, redisReply **rep)
{
    int rc = ferry_redis_read(l->r, rep);
    if (rc)
        return rc;
    if ((*rep)->type == REDIS_REPLY_ERROR) {
        ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS, "%s", (*rep)->str);
        freeReplyObject(*rep);
        *rep = NULL;
        return FERRY_EREDIS;
    }
    return FERRY_OK;
}

/* One batch's calls, one per run (shard): send(ctx, shard, idx, m, piped, &sent, &rep) makes
 * the call for items idx[0..m) (compacting the keys it sent to the front of idx), take(ctx,
 * idx, sent, rc, rep) reads its answer into the items and frees rep. With several shards the
 * calls are pipelined (script s loaded first), and every reply is read even after an error, so
 * the connection stays in step. Returns the first error. */
typedef int (*run_send_fn)(void *ctx, const led_shard_t *h, size_t *idx, size_t m, int piped,
                           size_t *sent, redisReply **rep);
typedef int (*run_take_fn)(void *ctx, const size_t *idx, size_t sent, int rc, redisReply *rep);

static int runs_exec(ferry_ledger_t *l, const ferry_redis_script_t *s, size_t *order, run_t *runs,
                     size_t nruns, run_send_fn send, run_take_fn take, void *ctx)
{
    int rc = FERRY_OK;
    int piped = nruns > 1 && l->shards > 1;
    if (piped)
        rc = ferry_redis_script_load(l->r, s);
    size_t sent_runs = 0;
    for (size_t i = 0; i < nruns && rc == FERRY_OK; i++) {
        redisReply *rep = NULL;
        rc = send(ctx, &l->sh[runs[i].shard], order + runs[i].off, runs[i].m, piped, &runs[i].sent,
                  &rep);
        if (!piped)
            rc = take(ctx, order + runs[i].off, runs[i].sent, rc, rep);
        else if (rc == FERRY_OK)
            sent_runs = i + 1;
    }
    int first = rc;
    for (size_t i = 0; piped && i < sent_runs; i++) {
        if (runs[i].sent == 0)
            continue;
        redisReply *rep = NULL;
        int r2 = piped_read(l, &rep);
        if (r2 == FERRY_ENET || r2 == FERRY_ETIMEOUT) {
            if (first == FERRY_OK)
                first = r2;
            break;
        }
        r2 = take(ctx, order + runs[i].off, runs[i].sent, r2, rep);
        if (first == FERRY_OK)
            first = r2;
    }
    if (piped && (first == FERRY_ENET || first == FERRY_ETIMEOUT))
        ferry_redis_reset(l->r); /* part of the pipeline is unread */
    return first;
}

/* Keys per start script call: 4 arguments each, under EVAL_MAX_ARGS. */
#define START_BATCH 128

/* Send one start script call for items[idx[0..m)] of shard h: checks each key, compacts the
 * sent ones to the front of idx, *sent their number. piped: appended (reply read later), else
 * run now with the reply in *rep. */
static int start_send(ferry_ledger_t *l, const led_shard_t *h, ferry_start_item_t *items,
                      size_t *idx, size_t m, const char *worker, const char *ms, const char *now,
                      int piped, size_t *sent_out, redisReply **rep)
{
    typedef struct {
        char b[160], lk[FERRY_KEY_MAX + 160];
    } start_keys_t;
    *rep = NULL;
    *sent_out = 0;
    start_keys_t *k = malloc(sizeof(*k) * m);
    const char **argv = malloc(sizeof(*argv) * (6 + 4 * m));
    if (k == NULL || argv == NULL) {
        free(k);
        free(argv);
        return FERRY_ENOMEM;
    }
    size_t sent = 0;
    for (size_t i = 0; i < m; i++) {
        ferry_start_item_t *it = &items[idx[i]];
        it->result = FERRY_START_GONE;
        if ((it->rc = key_ok(l, it->key)) != FERRY_OK)
            continue;
        key_bucket(l, it->key, k[sent].b, sizeof(k[sent].b));
        lease_key(l, it->key, k[sent].lk, sizeof(k[sent].lk));
        it->rc = FERRY_ERETRY; /* sent; answer below */
        idx[sent++] = idx[i];
    }
    /* KEYS: pending failed counters (bucket lease)…; ARGV: worker ms now (key token)… */
    size_t nk = 3 + 2 * sent, a = 0;
    argv[a++] = h->k_pending;
    argv[a++] = h->k_failed;
    argv[a++] = h->k_cnt;
    for (size_t j = 0; j < sent; j++) {
        argv[a++] = k[j].b;
        argv[a++] = k[j].lk;
    }
    argv[a++] = worker ? worker : "";
    argv[a++] = ms;
    argv[a++] = now;
    for (size_t j = 0; j < sent; j++) {
        argv[a++] = items[idx[j]].key;
        argv[a++] = items[idx[j]].token;
    }
    int rc = sent ? run_reply(l, piped, &LUA_START, (int)nk, (int)a, argv, NULL, rep) : FERRY_OK;
    *sent_out = sent;
    free(k);
    free(argv);
    return rc;
}

/* The answer (rc, rep) of a start call for items[idx[0..sent)]: fills their rc, result, rec.
 * Frees rep. */
static int start_take(ferry_ledger_t *l, ferry_start_item_t *items, const size_t *idx, size_t sent,
                      int rc, redisReply *rep)
{
    if (rc == FERRY_EREDIS) { /* the script failed: every key sent gets the error */
        for (size_t j = 0; j < sent; j++)
            items[idx[j]].rc = FERRY_EREDIS;
        rc = FERRY_OK;
    } else if (rc == FERRY_OK && sent &&
               (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 * sent)) {
        rc = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                             "start: unexpected reply from Redis");
        for (size_t j = 0; j < sent; j++)
            items[idx[j]].rc = FERRY_EREDIS;
    } else if (rc == FERRY_OK) {
        for (size_t j = 0; j < sent; j++) {
            ferry_start_item_t *it = &items[idx[j]];
            redisReply *v = rep->element[2 * j + 1];
            it->rc = FERRY_OK;
            it->result = (int)ferry_redis_reply_int(rep->element[2 * j], -3);
            if (it->rec && v->type == REDIS_REPLY_STRING && v->len > 0)
                it->rc = ferry_record_decode(it->key, strlen(it->key), v->str, v->len, it->rec);
        }
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* start_send/start_take as runs_exec's callbacks */
typedef struct {
    ferry_ledger_t *l;
    ferry_start_item_t *items;
    const char *worker, *ms, *now;
} start_ctx_t;

static int start_send_cb(void *ctx, const led_shard_t *h, size_t *idx, size_t m, int piped,
                         size_t *sent, redisReply **rep)
{
    start_ctx_t *c = ctx;
    return start_send(c->l, h, c->items, idx, m, c->worker, c->ms, c->now, piped, sent, rep);
}

static int start_take_cb(void *ctx, const size_t *idx, size_t sent, int rc, redisReply *rep)
{
    start_ctx_t *c = ctx;
    return start_take(c->l, c->items, idx, sent, rc, rep);
}

int ferry_ledger_start_many(ferry_ledger_t *l, ferry_start_item_t *items, size_t n,
                            const char *worker, int64_t lease_ms)
{
    char ms[24], now[24];
    redis_int_i64(ms, lease_ms > 0 ? lease_ms : 60000);
    redis_int_i64(now, now_s());
    for (size_t i = 0; i < n; i++)
        items[i].rc = FERRY_ERETRY;
    if (n == 0)
        return FERRY_OK;
    size_t *order = NULL, nruns = 0;
    run_t *runs = NULL;
    int rc = shard_runs(l, &items[0].key, sizeof(items[0]), n, START_BATCH, &order, &runs, &nruns);
    if (rc)
        return rc;
    start_ctx_t cx = {l, items, worker, ms, now};
    int first = runs_exec(l, &LUA_START, order, runs, nruns, start_send_cb, start_take_cb, &cx);
    free(order);
    free(runs);
    return first;
}

static int run_int_script(ferry_ledger_t *l, const ferry_redis_script_t *s, int nkeys, int argc,
                          const char **argv, const size_t *lens, long long *out)
{
    redisReply *rep = NULL;
    int rc = ferry_redis_eval(l->r, s, nkeys, argc, argv, lens, &rep);
    if (rc)
        return rc;
    *out = ferry_redis_reply_int(rep, -99);
    freeReplyObject(rep);
    return FERRY_OK;
}

int ferry_ledger_lease_renew(ferry_ledger_t *l, const char *key, const char *token,
                             int64_t lease_ms)
{
    char lk[FERRY_KEY_MAX + 160], ms[24];
    lease_key(l, key, lk, sizeof(lk));
    snprintf(ms, sizeof(ms), "%lld", (long long)(lease_ms > 0 ? lease_ms : 60000));
    const char *argv[3] = {lk, token, ms};
    long long v;
    int rc = run_int_script(l, &LUA_LEASE, 1, 3, argv, NULL, &v);
    if (rc)
        return rc;
    return v == 1 ? FERRY_OK : FERRY_EBUSY;
}

int ferry_ledger_lease_release(ferry_ledger_t *l, const char *key, const char *token)
{
    char lk[FERRY_KEY_MAX + 160];
    lease_key(l, key, lk, sizeof(lk));
    const char *argv[3] = {lk, token, "0"};
    long long v;
    return run_int_script(l, &LUA_LEASE, 1, 3, argv, NULL, &v);
}

/* The arguments of one key in a finish script call. */
typedef struct {
    char b[160], lk[FERRY_KEY_MAX + 160], st[24], size[24], mtime[24], now[24], dur[24];
    uint8_t etag[FERRY_ETAG_MAX + 2], dst[FERRY_ETAG_MAX + 2], crc[8];
    char err[FERRY_ERRMSG_MAX + 1];
    char checks[FERRY_CHECKS_MAX + 1];
    const char *argv[13]; /* the script's ARGV for this key */
    size_t lens[13];
} finish_args_t;

static int finish_args(ferry_ledger_t *l, const char *key, const char *token,
                       const ferry_outcome_t *o, finish_args_t *f)
{
    int rc = key_ok(l, key);
    if (rc)
        return rc;
    if (o->state < 0 || o->state >= FERRY_STATE_COUNT || o->state == FERRY_STATE_COPYING)
        return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EINVAL,
                               "finish: bad target state");
    key_bucket(l, key, f->b, sizeof(f->b));
    lease_key(l, key, f->lk, sizeof(f->lk));
    redis_int_i64(f->st, o->state); /* 0..FERRY_STATE_COUNT-1, checked above */
    redis_int_u64(f->size, o->size);
    redis_int_i64(f->mtime, o->mtime > 0 ? o->mtime : 0);
    redis_int_i64(f->now, now_s());
    f->dur[0] = '\0';
    if (o->duration_ms >= 0)
        redis_int_i64(f->dur, o->duration_ms);
    size_t en = ferry_etag_pack(o->etag, f->etag, sizeof(f->etag));
    size_t dn = 0;
    if (o->dst_etag && *o->dst_etag) {
        /* the source's etag packed once (f->etag), the destination's once */
        dn = ferry_etag_pack(o->dst_etag, f->dst, sizeof(f->dst));
        if (en && dst_same_as_src(f->etag, en, f->dst, dn)) {
            f->dst[0] = '=';
            dn = 1;
        } else {
            if (dn == 1 &&
                f->dst[0] == '=') { /* a text etag "=": keep it distinct from the marker */
                f->dst[0] = 0;
                f->dst[1] = '=';
                dn = 2;
            }
        }
    }
    if (o->has_crc64)
        for (int j = 0; j < 8; j++)
            f->crc[j] = (uint8_t)(o->crc64 >> (56 - 8 * j));
    redis_sb_t eb = redis_sb(f->err, sizeof(f->err));
    redis_sb_str(&eb, o->error ? o->error : "");
    redis_sb_t cb = redis_sb(f->checks, sizeof(f->checks));
    redis_sb_str(&cb, o->checks ? o->checks : "");
    const char *argv[13] = {key,
                            token ? token : "",
                            f->st,
                            f->size,
                            f->mtime,
                            (const char *)f->etag,
                            (const char *)f->crc,
                            o->seq ? o->seq : "",
                            (const char *)f->dst,
                            f->err,
                            f->now,
                            f->dur,
                            f->checks};
    memcpy(f->argv, argv, sizeof(argv));
    for (int j = 0; j < 13; j++)
        f->lens[j] = strlen(argv[j]);
    f->lens[5] = en;
    f->lens[6] = o->has_crc64 ? 8 : 0;
    f->lens[8] = dn;
    return FERRY_OK;
}

/* The finish script's answer as a code, with the message on the connection's error. */
static int finish_code(ferry_ledger_t *l, const char *key, long long v)
{
    ferry_error_t *e = (ferry_error_t *)ferry_redis_error(l->r);
    switch (v) {
    case 1:
        return FERRY_OK;
    case -1:
        return ferry_error_set(e, FERRY_ECONFLICT, "%s: a newer source version is queued", key);
    case -2:
        return ferry_error_set(e, FERRY_EBUSY, "%s: another worker holds the copy lease", key);
    case -3:
        return ferry_error_set(e, FERRY_ENOTFOUND, "%s: no record", key);
    default:
        return ferry_error_set(e, FERRY_EREDIS, "finish: unexpected reply %lld", v);
    }
}

int ferry_ledger_finish(ferry_ledger_t *l, const char *key, const char *token,
                        const ferry_outcome_t *o)
{
    ferry_finish_item_t it = {.key = key, .token = token, .o = o};
    int res = FERRY_ERETRY;
    int rc = ferry_ledger_finish_many(l, &it, 1, &res);
    return rc != FERRY_OK ? rc : res;
}

/* Keys per finish script call: 15 arguments each, under EVAL_MAX_ARGS. */
#define FINISH_BATCH 64

/* Send one finish script call for items[idx[0..m)] of shard h: results[idx[i]] is set for
 * keys not sent, FERRY_ERETRY for those sent, which are compacted to the front of idx (*sent
 * their number). piped: appended, else run now with the reply in *rep. */
static int finish_send(ferry_ledger_t *l, const led_shard_t *h, const ferry_finish_item_t *items,
                       size_t *idx, size_t m, int *results, finish_args_t *f, const char **argv,
                       size_t *lens, int piped, size_t *sent_out, redisReply **rep)
{
    size_t sent = 0;
    *rep = NULL;
    for (size_t i = 0; i < m; i++) {
        size_t x = idx[i];
        results[x] = finish_args(l, items[x].key, items[x].token, items[x].o, &f[sent]);
        if (results[x] != FERRY_OK)
            continue;              /* not sent */
        results[x] = FERRY_ERETRY; /* sent; answer below */
        idx[sent++] = x;
    }
    *sent_out = sent;
    if (sent == 0)
        return FERRY_OK;
    /* KEYS: pending failed counters (bucket lease)…; ARGV: 13 per key */
    size_t a = 0;
    argv[a] = h->k_pending, lens[a++] = strlen(h->k_pending);
    argv[a] = h->k_failed, lens[a++] = strlen(h->k_failed);
    argv[a] = h->k_cnt, lens[a++] = strlen(h->k_cnt);
    for (size_t j = 0; j < sent; j++) {
        argv[a] = f[j].b, lens[a++] = strlen(f[j].b);
        argv[a] = f[j].lk, lens[a++] = strlen(f[j].lk);
    }
    for (size_t j = 0; j < sent; j++) {
        memcpy(argv + a, f[j].argv, sizeof(f[j].argv));
        memcpy(lens + a, f[j].lens, sizeof(f[j].lens));
        a += 13;
    }
    return run_reply(l, piped, &LUA_FINISH, (int)(3 + 2 * sent), (int)a, argv, lens, rep);
}

/* The answer (rc, rep) of a finish call for items[idx[0..sent)]. Frees rep. */
static int finish_take(ferry_ledger_t *l, const ferry_finish_item_t *items, const size_t *idx,
                       size_t sent, int *results, int rc, redisReply *rep)
{
    if (sent == 0)
        return FERRY_OK;
    if (rc == FERRY_EREDIS) { /* the script failed: every key sent gets the error */
        for (size_t j = 0; j < sent; j++)
            results[idx[j]] = FERRY_EREDIS;
        return FERRY_OK;
    }
    if (rc != FERRY_OK)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != sent) {
        freeReplyObject(rep);
        return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                               "finish: unexpected reply from Redis");
    }
    for (size_t j = 0; j < sent; j++)
        results[idx[j]] =
            finish_code(l, items[idx[j]].key, ferry_redis_reply_int(rep->element[j], -99));
    freeReplyObject(rep);
    return FERRY_OK;
}

/* finish_send/finish_take as runs_exec's callbacks */
typedef struct {
    ferry_ledger_t *l;
    const ferry_finish_item_t *items;
    int *results;
    finish_args_t *f;
    const char **argv;
    size_t *lens;
} finish_ctx_t;

static int finish_send_cb(void *ctx, const led_shard_t *h, size_t *idx, size_t m, int piped,
                          size_t *sent, redisReply **rep)
{
    finish_ctx_t *c = ctx;
    return finish_send(c->l, h, c->items, idx, m, c->results, c->f, c->argv, c->lens, piped, sent,
                       rep);
}

static int finish_take_cb(void *ctx, const size_t *idx, size_t sent, int rc, redisReply *rep)
{
    finish_ctx_t *c = ctx;
    return finish_take(c->l, c->items, idx, sent, c->results, rc, rep);
}

int ferry_ledger_finish_many(ferry_ledger_t *l, const ferry_finish_item_t *items, size_t n,
                             int *results)
{
    if (n == 0)
        return FERRY_OK;
    for (size_t i = 0; i < n; i++)
        results[i] = FERRY_ERETRY;
    size_t *order = NULL, nruns = 0;
    run_t *runs = NULL;
    int rc = shard_runs(l, &items[0].key, sizeof(items[0]), n, FINISH_BATCH, &order, &runs, &nruns);
    if (rc)
        return rc;
    size_t cap = n < FINISH_BATCH ? n : FINISH_BATCH;
    finish_args_t *f = malloc(sizeof(*f) * cap);
    const char **argv = malloc(sizeof(*argv) * (3 + 15 * cap));
    size_t *lens = malloc(sizeof(*lens) * (3 + 15 * cap));
    rc = f && argv && lens ? FERRY_OK : FERRY_ENOMEM;
    finish_ctx_t cx = {l, items, results, f, argv, lens};
    int first =
        rc ? rc
           : runs_exec(l, &LUA_FINISH, order, runs, nruns, finish_send_cb, finish_take_cb, &cx);
    free(f);
    free(argv);
    free(lens);
    free(order);
    free(runs);
    return first;
}

int ferry_ledger_fail(ferry_ledger_t *l, const char *key, const char *error)
{
    int rc = key_ok(l, key);
    if (rc)
        return rc;
    char b[160], now[24], err[FERRY_ERRMSG_MAX + 1];
    key_bucket(l, key, b, sizeof(b));
    snprintf(now, sizeof(now), "%lld", (long long)now_s());
    snprintf(err, sizeof(err), "%s", error ? error : "");
    const led_shard_t *h = shard_of(l, key);
    const char *argv[7] = {b, h->k_pending, h->k_failed, h->k_cnt, key, err, now};
    long long v;
    rc = run_int_script(l, &LUA_FAIL, 4, 7, argv, NULL, &v);
    if (rc)
        return rc;
    return v == -3 ? FERRY_ENOTFOUND : FERRY_OK;
}

int ferry_ledger_set_upload(ferry_ledger_t *l, const char *key, const char *token,
                            const char *upload_id)
{
    int rc = key_ok(l, key);
    if (rc)
        return rc;
    if (upload_id && strlen(upload_id) > FERRY_UPLOAD_ID_MAX)
        return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EINVAL,
                               "%s: the upload id is longer than %d bytes", key,
                               FERRY_UPLOAD_ID_MAX);
    char b[160], lk[FERRY_KEY_MAX + 160];
    key_bucket(l, key, b, sizeof(b));
    lease_key(l, key, lk, sizeof(lk));
    const char *argv[5] = {b, lk, key, token ? token : "", upload_id ? upload_id : ""};
    long long v;
    rc = run_int_script(l, &LUA_UPLOAD, 2, 5, argv, NULL, &v);
    if (rc)
        return rc;
    return v == 1 ? FERRY_OK : v == -2 ? FERRY_EBUSY : FERRY_ENOTFOUND;
}

/* ---- queries ------------------------------------------------------------------------------------
 */

void ferry_ledger_counters_parse(const redisReply *rep, ferry_counters_t *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i];
        if (f->type == REDIS_REPLY_STRING && f->len == 2 && memcmp(f->str, "uv", 2) == 0) {
            c->unverified = ferry_redis_reply_int(rep->element[i + 1], 0);
            continue;
        }
        if (f->type != REDIS_REPLY_STRING || f->len != 2 || f->str[1] < '0' ||
            f->str[1] >= '0' + FERRY_STATE_COUNT)
            continue;
        int s = f->str[1] - '0';
        long long v = ferry_redis_reply_int(rep->element[i + 1], 0);
        if (f->str[0] == 'n')
            c->objects[s] = v;
        else if (f->str[0] == 'b')
            c->bytes[s] = v;
    }
}

static int counters_once(ferry_ledger_t *l, ferry_counters_t *c)
{
    memset(c, 0, sizeof(*c));
    int rc = FERRY_OK;
    for (uint32_t s = 0; s < l->shards && rc == FERRY_OK; s++) {
        const char *argv[2] = {"HGETALL", l->sh[s].k_cnt};
        rc = ferry_redis_append(l->r, 2, argv, NULL);
    }
    if (rc) {
        ferry_redis_reset(l->r);
        return rc;
    }
    for (uint32_t s = 0; s < l->shards; s++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(l->r, &rep);
        if (r2) {
            ferry_redis_reset(l->r);
            return r2;
        }
        if (rep->type == REDIS_REPLY_ERROR && rc == FERRY_OK)
            rc = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                 "reading the counters of task %s: %s", l->task, rep->str);
        ferry_counters_t one;
        ferry_ledger_counters_parse(rep, &one);
        freeReplyObject(rep);
        for (int i = 0; i < FERRY_STATE_COUNT; i++) {
            c->objects[i] += one.objects[i];
            c->bytes[i] += one.bytes[i];
        }
        c->unverified += one.unverified;
    }
    return rc;
}

/* ZLEX bounds for "every member starting with prefix". */
static void lex_bounds(const char *prefix, char *lo, char *hi, size_t n)
{
    if (prefix == NULL || *prefix == '\0') {
        snprintf(lo, n, "-");
        snprintf(hi, n, "+");
        return;
    }
    snprintf(lo, n, "[%s", prefix);
    snprintf(hi, n, "(%s\xff", prefix);
}

static int progress_once(ferry_ledger_t *l, const char *prefix, long long *pending,
                         long long *failed)
{
    char lo[FERRY_KEY_MAX + 4], hi[FERRY_KEY_MAX + 4];
    lex_bounds(prefix, lo, hi, sizeof(lo));
    int rc = FERRY_OK;
    for (uint32_t s = 0; s < l->shards && rc == FERRY_OK; s++) {
        const char *a1[4] = {"ZLEXCOUNT", l->sh[s].k_pending, lo, hi};
        const char *a2[4] = {"ZLEXCOUNT", l->sh[s].k_failed, lo, hi};
        rc = ferry_redis_append(l->r, 4, a1, NULL);
        if (rc == FERRY_OK)
            rc = ferry_redis_append(l->r, 4, a2, NULL);
    }
    if (rc) {
        ferry_redis_reset(l->r);
        return rc;
    }
    long long p = 0, f = 0;
    for (uint32_t i = 0; i < 2 * l->shards; i++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(l->r, &rep);
        if (r2) {
            ferry_redis_reset(l->r);
            return r2;
        }
        long long v = ferry_redis_reply_int(rep, -1);
        if (v < 0 && rc == FERRY_OK)
            rc = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                 "ZLEXCOUNT failed: %s",
                                 rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        if (i % 2)
            f += v;
        else
            p += v;
        freeReplyObject(rep);
    }
    if (rc == FERRY_OK) {
        *failed = f;
        *pending = p - f;
    }
    return rc;
}

/* Reads of several shards are pipelined, and a pipeline does not reconnect: a lost connection
 * is re-established and the read sent once more (reads are idempotent). */
static int retry_lost(ferry_ledger_t *l, int rc)
{
    return (rc == FERRY_ENET || rc == FERRY_ETIMEOUT) && ferry_redis_reset(l->r) == FERRY_OK;
}

int ferry_ledger_counters(ferry_ledger_t *l, ferry_counters_t *c)
{
    int rc = counters_once(l, c);
    if (retry_lost(l, rc))
        rc = counters_once(l, c);
    return rc;
}

int ferry_ledger_progress(ferry_ledger_t *l, const char *prefix, long long *pending,
                          long long *failed)
{
    int rc = progress_once(l, prefix, pending, failed);
    if (retry_lost(l, rc))
        rc = progress_once(l, prefix, pending, failed);
    return rc;
}

/* Cursor forms: "b<bucket>.<skip>" over the buckets, "z<last key>" over an index. */
static int list_index(ferry_ledger_t *l, int state, const char *prefix, const char *cursor,
                      size_t limit, ferry_record_fn fn, void *ud, char *next, size_t next_n)
{
    const char *idx = state == FERRY_STATE_FAILED ? l->sh[0].k_failed : l->sh[0].k_pending;
    char lo[FERRY_KEY_MAX + 4], hi[FERRY_KEY_MAX + 4];
    lex_bounds(prefix, lo, hi, sizeof(lo));
    if (cursor && cursor[0] == 'z' && cursor[1])
        snprintf(lo, sizeof(lo), "(%s", cursor + 1);
    next[0] = '\0';
    size_t got = 0;
    int rc = FERRY_OK;
    while (got < limit && rc == FERRY_OK) {
        size_t want = limit - got < 512 ? limit - got : 512;
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", want);
        const char *argv[7] = {"ZRANGEBYLEX", idx, lo, hi, "LIMIT", "0", cnt};
        redisReply *keys = NULL;
        rc = ferry_redis_argv(l->r, 7, argv, NULL, &keys);
        if (rc)
            break;
        size_t nk = keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0;
        for (size_t i = 0; i < nk; i++)
            if (keys->element[i]->type != REDIS_REPLY_STRING) { /* not a sorted set of keys */
                nk = 0;
                rc = FERRY_EPARSE;
            }
        for (size_t i = 0; i < nk && rc == FERRY_OK; i++) {
            char b[160];
            key_bucket(l, keys->element[i]->str, b, sizeof(b));
            const char *hg[3] = {"HGET", b, keys->element[i]->str};
            rc = ferry_redis_append(l->r, 3, hg, NULL);
        }
        for (size_t i = 0; i < nk; i++) {
            redisReply *v = NULL;
            int r2 = ferry_redis_read(l->r, &v);
            if (r2) {
                rc = r2;
                break;
            }
            ferry_record_t rec;
            const redisReply *k = keys->element[i];
            if (rc == FERRY_OK && v->type == REDIS_REPLY_STRING &&
                ferry_record_decode(k->str, k->len, v->str, v->len, &rec) == FERRY_OK &&
                (state < 0 || rec.state == state || (state == -2))) {
                if (got < limit) {
                    got++;
                    if (fn(ud, &rec))
                        rc = FERRY_ECANCELED;
                }
            }
            freeReplyObject(v);
        }
        if (nk > 0)
            snprintf(lo, sizeof(lo), "(%s", keys->element[nk - 1]->str);
        freeReplyObject(keys);
        if (nk < want) {
            lo[0] = '\0';
            break;
        }
    }
    if (lo[0] == '(' && rc == FERRY_OK)
        snprintf(next, next_n, "z%s", lo + 1);
    return rc == FERRY_ECANCELED ? FERRY_OK : rc;
}

static int cmp_reply_str(const void *a, const void *b)
{
    const redisReply *x = *(const redisReply *const *)a, *y = *(const redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* list_index over several shards: each shard's index is sorted, so a page is a merge. Each
 * round asks every shard for its next `per` keys (one pipeline); keys up to the smallest last
 * key of a shard that answered a full `per` are safe to hand out in order (no shard can have
 * an unseen key below it), the rest is asked for again next round. The cursor is the same
 * "z<last key>". */
static int list_index_merged(ferry_ledger_t *l, int state, const char *prefix, const char *cursor,
                             size_t limit, ferry_record_fn fn, void *ud, char *next, size_t next_n)
{
    int failed_idx = state == FERRY_STATE_FAILED;
    char lo[FERRY_KEY_MAX + 4], hi[FERRY_KEY_MAX + 4];
    lex_bounds(prefix, lo, hi, sizeof(lo));
    if (cursor && cursor[0] == 'z' && cursor[1])
        snprintf(lo, sizeof(lo), "(%s", cursor + 1);
    next[0] = '\0';
    uint32_t S = l->shards;
    redisReply **reps = calloc(S, sizeof(*reps));
    const redisReply **all = NULL;
    if (reps == NULL)
        return FERRY_ENOMEM;
    size_t got = 0;
    int rc = FERRY_OK;
    while (got < limit && rc == FERRY_OK) {
        size_t want = limit - got < 512 ? limit - got : 512;
        size_t per = 2 * want / S + 16;
        if (per > want)
            per = want;
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", per);
        for (uint32_t s = 0; s < S && rc == FERRY_OK; s++) {
            const char *argv[7] = {"ZRANGEBYLEX",
                                   failed_idx ? l->sh[s].k_failed : l->sh[s].k_pending,
                                   lo,
                                   hi,
                                   "LIMIT",
                                   "0",
                                   cnt};
            rc = ferry_redis_append(l->r, 7, argv, NULL);
        }
        if (rc) {
            ferry_redis_reset(l->r);
            break;
        }
        size_t total = 0;
        for (uint32_t s = 0; s < S; s++) {
            int r2 = ferry_redis_read(l->r, &reps[s]);
            if (r2) {
                ferry_redis_reset(l->r);
                rc = r2;
                break;
            }
            if (reps[s]->type != REDIS_REPLY_ARRAY) {
                if (rc == FERRY_OK)
                    rc = ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EREDIS,
                                         "listing the index of task %s: %s", l->task,
                                         reps[s]->type == REDIS_REPLY_ERROR ? reps[s]->str : "");
                continue;
            }
            for (size_t i = 0; i < reps[s]->elements; i++)
                if (reps[s]->element[i]->type != REDIS_REPLY_STRING)
                    rc = FERRY_EPARSE; /* not a sorted set of keys */
            total += reps[s]->elements;
        }
        /* the bound: the smallest last key of a full answer */
        const redisReply *bound = NULL;
        for (uint32_t s = 0; s < S && rc == FERRY_OK; s++)
            if (reps[s]->elements == per) {
                const redisReply *last = reps[s]->element[per - 1];
                if (bound == NULL || cmp_reply_str(&last, &bound) < 0)
                    bound = last;
            }
        size_t na = 0;
        if (rc == FERRY_OK && (all = malloc(sizeof(*all) * (total ? total : 1))) == NULL)
            rc = FERRY_ENOMEM;
        for (uint32_t s = 0; s < S && rc == FERRY_OK; s++)
            for (size_t i = 0; i < reps[s]->elements; i++) {
                const redisReply *k = reps[s]->element[i];
                if (bound == NULL || cmp_reply_str(&k, &bound) <= 0)
                    all[na++] = k;
            }
        if (rc == FERRY_OK)
            qsort(all, na, sizeof(*all), cmp_reply_str);
        size_t take = na < want ? na : want;
        size_t queued = 0;
        for (size_t i = 0; i < take && rc == FERRY_OK; i++, queued++) {
            char b[160];
            key_bucket(l, all[i]->str, b, sizeof(b));
            const char *hg[3] = {"HGET", b, all[i]->str};
            rc = ferry_redis_append(l->r, 3, hg, NULL);
        }
        if (rc && queued) /* part of a pipeline is out */
            ferry_redis_reset(l->r);
        for (size_t i = 0; i < take && (rc == FERRY_OK || rc == FERRY_ECANCELED); i++) {
            redisReply *v = NULL;
            int r2 = ferry_redis_read(l->r, &v);
            if (r2) {
                ferry_redis_reset(l->r);
                rc = r2;
                break;
            }
            ferry_record_t rec;
            const redisReply *k = all[i];
            if (rc == FERRY_OK && v->type == REDIS_REPLY_STRING &&
                ferry_record_decode(k->str, k->len, v->str, v->len, &rec) == FERRY_OK &&
                (state < 0 || rec.state == state) && got < limit) {
                got++;
                if (fn(ud, &rec))
                    rc = FERRY_ECANCELED;
            }
            freeReplyObject(v);
        }
        int finished = bound == NULL && na <= want;
        if (take > 0 && rc == FERRY_OK)
            snprintf(lo, sizeof(lo), "(%s", all[take - 1]->str);
        free(all);
        all = NULL;
        for (uint32_t s = 0; s < S; s++) {
            if (reps[s])
                freeReplyObject(reps[s]);
            reps[s] = NULL;
        }
        if (finished || take == 0) {
            lo[0] = '\0';
            break;
        }
    }
    free(reps);
    if (lo[0] == '(' && rc == FERRY_OK)
        snprintf(next, next_n, "z%s", lo + 1);
    return rc == FERRY_ECANCELED ? FERRY_OK : rc;
}

#define LIST_BATCH 128

int ferry_ledger_list(ferry_ledger_t *l, int state, const char *prefix, const char *cursor,
                      size_t limit, ferry_record_fn fn, void *ud, char *next, size_t next_n)
{
    if (prefix == NULL)
        prefix = "";
    if (limit == 0)
        limit = 1000;
    if (state == FERRY_STATE_FAILED || state == FERRY_STATE_QUEUED || state == FERRY_STATE_COPYING)
        return l->shards == 1
                   ? list_index(l, state, prefix, cursor, limit, fn, ud, next, next_n)
                   : list_index_merged(l, state, prefix, cursor, limit, fn, ud, next, next_n);
    unsigned long bucket = 0, skip = 0;
    if (cursor && cursor[0] == 'b') {
        if (sscanf(cursor + 1, "%lu.%lu", &bucket, &skip) != 2)
            return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EINVAL,
                                   "bad cursor \"%s\"", cursor);
    } else if (cursor && *cursor)
        return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EINVAL,
                               "bad cursor \"%s\"", cursor);
    next[0] = '\0';
    size_t got = 0;
    char(*keys)[160] = malloc(sizeof(*keys) * LIST_BATCH);
    if (keys == NULL)
        return FERRY_ENOMEM;
    int rc = FERRY_OK;
    char st[8], sk[24], lim[24];
    snprintf(st, sizeof(st), "%d", state);
    /* Shard by shard (one call's buckets must be one shard's): shard s holds buckets s, s+S,
     * s+2S, …; the walk is shard 0's buckets, then shard 1's, … (with S = 1: 0, 1, 2, …). A
     * cursor's bucket says its shard. */
    unsigned long S = l->shards;
    while (bucket < l->buckets && got < limit && rc == FERRY_OK) {
        size_t nb = 0;
        const char *argv[LIST_BATCH + 4];
        for (unsigned long b = bucket; b < l->buckets && nb < LIST_BATCH; b += S, nb++) {
            bucket_key(l, (uint32_t)b, keys[nb], sizeof(keys[nb]));
            argv[nb] = keys[nb];
        }
        snprintf(sk, sizeof(sk), "%lu", skip);
        snprintf(lim, sizeof(lim), "%zu", limit - got);
        argv[nb] = st;
        argv[nb + 1] = prefix;
        argv[nb + 2] = sk;
        argv[nb + 3] = lim;
        redisReply *rep = NULL;
        rc = ferry_redis_eval(l->r, &LUA_LIST, (int)nb, (int)nb + 4, argv, NULL, &rep);
        if (rc)
            break;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
            freeReplyObject(rep);
            rc = FERRY_EREDIS;
            break;
        }
        long long done = ferry_redis_reply_int(rep->element[0], (long long)nb);
        long long nskip = ferry_redis_reply_int(rep->element[1], 0);
        for (size_t i = 2; i + 1 < rep->elements && rc == FERRY_OK; i += 2) {
            ferry_record_t rec;
            const redisReply *k = rep->element[i], *v = rep->element[i + 1];
            got++;
            if (ferry_record_decode(k->str, k->len, v->str, v->len, &rec) == FERRY_OK &&
                fn(ud, &rec))
                rc = FERRY_ECANCELED;
        }
        freeReplyObject(rep);
        if (done < 0 || done > (long long)nb)
            done = (long long)nb;
        bucket += (unsigned long)done * S;
        skip = done < (long long)nb ? (unsigned long)nskip : 0;
        if (bucket >= l->buckets && bucket % S + 1 < S && done == (long long)nb)
            bucket = bucket % S + 1; /* this shard's buckets are done: the next shard's first */
        if (done < (long long)nb)
            break;
    }
    free(keys);
    if (rc == FERRY_OK && bucket < l->buckets)
        snprintf(next, next_n, "b%lu.%lu", bucket, skip);
    return rc == FERRY_ECANCELED ? FERRY_OK : rc;
}

/* ---- the multipart uploads ferry started (the janitor's list) -------------------------------- */

static int uploads_key(ferry_ledger_t *l, const char *upload_id, char *k, size_t n)
{
    if (upload_id == NULL || *upload_id == '\0' || strlen(upload_id) > FERRY_UPLOAD_ID_MAX)
        return ferry_error_set((ferry_error_t *)ferry_redis_error(l->r), FERRY_EINVAL,
                               "upload id: 1..%d bytes", FERRY_UPLOAD_ID_MAX);
    keys_task(k, n, l->task, "uploads");
    return FERRY_OK;
}

int ferry_ledger_upload_track(ferry_ledger_t *l, const char *upload_id)
{
    char k[160], t[24];
    int rc = uploads_key(l, upload_id, k, sizeof(k));
    if (rc)
        return rc;
    snprintf(t, sizeof(t), "%lld", (long long)ferry_wall_ms());
    const char *argv[4] = {"HSET", k, upload_id, t};
    return ferry_redis_argv(l->r, 4, argv, NULL, NULL);
}

int ferry_ledger_upload_untrack(ferry_ledger_t *l, const char *upload_id)
{
    char k[160];
    int rc = uploads_key(l, upload_id, k, sizeof(k));
    if (rc)
        return rc;
    const char *argv[3] = {"HDEL", k, upload_id};
    return ferry_redis_argv(l->r, 3, argv, NULL, NULL);
}

int ferry_ledger_upload_tracked(ferry_ledger_t *l, const char *upload_id, int *yes)
{
    char k[160];
    *yes = 0;
    int rc = uploads_key(l, upload_id, k, sizeof(k));
    if (rc)
        return rc == FERRY_EINVAL ? FERRY_OK : rc; /* not an id ferry could have stored */
    const char *argv[3] = {"HEXISTS", k, upload_id};
    redisReply *rep = NULL;
    rc = ferry_redis_argv(l->r, 3, argv, NULL, &rep);
    if (rc)
        return rc;
    *yes = ferry_redis_reply_int(rep, 0) == 1;
    freeReplyObject(rep);
    return FERRY_OK;
}
