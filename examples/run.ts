import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { curlLine, examples } from './catalog.ts'

// `npm run example -- NAME [start options]`: the stand-in backends of examples/NAME.yaml in this process, the
// gateway beside it on that file (reloaded when it changes). `npm start` is `npm run example -- portico`.
const [name = 'portico', ...options] = process.argv.slice(2)
const example = examples[name]
if (!example) {
  console.error(`No example "${name}". Examples: ${Object.keys(examples).join(', ')}`)
  process.exit(2)
}
const backends = await example.backends().catch((error: Error) => {
  console.error(`cannot start the backends of examples/${name}.yaml: ${error.message}`)
  process.exit(1)
})
for (const server of backends) {
  const address = server.address()
  if (address && typeof address === 'object') console.error(`example backend on http://127.0.0.1:${address.port}`)
}
if (example.note) console.error(`note: ${example.note}`)
console.error(`try:\n${example.samples.map((sample) => `  ${curlLine(sample)}`).join('\n')}`)
// As it ships: bin/portico sets the Node options the gateway runs with.
const bin = fileURLToPath(new URL('../bin/portico', import.meta.url))
const config = fileURLToPath(new URL(`./${name}.yaml`, import.meta.url))
const gateway = spawn(bin, ['start', '--config', config, '--watch', ...options], { stdio: 'inherit' })
const stop = () => gateway.kill('SIGTERM')
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
gateway.on('exit', (code) => {
  for (const server of backends) server.close()
  process.exit(code ?? 0)
})
