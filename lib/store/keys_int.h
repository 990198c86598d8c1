/* ferry store internals: Redis key names. Everything of task T lives under "ferry:{T}:" so a
 * Lua script may touch any of it (one hash slot). Not a public header. */
#ifndef FERRY_STORE_KEYS_INT_H
#define FERRY_STORE_KEYS_INT_H

#include <stdio.h>

#define KEYS_REGISTRY "ferry:tasks" /* hash: task name -> JSON config */
#define KEYS_GROUP    "workers"     /* consumer group of every job stream */

/* ferry:{T}:SUFFIX */
static inline void keys_task(char *buf, size_t n, const char *task, const char *suffix)
{
    snprintf(buf, n, "ferry:{%s}:%s", task, suffix);
}

/* Valid task names never need quoting in a key or a hash tag. */
static inline int keys_task_name_ok(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
        if (i >= 64)
            return 0;
    }
    return i > 0 && s[0] != '.' && s[0] != '-';
}

#endif
