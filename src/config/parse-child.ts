// The process of parse-process.ts: parses and validates the config it is sent and answers with the model (and
// which of its APIs may be reused) or its problems, then exits.
import { ConfigError } from './load.ts'
import { ConfigReader } from './reader.ts'

process.once('message', ({ text, file }: { text: string; file: string }) => {
  let answer: object
  try {
    answer = new ConfigReader().read(text, file)
  } catch (error) {
    answer = error instanceof ConfigError ? { issues: error.issues } : { error: (error as Error).message ?? String(error) }
  }
  process.send!(answer, () => process.disconnect())
})
