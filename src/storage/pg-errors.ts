import { AppError } from '../lib/errors.ts';

/**
 * SQLSTATEs of PostgreSQL data exceptions (class 22) that a client's input can cause: a NUL or invalid Unicode in a
 * text or jsonb value, a value too long for its column, or a number out of range.
 */
const CLIENT_DATA_ERRORS = new Set([
  '22021', // character_not_in_repertoire ("invalid byte sequence for encoding UTF8: 0x00")
  '22P05', // untranslatable_character (\u0000 in jsonb)
  '22P02', // invalid_text_representation (a lone surrogate escape in jsonb)
  '22001', // string_data_right_truncation
  '22003', // numeric_value_out_of_range
]);

const sqlState = (err: unknown): unknown =>
  typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;

/**
 * Rethrows a database error; data exceptions caused by the stored values become a 400 that names no value,
 * so that no input reaches the database as a 500. Both pg and PGlite put the SQLSTATE in `code`.
 */
export function translatePgError(err: unknown): never {
  const code = sqlState(err);
  if (typeof code === 'string' && CLIENT_DATA_ERRORS.has(code)) {
    throw new AppError('bad_request', 'input contains a value the database cannot store (NUL or invalid Unicode, or out of range)');
  }
  throw err;
}
