/* ferry — pod-deletion-cost: a worker running in Kubernetes marks its own pod cheap to delete
 * while it is idle and dear while it copies (the annotation
 * controller.kubernetes.io/pod-deletion-cost), so when KEDA scales the worker Deployment
 * down, the ReplicaSet removes idle workers first and busy ones keep copying.
 *
 * One background thread per handle does the HTTP (a JSON merge PATCH of the pod's metadata
 * through the Kubernetes API, libcurl): ferry_k8s_cost_note() only stores the load and never
 * blocks, so it may be called from the worker's event loop. The thread PATCHes only when the
 * cost to show changes, at most once per min_interval_ms (the Kubernetes docs warn against
 * frequent updates of this annotation), reports idle only after idle_after_ms without work
 * (a trickle of events does not flap it), and backs off after a failure. A failure never
 * stops the worker: it is logged (event k8s.cost_failed, with what to fix) and retried.
 *
 * The pod's ServiceAccount needs `get` and `patch` on pods in its namespace
 * (deploy/k8s/base/rbac.yaml). Thread-safe: note() from any thread; start/stop from one.
 */
#ifndef FERRY_K8S_H
#define FERRY_K8S_H

#include <stdint.h>

#include "ferry/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_K8S_ANNOTATION "controller.kubernetes.io/pod-deletion-cost"
#define FERRY_K8S_SA_DIR     "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct ferry_k8s_cost_s ferry_k8s_cost_t;

typedef struct {
    const char *api_url;    /* "https://10.96.0.1:443"; http:// only for tests. Required. */
    const char *token_file; /* bearer token, re-read before every request (projected tokens
                               rotate); NULL: no Authorization header */
    const char *ca_file;    /* CA bundle for https (the ServiceAccount's ca.crt); NULL: the
                               system's */
    const char *pod_namespace, *pod; /* DNS names (a-z 0-9 . -), each 1..253. Required. */
    int64_t min_interval_ms;         /* between two PATCHes; default 10 s */
    int64_t idle_after_ms;           /* no job for this long before idle is shown; default 30 s */
    int idle_cost, busy_cost;        /* the annotation's values; defaults 0 and 1000 */
} ferry_k8s_opts_t;

/* Check the options, copy them and start the thread; it shows the idle cost first. *out owned
 * by the caller (ferry_k8s_cost_stop). FERRY_EINVAL (a missing or malformed option: err says
 * which), FERRY_ENOMEM, FERRY_ESPAWN (no thread). */
int ferry_k8s_cost_start(const ferry_k8s_opts_t *o, ferry_k8s_cost_t **out, ferry_error_t *err);

/* The number of jobs in flight now. Never blocks on the network. k may be NULL (no-op). */
void ferry_k8s_cost_note(ferry_k8s_cost_t *k, unsigned in_flight);

/* What the thread did so far (tests, logs). Any output pointer may be NULL. last_cost is the value
 * the API last accepted, or INT32_MIN before the first success. */
void ferry_k8s_cost_stats(ferry_k8s_cost_t *k, unsigned *patches, unsigned *failures,
                          int *last_cost, ferry_error_t *last_err);

/* Stop the thread (an in-flight request is aborted) and free k. k may be NULL. */
void ferry_k8s_cost_stop(ferry_k8s_cost_t *k);

/* Options from the environment, as deploy/k8s sets them: FERRY_POD_NAME (required: without it
 * FERRY_ENOTFOUND, i.e. not in Kubernetes or not wanted), FERRY_POD_NAMESPACE (else the
 * ServiceAccount's namespace file), FERRY_K8S_API (else https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT), FERRY_K8S_SA_DIR (token and ca.crt; default FERRY_K8S_SA_DIR
 * above). FERRY_POD_DELETION_COST=off also gives FERRY_ENOTFOUND. Strings are written into
 * buf (n bytes, 2 KiB is enough) and point there. FERRY_EINVAL when something is set but
 * unusable (err says what). */
int ferry_k8s_opts_from_env(ferry_k8s_opts_t *o, char *buf, size_t n, ferry_error_t *err);

/* The "message" of a Kubernetes Status answer (body[0..len), untrusted, any bytes) into out (n
 * bytes, NUL-terminated, printable ASCII only: escapes resolved, other bytes as spaces), or ""
 * when there is none. Never reads past len. */
void ferry_k8s_status_message(const char *body, size_t len, char *out, size_t n);

/* For the worker: one process-wide handle started from the environment at the first call
 * (nothing happens when FERRY_POD_NAME is unset; a bad setting is logged once), then
 * ferry_k8s_cost_note(in_flight). Call it from one thread (the worker's loop, every second). */
void ferry_k8s_worker_load(unsigned in_flight);

/* Stop the process-wide handle, if any. */
void ferry_k8s_worker_stop(void);

#ifdef __cplusplus
}
#endif
#endif
