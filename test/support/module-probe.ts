// Run as a child process: `node module-probe.ts YAML [NEXT_YAML]`. Starts a gateway from YAML (then reloads it with
// NEXT_YAML, if given) and prints, as one JSON line, every file the process loaded from src/ and node_modules/:
// what a config makes the gateway import, seen from outside, with nothing loaded before the hook.
import { registerHooks } from 'node:module'

const loaded: string[] = []
registerHooks({
  load(url, context, next) {
    loaded.push(url)
    return next(url, context)
  },
})

const [yaml, nextYaml] = process.argv.slice(2)
const { startGateway } = await import('./gateway.ts')
const { parseConfig } = await import('../../src/config/load.ts')
const gateway = await startGateway(yaml!)
const started = [...loaded]
if (nextYaml) await gateway.instance.gateway.reload({ ...parseConfig(nextYaml, 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
await gateway.close()
process.stdout.write(`${JSON.stringify({ started, reloaded: loaded })}\n`)
