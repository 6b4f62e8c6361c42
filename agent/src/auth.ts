/**
 * Log in with the configured method. Credential files (role/secret ID, service-account token, JWT, token,
 * client certificate) are read again on every login, because Kubernetes and operators rotate them.
 */
import fsp from 'node:fs/promises';
import type { AuthConfig, AgentConfig } from './config.ts';
import { createBroker, BrokerError, type Broker } from './broker-client.ts';

export interface AgentToken {
  token: string;
  /** TTL at login/renewal in ms; 0 = does not expire. */
  ttlMs: number;
  renewable: boolean;
  /** Obtained by a login (the agent may revoke it); false for a token read from token_file. */
  ownedByAgent: boolean;
}

/** A login failure that retrying as-is will not fix (bad credentials, missing file). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

async function readCredential(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new AuthError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, false);
  }
  const value = text.trim();
  if (!value) throw new AuthError(`${what} ${file} is empty`, false);
  return value;
}

function loginFailed(auth: AuthConfig, where: string, err: unknown): AuthError {
  if (err instanceof BrokerError) {
    const hint =
      auth.method === 'approle' ? ' (check role_id_file and secret_id_file)'
      : auth.method === 'cert' ? ' (check cert_file and key_file)'
      : auth.method === 'token' ? ' (check token_file)'
      : ' (check role and token_file)';
    return new AuthError(`${auth.method} login at ${where} failed: ${err.message}${err.transient ? '' : hint}`, err.transient);
  }
  return new AuthError(`${auth.method} login at ${where} failed: ${(err as Error).message}`, true);
}

function fromAuth(res: { auth?: { client_token?: string; lease_duration?: number; renewable?: boolean } | null }, where: string): AgentToken {
  const a = res.auth;
  if (!a?.client_token) throw new AuthError(`login at ${where} returned no token`, true);
  return { token: a.client_token, ttlMs: (a.lease_duration ?? 0) * 1000, renewable: a.renewable === true, ownedByAgent: true };
}

export async function login(cfg: AgentConfig, broker: Broker): Promise<AgentToken> {
  const auth = cfg.auth;
  switch (auth.method) {
    case 'token': {
      const token = await readCredential(auth.tokenFile, 'token_file');
      try {
        const res = await broker.request('GET', 'auth/token/lookup-self', { token });
        const d = res.data ?? {};
        const ttl = typeof d.ttl === 'number' ? d.ttl : 0;
        return { token, ttlMs: ttl * 1000, renewable: d.renewable === true, ownedByAgent: false };
      } catch (err) {
        throw loginFailed(auth, 'auth/token/lookup-self', err);
      }
    }
    case 'approle': {
      const roleId = await readCredential(auth.roleIdFile, 'role_id_file');
      const secretId = await readCredential(auth.secretIdFile, 'secret_id_file');
      const where = `auth/${auth.mount}/login`;
      try {
        return fromAuth(await broker.request('POST', where, { body: { role_id: roleId, secret_id: secretId } }), where);
      } catch (err) {
        throw err instanceof AuthError ? err : loginFailed(auth, where, err);
      }
    }
    case 'kubernetes':
    case 'jwt': {
      const jwt = await readCredential(auth.tokenFile, 'token_file');
      const where = `auth/${auth.mount}/login`;
      try {
        return fromAuth(await broker.request('POST', where, { body: { role: auth.role, jwt } }), where);
      } catch (err) {
        throw err instanceof AuthError ? err : loginFailed(auth, where, err);
      }
    }
    case 'cert': {
      let certBroker: Broker;
      try {
        certBroker = createBroker({ ...cfg.broker, clientCert: { certFile: auth.certFile, keyFile: auth.keyFile } });
      } catch (err) {
        throw new AuthError(`cannot read cert_file/key_file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, false);
      }
      const where = `auth/${auth.mount}/login`;
      try {
        return fromAuth(await certBroker.request('POST', where, { body: auth.name ? { name: auth.name } : {} }), where);
      } catch (err) {
        throw err instanceof AuthError ? err : loginFailed(auth, where, err);
      } finally {
        certBroker.close();
      }
    }
  }
}
