/**
 * What an import could not convert, and what the user must do before the result runs. Parts left out make the
 * command exit 1; notes (environment variables to set, an allow-list to review) and differences from WSO2's
 * behaviour that remain in a converted part do not.
 */
export interface LeftOut {
  /** Where in the project: `api.yaml: data.corsConfiguration`, `Sequences/in-sequence/Custom/x.xml: sequence/call`. */
  location: string
  message: string
}

export class ImportReport {
  readonly leftOut: LeftOut[] = []
  readonly notes: string[] = []
  /** Converted parts that behave differently from WSO2 in a way the config cannot express. */
  readonly differences: LeftOut[] = []
  /** Environment variables the config reads its secrets from, with what each holds. */
  readonly variables = new Map<string, string>()

  leave(location: string, message: string): undefined {
    if (!this.leftOut.some((part) => part.location === location && part.message === message)) this.leftOut.push({ location, message })
    return undefined
  }

  differ(location: string, message: string): void {
    if (!this.differences.some((part) => part.location === location && part.message === message)) this.differences.push({ location, message })
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
