import { after, before } from 'node:test'
import { startEchoBackend, type TestBackend } from './backend.ts'
import { startGateway, type TestGateway } from './gateway.ts'

/** A backend and the gateway in front of it, for the tests of one `describe`. */
export interface InFront {
  readonly backend: TestBackend
  readonly gateway: TestGateway
}

/**
 * Starts a backend (an echo backend unless `startBackend` says otherwise) and a gateway whose config `config`
 * writes around the backend's URL, before the tests of the `describe` it is called in, and closes both after
 * them: the gateway first, so that no request is left on its way to a closed backend. `backend` and `gateway`
 * are there once the tests run.
 */
export function gatewayInFront(config: (backendUrl: string) => string, startBackend: () => Promise<TestBackend> = startEchoBackend): InFront {
  let backend: TestBackend | undefined
  let gateway: TestGateway | undefined
  before(async () => {
    backend = await startBackend()
    gateway = await startGateway(config(backend.url))
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })
  return {
    get backend() {
      if (!backend) throw new Error('the backend starts before the tests: read it inside a test')
      return backend
    },
    get gateway() {
      if (!gateway) throw new Error('the gateway starts before the tests: read it inside a test')
      return gateway
    },
  }
}
