import { parentPort } from 'node:worker_threads'
import { newQuickJSWASMModule, shouldInterruptAfterDeadline, type QuickJSWASMModule } from 'quickjs-emscripten'

/** A script to run, as the gateway sends it to this worker. */
export interface ScriptJob {
  id: number
  source: string
  /** The request, already JSON text: it becomes the script's argument as a literal. */
  requestJson: string
  time: number
  memoryBytes: number
}

export type ScriptOutcome =
  /** Sent once, when QuickJS is compiled and the worker can take jobs. */
  | { ready: true }
  | { id: number; ok: true; output: string }
  /** `broken`: this worker is exiting and must get no further jobs. */
  | { id: number; ok: false; message: string; broken?: true }

/**
 * The worker thread that runs prototype scripts in QuickJS compiled to WebAssembly. Each job gets a fresh
 * runtime with its own memory limit and an interrupt deadline. Should QuickJS or the WebAssembly stack itself
 * give way (host stack overflow, an abort while freeing), the worker reports the failure and exits, and the
 * gateway starts a new one: a broken module is never reused.
 */
const module: QuickJSWASMModule = await newQuickJSWASMModule()
// WebAssembly functions are compiled on first call: one throwaway run keeps that cost out of a script's deadline.
run({ id: 0, source: '(request) => ({ body: JSON.stringify(request) })', requestJson: '{"warm":[1,"x"]}', time: 10_000, memoryBytes: 16_777_216 })
parentPort!.postMessage({ ready: true } satisfies ScriptOutcome)

parentPort!.on('message', (job: ScriptJob) => {
  let outcome: ScriptOutcome
  let broken = false
  try {
    outcome = run(job)
  } catch (error) {
    broken = true
    outcome = { id: job.id, ok: false, message: `the script broke the sandbox (${(error as Error).message.split('\n')[0]}); it was restarted`, broken: true }
  }
  parentPort!.postMessage(outcome)
  if (broken) process.exit(1)
})

function run(job: ScriptJob): ScriptOutcome {
  const runtime = module.newRuntime()
  runtime.setMemoryLimit(job.memoryBytes)
  // Well below the thread's own stack, so that QuickJS reports runaway recursion before the host overflows.
  runtime.setMaxStackSize(256 * 1024)
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + job.time))
  const context = runtime.newContext()
  let outcome: ScriptOutcome
  // The newlines keep a trailing `//` comment in the script from swallowing the call.
  const code = `(() => {
    const result = (\n${job.source}\n)(${job.requestJson});
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') throw new TypeError('the script returned a Promise; return the response object itself');
    return JSON.stringify(result === undefined ? null : result);
  })()`
  const result = context.evalCode(code, 'prototype-script.js')
  if (result.error) {
    outcome = { id: job.id, ok: false, message: describe(context.dump(result.error), job) }
    result.error.dispose()
  } else {
    const text: unknown = context.dump(result.value)
    result.value.dispose()
    outcome = typeof text === 'string' ? { id: job.id, ok: true, output: text } : { id: job.id, ok: false, message: 'the script returned nothing; return { status, headers, body }' }
  }
  context.dispose()
  runtime.dispose()
  return outcome
}

function describe(error: unknown, job: ScriptJob): string {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown }
  if (name === 'InternalError' && message === 'interrupted') return `the script ran longer than its ${job.time} ms limit`
  if (name === 'InternalError' && message === 'out of memory') return `the script needed more than its ${job.memoryBytes} bytes of memory`
  if (name === 'InternalError' && message === 'stack overflow') return 'the script overflowed its stack (runaway recursion?)'
  if (typeof name === 'string' && typeof message === 'string') return `the script threw ${name}: ${message}`
  return `the script threw ${JSON.stringify(error)}`
}
