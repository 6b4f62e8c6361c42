/**
 * Which database errors mean "this server is gone or is no longer the primary" (issue 21): the request that met one
 * gets a 503 and the broker looks for the primary again. Everything else (constraint violations, serialisation
 * failures, bad input) is the caller's business and passes through untouched.
 */
const CONNECTION_SQLSTATES = new Set([
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '57P01', // admin_shutdown (pg_ctl stop, a promote's restart)
  '57P02', // crash_shutdown (another backend crashed, or -m immediate)
  '57P03', // cannot_connect_now (starting up, in recovery without hot standby)
  '25006', // read_only_sql_transaction: the server is a standby now
]);

const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

const MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not queryable/,
  /^Client was closed and is not queryable/,
  /^Cannot use a pool after calling end/,
];

export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = 'code' in err ? (err as { code: unknown }).code : undefined;
  if (typeof code === 'string' && (CONNECTION_SQLSTATES.has(code) || NODE_CODES.has(code))) return true;
  const message = err instanceof Error ? err.message : '';
  return MESSAGES.some((m) => m.test(message));
}

/** A write refused because the server is in recovery: the primary moved. */
export const isReadOnlyError = (err: unknown): boolean => typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === '25006';
