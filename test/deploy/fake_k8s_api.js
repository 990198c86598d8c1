#!/usr/bin/env node
// A fake Kubernetes API for test/deploy/worker_pod_cost.sh: answers every request 200 and
// appends "METHOD PATH AUTHORIZATION BODY" (one line each) to LOG. Also listens on a second
// port that accepts connections and never answers (a stalled object store), so a copy stays in
// flight. Prints "ready API_PORT HOLE_PORT" once both listen.
//   node fake_k8s_api.js LOG
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const log = process.argv[2];
const api = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; if (body.length > 65536) req.destroy(); });
    req.on('end', () => {
        fs.appendFileSync(log, `${req.method} ${req.url} ${req.headers.authorization || '-'} ${req.headers['content-type'] || '-'} ${body}\n`);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"kind":"Pod"}');
    });
});
const held = [];
const hole = net.createServer((s) => held.push(s));
api.listen(0, '127.0.0.1', () => hole.listen(0, '127.0.0.1', () =>
    console.log(`ready ${api.address().port} ${hole.address().port}`)));
process.on('SIGTERM', () => process.exit(0));
