// facesynth studio page: plain JavaScript, no build step. The server is
// the only source of truth: this page renders what its event stream says,
// so a reload (or a second tab) shows the same jobs and progress.
'use strict';

const TOKEN_HEADER = 'X-Studio-Token';
const token = document.querySelector('meta[name="studio-token"]').content;
const state = { jobs: new Map(), uploads: new Map(), samples: [] };
const cards = new Map(); // job id -> its <article>

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.dataset[k.slice(5)] = v;
    else e[k] = v;
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

// api calls the server; state-changing requests carry the page's token.
async function api(method, url, body) {
  const opts = { method, headers: { [TOKEN_HEADER]: token } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(url, opts);
  if (!res.ok) throw new Error(await errorText(res));
  return res.status === 204 ? null : res.json();
}

async function errorText(res) {
  try { return (await res.json()).error || res.statusText; } catch { return res.status + ' ' + res.statusText; }
}

function say(text, ok) {
  const m = $('#message');
  m.textContent = text;
  m.className = 'message ' + (ok ? 'ok' : 'bad');
}

// ---- uploads -------------------------------------------------------------

function uploadFile(file) {
  // XMLHttpRequest rather than fetch: it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const shown = $('#upload-progress');
    xhr.open('POST', '/api/uploads');
    xhr.setRequestHeader(TOKEN_HEADER, token);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) shown.textContent = `uploading ${file.name}: ${Math.floor(100 * e.loaded / e.total)} %`;
    };
    xhr.onload = () => {
      shown.textContent = '';
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201) resolve(body);
      else reject(new Error(body.error || `${xhr.status} ${xhr.statusText}`));
    };
    xhr.onerror = () => { shown.textContent = ''; reject(new Error('upload failed: connection lost')); };
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

$('#upload-input').addEventListener('change', async (e) => {
  const files = Array.from(e.target.files);
  e.target.value = '';
  for (const f of files) {
    try {
      const u = await uploadFile(f);
      state.uploads.set(u.id, u);
      renderUploads();
      say(`uploaded ${u.name} (${u.kind})`, true);
    } catch (err) {
      say(`${f.name}: ${err.message}`, false);
    }
  }
});

function fmtDuration(s) {
  if (!(s >= 0)) return '';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

function fmtSize(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + ' GiB';
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(0) + ' KiB';
  return n + ' B';
}

function uploadMeta(u) {
  const parts = [u.kind];
  if (u.width) parts.push(`${u.width}×${u.height}`);
  if (u.duration) parts.push(fmtDuration(u.duration));
  parts.push(fmtSize(u.size));
  return parts.join(' · ');
}

function thumb(u) {
  if (u.kind === 'image') return el('img', { class: 'thumb', src: `/api/uploads/${u.id}`, alt: '' });
  if (u.kind === 'video') return el('video', { class: 'thumb', src: `/api/uploads/${u.id}#t=0.5`, preload: 'metadata', muted: true });
  return el('div', { class: 'thumb', text: '♪ audio' });
}

function sortedUploads() {
  return Array.from(state.uploads.values()).sort((a, b) => b.created.localeCompare(a.created));
}

function renderUploads() {
  const list = $('#uploads');
  const want = sortedUploads();
  const have = new Map($$('li', list).map((li) => [li.dataset.id, li]));
  list.replaceChildren(...want.map((u) => have.get(u.id) || uploadItem(u)));
  renderSelects();
  const samples = $('#samples');
  const names = new Set(want.map((u) => u.name));
  samples.replaceChildren(...state.samples.filter((n) => !names.has(n)).map((n) =>
    el('button', { type: 'button', text: '+ ' + n, title: 'add the sample ' + n, onclick: () => addSample(n) })));
}

function uploadItem(u) {
  const del = el('button', { class: 'x', type: 'button', text: '✕', title: 'delete ' + u.name });
  del.onclick = async () => {
    try { await api('DELETE', `/api/uploads/${u.id}`); state.uploads.delete(u.id); renderUploads(); } catch (err) { say(err.message, false); }
  };
  return el('li', { 'data-id': u.id }, thumb(u),
    el('div', {}, el('div', { class: 'name', text: u.name, title: u.name }), el('div', { class: 'meta', text: uploadMeta(u) })), del);
}

async function addSample(name) {
  try {
    const u = await api('POST', `/api/samples/${encodeURIComponent(name)}`);
    state.uploads.set(u.id, u);
    renderUploads();
    say(`added ${name}`, true);
  } catch (err) { say(err.message, false); }
}

// fits says whether an upload may go into a select whose data-kinds lists
// kinds ("sound": a video with an audio track).
function fits(u, kinds) {
  return kinds.includes(u.kind) || (kinds.includes('sound') && u.kind === 'video' && u.has_audio);
}

function renderSelects() {
  const ups = sortedUploads();
  for (const sel of $$('select[data-kinds]')) {
    const kinds = sel.dataset.kinds.split(' ');
    const keep = sel.value;
    const opts = [];
    if (sel.dataset.none) opts.push(el('option', { value: '', text: sel.dataset.none }));
    for (const u of ups) if (fits(u, kinds)) opts.push(el('option', { value: u.id, text: `${u.name} (${u.kind})` }));
    if (!opts.length) opts.push(el('option', { value: '', text: '— upload one —' }));
    sel.replaceChildren(...opts);
    // Keep the user's choice; until they choose, take the newest that fits.
    if (sel.dataset.touched && opts.some((o) => o.value === keep)) sel.value = keep;
    else {
      const first = opts.find((o) => o.value !== '');
      sel.value = first ? first.value : '';
    }
  }
}

for (const sel of $$('select[data-kinds]')) sel.addEventListener('change', () => { sel.dataset.touched = '1'; });

// ---- new jobs --------------------------------------------------------------

for (const tab of $$('.tabs button')) {
  tab.addEventListener('click', () => {
    for (const t of $$('.tabs button')) t.classList.toggle('on', t === tab);
    for (const f of $$('.job-form')) f.hidden = f.dataset.kind !== tab.dataset.tab;
  });
}

for (const form of $$('.job-form')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const spec = { kind: form.dataset.kind };
    for (const f of form.elements) {
      if (!f.name) continue;
      if (f.type === 'checkbox') { if (f.checked) spec[f.name] = true; continue; }
      if (f.value === '') continue;
      spec[f.name] = f.type === 'number' ? Number(f.value) : f.value;
    }
    const button = $('button[type=submit]', form);
    button.disabled = true;
    try {
      const j = await api('POST', '/api/jobs', spec);
      state.jobs.set(j.id, j);
      renderJob(j);
      say(`started ${j.spec.kind} job ${j.id}`, true);
    } catch (err) {
      say(err.message, false);
    } finally {
      button.disabled = false;
    }
  });
}

// ---- jobs ----------------------------------------------------------------

const ACTIVE = new Set(['queued', 'running']);
const RESUMABLE = new Set(['cancelled', 'failed', 'interrupted']);

function uploadName(id) {
  const u = state.uploads.get(id);
  return u ? u.name : '(deleted)';
}

function inputsText(sp) {
  const roles = { talk: ['photo', 'audio'], swap: ['source', 'target'], reenact: ['driver', 'target'], verify: ['file'] }[sp.kind] || [];
  const parts = roles.filter((r) => sp[r]).map((r) => `${r}: ${uploadName(sp[r])}`);
  if (sp.kind === 'talk' && sp.text) parts.push(`text: “${sp.text.length > 60 ? sp.text.slice(0, 60) + '…' : sp.text}”`);
  if (sp.kind === 'talk' && sp.emotion && sp.emotion !== 'neutral') parts.push(sp.emotion);
  if (sp.kind === 'swap') parts.push(`quality ${sp.quality}${sp.minutes ? `, ${sp.minutes} min` : ''}`);
  if (sp.limit) parts.push(`${sp.limit} frames`);
  return parts.join(' · ');
}

function newCard(j) {
  const card = el('article', { class: 'job', 'data-id': j.id });
  const act = (label, cls, fn) => el('button', { type: 'button', class: cls, text: label, onclick: fn });
  card.append(
    el('header', {},
      el('span', { class: 'kind', text: j.spec.kind }),
      el('code', { class: 'id', text: j.id }),
      el('span', { class: 'state' }),
      el('span', { class: 'actions' },
        act('Cancel', 'cancel', () => jobAction(j.id, 'cancel')),
        act('Resume', 'resume', () => jobAction(j.id, 'resume')),
        act('Delete', 'delete', () => deleteJob(j.id)))),
    el('div', { class: 'inputs' }),
    el('progress', { max: 100, value: 0 }),
    el('div', { class: 'line' },
      el('span', { class: 'pct' }), el('span', { class: 'stage' }), el('span', { class: 'eta' }), el('span', { class: 'elapsed muted' })),
    el('div', { class: 'status' }),
    el('div', { class: 'error' }),
    el('div', { class: 'training', hidden: true },
      el('figure', {}, el('figcaption', { text: 'training preview' }), el('img', { class: 'preview', alt: 'training preview' })),
      el('figure', {}, el('figcaption', { text: 'loss' }), el('img', { class: 'loss', alt: 'loss curve' }))),
    el('div', { class: 'result', hidden: true }));
  return card;
}

async function jobAction(id, what) {
  try { renderJob(await api('POST', `/api/jobs/${id}/${what}`)); } catch (err) { say(err.message, false); }
}

async function deleteJob(id) {
  try {
    await api('DELETE', `/api/jobs/${id}`);
    state.jobs.delete(id);
    const c = cards.get(id);
    if (c) c.remove();
    cards.delete(id);
    renderEmpty();
  } catch (err) { say(err.message, false); }
}

function renderEmpty() {
  const empty = $('#jobs .empty');
  if (empty) empty.hidden = cards.size > 0;
}

function stageText(p) {
  let s = p.stage || '';
  if (p.total > 0) s += ` ${p.done}/${p.total} ${p.unit || ''}`;
  else if (p.done > 0) s += ` ${p.done} ${p.unit || ''}`;
  return s.trim();
}

function renderJob(j) {
  const known = state.jobs.get(j.id);
  if (known && known.rev > j.rev) j = known; // an older answer arrived late
  state.jobs.set(j.id, j);
  let card = cards.get(j.id);
  if (!card) {
    card = newCard(j);
    cards.set(j.id, card);
    placeCard(card, j);
  }
  const p = j.progress || {};
  card.dataset.state = j.state;
  card.dataset.percent = p.percent || 0;
  $('.state', card).textContent = j.state;
  $('.inputs', card).textContent = inputsText(j.spec);
  $('progress', card).value = p.percent || 0;
  $('.pct', card).textContent = `${Math.floor(p.percent || 0)} %`;
  $('.stage', card).textContent = j.state === 'running' ? stageText(p) : '';
  $('.eta', card).textContent = j.state === 'running' && p.eta_s >= 0 ? `ETA ${fmtDuration(p.eta_s)}` : '';
  $('.elapsed', card).textContent = p.elapsed_s ? `${fmtDuration(p.elapsed_s)} elapsed` : '';
  $('.status', card).textContent = p.status || '';
  $('.error', card).textContent = j.error || '';
  $('.cancel', card).hidden = !ACTIVE.has(j.state);
  $('.resume', card).hidden = !RESUMABLE.has(j.state);
  $('.delete', card).hidden = ACTIVE.has(j.state);
  renderTraining(card, j);
  renderResult(card, j);
  renderEmpty();
}

// placeCard puts a new card in order, newest first, without moving any
// existing card (moving a playing <video> would stop it).
function placeCard(card, j) {
  const list = $('#jobs');
  for (const other of $$('.job', list)) {
    const o = state.jobs.get(other.dataset.id);
    if (o && o.created < j.created) { list.insertBefore(card, other); return; }
  }
  list.append(card);
}

function renderTraining(card, j) {
  const p = j.progress || {};
  const box = $('.training', card);
  box.hidden = j.spec.kind !== 'swap' || !p.preview;
  if (box.hidden) return;
  for (const [cls, file, v] of [['preview', 'preview.png', p.preview], ['loss', 'loss.png', p.loss]]) {
    const img = $('img.' + cls, card);
    if (v && img.dataset.v !== String(v)) {
      img.dataset.v = String(v);
      img.src = `/api/jobs/${j.id}/${file}?v=${v}`;
    }
  }
}

// media shows an upload as an image, a video or an audio player.
function media(id) {
  const u = state.uploads.get(id);
  if (!u) return el('p', { class: 'muted', text: '(input deleted)' });
  const src = `/api/uploads/${id}`;
  if (u.kind === 'image') return el('img', { src, alt: u.name });
  // "#t=0.1" makes the player show a frame rather than black before it plays.
  if (u.kind === 'video') return el('video', { src: src + '#t=0.1', controls: true, preload: 'metadata', muted: true, playsInline: true });
  return el('audio', { src, controls: true, preload: 'metadata' });
}

function renderResult(card, j) {
  const box = $('.result', card);
  const key = j.state === 'done' && j.result ? `${j.finished}` : '';
  if (box.dataset.key === key) return; // built already: keep the players as they are
  box.dataset.key = key;
  box.hidden = !key;
  if (!key) { box.replaceChildren(); return; }
  const r = j.result;
  const parts = [];
  if (r.video) {
    const before = j.spec.kind === 'talk' ? j.spec.photo : j.spec.target;
    const after = el('video', { class: 'result-video', src: `/api/jobs/${j.id}/result?v=${encodeURIComponent(j.finished)}`,
      controls: true, preload: 'auto', playsInline: true });
    const driver = j.spec.kind === 'reenact' &&
      el('figure', { class: 'driver' }, el('figcaption', { text: 'driver' }), media(j.spec.driver));
    parts.push(el('div', { class: 'compare' }, driver,
      el('figure', { class: 'before' }, el('figcaption', { text: 'before' }), media(before)),
      el('figure', { class: 'after' }, el('figcaption', { text: 'after' }), after)));
    const links = el('div', { class: 'links' },
      el('a', { href: `/api/jobs/${j.id}/result`, download: `facesynth-${j.spec.kind}-${j.id}.mp4`, text: 'Download video' }));
    if (j.spec.kind !== 'talk') {
      links.append(el('a', { href: '#', text: 'Play side by side', onclick: (e) => { e.preventDefault(); playBoth(box); } }));
    }
    parts.push(links);
  }
  if (r.verify) parts.push(verifyTable(r.verify));
  parts.push(el('p', { class: 'summary', text: r.summary }));
  box.replaceChildren(...parts);
}

function playBoth(box) {
  const vids = $$('video', box);
  for (const v of vids) { v.currentTime = 0; v.muted = v !== vids[vids.length - 1]; v.play().catch(() => {}); }
}

function verifyTable(v) {
  const wm = v.watermark;
  const verdict = el('p', { class: 'verdict ' + (wm.found ? 'yes' : 'no'),
    text: wm.found ? 'facesynth watermark found' : 'no facesynth watermark found' });
  const rows = [
    ['confidence', `z = ${wm.confidence} (threshold ${wm.threshold})`],
    ['payload', wm.payload_valid ? `v${wm.version} / ${wm.content_id}` : 'unreadable'],
    ['kind', v.kind + (v.kind === 'video' ? `, ${wm.frames} frames from frame ${wm.first_frame}` : '')],
    ['metadata', v.synthetic ? 'labelled synthetic' : 'no synthetic label'],
  ];
  for (const [k, val] of Object.entries(v.labels || {})) rows.push([k, val]);
  return el('div', {}, verdict, el('table', {}, ...rows.map(([k, val]) => el('tr', {}, el('td', { class: 'muted', text: k }), el('td', { text: val })))));
}

// ---- live state --------------------------------------------------------------

function applyState(s) {
  state.uploads = new Map(s.uploads.map((u) => [u.id, u]));
  state.samples = s.samples || [];
  renderUploads();
  const ids = new Set(s.jobs.map((j) => j.id));
  for (const [id, card] of cards) {
    if (!ids.has(id)) { card.remove(); cards.delete(id); state.jobs.delete(id); }
  }
  // Oldest first, so each new card goes on top of the ones before it.
  for (const j of s.jobs.slice().reverse()) renderJob(j);
  renderEmpty();
}

function connect() {
  const conn = $('#conn');
  const es = new EventSource('/api/events');
  es.addEventListener('state', (e) => {
    applyState(JSON.parse(e.data));
    conn.textContent = 'live';
    conn.classList.remove('off');
  });
  es.addEventListener('job', (e) => renderJob(JSON.parse(e.data)));
  es.onerror = () => { // EventSource reconnects by itself
    conn.textContent = 'reconnecting…';
    conn.classList.add('off');
  };
}

connect();
