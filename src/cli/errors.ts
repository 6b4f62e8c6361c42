/** Exit codes shared by every `sealbox` client command (issue 9): 0 ok, 1 usage, 2 API or I/O error, 3 audit chain broken. */
export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_API = 2;
export const EXIT_BROKEN = 3;

/** A mistake on the command line. Printed with the command's usage; exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The server answered with an error, or could not be reached, or a file could not be read or written; exit 2. */
export class ApiError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
