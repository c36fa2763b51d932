// The moment in the URL: `?at=<ISO-8601 time>` next to the view's `#x,y,zoom`, so a link opens the same board at
// the same spot ("the board at 14:03"). Epoch milliseconds are accepted too.

export function parseMoment(search: string): number | null {
  const raw = new URLSearchParams(search).get('at');
  if (!raw) return null;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  return Number.isFinite(ms) ? ms : null;
}

/** The current URL with `at` set (or removed), the hash kept; the time written plainly (colons are fine in a query). */
export function withMoment(href: string, moment: number | null): string {
  const u = new URL(href);
  u.searchParams.delete('at');
  const rest = u.searchParams.toString();
  const at = moment === null ? '' : `at=${new Date(Math.round(moment)).toISOString()}`;
  const search = [at, rest].filter(Boolean).join('&');
  return u.pathname + (search ? `?${search}` : '') + u.hash;
}
