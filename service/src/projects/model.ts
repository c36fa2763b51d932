// A community project: a template image in palette colours, placed on the canvas, that people draw together.
import { randomBytes } from 'node:crypto';

/** A transparent template pixel: not part of the artwork, never counted. */
export const TRANSPARENT = 255;

export interface ProjectMeta {
  id: string;
  name: string;
  /** Top-left corner on the canvas. */
  x: number;
  y: number;
  width: number;
  height: number;
  createdBy: string;
  createdAt: number;
  hidden: boolean;
}

/** A project with its template: `pixels[i]` is the palette index of (x + i % width, y + ⌊i / width⌋), or TRANSPARENT. */
export interface Project extends ProjectMeta {
  pixels: Uint8Array;
}

/** A watcher's Web Push subscription and the damage (percent of the artwork) that alerts them. */
export interface AlertSubscription {
  /** Stable per endpoint, so subscribing again replaces the old one. */
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  thresholdPercent: number;
  createdAt: number;
}

export const PROJECT_ID = /^[A-Za-z0-9_-]{11}$/;

export function newProjectId(): string {
  return randomBytes(8).toString('base64url');
}

/** The public link: the page opens with this project's overlay on (client/src/projects/). */
export function projectLink(id: string): string {
  return `/?project=${id}`;
}

/** What the API shows of a project (the template as base64 of `pixels`, so a client needs no PNG decoder). */
export function projectView(p: Project, withPixels: boolean): Record<string, unknown> {
  const { pixels, ...meta } = p;
  return { ...meta, link: projectLink(p.id), ...(withPixels ? { pixels: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength).toString('base64') } : {}) };
}
