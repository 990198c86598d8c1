/* ferry — an intrusive doubly-linked list (after the Linux kernel's list.h and libuv's queue.h).
 *
 * A list is a ferry_list_t head; each element embeds a ferry_list_t link and is found back
 * from it with FERRY_LIST_ENTRY. The list is circular through its head, so insert and remove
 * are O(1) with no special case for the first or last element.
 *
 *   struct job { int id; ferry_list_t link; };
 *   ferry_list_t jobs;
 *   ferry_list_init(&jobs);
 *   ferry_list_insert_tail(&jobs, &j->link);
 *   ferry_list_t *it, *tmp;
 *   FERRY_LIST_FOREACH_SAFE (it, tmp, &jobs) {           // _SAFE: the body may remove `it`
 *       struct job *x = FERRY_LIST_ENTRY(it, struct job, link);
 *       ...
 *   }
 *   ferry_list_remove(&j->link);
 *
 * Ownership: the list owns nothing; elements belong to whoever allocated them, and must be
 * removed before they are freed. A head and every link must be initialised (ferry_list_init)
 * before use; a removed link is left initialised, so ferry_list_linked() tells whether it is
 * in a list and removing it again does nothing. Not thread-safe. Header-only; cannot fail.
 */
#ifndef FERRY_LIST_H
#define FERRY_LIST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_list_s {
    struct ferry_list_s *prev, *next;
} ferry_list_t;

/* The element of type `type` whose member `field` is the link `ptr`. */
#define FERRY_LIST_ENTRY(ptr, type, field) ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* Walk the links of `head` front to back; the body must not remove `it`. */
#define FERRY_LIST_FOREACH(it, head) for ((it) = (head)->next; (it) != (head); (it) = (it)->next)

/* Walk the links of `head` front to back; the body may remove (and free) `it`. */
#define FERRY_LIST_FOREACH_SAFE(it, tmp, head)                                                     \
    for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head); (it) = (tmp), (tmp) = (it)->next)

/* An empty list, or a link that is in no list. */
static inline void ferry_list_init(ferry_list_t *l)
{
    l->prev = l->next = l;
}

/* 1 when the list `head` has no element. */
static inline int ferry_list_empty(const ferry_list_t *head)
{
    return head->next == head;
}

/* 1 when the link `n` is in a list (ferry_list_init'ed and not inserted since, or removed: 0). */
static inline int ferry_list_linked(const ferry_list_t *n)
{
    return n->next != n;
}

/* The first link of `head`, or NULL when it is empty. */
static inline ferry_list_t *ferry_list_first(const ferry_list_t *head)
{
    return head->next == head ? NULL : head->next;
}

/* Insert the link `n` (not in any list) at the front of `head`. */
static inline void ferry_list_insert_head(ferry_list_t *head, ferry_list_t *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

/* Insert the link `n` (not in any list) at the back of `head`. */
static inline void ferry_list_insert_tail(ferry_list_t *head, ferry_list_t *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

/* Take the link `n` out of its list and leave it initialised (removing it again is a no-op). */
static inline void ferry_list_remove(ferry_list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#ifdef __cplusplus
}
#endif
#endif
