import { chromium, type Browser } from 'playwright-core'

/** Debian's Chromium, which scripts/prepare-test-env.sh installs. */
export const CHROMIUM = process.env.PORTICO_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Headless Chromium for the console tests, kept off the network: no background requests, no component updates,
 * nothing but the pages the tests open on 127.0.0.1.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
}
