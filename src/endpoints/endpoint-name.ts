import { z } from 'zod'

/** Names that show up in metrics and logs: letters, digits and `._:-`. */
export const EndpointName = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 letters, digits or "._:-"')
