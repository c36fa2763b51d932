// The benchmarks' HTTP load generator: keep-alive connections sending pre-built PUTs, either closed loop
// (each connection sends again as soon as it has its answer: saturation) or open loop at a fixed rate,
// where each request's latency counts from when it was due, not when a free connection sent it.
import { connect, type Socket } from 'node:net';
import { Histogram, percentiles, type Percentiles } from '../stats.js';
import { pathToFileURL } from 'node:url';
import { PutRequests, RequestPool } from './requests.js';
import { RawWs } from './ws-client.js';

export interface LoadSpec {
  port: number;
  connections: number;
  durationMs: number;
  /** Answers to requests sent (or due) before this are not counted. */
  warmupMs?: number;
  /** Requests per second, open loop; absent = closed loop. */
  rate?: number;
  secret: string;
  /** Distinct per run: users are `${userPrefix}${i}`, each placing once. */
  userPrefix: string;
  /** How many distinct users (pre-built requests) a closed-loop run may use. */
  users?: number;
  /** 'clock': each pixel encodes its due time, for listeners in other processes (open loop only). */
  pixels?: 'random' | 'clock';
  /** Listen on /ws of the same server and time each placement until its frame (by seq). */
  frameLatency?: boolean;
}

export interface LoadResult {
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  windowS: number;
  rps: number;
  latency: Percentiles;
  /** Requests still queued or in flight when the run ended (open loop that fell behind). */
  unfinished: number;
  frame?: { matched: number; unmatched: number; p50: number; p99: number; max: number };
  generatorCpu: number;
  firstSeq: number;
  lastSeq: number;
}

interface Conn {
  sock: Socket;
  pending: Buffer | null;
  sentAt: number;
  busy: boolean;
}

/** `window` is told when the counted window (after warmup) starts and ends, to measure servers' CPU over it. */
export async function runLoad(spec: LoadSpec, window?: { start(): void; end(): void }): Promise<LoadResult> {
  const reqs = new PutRequests(spec.secret, spec.userPrefix, spec.port);
  const closed = spec.rate === undefined;
  const pool = closed ? RequestPool.cached(reqs, spec.secret, spec.userPrefix, spec.users ?? 300_000) : undefined;
  const warmup = spec.warmupMs ?? 0;
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let firstSeq = Infinity;
  let lastSeq = 0;
  // placement → frame, matched by seq whichever of response and frame comes first
  const sendBySeq = new Map<number, number>();
  const frameBySeq = new Map<number, number>();
  const frameLat = new Histogram(0.1, 10_000);
  let frameMatched = 0;

  let listener: RawWs | undefined;
  if (spec.frameLatency) {
    listener = new RawWs({
      port: spec.port,
      onBinary: (f) => {
        const now = performance.now();
        const first = f.readUInt32LE(1);
        const count = f.readUInt16LE(5);
        for (let s = first; s < first + count; s++) {
          const t = sendBySeq.get(s);
          if (t === undefined) frameBySeq.set(s, now);
          else {
            sendBySeq.delete(s);
            if (t >= 0) frameLat.add(now - t), frameMatched++;
          }
        }
      },
    });
    await listener.opened;
  }

  const conns: Conn[] = await Promise.all(
    Array.from({ length: spec.connections }, () => new Promise<Conn>((resolve, reject) => {
      const sock = connect({ port: spec.port, host: '127.0.0.1' });
      sock.setNoDelay(true);
      const c: Conn = { sock, pending: null, sentAt: 0, busy: false };
      sock.once('connect', () => resolve(c));
      sock.once('error', reject);
    })),
  );

  const start = performance.now();
  let cpu0 = process.cpuUsage();
  let cpuAt = start;
  let cpu: NodeJS.CpuUsage | undefined;
  let cpuWall = 0;
  setTimeout(() => {
    cpu0 = process.cpuUsage();
    cpuAt = performance.now();
    window?.start();
  }, warmup);
  const windowEnd = setTimeout(() => {
    cpu = process.cpuUsage(cpu0);
    cpuWall = performance.now() - cpuAt;
    window?.end();
  }, spec.durationMs);
  const end = start + spec.durationMs;
  const windowStart = start + warmup;
  const total = closed ? Infinity : Math.floor((spec.durationMs * spec.rate!) / 1000);
  let next = 0; // index of the next request (= user)
  let nextDue = 0; // open loop: requests with index < nextDue are due
  let done = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  const requestFor = (i: number, due: number): Buffer =>
    pool ? pool.get(i % pool.size) : spec.pixels === 'clock' ? reqs.clock(i, performance.timeOrigin + due) : reqs.random(i);
  const dueOf = (i: number) => start + (i * 1000) / spec.rate!;

  const send = (c: Conn) => {
    const i = next++;
    const due = closed ? performance.now() : dueOf(i);
    c.sentAt = due;
    c.busy = true;
    sent++;
    c.sock.write(requestFor(i, due));
  };
  const idle: Conn[] = [];
  const onAnswer = (c: Conn, status: number, seq: number) => {
    const now = performance.now();
    const counted = c.sentAt >= windowStart && c.sentAt < end;
    if (counted) {
      statuses[status] = (statuses[status] ?? 0) + 1;
      lat.push(now - c.sentAt);
      if (status === 200) ok++;
    }
    if (seq > 0) {
      firstSeq = Math.min(firstSeq, seq);
      lastSeq = Math.max(lastSeq, seq);
      if (listener) {
        const f = frameBySeq.get(seq);
        if (f === undefined) sendBySeq.set(seq, counted ? c.sentAt : -1);
        else {
          frameBySeq.delete(seq);
          if (counted) frameLat.add(f - c.sentAt), frameMatched++;
        }
      }
    }
    c.busy = false;
    if (closed) {
      if (!done && now < end) send(c);
      else maybeFinish();
    } else if (next < nextDue) send(c);
    else {
      idle.push(c);
      maybeFinish();
    }
  };
  // Done when nothing more will be sent (closed: the time is up; open: every due request went out) and no answer is outstanding.
  const maybeFinish = () => {
    const allSent = closed ? done : next >= total;
    if (allSent && conns.every((c) => !c.busy)) finish();
  };

  for (const c of conns) {
    c.sock.on('data', (d: Buffer) => parseAnswers(c, d, onAnswer));
    c.sock.on('error', () => errors++);
    c.sock.on('close', () => {
      if (c.busy) errors++;
      c.busy = false;
      maybeFinish();
    });
  }

  if (closed) {
    for (const c of conns) send(c);
    setTimeout(() => {
      done = true;
      maybeFinish();
    }, spec.durationMs);
  } else {
    idle.push(...conns);
    const tick = () => {
      const now = performance.now();
      nextDue = Math.min(total, Math.floor(((now - start) * spec.rate!) / 1000) + 1);
      while (next < nextDue && idle.length) send(idle.pop()!);
      if (nextDue < total) setTimeout(tick, 1);
      else maybeFinish();
    };
    tick();
  }
  // Whatever has no answer 5 s after the end is counted as unfinished.
  await Promise.race([finished, new Promise((r) => setTimeout(r, spec.durationMs + 5000))]);
  clearTimeout(windowEnd);
  if (!cpu) {
    cpu = process.cpuUsage(cpu0);
    cpuWall = performance.now() - cpuAt;
    window?.end();
  }
  const unfinished = conns.filter((c) => c.busy).length + (closed ? 0 : Math.max(0, total - next));
  if (listener) await new Promise((r) => setTimeout(r, 300)); // the last frames
  for (const c of conns) c.sock.destroy();
  listener?.close();
  const windowS = (spec.durationMs - warmup) / 1000;
  return {
    sent,
    ok,
    statuses,
    errors,
    windowS,
    rps: ok / windowS,
    latency: percentiles(lat),
    unfinished,
    frame: listener ? { matched: frameMatched, unmatched: [...sendBySeq.values()].filter((t) => t >= 0).length, p50: frameLat.quantile(0.5), p99: frameLat.quantile(0.99), max: frameLat.quantile(1) } : undefined,
    generatorCpu: (cpu.user + cpu.system) / 1000 / cpuWall,
    firstSeq: Number.isFinite(firstSeq) ? firstSeq : 0,
    lastSeq,
  };
}

/** Splits a connection's bytes into answers (status, and the seq of a 200 placement). */
function parseAnswers(c: Conn, d: Buffer, onAnswer: (c: Conn, status: number, seq: number) => void): void {
  let buf = c.pending ? Buffer.concat([c.pending, d]) : d;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const head = buf.toString('latin1', 0, headEnd).toLowerCase();
    const cl = head.indexOf('content-length:');
    const length = cl < 0 ? 0 : parseInt(head.slice(cl + 15), 10);
    const bodyEnd = headEnd + 4 + length;
    if (buf.length < bodyEnd) break;
    const status = (buf[9] - 48) * 100 + (buf[10] - 48) * 10 + (buf[11] - 48);
    let seq = 0;
    // {"seq":123,…}
    if (status === 200 && buf[headEnd + 6] === 0x73) for (let i = headEnd + 11; buf[i] >= 48 && buf[i] <= 57; i++) seq = seq * 10 + buf[i] - 48;
    buf = buf.subarray(bodyEnd);
    onAnswer(c, status, seq);
  }
  c.pending = buf.length ? buf : null;
}

// As a child process: `node http-load.js '<LoadSpec JSON>'` prints the LoadResult as JSON.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) {
  runLoad(JSON.parse(process.argv[2]) as LoadSpec).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
