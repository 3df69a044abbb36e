// Offered load at a fixed rate over whole windows of the clock, shared by the throttling tests and the
// `ratelimit-accuracy` benchmark line (tests never import bench/, so it lives here).
import { request as httpRequest } from 'node:http'

/** One request on a fresh connection (the kernel spreads fresh connections over a gateway's workers). */
export function get(url: string): Promise<{ status: number; body: string; ms: number }> {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: 5000 }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, body, ms: performance.now() - start }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Offers `rate` requests a second for `seconds` whole seconds of the clock, spread evenly and alternating over
 * `urls`, and counts the answers by status. Starts just after a second begins and stops just before the last one
 * ends, so every request falls in one of `seconds` windows of a per-second limit.
 */
export async function offer(urls: string[], rate: number, seconds: number): Promise<Record<number, number>> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20))
  const start = Date.now()
  const total = Math.floor(rate * (seconds - 0.06))
  const answers: Promise<{ status: number }>[] = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    answers.push(get(urls[i % urls.length]!))
  }
  const counts: Record<number, number> = {}
  for (const { status } of await Promise.all(answers)) counts[status] = (counts[status] ?? 0) + 1
  return counts
}
