// `node dist/bench/node/profile-top.js <file.cpuprofile> [n]`: the functions with the most self time in a
// V8 CPU profile (from `npm run bench -- --only tessera --cpu-prof`), to see what bounds a saturated server.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function topSelfTime(file: string, n = 25): { share: number; fn: string; where: string }[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const counts = new Map<string, number>();
  let busy = 0;
  for (const id of p.samples) {
    const f = byId.get(id)!.callFrame;
    // Shares of the busy time: idle samples (waiting in epoll) say nothing about the hot path.
    if (f.functionName === '(idle)') continue;
    busy++;
    const key = `${f.functionName || '(anonymous)'}\t${f.url.replace(/^.*\/(service|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => ({ share: c / busy, fn: k.split('\t')[0], where: k.split('\t')[1] }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of topSelfTime(process.argv[2], Number(process.argv[3] ?? 25))) console.log(`${(r.share * 100).toFixed(1).padStart(5)} %  ${r.fn}  ${r.where}`);
}
