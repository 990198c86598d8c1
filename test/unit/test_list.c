/* Unit tests for ferry/list.h: insert at both ends, remove from the front, middle and back,
 * remove twice, walk while removing, find the element back from its link. */
#include "ferry/list.h"
#include "test.h"

typedef struct {
    int id;
    ferry_list_t link;
} item_t;

/* The ids of `head` front to back as a string ("" when empty); also walks back to front and
 * fails the test when the two walks disagree (a broken prev pointer). */
static const char *ids(ferry_list_t *head)
{
    static char fwd[64], bwd[64];
    size_t n = 0, m = 0;
    ferry_list_t *it;
    FERRY_LIST_FOREACH (it, head)
        fwd[n++] = (char)('0' + FERRY_LIST_ENTRY(it, item_t, link)->id);
    fwd[n] = '\0';
    for (it = head->prev; it != head; it = it->prev)
        bwd[m++] = (char)('0' + FERRY_LIST_ENTRY(it, item_t, link)->id);
    bwd[m] = '\0';
    CHECK_INT(m, n);
    for (size_t i = 0; i < n && i < m; i++)
        CHECK(fwd[i] == bwd[m - 1 - i]);
    return fwd;
}

int main(void)
{
    item_t it[6];
    ferry_list_t head;
    ferry_list_init(&head);
    CHECK(ferry_list_empty(&head));
    CHECK(ferry_list_first(&head) == NULL);
    CHECK_STR(ids(&head), "");
    for (int i = 0; i < 6; i++) {
        it[i].id = i;
        ferry_list_init(&it[i].link);
        CHECK(!ferry_list_linked(&it[i].link));
    }

    ferry_list_insert_tail(&head, &it[1].link);
    ferry_list_insert_tail(&head, &it[2].link);
    ferry_list_insert_head(&head, &it[0].link);
    ferry_list_insert_tail(&head, &it[3].link);
    ferry_list_insert_head(&head, &it[4].link);
    CHECK_STR(ids(&head), "40123");
    CHECK(!ferry_list_empty(&head));
    CHECK(ferry_list_linked(&it[2].link));
    CHECK(FERRY_LIST_ENTRY(ferry_list_first(&head), item_t, link) == &it[4]);

    ferry_list_remove(&it[1].link); /* middle */
    CHECK_STR(ids(&head), "4023");
    CHECK(!ferry_list_linked(&it[1].link));
    ferry_list_remove(&it[1].link); /* again: nothing happens */
    CHECK_STR(ids(&head), "4023");
    ferry_list_remove(&it[4].link); /* front */
    ferry_list_remove(&it[3].link); /* back */
    CHECK_STR(ids(&head), "02");

    /* walk while removing every element */
    ferry_list_insert_tail(&head, &it[5].link);
    ferry_list_t *cur, *tmp;
    int seen = 0;
    FERRY_LIST_FOREACH_SAFE (cur, tmp, &head) {
        ferry_list_remove(cur);
        seen = seen * 10 + FERRY_LIST_ENTRY(cur, item_t, link)->id;
    }
    CHECK_INT(seen, 25);
    CHECK(ferry_list_empty(&head));
    CHECK_STR(ids(&head), "");

    /* a removed element can go into a list again */
    ferry_list_insert_head(&head, &it[2].link);
    CHECK_STR(ids(&head), "2");
    return test_summary();
}
