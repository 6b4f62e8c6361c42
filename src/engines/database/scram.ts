/**
 * SCRAM-SHA-256 password verifiers as PostgreSQL stores them (RFC 5802/7677), computed by the broker so that the
 * plaintext password never reaches the target's statement log:
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * PostgreSQL takes such a string in `PASSWORD '…'` as the verifier itself.
 */
import { createHash, createHmac, pbkdf2 } from 'node:crypto';
import type { Random } from '../../lib/random.ts';

/** PostgreSQL's default scram_iterations. */
export const SCRAM_ITERATIONS = 4096;

function derive(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, 32, 'sha256', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * PostgreSQL SASLprep-normalises passwords before hashing; for printable ASCII (every policy password we know)
 * that is the identity. Other text gets NFKC, the normalisation step of SASLprep.
 */
const prepare = (password: string): string => (/^[\x20-\x7e]*$/.test(password) ? password : password.normalize('NFKC'));

export async function scramVerifier(password: string, random: Random, iterations = SCRAM_ITERATIONS): Promise<string> {
  const salt = random.bytes(16);
  const salted = await derive(prepare(password), salt, iterations);
  try {
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    clientKey.fill(0);
    return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
  } finally {
    salted.fill(0);
  }
}
