/* fakes3 store: buckets, immutable reference-counted objects, segments, --data-dir. */
#define _GNU_SOURCE /* nftw flags */
#include "fakes3.h"
#include "store_int.h"

#include "ferry/check.h"
#include "ferry/clock.h"
#include "ferry/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- segments ---------------------------------------------------------------------------- */

static fakes3_seg_t *seg_alloc(fakes3_seg_kind_t kind, uint64_t len)
{
    fakes3_seg_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    atomic_init(&g->refs, 1);
    g->kind = kind;
    g->len = len;
    return g;
}

fakes3_seg_t *fakes3_seg_new_mem(char *mem, uint64_t len)
{
    fakes3_seg_t *g = seg_alloc(FAKES3_SEG_MEM, len);
    if (g == NULL) {
        free(mem);
        return NULL;
    }
    g->mem = mem;
    return g;
}

fakes3_seg_t *fakes3_seg_new_seed(uint64_t seed, uint64_t len)
{
    fakes3_seg_t *g = seg_alloc(FAKES3_SEG_SEED, len);
    if (g != NULL)
        g->seed = seed;
    return g;
}

void fakes3_seg_ref(fakes3_seg_t *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void fakes3_seg_unref(fakes3_seg_t *g)
{
    if (g == NULL || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (g->kind == FAKES3_SEG_FILE && g->path != NULL && g->closing != NULL &&
        !atomic_load(g->closing))
        (void)unlink(g->path); /* the last object using the blob is gone */
    free(g->mem);
    free(g->path);
    free(g);
}

void fakes3_slices_free(fakes3_slice_t *sl, uint32_t n)
{
    if (sl == NULL)
        return;
    for (uint32_t i = 0; i < n; i++)
        fakes3_seg_unref(sl[i].seg);
    free(sl);
}

/* ---- seeded content ---------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t fakes3_seed_key(uint64_t seed, uint64_t index)
{
    return mix64(mix64(seed + 0x9E3779B97F4A7C15ULL) ^ (index * 0xD1B54A32D192ED03ULL));
}

/* Word i of an object is mix64(key + i * gamma): random access, about 1 ns per 8 bytes. */
void fakes3_seed_fill(uint64_t key, uint64_t off, void *dst, size_t n)
{
    unsigned char *d = dst;
    uint64_t w = off / 8;
    unsigned skip = (unsigned)(off % 8);
    while (n > 0) {
        uint64_t v = mix64(key + w * 0x9E3779B97F4A7C15ULL);
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)(v >> (8 * i));
        size_t take = 8 - skip;
        if (take > n)
            take = n;
        memcpy(d, b + skip, take);
        d += take;
        n -= take;
        skip = 0;
        w++;
    }
}

/* ---- bodies ------------------------------------------------------------------------------ */

static int seg_read(const fakes3_seg_t *g, uint64_t off, void *dst, size_t n)
{
    switch (g->kind) {
    case FAKES3_SEG_MEM:
        memcpy(dst, g->mem + off, n);
        return FERRY_OK;
    case FAKES3_SEG_SEED:
        fakes3_seed_fill(g->seed, off, dst, n);
        return FERRY_OK;
    case FAKES3_SEG_FILE: {
        int rc = FERRY_OK;
        int fd = open(g->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return FERRY_EIO;
        char *d = dst;
        while (n > 0) {
            ssize_t r = pread(fd, d, n, (off_t)off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                rc = FERRY_EIO;
                break;
            }
            d += r;
            off += (uint64_t)r;
            n -= (size_t)r;
        }
        close(fd);
        return rc;
    }
    }
    return FERRY_EIO;
}

int fakes3_body_read(const fakes3_slice_t *sl, uint32_t nsl, uint64_t off, void *dst, size_t n)
{
    char *d = dst;
    for (uint32_t i = 0; i < nsl && n > 0; i++) {
        if (off >= sl[i].len) {
            off -= sl[i].len;
            continue;
        }
        uint64_t take = sl[i].len - off;
        if (take > n)
            take = n;
        int rc = seg_read(sl[i].seg, sl[i].off + off, d, (size_t)take);
        if (rc != FERRY_OK)
            return rc;
        d += take;
        n -= (size_t)take;
        off = 0;
    }
    return n == 0 ? FERRY_OK : FERRY_EIO;
}

int fakes3_slices_sub(const fakes3_slice_t *sl, uint32_t nsl, uint64_t off, uint64_t len,
                      fakes3_slice_t **out, uint32_t *nout)
{
    fakes3_slice_t *res = calloc(nsl ? nsl : 1, sizeof(*res));
    uint32_t k = 0;
    if (res == NULL)
        return FERRY_ENOMEM;
    for (uint32_t i = 0; i < nsl && len > 0; i++) {
        if (off >= sl[i].len) {
            off -= sl[i].len;
            continue;
        }
        uint64_t take = sl[i].len - off;
        if (take > len)
            take = len;
        res[k].seg = sl[i].seg;
        res[k].off = sl[i].off + off;
        res[k].len = take;
        fakes3_seg_ref(sl[i].seg);
        k++;
        len -= take;
        off = 0;
    }
    *out = res;
    *nout = k;
    return FERRY_OK;
}

/* ---- objects ----------------------------------------------------------------------------- */

fakes3_obj_t *fakes3_obj_new(void)
{
    fakes3_obj_t *o = calloc(1, sizeof(*o));
    if (o != NULL) {
        atomic_init(&o->refs, 1);
        strcpy(o->sclass, "STANDARD");
    }
    return o;
}

void fakes3_obj_ref(fakes3_obj_t *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void fakes3_obj_unref(fakes3_obj_t *o)
{
    if (o == NULL || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    fakes3_slices_free(o->slices, o->nslices);
    free(o->hdrs);
    free(o->part_sizes);
    free(o);
}

static void obj_unref_void(void *p)
{
    fakes3_obj_unref(p);
}

void fakes3_part_free(fakes3_part_t *p)
{
    if (p == NULL)
        return;
    fakes3_slices_free(p->slices, p->nslices);
    free(p);
}

void fakes3_upload_free(fakes3_upload_t *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->nparts; i++)
        fakes3_part_free(u->parts[i]);
    free(u->parts);
    free(u->key);
    free(u->hdrs);
    free(u);
}

static void upload_free_void(void *p)
{
    fakes3_upload_free(p);
}

/* ---- buckets ----------------------------------------------------------------------------- */

static fakes3_bucket_t *bucket_new(const char *name, uint64_t salt)
{
    fakes3_bucket_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->created_ms = ferry_wall_ms();
    if (pthread_rwlock_init(&b->lock, NULL) != 0) {
        free(b);
        return NULL;
    }
    fakes3_map_init(&b->objects, salt ^ 0x1234567ULL);
    fakes3_map_init(&b->uploads, salt ^ 0x7654321ULL);
    return b;
}

static void bucket_free(fakes3_bucket_t *b)
{
    if (b == NULL)
        return;
    fakes3_map_clear(&b->objects, obj_unref_void);
    fakes3_map_clear(&b->uploads, upload_free_void);
    pthread_rwlock_destroy(&b->lock);
    free(b);
}

static void bucket_free_void(void *p)
{
    bucket_free(p);
}

int fakes3_store_new(const fakes3_config_t *cfg, fakes3_store_t **out)
{
    fakes3_store_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return FERRY_ENOMEM;
    if (pthread_rwlock_init(&s->lock, NULL) != 0) {
        free(s);
        return FERRY_ENOMEM;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->id_salt = mix64(cfg->seed) ^
                 mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid());
    fakes3_map_init(&s->buckets, cfg->seed + 1);
    s->data_dir = cfg->data_dir;
    s->personality = cfg->personality;
    atomic_init(&s->next_id, 1);
    atomic_init(&s->closing, 0);
    *out = s;
    return FERRY_OK;
}

void fakes3_store_free(fakes3_store_t *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->closing, 1); /* keep blobs on disk */
    fakes3_map_clear(&s->buckets, bucket_free_void);
    while (s->dead != NULL) {
        fakes3_bucket_t *b = s->dead;
        s->dead = b->next_dead;
        bucket_free(b);
    }
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

fakes3_bucket_t *fakes3_store_bucket(fakes3_store_t *s, const char *name)
{
    pthread_rwlock_rdlock(&s->lock);
    fakes3_bucket_t *b = fakes3_map_get(&s->buckets, name, strlen(name));
    pthread_rwlock_unlock(&s->lock);
    return b;
}

int fakes3_store_bucket_create(fakes3_store_t *s, const char *name)
{
    int rc = FERRY_OK;
    pthread_rwlock_wrlock(&s->lock);
    if (fakes3_map_get(&s->buckets, name, strlen(name)) != NULL) {
        rc = FERRY_EEXISTS;
        goto out;
    }
    fakes3_bucket_t *b = bucket_new(name, s->id_salt + s->buckets.count);
    if (b == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    if (s->data_dir != NULL) {
        rc = fakes3_persist_bucket(s, name);
        if (rc != FERRY_OK) {
            bucket_free(b);
            goto out;
        }
    }
    rc = fakes3_map_put(&s->buckets, name, strlen(name), b, NULL);
    if (rc != FERRY_OK)
        bucket_free(b);
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int fakes3_store_bucket_delete(fakes3_store_t *s, const char *name)
{
    int rc = FERRY_OK;
    pthread_rwlock_wrlock(&s->lock);
    fakes3_bucket_t *b = fakes3_map_get(&s->buckets, name, strlen(name));
    if (b == NULL) {
        rc = FERRY_ENOTFOUND;
        goto out;
    }
    pthread_rwlock_wrlock(&b->lock);
    size_t n = b->objects.count;
    pthread_rwlock_unlock(&b->lock);
    if (n > 0) {
        rc = FERRY_ECONFLICT;
        goto out;
    }
    fakes3_map_del(&s->buckets, name, strlen(name));
    if (s->data_dir != NULL)
        fakes3_persist_bucket_remove(s, name);
    b->next_dead = s->dead; /* another thread may still hold it: free at exit */
    s->dead = b;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- objects in buckets ------------------------------------------------------------------ */

int fakes3_store_put(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen,
                     fakes3_obj_t *o)
{
    int rc = FERRY_OK;
    void *old = NULL;
    if (o->mtime_ms == 0)
        o->mtime_ms = ferry_wall_ms();
    if (s->data_dir != NULL) {
        rc = fakes3_persist_obj(s, b, key, klen, o);
        if (rc != FERRY_OK) {
            fakes3_obj_unref(o);
            return rc;
        }
    }
    pthread_rwlock_wrlock(&b->lock);
    rc = fakes3_map_put(&b->objects, key, klen, o, &old);
    pthread_rwlock_unlock(&b->lock);
    if (rc != FERRY_OK)
        fakes3_obj_unref(o);
    fakes3_obj_unref(old);
    return rc;
}

fakes3_obj_t *fakes3_store_get(fakes3_bucket_t *b, const char *key, size_t klen)
{
    pthread_rwlock_rdlock(&b->lock);
    fakes3_obj_t *o = fakes3_map_get(&b->objects, key, klen);
    if (o != NULL)
        fakes3_obj_ref(o);
    pthread_rwlock_unlock(&b->lock);
    return o;
}

int fakes3_store_del(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen)
{
    pthread_rwlock_wrlock(&b->lock);
    fakes3_obj_t *o = fakes3_map_del(&b->objects, key, klen);
    pthread_rwlock_unlock(&b->lock);
    if (o != NULL && s->data_dir != NULL)
        fakes3_persist_obj_remove(s, b, key, klen);
    fakes3_obj_unref(o);
    return FERRY_OK;
}

uint64_t fakes3_store_new_id(fakes3_store_t *s)
{
    return mix64(s->id_salt + atomic_fetch_add(&s->next_id, 1));
}

void fakes3_etag_md5(fakes3_personality_t p, const uint8_t md5[16], char out[FAKES3_ETAG_MAX])
{
    char hex[33];
    if (p == FAKES3_OSS)
        ferry_hex_upper(md5, 16, hex);
    else
        ferry_hex_lower(md5, 16, hex);
    snprintf(out, FAKES3_ETAG_MAX, "\"%s\"", hex);
}

/* ---- seeding ----------------------------------------------------------------------------- */

#define SEED_BATCH 1024
#define SEED_CHUNK (64 * 1024)

static uint64_t seed_size(const fakes3_seed_spec_t *sp, uint64_t idx)
{
    if (sp->nsizes == 1)
        return sp->sizes[0];
    uint64_t total = 0;
    for (size_t i = 0; i < sp->nsizes; i++)
        total += sp->weights[i];
    uint64_t r = mix64(fakes3_seed_key(sp->seed, idx) ^ 0x5EED5EED5EEDULL) % (total ? total : 1);
    for (size_t i = 0; i < sp->nsizes; i++) {
        if (r < sp->weights[i])
            return sp->sizes[i];
        r -= sp->weights[i];
    }
    return sp->sizes[sp->nsizes - 1];
}

/* Build one seeded object: digest the generated content in chunks. */
static int seed_obj(fakes3_personality_t p, uint64_t key, uint64_t size, int crc32c, char *chunk,
                    fakes3_obj_t **out)
{
    int rc = FERRY_OK;
    fakes3_obj_t *o = fakes3_obj_new();
    fakes3_seg_t *g = fakes3_seg_new_seed(key, size);
    ferry_md5_t md5 = {0};
    ferry_qetag_t qe = {0};
    if (o == NULL || g == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    o->slices = calloc(1, sizeof(*o->slices));
    if (o->slices == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    o->slices[0].seg = g;
    o->slices[0].len = size;
    o->nslices = 1;
    g = NULL;
    o->size = size;
    int want_crc = p == FAKES3_OSS || p == FAKES3_COS;
    if (p == FAKES3_KODO ? ferry_qetag_init(&qe) : ferry_md5_init(&md5)) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (uint64_t off = 0; off < size; off += SEED_CHUNK) {
        size_t n = size - off < SEED_CHUNK ? (size_t)(size - off) : SEED_CHUNK;
        fakes3_seed_fill(key, off, chunk, n);
        if (p == FAKES3_KODO)
            ferry_qetag_update(&qe, chunk, n);
        else
            ferry_md5_update(&md5, chunk, n);
        if (want_crc)
            o->crc64 = ferry_crc64_update(o->crc64, chunk, n);
        if (crc32c)
            o->crc32c = ferry_crc32c_update(o->crc32c, chunk, n);
    }
    o->has_crc = want_crc;
    o->has_crc32c = crc32c;
    o->crc32c_parts = 0;
    if (p == FAKES3_KODO) {
        char q[29];
        ferry_qetag_final(&qe, q);
        snprintf(o->etag, sizeof(o->etag), "\"%s\"", q);
    } else {
        uint8_t d[16];
        ferry_md5_final(&md5, d);
        fakes3_etag_md5(p, d, o->etag);
    }
    *out = o;
    o = NULL;
out:
    ferry_md5_free(&md5);
    ferry_qetag_free(&qe);
    fakes3_seg_unref(g);
    fakes3_obj_unref(o);
    return rc;
}

int fakes3_store_seed_apply(fakes3_store_t *s, fakes3_bucket_t *b, const fakes3_seed_spec_t *sp,
                            int64_t mtime_ms, uint64_t *created)
{
    int rc = FERRY_OK;
    size_t plen = strlen(sp->prefix);
    char *chunk = malloc(SEED_CHUNK);
    char *keys = malloc((size_t)SEED_BATCH * (plen + 32));
    size_t *klens = malloc(SEED_BATCH * sizeof(size_t));
    fakes3_obj_t **objs = calloc(SEED_BATCH, sizeof(*objs));
    fakes3_obj_t **olds = calloc(SEED_BATCH, sizeof(*olds));
    *created = 0;
    if (chunk == NULL || keys == NULL || klens == NULL || objs == NULL || olds == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (uint64_t done = 0; done < sp->count;) {
        size_t n = sp->count - done < SEED_BATCH ? (size_t)(sp->count - done) : SEED_BATCH;
        /* Digest outside the lock, then publish the batch in one write-locked pass. */
        for (size_t i = 0; i < n; i++) {
            uint64_t idx = sp->start + done + i;
            char *k = keys + i * (plen + 32);
            memcpy(k, sp->prefix, plen);
            klens[i] =
                plen + (size_t)snprintf(k + plen, 32, "%0*llu", sp->width, (unsigned long long)idx);
            rc = seed_obj(s->personality, fakes3_seed_key(sp->seed, idx), seed_size(sp, idx),
                          sp->crc32c && s->personality == FAKES3_S3, chunk, &objs[i]);
            if (rc != FERRY_OK)
                goto out;
            objs[i]->mtime_ms = mtime_ms;
        }
        pthread_rwlock_wrlock(&b->lock);
        for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
            void *old = NULL;
            rc = fakes3_map_put(&b->objects, keys + i * (plen + 32), klens[i], objs[i], &old);
            if (rc == FERRY_OK)
                objs[i] = NULL;
            olds[i] = old;
        }
        pthread_rwlock_unlock(&b->lock);
        for (size_t i = 0; i < n; i++) {
            if (olds[i] != NULL && s->data_dir != NULL && (olds[i]->persisted || b->tombstones))
                fakes3_persist_obj_forget(s, b, keys + i * (plen + 32), klens[i]);
            else if (olds[i] == NULL && s->data_dir != NULL && b->tombstones)
                fakes3_persist_obj_forget(s, b, keys + i * (plen + 32), klens[i]);
            fakes3_obj_unref(olds[i]);
            olds[i] = NULL;
            fakes3_obj_unref(objs[i]);
            objs[i] = NULL;
        }
        if (rc != FERRY_OK)
            goto out;
        done += n;
        *created = done;
    }
out:
    free(chunk);
    free(keys);
    free(klens);
    if (objs != NULL)
        for (size_t i = 0; i < SEED_BATCH; i++)
            fakes3_obj_unref(objs[i]);
    free(objs);
    free(olds);
    return rc;
}

int fakes3_store_seed(fakes3_store_t *s, fakes3_bucket_t *b, const fakes3_seed_spec_t *spec,
                      uint64_t *created)
{
    if (s->data_dir != NULL) {
        int rc = fakes3_persist_seed(s, b, spec);
        if (rc != FERRY_OK)
            return rc;
    }
    return fakes3_store_seed_apply(s, b, spec, ferry_wall_ms(), created);
}
