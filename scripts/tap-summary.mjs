// The test command's closing lines, from the TAP that tap saved per test file (.tap/test-results):
// assertions passed and failed, todos and skips (leaf results only: a subtest's own summary line is not an
// assertion), then the plain `N passed, M failed, K skipped` line last.
// Usage: node scripts/tap-summary.mjs [results dir] [runner exit status]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.argv[2] ?? '.tap/test-results';
const status = Number(process.argv[3] ?? 0);

function* tapFiles(d) {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) yield* tapFiles(p);
    else if (name.endsWith('.tap')) yield p;
  }
}

const RESULT = /^(\s*)(not )?ok \d+\b(.*)$/;
const PLAN = /^(\s*)1\.\.\d+/;

/** Counts the leaf results of one file's TAP. */
export function countLeaves(text) {
  const c = { pass: 0, fail: 0, todo: 0, skip: 0, failures: [] };
  let planIndent = -1;
  for (const line of text.split('\n')) {
    const plan = PLAN.exec(line);
    if (plan) {
      planIndent = plan[1].length;
      continue;
    }
    const r = RESULT.exec(line);
    if (!r) continue;
    const indent = r[1].length;
    const isSummary = planIndent === indent + 4;
    planIndent = -1;
    if (isSummary) continue;
    const directive = /#\s*(TODO|SKIP)\b/i.exec(r[3])?.[1]?.toUpperCase();
    if (directive === 'TODO') c.todo++;
    else if (directive === 'SKIP') c.skip++;
    else if (r[2]) {
      c.fail++;
      c.failures.push(r[3].replace(/^\s*-\s*/, '').replace(/\s*# time=.*$/, ''));
    } else c.pass++;
  }
  return c;
}

const total = { pass: 0, fail: 0, todo: 0, skip: 0, files: 0 };
const lines = [];
let files;
try {
  files = [...tapFiles(dir)];
} catch {
  files = [];
}
for (const f of files) {
  const c = countLeaves(readFileSync(f, 'utf8'));
  total.files++;
  for (const k of ['pass', 'fail', 'todo', 'skip']) total[k] += c[k];
  for (const name of c.failures.slice(0, 5)) lines.push(`  failed: ${relative(dir, f).replace(/\.tap$/, '')}: ${name}`);
  if (c.todo || c.skip) lines.push(`  ${relative(dir, f).replace(/\.tap$/, '')}: ${c.todo} todo, ${c.skip} skipped`);
}
// A runner that failed without a failing assertion (a crashed file, a coverage shortfall) still fails.
if (status !== 0 && total.fail === 0) {
  total.fail = 1;
  lines.push(`  failed: the test runner exited with status ${status} (a file crashed or coverage is below its threshold)`);
}
console.log(lines.join('\n'));
console.log(`assertions: ${total.pass} passed, ${total.fail} failed, ${total.todo} todo, ${total.skip} skipped, in ${total.files} test files`);
console.log(`${total.pass} passed, ${total.fail} failed, ${total.skip} skipped`);
