import { readFileSync } from 'node:fs'
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface AppliedConfig {
  version: number
  hash: string
  /** The node's config as raw data for the loader (what it serves, ports included). */
  config: Record<string, unknown>
}

/**
 * The last config version a node applied, kept on its disk, so that a node that starts while the store's database
 * is unreachable serves what it served before rather than nothing. The file may hold secret values (an API created
 * through the publisher API keeps its secrets in the store), so only its owner may read it.
 */
export class AppliedCopy {
  readonly file: string

  constructor(directory: string, environment: string) {
    this.file = join(directory, `applied-${environment}.json`)
  }

  read(): AppliedConfig | undefined {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as AppliedConfig
    } catch {
      return undefined
    }
  }

  /**
   * Keeps `config` (JSON: a version of thousands of APIs is not serialized again for this) as applied. Written
   * beside and renamed over, so a crash never leaves half a file.
   */
  async write(version: number, hash: string, config: string): Promise<void> {
    await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 })
    const temporary = `${this.file}.${process.pid}.tmp`
    await writeFile(temporary, `{"version":${version},"hash":${JSON.stringify(hash)},"config":${config}}`, { mode: 0o600 })
    await chmod(temporary, 0o600)
    await rename(temporary, this.file)
  }
}
