/* fakes3 — --data-dir persistence, used by store.c only.
 *
 * Layout under DIR:
 *   blobs/<id>                         object data (shared by copies and multipart objects)
 *   b/<bucket>/meta/<sha256(key)>.json one object (or a tombstone over a seeded key)
 *   b/<bucket>/seeds/<seq>.json        a seed batch, replayed before the metas at start
 * Every write lands in a temp file renamed into place, so a crash leaves old or new, never
 * half. Multipart uploads in progress are not persisted (their part blobs are swept at start).
 */
#ifndef FAKES3_STORE_INT_H
#define FAKES3_STORE_INT_H

#include "fakes3.h"

int fakes3_persist_bucket(fakes3_store_t *s, const char *name);
void fakes3_persist_bucket_remove(fakes3_store_t *s, const char *name);
/* Convert o's MEM segments to blobs and write its meta. */
int fakes3_persist_obj(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen,
                       fakes3_obj_t *o);
void fakes3_persist_obj_remove(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen);
/* Before seeding over key: drop its meta (so the seed wins at reload). */
void fakes3_persist_obj_forget(fakes3_store_t *s, fakes3_bucket_t *b, const char *key, size_t klen);
int fakes3_persist_seed(fakes3_store_t *s, fakes3_bucket_t *b, const fakes3_seed_spec_t *spec);

/* Create the seeded objects (also used to replay a record at load). */
int fakes3_store_seed_apply(fakes3_store_t *s, fakes3_bucket_t *b, const fakes3_seed_spec_t *sp,
                            int64_t mtime_ms, uint64_t *created);

#endif
