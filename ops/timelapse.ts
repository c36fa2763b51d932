// ops:timelapse — the canvas between two moments as an animation (docs/history.md, "Time travel").
//   npm run ops:timelapse -- --from 2026-12-03T12:00Z --to 2026-12-03T14:00Z [--fps 30] [--seconds 10 | --frames N]
//                            [--scale 1] [--out timelapse.gif | --out frames/ --format png]
// Reads the same environment as the service (DATA_DIR embedded; REDIS_URL + DYNAMODB_TABLE in Redis mode). An
// animated GIF, or a numbered PNG sequence for a video tool, e.g. `ffmpeg -framerate 30 -i frames/frame-%06d.png
// out.mp4`. Progress on stderr; a JSON summary on stdout. Nothing is downloaded.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../service/src/config.js';
import { PALETTE } from '../service/src/wire/palette.js';
import { parseTime, runIfMain } from './common.js';
import { FrameScheduler, type FramePlan } from './timelapse/frames.js';
import { ProgressBar } from './timelapse/progress.js';
import { openSource } from './timelapse/source.js';
import { gifWriter, pngWriter, type FrameWriter } from './timelapse/writers.js';

function whole(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || n < min || n > max) throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

export interface TimelapseSummary {
  format: 'gif' | 'png';
  frames: number;
  placements: number;
  files: number;
  out: string;
  width: number;
  height: number;
  ms: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      fps: { type: 'string', default: '30' },
      seconds: { type: 'string', default: '10' },
      frames: { type: 'string' },
      scale: { type: 'string', default: '1' },
      out: { type: 'string', default: 'timelapse.gif' },
      format: { type: 'string' },
    },
  });
  const from = parseTime('from', values.from);
  const to = parseTime('to', values.to);
  if (to <= from) throw new ConfigError('--to must be after --from');
  const fps = whole('fps', values.fps, 1, 100);
  const frames = values.frames !== undefined ? whole('frames', values.frames, 1, 100_000) : fps * whole('seconds', values.seconds, 1, 3600);
  const scale = whole('scale', values.scale, 1, 16);
  const out = values.out!;
  const format = values.format ?? (out.endsWith('.gif') ? 'gif' : 'png');
  if (format !== 'gif' && format !== 'png') throw new ConfigError(`--format must be gif or png, got "${format}"`);
  const env = process.env;
  const config = loadConfig({ ...env, SESSION_SECRET: env.SESSION_SECRET || 'ops-commands-mint-no-sessions-0000000' });
  if (config.width * scale * config.height * scale > 64e6) throw new ConfigError(`--scale ${scale} makes frames of over 64 million pixels`);
  const started = Date.now();
  const source = await openSource(config, from, to);
  const writer: FrameWriter = format === 'gif' ? gifWriter(out, config.width, config.height, scale, fps, PALETTE) : pngWriter(out, config.width, config.height, scale, PALETTE);
  const plan: FramePlan = { from, to, frames };
  const bar = new ProgressBar('timelapse', frames);
  const scheduler = new FrameScheduler(plan, config.width, source.board, async (board, k) => {
    await writer.write(board, k);
    bar.update(k + 1);
  });
  let placements = 0;
  try {
    for await (const batch of source.placements) {
      for (const p of batch) await scheduler.add(p);
      placements += batch.length;
    }
    await scheduler.finish();
  } finally {
    source.close();
  }
  const files = await writer.close();
  bar.done();
  const summary: TimelapseSummary = { format, frames, placements, files: files.length, out, width: config.width * scale, height: config.height * scale, ms: Date.now() - started };
  console.log(JSON.stringify(summary));
}

runIfMain(import.meta.url, main);
