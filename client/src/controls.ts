// The moderators' live controls as the server states them (GET /api/config, and {"t":"controls"} on the socket).

export interface Controls {
  cooldownMs: number;
  frozen: boolean;
  /** The one colour that may be placed now; null = every colour. */
  onlyColor: number | null;
}

/** Reads controls from untrusted JSON; null when any field is missing or malformed (the message is then ignored). */
export function parseControls(v: unknown, colors: number): Controls | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const { cooldownMs, frozen, onlyColor } = o;
  if (typeof cooldownMs !== 'number' || !Number.isFinite(cooldownMs) || cooldownMs < 0) return null;
  if (typeof frozen !== 'boolean') return null;
  if (onlyColor !== null && !(typeof onlyColor === 'number' && Number.isInteger(onlyColor) && onlyColor >= 0 && onlyColor < colors)) return null;
  return { cooldownMs, frozen, onlyColor };
}

/** "5 min", "30 s", "1 min 30 s", "2 h"; 0 = "off". */
export function formatCooldown(ms: number): string {
  if (ms <= 0) return 'off';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${Math.max(1, s)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts = [h ? `${h} h` : '', m ? `${m} min` : '', sec && !h ? `${sec} s` : ''].filter(Boolean);
  return parts.join(' ');
}
