import type { ErrorCode } from '../lib/errors.ts';

/** The one mapping from error codes to HTTP statuses. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  permission_denied: 403,
  not_found: 404,
  unsupported_operation: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  conflict: 409,
  rate_limited: 429,
  internal: 500,
  sealed: 503,
  unavailable: 503,
  uninitialized: 503,
};
