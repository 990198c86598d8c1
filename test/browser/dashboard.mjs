// The dashboard in headless Chromium, driven by playwright-core (run by test_dashboard.c, which
// starts the servers and passes them in the environment). Exits 0 when every check passed.
//
// FERRY_DASH_URL      the page, on a scheduler with --public-read
// FERRY_DASH_URL2     the same API without --public-read (reads need the token)
// FERRY_DASH_TOKEN    the API token;  FERRY_DASH_TASK the task
// FERRY_DASH_FAULTS   the destination fakes3's /_fakes3/faults (cleared before the retry)
// FERRY_DASH_TOTAL, FERRY_DASH_FAILED   objects in the task, of which failed now
// FERRY_BIN, FERRY_REDIS_URL            for `ferry task show` and `ferry status`
// FERRY_CHROMIUM, FERRY_ARTIFACTS (the screenshots' directory)
// FERRY_NODE_MODULES  the node_modules holding playwright-core
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = process.env;
const require = createRequire(join(env.FERRY_NODE_MODULES, 'x.js'));
const { chromium } = require('playwright-core');

const URL1 = env.FERRY_DASH_URL;
const URL2 = env.FERRY_DASH_URL2;
const TOKEN = env.FERRY_DASH_TOKEN;
const TASK = env.FERRY_DASH_TASK;
const TOTAL = Number(env.FERRY_DASH_TOTAL);
const FAILED = Number(env.FERRY_DASH_FAILED);
const HOSTILE = 'dir/a b+c%ü.txt';
const HOSTILE2 = 'dir/50%25 off?#1.txt'; // copied: '%25' must stay three characters
const STATES = ['queued', 'copying', 'done', 'failed', 'skipped', 'deleted'];

let failures = 0;
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures++;
  return ok;
}

async function api(base, path, init = {}) {
  const r = await fetch(new URL(path, base), {
    ...init,
    headers: { Authorization: 'Bearer ' + TOKEN, ...(init.headers || {}) },
  });
  return { status: r.status, headers: r.headers, body: r.status === 200 ? await r.json() : null };
}

// Poll fn (async, returns a truthy value when satisfied) every 250 ms up to secs.
async function until(fn, secs, what) {
  const end = Date.now() + secs * 1000;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  check(false, what + ' (waited ' + secs + ' s)');
  return null;
}

// The page's numbers: the counts table (objects per state) and the tasks table.
async function pageCounts(page) {
  return page.evaluate((states) => {
    const o = {};
    for (const s of states) {
      const td = document.querySelector('#counts tr[data-state="' + s + '"] td.objects');
      o[s] = td ? Number(td.textContent.replace(/,/g, '')) : null;
    }
    return o;
  }, STATES);
}

function apiCounts(task) {
  const o = {};
  for (const s of STATES) o[s] = task.counters && task.counters[s] ? task.counters[s].objects : 0;
  return o;
}

const same = (a, b) => STATES.every((s) => a[s] === b[s]);

// Headers of the page and of each asset: type, ETag (304 on If-None-Match), CSP.
async function headersCheck() {
  for (const [path, type] of [['/', 'text/html'], ['/ui/app.js', 'text/javascript'],
    ['/ui/style.css', 'text/css'], ['/ui/icon.svg', 'image/svg+xml']]) {
    const r = await fetch(new URL(path, URL2)); // no token, on the server that wants one
    const csp = r.headers.get('content-security-policy') || '';
    const etag = r.headers.get('etag');
    check(r.status === 200 && (r.headers.get('content-type') || '').startsWith(type) &&
      csp.startsWith("default-src 'self'") && r.headers.get('cache-control') === 'no-cache' &&
      /^"[0-9a-f]{16}"$/.test(etag || ''), path + ': 200 ' + type + ', ETag, no-cache, CSP');
    await r.arrayBuffer();
    const r2 = await fetch(new URL(path, URL2), { headers: { 'If-None-Match': etag } });
    check(r2.status === 304, path + ': 304 with If-None-Match');
  }
}

async function main() {
  await headersCheck();

  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-chromium-'));
  const ctx = await chromium.launchPersistentContext(dataDir, {
    executablePath: env.FERRY_CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const requests = [];
  const problems = [];
  // allowed: the failed loads this page is expected to make ([status, path regex]).
  const watch = (page, allowed = []) => {
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      const where = (m.location() && m.location().url) || '';
      // The autoscaler's route may be absent on this server: its 404 is expected (the widget
      // hides). Any other error or warning is a failure.
      if (/Failed to load resource.*404/.test(m.text()) && /\/v1\/scale$/.test(where)) return;
      for (const [status, path] of allowed)
        if (m.text().includes('status of ' + status + ' ') && path.test(where)) return;
      problems.push(m.type() + ': ' + m.text() + (where ? ' (' + where + ')' : ''));
    });
  };

  try {
    const page = await ctx.newPage();
    watch(page);
    let loads = 0; // the page updates itself: it is loaded once
    page.on('load', () => loads++);
    await page.goto(URL1);
    await page.waitForSelector('#tasks tr[data-task="' + TASK + '"]', { timeout: 20000 });

    // Counts: the page, the API and `ferry status` agree.
    const t = (await api(URL1, '/v1/tasks/' + TASK)).body;
    const want = apiCounts(t);
    check(want.failed === FAILED && want.done === TOTAL - FAILED, 'API counts: ' + JSON.stringify(want));
    const cli = JSON.parse(execFileSync(env.FERRY_BIN, ['--redis', env.FERRY_REDIS_URL, 'task', 'show', TASK, '--json'],
      { encoding: 'utf8' }));
    check(same(apiCounts(cli), want), '`ferry task show --json` counts equal the API\'s');
    const one = JSON.parse(execFileSync(env.FERRY_BIN, ['--redis', env.FERRY_REDIS_URL, 'status', TASK, HOSTILE, '--json'],
      { encoding: 'utf8' }));
    const shown = await until(async () => {
      const c = await pageCounts(page);
      return same(c, want) ? c : null;
    }, 20, 'the page shows the API\'s counts');
    if (shown) check(true, 'the page shows the counts: ' + JSON.stringify(shown));
    const row = await page.$eval('#tasks tr[data-task="' + TASK + '"]', (tr) =>
      [tr.querySelector('td.done').textContent, tr.querySelector('td.failed').textContent]);
    check(Number(row[0]) === want.done && Number(row[1]) === want.failed, 'the tasks table: ' + row.join(' done, ') + ' failed');
    check(await page.$$eval('#workers tbody tr', (r) => r.length) >= 1, 'a live worker is listed');
    check(await page.$$eval('#scans tbody tr', (r) => r.length) >= 1, 'the last scan is listed');
    check(await page.$eval('#streams tr[data-stream="bulk"] td.length', (td) => td.textContent) !== '',
      'the backlog per stream is shown');
    // The autoscaler: hidden when the server has no /v1/scale (404), else its desired count.
    const scale = await api(URL1, '/v1/scale');
    if (scale.status === 404) {
      check(await page.$eval('#scale', (e) => e.hidden), 'no /v1/scale here: the autoscaler widget is hidden');
    } else {
      const d = await until(async () => {
        const now = await api(URL1, '/v1/scale');
        const shown = await page.$eval('#scale', (e) => (e.hidden ? null : document.getElementById('scale-desired').textContent));
        return now.status === 200 && shown === String(now.body.desired) ? shown : null;
      }, 20, 'the autoscaler widget shows /v1/scale\'s desired count');
      if (d !== null) check(true, 'the autoscaler widget: ' + d + ' desired');
    }

    // The chart has points.
    const pts = await until(() => page.$$eval('#chart circle.pt', (c) => c.length), 20, 'the chart has points');
    if (pts) check(true, 'the chart has ' + pts + ' point(s)');

    // Failure groups: two errors, every failed key listed.
    // The error texts name their key: grouped with it taken out, two errors (403 and 400).
    const groups = await until(() => page.$$eval('#groups tbody tr', (rs) => rs.map((r) => [r.dataset.count, r.dataset.error])), 20, 'failure groups');
    check(groups && groups.length === 2 && groups[0][0] === String(FAILED - 1) && groups[1][0] === '1' &&
      groups.every((g) => g[1].includes('…') && !g[1].includes('bad/')), 'failure groups: ' + JSON.stringify(groups));
    // Every failed key, a page of 50 at a time.
    const markup = 'bad/<img src=x onerror=alert(1)>.bin';
    const keys = [];
    let asText = false;
    let imgs = 0;
    for (let p = 0; p < 10; p++) {
      const first = await page.$eval('#failed-page', (e) => e.textContent);
      keys.push(...await page.$$eval('#failed tbody tr', (rs) => rs.map((r) => r.dataset.key)));
      imgs += await page.$$eval('main img', (i) => i.length);
      asText = asText || await page.evaluate((k) => [...document.querySelectorAll('#failed td.key')].some((td) => td.textContent === k), markup);
      if (await page.$eval('#failed-next', (b) => b.disabled)) break;
      await page.click('#failed-next');
      await until(async () => (await page.$eval('#failed-page', (e) => e.textContent)) !== first, 20, 'the next page');
    }
    check(keys.length === FAILED && new Set(keys).size === FAILED && keys.includes(HOSTILE),
      'every failed key is listed, over ' + Math.ceil(FAILED / 50) + ' pages: ' + keys.length);
    await page.click('#failed-first');
    check(keys.includes(markup) && asText && imgs === 0, 'a key that looks like markup is shown as text (no <img> in the page)');

    // The hostile key's record through the search box.
    await page.fill('#search', HOSTILE);
    await page.click('#search-form button[type="submit"]');
    const rec = await until(async () => {
      const txt = await page.$eval('#record', (p) => (p.hidden ? '' : p.textContent));
      return txt ? JSON.parse(txt) : null;
    }, 20, 'the search shows a record');
    check(rec && rec.key === HOSTILE && rec.state === 'failed' && rec.error === one.error &&
      rec.attempts === one.attempts, 'the hostile key\'s record, as `ferry status` shows it: ' + JSON.stringify(rec && { key: rec.key, state: rec.state, error: rec.error }));

    await page.fill('#search', HOSTILE2);
    await page.click('#search-form button[type="submit"]');
    const rec3 = await until(async () => {
      const txt = await page.$eval('#record', (p) => (p.hidden ? '' : p.textContent));
      const r = txt ? JSON.parse(txt) : null;
      return r && r.key === HOSTILE2 ? r : null;
    }, 20, 'the search shows the record of ' + HOSTILE2);
    check(rec3 && rec3.state === 'done', 'the record of ' + HOSTILE2 + ': ' + (rec3 && rec3.state));
    await page.fill('#search', HOSTILE);
    await page.click('#search-form button[type="submit"]');

    mkdirSync(env.FERRY_ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(env.FERRY_ARTIFACTS, 'dashboard-failures.png'), fullPage: true });

    // Clear the fault; retry the 403 group (the token is asked for), then the hostile key.
    const del = await fetch(env.FERRY_DASH_FAULTS, { method: 'DELETE' });
    check(del.status === 200 || del.status === 204, 'faults cleared');
    check(await page.$eval('#token-box', (e) => e.hidden), 'no token asked before a write');
    await page.click('#groups tr[data-count="' + (FAILED - 1) + '"] button.retry');
    await page.waitForSelector('#token-box:not([hidden])', { timeout: 20000 });
    check(true, 'retry asks for the token');
    await page.fill('#token-input', TOKEN);
    await page.click('#token-save');
    const msg = await until(async () => {
      const m = await page.$eval('#retry-msg', (e) => e.textContent);
      return / re-queued/.test(m) ? m : null;
    }, 20, 'the group retry answers');
    check(msg && msg.includes('": ' + (FAILED - 1) + ' re-queued'), 'group retry: ' + msg);
    check(await page.evaluate(() => sessionStorage.getItem('ferry.token')) === TOKEN, 'the token is kept in sessionStorage');
    // A locator, not a handle: the list is redrawn every 2 s (the click retries on a new row).
    await page.locator('#failed tr[data-key="dir/a b+c%ü.txt"] button.retry').click({ timeout: 20000 });
    check(await page.$eval('#token-box', (e) => e.hidden), 'the token is not asked twice');
    const done = await until(async () => {
      const c = await pageCounts(page);
      return c.done === TOTAL && c.failed === 0 ? c : null;
    }, 60, 'every object done on the page');
    if (done) check(true, 'after the retries the page shows ' + JSON.stringify(done));
    const rec2 = await until(async () => {
      const r = JSON.parse((await page.$eval('#record', (p) => p.textContent)) || '{}');
      return r.state === 'done' ? r : null;
    }, 20, 'the hostile key\'s record turns done');
    if (rec2) check(rec2.key === HOSTILE, 'the hostile key is done');
    check(await page.$$eval('#failed tbody tr', (r) => r.length) === 0, 'no failed object left in the list');

    await page.screenshot({ path: join(env.FERRY_ARTIFACTS, 'dashboard.png'), fullPage: true });
    check(true, 'screenshot: ' + join(env.FERRY_ARTIFACTS, 'dashboard.png'));

    // A server without --public-read: the page asks for the token to read, then shows.
    const page2 = await ctx.newPage();
    watch(page2, [[401, /\/v1\/tasks$/]]); // how the page learns that reads need the token (twice)
    await page2.goto(URL2);
    await page2.waitForSelector('#token-box:not([hidden])', { timeout: 20000 });
    check(/public-read/.test(await page2.$eval('#token-why', (e) => e.textContent)), 'reads without a token: the page asks for it');
    await page2.fill('#token-input', 'not-the-token');
    await page2.click('#token-save');
    await until(async () => /refused/.test(await page2.$eval('#token-why', (e) => e.textContent)) &&
      !(await page2.$eval('#token-box', (e) => e.hidden)), 20, 'a wrong token is refused and asked again');
    check(await page2.evaluate(() => sessionStorage.getItem('ferry.token')) === null, 'a refused token is forgotten');
    await page2.fill('#token-input', TOKEN);
    await page2.click('#token-save');
    await page2.waitForSelector('#tasks tr[data-task="' + TASK + '"]', { timeout: 20000 });
    check(true, 'with the token the tasks show');
    await page2.close();

    check(loads === 1, 'the page updated itself without reloading (loaded ' + loads + ' time(s))');
    const off = requests.filter((u) => new URL(u).hostname !== '127.0.0.1');
    check(off.length === 0, requests.length + ' requests, all to 127.0.0.1' + (off.length ? ': ' + off.join(' ') : ''));
    check(problems.length === 0, 'no console error or page error' + (problems.length ? ': ' + problems.join(' | ') : ''));
  } finally {
    await ctx.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log(failures ? failures + ' check(s) failed' : 'all checks passed');
  process.exit(failures ? 1 : 0);
}, (e) => {
  console.error('dashboard.mjs: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
