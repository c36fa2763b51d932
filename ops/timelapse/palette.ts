// '#RRGGBB' → [r, g, b], for the GIF and PNG writers.
export function hexToRgb(hex: string): number[] {
  const n = parseInt(hex.replace('#', ''), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
