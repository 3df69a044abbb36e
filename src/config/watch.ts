import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

/**
 * Calls `onChange` when the config file changes (with `--watch`) or the process gets SIGHUP. Watches the
 * directory, not the file, because editors and config managers replace files by renaming over them.
 */
export function watchConfig(file: string, options: { watch: boolean }, onChange: () => void): () => void {
  let timer: NodeJS.Timeout | undefined
  const schedule = () => {
    clearTimeout(timer)
    // Editors write in several steps; one reload after they settle.
    timer = setTimeout(onChange, 100)
  }
  let watcher: FSWatcher | undefined
  if (options.watch) {
    const path = resolve(file)
    const name = basename(path)
    watcher = watch(dirname(path), (_event, changed) => {
      if (changed === null || changed === name) schedule()
    })
  }
  // A signal is an operator's explicit request, sent once the file is written: no need to wait for it to settle.
  process.on('SIGHUP', onChange)
  return () => {
    clearTimeout(timer)
    watcher?.close()
    process.off('SIGHUP', onChange)
  }
}
