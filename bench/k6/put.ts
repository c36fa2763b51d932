// `put`: the seed's load — RATE PUT /api/pixel per second (default 1,000 = 60k/min) for DURATION seconds,
// from USERS distinct users (default 300,000) each placing at most once, so no 429 is expected.
// Env: BASE_URL, SESSION_SECRET, RATE, DURATION, USERS, P99_MS (threshold, default 50).
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { BASE_URL, DURATION_S, envInt, mintToken, randomPixel, runId, summaryFiles } from './common.ts';

const RATE = envInt('RATE', 1000);
const USERS = envInt('USERS', 300_000);
const P99_MS = envInt('P99_MS', 50);

export const putScenario = {
  executor: 'constant-arrival-rate',
  exec: 'place',
  rate: RATE,
  timeUnit: '1s',
  duration: `${DURATION_S}s`,
  // A PUT takes a few ms: 1,000/s needs ~10 VUs busy; the headroom absorbs stalls without dropping arrivals.
  preAllocatedVUs: Math.max(10, Math.ceil(RATE / 20)),
  maxVUs: Math.max(50, Math.ceil(RATE / 2)),
};

export const putThresholds = {
  'http_req_failed{scenario:put}': ['rate<0.001'],
  'http_req_duration{scenario:put}': [`p(99)<${P99_MS}`],
  'checks{check:placed}': ['rate>0.999'],
  // Arrivals k6 could not start on time would make the offered rate a lie.
  dropped_iterations: ['count<1'],
};

export const options = {
  scenarios: { put: putScenario },
  thresholds: putThresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max', 'count'],
  discardResponseBodies: false,
};

export function setup(): { run: string } {
  return { run: runId() };
}

/** One placement by the next user of the crowd (user i places at most once per USERS iterations). */
export function place(data: { run: string }): void {
  const user = `k6${data.run}-${exec.scenario.iterationInTest % USERS}`;
  const res = http.put(`${BASE_URL}/api/pixel`, JSON.stringify(randomPixel()), {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${mintToken(user)}` },
    tags: { name: 'PUT /api/pixel' },
  });
  check(res, { placed: (r) => r.status === 200 });
}

export default place;

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles('put', data);
}
