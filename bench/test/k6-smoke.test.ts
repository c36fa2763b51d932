// A few seconds of each k6 scenario at a low rate against a box this test starts; skipped without k6.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startCluster } from '../cluster.js';
import { REPO_ROOT } from '../cluster/container.js';
import { findK6, K6_INSTALL_HINT } from '../node/find-k6.js';
import { runK6, type Scenario } from '../node/run-k6.js';

const k6 = findK6(REPO_ROOT);

t.test('findK6 honours K6_BIN and says how to install', async (t) => {
  t.equal(findK6(REPO_ROOT, { K6_BIN: '/nonexistent/k6', PATH: '' }), null);
  t.match(K6_INSTALL_HINT, /K6_BIN/);
});

if (!k6) {
  t.skip(`k6 smoke: no k6 binary (K6_BIN, PATH, ../shared/bin/k6) — ${K6_INSTALL_HINT.split('\n')[0]}`);
} else {
  t.test('k6 put, listen and crowd at low rate: exit 0, every threshold met', async (t) => {
    const c = await startCluster({ containers: 2, dynamo: false, env: { SHUTDOWN_DELAY_MS: '0' } });
    const dir = mkdtempSync(join(tmpdir(), 'tessera-k6-'));
    t.teardown(async () => {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    // Low rates and loose latency thresholds: this checks the scripts and the wiring, not performance.
    const loose = { P99_MS: '2000', ECHO_P99_MS: '3000' };
    const runs: [Scenario, Record<string, string>][] = [
      ['put', { RATE: '20', DURATION: '3', ...loose }],
      ['listen', { LISTENERS: '6', SOCKETS_PER_VU: '3', PLACERS: '2', PLACE_EVERY_MS: '250', DURATION: '3', CONNECT_S: '1', ...loose }],
      ['crowd', { RATE: '20', LISTENERS: '6', SOCKETS_PER_VU: '3', PLACERS: '1', PLACE_EVERY_MS: '250', DURATION: '3', CONNECT_S: '1', ...loose }],
    ];
    for (const [scenario, env] of runs) {
      const r = await runK6({ k6, scenario, baseUrl: c.url, secret: c.secret, resultsDir: dir, name: scenario, env, quiet: true });
      t.equal(r.code, 0, `${scenario}: k6 exit 0`, { output: r.output.slice(-3000) });
      const summary = JSON.parse(readFileSync(join(dir, `${scenario}.json`), 'utf8')) as { metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }> };
      const failed = Object.entries(summary.metrics).flatMap(([m, v]) => Object.entries(v.thresholds ?? {}).filter(([, r]) => !r.ok).map(([e]) => `${m}: ${e}`));
      t.same(failed, [], `${scenario}: thresholds met`);
      if (scenario !== 'put') {
        t.ok(summary.metrics.ws_entries.values.count > 0, `${scenario}: listeners received placements`);
        t.ok(summary.metrics.echo_latency.values.count > 0, `${scenario}: echo latency measured`);
      }
      if (scenario !== 'listen') t.ok(summary.metrics['http_req_duration{scenario:put}'].values.count >= 40, `${scenario}: PUTs made`);
    }
  });
}
