// Timelapse outputs: an animated GIF (gifenc, streamed to the file a frame at a time, with the canvas's own
// 16-colour palette, so no quantisation) or a numbered PNG sequence (pngjs) a video tool can take.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import gifenc from 'gifenc';
import { hexToRgb } from './palette.js';

export interface FrameWriter {
  /** board: u4-packed at the canvas size. */
  write(board: Buffer, k: number): Promise<void>;
  close(): Promise<string[]>;
}

/** The board's colour indices, each pixel repeated scale × scale. */
export function scaledIndices(board: Buffer, width: number, height: number, scale: number, out: Uint8Array): Uint8Array {
  const W = width * scale;
  for (let y = 0; y < height; y++) {
    const row = out.subarray(y * scale * W, (y * scale + 1) * W);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const c = i % 2 === 0 ? board[i >> 1] >> 4 : board[i >> 1] & 15;
      if (scale === 1) row[x] = c;
      else row.fill(c, x * scale, (x + 1) * scale);
    }
    for (let r = 1; r < scale; r++) out.copyWithin((y * scale + r) * W, y * scale * W, (y * scale + 1) * W);
  }
  return out;
}

export function gifWriter(path: string, width: number, height: number, scale: number, fps: number, palette: readonly string[]): FrameWriter {
  const fd = openSync(path, 'w');
  const gif = gifenc.GIFEncoder({ initialCapacity: 1 << 20 });
  const rgb = palette.map(hexToRgb);
  const index = new Uint8Array(width * scale * height * scale);
  const delay = 1000 / fps;
  const flush = () => {
    const bytes = gif.bytesView();
    for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o, bytes.length - o);
    gif.stream.reset();
  };
  return {
    async write(board) {
      gif.writeFrame(scaledIndices(board, width, height, scale, index), width * scale, height * scale, { palette: rgb, delay, repeat: 0 });
      flush();
    },
    async close() {
      gif.finish();
      flush();
      closeSync(fd);
      return [path];
    },
  };
}

export function pngWriter(dir: string, width: number, height: number, scale: number, palette: readonly string[]): FrameWriter {
  mkdirSync(dir, { recursive: true });
  const rgb = palette.map(hexToRgb);
  const index = new Uint8Array(width * scale * height * scale);
  const files: string[] = [];
  return {
    async write(board, k) {
      const png = new PNG({ width: width * scale, height: height * scale, colorType: 2, inputColorType: 2, inputHasAlpha: false });
      const idx = scaledIndices(board, width, height, scale, index);
      const data = Buffer.alloc(idx.length * 3);
      for (let i = 0, o = 0; i < idx.length; i++, o += 3) {
        const c = rgb[idx[i]];
        data[o] = c[0];
        data[o + 1] = c[1];
        data[o + 2] = c[2];
      }
      png.data = data;
      const file = join(dir, `frame-${String(k).padStart(6, '0')}.png`);
      const fd = openSync(file, 'w');
      const bytes = PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
      for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o, bytes.length - o);
      closeSync(fd);
      files.push(file);
    },
    async close() {
      return files;
    },
  };
}
