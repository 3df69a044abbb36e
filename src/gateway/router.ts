import type { CompiledApi } from './api.ts'

export interface RouteMatch {
  api: CompiledApi
  /** The request path below the API's base path, starting with `/` (or empty for the base path itself). */
  rest: string
}

/** Finds the API for a path by its longest base path (context with version, or a default version's context). */
export class Router {
  readonly #byBasePath = new Map<string, CompiledApi>()
  #maxSegments = 0

  add(basePath: string, api: CompiledApi): void {
    const key = basePath === '/' ? '' : basePath
    this.#byBasePath.set(key, api)
    this.#maxSegments = Math.max(this.#maxSegments, segmentCount(key))
  }

  find(path: string): RouteMatch | undefined {
    // Only prefixes as deep as the deepest base path can match, which bounds the work for very long paths.
    let end = 0
    for (let seen = 0; seen <= this.#maxSegments; seen++) {
      end = path.indexOf('/', end + 1)
      if (end < 0) {
        end = path.length
        break
      }
    }
    let candidate = path.slice(0, end)
    for (;;) {
      const api = this.#byBasePath.get(candidate)
      if (api) return { api, rest: path.slice(candidate.length) }
      if (candidate === '') return undefined
      candidate = candidate.slice(0, candidate.lastIndexOf('/'))
    }
  }
}

function segmentCount(path: string): number {
  let count = 0
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) count++
  return count
}
