import { z } from 'zod'
import { Duration } from '../core/duration.ts'

/**
 * A Lambda function as the Invoke API accepts it: a name (`orders`), a partial ARN
 * (`123456789012:function:orders`) or a full ARN (`arn:aws:lambda:eu-west-1:123456789012:function:orders`),
 * each optionally ending in `:version` or `:alias`. The pattern is the one AWS documents for FunctionName.
 */
const FUNCTION = /^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d:)?(\d{12}:)?(function:)?([a-zA-Z0-9_.-]{1,140})(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/
const FULL_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):/
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/

const StaticCredentials = z.strictObject({
  type: z.literal('static'),
  /**
   * Only presence is checked: AWS's own test suite signs with `AKIDEXAMPLE` and AWS-compatible services take any
   * id (LocalStack uses `test`), so a format check would refuse working credentials.
   */
  accessKeyId: z.string().min(1, 'must not be empty'),
  secretAccessKey: z.string().min(1, 'must not be empty'),
  /** For temporary credentials issued elsewhere. */
  sessionToken: z.string().min(1).optional(),
})

/** The AWS SDK's default chain: environment, shared config and credentials files, SSO, container and instance metadata. */
const DefaultCredentials = z.strictObject({ type: z.literal('default') })

/** Credentials the role is assumed with. */
const SourceCredentials = z
  .looseObject({ type: z.enum(['static', 'default'], { error: 'must be "static" or "default"' }) })
  .pipe(z.discriminatedUnion('type', [StaticCredentials, DefaultCredentials]))

const AssumeRole = z.strictObject({
  type: z.literal('assume-role'),
  roleArn: z.string().regex(/^arn:aws[a-zA-Z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN such as "arn:aws:iam::123456789012:role/invoker"'),
  sessionName: z.string().regex(/^[\w+=,.@-]{2,64}$/, 'must be 2-64 letters, digits or "_+=,.@-"').default('portico'),
  externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2-1224 letters, digits or "_+=,.@:/-"').optional(),
  /** How long the temporary credentials last; STS allows 15 minutes up to the role's maximum (at most 12 hours). */
  duration: Duration.pipe(z.number().min(900_000, 'must be at least 15m').max(43_200_000, 'must be at most 12h')).default(3_600_000),
  /** The STS region; the function's region when unset. */
  region: z.string().regex(REGION, 'must be an AWS region such as "eu-west-1"').optional(),
  /** Another STS endpoint (a VPC endpoint, or an AWS-compatible local service). */
  endpointUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /** The credentials that assume the role. */
  source: SourceCredentials.default({ type: 'default' }),
})

const Credentials = z
  .looseObject({ type: z.enum(['static', 'default', 'assume-role'], { error: 'must be "static", "default" or "assume-role"' }) })
  .pipe(z.discriminatedUnion('type', [StaticCredentials, DefaultCredentials, AssumeRole]))

export const INVOCATION_TYPES = ['RequestResponse', 'Event'] as const
export const EVENT_FORMATS = ['apigw-v1', 'apigw-v2', 'wso2'] as const

/** The fields of a `type: lambda` leaf besides those every leaf has. */
export const lambdaFields = {
  function: z.string().regex(FUNCTION, 'must be a Lambda function name, partial ARN or ARN, optionally with ":version" or ":alias"'),
  /** Required unless `function` is a full ARN, whose region is used then. */
  region: z.string().regex(REGION, 'must be an AWS region such as "eu-west-1"').optional(),
  /** A version or alias; sent as the Invoke API's `Qualifier`. */
  qualifier: z.string().regex(/^(\$LATEST|[A-Za-z0-9_-]{1,128})$/, 'must be "$LATEST", a version number or an alias name').optional(),
  /** Another Lambda endpoint (a VPC endpoint, or an AWS-compatible local service); `https://lambda.<region>.amazonaws.com` by default. */
  endpointUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /** `RequestResponse` waits for the result; `Event` queues the call and answers 202 at once. */
  invocationType: z.enum(INVOCATION_TYPES, { error: 'must be "RequestResponse" or "Event"' }).default('RequestResponse'),
  /** The shape of the event the function receives. */
  eventFormat: z.enum(EVENT_FORMATS, { error: 'must be "apigw-v1", "apigw-v2" or "wso2"' }).default('apigw-v1'),
  credentials: Credentials.default({ type: 'default' }),
}

/** How a Lambda leaf obtains AWS credentials. */
export type LambdaCredentialsConfig = z.output<typeof lambdaFields.credentials>

/** Rules across the fields of a Lambda leaf. */
export function checkLambda(config: { function: string; region?: string | undefined; qualifier?: string | undefined }, ctx: z.RefinementCtx): void {
  const arnRegion = FULL_ARN.exec(config.function)?.[1]
  if (!arnRegion && !config.region) {
    ctx.addIssue({ code: 'custom', path: ['region'], message: `is required unless "function" is a full ARN (arn:aws:lambda:<region>:...)` })
  }
  if (arnRegion && config.region && arnRegion !== config.region) {
    ctx.addIssue({ code: 'custom', path: ['region'], message: `is "${config.region}" but the function ARN names region "${arnRegion}"` })
  }
  if (config.qualifier && FUNCTION.exec(config.function)?.[8]) {
    ctx.addIssue({ code: 'custom', path: ['qualifier'], message: `is set, but "function" ends in a qualifier already` })
  }
}

/** The function's region: the configured one, else the one in its ARN. */
export function lambdaRegion(config: { function: string; region?: string | undefined }): string {
  return config.region ?? FULL_ARN.exec(config.function)![1]!
}
