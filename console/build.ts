import { copyFile, mkdir, rm } from 'node:fs/promises'

// The console as the admin port serves it: one minified script, one stylesheet and the page, in console/dist.
// Built at install (`prepare`) and before the tests; the same sources give the same bytes (no timestamps, no
// absolute paths), so the output need not be committed.
// esbuild is a dev dependency: an install without them (`npm ci --omit=dev`) has no console, and says so.
const esbuild = await import('esbuild').catch(() => undefined)
if (!esbuild) {
  console.error('console not built: esbuild, a dev dependency, is not installed (the admin port answers /console with 503)')
  process.exit(0)
}
const { build } = esbuild
const root = new URL('./', import.meta.url)
const dist = new URL('dist/', root)
await rm(dist, { recursive: true, force: true })
await mkdir(dist, { recursive: true })
const result = await build({
  entryPoints: [new URL('src/main.ts', root).pathname],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: new URL('app.js', dist).pathname,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
await copyFile(new URL('index.html', root), new URL('index.html', dist))
await copyFile(new URL('style.css', root), new URL('style.css', dist))
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0)
console.error(`console built: console/dist (${(bytes / 1024).toFixed(1)} KiB of script)`)
