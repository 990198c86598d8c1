/* fakes3 --data-dir: blobs, per-object JSON metas, seed records; rebuilt at start. */
#define _GNU_SOURCE /* nftw FTW_DEPTH | FTW_PHYS */
#include "store_int.h"

#include "ferry/check.h"
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
#include <unistd.h>

#define PATH_CAP 4096

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FERRY_EIO;
        s += w;
        n -= (size_t)w;
    }
    return FERRY_OK;
}

/* Write data to path through a temp file and rename (old or new, never half). */
static int write_file(const char *path, const void *data, size_t n)
{
    char tmp[PATH_CAP];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)gettid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return FERRY_EIO;
    int rc = write_all(fd, data, n);
    if (close(fd) != 0)
        rc = FERRY_EIO;
    if (rc == FERRY_OK && rename(tmp, path) != 0)
        rc = FERRY_EIO;
    if (rc != FERRY_OK)
        unlink(tmp);
    return rc;
}

static int mkdirs(const char *path)
{
    char p[PATH_CAP];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return FERRY_EIO;
            *s = '/';
        }
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return FERRY_EIO;
    return FERRY_OK;
}

static void meta_path(fakes3_store_t *s, const char *bucket, const char *key, size_t klen,
                      char out[PATH_CAP])
{
    uint8_t d[32];
    char hex[65];
    ferry_sha256(key, klen, d);
    ferry_hex_lower(d, 32, hex);
    snprintf(out, PATH_CAP, "%s/b/%s/meta/%s.json", s->data_dir, bucket, hex);
}

int fakes3_persist_bucket(fakes3_store_t *s, const char *name)
{
    char p[PATH_CAP];
    snprintf(p, sizeof(p), "%s/b/%s/meta", s->data_dir, name);
    int rc = mkdirs(p);
    snprintf(p, sizeof(p), "%s/b/%s/seeds", s->data_dir, name);
    return rc == FERRY_OK ? mkdirs(p) : rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : 0;
}

void fakes3_persist_bucket_remove(fakes3_store_t *s, const char *name)
{
    char p[PATH_CAP];
    snprintf(p, sizeof(p), "%s/b/%s", s->data_dir, name);
    (void)nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fakes3_persist_slices(fakes3_store_t *s, fakes3_slice_t *sl, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        fakes3_seg_t *g = sl[i].seg;
        if (g->kind != FAKES3_SEG_MEM)
            continue;
        fakes3_seg_t *f = calloc(1, sizeof(*f));
        char p[PATH_CAP];
        if (f == NULL)
            return FERRY_ENOMEM;
        snprintf(f->blob, sizeof(f->blob), "%016llx", (unsigned long long)fakes3_store_new_id(s));
        snprintf(p, sizeof(p), "%s/blobs/%s", s->data_dir, f->blob);
        f->path = strdup(p);
        int fd = f->path ? open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
        int rc = fd >= 0 ? write_all(fd, g->mem + sl[i].off, sl[i].len) : FERRY_EIO;
        if (fd >= 0 && close(fd) != 0)
            rc = FERRY_EIO;
        if (rc != FERRY_OK) {
            if (f->path)
                unlink(f->path);
            free(f->path);
            free(f);
            return rc;
        }
        atomic_init(&f->refs, 1);
        f->kind = FAKES3_SEG_FILE;
        f->len = sl[i].len;
        f->closing = &s->closing;
        fakes3_seg_unref(g);
        sl[i].seg = f;
        sl[i].off = 0;
    }
    return FERRY_OK;
}

static char *hexdup(const char *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (h != NULL)
        ferry_hex_lower((const uint8_t *)p, n, h);
    return h;
}

static int unhex(const char *h, char **out, size_t *n)
{
    size_t l = strlen(h);
    if (l % 2)
        return FERRY_EPARSE;
    char *r = malloc(l / 2 + 1);
    if (r == NULL)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < l / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) {
            free(r);
            return FERRY_EPARSE;
        }
        r[i] = (char)v;
    }
    r[l / 2] = '\0';
    *out = r;
    *n = l / 2;
    return FERRY_OK;
}

int fakes3_persist_obj(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen,
                       fakes3_obj_t *o)
{
    int rc = fakes3_persist_slices(s, o->slices, o->nslices);
    char *kh = NULL, *hh = NULL, *text = NULL, crc[24];
    json_t *segs = NULL, *root = NULL;
    char p[PATH_CAP];
    if (rc != FERRY_OK)
        return rc;
    kh = hexdup(key, klen);
    hh = o->hdrs ? hexdup(o->hdrs, strlen(o->hdrs)) : strdup("");
    segs = json_array();
    if (kh == NULL || hh == NULL || segs == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < o->nslices; i++) {
        const fakes3_slice_t *sl = &o->slices[i];
        char sk[24];
        json_t *e;
        if (sl->seg->kind == FAKES3_SEG_FILE) {
            e = json_pack("{s:s, s:I, s:I}", "b", sl->seg->blob, "o", (json_int_t)sl->off, "l",
                          (json_int_t)sl->len);
        } else {
            snprintf(sk, sizeof(sk), "%llu", (unsigned long long)sl->seg->seed);
            e = json_pack("{s:s, s:I, s:I, s:I}", "s", sk, "n", (json_int_t)sl->seg->len, "o",
                          (json_int_t)sl->off, "l", (json_int_t)sl->len);
        }
        if (e == NULL || json_array_append_new(segs, e) != 0) {
            rc = FERRY_ENOMEM;
            goto out;
        }
    }
    snprintf(crc, sizeof(crc), "%llu", (unsigned long long)o->crc64);
    root = json_pack("{s:s, s:I, s:I, s:s, s:s, s:b, s:s, s:s, s:b, s:O}", "k", kh, "size",
                     (json_int_t)o->size, "mtime", (json_int_t)o->mtime_ms, "etag", o->etag, "crc",
                     crc, "has_crc", o->has_crc, "sc", o->sclass, "hdrs", hh, "ct", o->has_ctype,
                     "segs", segs);
    if (root != NULL && o->has_crc32c &&
        (json_object_set_new(root, "c32", json_integer((json_int_t)o->crc32c)) != 0 ||
         json_object_set_new(root, "c32n", json_integer((json_int_t)o->crc32c_parts)) != 0)) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (text == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    meta_path(s, b->name, key, klen, p);
    rc = write_file(p, text, strlen(text));
    if (rc == FERRY_OK)
        o->persisted = 1;
out:
    free(kh);
    free(hh);
    free(text);
    json_decref(segs);
    json_decref(root);
    return rc;
}

void fakes3_persist_obj_remove(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen)
{
    char p[PATH_CAP];
    meta_path(s, b->name, key, klen, p);
    if (!b->seeded) {
        unlink(p);
        return;
    }
    /* The key may come from a seed record replayed at start: leave a tombstone. */
    char *kh = hexdup(key, klen);
    if (kh == NULL)
        return;
    ferry_buf_t t;
    ferry_buf_init(&t, PATH_CAP * 2);
    if (ferry_buf_addf(&t, "{\"k\":\"%s\",\"deleted\":true}", kh) == FERRY_OK &&
        write_file(p, t.data, t.len) == FERRY_OK)
        b->tombstones = 1;
    ferry_buf_free(&t);
    free(kh);
}

void fakes3_persist_obj_forget(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen)
{
    char p[PATH_CAP];
    meta_path(s, b->name, key, klen, p);
    unlink(p);
}

int fakes3_persist_seed(fakes3_store_t *s, fakes3_bucket_t *b, const fakes3_seed_spec_t *sp)
{
    char p[PATH_CAP], seq[32];
    json_t *sizes = json_array();
    json_t *root = NULL;
    char *text = NULL;
    int rc = FERRY_OK;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (size_t i = 0; sizes && i < sp->nsizes; i++)
        json_array_append_new(sizes, json_pack("{s:I, s:I}", "size", (json_int_t)sp->sizes[i],
                                               "weight", (json_int_t)sp->weights[i]));
    root = sizes ? json_pack("{s:s, s:I, s:I, s:I, s:i, s:O, s:I, s:b}", "prefix", sp->prefix,
                             "start", (json_int_t)sp->start, "count", (json_int_t)sp->count, "seed",
                             (json_int_t)sp->seed, "width", sp->width, "sizes", sizes, "mtime",
                             (json_int_t)ms, "crc32c", sp->crc32c)
                 : NULL;
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (text == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    /* Sequence by time then a unique id: replay order is creation order. */
    snprintf(seq, sizeof(seq), "%016llx",
             (unsigned long long)(ts.tv_sec * 1000000000LL + ts.tv_nsec));
    snprintf(p, sizeof(p), "%s/b/%s/seeds/%s-%016llx.json", s->data_dir, b->name, seq,
             (unsigned long long)fakes3_store_new_id(s));
    rc = write_file(p, text, strlen(text));
    if (rc == FERRY_OK)
        b->seeded = 1;
out:
    free(text);
    json_decref(sizes);
    json_decref(root);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir (excluding dot files and temp files). *names owned by caller. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    *names = NULL;
    *n = 0;
    if (d == NULL)
        return errno == ENOENT ? FERRY_OK : FERRY_EIO;
    size_t cap = 0;
    struct dirent *e;
    int rc = FERRY_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (strstr(e->d_name, ".tmp.") != NULL) {
            char p[PATH_CAP];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p); /* a write cut short by a crash */
            continue;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = realloc(*names, nc * sizeof(char *));
            if (nn == NULL) {
                rc = FERRY_ENOMEM;
                break;
            }
            *names = nn;
            cap = nc;
        }
        if (((*names)[*n] = strdup(e->d_name)) == NULL) {
            rc = FERRY_ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), cmp_str);
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int load_seed(fakes3_store_t *s, fakes3_bucket_t *b, const char *path, char *err,
                     size_t errlen)
{
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    fakes3_seed_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    json_t *sizes = r ? json_object_get(r, "sizes") : NULL;
    if (r == NULL || !json_is_array(sizes) || json_array_size(sizes) == 0 ||
        json_array_size(sizes) > 64) {
        snprintf(err, errlen, "bad seed record %s", path);
        json_decref(r);
        return FERRY_EPARSE;
    }
    sp.prefix = json_string_value(json_object_get(r, "prefix"));
    sp.start = (uint64_t)json_integer_value(json_object_get(r, "start"));
    sp.count = (uint64_t)json_integer_value(json_object_get(r, "count"));
    sp.seed = (uint64_t)json_integer_value(json_object_get(r, "seed"));
    sp.width = (int)json_integer_value(json_object_get(r, "width"));
    sp.crc32c = json_is_true(json_object_get(r, "crc32c"));
    sp.nsizes = json_array_size(sizes);
    for (size_t i = 0; i < sp.nsizes; i++) {
        json_t *e = json_array_get(sizes, i);
        sp.sizes[i] = (uint64_t)json_integer_value(json_object_get(e, "size"));
        sp.weights[i] = (uint64_t)json_integer_value(json_object_get(e, "weight"));
    }
    if (sp.prefix == NULL)
        sp.prefix = "";
    uint64_t created;
    int rc = fakes3_store_seed_apply(s, b, &sp, json_integer_value(json_object_get(r, "mtime")),
                                     &created);
    b->seeded = 1;
    json_decref(r);
    return rc;
}

static fakes3_seg_t *blob_seg(fakes3_store_t *s, fakes3_map_t *blobs, const char *id)
{
    fakes3_seg_t *g = fakes3_map_get(blobs, id, strlen(id));
    if (g != NULL) {
        fakes3_seg_ref(g);
        return g;
    }
    char p[PATH_CAP];
    struct stat st;
    snprintf(p, sizeof(p), "%s/blobs/%s", s->data_dir, id);
    if (strlen(id) >= sizeof(g->blob) || stat(p, &st) != 0)
        return NULL;
    g = calloc(1, sizeof(*g));
    if (g == NULL || (g->path = strdup(p)) == NULL) {
        free(g);
        return NULL;
    }
    atomic_init(&g->refs, 2); /* the map's and the caller's */
    g->kind = FAKES3_SEG_FILE;
    g->len = (uint64_t)st.st_size;
    g->closing = &s->closing;
    strcpy(g->blob, id);
    if (fakes3_map_put(blobs, id, strlen(id), g, NULL) != FERRY_OK) {
        free(g->path);
        free(g);
        return NULL;
    }
    return g;
}

static int load_meta(fakes3_store_t *s, fakes3_bucket_t *b, fakes3_map_t *blobs, const char *path,
                     char *err, size_t errlen)
{
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    char *key = NULL, *hdrs = NULL;
    size_t klen = 0, hl = 0;
    fakes3_obj_t *o = NULL;
    int rc = FERRY_EPARSE;
    const char *kh = r ? json_string_value(json_object_get(r, "k")) : NULL;
    if (kh == NULL || unhex(kh, &key, &klen) != FERRY_OK)
        goto out;
    if (json_is_true(json_object_get(r, "deleted"))) {
        b->tombstones = 1;
        fakes3_obj_unref(fakes3_map_del(&b->objects, key, klen));
        rc = FERRY_OK;
        goto out;
    }
    json_t *segs = json_object_get(r, "segs");
    const char *etag = json_string_value(json_object_get(r, "etag"));
    const char *sc = json_string_value(json_object_get(r, "sc"));
    const char *hh = json_string_value(json_object_get(r, "hdrs"));
    const char *crc = json_string_value(json_object_get(r, "crc"));
    if (!json_is_array(segs) || etag == NULL || sc == NULL || hh == NULL || crc == NULL ||
        strlen(etag) >= FAKES3_ETAG_MAX || strlen(sc) >= 24 || unhex(hh, &hdrs, &hl) != FERRY_OK)
        goto out;
    o = fakes3_obj_new();
    if (o == NULL || (o->slices = calloc(json_array_size(segs) + 1, sizeof(*o->slices))) == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    o->size = (uint64_t)json_integer_value(json_object_get(r, "size"));
    o->mtime_ms = json_integer_value(json_object_get(r, "mtime"));
    o->has_crc = json_is_true(json_object_get(r, "has_crc"));
    o->has_ctype = json_is_true(json_object_get(r, "ct"));
    ferry_crc64_parse(crc, &o->crc64);
    json_t *c32 = json_object_get(r, "c32"), *c32n = json_object_get(r, "c32n");
    if (json_is_integer(c32) && json_is_integer(c32n)) {
        o->has_crc32c = 1;
        o->crc32c = (uint32_t)json_integer_value(c32);
        o->crc32c_parts = (uint32_t)json_integer_value(c32n);
    }
    strcpy(o->etag, etag);
    strcpy(o->sclass, sc);
    if (hl > 0) {
        o->hdrs = hdrs;
        hdrs = NULL;
    }
    o->persisted = 1;
    size_t i;
    json_t *e;
    json_array_foreach(segs, i, e)
    {
        fakes3_slice_t *sl = &o->slices[o->nslices];
        const char *blob = json_string_value(json_object_get(e, "b"));
        const char *seed = json_string_value(json_object_get(e, "s"));
        uint64_t sk = 0;
        if (blob != NULL)
            sl->seg = blob_seg(s, blobs, blob);
        else if (seed != NULL && ferry_crc64_parse(seed, &sk) == FERRY_OK)
            sl->seg =
                fakes3_seg_new_seed(sk, (uint64_t)json_integer_value(json_object_get(e, "n")));
        if (sl->seg == NULL) {
            snprintf(err, errlen, "%s names a missing blob", path);
            goto out;
        }
        sl->off = (uint64_t)json_integer_value(json_object_get(e, "o"));
        sl->len = (uint64_t)json_integer_value(json_object_get(e, "l"));
        o->nslices++;
        if (sl->off + sl->len > sl->seg->len) {
            snprintf(err, errlen, "%s: a segment runs past its blob", path);
            goto out;
        }
    }
    void *old = NULL;
    rc = fakes3_map_put(&b->objects, key, klen, o, &old);
    if (rc == FERRY_OK)
        o = NULL;
    fakes3_obj_unref(old);
out:
    if (rc == FERRY_EPARSE && err[0] == '\0')
        snprintf(err, errlen, "bad object meta %s", path);
    fakes3_obj_unref(o);
    free(key);
    free(hdrs);
    json_decref(r);
    return rc;
}

static void seg_unref_void(void *p)
{
    fakes3_seg_unref(p);
}

int fakes3_store_load(fakes3_store_t *s, char *err, size_t errlen)
{
    char p[PATH_CAP];
    char **bnames = NULL, **names = NULL;
    size_t nb = 0, nn = 0;
    fakes3_map_t blobs;
    fakes3_map_init(&blobs, 7);
    err[0] = '\0';
    snprintf(p, sizeof(p), "%s/blobs", s->data_dir);
    int rc = mkdirs(p);
    if (rc != FERRY_OK) {
        snprintf(err, errlen, "cannot create %s", p);
        return rc;
    }
    snprintf(p, sizeof(p), "%s/b", s->data_dir);
    rc = mkdirs(p);
    if (rc == FERRY_OK)
        rc = list_dir(p, &bnames, &nb);
    for (size_t i = 0; i < nb && rc == FERRY_OK; i++) {
        rc = fakes3_store_bucket_create(s, bnames[i]);
        if (rc == FERRY_EEXISTS)
            rc = FERRY_OK;
        fakes3_bucket_t *b = fakes3_store_bucket(s, bnames[i]);
        if (rc != FERRY_OK || b == NULL)
            break;
        snprintf(p, sizeof(p), "%s/b/%s/seeds", s->data_dir, bnames[i]);
        rc = list_dir(p, &names, &nn);
        for (size_t k = 0; k < nn && rc == FERRY_OK; k++) {
            char fp[2 * PATH_CAP + 8];
            snprintf(fp, sizeof(fp), "%s/%s", p, names[k]);
            rc = load_seed(s, b, fp, err, errlen);
        }
        free_names(names, nn);
        names = NULL;
        nn = 0;
        snprintf(p, sizeof(p), "%s/b/%s/meta", s->data_dir, bnames[i]);
        if (rc == FERRY_OK)
            rc = list_dir(p, &names, &nn);
        for (size_t k = 0; k < nn && rc == FERRY_OK; k++) {
            char fp[2 * PATH_CAP + 8];
            snprintf(fp, sizeof(fp), "%s/%s", p, names[k]);
            rc = load_meta(s, b, &blobs, fp, err, errlen);
        }
        free_names(names, nn);
        names = NULL;
        nn = 0;
    }
    /* Sweep blobs no object names (uploads in progress at the last stop, crashed writes). */
    snprintf(p, sizeof(p), "%s/blobs", s->data_dir);
    if (rc == FERRY_OK)
        rc = list_dir(p, &names, &nn);
    for (size_t k = 0; k < nn && rc == FERRY_OK; k++) {
        if (fakes3_map_get(&blobs, names[k], strlen(names[k])) == NULL) {
            char fp[2 * PATH_CAP + 8];
            snprintf(fp, sizeof(fp), "%s/%s", p, names[k]);
            unlink(fp);
        }
    }
    free_names(names, nn);
    free_names(bnames, nb);
    fakes3_map_clear(&blobs, seg_unref_void);
    if (rc != FERRY_OK && err[0] == '\0')
        snprintf(err, errlen, "%s", ferry_strerror(rc));
    return rc;
}
