// Builds the projects service for the store in use: Redis (shared by the fleet) or files under DATA_DIR.
import type { Config } from '../config.js';
import type { Publisher } from '../fanout.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { RedisStore } from '../store/redis.js';
import type { CanvasStore } from '../store/store.js';
import { Projects } from './service.js';
import { FileProjectStore, RedisProjectStore } from './store.js';

export function createProjects(config: Config, store: CanvasStore, publisher: Publisher, log: Logger, metrics: Metrics): Projects {
  const redis = store instanceof RedisStore ? store.redis : undefined;
  return new Projects({
    config,
    store: redis ? new RedisProjectStore(redis, config.canvasId) : new FileProjectStore(config.dataDir),
    publisher,
    loadBoard: () => store.board(),
    shared: redis !== undefined,
    log: log.child({ component: 'projects' }),
    metrics,
  });
}
