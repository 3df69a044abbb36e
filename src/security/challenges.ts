export interface Challenge {
  /** Lower case, e.g. `digest`, `bearer`. */
  scheme: string
  /** Auth-params with lower-case names and unquoted values. */
  parameters: Record<string, string>
}

const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+"
const SCHEME = new RegExp(`^[\\s,]*(${TOKEN})(?=$|[\\s,])`)
const PARAMETER = new RegExp(`^[\\s,]*(${TOKEN})\\s*=\\s*(?:"((?:[^"\\\\]|\\\\[\\s\\S])*)"|(${TOKEN}))`)
const TOKEN68 = /^\s+[A-Za-z0-9._~+/-]+=*(?=$|[\s,])/

/**
 * The challenges of `WWW-Authenticate` header values (RFC 9110 section 11.6.1). Several values, or several
 * challenges in one value, all count; a value that does not parse yields what parsed before it.
 * Hand-written: the one well-kept parser at hand (inside oauth4webapi) is not exported.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return []
  const challenges: Challenge[] = []
  for (const value of Array.isArray(header) ? header : [header]) parseValue(value, challenges)
  return challenges
}

function parseValue(value: string, challenges: Challenge[]): void {
  let rest = value
  for (;;) {
    const scheme = SCHEME.exec(rest)
    if (!scheme) return
    rest = rest.slice(scheme[0].length)
    const challenge: Challenge = { scheme: scheme[1]!.toLowerCase(), parameters: {} }
    challenges.push(challenge)
    const token68 = TOKEN68.exec(rest)
    if (token68 && !PARAMETER.test(rest)) {
      rest = rest.slice(token68[0].length)
      continue
    }
    // Parameters follow until the next item is a bare token: the next challenge's scheme.
    for (let parameter = PARAMETER.exec(rest); parameter; parameter = PARAMETER.exec(rest)) {
      const quoted = parameter[2]
      challenge.parameters[parameter[1]!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\([\s\S])/g, '$1') : parameter[3]!
      rest = rest.slice(parameter[0].length)
    }
  }
}
