// `crowd`: the seed's shape — LISTENERS WebSockets spread over every container by the load balancer
// (PLACERS of them timing their own echo) while RATE PUT/s (default 1,000) arrive from the crowd of USERS.
// Env: everything put.ts and listen.ts take.
import { CONNECT_S, listen, listenScenarios, listenThresholds, placer } from './listen.ts';
import { place, putScenario, putThresholds } from './put.ts';
import { runId, summaryFiles } from './common.ts';

export const options = {
  scenarios: {
    ...listenScenarios,
    // The PUTs start once the listeners are connected, so every listener should see every placement.
    put: { ...putScenario, startTime: `${CONNECT_S}s` },
  },
  thresholds: { ...listenThresholds, ...putThresholds },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max', 'count'],
};

export function setup(): { run: string } {
  return { run: runId() };
}

export { listen, placer, place };

export default listen;

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles('crowd', data);
}
