// The container process: `npm start`.
import { ConfigError, loadConfig } from './config.js';
import { historyExtension } from './history/extension.js';
import { createLogger } from './log.js';
import { loadUws, RuntimeError } from './uws.js';

try {
  loadUws();
} catch (err) {
  if (err instanceof RuntimeError) {
    console.error(`tessera: cannot start: ${err.message}`);
    process.exit(3);
  }
  throw err;
}
const { startServer } = await import('./server.js');

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`tessera: invalid configuration: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
const log = createLogger(config.logLevel);
let server;
try {
  server = await startServer(config, log, [historyExtension(config)]);
} catch (err) {
  // Typed startup errors (a corrupt placement log, …) say what to do; they end the process once, clearly.
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    log.fatal({ err, code }, 'cannot start');
    console.error(`tessera: cannot start: ${(err as Error).constructor.name} (${code}): ${(err as Error).message}`);
    process.exit(4);
  }
  throw err;
}
console.log(`Tessera is running: open http://localhost:${server.port}/`);

let exiting = false;
const shutdown = (signal: string) => {
  if (exiting) return;
  exiting = true;
  log.info({ signal }, 'shutting down');
  // SIGTERM must end the process within 10 s whatever hangs.
  setTimeout(() => process.exit(1), 9500).unref();
  server.stop().then(
    () => process.exit(0),
    (err) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
