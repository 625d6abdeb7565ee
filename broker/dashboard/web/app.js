// btrq broker dashboard: polls /api/snapshot and /api/history once a second and renders
// the overview tiles, two canvas charts and the jobs, workers and dead-letter tables.
// Plain DOM and canvas; no libraries, no network beyond this broker.
'use strict';

(() => {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 4000;
  const HEARTBEAT_WARN_S = 10;
  const HEARTBEAT_BAD_S = 30;
  const FINISHED = new Set(['done', 'done_with_failures', 'cancelled', 'failed']);
  const STATE_LABELS = {
    queued: 'queued',
    expanding: 'expanding',
    running: 'running',
    done: 'done',
    done_with_failures: 'done, with failures',
    cancelled: 'cancelled',
    failed: 'failed',
  };

  const view = {
    selectedJob: null,  // job id whose dead letters are shown; null: all jobs
    snapshot: null,
    history: null,
    live: null,         // last connection state shown, to announce only changes
  };

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- formatting

  const countFormat = new Intl.NumberFormat('en-US');

  function fmtCount(n) {
    return n == null ? '—' : countFormat.format(n);
  }

  // Up to three significant figures, no trailing zeros: 0, 1.5, 12.3, 456.
  function fmtShort(v) {
    const a = Math.abs(v);
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
    return v.toFixed(2).replace(/\.?0+$/, '');
  }

  // 1234567 -> "1.23M".
  function fmtSI(v) {
    if (v == null || !Number.isFinite(v)) return '—';
    const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (const [factor, unit] of units) {
      if (Math.abs(v) >= factor) return fmtShort(v / factor) + unit;
    }
    return fmtShort(v);
  }

  // 75 -> "1m 15s", 7300 -> "2h 01m".
  function fmtDuration(seconds) {
    if (seconds == null || !Number.isFinite(seconds)) return '—';
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    const pad = (n) => String(n).padStart(2, '0');
    if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
    return `${Math.floor(s / 86400)}d ${pad(Math.floor((s % 86400) / 3600))}h`;
  }

  function fmtClock(ms, withSeconds = true) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return withSeconds ? `${hm}:${pad(d.getSeconds())}` : hm;
  }

  // A BTrDB time (ns since the epoch, as a decimal string) in UTC.
  function fmtNanos(text) {
    try {
      const ms = Number(BigInt(text) / 1000000n);
      const iso = new Date(ms).toISOString();
      return iso.replace('T', ' ').replace(/\.000Z$/, 'Z');
    } catch (e) {
      return String(text);
    }
  }

  // ---------------------------------------------------------------- DOM helpers

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'class') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // Makes `tbody` hold one row per item, in order, reusing rows by key so focus and
  // hover survive refreshes. `create(item)` builds a row; `update(row, item)` fills it.
  function syncRows(tbody, items, keyOf, create, update) {
    const existing = new Map();
    for (const row of Array.from(tbody.rows)) existing.set(row.dataset.key, row);
    let previous = null;
    for (const item of items) {
      const key = String(keyOf(item));
      let row = existing.get(key);
      if (row) {
        existing.delete(key);
      } else {
        row = create(item);
        row.dataset.key = key;
      }
      update(row, item);
      const wanted = previous ? previous.nextSibling : tbody.firstChild;
      if (row !== wanted) tbody.insertBefore(row, wanted);
      previous = row;
    }
    for (const row of existing.values()) row.remove();
  }

  // ---------------------------------------------------------------- overview

  function renderTiles(stats) {
    setText($('tile-queue'), fmtCount(stats.queue_depth));
    setText($('tile-inflight'), fmtCount(stats.in_flight));
    setText($('tile-workers'), fmtCount(stats.workers));
    setText($('tile-tps'), fmtSI(stats.tasks_per_second));
    setText($('tile-pps'), fmtSI(stats.points_per_second));
    setText($('tile-done'), fmtCount(stats.tasks_done_total));
    setText($('tile-retried'), fmtCount(stats.tasks_retried_total));
    setText($('tile-dead'), fmtCount(stats.tasks_dead_total));
    $('tile-dead').classList.toggle('bad', stats.tasks_dead_total > 0);
    setText($('tile-oldest'), stats.queue_depth > 0 ? fmtDuration(stats.oldest_ready_age_seconds) : '—');
    setText($('legend-queue'), fmtCount(stats.queue_depth));
    setText($('legend-inflight'), fmtCount(stats.in_flight));
    setText($('legend-tps'), fmtSI(stats.tasks_per_second));
    setText($('legend-pps'), fmtSI(stats.points_per_second));
    document.title = `btrq · ${fmtCount(stats.queue_depth)} queued · ${fmtSI(stats.tasks_per_second)} tasks/s`;
  }

  // ---------------------------------------------------------------- jobs

  function jobOrder(a, b) {
    const fa = FINISHED.has(a.state) ? 1 : 0;
    const fb = FINISHED.has(b.state) ? 1 : 0;
    return fa - fb || b.id - a.id;
  }

  function createJobRow(job) {
    const row = h('tr');
    const c = {};
    c.id = h('td', { class: 'id' });
    c.name = h('button', { type: 'button', class: 'job-name', 'aria-pressed': 'false' });
    c.name.addEventListener('click', () => selectJob(view.selectedJob === job.id ? null : job.id));
    c.meta = h('div', { class: 'meta' });
    c.error = h('div', { class: 'meta error' });
    c.state = h('span', { class: 'badge' });
    c.fillDone = h('span', { class: 'done' });
    c.fillDead = h('span', { class: 'dead' });
    c.bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0' }, c.fillDone, c.fillDead);
    c.ratio = h('span', { class: 'ratio' });
    c.detail = h('span', { class: 'detail' });
    c.dead = h('td', { class: 'num' });
    c.tps = h('td', { class: 'num' });
    c.pps = h('td', { class: 'num' });
    c.eta = h('td', { class: 'num' });
    row.append(
      c.id,
      h('td', {}, c.name, c.meta, c.error),
      h('td', {}, c.state),
      h('td', {}, h('div', { class: 'progress' }, c.bar, h('div', { class: 'progress-text' }, c.ratio, c.detail))),
      c.dead, c.tps, c.pps, c.eta);
    row.cells_ = c;
    return row;
  }

  function updateJobRow(row, job) {
    const c = row.cells_;
    const counts = job.counts;
    const selected = view.selectedJob === job.id;
    row.classList.toggle('selected', selected);
    setText(c.id, `#${job.id}`);
    setText(c.name, job.name || `job ${job.id}`);
    c.name.setAttribute('aria-pressed', String(selected));
    c.name.title = selected ? 'Show dead letters of all jobs' : 'Show this job\'s dead letters';
    const meta = [job.analytic, job.collection && `collection ${job.collection}`,
      counts.streams ? `${fmtCount(counts.streams)} streams` : ''].filter(Boolean);
    setText(c.meta, meta.join(' · '));
    setText(c.error, job.error || '');
    c.error.hidden = !job.error;
    c.state.className = `badge state-${job.state}`;
    setText(c.state, STATE_LABELS[job.state] || job.state);

    const total = counts.total;
    const donePct = total ? (100 * counts.done) / total : 0;
    const deadPct = total ? (100 * counts.dead) / total : 0;
    c.fillDone.style.width = `${donePct}%`;
    // A few dead tasks among thousands still show as a visible sliver.
    c.fillDead.style.width = counts.dead ? `max(${deadPct}%, 4px)` : '0';
    const totalText = fmtCount(total) + (counts.total_final ? '' : '+');
    const ratio = `${fmtCount(counts.done)} / ${totalText} · ${donePct.toFixed(1)}%`;
    setText(c.ratio, ratio);
    const detail = [];
    if (counts.in_flight) detail.push(`${fmtCount(counts.in_flight)} in flight`);
    if (counts.pending) detail.push(`${fmtCount(counts.pending)} pending`);
    if (counts.retried) detail.push(`${fmtCount(counts.retried)} retried`);
    if (counts.points_read) detail.push(`${fmtSI(counts.points_read)} points`);
    setText(c.detail, detail.join(' · '));
    c.detail.title = c.detail.textContent;
    c.bar.setAttribute('aria-valuemax', String(total));
    c.bar.setAttribute('aria-valuenow', String(counts.done));
    c.bar.setAttribute('aria-valuetext', `${ratio}, ${fmtCount(counts.dead)} dead`);
    c.bar.setAttribute('aria-label', `Progress of ${job.name || `job ${job.id}`}`);

    setText(c.dead, fmtCount(counts.dead));
    c.dead.classList.toggle('bad', counts.dead > 0);
    const finished = FINISHED.has(job.state);
    setText(c.tps, finished ? '—' : fmtSI(job.tasks_per_second));
    setText(c.pps, finished ? '—' : fmtSI(job.points_per_second));
    setText(c.eta, finished ? '—' : fmtDuration(job.eta_seconds));
  }

  function renderJobs(jobs) {
    const sorted = jobs.slice().sort(jobOrder);
    syncRows($('jobs-table').tBodies[0], sorted, (j) => j.id, createJobRow, updateJobRow);
    $('jobs-empty').hidden = jobs.length > 0;
    setText($('jobs-count'), jobs.length ? String(jobs.length) : '');
  }

  // ---------------------------------------------------------------- workers

  function createWorkerRow() {
    const row = h('tr');
    const c = {};
    c.id = h('div', { class: 'mono' });
    c.analytics = h('div', { class: 'meta' });
    c.host = h('td');
    c.threads = h('td', { class: 'num' });
    c.inFlight = h('td', { class: 'num' });
    c.done = h('td', { class: 'num' });
    c.tps = h('td', { class: 'num' });
    c.pps = h('td', { class: 'num' });
    c.heartbeat = h('td', { class: 'num' });
    c.state = h('span', { class: 'badge' });
    row.append(h('td', {}, c.id, c.analytics), c.host, c.threads, c.inFlight, c.done, c.tps, c.pps,
      c.heartbeat, h('td', {}, c.state));
    row.cells_ = c;
    return row;
  }

  function updateWorkerRow(row, w) {
    const c = row.cells_;
    setText(c.id, w.id);
    setText(c.analytics, w.analytics.length ? w.analytics.join(', ') : '');
    setText(c.host, w.pid ? `${w.host} (pid ${w.pid})` : w.host);
    setText(c.threads, fmtCount(w.threads));
    setText(c.inFlight, fmtCount(w.in_flight));
    c.inFlight.title = `credit ${w.credit}`;
    setText(c.done, fmtCount(w.tasks_done));
    setText(c.tps, fmtSI(w.tasks_per_second));
    setText(c.pps, fmtSI(w.points_per_second));
    const age = w.heartbeat_age_seconds;
    setText(c.heartbeat, age == null ? 'never' : age < 1 ? '<1s ago' : `${fmtDuration(age)} ago`);
    c.heartbeat.classList.toggle('warn', age != null && age >= HEARTBEAT_WARN_S && age < HEARTBEAT_BAD_S);
    c.heartbeat.classList.toggle('bad', age == null || age >= HEARTBEAT_BAD_S);
    c.state.className = `badge state-${w.draining ? 'draining' : 'active'}`;
    setText(c.state, w.draining ? 'draining' : 'active');
  }

  function renderWorkers(workers) {
    const sorted = workers.slice().sort((a, b) => (a.host + a.id).localeCompare(b.host + b.id));
    syncRows($('workers-table').tBodies[0], sorted, (w) => w.id, createWorkerRow, updateWorkerRow);
    $('workers-empty').hidden = workers.length > 0;
    setText($('workers-count'), workers.length ? String(workers.length) : '');
  }

  // ---------------------------------------------------------------- dead letters

  function createDeadRow() {
    const row = h('tr');
    const c = {
      job: h('td', { class: 'id' }),
      stream: h('code'),
      chunk: h('td'),
      attempt: h('td', { class: 'num' }),
      error: h('td', { class: 'error-text' }),
    };
    row.append(c.job, h('td', { class: 'stream' }, c.stream), c.chunk, c.attempt, c.error);
    row.cells_ = c;
    return row;
  }

  function updateDeadRow(row, d) {
    const c = row.cells_;
    setText(c.job, `#${d.job_id}`);
    setText(c.stream, d.stream.slice(0, 8) + '…');
    c.stream.title = d.stream;
    setText(c.chunk, `${fmtNanos(d.start)} → ${fmtNanos(d.end)}`);
    setText(c.attempt, fmtCount(d.attempt));
    setText(c.error, d.error || '(no error text)');
  }

  function renderDead(snapshot) {
    const selected = view.selectedJob;
    const job = snapshot.jobs.find((j) => j.id === selected);
    const dead = selected == null ? snapshot.dead : snapshot.dead.filter((d) => d.job_id === selected);
    syncRows($('dead-table').tBodies[0], dead, (d) => `${d.job_id}/${d.stream}/${d.start}`,
      createDeadRow, updateDeadRow);
    const jobLabel = selected == null ? '' : `#${selected}${job && job.name ? ` ${job.name}` : ''}`;
    setText($('dead-scope'), selected == null ? '· all jobs' : `· job ${jobLabel}`);
    setText($('dead-count'), dead.length ? String(dead.length) : '');
    $('dead-show-all').hidden = selected == null;
    const empty = $('dead-empty');
    empty.hidden = dead.length > 0;
    setText(empty, selected == null ? 'No dead-lettered tasks.' : `No dead-lettered tasks for job ${jobLabel}.`);
  }

  // The selected job lives in the address ("#job=12"), so a link can open it.
  function jobFromAddress() {
    const match = /^#job=(\d+)$/.exec(window.location.hash);
    return match ? Number(match[1]) : null;
  }

  function selectJob(id) {
    view.selectedJob = id;
    const hash = id == null ? '' : `#job=${id}`;
    if (window.location.hash !== hash) {
      window.history.replaceState(null, '', window.location.pathname + window.location.search + hash);
    }
    if (view.snapshot) {
      renderJobs(view.snapshot.jobs);
      renderDead(view.snapshot);
    }
  }

  // ---------------------------------------------------------------- charts

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // The smallest step of 1, 2, 2.5 or 5 x 10^k that is at least `rough`.
  function niceStep(rough, integer) {
    const magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
    let step = magnitude * 10;
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * magnitude >= rough * (1 - 1e-9)) {
        step = m * magnitude;
        break;
      }
    }
    return integer ? Math.max(1, Math.ceil(step)) : step;
  }

  // An axis from 0 to at least `max` in `steps` equal nice steps (about four when not given).
  function niceScale(max, integer, steps) {
    if (!(max > 0)) max = integer ? 4 : 1;
    if (steps) {
      const step = niceStep(max / steps, integer);
      return { max: step * steps, step };
    }
    const step = niceStep(max / 4, integer);
    return { max: Math.ceil(max / step - 1e-9) * step, step };
  }

  // Draws `series` ([{values: [[t_ms, v]...], color, axis: 'left'|'right', fill}]) over
  // the time range [t0, t1] with axes, grid and time labels; gaps longer than `gapMs`
  // break the lines.
  function drawChart(canvas, cfg) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const muted = cssVar('--muted');
    const grid = cssVar('--grid');
    const border = cssVar('--border');
    const dual = cfg.series.some((s) => s.axis === 'right');
    const pad = { left: 54, right: dual ? 54 : 14, top: 10, bottom: 24 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    if (plotW <= 10 || plotH <= 10) return;

    // The left axis picks its nice steps; the right one (if any) reuses its gridlines.
    const scales = {};
    for (const axis of ['left', 'right']) {
      const members = cfg.series.filter((s) => (s.axis || 'left') === axis);
      if (!members.length) continue;
      let max = 0;
      for (const s of members) for (const [, v] of s.values) if (v > max) max = v;
      const steps = axis === 'right' ? Math.round(scales.left.max / scales.left.step) : 0;
      scales[axis] = {
        ...niceScale(max, members.every((s) => s.integer), steps),
        color: dual ? members[0].color : muted,
      };
    }
    const x = (t) => pad.left + ((t - cfg.t0) / (cfg.t1 - cfg.t0)) * plotW;
    const y = (v, axis) => pad.top + plotH - (v / scales[axis].max) * plotH;

    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.lineWidth = 1;

    // Horizontal grid and value labels.
    const left = scales.left;
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= left.max + left.step / 2; v += left.step) {
      const yy = Math.round(y(v, 'left')) + 0.5;
      ctx.strokeStyle = v === 0 ? border : grid;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(pad.left + plotW, yy);
      ctx.stroke();
      ctx.fillStyle = left.color;
      ctx.textAlign = 'right';
      ctx.fillText(fmtSI(v), pad.left - 8, yy);
    }
    if (scales.right) {
      const right = scales.right;
      ctx.fillStyle = right.color;
      ctx.textAlign = 'left';
      for (let v = 0; v <= right.max + right.step / 2; v += right.step) {
        ctx.fillText(fmtSI(v), pad.left + plotW + 8, Math.round(y(v, 'right')) + 0.5);
      }
    }

    // Time ticks on round minutes (or seconds for short ranges), labelled HH:MM.
    const span = cfg.t1 - cfg.t0;
    const tickMs = [15e3, 30e3, 60e3, 120e3, 300e3, 600e3].find((s) => span / s <= 6) || 600e3;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillStyle = muted;
    for (let t = Math.ceil(cfg.t0 / tickMs) * tickMs; t <= cfg.t1; t += tickMs) {
      const xx = Math.round(x(t)) + 0.5;
      ctx.strokeStyle = grid;
      ctx.beginPath();
      ctx.moveTo(xx, pad.top);
      ctx.lineTo(xx, pad.top + plotH);
      ctx.stroke();
      ctx.fillText(fmtClock(t, tickMs < 60e3), xx, pad.top + plotH + 6);
    }

    // Series, clipped to the plot.
    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.left, pad.top - 1, plotW, plotH + 2);
    ctx.clip();
    let any = false;
    for (const s of cfg.series) {
      const axis = s.axis || 'left';
      const points = s.values.filter(([t]) => t >= cfg.t0 - cfg.gapMs && t <= cfg.t1);
      if (!points.length) continue;
      any = true;
      // Split into runs without gaps.
      const runs = [];
      let run = [];
      for (let i = 0; i < points.length; i++) {
        if (i > 0 && points[i][0] - points[i - 1][0] > cfg.gapMs) {
          runs.push(run);
          run = [];
        }
        run.push(points[i]);
      }
      runs.push(run);
      for (const r of runs) {
        if (s.fill && r.length > 1) {
          ctx.beginPath();
          ctx.moveTo(x(r[0][0]), y(0, axis));
          for (const [t, v] of r) ctx.lineTo(x(t), y(v, axis));
          ctx.lineTo(x(r[r.length - 1][0]), y(0, axis));
          ctx.closePath();
          ctx.globalAlpha = 0.12;
          ctx.fillStyle = s.color;
          ctx.fill();
          ctx.globalAlpha = 1;
        }
        ctx.beginPath();
        r.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v, axis)) : ctx.moveTo(x(t), y(v, axis))));
        ctx.strokeStyle = s.color;
        ctx.lineWidth = 2;
        ctx.lineJoin = 'round';
        ctx.stroke();
        if (r.length === 1) {
          ctx.fillStyle = s.color;
          ctx.beginPath();
          ctx.arc(x(r[0][0]), y(r[0][1], axis), 2.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    ctx.restore();
    if (!any) {
      ctx.fillStyle = muted;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = '13px system-ui, "DejaVu Sans", sans-serif';
      ctx.fillText('Collecting samples…', pad.left + plotW / 2, pad.top + plotH / 2);
    }
  }

  function renderCharts() {
    const history = view.history;
    if (!history) return;
    const samples = history.samples;
    const t1 = history.now_ms;
    const t0 = t1 - history.window_seconds * 1000;
    const gapMs = history.interval_seconds * 1000 * 2.5;
    const pick = (key) => samples.map((s) => [s.t_ms, s[key]]);
    drawChart($('chart-queue'), {
      t0, t1, gapMs,
      series: [
        { values: pick('queue_depth'), color: cssVar('--chart-1'), fill: true, integer: true },
        { values: pick('in_flight'), color: cssVar('--chart-2'), axis: 'right', integer: true },
      ],
    });
    drawChart($('chart-throughput'), {
      t0, t1, gapMs,
      series: [
        { values: pick('tasks_per_second'), color: cssVar('--chart-3'), fill: true },
        { values: pick('points_per_second'), color: cssVar('--chart-4'), axis: 'right' },
      ],
    });
    const last = samples[samples.length - 1];
    if (last) {
      $('chart-queue').setAttribute('aria-label',
        `Queue depth and tasks in flight over the last ${Math.round(history.window_seconds / 60)} minutes; ` +
        `now ${fmtCount(last.queue_depth)} queued and ${fmtCount(last.in_flight)} in flight`);
      $('chart-throughput').setAttribute('aria-label',
        `Tasks and points per second over the last ${Math.round(history.window_seconds / 60)} minutes; ` +
        `now ${fmtSI(last.tasks_per_second)} tasks/s and ${fmtSI(last.points_per_second)} points/s`);
    }
  }

  // ---------------------------------------------------------------- polling

  function setConnection(live, detail) {
    if (view.live !== live) {
      view.live = live;
      $('conn-dot').className = `dot ${live ? 'live' : 'down'}`;
      setText($('conn-status'), live ? 'Live' : 'Disconnected, retrying');
    }
    setText($('conn-time'), detail);
  }

  async function fetchJson(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    try {
      const response = await fetch(path, { cache: 'no-store', signal: controller.signal });
      if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
      return await response.json();
    } finally {
      clearTimeout(timer);
    }
  }

  function render() {
    const snapshot = view.snapshot;
    if (!snapshot) return;
    renderTiles(snapshot.stats);
    renderJobs(snapshot.jobs);
    renderWorkers(snapshot.workers);
    renderDead(snapshot);
    renderCharts();
  }

  async function poll() {
    try {
      const [snapshot, history] = await Promise.all([fetchJson('/api/snapshot'), fetchJson('/api/history')]);
      view.snapshot = snapshot;
      view.history = history;
      render();
      setConnection(true, `updated ${fmtClock(snapshot.now_ms)}`);
    } catch (e) {
      setConnection(false, view.snapshot ? `last data ${fmtClock(view.snapshot.now_ms)}` : '');
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  function start() {
    view.selectedJob = jobFromAddress();
    $('dead-show-all').addEventListener('click', () => selectJob(null));
    window.addEventListener('hashchange', () => selectJob(jobFromAddress()));
    let pending = false;
    window.addEventListener('resize', () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        renderCharts();
      });
    });
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
