// The projects' HTTP calls (docs/api.md, "Projects"): same-origin, so the session cookie rides along.
import type { ProjectInfo } from './state.js';

/** A project as the list shows it: what a watched one carries, without its pixels, plus its completion. */
export interface ProjectSummary extends Omit<ProjectInfo, 'pixels'> {
  completionPercent: number;
}

export class ProjectError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function json<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok) throw new ProjectError(res.status, body.error ?? `http_${res.status}`, body.message ?? `${res.status} ${res.statusText}`);
  return body as T;
}

const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

function toInfo(p: ProjectSummary & { pixels: string }): ProjectInfo {
  return { id: p.id, name: p.name, x: p.x, y: p.y, width: p.width, height: p.height, link: p.link, pixels: decode(p.pixels) };
}

export async function fetchProject(id: string): Promise<ProjectInfo> {
  return toInfo(await json(await fetch(`/api/projects/${encodeURIComponent(id)}`)));
}

export async function listProjects(): Promise<ProjectSummary[]> {
  return (await json<{ projects: ProjectSummary[] }>(await fetch('/api/projects'))).projects;
}

export async function createProject(name: string, x: number, y: number, png: ArrayBuffer): Promise<ProjectInfo> {
  const bytes = new Uint8Array(png);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const res = await fetch('/api/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, x, y, png: btoa(bin) }) });
  return toInfo(await json(res));
}

export async function pushKey(): Promise<string | null> {
  return (await json<{ publicKey: string | null }>(await fetch('/api/push/key'))).publicKey;
}

export async function subscribeAlerts(id: string, subscription: PushSubscriptionJSON, thresholdPercent: number): Promise<void> {
  await json(await fetch(`/api/projects/${encodeURIComponent(id)}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subscription, thresholdPercent }) }));
}
