// A pixel-art scene for the screenshot: a dithered sunset, a sun, mountains, hills, a wordmark and the
// palette along the bottom. Returns only the non-white pixels (white is the empty board).

export interface Pixel {
  x: number;
  y: number;
  color: number;
}

const FONT: Record<string, string[]> = {
  T: ['11111', '00100', '00100', '00100', '00100', '00100', '00100'],
  E: ['11111', '10000', '10000', '11110', '10000', '10000', '11111'],
  S: ['01111', '10000', '10000', '01110', '00001', '00001', '11110'],
  R: ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
  A: ['01110', '10001', '10001', '11111', '10001', '10001', '10001'],
};

export function scene(width: number, height: number): Pixel[] {
  const grid = new Uint8Array(width * height);
  const set = (x: number, y: number, c: number) => {
    if (x >= 0 && y >= 0 && x < width && y < height) grid[y * width + x] = c;
  };
  const horizon = Math.round(height * 0.62);
  // Sky bands from the top, with a checkered row where two bands meet.
  const bands = [13, 15, 14, 4, 6, 8];
  const bandH = horizon / bands.length;
  for (let y = 0; y < horizon; y++) {
    const band = Math.min(bands.length - 1, Math.floor(y / bandH));
    const edge = y >= (band + 1) * bandH - 1 && band + 1 < bands.length;
    for (let x = 0; x < width; x++) set(x, y, edge && (x + y) % 2 === 0 ? bands[band + 1] : bands[band]);
  }
  // The sun, setting behind the mountains.
  const sx = Math.round(width * 0.7);
  const sy = horizon - Math.round(height * 0.14);
  const r = Math.round(height * 0.12);
  for (let y = sy - r - 2; y <= sy + r + 2; y++)
    for (let x = sx - r - 2; x <= sx + r + 2; x++) {
      const d = Math.hypot(x - sx, y - sy);
      if (d <= r) set(x, y, 8);
    }
  // Two ranges of mountains.
  for (let x = 0; x < width; x++) {
    const far = horizon - 7 - Math.round(6 * Math.abs(Math.sin(x / 9)) + 3 * Math.sin(x / 4.3));
    const near = horizon - 1 - Math.round(4 * Math.abs(Math.sin(x / 13 + 1)) + 2 * Math.sin(x / 3.1));
    for (let y = far; y < horizon; y++) set(x, y, y === far ? 14 : 12);
    for (let y = near; y < horizon; y++) set(x, y, 13);
  }
  // A lake, then meadows.
  for (let y = horizon; y < height; y++)
    for (let x = 0; x < width; x++) {
      const shore = horizon + 3 + Math.round(2 * Math.sin(x / 11));
      const meadow = shore + 4 + Math.round(2 * Math.sin(x / 7 + 2));
      set(x, y, y < shore ? ((x * 3 + y * 5) % 17 === 0 ? 0 : 11) : y < meadow ? 10 : (x * 7 + y * 3) % 13 === 0 ? 10 : 9);
    }
  // Pine trees on the meadow.
  for (let tx = 8; tx < width - 3; tx += 15) {
    const top = height - 22 + ((tx * 5) % 7);
    for (let row = 0; row < 8; row++) {
      const half = Math.floor(row / 2);
      for (let x = -half; x <= half; x++) set(tx + x, top + row, x === half && row > 1 ? 13 : 10);
    }
    for (let y = top + 8; y < top + 10; y++) set(tx, y, 7);
  }
  // The wordmark with a shadow.
  const word = 'TESSERA';
  const scale = width >= 90 ? 2 : 1;
  const wordW = word.length * 6 * scale - scale;
  const ox = Math.round((width - wordW) / 2);
  const oy = Math.round(height * 0.12);
  for (const [shadow, color] of [
    [1, 3],
    [0, 0],
  ] as const)
    [...word].forEach((ch, i) =>
      FONT[ch].forEach((row, ry) =>
        [...row].forEach((bit, rx) => {
          if (bit !== '1') return;
          for (let a = 0; a < scale; a++)
            for (let b = 0; b < scale; b++) set(ox + (i * 6 + rx) * scale + a + shadow, oy + ry * scale + b + shadow, color);
        }),
      ),
    );
  // A few stars.
  for (const [x, y] of [[6, 2], [14, 5], [33, 1], [52, 4], [71, 2], [88, 5], [104, 1], [113, 4]]) set(Math.round((x * width) / 120), y, 8);
  // The palette along the bottom.
  const cell = Math.floor((width - 8) / 16);
  const px0 = Math.round((width - cell * 16) / 2);
  for (let x = px0 - 1; x < px0 + cell * 16; x++) for (let y = height - 6; y < height - 1; y++) set(x, y, 3);
  for (let c = 0; c < 16; c++) for (let x = 0; x < cell - 1; x++) for (let y = height - 5; y < height - 2; y++) set(px0 + c * cell + x, y, c);

  const out: Pixel[] = [];
  for (let i = 0; i < grid.length; i++) if (grid[i] !== 0) out.push({ x: i % width, y: Math.floor(i / width), color: grid[i] });
  return out;
}
