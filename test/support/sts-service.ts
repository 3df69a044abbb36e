import { randomBytes, randomUUID } from 'node:crypto'
import { startBackend, type TestBackend } from './backend.ts'
import { verifySignature, type AwsKey } from './aws-signature.ts'

export interface AssumeRoleCall {
  roleArn: string
  sessionName: string
  externalId: string | undefined
  durationSeconds: number
  accessKeyId: string
}

export interface StsService {
  url: string
  backend: TestBackend
  calls: AssumeRoleCall[]
  /** Every set of temporary credentials issued, newest last. */
  issued: AwsKey[]
  close(): Promise<void>
}

/**
 * A local stand-in for STS `AssumeRole` (query protocol, XML answers) on 127.0.0.1. It verifies each call's SigV4
 * signature, checks the role and external id, and issues temporary credentials that it registers with `grantTo`
 * (the Lambda stand-in's key store), so the gateway can only invoke with credentials STS really issued.
 */
export async function startStsService(options: {
  region: string
  keys: AwsKey[]
  roles: Record<string, { externalId?: string }>
  grantTo: Map<string, AwsKey>
  /** How long issued credentials last; the requested duration when unset. */
  lifetimeMs?: number
}): Promise<StsService> {
  const keys = new Map(options.keys.map((key) => [key.accessKeyId, key]))
  const calls: AssumeRoleCall[] = []
  const issued: AwsKey[] = []
  const fail = (res: import('node:http').ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'text/xml' })
    res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`)
  }
  const backend = await startBackend((req, res, body) => {
    void (async () => {
      const check = await verifySignature(req, body, { service: 'sts', region: options.region }, keys)
      if (!check.ok) return fail(res, 403, check.type === 'UnrecognizedClientException' ? 'InvalidClientTokenId' : 'SignatureDoesNotMatch', check.message)
      const form = new URLSearchParams(body.toString('utf8'))
      if (form.get('Action') !== 'AssumeRole') return fail(res, 400, 'InvalidAction', `Could not find operation ${form.get('Action')}`)
      const roleArn = form.get('RoleArn') ?? ''
      const call: AssumeRoleCall = {
        roleArn,
        sessionName: form.get('RoleSessionName') ?? '',
        externalId: form.get('ExternalId') ?? undefined,
        durationSeconds: Number(form.get('DurationSeconds') ?? 3600),
        accessKeyId: check.key.accessKeyId,
      }
      calls.push(call)
      const role = options.roles[roleArn]
      if (!role || role.externalId !== call.externalId) {
        return fail(res, 403, 'AccessDenied', `User is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`)
      }
      const key: AwsKey = {
        accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: randomBytes(48).toString('base64'),
      }
      issued.push(key)
      options.grantTo.set(key.accessKeyId, key)
      const expiration = new Date(Date.now() + (options.lifetimeMs ?? call.durationSeconds * 1000)).toISOString()
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>${key.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${key.secretAccessKey}</SecretAccessKey>
      <SessionToken>${key.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:${call.sessionName}</AssumedRoleId>
      <Arn>${roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${call.sessionName}</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleResponse>`)
    })().catch((error: unknown) => {
      res.writeHead(500)
      res.end(String(error))
    })
  })
  return { url: backend.url, backend, calls, issued, close: () => backend.close() }
}
