#include "diff.h"

#include "ferry/error.h"

#include <stdlib.h>
#include <string.h>

/* A buffered entry owns copies of its strings in one allocation. */
typedef struct entry_s {
    ferry_obj_t obj;
    struct entry_s *next;
    char data[]; /* key, etag\0, storage_class\0 */
} entry_t;

typedef struct {
    entry_t *head, *tail; /* FIFO in key order */
    size_t count;
    char *last_key; /* the side's previous key (to check order), owned */
    size_t last_len;
    size_t last_cap;
    int has_last;
    int ended;
} side_t;

struct ferry_diff_s {
    ferry_compare_t mode;
    ferry_diff_emit_fn emit;
    void *ud;
    side_t side[2];
    size_t peak;
};

int ferry_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

ferry_diff_t *ferry_diff_new(ferry_compare_t mode, ferry_diff_emit_fn emit, void *ud)
{
    ferry_diff_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->mode = mode;
    d->emit = emit;
    d->ud = ud;
    return d;
}

static void free_side(side_t *s)
{
    entry_t *e = s->head;
    while (e) {
        entry_t *n = e->next;
        free(e);
        e = n;
    }
    free(s->last_key);
    memset(s, 0, sizeof(*s));
}

void ferry_diff_free(ferry_diff_t *d)
{
    if (d == NULL)
        return;
    free_side(&d->side[0]);
    free_side(&d->side[1]);
    free(d);
}

static entry_t *entry_new(const ferry_obj_t *o)
{
    size_t el = o->etag ? strlen(o->etag) + 1 : 0;
    size_t sl = o->storage_class ? strlen(o->storage_class) + 1 : 0;
    entry_t *e = malloc(sizeof(*e) + o->key_len + el + sl + 1);
    if (e == NULL)
        return NULL;
    e->obj = *o;
    e->next = NULL;
    char *p = e->data;
    memcpy(p, o->key, o->key_len);
    p[o->key_len] = '\0';
    e->obj.key = p;
    p += o->key_len + 1;
    if (o->etag) {
        memcpy(p, o->etag, el);
        e->obj.etag = p;
        p += el;
    }
    if (o->storage_class) {
        memcpy(p, o->storage_class, sl);
        e->obj.storage_class = p;
    }
    return e;
}

static entry_t *pop(side_t *s)
{
    entry_t *e = s->head;
    s->head = e->next;
    if (s->head == NULL)
        s->tail = NULL;
    s->count--;
    return e;
}

static ferry_diff_kind_t compare(const ferry_diff_t *d, const ferry_obj_t *src,
                                 const ferry_obj_t *dst)
{
    if (src->size != dst->size)
        return FERRY_DIFF_CHANGED;
    if (d->mode == FERRY_COMPARE_SIZE_MTIME && src->mtime_ms && dst->mtime_ms &&
        src->mtime_ms > dst->mtime_ms)
        return FERRY_DIFF_CHANGED;
    return FERRY_DIFF_UNCHANGED;
}

/* Emit every decision both sides allow. */
static int drain(ferry_diff_t *d)
{
    side_t *s = &d->side[FERRY_DIFF_SRC], *t = &d->side[FERRY_DIFF_DST];
    int rc = FERRY_OK;
    while (rc == FERRY_OK) {
        if (s->head && t->head) {
            int c = ferry_key_cmp(s->head->obj.key, s->head->obj.key_len, t->head->obj.key,
                                  t->head->obj.key_len);
            entry_t *a = NULL, *b = NULL;
            if (c < 0) {
                a = pop(s);
                rc = d->emit(d->ud, FERRY_DIFF_NEW, &a->obj, NULL);
            } else if (c > 0) {
                b = pop(t);
                rc = d->emit(d->ud, FERRY_DIFF_EXTRA, NULL, &b->obj);
            } else {
                a = pop(s);
                b = pop(t);
                rc = d->emit(d->ud, compare(d, &a->obj, &b->obj), &a->obj, &b->obj);
            }
            free(a);
            free(b);
        } else if (s->head && t->ended) {
            entry_t *a = pop(s);
            rc = d->emit(d->ud, FERRY_DIFF_NEW, &a->obj, NULL);
            free(a);
        } else if (t->head && s->ended) {
            entry_t *b = pop(t);
            rc = d->emit(d->ud, FERRY_DIFF_EXTRA, NULL, &b->obj);
            free(b);
        } else {
            break; /* wait for the other side */
        }
    }
    return rc;
}

int ferry_diff_push(ferry_diff_t *d, int side, const ferry_obj_t *obj)
{
    if (side != FERRY_DIFF_SRC && side != FERRY_DIFF_DST)
        return FERRY_EINVAL;
    side_t *s = &d->side[side];
    if (s->ended || obj == NULL || (obj->key == NULL && obj->key_len))
        return FERRY_EINVAL;
    if (s->has_last && ferry_key_cmp(s->last_key, s->last_len, obj->key, obj->key_len) >= 0)
        return FERRY_EPARSE;
    if (obj->key_len + 1 > s->last_cap) {
        size_t cap = obj->key_len + 64;
        char *k = realloc(s->last_key, cap);
        if (k == NULL)
            return FERRY_ENOMEM;
        s->last_key = k;
        s->last_cap = cap;
    }
    if (obj->key_len)
        memcpy(s->last_key, obj->key, obj->key_len);
    s->last_len = obj->key_len;
    s->has_last = 1;
    entry_t *e = entry_new(obj);
    if (e == NULL)
        return FERRY_ENOMEM;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->count++;
    size_t total = d->side[0].count + d->side[1].count;
    if (total > d->peak)
        d->peak = total;
    return drain(d);
}

int ferry_diff_end(ferry_diff_t *d, int side)
{
    if (side != FERRY_DIFF_SRC && side != FERRY_DIFF_DST)
        return FERRY_EINVAL;
    d->side[side].ended = 1;
    return drain(d);
}

size_t ferry_diff_buffered(const ferry_diff_t *d, int side)
{
    return (side == FERRY_DIFF_SRC || side == FERRY_DIFF_DST) ? d->side[side].count : 0;
}

size_t ferry_diff_peak(const ferry_diff_t *d)
{
    return d->peak;
}

int ferry_diff_done(const ferry_diff_t *d)
{
    return d->side[0].ended && d->side[1].ended && !d->side[0].head && !d->side[1].head;
}
