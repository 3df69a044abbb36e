import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { open } from 'node:fs/promises'

/**
 * Reading a file a config names (a secret, a PEM, a WSDL, an OpenAPI document, a static response, the config
 * itself): only a regular file, and only up to a size. `/dev/zero` or `/dev/urandom` would otherwise be read
 * until memory ran out, and a FIFO would block `portico validate` for ever on open.
 */
export class LocalFileProblem extends Error {}

/** O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting; a regular file ignores it. */
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK

let syncReads = 0

/**
 * How many times readLocalFileSync has been called in this process: a validation during which it did not change
 * depended on its input alone, so its result may be reused for the same input (config/reader.ts).
 */
export function syncFileReads(): number {
  return syncReads
}

/** The bytes of the regular file at `path`; throws LocalFileProblem saying what is wrong, naming the path. */
export function readLocalFileSync(path: string, maxBytes: number): Buffer {
  syncReads++
  let fd: number
  try {
    fd = openSync(path, FLAGS)
  } catch (error) {
    throw cannotRead(path, error)
  }
  try {
    const size = checkedSize(path, fstatSync(fd), maxBytes)
    // One byte more than the size, to notice a file that grew after the stat.
    const buffer = Buffer.alloc(size + 1)
    let read = 0
    for (let n; read < buffer.length && (n = readSync(fd, buffer, read, buffer.length - read, null)) > 0; ) read += n
    return unlessGrown(path, buffer, read)
  } catch (error) {
    throw error instanceof LocalFileProblem ? error : cannotRead(path, error)
  } finally {
    closeSync(fd)
  }
}

/** The same, without blocking the event loop: for files read while the gateway serves. */
export async function readLocalFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle
  try {
    handle = await open(path, FLAGS)
  } catch (error) {
    throw cannotRead(path, error)
  }
  try {
    const size = checkedSize(path, await handle.stat(), maxBytes)
    const buffer = Buffer.alloc(size + 1)
    let read = 0
    for (let n; read < buffer.length && (n = (await handle.read(buffer, read, buffer.length - read, null)).bytesRead) > 0; ) read += n
    return unlessGrown(path, buffer, read)
  } catch (error) {
    throw error instanceof LocalFileProblem ? error : cannotRead(path, error)
  } finally {
    await handle.close()
  }
}

function checkedSize(path: string, stats: { isFile(): boolean; size: number }, maxBytes: number): number {
  if (!stats.isFile()) throw new LocalFileProblem(`"${path}" is not a regular file (a directory, device, FIFO or socket cannot be read as one)`)
  if (stats.size > maxBytes) throw new LocalFileProblem(`"${path}" is ${stats.size} bytes, more than the ${maxBytes} allowed`)
  return stats.size
}

function unlessGrown(path: string, buffer: Buffer, read: number): Buffer {
  if (read === buffer.length) throw new LocalFileProblem(`"${path}" grew while it was read; try again`)
  return buffer.subarray(0, read)
}

function cannotRead(path: string, error: unknown): LocalFileProblem {
  const code = (error as NodeJS.ErrnoException).code
  return new LocalFileProblem(`cannot read the file "${path}" (${code ?? (error as Error).message})`)
}
