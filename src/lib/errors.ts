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
  | 'internal';

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra messages rendered after the main one in `errors[]`. Never put secrets here. */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export const badRequest = (message: string): AppError => new AppError('bad_request', message);
export const notFound = (message = ''): AppError => new AppError('not_found', message);
export const permissionDenied = (): AppError => new AppError('permission_denied', 'permission denied');

/** The one answer to a failed login: it never says which part (role, secret, key, claim) was wrong. */
export const loginFailed = (): AppError => new AppError('bad_request', 'invalid credentials');
