import { isAbsolute, join } from 'node:path'

/**
 * Makes the file paths a config names relative to the config file's directory rather than to the directory the
 * gateway was started in, so that `portico start --config /etc/portico/portico.yaml` finds `wsdl: calc.wsdl` in
 * /etc/portico wherever it runs. Works on the parsed data before validation, so every check that reads a file
 * (and every message about one) sees the path actually used. A path with no directory part of the config file
 * (`portico.yaml` in the working directory) comes back unchanged.
 *
 * The fields are listed here rather than marked in the schemas because a schema knows no file location; they are:
 * `accessLog.path`, a `wsdl` endpoint's `wsdl` (unless a URL), a `prototype` endpoint's `openapi` and its
 * responses' `file`, and the `ca`, `cert` and `key` (unless PEM text) of any leaf's `security.tls` and of its OAuth2
 * token endpoint's `security.auth.tls`, and a listener's `tls.certificates[].cert`/`key` and `tls.clientCertificates.ca`.
 */
export function resolveRelativePaths(data: unknown, configDirectory: string): unknown {
  if (configDirectory === '.' || configDirectory === '' || !isRecord(data)) return data
  const place = (value: unknown) => (typeof value === 'string' && value !== '' && !isAbsolute(value) ? join(configDirectory, value) : value)
  const copy = { ...data }
  if (isRecord(copy.accessLog) && 'path' in copy.accessLog) copy.accessLog = { ...copy.accessLog, path: place(copy.accessLog.path) }
  if (Array.isArray(copy.listeners)) copy.listeners = copy.listeners.map((listener) => resolveListener(listener, place))
  const endpoints = (value: unknown) => (isRecord(value) ? mapValues(value, (endpoint) => resolveEndpoint(endpoint, place)) : value)
  if (Array.isArray(copy.apis)) {
    copy.apis = copy.apis.map((api) => {
      if (!isRecord(api)) return api
      const resolved = { ...api }
      if ('endpoints' in api) resolved.endpoints = endpoints(api.endpoints)
      if (Array.isArray(api.resources)) {
        resolved.resources = api.resources.map((resource) => (isRecord(resource) && 'endpoints' in resource ? { ...resource, endpoints: endpoints(resource.endpoints) } : resource))
      }
      return resolved
    })
  }
  return copy
}

function resolveEndpoint(endpoint: unknown, place: (value: unknown) => unknown): unknown {
  if (!isRecord(endpoint)) return endpoint
  const copy = { ...endpoint }
  if (Array.isArray(copy.endpoints)) copy.endpoints = copy.endpoints.map((child) => resolveEndpoint(child, place))
  if (copy.type === 'wsdl' && typeof copy.wsdl === 'string' && !/^https?:\/\//i.test(copy.wsdl)) copy.wsdl = place(copy.wsdl)
  if (copy.type === 'prototype') {
    if ('openapi' in copy) copy.openapi = place(copy.openapi)
    if (Array.isArray(copy.resources)) {
      copy.resources = copy.resources.map((resource) =>
        isRecord(resource) && Array.isArray(resource.responses)
          ? { ...resource, responses: resource.responses.map((response) => (isRecord(response) && 'file' in response ? { ...response, file: place(response.file) } : response)) }
          : resource,
      )
    }
  }
  if (isRecord(copy.security)) {
    const security = { ...copy.security }
    if ('tls' in security) security.tls = resolveTls(security.tls, place)
    if (isRecord(security.auth) && 'tls' in security.auth) security.auth = { ...security.auth, tls: resolveTls(security.auth.tls, place) }
    copy.security = security
  }
  return copy
}

/** A listener's certificates and client CA bundle, each PEM text or a file path. */
function resolveListener(listener: unknown, place: (value: unknown) => unknown): unknown {
  if (!isRecord(listener) || !isRecord(listener.tls)) return listener
  const tls = { ...listener.tls }
  if (Array.isArray(tls.certificates)) tls.certificates = tls.certificates.map((certificate) => resolveTls(certificate, place))
  if ('clientCertificates' in tls) tls.clientCertificates = resolveTls(tls.clientCertificates, place)
  return { ...listener, tls }
}

/** `ca`, `cert` and `key` hold PEM text or the path of a PEM file. */
function resolveTls(tls: unknown, place: (value: unknown) => unknown): unknown {
  if (!isRecord(tls)) return tls
  const copy = { ...tls }
  for (const field of ['ca', 'cert', 'key']) {
    const value = copy[field]
    if (typeof value === 'string' && !value.trimStart().startsWith('-----BEGIN')) copy[field] = place(value)
  }
  return copy
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function mapValues(record: Record<string, unknown>, map: (value: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]))
}
