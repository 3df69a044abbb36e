import { readFileSync } from 'node:fs'
import * as jsyaml from 'js-yaml'
const text = readFileSync('/tmp/scale5000.yaml', 'utf8')
for (let i = 0; i < 3; i++) {
let t = performance.now()
jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA })
console.log('js-yaml load', Math.round(performance.now() - t))
}
