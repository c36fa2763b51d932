// Opening placements.log at start: check every record, trim a torn tail before anything is written after it,
// refuse damage in the middle, and replay what the board snapshot does not hold yet.
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync } from 'node:fs';
import type { Logger } from '../log.js';
import { isLegacyLog, migrateLegacyLog } from './legacy-log.js';
import { decodePlacement, findRecordAfter, LogCorruptError, placementAt, scanLog } from './placement-log.js';
import type { Placement } from './store.js';

export interface RecoverOptions {
  path: string;
  /** Where the board snapshot says it stands: its seq and the end of that placement's record. */
  snapshot?: { seq: number; logOffset: number };
  /** Called for each placement after the snapshot, in log order. */
  apply: (p: Placement) => void;
  log: Logger;
}

export interface Recovered {
  /** Open for reading and writing; records are written at `end`. */
  fd: number;
  /** End of the last whole record: the log's length after any trim. */
  end: number;
  /** The highest seq in the log (0 when it holds none past the snapshot). */
  lastSeq: number;
  /** The snapshot's offset ends the record of its seq, so the next snapshot may start from it. */
  snapshotLined: boolean;
}

export function recoverLog({ path, snapshot, apply, log }: RecoverOptions): Recovered {
  const migrated = isLegacyLog(path) && (migrateLegacyLog(path, log), true);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const size = fstatSync(fd).size;
    const seqAt = snapshot?.seq ?? 0;
    // A legacy snapshot's offset points into the file before conversion: replay all of it instead.
    const from = snapshot && !migrated ? snapshot.logOffset : 0;

    // Pass 1: every record's checksum, without parsing; and whether the snapshot's offset ends the record of its seq.
    let lined = from === 0 && seqAt === 0;
    const checked = scanLog(fd, 0, size, (payload, _start, end) => {
      if (end === from) lined = decodePlacement(payload)?.seq === seqAt;
    });
    let end = checked.end;
    if (checked.bad) {
      const next = findRecordAfter(fd, checked.bad.offset, size);
      if (next !== undefined) {
        const err = new LogCorruptError(path, checked.bad.offset, checked.bad.reason, next);
        log.fatal({ file: path, offset: err.offset, reason: err.reason, nextRecordAt: next }, err.message);
        throw err;
      }
      // Nothing readable follows: the tail of a write that never finished, so never acknowledged.
      log.warn({ file: path, offset: end, bytes: size - end, reason: checked.bad.reason }, 'trimming a torn tail from placements.log');
      ftruncateSync(fd, end);
      fsyncSync(fd);
    }

    // Pass 2: parse and replay from the snapshot's offset when it lines up with the log, else from the start.
    if (snapshot && !lined) log.warn({ snapshotSeq: seqAt, logOffset: from, logEnd: end }, 'board snapshot does not line up with placements.log; replaying the whole log');
    let lastSeq = lined ? seqAt : 0;
    scanLog(fd, lined ? from : 0, end, (payload, start) => {
      const p = placementAt(path, payload, start);
      lastSeq = Math.max(lastSeq, p.seq);
      if (p.seq > seqAt) apply(p);
    });
    if (lastSeq < seqAt) {
      // Only possible when the log lost records the snapshot had (edited, or restored from an older copy).
      // Seqs go on from the snapshot's, so none is handed out twice; the missing placements have no history.
      log.error({ snapshotSeq: seqAt, logSeq: lastSeq }, 'placements.log ends before the board snapshot: history is missing placements');
    }
    return { fd, end, lastSeq, snapshotLined: Boolean(snapshot) && lined };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
