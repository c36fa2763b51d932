// JSON in and out: the one place that turns untrusted text into typed values.
import { PALETTE } from './palette.js';

export interface PixelInput {
  x: number;
  y: number;
  color: number;
}

export interface PlaceMessage extends PixelInput {
  t: 'place';
  id: unknown;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

function coordinate(o: Record<string, unknown>, key: string, limit: number): Parsed<number> {
  if (!Object.prototype.hasOwnProperty.call(o, key)) return fail(`"${key}" is missing`);
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail(`"${key}" must be an integer`);
  if (v < 0 || v >= limit) return fail(`"${key}" must be between 0 and ${limit - 1}`);
  return { ok: true, value: v };
}

/** Validates {x, y, color} already parsed from JSON against the canvas size and palette. */
export function validatePixel(value: unknown, width: number, height: number): Parsed<PixelInput> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('body must be a JSON object {x, y, color}');
  const o = value as Record<string, unknown>;
  const x = coordinate(o, 'x', width);
  if (!x.ok) return x;
  const y = coordinate(o, 'y', height);
  if (!y.ok) return y;
  const color = coordinate(o, 'color', PALETTE.length);
  if (!color.ok) return color;
  return { ok: true, value: { x: x.value, y: y.value, color: color.value } };
}

function parseJson(text: string): Parsed<unknown> {
  if (text.trim() === '') return fail('body is empty');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return fail('body is not valid JSON');
  }
}

/** Parses the PUT /api/pixel body. */
export function parsePixelBody(body: Buffer, width: number, height: number): Parsed<PixelInput> {
  const text = body.toString('utf8');
  const json = parseJson(text);
  return json.ok ? validatePixel(json.value, width, height) : json;
}

export type ClientMessage = { ok: true; value: PlaceMessage } | { ok: false; id: unknown; message: string };

/** Parses one text message from a WebSocket client. */
export function parseClientMessage(text: string, width: number, height: number): ClientMessage {
  const json = parseJson(text);
  if (!json.ok) return { ok: false, id: null, message: json.message };
  const o = json.value as Record<string, unknown> | null;
  const id = typeof o === 'object' && o !== null && !Array.isArray(o) && 'id' in o ? safeId(o.id) : null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o.t !== 'place') {
    return { ok: false, id, message: 'message must be {"t":"place","id",x,y,color}' };
  }
  const pixel = validatePixel(o, width, height);
  if (!pixel.ok) return { ok: false, id, message: pixel.message };
  return { ok: true, value: { t: 'place', id, ...pixel.value } };
}

/** Echoes only small scalar ids back, so a client cannot make us amplify its payload. */
function safeId(id: unknown): unknown {
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  if (typeof id === 'string' && id.length <= 64) return id;
  return null;
}

/** Server → client text messages. */
export type ServerMessage =
  | { t: 'ack'; id: unknown; seq: number; nextPlacementAt: number }
  | { t: 'error'; id: unknown; error: string; message?: string; retryAfterMs?: number }
  | { t: 'reset' };
