import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startPizzaShackBackend } from './pizzashack-backend.ts'

// `npm start`: the example backend in this process, the gateway beside it on examples/portico.yaml.
const backend = await startPizzaShackBackend(9080)
console.error('example backend on http://127.0.0.1:9080')
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const config = fileURLToPath(new URL('./portico.yaml', import.meta.url))
const gateway = spawn(process.execPath, [cli, 'start', '--config', config, '--watch', ...process.argv.slice(2)], { stdio: 'inherit' })
const stop = () => gateway.kill('SIGTERM')
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
gateway.on('exit', (code) => {
  backend.close()
  process.exit(code ?? 0)
})
