/**
 * What an import could not convert, and what the user must do before the result runs. Parts left out make the
 * command exit 1; notes (environment variables to set, an allow-list to review) do not.
 */
export interface LeftOut {
  /** Where in the project: `api.yaml: data.corsConfiguration`, `Sequences/in-sequence/Custom/x.xml: sequence/call`. */
  location: string
  message: string
}

export class ImportReport {
  readonly leftOut: LeftOut[] = []
  readonly notes: string[] = []
  /** Environment variables the config reads its secrets from, with what each holds. */
  readonly variables = new Map<string, string>()

  leave(location: string, message: string): undefined {
    this.leftOut.push({ location, message })
    return undefined
  }

  note(message: string): void {
    if (!this.notes.includes(message)) this.notes.push(message)
  }

  /** A `${env:NAME}` reference in place of a secret: secrets never reach the written config. */
  secret(name: string, holds: string): string {
    this.variables.set(name, holds)
    return `\${env:${name}}`
  }
}
