/**
 * The pod's own service-account token and cluster CA (Vault's "local CA and JWT"): used for TokenReview when
 * token_reviewer_jwt or kubernetes_ca_cert is not set, unless disable_local_ca_jwt is. Outside a pod the files do
 * not exist and both read as ''.
 */
import { readFile } from 'node:fs/promises';

export interface LocalCredentials {
  jwt(): Promise<string>;
  caCert(): Promise<string>;
}

export const LOCAL_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const MAX_FILE = 256 * 1024;

async function readOptional(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.length > MAX_FILE ? '' : text.trim();
  } catch {
    return '';
  }
}

/** Reads the files on each use: Kubernetes rotates the projected token in place. */
export function createLocalCredentials(dir: string = LOCAL_SA_DIR): LocalCredentials {
  return {
    jwt: () => readOptional(`${dir}/token`),
    caCert: () => readOptional(`${dir}/ca.crt`),
  };
}
