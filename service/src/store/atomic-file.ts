// Replacing a file so that a crash or power loss at any moment leaves either the old or the new content,
// never a torn mix: write a temporary file, fsync it, rename it over the old one, fsync the directory.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The rename itself is only durable once the directory entry is. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeFileAtomicSync(path: string, data: Buffer): void {
  const tmp = path + '.tmp';
  const fd = openSync(tmp, 'w');
  try {
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** The same off the event loop, for large files (the board snapshot). */
export async function writeFileAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = path + '.tmp';
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
