// The k6 scripts are TypeScript for real k6: type-check them against @types/k6 in CI.
import { execFileSync } from 'node:child_process';
import t from 'tap';

const root = new URL('../..', import.meta.url).pathname;

t.test('bench/k6 type-checks with @types/k6', async (t) => {
  let out = '';
  try {
    execFileSync(process.execPath, [root + 'node_modules/typescript/bin/tsc', '-p', root + 'bench/k6/tsconfig.json', '--noEmit'], { encoding: 'utf8' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  t.equal(out, '', 'no type errors');
});
