// A project's template arrives as a PNG: decoded once at the edge, every opaque pixel exactly a palette colour.
import { PNG } from 'pngjs';
import { ApiError } from '../wire/errors.js';
import { PALETTE } from '../wire/palette.js';
import { TRANSPARENT } from './model.js';

const RGB_TO_INDEX = new Map(PALETTE.map((hex, i) => [parseInt(hex.slice(1), 16), i]));

export interface Template {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** PNG's signature and IHDR: the size is known before anything is inflated (no decompression bomb). */
function declaredSize(png: Buffer): { width: number; height: number } {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (png.length < 33 || !png.subarray(0, 8).equals(sig) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new ApiError('invalid_project', '"png" is not a PNG image');
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/**
 * Palette indices of a PNG, row by row: alpha 0 → TRANSPARENT, alpha 255 → the palette index of its colour.
 * Partly transparent pixels and colours outside the palette are refused (with where the first one is).
 */
export function decodeTemplate(png: Buffer, maxPixels: number): Template {
  const { width, height } = declaredSize(png);
  if (width === 0 || height === 0) throw new ApiError('invalid_project', 'the image is empty');
  if (width * height > maxPixels) {
    throw new ApiError('project_too_large', `the image is ${width}×${height} = ${width * height} pixels; at most ${maxPixels} are allowed (PROJECT_MAX_PIXELS)`, { maxPixels });
  }
  let rgba: Buffer;
  try {
    rgba = PNG.sync.read(png).data;
  } catch (err) {
    throw new ApiError('invalid_project', `"png" cannot be decoded: ${(err as Error).message}`);
  }
  const pixels = new Uint8Array(width * height);
  let opaque = 0;
  for (let i = 0; i < pixels.length; i++) {
    const a = rgba[4 * i + 3];
    if (a === 0) {
      pixels[i] = TRANSPARENT;
      continue;
    }
    const rgb = (rgba[4 * i] << 16) | (rgba[4 * i + 1] << 8) | rgba[4 * i + 2];
    const index = a === 255 ? RGB_TO_INDEX.get(rgb) : undefined;
    if (index === undefined) {
      const where = { x: i % width, y: Math.floor(i / width) };
      const what = a === 255 ? `colour #${rgb.toString(16).padStart(6, '0').toUpperCase()} is not in the palette` : `alpha ${a} is neither 0 (transparent) nor 255`;
      throw new ApiError('project_off_palette', `pixel ${where.x},${where.y} of the image: ${what}`, { pixel: where, palette: PALETTE });
    }
    pixels[i] = index;
    opaque++;
  }
  if (opaque === 0) throw new ApiError('invalid_project', 'the image is fully transparent');
  return { width, height, pixels };
}
