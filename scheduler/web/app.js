// ferry dashboard (docs/dashboard.md). Plain JavaScript, no framework, no external file: it
// reads the ferry API of the server that served it (same origin) every 2 seconds and redraws.
// Everything shown from the server goes through textContent (never innerHTML): object keys
// and error texts are data, not markup.
'use strict';

(() => {
  const POLL_MS = 2000;
  const SCALE_RETRY_MS = 60000; // GET /v1/scale answered 404: ask again this much later
  const PAGE = 50; // failed objects per page
  const FILTER_PAGE = 500; // failed records examined per page when one error is picked
  const GROUPS_MS = 10000; // the failure groups (up to 10,000 records read) every 10 s at most
  const TOKEN_KEY = 'ferry.token';
  const STATES = ['queued', 'copying', 'done', 'failed', 'skipped', 'deleted'];

  const $ = (id) => document.getElementById(id);
  const st = {
    task: null, // the task shown
    tasks: [],
    busy: false,
    stopped: false, // reads need a token we do not have: wait for it
    pending: null, // a write waiting for the token
    cursor: '', // the failed list's page: its cursor, and the cursors before it
    back: [],
    next: null,
    filter: null, // the error text the failed list is narrowed to
    recordKey: null, // the key whose record the search shows
    scaleOffUntil: 0,
    groupsAt: 0, // when the failure groups were last read (0: read at the next tick)
    workers: 0, // live workers over every task (the autoscaler's "running")
  };

  // ---- small helpers ------------------------------------------------------------------------

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const c of cells) tr.appendChild(c);
    return tr;
  }

  function num(n) {
    return Number(n || 0).toLocaleString('en-US');
  }

  function bytes(n) {
    n = Number(n || 0);
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + u[i];
  }

  function ago(iso) {
    const t = Date.parse(iso || '');
    if (!Number.isFinite(t)) return '';
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 120) return s + ' s ago';
    if (s < 7200) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }

  function duration(ms) {
    ms = Number(ms || 0);
    if (ms < 1000) return ms + ' ms';
    if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 7200000) return Math.round(ms / 60000) + ' min';
    return (ms / 3600000).toFixed(1) + ' h';
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function setStatus(text, bad) {
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'err' : 'muted';
  }

  function errText(r) {
    return r.body && r.body.error ? r.body.error : 'HTTP ' + r.status;
  }

  // Paths: every piece from the user or the server is percent-encoded (a key may hold spaces,
  // '+', '%', '/', '?', '#' or any unicode).
  function taskPath(suffix) {
    return '/v1/tasks/' + encodeURIComponent(st.task) + (suffix || '');
  }

  // ---- the token ----------------------------------------------------------------------------

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return '';
    }
  }

  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* storage refused (private mode): the token lasts until the next reload */
    }
    $('token-forget').hidden = !t;
  }

  function askToken(why, then) {
    $('token-why').textContent = why;
    st.pending = then || null;
    $('token-box').hidden = false;
    $('token-input').value = '';
    $('token-input').focus();
  }

  // ---- the API ------------------------------------------------------------------------------

  async function api(method, path, body) {
    const headers = {};
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let j = null;
    try {
      j = await r.json();
    } catch (e) {
      j = null;
    }
    return { status: r.status, body: j };
  }

  // A write (retry): one or more POSTs of bodies to path. Asks for the token first when there
  // is none, and again when the server refuses it.
  async function write(path, bodies, what) {
    if (!token()) {
      askToken(what + ' changes the ledger: it needs the API token.', () => write(path, bodies, what));
      return;
    }
    const msg = $('retry-msg');
    msg.className = 'muted';
    msg.textContent = what + '…';
    let requeued = 0;
    let unknown = 0;
    for (const body of bodies) {
      const r = await api('POST', path, body);
      if (r.status === 401) {
        setToken('');
        askToken('The server refused that token; enter it again.', () => write(path, bodies, what));
        msg.textContent = '';
        return;
      }
      if (r.status !== 200) {
        msg.className = 'err';
        msg.textContent = what + ' failed: ' + errText(r);
        return;
      }
      requeued += Number(r.body.requeued || 0);
      unknown += Number(r.body.unknown || 0);
    }
    st.groupsAt = 0;
    msg.className = 'ok';
    msg.textContent = what + ': ' + num(requeued) + ' re-queued' +
      (unknown ? ', ' + num(unknown) + ' without a record' : '') + '.';
    tick();
  }

  // Failures are grouped by their error with the object's key taken out: a message that names
  // the key ("… on PUT s3://dst/KEY: …") is one error for every key it happened to.
  // Only whole occurrences are taken out (after a '/', a space, a quote or '(' and before a ':',
  // a space, a quote, ')', ',' or the end), and when the key follows a '/' somewhere (a URL:
  // "s3://dst/KEY") only those: a short key such as "a" or "5" leaves other words alone.
  const BEFORE = '/ "\'(';
  const AFTER = ': "\'),';
  function normError(text, keys) {
    let t = text || '';
    for (const k of keys) {
      if (!k) continue;
      const at = [];
      for (let i = t.indexOf(k); i >= 0; i = t.indexOf(k, i + k.length)) {
        const end = i + k.length;
        if ((i === 0 || BEFORE.includes(t[i - 1])) && (end === t.length || AFTER.includes(t[end]))) at.push(i);
      }
      const url = at.filter((i) => i > 0 && t[i - 1] === '/');
      let out = '';
      let from = 0;
      for (const i of url.length ? url : at) {
        out += t.slice(from, i) + '…';
        from = i + k.length;
      }
      t = out + t.slice(from);
    }
    return t;
  }

  // The API's groups (one per distinct error text), merged by normError. A merged group keeps
  // the keys of the texts whose keys are all known (retried by key) and the texts of the
  // others (retried by error text).
  function mergeGroups(groups) {
    const m = new Map();
    for (const g of groups) {
      const keys = g.keys || [];
      const label = normError(g.error, keys);
      let e = m.get(label);
      if (!e) {
        e = { label, count: 0, keys: [], errors: [] };
        m.set(label, e);
      }
      e.count += Number(g.count || 0);
      if (keys.length >= g.count) e.keys.push(...keys);
      else e.errors.push(g.error);
    }
    return [...m.values()].sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1));
  }

  function retryBodies(g) {
    const bodies = g.errors.map((e) => ({ error: e }));
    for (let i = 0; i < g.keys.length; i += 10000) bodies.push({ keys: g.keys.slice(i, i + 10000) });
    return bodies;
  }

  // ---- rendering ----------------------------------------------------------------------------

  function count(t, s, f) {
    const c = t.counters && t.counters[s];
    return c ? Number(c[f] || 0) : 0;
  }

  function taskState(t) {
    if (t.last_scan && t.last_scan.ok === false) return ['last scan failed', 'err'];
    if (count(t, 'queued', 'objects') + count(t, 'copying', 'objects') > 0) return ['copying', 'warn'];
    if (count(t, 'failed', 'objects') > 0) return ['idle, with failures', 'err'];
    if (!t.last_scan) return ['waiting for its first scan', 'muted'];
    return ['in sync', 'ok'];
  }

  function schedule(t) {
    if (t.cron) return 'cron ' + t.cron;
    if (t.every_ms) return 'every ' + duration(t.every_ms);
    return '';
  }

  function renderTasks(tasks) {
    st.tasks = tasks;
    const live = new Set();
    const rows = tasks.map((t) => {
      for (const w of t.workers || []) live.add(w.consumer);
      const [state, cls] = taskState(t);
      const tr = row([
        el('td', t.name, 'key'),
        el('td', state, cls),
        el('td', schedule(t)),
        el('td', num(t.objects), 'num objects'),
        el('td', num(count(t, 'done', 'objects')), 'num done'),
        el('td', num(count(t, 'failed', 'objects')), 'num failed'),
        el('td', num(count(t, 'queued', 'objects') + count(t, 'copying', 'objects')), 'num waiting'),
      ]);
      tr.dataset.task = t.name;
      if (t.name === st.task) tr.className = 'sel';
      tr.addEventListener('click', () => select(t.name));
      return tr;
    });
    st.workers = live.size;
    fill($('tasks').tBodies[0], rows);
    $('tasks-empty').hidden = tasks.length > 0;
  }

  function renderTask(t) {
    $('task').hidden = false;
    $('task-title').textContent = t.name;
    $('task-route').textContent = (t.from || '') + '  →  ' + (t.to || '');
    fill($('counts').tBodies[0], STATES.map((s) => {
      const tr = row([
        el('td', s, s === 'failed' && count(t, s, 'objects') ? 'err' : ''),
        el('td', num(count(t, s, 'objects')), 'num objects'),
        el('td', bytes(count(t, s, 'bytes')), 'num bytes'),
      ]);
      tr.dataset.state = s;
      return tr;
    }));
    const sr = [];
    for (const name of ['event', 'bulk', 'dead']) {
      const s = (t.streams && t.streams[name]) || {};
      const tr = row([
        el('td', name),
        el('td', num(s.length), 'num length'),
        el('td', num(s.pending), 'num pending'),
        el('td', s.lag === undefined ? '' : s.lag < 0 ? 'unknown' : num(s.lag), 'num lag'),
      ]);
      tr.dataset.stream = name;
      sr.push(tr);
    }
    fill($('streams').tBodies[0], sr);
    const ws = t.workers || [];
    fill($('workers').tBodies[0], ws.map((w) => {
      const tr = row([
        el('td', w.consumer, 'key'),
        el('td', w.pid, 'num'),
        el('td', num(w.in_flight) + (w.concurrency ? ' / ' + num(w.concurrency) : ''), 'num'),
        el('td', num(w.done), 'num'),
        el('td', num(w.failed), 'num'),
        el('td', ago(w.started_at)),
        el('td', ago(w.seen_at)),
      ]);
      return tr;
    }));
    $('workers-empty').hidden = ws.length > 0;
    const scans = t.scans || (t.last_scan ? [t.last_scan] : []);
    fill($('scans').tBodies[0], scans.map((s) => row([
      el('td', s.started_at),
      el('td', duration(s.duration_ms), 'num'),
      el('td', s.ok ? 'ok' : 'failed: ' + (s.error || ''), s.ok ? 'ok' : 'err'),
      el('td', num(s.listed_src), 'num'),
      el('td', num(s.listed_dst), 'num'),
      el('td', num(s.queued) + ' (' + bytes(s.bytes) + ')', 'num'),
      el('td', num(s.new), 'num'),
      el('td', num(s.changed), 'num'),
      el('td', num(s.skipped), 'num'),
    ])));
    $('scans-empty').hidden = scans.length > 0;
  }

  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // The last hour, one slot per point of the series: bytes per second as an area, objects
  // per second as a line with a dot on every slot that has any.
  function renderChart(tp) {
    const W = 720;
    const H = 160;
    const top = 8;
    const step = tp.step || 10;
    const n = Math.round((tp.window || 3600) / step);
    const start = tp.now - n * step;
    const obj = new Array(n).fill(0);
    const byt = new Array(n).fill(0);
    for (const p of tp.points || []) {
      const i = Math.floor((p.t - start) / step);
      if (i >= 0 && i < n) {
        obj[i] += p.objects;
        byt[i] += p.bytes;
      }
    }
    const maxO = Math.max(1, ...obj);
    const maxB = Math.max(1, ...byt);
    const x = (i) => ((i + 0.5) * W) / n;
    const yo = (v) => H - (v / maxO) * (H - top);
    const yb = (v) => H - (v / maxB) * (H - top);
    const parts = [];
    for (const f of [0.25, 0.5, 0.75]) {
      parts.push(svg('line', { x1: 0, x2: W, y1: H - f * (H - top), y2: H - f * (H - top), class: 'grid' }));
    }
    let d = 'M0,' + H;
    for (let i = 0; i < n; i++) d += ' L' + x(i).toFixed(1) + ',' + yb(byt[i]).toFixed(1);
    d += ' L' + W + ',' + H + ' Z';
    parts.push(svg('path', { d, class: 'bytes' }));
    const pts = [];
    for (let i = 0; i < n; i++) pts.push(x(i).toFixed(1) + ',' + yo(obj[i]).toFixed(1));
    parts.push(svg('polyline', { points: pts.join(' '), class: 'objects' }));
    let shown = 0;
    for (let i = 0; i < n; i++) {
      if (!obj[i]) continue;
      const c = svg('circle', { cx: x(i).toFixed(1), cy: yo(obj[i]).toFixed(1), r: 2.5, class: 'pt' });
      const when = new Date((start + i * step) * 1000).toLocaleTimeString();
      const title = svg('title', {});
      title.textContent = when + ': ' + num(obj[i]) + ' objects, ' + bytes(byt[i]) + ' in ' + step + ' s';
      c.appendChild(title);
      parts.push(c);
      shown++;
    }
    $('chart').replaceChildren(...parts);
    $('chart').dataset.points = String(shown);
    $('chart-legend').textContent = shown
      ? '— peak ' + (maxO / step).toFixed(1) + ' objects/s (line), ' + bytes(maxB / step) + '/s (area)'
      : '— nothing copied in the last hour';
  }

  function renderGroups(f) {
    const groups = mergeGroups(f.groups || []);
    fill($('groups').tBodies[0], groups.map((g) => {
      const pick = el('button', st.filter === g.label ? 'Show all' : 'Show these');
      pick.type = 'button';
      pick.addEventListener('click', () => {
        st.filter = st.filter === g.label ? null : g.label;
        firstPage();
      });
      const retry = el('button', 'Retry ' + num(g.count), 'retry');
      retry.type = 'button';
      retry.addEventListener('click', () =>
        write(taskPath('/retry'), retryBodies(g), 'Retry of ' + num(g.count) + ' failed with "' + g.label + '"'));
      const actions = el('td');
      actions.append(pick, ' ', retry);
      const tr = row([el('td', g.label, 'err key'), el('td', num(g.count), 'num'), actions]);
      tr.dataset.error = g.label;
      tr.dataset.count = String(g.count);
      return tr;
    }));
    const total = groups.reduce((a, g) => a + g.count, 0);
    $('failures-total').textContent = total ? '— ' + num(total) + ' failed' : '— none';
    $('groups-note').textContent = f.next_cursor
      ? 'Groups of the first ' + num(f.examined) + ' failed objects (in key order); the list below pages through all of them.'
      : '';
  }

  function renderFailed(objs) {
    const shown = st.filter ? objs.filter((o) => normError(o.error, [o.key]) === st.filter) : objs;
    fill($('failed').tBodies[0], shown.map((o) => {
      const b = el('button', 'Retry', 'retry');
      b.type = 'button';
      b.addEventListener('click', () => write(taskPath('/retry'), [{ keys: [o.key] }], 'Retry of ' + o.key));
      const keyCell = el('td', o.key, 'key');
      keyCell.addEventListener('click', () => showRecord(o.key));
      const tr = row([keyCell, el('td', o.error || '', 'err'), el('td', num(o.attempts), 'num'),
        el('td', o.finished_at || ''), el('td').appendChild(b).parentNode]);
      tr.dataset.key = o.key;
      return tr;
    }));
    $('failed-filter').hidden = !st.filter;
    $('failed-filter').textContent = st.filter ? 'Only the error "' + st.filter + '".' : '';
    $('failed-next').disabled = !st.next;
    $('failed-first').disabled = st.back.length === 0;
    $('failed-page').textContent = 'page ' + (st.back.length + 1) +
      (shown.length ? ', ' + shown.length + ' shown' : ', none here') + (st.next ? '' : ' (last page)');
  }

  // ---- loading ------------------------------------------------------------------------------

  async function loadRecord() {
    if (!st.recordKey) return;
    const key = st.recordKey;
    const r = await api('GET', taskPath('/objects/' + encodeURIComponent(key)));
    if (key !== st.recordKey) return;
    const pre = $('record');
    if (r.status === 200) {
      pre.hidden = false;
      pre.textContent = JSON.stringify(r.body, null, 2);
      pre.dataset.key = key;
      $('record-msg').textContent = '';
    } else {
      pre.hidden = true;
      $('record-msg').textContent = r.status === 404
        ? 'No record of "' + key + '" in task ' + st.task + ' (the key must be exact).'
        : 'Cannot read the record: ' + errText(r);
    }
  }

  function showRecord(key) {
    st.recordKey = key;
    $('search').value = key;
    loadRecord().catch((e) => setStatus('cannot reach the server: ' + e.message, true));
  }

  // GET /v1/scale: the autoscaler's policy over every task ({"desired", "actual", "lag",
  // "pending", "bytes", "reason", "min", "max", …}). A server without the route answers 404:
  // the widget stays hidden and the page asks again a minute later.
  async function loadScale() {
    if (Date.now() < st.scaleOffUntil) return;
    const r = await api('GET', '/v1/scale');
    if (r.status !== 200 || !r.body) {
      $('scale').hidden = true;
      st.scaleOffUntil = Date.now() + SCALE_RETRY_MS;
      return;
    }
    const b = r.body;
    $('scale').hidden = false;
    $('scale-desired').textContent = num(b.desired);
    $('scale-actual').textContent = num(b.actual !== undefined ? b.actual : st.workers);
    const d = [];
    if (b.min !== undefined && b.max !== undefined) d.push('between ' + num(b.min) + ' and ' + num(b.max));
    if (b.lag !== undefined) d.push(num(b.lag) + ' jobs not yet read');
    if (b.pending !== undefined) d.push(num(b.pending) + ' in progress');
    if (b.bytes !== undefined) d.push(bytes(b.bytes) + ' waiting');
    if (b.reason) d.push(b.reason);
    $('scale-detail').textContent = d.length ? '(' + d.join('; ') + ')' : '';
  }

  async function loadTask() {
    const q = '?state=failed&limit=' + (st.filter ? FILTER_PAGE : PAGE) +
      (st.cursor ? '&cursor=' + encodeURIComponent(st.cursor) : '');
    const groups = Date.now() - st.groupsAt >= GROUPS_MS;
    const [t, tp, f, page] = await Promise.all([
      api('GET', taskPath()),
      api('GET', taskPath('/throughput')),
      groups ? api('GET', taskPath('/failures?limit=10000&samples=100')) : { status: 200, body: null },
      api('GET', taskPath('/objects' + q)),
      loadRecord(),
      loadScale(),
    ]);
    if (t.status === 404) {
      st.task = null;
      $('task').hidden = true;
      return;
    }
    for (const r of [t, tp, f, page]) {
      if (r.status !== 200) throw new Error(errText(r));
    }
    renderTask(t.body);
    renderChart(tp.body);
    if (f.body) {
      st.groupsAt = Date.now();
      renderGroups(f.body);
    }
    st.next = page.body.next_cursor;
    renderFailed(page.body.objects || []);
  }

  async function tick() {
    if (st.busy || st.stopped) return;
    st.busy = true;
    try {
      const r = await api('GET', '/v1/tasks');
      if (r.status === 401) {
        const had = token() !== '';
        setToken(''); // a token the server refuses is forgotten
        st.stopped = true;
        setStatus('this server needs the API token to read', true);
        askToken(had ? 'The server refused that token; enter it again.'
          : 'This server shows its tasks only with the API token (it runs without --public-read).', null);
        return;
      }
      if (r.status !== 200) {
        setStatus('GET /v1/tasks: ' + errText(r), true);
        return;
      }
      const tasks = r.body.tasks || [];
      if (!st.task || !tasks.some((t) => t.name === st.task)) st.task = tasks.length ? tasks[0].name : null;
      renderTasks(tasks);
      if (st.task) await loadTask();
      else $('task').hidden = true;
      setStatus('updated ' + new Date().toLocaleTimeString() + ' (every ' + POLL_MS / 1000 + ' s)', false);
    } catch (e) {
      setStatus('cannot read the server: ' + e.message, true);
    } finally {
      st.busy = false;
    }
  }

  function firstPage() {
    st.groupsAt = 0;
    st.cursor = '';
    st.back = [];
    st.next = null;
    tick();
  }

  function select(name) {
    if (name === st.task) return;
    st.task = name;
    st.filter = null;
    st.recordKey = null;
    $('record').hidden = true;
    $('record-msg').textContent = '';
    history.replaceState(null, '', '#task=' + encodeURIComponent(name));
    firstPage();
  }

  // ---- wiring -------------------------------------------------------------------------------

  function start() {
    const m = /^#task=(.+)$/.exec(location.hash);
    if (m) {
      try {
        st.task = decodeURIComponent(m[1]);
      } catch (e) {
        st.task = null;
      }
    }
    setToken(token());
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (!t) return;
      setToken(t);
      $('token-box').hidden = true;
      st.stopped = false;
      const then = st.pending;
      st.pending = null;
      if (then) then();
      else tick();
    });
    $('token-cancel').addEventListener('click', () => {
      $('token-box').hidden = true;
      st.pending = null;
    });
    $('token-forget').addEventListener('click', () => setToken(''));
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const key = $('search').value;
      if (key) showRecord(key);
    });
    $('failed-next').addEventListener('click', () => {
      if (!st.next) return;
      st.back.push(st.cursor);
      st.cursor = st.next;
      tick();
    });
    $('failed-first').addEventListener('click', firstPage);
    tick();
    setInterval(tick, POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
