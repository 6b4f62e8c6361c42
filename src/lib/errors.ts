/** The closed set of error codes. http/error-status.ts is the one place that maps them to HTTP statuses. */
export type ErrorCode =
  | 'bad_request'
  | 'permission_denied'
  | 'not_found'
  | 'unsupported_operation'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'conflict'
  | 'sealed'
  | 'uninitialized'
  | 'rate_limited'
  /** A dependency (a database target, an upstream) is down or too slow: 503, retry later. */
  | 'unavailable'
  | 'internal';

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra messages rendered after the main one in `errors[]`. Never put secrets here. */
  readonly details: readonly string[];
  /** Rendered as a `Retry-After` header (seconds), e.g. for `rate_limited`. */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, details: readonly string[] = [], opts: { retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
    if (opts.retryAfterSeconds !== undefined) this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export const badRequest = (message: string): AppError => new AppError('bad_request', message);
export const notFound = (message = ''): AppError => new AppError('not_found', message);
export const permissionDenied = (): AppError => new AppError('permission_denied', 'permission denied');

/** The one answer to a failed login: it never says which part (role, secret, key, claim) was wrong. */
export const loginFailed = (): AppError => new AppError('bad_request', 'invalid credentials');
