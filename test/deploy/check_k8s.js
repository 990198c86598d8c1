#!/usr/bin/env node
// Cross-checks rendered Kubernetes manifests (deploy/k8s, as JSON objects from
// test/deploy/check_k8s.sh) against the code: routes, ports, env var names, Secret keys,
// the drain time against the grace period, the labels that Services and PDBs select, the
// KEDA target, the RBAC for pod-deletion-cost, and the `ferry` options in container args
// (validated by the built binary). Plain Node.js, no packages.
//
//   node check_k8s.js RENDERED.json            all checks; exit 1 when one fails
//   node check_k8s.js RENDERED.json --scale-route
//                                               only: the ScaledObject's route exists in the
//                                               API source (exit 77 = skip while it does not)
//
// Environment: FERRY_ROOT (the source tree), FERRY_BIN (the built ferry binary).
'use strict';
const fs = require('fs');
const path = require('path');
const cp = require('child_process');

const root = process.env.FERRY_ROOT || path.resolve(__dirname, '../..');
const ferry = process.env.FERRY_BIN || path.join(root, 'build/bin/ferry');
const args = process.argv.slice(2);
if (args.length < 1) {
    console.error('usage: check_k8s.js RENDERED.json [--scale-route]');
    process.exit(2);
}

// `kubectl ... -o json` prints one pretty object per document: top-level braces are the only
// ones in column 0.
const text = fs.readFileSync(args[0], 'utf8').trim();
const objs = JSON.parse('[' + text.replace(/^}\s*\n\{/gm, '},{') + ']');

let failures = 0;
const fail = (msg) => {
    failures++;
    console.log('FAIL: ' + msg);
};
const ok = (msg) => console.log('ok: ' + msg);
const warn = (msg) => console.log('WARN: ' + msg);

const ns = (o) => o.metadata.namespace || 'default';
const find = (kind, name, namespace) =>
    objs.find((o) => o.kind === kind && o.metadata.name === name &&
                     (namespace === undefined || ns(o) === namespace));
const all = (kind) => objs.filter((o) => o.kind === kind);
const workloads = () => objs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
const podSpec = (w) => w.spec.template.spec;
const podLabels = (w) => w.spec.template.metadata.labels || {};
const containersOf = (w) => [...(podSpec(w).initContainers || []), ...(podSpec(w).containers || [])];
const isFerry = (c) => /(^|\/)ferry(:|@|$)/.test(c.image || '');
const matches = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels[k] === v);

// ---- what the code says ---------------------------------------------------------------------

const read = (p) => fs.readFileSync(path.join(root, p), 'utf8');
function cSources(dirs) {
    const out = [];
    const walk = (d) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (/\.[ch]$/.test(e.name)) out.push(fs.readFileSync(p, 'utf8'));
        }
    };
    dirs.forEach((d) => fs.existsSync(path.join(root, d)) && walk(path.join(root, d)));
    return out.join('\n');
}
const code = cSources(['lib', 'cmd', 'worker', 'scheduler']);
const apiSource = cSources(['scheduler']);
// Exact routes of the API: every "/…" path literal the router compares the request path with.
const routes = new Set([...apiSource.matchAll(/strn?cmp\(\s*(?:path|p)\s*,\s*"(\/[^"]*)"/g)].map((m) => m[1]));
const routeExists = (p) => routes.has(p) || apiSource.includes('"' + p + '"');
const group = (read('lib/store/keys_int.h').match(/#define KEYS_GROUP\s+"([^"]+)"/) || [])[1];
const workerDefaultGraceMs = (() => {
    const m = read('worker/worker.c').match(/grace_ms\s*<=\s*0\)\s*\n?\s*w->o\.grace_ms\s*=\s*(\d+)/);
    return m ? Number(m[1]) : 30000;
})();

function durationMs(s) {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(String(s));
    if (!m) return NaN;
    return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 's'];
}
const optValue = (argv, opt) => {
    const i = argv.indexOf(opt);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
};

// ---- the ScaledObject's route only ----------------------------------------------------------

function scaleRoutePaths() {
    const out = [];
    for (const so of all('ScaledObject'))
        for (const t of so.spec.triggers || [])
            if (t.type === 'metrics-api') out.push(new URL(t.metadata.url).pathname);
    return out;
}
if (args.includes('--scale-route')) {
    const paths = scaleRoutePaths();
    if (paths.length === 0) {
        console.log('SKIP: no metrics-api trigger (the redis-streams choice reads no route)');
        process.exit(77);
    }
    for (const p of paths) {
        if (routeExists(p)) ok(`the ScaledObject's route ${p} is in scheduler/`);
        else {
            console.log(`SKIP: the ScaledObject reads GET ${p}, which scheduler/ does not serve ` +
                        'yet (the scaling policy of issue 14); this test checks it once it does');
            process.exit(77);
        }
    }
    process.exit(0);
}

// ---- every manifest that issue 14 asks for --------------------------------------------------

const sched = find('Deployment', 'ferry-scheduler');
const worker = find('Deployment', 'ferry-worker');
const required = [
    ['Deployment', 'ferry-scheduler'], ['Service', 'ferry-api'], ['Deployment', 'ferry-worker'],
    ['ScaledObject', 'ferry-worker'], ['ServiceAccount', 'ferry-worker'], ['PodDisruptionBudget', null],
    ['Secret', 'ferry-secrets'], ['Job', 'ferry-tasks'], ['Role', null], ['RoleBinding', null],
    ['ConfigMap', null],
];
for (const [kind, name] of required) {
    const there = name ? find(kind, name) : all(kind)[0];
    if (there) ok(`${kind} ${name || there.metadata.name} is there`);
    else fail(`no ${kind}${name ? ' ' + name : ''} in the rendered manifests`);
}
if (!sched || !worker) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
}

// ---- scheduler / API ------------------------------------------------------------------------

if (sched.spec.replicas === 2) ok('scheduler: 2 replicas');
else fail(`scheduler: replicas is ${sched.spec.replicas}, want 2 (one scans, one stands by)`);
const schedC = podSpec(sched).containers.find(isFerry);
const listen = optValue(schedC.args || [], '--listen');
const listenPort = listen ? Number(listen.split(':').pop()) : 8470;
const portOf = (c, p) => (typeof p === 'number' ? p : ((c.ports || []).find((x) => x.name === p) || {}).containerPort);
for (const [probe, want] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']]) {
    const pr = schedC[probe];
    if (!pr || !pr.httpGet) {
        fail(`scheduler: no ${probe} httpGet`);
        continue;
    }
    if (pr.httpGet.path !== want) fail(`scheduler: ${probe} path ${pr.httpGet.path}, want ${want}`);
    else if (!routeExists(pr.httpGet.path)) fail(`scheduler: ${probe} path ${pr.httpGet.path} is not an API route`);
    else ok(`scheduler: ${probe} GET ${pr.httpGet.path} is an API route`);
    if (portOf(schedC, pr.httpGet.port) !== listenPort)
        fail(`scheduler: ${probe} port ${pr.httpGet.port} is not the --listen port ${listenPort}`);
}
if ((schedC.ports || []).some((p) => p.containerPort === listenPort)) ok(`scheduler: containerPort ${listenPort} = --listen`);
else fail(`scheduler: no containerPort ${listenPort} (--listen ${listen})`);
{
    const ps = schedC.lifecycle && schedC.lifecycle.preStop;
    let secs = NaN;
    if (ps && ps.sleep) secs = Number(ps.sleep.seconds);
    else if (ps && ps.exec && ps.exec.command && ps.exec.command[0] === 'sleep') secs = Number(ps.exec.command[1]);
    const grace = podSpec(sched).terminationGracePeriodSeconds ?? 30;
    if (!(secs >= 1 && secs <= 15)) fail('scheduler: want a preStop sleep of a few seconds (1..15)');
    else if (secs + 10 > grace) fail(`scheduler: preStop ${secs} s leaves under 10 s of the ${grace} s grace period`);
    else ok(`scheduler: preStop sleep ${secs} s within a ${grace} s grace period`);
}

// ---- worker: drain against grace period, pod-deletion-cost, RBAC -----------------------------

const workerC = podSpec(worker).containers.find(isFerry);
{
    const g = optValue(workerC.args || [], '--grace');
    const drainMs = g === undefined ? workerDefaultGraceMs : durationMs(g);
    const grace = podSpec(worker).terminationGracePeriodSeconds ?? 30;
    if (!(drainMs > 0)) fail(`worker: cannot read --grace ${g}`);
    else if (grace * 1000 < drainMs + 10000)
        fail(`worker: terminationGracePeriodSeconds ${grace} < drain ${drainMs / 1000} s + 10 s: SIGKILL cuts the drain`);
    else ok(`worker: grace period ${grace} s >= drain ${drainMs / 1000} s + 10 s`);
}
{
    const env = Object.fromEntries((workerC.env || []).map((e) => [e.name, e]));
    const field = (n) => env[n] && env[n].valueFrom && env[n].valueFrom.fieldRef && env[n].valueFrom.fieldRef.fieldPath;
    if (field('FERRY_POD_NAME') === 'metadata.name' && field('FERRY_POD_NAMESPACE') === 'metadata.namespace')
        ok('worker: FERRY_POD_NAME / FERRY_POD_NAMESPACE from the downward API');
    else fail('worker: set FERRY_POD_NAME and FERRY_POD_NAMESPACE from metadata.name / metadata.namespace (pod-deletion-cost)');
    const saName = podSpec(worker).serviceAccountName || 'default';
    const sa = find('ServiceAccount', saName, ns(worker));
    if (!sa) fail(`worker: ServiceAccount ${saName} missing`);
    else if (sa.automountServiceAccountToken === false && podSpec(worker).automountServiceAccountToken !== true)
        fail(`worker: ServiceAccount ${saName} mounts no token: pod-deletion-cost cannot patch the pod`);
    const bound = all('RoleBinding').filter((rb) => ns(rb) === ns(worker) &&
        (rb.subjects || []).some((s) => s.kind === 'ServiceAccount' && s.name === saName && (s.namespace || ns(rb)) === ns(worker)));
    const canPatch = bound.some((rb) => {
        const role = rb.roleRef.kind === 'Role' ? find('Role', rb.roleRef.name, ns(rb)) : find('ClusterRole', rb.roleRef.name);
        return role && (role.rules || []).some((r) => (r.apiGroups || []).includes('') &&
            (r.resources || []).some((x) => x === 'pods' || x === '*') &&
            (r.verbs || []).some((v) => v === 'patch' || v === '*'));
    });
    if (canPatch) ok(`worker: ServiceAccount ${saName} may patch pods in ${ns(worker)}`);
    else fail(`worker: no Role bound to ServiceAccount ${saName} grants patch on pods in ${ns(worker)}`);
}

// ---- Services and PDBs select pods that exist --------------------------------------------

for (const svc of all('Service')) {
    const pods = workloads().filter((w) => ns(w) === ns(svc) && matches(svc.spec.selector, podLabels(w)));
    if (!svc.spec.selector || pods.length === 0) {
        fail(`Service ${svc.metadata.name}: its selector matches no pod template`);
        continue;
    }
    for (const p of svc.spec.ports || []) {
        const tp = p.targetPort ?? p.port;
        const hit = pods.some((w) => containersOf(w).some((c) => (c.ports || []).some((x) => x.name === tp || x.containerPort === tp)));
        if (hit) ok(`Service ${svc.metadata.name}: port ${p.port} -> ${tp} of ${pods.map((w) => w.metadata.name).join(',')}`);
        else fail(`Service ${svc.metadata.name}: targetPort ${tp} is no container port of the pods it selects`);
    }
}
for (const pdb of all('PodDisruptionBudget')) {
    const pods = workloads().filter((w) => ns(w) === ns(pdb) && matches(pdb.spec.selector.matchLabels, podLabels(w)));
    if (pods.length) ok(`PDB ${pdb.metadata.name} selects ${pods.map((w) => w.metadata.name).join(',')}`);
    else fail(`PDB ${pdb.metadata.name}: its selector matches no pod template`);
}
for (const w of workloads()) {
    const sel = w.spec.selector && w.spec.selector.matchLabels;
    if (sel && !matches(sel, podLabels(w))) fail(`${w.kind} ${w.metadata.name}: selector does not match its own pod labels`);
}

// ---- Secret and ConfigMap references -------------------------------------------------------

const keysOf = (o) => new Set([...Object.keys(o.data || {}), ...Object.keys(o.stringData || {}), ...Object.keys(o.binaryData || {})]);
function refCheck(kind, name, key, where, namespace) {
    const o = find(kind, name, namespace);
    if (!o) return fail(`${where}: ${kind} ${name} is not in the manifests`);
    if (key !== undefined && !keysOf(o).has(key)) return fail(`${where}: ${kind} ${name} has no key ${key}`);
    return true;
}
let refs = 0;
for (const w of workloads()) {
    const where = `${w.kind} ${w.metadata.name}`;
    for (const c of containersOf(w)) {
        for (const e of c.env || []) {
            const vf = e.valueFrom || {};
            if (vf.secretKeyRef) refs++, refCheck('Secret', vf.secretKeyRef.name, vf.secretKeyRef.key, `${where} env ${e.name}`, ns(w));
            if (vf.configMapKeyRef) refs++, refCheck('ConfigMap', vf.configMapKeyRef.name, vf.configMapKeyRef.key, `${where} env ${e.name}`, ns(w));
        }
        for (const ef of c.envFrom || []) {
            if (ef.secretRef) refs++, refCheck('Secret', ef.secretRef.name, undefined, where, ns(w));
            if (ef.configMapRef) refs++, refCheck('ConfigMap', ef.configMapRef.name, undefined, where, ns(w));
        }
    }
    for (const v of podSpec(w).volumes || []) {
        const src = v.secret ? ['Secret', v.secret.secretName, v.secret.items] : v.configMap ? ['ConfigMap', v.configMap.name, v.configMap.items] : null;
        if (!src) continue;
        refs++;
        if (refCheck(src[0], src[1], undefined, `${where} volume ${v.name}`, ns(w)))
            for (const it of src[2] || []) refCheck(src[0], src[1], it.key, `${where} volume ${v.name}`, ns(w));
    }
}
for (const ta of all('TriggerAuthentication'))
    for (const r of ta.spec.secretTargetRef || []) refs++, refCheck('Secret', r.name, r.key, `TriggerAuthentication ${ta.metadata.name}`, ns(ta));
if (failures === 0) ok(`${refs} Secret/ConfigMap references resolve to existing keys`);

// ---- env var names are ones ferry reads ----------------------------------------------------

const envNames = new Set();
for (const w of workloads()) for (const c of containersOf(w)) if (isFerry(c)) (c.env || []).forEach((e) => envNames.add(e.name));
for (const n of envNames) {
    if (!n.startsWith('FERRY_')) continue;
    if (code.includes('"' + n + '"')) ok(`env ${n} is read by the code`);
    else fail(`env ${n} is set but no source file names "${n}": a typo, or a variable ferry does not read`);
}

// ---- Redis: durable, the URL points at it ----------------------------------------------------

const b64 = (s) => Buffer.from(s, 'base64').toString('utf8');
const secret = find('Secret', 'ferry-secrets');
const sval = (k) => secret && ((secret.stringData || {})[k] ?? (secret.data && secret.data[k] !== undefined ? b64(secret.data[k]) : undefined));
{
    const url = sval('redis-url');
    if (url === undefined) fail('Secret ferry-secrets: no redis-url');
    else {
        let u = null;
        try {
            u = new URL(url);
        } catch (e) {
            fail(`Secret ferry-secrets: redis-url is not a URL`);
        }
        if (u && u.protocol === 'rediss:')
            fail('redis-url: rediss:// is not supported by hiredis 0.14: use a TLS sidecar (docs/deploy.md)');
        if (u && u.protocol === 'redis:' && /^(127\.0\.0\.1|localhost|\[::1\])$/.test(u.hostname)) {
            // Redis through a local TLS sidecar (components/redis-tls): every pod that connects
            // must run one, listening where redis-url points, verifying the server.
            const port = Number(u.port || 6379);
            for (const w of workloads()) {
                const users = containersOf(w).filter((c) => isFerry(c) && (c.env || []).some((e) => e.name === 'FERRY_REDIS_URL'));
                if (users.length === 0) continue;
                const side = (podSpec(w).initContainers || []).find((c) => c.restartPolicy === 'Always' && !isFerry(c));
                if (!side) {
                    fail(`${w.metadata.name}: redis-url is ${u.host} but the pod has no sidecar (initContainer with restartPolicy Always)`);
                    continue;
                }
                const confs = (side.volumeMounts || []).map((m) => (podSpec(w).volumes || []).find((v) => v.name === m.name))
                    .filter((v) => v && v.configMap).map((v) => find('ConfigMap', v.configMap.name, ns(w)))
                    .filter(Boolean).flatMap((cm) => Object.values(cm.data || {}));
                const conf = confs.find((t) => new RegExp('^accept\\s*=\\s*(127\\.0\\.0\\.1:)?' + port + '\\s*$', 'm').test(t));
                if (!conf) fail(`${w.metadata.name}: sidecar ${side.name} has no "accept = 127.0.0.1:${port}" (redis-url's port)`);
                else if (!/^verifyChain\s*=\s*yes/m.test(conf) || !/^checkHost\s*=/m.test(conf))
                    fail(`${w.metadata.name}: sidecar ${side.name} must check the server (verifyChain = yes, checkHost)`);
                else ok(`${w.metadata.name}: TLS sidecar ${side.name} accepts on 127.0.0.1:${port} and verifies the server`);
            }
        } else if (u && u.protocol === 'redis:') {
            const host = u.hostname.split('.');
            const svc = find('Service', host[0], host[1] || ns(secret));
            const port = Number(u.port || 6379);
            if (svc) {
                if ((svc.spec.ports || []).some((p) => p.port === port)) ok(`redis-url points at Service ${svc.metadata.name}:${port}`);
                else fail(`redis-url: Service ${svc.metadata.name} has no port ${port}`);
                if (!find('StatefulSet', svc.metadata.name, ns(svc))) fail(`redis-url: no StatefulSet ${svc.metadata.name} behind the Service`);
            } else if (find('StatefulSet', 'ferry-redis')) fail(`redis-url host ${u.hostname} is not the in-cluster Redis Service`);
            else warn(`redis-url: external Redis ${u.hostname}, plain TCP (components/redis-tls if it needs TLS)`);
            const pw = sval('redis-password');
            if (pw !== undefined && decodeURIComponent(u.password) !== pw)
                fail('redis-url: its password is not the Secret\'s redis-password (Redis would refuse ferry)');
        }
    }
}
const redis = find('StatefulSet', 'ferry-redis');
if (redis) {
    const c = podSpec(redis).containers[0];
    const a = [...(c.command || []), ...(c.args || [])];
    if (optValue(a, '--appendonly') === 'yes') ok('redis: AOF on');
    else fail('redis: --appendonly yes missing (a restart would lose acknowledged jobs)');
    const pol = optValue(a, '--maxmemory-policy');
    if (pol === 'noeviction') ok('redis: maxmemory-policy noeviction');
    else fail(`redis: maxmemory-policy ${pol}: only noeviction never drops a ledger record or job`);
    for (const [opt, want] of [['--hash-max-listpack-value', '1024'], ['--hash-max-listpack-entries', '512']]) {
        // the values the private server uses (lib/store/redisd.c) for compact ledger buckets
        const priv = (read('lib/store/redisd.c').match(new RegExp(opt.slice(2) + ' (\\d+)')) || [])[1] || want;
        if (optValue(a, opt) === priv) ok(`redis: ${opt} ${priv}, as the private server`);
        else fail(`redis: ${opt} ${optValue(a, opt)}, the private server (lib/store/redisd.c) uses ${priv}`);
    }
    const dir = optValue(a, '--dir') || '/data';
    const vm = (c.volumeMounts || []).find((m) => m.mountPath === dir);
    const claims = (redis.spec.volumeClaimTemplates || []).map((t) => t.metadata.name);
    if (vm && claims.includes(vm.name)) ok(`redis: ${dir} on the persistent volume ${vm.name}`);
    else fail(`redis: --dir ${dir} is not on a volumeClaimTemplate`);
}

// ---- the KEDA ScaledObject ------------------------------------------------------------------

for (const so of all('ScaledObject')) {
    const t = so.spec.scaleTargetRef || {};
    const target = find(t.kind || 'Deployment', t.name, ns(so));
    if (target === worker) ok(`ScaledObject ${so.metadata.name} scales Deployment ${t.name}`);
    else fail(`ScaledObject ${so.metadata.name}: scaleTargetRef ${t.kind || 'Deployment'}/${t.name} is not the worker Deployment`);
    if (so.spec.minReplicaCount === 0) ok('ScaledObject: scales to zero');
    else fail(`ScaledObject: minReplicaCount ${so.spec.minReplicaCount}, want 0 (no worker when idle)`);
    if (!(so.spec.cooldownPeriod > 0)) fail('ScaledObject: set cooldownPeriod (seconds idle before scaling to zero)');
    if (!(so.spec.maxReplicaCount >= 1)) fail('ScaledObject: maxReplicaCount must be >= 1');
    if (worker.spec.replicas !== undefined) warn('worker Deployment sets replicas: every kubectl apply resets what KEDA chose');
    for (const tr of so.spec.triggers || []) {
        const m = tr.metadata || {};
        if (tr.type === 'metrics-api') {
            const u = new URL(m.url);
            const h = u.hostname.split('.');
            const svcNs = h[1] || ns(so);
            const svc = find('Service', h[0], svcNs);
            if (h.length > 2 && !/^svc(\.cluster\.local)?$/.test(h.slice(2).join('.')))
                fail(`metrics-api url host ${u.hostname} is not SERVICE.NAMESPACE.svc[.cluster.local]`);
            else if (h.length < 2)
                fail(`metrics-api url ${m.url}: KEDA runs in its own namespace: use ${h[0]}.${ns(so)}.svc.cluster.local`);
            else if (!svc) fail(`metrics-api url: no Service ${h[0]} in namespace ${svcNs}`);
            else {
                const port = Number(u.port || 80);
                if (!(svc.spec.ports || []).some((p) => p.port === port)) fail(`metrics-api url: Service ${h[0]} has no port ${port}`);
                else if (!matches(svc.spec.selector, podLabels(sched))) fail(`metrics-api url: Service ${h[0]} does not select the API pods`);
                else ok(`metrics-api url reaches the API through Service ${h[0]}.${svcNs}:${port}`);
            }
            if (routeExists(u.pathname)) ok(`metrics-api path ${u.pathname} is an API route`);
            else if (u.pathname === '/v1/scale') warn('metrics-api path /v1/scale is not in scheduler/ yet (test deploy_k8s_scale_route)');
            else fail(`metrics-api path ${u.pathname} is not an API route`);
            if (m.valueLocation !== 'desired') fail(`metrics-api valueLocation ${m.valueLocation}, want desired ({"desired":n,…})`);
            if ((tr.metricType || 'AverageValue') !== 'AverageValue' || String(m.targetValue) !== '1')
                fail('metrics-api: want metricType AverageValue with targetValue "1" (replicas = desired)');
            else ok('metrics-api: replicas = desired (AverageValue, target 1)');
            if (String(m.activationTargetValue ?? '0') !== '0') fail('metrics-api: activationTargetValue must be 0: wake on one job');
            if (so.spec.fallback && (tr.metricType || 'AverageValue') !== 'AverageValue') fail('fallback needs metricType AverageValue');
            const needsToken = !/public-read/.test(JSON.stringify(schedC.args || []));
            if (needsToken) {
                const ta = tr.authenticationRef && find('TriggerAuthentication', tr.authenticationRef.name, ns(so));
                if (m.authMode !== 'bearer' || !ta) fail('metrics-api: the API wants its token: authMode bearer + a TriggerAuthentication');
                else if (!(ta.spec.secretTargetRef || []).some((r) => r.parameter === 'token')) fail(`TriggerAuthentication ${ta.metadata.name}: no token parameter`);
                else {
                    const tok = (schedC.env || []).find((e) => e.name === 'FERRY_API_TOKEN');
                    const r = ta.spec.secretTargetRef.find((x) => x.parameter === 'token');
                    const k = tok && tok.valueFrom && tok.valueFrom.secretKeyRef;
                    if (k && (k.name !== r.name || k.key !== r.key)) fail('KEDA sends another token than FERRY_API_TOKEN');
                    else ok('KEDA sends the API token the scheduler checks');
                }
            }
        } else if (tr.type === 'redis-streams') {
            if (!/^ferry:\{[^}]+\}:q:(event|bulk)$/.test(m.stream || '')) fail(`redis-streams stream ${m.stream}: not a ferry job stream (ferry:{TASK}:q:event|bulk)`);
            if (m.consumerGroup !== group) fail(`redis-streams consumerGroup ${m.consumerGroup}, the workers' group is ${group}`);
        } else warn(`trigger type ${tr.type} is not cross-checked`);
    }
}

// ---- container args are real ferry options --------------------------------------------------

function runFerry(argv) {
    return cp.spawnSync(ferry, argv, {
        encoding: 'utf8',
        timeout: 20000,
        env: { ...process.env, FERRY_REDIS_URL: 'redis://127.0.0.1:1/0', HOME: '/nonexistent' },
    });
}
function checkArgs(argv, where) {
    const [cmd, ...rest] = argv;
    if (cmd === 'worker') {
        // options are parsed in order; --help at the end answers 0 only if all before it parsed
        const r = runFerry(['worker', ...rest, '--help']);
        if (r.status === 0) ok(`${where}: ferry ${argv.join(' ')} parses`);
        else fail(`${where}: ferry ${argv.join(' ')}: ${(r.stderr || '').trim().split('\n')[0]}`);
    } else if (cmd === 'scheduler') {
        // no --help: an unknown option placed last is reported only if every option before it parsed
        const r = runFerry(['scheduler', ...rest, '--ferry-deploy-check']);
        if (/unknown option --ferry-deploy-check/.test(r.stderr || '')) ok(`${where}: ferry ${argv.join(' ')} parses`);
        else fail(`${where}: ferry ${argv.join(' ')}: ${(r.stderr || '').trim().split('\n')[0]}`);
    } else if (cmd === 'task' && rest[0] === 'add') {
        // options are checked before Redis is reached: 2 = bad options, 1 = (expected) no Redis
        const r = runFerry(argv);
        if (r.status === 1) ok(`${where}: ferry ${argv.join(' ')} parses`);
        else fail(`${where}: ferry ${argv.join(' ')}: ${(r.stderr || '').trim().split('\n')[0]}`);
    } else fail(`${where}: "${cmd}" is not a ferry command the manifests should run`);
}
if (!fs.existsSync(ferry)) fail(`no ferry binary at ${ferry}: build it (cmake --build build --target ferry)`);
else {
    for (const w of workloads())
        for (const c of containersOf(w)) {
            if (!isFerry(c)) continue;
            const where = `${w.metadata.name}/${c.name}`;
            if (c.args && !c.command) checkArgs(c.args, where);
            const script = (c.command || []).join(' ');
            for (const m of script.matchAll(/\bferry (worker [^\n;|&]*)/g))
                checkArgs(m[1].replace(/"\$name"/g, 'x').trim().split(/\s+/).filter((s) => s !== '||'), where);
            if (/ferry task add/.test(script)) {
                // the task definitions it applies: the file it reads, from the ConfigMap mounted there
                const file = (script.match(/<\s*(\/\S+)/) || [])[1];
                const mount = file && (c.volumeMounts || []).find((m) => file.startsWith(m.mountPath.replace(/\/?$/, '/')));
                const vol = mount && (podSpec(w).volumes || []).find((v) => v.name === mount.name && v.configMap);
                const cm = vol && find('ConfigMap', vol.configMap.name, ns(w));
                const key = file && mount && file.slice(mount.mountPath.replace(/\/?$/, '/').length);
                const item = vol && (vol.configMap.items || []).find((it) => it.path === key);
                const body = cm && (cm.data || {})[item ? item.key : key];
                if (body === undefined) fail(`${where}: the script reads ${file}, which no mounted ConfigMap provides`);
                else {
                    let n = 0;
                    for (const line of body.split('\n')) {
                        const l = line.trim();
                        if (l && !l.startsWith('#')) n++, checkArgs(['task', 'add', ...l.split(/\s+/)], `${cm.metadata.name}/${key}`);
                    }
                    if (n === 0) warn(`${cm.metadata.name}/${key} defines no task`);
                }
            }
        }
}
const images = new Set();
for (const w of workloads()) for (const c of containersOf(w)) if (isFerry(c)) images.add(c.image);
if (images.size === 1) ok(`one ferry image everywhere: ${[...images][0]}`);
else fail(`ferry containers use ${images.size} images: ${[...images].join(', ')}`);

if (failures) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('all checks passed');
