import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument, parse } from 'yaml'
import { Config } from '../src/config/schema.ts'
import { Snapshot } from '../src/gateway/snapshot.ts'
import { loadEndpointModules } from '../src/endpoints/factory.ts'
const text = readFileSync('/tmp/scale5000.yaml', 'utf8')
let t = performance.now()
const doc = parseDocument(text, { lineCounter: new LineCounter(), uniqueKeys: true, prettyErrors: false })
const data = doc.toJS({ maxAliasCount: 100 })
console.log('yaml parseDocument+toJS', Math.round(performance.now() - t)); t = performance.now()
parse(text)
console.log('yaml parse', Math.round(performance.now() - t)); t = performance.now()
const json = JSON.stringify(data); console.log('json len', json.length)
JSON.parse(json); console.log('JSON.parse', Math.round(performance.now() - t)); t = performance.now()
const result = Config.safeParse(data)
console.log('zod', Math.round(performance.now() - t), result.success); t = performance.now()
await loadEndpointModules(result.data!.apis.flatMap((a: any) => Object.values(a.endpoints)))
const s = new Snapshot(result.data!)
console.log('snapshot', Math.round(performance.now() - t)); t = performance.now()
const s2 = new Snapshot(result.data!, s)
console.log('snapshot reuse', Math.round(performance.now() - t)); t = performance.now()
