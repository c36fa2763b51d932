// Time travel's HTTP half (docs/api.md, "Time travel"): the keyframe list, and blobs that are deflate-raw
// compressed on the wire (inflated here with the browser's DecompressionStream). Keyframes, ranges and users of
// a listed keyframe never change: the browser and the CDN cache them for good.
import { decodeRange, decodeUsers, type KeyframeEntry, type Range } from '../../../service/src/timetravel/codec.js';

export interface HistoryList {
  width: number;
  height: number;
  head: number;
  keyframes: KeyframeEntry[];
}

export class HistoryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function ok(res: Response): Promise<Response> {
  if (res.ok) return res;
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const b = (await res.json()) as { error?: string; message?: string };
    code = b.error ?? code;
    message = b.message ?? message;
  } catch {
    /* not JSON */
  }
  throw new HistoryHttpError(res.status, code, message);
}

export async function fetchHistoryList(): Promise<HistoryList> {
  const res = await ok(await fetch('/api/history', { cache: 'no-cache' }));
  const body = (await res.json()) as HistoryList;
  if (!Array.isArray(body.keyframes) || !Number.isSafeInteger(body.head)) throw new Error('GET /api/history: unexpected body');
  return body;
}

async function inflatedResponse(url: string, fresh = false): Promise<{ bytes: Uint8Array; headers: Headers }> {
  const res = await ok(await fetch(url, fresh ? { cache: 'no-store' } : {}));
  const stream = res.body!.pipeThrough(new DecompressionStream('deflate-raw'));
  return { bytes: new Uint8Array(await new Response(stream).arrayBuffer()), headers: res.headers };
}

const inflated = async (url: string): Promise<Uint8Array> => (await inflatedResponse(url)).bytes;

/** The server has cut a keyframe since our list was read: its tail starts later than we asked. */
export class StaleTailError extends Error {}

/** The board at a keyframe, u4-packed like GET /api/board. */
export const fetchKeyframe = (seq: number): Promise<Uint8Array> => inflated(`/api/history/keyframe/${seq}`);
export const fetchRange = async (from: number, seq: number): Promise<Range> => decodeRange(await inflated(`/api/history/range/${from}/${seq}`));
export const fetchUsers = async (from: number, seq: number): Promise<string[]> => decodeUsers(await inflated(`/api/history/users/${from}/${seq}`));
/** Placements after the newest keyframe: changes with every placement. */
export const fetchTail = async (after: number): Promise<Range> => decodeRange((await inflatedResponse(`/api/history/tail?after=${after}`, true)).bytes);
export async function fetchTailUsers(after: number): Promise<string[]> {
  const r = await inflatedResponse(`/api/history/tail?after=${after}&part=users`, true);
  if (Number(r.headers.get('X-Tail-From')) !== after) throw new StaleTailError(`the tail now starts after ${r.headers.get('X-Tail-From')}, not ${after}`);
  return decodeUsers(r.bytes);
}
