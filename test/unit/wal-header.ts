/** Reads SQLite's WAL header: its checkpoint sequence number moves each time the log starts over. */
import fs from 'node:fs'

export function walSequence(file: string): number {
  const header = Buffer.alloc(32)
  const fd = fs.openSync(file, 'r')
  try {
    fs.readSync(fd, header, 0, 32, 0)
  } finally {
    fs.closeSync(fd)
  }
  return header.readUInt32BE(12)
}
