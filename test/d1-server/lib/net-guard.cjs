// net-guard.cjs — preload (`NODE_OPTIONS=--require …/net-guard.cjs`) that keeps a Node process on
// this machine: every TCP/TLS connection to a host other than loopback is refused before any
// packet leaves, and written (one line: "<pid> <host>:<port>") to $PG2D1_NET_GUARD_LOG. Each
// process that loads it appends "<pid> loaded" there too, so a test can tell it was active.
// Must never let a connection to a non-loopback address through. Used by test/wrangler.test.mjs
// so the real wrangler (and npx) prove they reach only the local D1 server; not part of the server.
"use strict";
const net = require("node:net");
const fs = require("node:fs");

const LOG = process.env.PG2D1_NET_GUARD_LOG;

function note(line) {
  if (!LOG) return;
  try {
    fs.appendFileSync(LOG, `${process.pid} ${line}\n`);
  } catch { /* best effort */ }
}

function isLoopback(host) {
  if (host === undefined || host === null || host === "" || host === "localhost") return true;
  const h = String(host).replace(/^\[|\]$/g, "").toLowerCase();
  return h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

const original = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
  let opts = args[0];
  if (Array.isArray(opts)) opts = opts[0]; // internal form: [options, callback]
  let host;
  let port;
  let ipcPath;
  if (opts !== null && typeof opts === "object") {
    host = opts.host;
    port = opts.port;
    if (typeof opts.path === "string" && opts.path !== "") ipcPath = opts.path; // http passes path: null
  } else if (typeof opts === "string" && !/^\d+$/.test(opts)) {
    ipcPath = opts;
  } else {
    port = opts;
    host = typeof args[1] === "string" ? args[1] : undefined;
  }
  if (ipcPath === undefined && !isLoopback(host)) {
    note(`${host}:${port}`);
    const err = new Error(`pg2d1 net guard: connection to ${host}:${port} refused (only loopback allowed)`);
    err.code = "ECONNREFUSED";
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return original.apply(this, args);
};
net.Socket.prototype.connect.pg2d1NetGuard = true;
note("loaded");

module.exports = { isLoopback };
