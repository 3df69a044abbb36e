import { dirname } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml'
import { syncFileReads } from '../core/local-file.ts'
import { splitApiItems } from './api-items.ts'
import { ConfigError, configFileIssues, mayNotBePlainYaml, parseConfig, parseConfigData, readConfigText } from './load.ts'
import { resolveRelativePaths } from './relative-paths.ts'
import { Api, checkApi, checkAssembled, ConfigSections, type ApiConfig, type ConfigModel } from './schema.ts'
import { resolveSecrets } from './secrets.ts'

/** Above this much new text (some fifty APIs) a reload parses in a process of its own, at the cost of starting one (0.1 to 0.15 s here). */
const PROCESS_PARSE_BYTES = 32 * 1024

/** A config as read, and for each of its APIs whether it may be reused for the same text later. */
export interface ReadConfig {
  config: ConfigModel
  reusable: boolean[]
}

/**
 * Reads successive versions of one config, parsing and validating only the APIs whose text changed: a reload that
 * changes one API of thousands costs one API, not thousands.
 *
 * The APIs are cut out of the text by their items (api-items.ts); an item whose text was valid before is reused
 * as validated then, unless its validation depended on more than its text: a secret reference (`${env:}`,
 * `${file:}`) or a file read by the schema (a PEM), either of which may have changed since. The rest of the
 * document and the rules across APIs are checked every time. Whatever does not fit (another shape of document,
 * any problem at all) is read whole by parseConfig, which reports problems with their lines; so the answer is the
 * one parseConfig gives, only sooner.
 */
export class ConfigReader {
  /** Valid APIs by their item's text, for the directory `#directory` (relative paths depend on it). */
  #apis = new Map<string, KnownApi>()
  #directory = ''
  #generation = 0
  /** The rest of the config (all but its APIs) as last read, by its text. */
  #sections: { key: string; sections: Omit<ConfigModel, 'apis'> } | undefined
  /** The keys of the items of the last read and what each was, by position. */
  #last: { keys: string[]; known: (KnownApi | undefined)[] } | undefined

  /** Parses and validates `text` (as parseConfig does) in this process, reusing the APIs it has seen. */
  parse(text: string, file = 'config'): ConfigModel {
    return this.#read(text, file, Infinity)?.config ?? parseConfig(text, file)
  }

  /**
   * Reads and parses `file`. While a gateway serves (`whileServing`, a reload), a file of which much is new is
   * parsed in a process of its own (config/parse-process.ts), which keeps this process's event loop free and its
   * garbage out of this process. Before anything is served (a start, `portico validate`) nothing waits on the
   * event loop, so it is parsed here: on 5,000 APIs that saves about 0.25 s of the start (starting that process
   * and copying its answer back) for 5 to 25 MiB more heap kept afterwards.
   */
  async load(file: string, { whileServing }: { whileServing: boolean }): Promise<ConfigModel> {
    const text = await readConfigText(file)
    if (!whileServing || text.length < PROCESS_PARSE_BYTES) return this.parse(text, file)
    const read = this.#read(text, file, PROCESS_PARSE_BYTES)
    if (read) return read.config
    const { parseConfigInProcess } = await import('./parse-process.ts')
    const answer = await parseConfigInProcess(text, file)
    if ('issues' in answer) throw new ConfigError(answer.issues)
    if ('error' in answer) throw new Error(answer.error)
    this.#adopt(text, file, answer)
    return answer.config
  }

  /** Parses `text` as parse does, also saying which APIs may be reused: what a parser process answers. */
  read(text: string, file = 'config'): ReadConfig {
    return this.#read(text, file, Infinity) ?? { config: parseConfig(text, file), reusable: [] }
  }

  /**
   * The config of `text` from its items, or undefined when the text is not of the shape cut into items, has a
   * problem, or holds more than `maxNewBytes` of items not seen before.
   */
  #read(text: string, file: string, maxNewBytes: number): ReadConfig | undefined {
    const split = splitApiItems(text)
    if (!split) return undefined
    return this.#readItems(split.items, file, maxNewBytes, {
      // An item seen before was plain YAML then; only new text can hold anchors, aliases or tags.
      plain: (item) => !mayNotBePlainYaml(item),
      item: itemData,
      references: (key) => key.includes('${'),
      headKey: split.head,
      // An empty (or all-comment) rest is an empty mapping, as in parseConfig; a rest that is not YAML is no config.
      head: () => {
        if (mayNotBePlainYaml(split.head)) return undefined
        const head = yamlData(split.head)
        return head && (head.data ?? {})
      },
    })
  }

  /**
   * The config of `data` (a config store's, which is JSON it wrote itself), as parseConfigData reads it, reusing
   * each API whose JSON it has seen valid before. Problems are those parseConfigData reports.
   */
  parseData(data: Record<string, unknown>, file = 'config'): ConfigModel {
    const { apis, ...head } = data
    const objects = Array.isArray(apis) && apis.length > 0 && apis.every((api) => typeof api === 'object' && api !== null && !Array.isArray(api))
    const read = objects ? this.#readItems(apis.map((api) => JSON.stringify(api)), file, Infinity, { plain: () => true, item: (_key, index) => apis[index], references: (key) => key.includes('${'), headKey: JSON.stringify(head), head: () => head }) : undefined
    return read?.config ?? parseConfigData(data, file)
  }

  /**
   * As parseData of `{ ...head, apis }`, for APIs the caller keys itself (a config store's nodes key an API by its
   * revision and lifecycle state): a key seen valid before is taken as it was, so a version of thousands of APIs is
   * checked without serializing each one to compare it. A key must stand for one data only.
   */
  parseKeyed(head: Record<string, unknown>, apis: readonly KeyedApi[], file = 'config'): ConfigModel {
    const read = apis.length > 0 ? this.#readItems(apis.map((api) => api.key), file, Infinity, { plain: () => true, item: (_key, index) => apis[index]!.data(), references: (_key, index) => apis[index]!.references, headKey: JSON.stringify(head), head: () => head }) : undefined
    return read?.config ?? parseConfigData({ ...head, apis: apis.map((api) => api.data()) }, file)
  }

  /**
   * A config from its API items (each known by a key: its text) and the rest; undefined on any problem, or when
   * more than `maxNewBytes` of keys are new. `source` parses an item and the rest.
   */
  #readItems(keys: string[], file: string, maxNewBytes: number, source: { plain: (key: string) => boolean; item: (key: string, index: number) => unknown; references: (key: string, index: number) => boolean; headKey: string; head: () => unknown }): ReadConfig | undefined {
    this.#useDirectory(dirname(file))
    // An item where it was in the last read is found by comparing texts; elsewhere by a lookup, which hashes the
    // item's text (thousands of items are megabytes, and comparing is several times faster than hashing).
    const last = this.#last
    const known = keys.map((key, index) => (last?.keys[index] === key ? last.known[index] : undefined) ?? this.#apis.get(key))
    let newBytes = 0
    for (const [index, key] of keys.entries()) {
      if (known[index]) continue
      if ((newBytes += key.length) > maxNewBytes || !source.plain(key)) return undefined
    }
    const apis: ApiConfig[] = []
    const reusable: boolean[] = []
    for (const [index, key] of keys.entries()) {
      const reused = known[index]
      if (reused) {
        apis.push(reused.api)
        reusable.push(true)
        continue
      }
      const readsBefore = syncFileReads()
      const references = source.references(key, index)
      const api = validApi(source.item(key, index), references, index, this.#directory)
      if (!api) return undefined
      apis.push(api)
      reusable.push(!references && syncFileReads() === readsBefore)
    }
    // The rest of the config is taken as it was when its text is (and its validation read nothing else).
    let sections = this.#sections?.key === source.headKey ? this.#sections.sections : undefined
    let sectionsReusable = true
    if (!sections) {
      const readsBefore = syncFileReads()
      sections = validSections(source.head(), this.#directory)
      sectionsReusable = !source.headKey.includes('${') && syncFileReads() === readsBefore
    }
    if (!sections) return undefined
    const config: ConfigModel = { ...sections, apis }
    if (checkAssembled(config).length > 0 || configFileIssues(config).length > 0) return undefined
    this.#remember(keys, known, apis, reusable)
    this.#sections = sectionsReusable ? { key: source.headKey, sections } : undefined
    return { config, reusable }
  }

  /** Keeps what a parser process read of `text`, as if this reader had read it. */
  #adopt(text: string, file: string, read: ReadConfig): void {
    const split = splitApiItems(text)
    const count = read.config.apis.length
    if (!split || split.items.length !== count || count === 0) return
    this.#useDirectory(dirname(file))
    // The process's APIs are matched to this text's items by their order. The first and the last item, and the
    // rest of the config, are read here too and must come out the same; what does not is not kept. (This also
    // readies the code a reload runs: its first one then takes as long as the next.)
    const { apis, ...sections } = read.config
    const same = (index: number) => read.reusable[index] !== true || isDeepStrictEqual(validApi(itemData(split.items[index]!), false, index, this.#directory), apis[index])
    if (!same(0) || !same(count - 1)) return
    const head = mayNotBePlainYaml(split.head) ? undefined : yamlData(split.head)
    const ownSections = head && !split.head.includes('${') ? validSections(head.data ?? {}, this.#directory) : undefined
    this.#remember(split.items, split.items.map((item) => this.#apis.get(item)), apis, read.reusable)
    if (ownSections && isDeepStrictEqual(ownSections, sections)) this.#sections = { key: split.head, sections: ownSections }
  }

  /** Relative paths in an API resolve against the config's directory: APIs read for another one are forgotten. */
  #useDirectory(directory: string): void {
    if (directory === this.#directory) return
    this.#apis.clear()
    this.#last = undefined
    this.#sections = undefined
    this.#directory = directory
  }

  /** Keeps the reusable APIs of the config just read, and forgets those that left it. */
  #remember(keys: string[], known: (KnownApi | undefined)[], apis: ApiConfig[], reusable: boolean[]): void {
    const generation = ++this.#generation
    let kept = 0
    const entries = keys.map((item, index) => {
      if (!reusable[index]) return undefined
      kept++
      let entry = known[index]
      if (entry) entry.generation = generation
      // Copied out of the text, which a substring would keep alive whole (V8's substrings share their parent).
      else this.#apis.set(Buffer.from(item).toString(), (entry = { api: apis[index]!, generation }))
      return entry
    })
    if (this.#apis.size > kept) for (const [key, entry] of this.#apis) if (entry.generation !== generation) this.#apis.delete(key)
    // The items themselves keep this text alive until the next read: one text, as the caller holds it anyway.
    this.#last = { keys, known: entries }
  }
}

/** An API of a config as parseKeyed takes it. */
export interface KeyedApi {
  /** Stands for the data: the same key is the same data. */
  key: string
  data(): unknown
  /** Whether the data holds a secret reference (`${env:}`, `${file:}`), which is resolved again on every read. */
  references: boolean
}

/** A valid API, and the last read whose text held it. */
interface KnownApi {
  readonly api: ApiConfig
  generation: number
}

/** YAML text's data, or undefined when it is not YAML. */
function yamlData(text: string): { data: unknown } | undefined {
  try {
    return { data: loadYaml(text, { schema: CORE_SCHEMA }) }
  } catch {
    return undefined
  }
}

/** The one API an item's text holds, or undefined when it is not YAML of a one-item sequence. */
function itemData(item: string): unknown {
  const data = yamlData(item)?.data
  return Array.isArray(data) && data.length === 1 ? data[0] : undefined
}

/** One API's data validated alone, or undefined when it has any problem. */
function validApi(data: unknown, hasReferences: boolean, index: number, directory: string): ApiConfig | undefined {
  if (data === undefined) return undefined
  const secrets = hasReferences ? resolveSecrets(data) : { data, problems: [] }
  if (secrets.problems.length > 0) return undefined
  const placed = resolveRelativePaths({ apis: [secrets.data] }, directory) as { apis: unknown[] }
  const result = Api.safeParse(placed.apis[0])
  if (!result.success) return undefined
  let valid = true
  checkApi(result.data, index, { addIssue: () => (valid = false) })
  return valid ? result.data : undefined
}

/** Everything but the APIs validated, or undefined when it has any problem. */
function validSections(data: unknown, directory: string): Omit<ConfigModel, 'apis'> | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || 'apis' in data) return undefined
  const secrets = resolveSecrets(data)
  if (secrets.problems.length > 0) return undefined
  const result = ConfigSections.safeParse(resolveRelativePaths(secrets.data, directory))
  return result.success ? result.data : undefined
}

/** Reads and validates a config file once (`portico validate`, the first start): a reader with nothing to reuse. */
export function loadConfigFile(file: string): Promise<ConfigModel> {
  return new ConfigReader().load(file, { whileServing: false })
}
