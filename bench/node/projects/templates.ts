// The benchmark's projects: random palette images spread over the canvas, as many groups' artworks would be.
import { PNG } from 'pngjs';
import { PALETTE } from '../../../service/src/wire/palette.js';

const RGB = PALETTE.map((hex) => parseInt(hex.slice(1), 16));

/** A size×size PNG of random palette colours (a quarter of the pixels transparent), from a seeded generator. */
export function randomTemplate(size: number, seed: number): Buffer {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (s * 1664525 + 1013904223) >>> 0), s);
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    const r = next();
    if ((r & 3) === 0) continue; // alpha stays 0: transparent
    const v = RGB[(r >>> 8) % RGB.length];
    png.data.set([v >> 16, (v >> 8) & 255, v & 255, 255], 4 * i);
  }
  return PNG.sync.write(png);
}

/** Where project i goes: anywhere the whole image fits on a canvas×canvas board. */
export function placeOf(i: number, size: number, canvas: number): { x: number; y: number } {
  const r = (Math.imul(i + 1, 2654435761) >>> 0) % ((canvas - size + 1) * (canvas - size + 1));
  return { x: r % (canvas - size + 1), y: Math.floor(r / (canvas - size + 1)) };
}
