import type { UriVariables } from '../../core/uri-template.ts'
import type { PrototypeRequest } from '../request.ts'
import { problemResponse, type PrototypeResponse } from '../response.ts'
import type { Located, OpenApiDocument } from './document.ts'
import { parsePreferences } from './prefer.ts'
import { RequestValidator } from './request-validator.ts'
import { ResponseBuilder, Unsatisfiable } from './response-builder.ts'

/** One operation of the document: checks requests against it and answers as it documents. */
export class OpenApiOperation {
  readonly method: string
  readonly path: string
  readonly #validator: RequestValidator
  readonly #responses: ResponseBuilder

  constructor(document: OpenApiDocument, method: string, path: string, pathItem: Located, operation: Located) {
    this.method = method
    this.path = path
    // Operation parameters override path-item parameters of the same name and location.
    const parameters = new Map<string, Located>()
    for (const owner of [pathItem, operation]) {
      const list = owner.node.parameters ?? []
      if (!Array.isArray(list)) continue
      list.forEach((raw, index) => {
        try {
          const parameter = document.resolve(raw, `${owner.pointer}/parameters/${index}`)
          parameters.set(`${String(parameter.node.in)}\u0000${String(parameter.node.name)}`, parameter)
        } catch (error) {
          document.warn(`${owner.pointer}/parameters/${index} is not checked: ${(error as Error).message}`)
        }
      })
    }
    const requestBody = resolveOrWarn(document, operation.node.requestBody, `${operation.pointer}/requestBody`)
    const responses = resolveOrWarn(document, operation.node.responses, `${operation.pointer}/responses`)
    this.#validator = new RequestValidator(document, [...parameters.values()], requestBody)
    this.#responses = new ResponseBuilder(document, responses)
  }

  /** Answers the request: validation problems, or the documented response the client prefers. */
  respond(request: PrototypeRequest, pathVariables: UriVariables, validate: boolean): PrototypeResponse {
    if (validate) {
      const verdict = this.#validator.check(request, pathVariables)
      if (!verdict.ok) {
        const message = `The request does not match ${this.method} ${this.path} in the OpenAPI document`
        const refusal = problemResponse(verdict.status, 'PROTOTYPE_REQUEST_INVALID', message, request.requestId, { errors: verdict.problems })
        return this.#responses.refusal(refusal, verdict.problems, request.headers.accept)
      }
    }
    const preferences = parsePreferences(request.headers.prefer)
    if (typeof preferences === 'string') return problemResponse(400, 'PROTOTYPE_PREFER_UNSATISFIED', preferences, request.requestId)
    try {
      return this.#responses.build(preferences, request.headers.accept)
    } catch (error) {
      if (!(error instanceof Unsatisfiable)) throw error
      const code = error.status === 406 ? 'PROTOTYPE_NOT_ACCEPTABLE' : 'PROTOTYPE_PREFER_UNSATISFIED'
      return problemResponse(error.status, code, `${this.method} ${this.path}: ${error.message}`, request.requestId)
    }
  }
}

/** A part whose `$ref` leads nowhere is left out with a warning; the rest of the operation is still served. */
function resolveOrWarn(document: OpenApiDocument, value: unknown, pointer: string): Located | undefined {
  if (value === undefined) return undefined
  try {
    return document.resolve(value, pointer)
  } catch (error) {
    document.warn(`${pointer} left out: ${(error as Error).message}`)
    return undefined
  }
}
