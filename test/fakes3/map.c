#include "map.h"

#include "ferry/error.h"

#include <stdlib.h>
#include <string.h>

struct fakes3_map_node_s {
    fakes3_map_node_t *left, *right;
    void *val;
    uint32_t prio;
    uint32_t klen;
    char key[]; /* klen bytes plus a NUL, so keys read as C strings when they are text */
};

void fakes3_map_init(fakes3_map_t *m, uint64_t seed)
{
    m->root = NULL;
    m->count = 0;
    m->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

static uint32_t next_prio(fakes3_map_t *m)
{
    uint64_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m->rng = x;
    return (uint32_t)(x >> 32);
}

static int keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static fakes3_map_node_t *rot_right(fakes3_map_node_t *t)
{
    fakes3_map_node_t *l = t->left;
    t->left = l->right;
    l->right = t;
    return l;
}

static fakes3_map_node_t *rot_left(fakes3_map_node_t *t)
{
    fakes3_map_node_t *r = t->right;
    t->right = r->left;
    r->left = t;
    return r;
}

/* Recursive insert; depth is O(log n) expected (about 50 for 10^6 keys). */
static fakes3_map_node_t *insert(fakes3_map_node_t *t, fakes3_map_node_t *n, void **old,
                                 int *replaced)
{
    if (t == NULL)
        return n;
    int c = keycmp(n->key, n->klen, t->key, t->klen);
    if (c == 0) {
        *old = t->val;
        t->val = n->val;
        *replaced = 1;
        return t;
    }
    if (c < 0) {
        t->left = insert(t->left, n, old, replaced);
        if (t->left->prio > t->prio)
            t = rot_right(t);
    } else {
        t->right = insert(t->right, n, old, replaced);
        if (t->right->prio > t->prio)
            t = rot_left(t);
    }
    return t;
}

int fakes3_map_put(fakes3_map_t *m, const void *key, size_t klen, void *val, void **old)
{
    void *prev = NULL;
    int replaced = 0;
    if (klen > UINT32_MAX)
        return FERRY_ETOOBIG;
    /* Replacing is common (overwrites): do it without allocating. */
    for (fakes3_map_node_t *t = m->root; t != NULL;) {
        int c = keycmp(key, klen, t->key, t->klen);
        if (c == 0) {
            if (old)
                *old = t->val;
            t->val = val;
            return FERRY_OK;
        }
        t = c < 0 ? t->left : t->right;
    }
    fakes3_map_node_t *n = malloc(sizeof(*n) + klen + 1);
    if (n == NULL)
        return FERRY_ENOMEM;
    n->left = n->right = NULL;
    n->val = val;
    n->prio = next_prio(m);
    n->klen = (uint32_t)klen;
    if (klen)
        memcpy(n->key, key, klen);
    n->key[klen] = '\0';
    m->root = insert(m->root, n, &prev, &replaced);
    m->count++;
    if (old)
        *old = NULL;
    return FERRY_OK;
}

void *fakes3_map_get(const fakes3_map_t *m, const void *key, size_t klen)
{
    for (fakes3_map_node_t *t = m->root; t != NULL;) {
        int c = keycmp(key, klen, t->key, t->klen);
        if (c == 0)
            return t->val;
        t = c < 0 ? t->left : t->right;
    }
    return NULL;
}

void *fakes3_map_del(fakes3_map_t *m, const void *key, size_t klen)
{
    fakes3_map_node_t **link = &m->root;
    while (*link != NULL) {
        fakes3_map_node_t *t = *link;
        int c = keycmp(key, klen, t->key, t->klen);
        if (c != 0) {
            link = c < 0 ? &t->left : &t->right;
            continue;
        }
        /* Rotate t down until it has at most one child, then splice it out. */
        while (t->left != NULL && t->right != NULL) {
            if (t->left->prio > t->right->prio) {
                *link = rot_right(t);
                link = &(*link)->right;
            } else {
                *link = rot_left(t);
                link = &(*link)->left;
            }
        }
        *link = t->left != NULL ? t->left : t->right;
        void *val = t->val;
        free(t);
        m->count--;
        return val;
    }
    return NULL;
}

const fakes3_map_node_t *fakes3_map_seek(const fakes3_map_t *m, const void *key, size_t klen,
                                         int strict)
{
    const fakes3_map_node_t *best = NULL;
    for (const fakes3_map_node_t *t = m->root; t != NULL;) {
        int c = keycmp(t->key, t->klen, key, klen);
        if (c > 0 || (c == 0 && !strict)) {
            best = t;
            t = t->left;
        } else {
            t = t->right;
        }
    }
    return best;
}

const fakes3_map_node_t *fakes3_map_next(const fakes3_map_t *m, const fakes3_map_node_t *n)
{
    return fakes3_map_seek(m, n->key, n->klen, 1);
}

const char *fakes3_map_key(const fakes3_map_node_t *n, size_t *klen)
{
    if (klen)
        *klen = n->klen;
    return n->key;
}

void *fakes3_map_val(const fakes3_map_node_t *n)
{
    return n->val;
}

static void clear(fakes3_map_node_t *t, void (*free_val)(void *))
{
    /* Iterative on the right spine so a degenerate tree cannot overflow the stack. */
    while (t != NULL) {
        clear(t->left, free_val);
        fakes3_map_node_t *r = t->right;
        if (free_val)
            free_val(t->val);
        free(t);
        t = r;
    }
}

void fakes3_map_clear(fakes3_map_t *m, void (*free_val)(void *))
{
    clear(m->root, free_val);
    m->root = NULL;
    m->count = 0;
}
