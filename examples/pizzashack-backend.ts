import { createServer } from 'node:http'

/** A small stand-in for the PizzaShack backend, so the example config answers without anything else running. */
const menu = [
  { id: '1', name: 'BBQ Chicken Bacon', price: '24.99' },
  { id: '2', name: 'Chicken Parmesan', price: '21.99' },
  { id: '3', name: 'Garden Fresh', price: '18.99' },
]
const orders = new Map<string, unknown>()

export function startPizzaShackBackend(port = 9080) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend')
    const environment = url.pathname.startsWith('/pizzashack-sandbox') ? 'sandbox' : 'production'
    const path = url.pathname.replace(/^\/pizzashack(-sandbox)?/, '')
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-backend-environment': environment })
      res.end(JSON.stringify(body))
    }
    if (path === '/menu') return send(200, menu)
    const item = /^\/menu\/([^/]+)$/.exec(path)
    if (item) {
      const found = menu.find((entry) => entry.id === item[1])
      return found ? send(200, found) : send(404, { error: `no menu item ${item[1]}` })
    }
    if (path === '/order' && req.method === 'POST') {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => (body += chunk))
      req.on('end', () => {
        const id = String(orders.size + 1)
        orders.set(id, body ? JSON.parse(body) : {})
        send(201, { orderId: id })
      })
      return
    }
    const order = /^\/order\/([^/]+)$/.exec(path)
    if (order && orders.has(order[1]!)) return send(200, orders.get(order[1]!))
    send(404, { error: `nothing at ${path}` })
  })
  return new Promise<typeof server>((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)))
}
