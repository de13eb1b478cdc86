/**
 * The admin page the HTTP API serves at `{prefix}/admin` when `admin: true`: plain HTML, a
 * stylesheet and a small script that polls `{prefix}/status` every second. The page itself holds
 * no data; the status it reads is behind the API key (or the app's `authorize`), which the page
 * asks for first (empty: rely on the app's session cookies) and keeps in `sessionStorage`. Everything it shows is
 * written with `textContent`, never as HTML, so channel names and error messages cannot inject markup.
 * @module
 */

/** The page. Relative URLs, so it works under any prefix. */
export const ADMIN_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchyard admin</title>
<link rel="stylesheet" href="admin/app.css">
</head>
<body>
<header><h1>switchyard</h1><span id="node"></span><span id="state" class="state">loading…</span></header>
<form id="login" hidden><label>API key <input id="key" type="password" autocomplete="off" placeholder="empty: use my session"></label> <button>Show</button> <span id="login-error"></span></form>
<main id="main" hidden>
<section class="tiles">
<div class="tile"><b id="connections">–</b><span>connections</span></div>
<div class="tile"><b id="subscriptions">–</b><span>subscriptions</span></div>
<div class="tile"><b id="channels-count">–</b><span>channels</span></div>
<div class="tile"><b id="publish-rate">–</b><span>published / s</span></div>
<div class="tile"><b id="congested">–</b><span>congested</span></div>
<div class="tile"><b id="dropped">–</b><span>QoS 0 dropped</span></div>
<div class="tile"><b id="gaps">–</b><span>gaps</span></div>
<div class="tile"><b id="refused">–</b><span>upgrades refused</span></div>
<div class="tile"><b id="loop">–</b><span>event-loop p99 ms</span></div>
</section>
<section><h2>Channels</h2><table id="channels"><thead><tr><th>channel</th><th>rule</th><th>subscribers</th><th>messages / s</th><th>history</th></tr></thead><tbody></tbody></table><p id="channels-more"></p></section>
<section><h2>Top talkers</h2><table id="talkers"><thead><tr><th>connection</th><th>user</th><th>address</th><th>frames in</th><th>subscriptions</th><th>queued bytes</th><th>dropped</th></tr></thead><tbody></tbody></table></section>
<section class="pair">
<div><h2>Closes by code</h2><table id="closes"><thead><tr><th>code</th><th>count</th></tr></thead><tbody></tbody></table></div>
<div><h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th>name</th><th>connections</th><th>up since</th></tr></thead><tbody></tbody></table></div>
</section>
<section><h2>Recent errors</h2><table id="errors"><thead><tr><th>time</th><th>level</th><th>message</th><th>error</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="admin/app.js"></script>
</body>
</html>
`;

/** The stylesheet. */
export const ADMIN_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f4f5f7}
header{display:flex;gap:1em;align-items:baseline;padding:.8em 1.5em;background:#1d2330;color:#fff}
header h1{font-size:1.2em;margin:0}#node{opacity:.7;font-family:monospace}
.state{margin-left:auto;padding:.1em .6em;border-radius:1em;background:#2e7d32}.state.bad{background:#c62828}
main,form{padding:1em 1.5em}section{margin-bottom:1.5em}h2{font-size:1em;margin:.2em 0 .5em}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.5em,1fr));gap:.8em}
.tile{background:#fff;border-radius:6px;padding:.7em;box-shadow:0 1px 2px #0002}.tile b{display:block;font-size:1.6em}.tile span{color:#667}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #e4e6ea;font-variant-numeric:tabular-nums}th{background:#eceef2}
.pair{display:grid;grid-template-columns:1fr 2fr;gap:1em}td.empty{color:#99a}
`;

/** The script: polls `admin/../status` (that is `{prefix}/status`) once a second. */
export const ADMIN_JS = `'use strict';
(function () {
  var STATUS = new URL('status', location.href.replace(/\\/admin\\/?(\\?.*)?(#.*)?$/, '/')).href;
  var stored = sessionStorage.getItem('switchyard-admin-key');
  var key = stored || '';
  var prev = null;
  var $ = function (id) { return document.getElementById(id); };
  function text(id, v) { $(id).textContent = String(v); }
  function rows(id, list, cells, empty) {
    var body = $(id).tBodies[0];
    body.replaceChildren();
    if (list.length === 0) {
      var tr0 = body.insertRow(); var td0 = tr0.insertCell(); td0.colSpan = 9; td0.className = 'empty'; td0.textContent = empty; return;
    }
    list.forEach(function (item) {
      var tr = body.insertRow();
      cells(item).forEach(function (c) { tr.insertCell().textContent = c === undefined || c === null ? '' : String(c); });
    });
  }
  function rate(now, before, seconds) { return seconds > 0 && before !== undefined ? ((now - before) / seconds).toFixed(1) : '–'; }
  function render(s) {
    var c = s.counters;
    var dt = prev ? (s.time - prev.time) / 1000 : 0;
    text('node', s.node + (s.nodes.length > 1 ? ' (' + s.nodes.length + ' nodes)' : ''));
    text('state', s.closing ? 'closing' : 'running');
    $('state').className = 'state' + (s.closing ? ' bad' : '');
    text('connections', c.connections);
    text('subscriptions', c.subscriptions);
    text('channels-count', c.channels);
    text('publish-rate', rate(c.published, prev && prev.counters.published, dt));
    text('congested', c.congestedConnections);
    text('dropped', c.dropped);
    text('gaps', c.gaps);
    text('refused', Object.keys(c.authFailures).reduce(function (n, k) { return n + c.authFailures[k]; }, 0));
    text('loop', (s.eventLoopDelay.p99 * 1000).toFixed(1));
    var before = {};
    if (prev) prev.channels.forEach(function (ch) { before[ch.channel] = ch.offset; });
    rows('channels', s.channels, function (ch) { return [ch.channel, ch.family, ch.subscribers, rate(ch.offset, before[ch.channel], dt), ch.historySize]; }, 'no channel has subscribers');
    text('channels-more', s.channelsNotListed ? s.channelsNotListed + ' more channels not listed' : '');
    rows('talkers', s.topConnections, function (k) { return [k.id, k.userId, k.remoteAddress, k.framesIn, k.subscriptions, k.queuedBytes, k.dropped]; }, 'no connections');
    var closes = Object.keys(c.closes).map(function (code) { return [code, c.closes[code]]; });
    rows('closes', closes, function (x) { return x; }, 'none yet');
    rows('nodes', s.nodes, function (n) { return [n.id, n.name, n.connections, new Date(n.startedAt).toLocaleString()]; }, '');
    rows('errors', s.recentErrors.slice().reverse(), function (e) { return [new Date(e.time).toLocaleTimeString(), e.level, e.msg, e.err]; }, 'none');
    prev = s;
  }
  function showLogin(msg) {
    $('main').hidden = true;
    $('login').hidden = false;
    text('login-error', msg);
    text('state', 'locked');
  }
  function poll() {
    var headers = key ? { authorization: 'Bearer ' + key } : {};
    fetch(STATUS, { headers: headers, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { showLogin(key ? 'that key was refused' : ''); return; }
        if (!r.ok) throw new Error('status ' + r.status);
        return r.json().then(function (s) {
          $('login').hidden = true;
          $('main').hidden = false;
          render(s);
          setTimeout(poll, 1000);
        });
      })
      .catch(function () {
        text('state', 'unreachable');
        $('state').className = 'state bad';
        setTimeout(poll, 3000);
      });
  }
  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    key = $('key').value;
    sessionStorage.setItem('switchyard-admin-key', key);
    poll();
  });
  // Ask for the key first rather than polling into a 401; an empty key (a session the app's
  // authorize accepts) is remembered as such.
  if (stored === null) showLogin(''); else poll();
})();
`;
