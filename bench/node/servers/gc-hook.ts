// Preloaded (--import) into a server whose RSS the idle-socket benchmark reads: SIGUSR2 runs a full GC,
// so the reading counts what the connections retain, not garbage a later collection would free.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
process.on('SIGUSR2', () => {
  gc();
  gc();
});
