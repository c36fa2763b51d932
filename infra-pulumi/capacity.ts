// The capacity plan: how many one-vCPU tasks an audience needs, from the one measured figure
// (watchers per vCPU). index.ts shows the numbers; docs/capacity.md explains the arithmetic.

export interface CapacityInputs {
  /** Watchers the audience brings. */
  watchers: number;
  /** Watchers one 1-vCPU task serves within the latency target (measured). */
  watchersPerVcpu: number;
  /** cpuTargetPercent: the share of a task's capacity autoscaling plans to use. */
  targetPercent: number;
  /** Availability zones the tasks are spread over. */
  azCount: number;
}

export interface CapacityPlan {
  /** Watchers a task is planned to carry: watchersPerVcpu × the target share. */
  watchersPerTask: number;
  /** Tasks that carry `watchers` at that share. */
  tasks: number;
  /**
   * Autoscaling ceiling: `tasks` plus one AZ's worth of them, so scaling out after an AZ loss or
   * during a reconnect storm is never stopped by the ceiling.
   */
  maxTasks: number;
}

export function planCapacity(o: CapacityInputs): CapacityPlan {
  for (const [key, v] of Object.entries(o)) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`capacity plan: ${key} must be a positive number, got ${v}`);
  }
  if (o.targetPercent > 100) throw new RangeError(`capacity plan: targetPercent must be at most 100, got ${o.targetPercent}`);
  const watchersPerTask = (o.watchersPerVcpu * o.targetPercent) / 100;
  const tasks = Math.ceil(o.watchers / watchersPerTask);
  return { watchersPerTask, tasks, maxTasks: tasks + Math.ceil(tasks / o.azCount) };
}
