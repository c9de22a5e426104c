// ClP2p census dashboard. Reads the same /api/v1 endpoints as any client and draws every chart as SVG with its
// numbers in a table beside it. No third-party code: bars and lines are a few SVG elements each.
'use strict';

const NS = 'http://www.w3.org/2000/svg';
const $ = (sel, root = document) => root.querySelector(sel);
const state = { network: '', crawl: 'latest', crawls: [], networks: [], networksLoaded: null, info: null, nodes: { offset: 0, limit: 25 }, timer: 0, generation: 0 };
const LIVE_REFRESH_MS = 5000;
const PALETTE = ['#2f6fdf', '#e07b39', '#3a9d5d', '#b04fb3', '#c9a227', '#4bb3c4', '#d0455b', '#7d6b5a'];

function el(tag, attrs = {}, ...children) {
  const e = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v; else if (k === 'class') e.setAttribute('class', v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

async function api(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  if (!r.ok) {
    let detail = r.statusText;
    try { const p = await r.json(); detail = p.detail || p.title || detail; } catch { /* not JSON */ }
    throw new Error(`${path}: ${r.status} ${detail}`);
  }
  return r.json();
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}

const NUMBER = new Intl.NumberFormat('en-US');   // one formatter: toLocaleString builds one per call
const fmt = n => (n === null || n === undefined) ? '–' : NUMBER.format(Number(n));
const pct = s => (s * 100).toFixed(1) + '%';
const keyText = g => g.key === null ? '(unknown)' : (g.label && g.label !== g.key ? `${g.key} (${g.label})` : g.key);

function showError(message) {
  const e = $('#error');
  e.textContent = message;
  e.hidden = !message;
}

// A horizontal bar chart of census groups, with a table of the same numbers (key, count, share).
function bars(container, groups, opts = {}) {
  container.replaceChildren();
  const name = opts.name || '';
  if (!groups.length) {
    container.append(el('p', { class: 'empty', text: opts.empty || 'no nodes' }));
    container.append(numsTable(name, [], opts));
    return;
  }
  const shown = groups.slice(0, opts.max || 12);
  const rowH = 20, labelW = 150, w = 480, h = shown.length * rowH + 4;
  const max = Math.max(...shown.map(g => g.count));
  const svg = el('svg:svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': opts.title || name });
  shown.forEach((g, i) => {
    const y = i * rowH + 2, bw = max ? Math.max(1, (w - labelW - 90) * g.count / max) : 0;
    const label = keyText(g);
    const row = el('svg:g', { class: opts.onSelect ? 'clickable' : null, 'data-key': g.key ?? '' },
      el('svg:text', { x: 0, y: y + 14, text: label.length > 22 ? label.slice(0, 21) + '…' : label }),
      el('svg:rect', { class: 'bar', x: labelW, y: y + 2, width: bw, height: rowH - 6 }),
      el('svg:text', { x: labelW + bw + 4, y: y + 14, text: `${fmt(g.count)} · ${pct(g.share)}` }));
    if (opts.onSelect) row.addEventListener('click', () => opts.onSelect(g));
    svg.append(row);
  });
  container.append(svg, numsTable(name, groups, opts));
}

function numsTable(name, groups, opts = {}) {
  const t = el('table', { class: 'nums', 'data-dimension': name },
    el('thead', {}, el('tr', {}, el('th', { text: opts.keyHeader || 'group' }), el('th', { class: 'num', text: 'nodes' }), el('th', { class: 'num', text: 'share' }))));
  const body = el('tbody');
  for (const g of groups) {
    const tr = el('tr', { 'data-key': g.key ?? '' }, el('td', { text: keyText(g) }), el('td', { class: 'num', 'data-count': g.count, text: fmt(g.count) }),
      el('td', { class: 'num', text: pct(g.share) }));
    if (opts.onSelect) { tr.classList.add('clickable'); tr.addEventListener('click', () => opts.onSelect(g)); }
    body.append(tr);
  }
  t.append(body);
  return t;
}

// Lines over crawls: the node count (left) and the top clients' shares, with a table of every point.
function lines(container, points) {
  container.replaceChildren();
  if (!points.length) { container.append(el('p', { class: 'empty', text: 'no crawl in this range' })); return; }
  const totals = new Map();
  for (const p of points) for (const g of p.groups) if (g.key !== null) totals.set(g.key, (totals.get(g.key) || 0) + g.count);
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(e => e[0]);
  const w = 640, h = 220, padL = 48, padR = 44, padT = 10, padB = 24;
  const n = points.length, maxTotal = Math.max(1, ...points.map(p => p.total));
  const x = i => padL + (n === 1 ? (w - padL - padR) / 2 : i * (w - padL - padR) / (n - 1));
  const yCount = v => padT + (h - padT - padB) * (1 - v / maxTotal);
  const yShare = s => padT + (h - padT - padB) * (1 - s);
  const svg = el('svg:svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': 'nodes and client shares per crawl' },
    el('svg:line', { class: 'axis', x1: padL, y1: h - padB, x2: w - padR, y2: h - padB }),
    el('svg:text', { x: 2, y: padT + 8, text: fmt(maxTotal) }), el('svg:text', { x: 2, y: h - padB, text: '0' }),
    el('svg:text', { x: w - padR + 4, y: padT + 8, text: '100%' }),
    el('svg:text', { x: padL, y: h - 6, text: new Date(points[0].started_at).toISOString().slice(0, 16).replace('T', ' ') }),
    el('svg:text', { x: w - padR - 100, y: h - 6, text: new Date(points[n - 1].started_at).toISOString().slice(0, 16).replace('T', ' ') }));
  const path = (ys, color, dash) => {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${ys(p).toFixed(1)}`).join(' ');
    svg.append(el('svg:path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash }));
    if (n === 1) svg.append(el('svg:circle', { cx: x(0), cy: ys(points[0]), r: 3, fill: color }));
  };
  path(p => yCount(p.total), '#1b1f24', '4 3');
  const shareOf = (p, key) => { const g = p.groups.find(g => g.key === key); return g ? g.share : 0; };
  top.forEach((key, i) => path(p => yShare(shareOf(p, key)), PALETTE[i % PALETTE.length]));
  const legend = el('div', { class: 'legend' }, el('span', {}, el('i', { style: null, class: 'l-total' }), 'nodes (dashed, left axis)'));
  top.forEach((key, i) => { const sw = el('i'); sw.style.background = PALETTE[i % PALETTE.length]; legend.append(el('span', {}, sw, `${key} share`)); });
  const head = el('tr', {}, el('th', { text: 'crawl' }), el('th', { text: 'started' }), el('th', { class: 'num', text: 'nodes' }), ...top.map(k => el('th', { class: 'num', text: k })));
  const body = el('tbody');
  for (const p of points) {
    body.append(el('tr', { 'data-crawl': p.crawl_id }, el('td', { text: p.crawl_id }), el('td', { text: p.started_at.slice(0, 16).replace('T', ' ') }),
      el('td', { class: 'num', 'data-count': p.total, text: fmt(p.total) }), ...top.map(k => el('td', { class: 'num', text: pct(shareOf(p, k)) }))));
  }
  container.append(svg, legend, el('div', { class: 'scroll' }, el('table', { class: 'nums', 'data-dimension': 'timeseries' }, el('thead', {}, head), body)));
}

// The crawl every panel reads: the one the crawl picker resolved to ('latest' becomes its id), so that all panels
// count the same crawl even if another one finishes while the page loads.
const crawlOf = () => state.info ? String(state.info.id) : state.crawl;

function census(dimension, extra = {}) {
  return api('/api/v1/census' + qs({ dimension, crawl: crawlOf(), network: state.network, ...extra }));
}

function panel(name) { return $(`[data-panel="${name}"] .chart`); }

const BAR_PANELS = ['client', 'os', 'arch', 'country', 'asn', 'fork_digest', 'sync_health', 'finalized_lag', 'cgc', 'attnets', 'syncnets', 'dial_outcome', 'reachability', 'ip_family'];
const NUMERIC = new Set(['cgc', 'attnets', 'syncnets']);

// Every census panel from one answer (GET /api/v1/census/set: each census as /api/v1/census gives it). Returns true
// when a node-table filter lost its value (not offered by this crawl), so the table must be drawn again.
async function drawCensus() {
  const set = await api('/api/v1/census/set' + qs({ dimensions: [...BAR_PANELS, 'discovery', 'client_version'].join(','), crawl: crawlOf(), network: state.network }));
  const byDim = Object.fromEntries(set.censuses.map(r => [r.dimension, r]));
  const outcome = byDim.dial_outcome;
  const count = (r, key) => (r.groups.find(g => g.key === key) || { count: 0 }).count;
  const metric = (name, value) => { $(`[data-metric="${name}"]`).textContent = fmt(value); };
  metric('found', outcome.total);
  metric('cl', byDim.fork_digest.total - count(byDim.fork_digest, null));
  metric('dialled', outcome.total - count(outcome, 'not_dialled'));
  metric('ok', count(outcome, 'ok'));
  // nodes that answered discovery, fully enumerated or not; of them, those left short of a distance (0 in a healthy crawl)
  metric('answered', count(byDim.discovery, 'answered') + count(byDim.discovery, 'incomplete'));
  metric('incomplete', count(byDim.discovery, 'incomplete'));
  for (const d of BAR_PANELS) {
    let groups = byDim[d].groups;
    if (NUMERIC.has(d)) groups = [...groups].sort((a, b) => (a.key === null) - (b.key === null) || Number(a.key) - Number(b.key));
    const empty = (d === 'country' || d === 'asn') ? 'no GeoIP data for this crawl' : 'no nodes';
    bars(panel(d), groups, { name: d, empty, max: NUMERIC.has(d) ? 70 : 12, onSelect: d === 'client' ? showVersions : null });
  }
  const versions = byDim.client_version;
  const vs = [...new Set(versions.groups.filter(g => g.key !== null).map(g => g.key.slice(g.key.indexOf('/') + 1)).filter(v => v))].sort();
  return [
    fillFilter('#f-client', byDim.client.groups.filter(g => g.key !== null).map(g => [g.key, g.key])),
    fillFilter('#f-country', byDim.country.groups.filter(g => g.key !== null).map(g => [g.key, g.key])),
    fillFilter('#f-fork', byDim.fork_digest.groups.filter(g => g.key !== null).map(g => [g.key, keyText(g)])),
    fillFilter('#f-outcome', outcome.groups.map(g => [g.key, g.key])),
    fillFilter('#f-version', vs.map(v => [v, v])),
  ].some(lost => lost);
}

async function showVersions(group) {
  if (group.key === null) return;
  const r = await census('client_version');
  const groups = r.groups.filter(g => g.label === group.key).map(g => ({ ...g, label: null }));
  $('#versions').hidden = false;
  $('#versions-title').textContent = `${group.key} versions`;
  bars($('#versions .chart'), groups, { name: 'client_version', keyHeader: 'version', max: 20 });
}

// Offers the values of this crawl; true when the selected value is not among them (the filter is cleared).
function fillFilter(sel, pairs) {
  const s = $(sel), keep = s.value;
  while (s.options.length > 1) s.remove(1);
  for (const [value, text] of pairs) s.append(el('option', { value, text }));
  s.value = pairs.some(p => p[0] === keep) ? keep : '';
  return s.value !== keep;
}

// A custom network whose crawl stored its config (--config-yaml): the API rebuilds its fork schedule from it.
function customNetwork(crawl) {
  try {
    const p = crawl && crawl.parameters_json ? JSON.parse(crawl.parameters_json) : null;
    return p && p.config_yaml && p.network_name ? p.network_name : '';
  } catch { return ''; }
}

async function drawReadiness() {
  const info = $('#readiness-info'), chart = panel('readiness');
  const known = new Set(state.networks.map(n => n.name));
  const net = state.network || (state.info && known.has(state.info.network) ? state.info.network : customNetwork(state.info));
  if (!net) {
    info.textContent = 'Pick a network to see its readiness (the crawl\'s network is not a built-in one, and it stored no --config-yaml).';
    chart.replaceChildren();
    return;
  }
  const r = await api(`/api/v1/networks/${encodeURIComponent(net)}/readiness` + qs({ crawl: crawlOf() }));
  const f = r.fork;
  info.textContent = `${r.network}: ${f.name} (${f.kind}, epoch ${fmt(f.epoch)}, ${f.active ? 'active since' : 'activates'} ${f.activates_at.slice(0, 10)}). ` +
    `${fmt(r.announcing)} of ${fmt(r.nodes)} consensus nodes announce it (${pct(r.announcing_share)}); ` +
    `${fmt(r.at_or_above_release)} of ${fmt(r.with_known_release)} with a known first release run it or later (${pct(r.release_share)}).`;
  const groups = r.clients.map(c => ({ key: c.client, label: null, count: c.announcing, share: c.announcing_share, nodes: c.nodes, release: c.at_or_above_release, first: c.first_release }));
  chart.replaceChildren();
  if (!groups.length) { chart.append(el('p', { class: 'empty', text: `no node of ${r.network} in this crawl` })); }
  else {
    const rowH = 20, labelW = 150, w = 480, h = groups.length * rowH + 4;
    const svg = el('svg:svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': 'readiness by client' });
    groups.forEach((g, i) => {
      const y = i * rowH + 2, full = w - labelW - 110, bw = Math.max(1, full * g.share);
      svg.append(el('svg:g', { 'data-key': g.key ?? '' }, el('svg:text', { x: 0, y: y + 14, text: g.key ?? '(unknown)' }),
        el('svg:rect', { class: 'bar alt', x: labelW, y: y + 2, width: full, height: rowH - 6 }),
        el('svg:rect', { class: 'bar', x: labelW, y: y + 2, width: bw, height: rowH - 6 }),
        el('svg:text', { x: labelW + full + 4, y: y + 14, text: `${pct(g.share)} of ${fmt(g.nodes)}` })));
    });
    chart.append(svg);
  }
  const body = el('tbody');
  for (const c of r.clients) {
    body.append(el('tr', { 'data-key': c.client ?? '' }, el('td', { text: c.client ?? '(unknown)' }), el('td', { class: 'num', 'data-count': c.nodes, text: fmt(c.nodes) }),
      el('td', { class: 'num', 'data-announcing': c.announcing, text: fmt(c.announcing) }), el('td', { class: 'num', text: pct(c.announcing_share) }),
      el('td', { text: c.first_release ? c.first_release.version : '–' }),
      el('td', { class: 'num', 'data-release': c.at_or_above_release ?? '', text: c.at_or_above_release === null ? '–' : fmt(c.at_or_above_release) })));
  }
  chart.append(el('div', { class: 'scroll' }, el('table', { class: 'nums', 'data-dimension': 'readiness' },
    el('thead', {}, el('tr', {}, ...['client', 'nodes', 'announcing', 'share', 'first release', 'at or above'].map((t, i) => el('th', { class: i && i !== 4 ? 'num' : null, text: t })))), body)));
}

async function drawTimeSeries() {
  const days = Number($('#range').value);
  const from = new Date(Date.now() - days * 86400000).toISOString();
  const r = await api('/api/v1/census/timeseries' + qs({ dimension: 'client', from, network: state.network }));
  lines(panel('timeseries'), r.points);
}

async function drawChurn(list) {
  const chart = panel('churn'), info = $('#churn-info');
  const current = state.info;
  const crawls = await list;
  const i = crawls.findIndex(c => c.id === current.id);
  const previous = crawls.slice(i + 1).find(c => c.network === current.network);
  if (!previous) { info.textContent = 'No earlier crawl of this network to compare with.'; chart.replaceChildren(); return; }
  const r = await api('/api/v1/churn' + qs({ from: previous.id, to: current.id, network: state.network, limit: 0 }));
  info.textContent = `crawl ${r.from.id} → crawl ${r.to.id}`;
  const total = Math.max(1, r.to.visits);
  const groups = [['appeared', r.appeared], ['vanished', r.vanished], ['client_version_changed', r.client_version_changed], ['fork_changed', r.fork_changed]]
    .map(([key, count]) => ({ key, label: null, count, share: count / total }));
  bars(chart, groups, { name: 'churn', keyHeader: 'change' });
}

async function drawUptime() {
  const r = await api('/api/v1/uptime' + qs({ network: state.network }));
  const chart = panel('uptime');
  chart.replaceChildren();
  for (const w of r.windows) {
    const sub = el('div');
    chart.append(el('h3', { text: `last ${w.window}: ${fmt(w.up)} nodes up` }), sub);
    bars(sub, w.groups, { name: `uptime_${w.window}`, keyHeader: 'client', max: 8, empty: 'no successful dial in this window' });
  }
}

async function drawNodes() {
  const f = state.nodes;
  const params = { crawl: crawlOf(), ...selection(), offset: f.offset, limit: f.limit };
  setExports();
  $('#nodes').dataset.state = 'loading';
  const page = await api('/api/v1/nodes' + qs(params));
  const body = $('#nodes tbody');
  body.replaceChildren();
  for (const n of page.items) {
    const tr = el('tr', { 'data-node': n.node_id }, el('td', { text: n.node_id.slice(0, 16) + '…', title: n.node_id }), el('td', { text: n.client ?? '' }),
      el('td', { text: n.client_version ?? '' }), el('td', { text: n.ip ?? '' }), el('td', { text: n.country ?? '' }),
      el('td', { text: n.fork_digest ?? '' }), el('td', { text: n.dial_outcome }));
    tr.addEventListener('click', () => { for (const s of body.querySelectorAll('.selected')) s.classList.remove('selected'); tr.classList.add('selected'); showNode(n.node_id).catch(fail); });
    body.append(tr);
  }
  const end = Math.min(page.offset + page.items.length, page.total);
  $('#page-info').textContent = page.total ? `${fmt(page.offset + 1)}–${fmt(end)} of ${fmt(page.total)}` : 'no node matches';
  $('#page-info').dataset.total = page.total;
  $('#prev').disabled = page.offset === 0;
  $('#next').disabled = end >= page.total;
  $('#nodes').dataset.state = 'ready';
}

async function showNode(id) {
  const [h, up] = await Promise.all([api(`/api/v1/nodes/${id}`), api(`/api/v1/nodes/${id}/uptime`)]);
  const d = $('#node-detail');
  const visits = el('tbody');
  for (const v of h.visits) {
    visits.append(el('tr', {}, el('td', { text: v.visited_at.slice(0, 19).replace('T', ' ') }), el('td', { text: v.kind }), el('td', { text: v.crawl_id ?? '' }),
      el('td', { text: v.dial_outcome }), el('td', { text: v.client ? `${v.client} ${v.client_version ?? ''}` : '' }), el('td', { class: 'num', text: v.head_slot ?? '' })));
  }
  const sessions = el('tbody');
  for (const s of up.sessions) {
    sessions.append(el('tr', {}, el('td', { text: s.first_ok.slice(0, 19).replace('T', ' ') }), el('td', { text: s.last_ok.slice(0, 19).replace('T', ' ') }),
      el('td', { text: s.first_failed ? s.first_failed.slice(0, 19).replace('T', ' ') : 'still up' }), el('td', { class: 'num', text: s.ok_visits })));
  }
  d.replaceChildren(
    el('h3', { text: `Node ${h.node.node_id}` }),
    el('p', { class: 'muted', text: `peer ${h.node.peer_id ?? '–'} · first seen ${h.node.first_seen.slice(0, 19)} · last seen ${h.node.last_seen.slice(0, 19)} · ENR seq ${h.node.latest_seq} · ${up.ok_visits} of ${up.dialled_visits} dials ok` }),
    el('div', { class: 'scroll' }, el('table', { 'data-detail': 'visits' }, el('thead', {}, el('tr', {}, ...['visited', 'kind', 'crawl', 'outcome', 'client', 'head slot'].map(t => el('th', { text: t })))), visits)),
    el('h3', { text: 'Uptime sessions' }),
    el('div', { class: 'scroll' }, el('table', { 'data-detail': 'sessions' }, el('thead', {}, el('tr', {}, ...['first ok', 'last ok', 'ended by failure', 'ok dials'].map(t => el('th', { text: t })))), sessions)));
  d.hidden = false;
}

// The node table's selection: network and filters (the same parameters for /nodes and the export).
function selection() {
  return {
    network: state.network, q: $('#q').value.trim(), client: $('#f-client').value, version: $('#f-version').value,
    country: $('#f-country').value, fork: $('#f-fork').value, outcome: $('#f-outcome').value,
  };
}

// Export buttons download the current selection: the crawl, the network and the node table's filters.
function setExports() {
  const id = state.info ? state.info.id : 'latest';
  const sel = selection();
  for (const f of ['csv', 'ndjson', 'parquet']) {
    const a = $('#export-' + f);
    a.href = `/api/v1/crawls/${id}/export` + qs({ format: f, ...sel });
    a.setAttribute('download', `clp2p-crawl-${id}.${f}`);
  }
}

function fail(e) { showError(String(e && e.message || e)); document.body.dataset.ready = 'error'; }

// Draws every panel for the current network and crawl; the page is usable when body[data-ready="1"].
async function refresh() {
  const gen = ++state.generation;
  document.body.dataset.ready = '0';
  clearTimeout(state.timer);
  performance.clearMarks();   // a live page redraws every 5 s: keep only this drawing's marks
  try {
    // Two round trips: the crawl, then every panel at once. The crawl list (the picker, and the churn panel's previous
    // crawl) loads beside them, off the panels' path: it counts the visits of every crawl it lists.
    const list = api('/api/v1/crawls' + qs({ limit: 200 })).then(page => {
      if (gen === state.generation) { state.crawls = page.items; fillCrawls(); }
      return page.items;
    });
    list.catch(() => {});   // handled where it is awaited; not an unhandled rejection when the crawl itself failed first
    const [info] = await Promise.all([api('/api/v1/crawls/' + (state.crawl === 'latest' ? 'latest' : state.crawl)), state.networksLoaded]);
    state.info = info;
    const live = state.info.state === 'running';
    $('#live').hidden = !live;
    $('#crawl-info').textContent = `crawl ${state.info.id} of ${state.info.network}, ${state.info.state}, started ${state.info.started_at.slice(0, 19).replace('T', ' ')} UTC`;
    setExports();
    const nodes = drawNodes();
    const census = drawCensus().then(async lost => { await nodes; if (lost) await drawNodes(); });
    // performance marks "drawn:<panel>" let a benchmark tell which panel the page waited for
    const drawn = (name, p) => p.then(() => { performance.mark('drawn:' + name); });
    await Promise.all([drawn('crawl-list', list), drawn('census', census), drawn('nodes', nodes), drawn('readiness', drawReadiness()),
      drawn('timeseries', drawTimeSeries()), drawn('churn', drawChurn(list)), drawn('uptime', drawUptime())]);
    if (gen !== state.generation) return;
    showError('');
    document.body.dataset.ready = '1';
    // the frame that shows every panel: what the page benchmark times (performance mark "ready", from navigation start)
    requestAnimationFrame(() => { if (gen === state.generation) performance.mark('ready'); });
    if (live) state.timer = setTimeout(() => refresh().catch(fail), LIVE_REFRESH_MS);
  } catch (e) {
    if (gen === state.generation) fail(e);
  }
}

function fillCrawls() {
  const s = $('#crawl');
  const items = [['latest', 'latest'], ...state.crawls.map(c => [String(c.id), `#${c.id} ${c.network} ${c.started_at.slice(0, 16).replace('T', ' ')} ${c.state === 'running' ? '(running)' : ''}`])];
  s.replaceChildren(...items.map(([value, text]) => el('option', { value, text })));
  s.value = state.crawl;
}

async function start() {
  if (!document.body) return;
  // ?crawl=ID&network=NAME&range=DAYS pick the initial view (links can be shared)
  const params = new URLSearchParams(location.search);
  if (/^\d+$/.test(params.get('crawl') || '')) state.crawl = params.get('crawl');
  if (params.get('network')) state.network = params.get('network');
  const range = $('#range');
  if (params.get('range') && !['1', '7', '30', '90', '365'].includes(params.get('range'))) range.append(el('option', { value: params.get('range'), text: `${params.get('range')} days` }));
  if (/^\d+$/.test(params.get('range') || '')) range.value = params.get('range');
  // the network list arrives with the crawls (refresh waits for it before drawing)
  state.networksLoaded = api('/api/v1/networks').then(networks => {
    state.networks = networks;
    const sel = $('#network');
    for (const n of state.networks) sel.append(el('option', { value: n.name, text: n.name }));
    sel.value = state.networks.some(n => n.name === state.network) ? state.network : '';
    state.network = sel.value;
  });
  $('#network').addEventListener('change', e => { state.network = e.target.value; state.nodes.offset = 0; refresh(); });
  $('#crawl').addEventListener('change', e => { state.crawl = e.target.value; state.nodes.offset = 0; refresh(); });
  $('#range').addEventListener('change', () => drawTimeSeries().catch(fail));
  const refilter = () => { state.nodes.offset = 0; drawNodes().catch(fail); };
  for (const id of ['#f-client', '#f-version', '#f-country', '#f-fork', '#f-outcome']) $(id).addEventListener('change', refilter);
  let debounce = 0;
  $('#q').addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(refilter, 250); });
  $('#filters').addEventListener('submit', e => { e.preventDefault(); refilter(); });
  $('#prev').addEventListener('click', () => { state.nodes.offset = Math.max(0, state.nodes.offset - state.nodes.limit); drawNodes().catch(fail); });
  $('#next').addEventListener('click', () => { state.nodes.offset += state.nodes.limit; drawNodes().catch(fail); });
  await refresh();
}

start();
