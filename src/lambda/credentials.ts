import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers'
import { memoize } from '@smithy/property-provider'
import type { LambdaCredentialsConfig } from './schema.ts'

export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
  readonly expiration?: Date | undefined
}

export type CredentialProvider = () => Promise<AwsCredentials>

type CredentialsConfig = LambdaCredentialsConfig

/**
 * Temporary credentials are renewed this long before they expire, so a request never signs with credentials
 * that run out while it is in flight, and clock skew between us and STS does not matter.
 */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000

/** Bounds each STS attempt (the SDK makes up to three), so a silent STS fails a request instead of hanging it. */
const STS_TIMEOUT_MS = 3_000

/**
 * The credentials a Lambda leaf signs with: static keys, the SDK's default chain, or a role assumed through STS.
 * The SDK's providers do the fetching; temporary credentials are cached and renewed ahead of expiry, and
 * concurrent requests share one renewal.
 */
export function credentialProvider(config: CredentialsConfig, functionRegion: string): CredentialProvider {
  switch (config.type) {
    case 'static': {
      const credentials: AwsCredentials = {
        accessKeyId: config.accessKeyId,
        secretAccessKey: config.secretAccessKey,
        sessionToken: config.sessionToken,
      }
      return () => Promise.resolve(credentials)
    }
    case 'default':
      // The chain memoizes itself and renews expiring credentials (container and instance metadata, SSO).
      return fromNodeProviderChain()
    case 'assume-role': {
      const source = config.source.type === 'static'
        ? { accessKeyId: config.source.accessKeyId, secretAccessKey: config.source.secretAccessKey, sessionToken: config.source.sessionToken }
        : fromNodeProviderChain()
      const assume = fromTemporaryCredentials({
        masterCredentials: source,
        params: {
          RoleArn: config.roleArn,
          RoleSessionName: config.sessionName,
          ExternalId: config.externalId,
          DurationSeconds: Math.round(config.duration / 1000),
        },
        clientConfig: {
          region: config.region ?? functionRegion,
          ...(config.endpointUrl ? { endpoint: config.endpointUrl } : {}),
          requestHandler: { connectionTimeout: STS_TIMEOUT_MS, requestTimeout: STS_TIMEOUT_MS, throwOnRequestTimeout: true },
        },
      })
      return memoize(
        assume,
        (credentials) => credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < REFRESH_BEFORE_EXPIRY_MS,
        (credentials) => credentials.expiration !== undefined,
      )
    }
  }
}
