// `listen`: LISTENERS WebSockets (SOCKETS_PER_VU per VU) that decode every frame and count seq gaps and
// duplicates (thresholds at 0); PLACERS of them also PUT a pixel every PLACE_EVERY_MS and time
// PUT → their own entry arriving in a frame (echo latency). Env: BASE_URL, SESSION_SECRET, LISTENERS,
// SOCKETS_PER_VU, PLACERS, PLACE_EVERY_MS, DURATION (s of placing), CONNECT_S (s to connect first).
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { BASE_URL, DURATION_S, WS_URL, decodeFrame, entryOf, envInt, frameEntries, mintToken, randomPixel, runId, SeqTracker, summaryFiles, type FrameHeader } from './common.ts';

const LISTENERS = envInt('LISTENERS', 1000);
const SOCKETS_PER_VU = Math.max(1, envInt('SOCKETS_PER_VU', 10));
const PLACERS = envInt('PLACERS', 10);
const PLACE_EVERY_MS = Math.max(50, envInt('PLACE_EVERY_MS', 1000));
export const CONNECT_S = envInt('CONNECT_S', 3);
const ECHO_P99_MS = envInt('ECHO_P99_MS', 1000);
/** Sockets stay open through the placing window plus a little for the last frames to arrive. */
const HOLD_MS = (CONNECT_S + DURATION_S + 2) * 1000;

const frames = new Counter('ws_frames');
const entries = new Counter('ws_entries');
const gaps = new Counter('ws_seq_gaps');
const dups = new Counter('ws_seq_dups');
const badFrames = new Counter('ws_bad_frames');
const resets = new Counter('ws_resets');
const reconnects = new Counter('ws_reconnects');
const socketErrors = new Counter('ws_errors');
const opened = new Counter('ws_sockets_opened');
const echo = new Trend('echo_latency', true);
const echoMismatch = new Counter('echo_mismatch');
const echoMissing = new Counter('echo_missing');
const placeFailed = new Counter('echo_put_failed');

export const listenScenarios = {
  listeners: {
    executor: 'per-vu-iterations',
    exec: 'listen',
    vus: Math.max(1, Math.ceil(LISTENERS / SOCKETS_PER_VU)),
    iterations: 1,
    maxDuration: `${CONNECT_S + DURATION_S + 30}s`,
  },
  ...(PLACERS > 0
    ? {
        placers: {
          executor: 'per-vu-iterations',
          exec: 'placer',
          vus: PLACERS,
          iterations: 1,
          maxDuration: `${CONNECT_S + DURATION_S + 30}s`,
        },
      }
    : {}),
};

export const listenThresholds = {
  ws_seq_gaps: ['count==0'],
  ws_seq_dups: ['count==0'],
  ws_bad_frames: ['count==0'],
  ws_resets: ['count==0'],
  ws_errors: ['count==0'],
  echo_mismatch: ['count==0'],
  echo_missing: ['count==0'],
  echo_put_failed: ['count==0'],
  ...(PLACERS > 0 ? { echo_latency: [`p(99)<${ECHO_P99_MS}`] } : {}),
};

export const options = {
  scenarios: listenScenarios,
  thresholds: listenThresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max', 'count'],
};

export function setup(): { run: string } {
  return { run: runId() };
}

/** Zero samples, so every threshold has a value even when nothing went wrong. */
function touchCounters(): void {
  for (const c of [gaps, dups, badFrames, resets, reconnects, socketErrors, echoMismatch, echoMissing, placeFailed]) c.add(0);
}

/**
 * One listening socket for holdMs; reconnects with ?since=<last seq> if the server closes it early
 * (that is what a real client does), so the seq stream it sees must stay gap-free.
 */
function openListener(holdMs: number, onFrame?: (f: FrameHeader, at: number) => void): void {
  const tracker = new SeqTracker();
  const until = Date.now() + holdMs;
  const connect = (since: number) => {
    const ws = new WebSocket(since >= 0 ? `${WS_URL}?since=${since}` : WS_URL);
    ws.binaryType = 'arraybuffer';
    opened.add(1);
    const timer = setTimeout(() => ws.close(1000, 'done'), Math.max(0, until - Date.now()));
    ws.onmessage = (e) => {
      const at = Date.now();
      if (!e) return;
      if (typeof e.data === 'string') {
        if (e.data.indexOf('"reset"') >= 0) resets.add(1);
        return;
      }
      const f = decodeFrame(e.data as ArrayBuffer);
      if (!f) {
        badFrames.add(1);
        return;
      }
      const [missing, dup] = tracker.add(f.firstSeq, f.count);
      frames.add(1);
      entries.add(f.count - dup);
      if (missing) gaps.add(missing);
      if (dup) dups.add(dup);
      onFrame?.(f, at);
    };
    ws.onerror = () => socketErrors.add(1);
    ws.onclose = () => {
      clearTimeout(timer);
      if (Date.now() < until - 500) {
        reconnects.add(1);
        connect(tracker.last);
      }
    };
  };
  connect(-1);
}

export function listen(): void {
  touchCounters();
  const vu = exec.scenario.iterationInTest;
  const n = Math.min(SOCKETS_PER_VU, LISTENERS - vu * SOCKETS_PER_VU);
  for (let i = 0; i < n; i++) openListener(HOLD_MS);
}

/** A listener that also places: PUT, then wait for its own seq in the frames (echo latency). */
export function placer(data: { run: string }): void {
  touchCounters();
  const vu = exec.vu.idInTest;
  const pending = new Map<number, { t0: number; entry: number }>();
  // A frame is the set of its seqs' placements: ours must be among the entries of the frame covering its seq.
  const recent: { first: number; count: number; at: number; entries: Uint32Array }[] = [];
  const matched = (p: { t0: number; entry: number }, entries: Uint32Array, at: number) => {
    echo.add(at - p.t0);
    if (entries.indexOf(p.entry) < 0) echoMismatch.add(1);
  };
  openListener(HOLD_MS, (f, at) => {
    // Only placers decode bodies (a few sockets): plain listeners check headers and seqs.
    const entries = frameEntries(f);
    if (!entries) return badFrames.add(1);
    recent.push({ first: f.firstSeq, count: f.count, at, entries });
    if (recent.length > 64) recent.shift();
    for (const [seq, p] of pending) {
      if (seq >= f.firstSeq && seq < f.firstSeq + f.count) {
        matched(p, entries, at);
        pending.delete(seq);
      }
    }
  });
  let n = 0;
  const stopAt = Date.now() + (CONNECT_S + DURATION_S) * 1000;
  // Whatever has not arrived shortly before the socket closes never will.
  setTimeout(() => echoMissing.add(pending.size), HOLD_MS - 100);
  const tick = () => {
    if (Date.now() >= stopAt) return clearInterval(interval);
    const pixel = randomPixel();
    const t0 = Date.now();
    http
      .asyncRequest('PUT', `${BASE_URL}/api/pixel`, JSON.stringify(pixel), {
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${mintToken(`k6${data.run}-echo${vu}-${n++}`)}` },
        tags: { name: 'PUT /api/pixel (echo)' },
      })
      .then((res) => {
        if (res.status !== 200) return placeFailed.add(1);
        const seq = (JSON.parse(res.body as string) as { seq: number }).seq;
        const p = { t0, entry: entryOf(pixel) };
        // The frame may have overtaken the response (they travel on different connections).
        const early = recent.find((r) => seq >= r.first && seq < r.first + r.count);
        if (early) matched(p, early.entries, early.at);
        else pending.set(seq, p);
      });
  };
  let interval: ReturnType<typeof setInterval>;
  setTimeout(() => {
    interval = setInterval(tick, PLACE_EVERY_MS);
  }, CONNECT_S * 1000);
}

export default listen;

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles('listen', data);
}
