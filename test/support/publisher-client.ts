import { request } from 'undici'

/** A client of a node's publisher API (`/api/v1` on its admin port) that throws on any answer but a success. */
export class PublisherClient {
  readonly #base: string
  readonly #token: string

  constructor(adminUrl: string, token: string) {
    this.#base = `${adminUrl}/api/v1`
    this.#token = token
  }

  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await request(`${this.#base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.body.text()
    if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`)
    return text ? (JSON.parse(text) as Record<string, unknown>) : {}
  }

  /** Creates an API answering at `/NAME/v1` from `url`, publishes it and deploys a revision: its id and the config version. */
  async publish(name: string, url: string): Promise<{ id: string; version: number }> {
    const api = await this.call('POST', '/apis', { name, context: `/${name}`, version: 'v1', endpoints: { production: { type: 'http', url } } })
    const id = String(api.id)
    await this.call('POST', `/apis/${id}/lifecycle?action=Publish`)
    return { id, version: await this.deploy(id) }
  }

  /** Points the API's production endpoint at `url` and deploys it as a new revision; returns the config version. */
  async redeploy(id: string, url: string): Promise<number> {
    await this.call('PUT', `/apis/${id}/endpoints`, { production: { type: 'http', url } })
    return this.deploy(id)
  }

  async deploy(id: string): Promise<number> {
    const revision = await this.call('POST', `/apis/${id}/revisions`)
    return Number((await this.call('POST', `/apis/${id}/deployments`, { revisionId: revision.id })).version)
  }
}
