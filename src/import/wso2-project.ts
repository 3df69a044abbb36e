import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { unzipSync } from 'fflate'
import { readLocalFile } from '../core/local-file.ts'

/**
 * The files of a WSO2 API project as `apictl export api` writes it: a directory, or a zip holding one directory
 * (`PizzaShackAPI-1.0.0/api.yaml`, `.../Definitions/swagger.yaml`, `.../Sequences/...`). Paths are relative to the
 * project's root, with `/` separators, so that the converter reads a zip and a directory alike.
 */
export interface Wso2Project {
  /** The path the project was read from, for messages. */
  source: string
  /** Where the project's files are on disk; unset for a zip, whose files exist only in memory. */
  directory: string | undefined
  files: Map<string, Buffer>
}

/** Largest project read into memory: exports are a few hundred kilobytes; anything far bigger is not one. */
const MAX_PROJECT_BYTES = 64 * 1024 * 1024

export async function readWso2Project(path: string): Promise<Wso2Project> {
  const info = await stat(path)
  if (info.isDirectory()) {
    const { files, root } = withoutCommonRoot(await readDirectory(path))
    return { source: path, directory: root === '' ? path : join(path, root), files }
  }
  if (info.size > MAX_PROJECT_BYTES) throw new Error(`${path} is larger than ${MAX_PROJECT_BYTES} bytes: not an API project`)
  const bytes = await readLocalFile(path, MAX_PROJECT_BYTES)
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== 0x04034b50) throw new Error(`${path} is neither a directory nor a zip file`)
  const entries = unzipSync(bytes)
  const files = new Map<string, Buffer>()
  let total = 0
  for (const [name, data] of Object.entries(entries)) {
    total += data.byteLength
    if (total > MAX_PROJECT_BYTES) throw new Error(`${path} unpacks to more than ${MAX_PROJECT_BYTES} bytes: not an API project`)
    if (!name.endsWith('/') && !isFinderClutter(name)) files.set(name, Buffer.from(data))
  }
  return { source: path, directory: undefined, files: withoutCommonRoot(files).files }
}

async function readDirectory(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  let total = 0
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const full = join(entry.parentPath, entry.name)
    if (isFinderClutter(relative(root, full).split(sep).join('/'))) continue
    const data = await readFile(full)
    total += data.byteLength
    if (total > MAX_PROJECT_BYTES) throw new Error(`${root} holds more than ${MAX_PROJECT_BYTES} bytes: not an API project`)
    files.set(relative(root, full).split(sep).join('/'), data)
  }
  return files
}

/**
 * What macOS adds to a folder it zips (`__MACOSX/` with `._` resource forks) or shows (`.DS_Store`): not part of
 * the project, and beside the project's folder it would hide that the zip holds one folder.
 */
function isFinderClutter(name: string): boolean {
  return name.startsWith('__MACOSX/') || /(^|\/)(\.DS_Store|\._[^/]*)$/.test(name)
}

/** A file that makes the folder holding it an API project's root (4.x, or 3.x under Meta-information). */
const PROJECT_FILE = /^(?:Meta-information\/)?(?:api|API)\.(?:yaml|yml|json)$/

/** Most folders, each the only one, that may hold a project: revision folder, API folder, and room to spare. */
const MAX_WRAPPING_FOLDERS = 4

/**
 * apictl zips the project inside one folder named after the API; the artifacts WSO2's control plane hands its
 * gateways wrap that folder in one more, named after the revision. The converter wants paths below them all:
 * while no project file is at the top and every file sits under one folder, that folder is taken off.
 */
function withoutCommonRoot(files: Map<string, Buffer>): { files: Map<string, Buffer>; root: string } {
  const taken: string[] = []
  for (let depth = 0; depth < MAX_WRAPPING_FOLDERS; depth++) {
    const names = [...files.keys()]
    if (names.some((name) => PROJECT_FILE.test(name))) break
    if (names.length === 0 || names.some((name) => !name.includes('/'))) break
    if (new Set(names.map((name) => name.slice(0, name.indexOf('/')))).size !== 1) break
    const root = names[0]!.slice(0, names[0]!.indexOf('/'))
    taken.push(root)
    files = new Map([...files].map(([name, data]) => [name.slice(root.length + 1), data]))
  }
  return { files, root: taken.join('/') }
}
