// The script the agent installs for node's built-in fetch: node releases
// before 22.21 ignore HTTPS_PROXY there (later ones honour
// NODE_USE_ENV_PROXY=1, which every exec also gets), and a guest without a
// NIC reaches nothing but through the proxy. Loaded with
// NODE_OPTIONS=--require; it replaces fetch with a wrapper that, at the
// first call, gives node's own undici Agent a connect function that tunnels
// through the proxy with CONNECT (TLS on top, trusting what node trusts,
// NODE_EXTRA_CA_CERTS included). Nothing is loaded before that first call
// (node's undici costs a start a second under emulation); a dispatcher the
// program set itself stays.
#pragma once

namespace ws::agent {

inline constexpr char kNodeFetchProxyPath[] = "/usr/local/lib/workspace/node-fetch-proxy.cjs";

inline constexpr char kNodeFetchProxyScript[] = R"JS('use strict';
// Written by the workspace agent at each boot; edits are lost. See
// docs/cli.md (Network): node's fetch through the workspace's proxy.
(() => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 21)) return;
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy;
  if (!proxy || typeof globalThis.fetch !== 'function') return;
  let url;
  try { url = new URL(proxy); } catch { return; }
  // Installed at the first fetch: loading node's undici costs every node
  // start a second or more under emulation.
  const original = globalThis.fetch;
  let installed = false;
  globalThis.fetch = function fetch(input, init) {
    if (!installed) {
      installed = true;
      install();
    }
    return original.call(this, input, init);
  };
  function install() {
    void globalThis.Headers;  // loads node's undici, which makes its Agent
    const net = require('net');
    const tls = require('tls');
    const noProxy = (process.env.NO_PROXY || process.env.no_proxy || '')
        .split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const key = Symbol.for('undici.globalDispatcher.1');
    const current = globalThis[key];
    // Only node's own default: a dispatcher the program set stays.
    if (!current || current.constructor?.name !== 'Agent') return;
    const Agent = current.constructor;
    function connect(opts, cb) {
      let called = false;
      const callback = (err, socket) => {  // once, whatever fires after
        if (called) return;
        called = true;
        cb(err, socket);
      };
      const https = opts.protocol === 'https:';
      const host = String(opts.hostname).replace(/^\[(.*)\]$/, '$1');  // [v6] -> v6
      const port = Number(opts.port) || (https ? 443 : 80);
      const target = (host.includes(':') ? `[${host}]` : host) + ':' + port;
      const direct = noProxy.some((n) => host === n || host.endsWith('.' + n.replace(/^\./, '')));
      const done = (s) => {
        s.removeAllListeners('error');
        s.setTimeout(0);
        if (!https) return callback(null, s);
        const t = tls.connect({socket: s, ALPNProtocols: ['http/1.1'],
                               servername: net.isIP(host) ? undefined : opts.servername || host});
        t.once('secureConnect', () => {
          t.removeAllListeners('error');
          callback(null, t);
        });
        t.once('error', callback);
      };
      const s = direct ? net.connect(port, host) : net.connect(Number(url.port) || 80, url.hostname);
      s.once('error', callback);
      s.setTimeout(30000, () => s.destroy(new Error(`connecting to ${target}: timed out`)));
      if (direct) {
        s.once('connect', () => done(s));
        return;
      }
      s.once('connect', () => {
        s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
        let head = Buffer.alloc(0);
        const onData = (chunk) => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (head.length > 16384) s.destroy(new Error('proxy: answer too long'));
            return;
          }
          s.removeListener('data', onData);
          const status = head.subarray(0, head.indexOf('\r\n')).toString();
          if (!/^HTTP\/1\.[01] 200 /.test(status + ' ')) {
            return s.destroy(new Error(`proxy refused CONNECT ${target}: ${status}`));
          }
          if (end + 4 < head.length) s.unshift(head.subarray(end + 4));
          done(s);
        };
        s.on('data', onData);
      });
    }
    globalThis[key] = new Agent({connect});
  }
})();
)JS";

}  // namespace ws::agent
