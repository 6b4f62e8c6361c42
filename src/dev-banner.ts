/**
 * What a dev broker prints on stderr once it is listening: where it is, the root token, and the next two commands.
 * stdout keeps only the JSON log lines (the `listening` line that scripts and tests wait for).
 */
export interface DevBannerInput {
  address: string;
  rootToken: string;
  unsealKey: string;
  dataDir: string;
}

/** Single-quoted for a POSIX shell when the value needs it. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function devBanner(b: DevBannerInput): string {
  return [
    '',
    'WARNING: dev mode. The unseal key and root token below are stored in plaintext in',
    `${b.dataDir}/dev-credentials.json. Do not run dev mode in production.`,
    '',
    `Address:    ${b.address}`,
    `Unseal Key: ${b.unsealKey}`,
    `Root Token: ${b.rootToken}`,
    '',
    'Next, in another shell (from this directory):',
    `  export VAULT_ADDR=${shellWord(b.address)} VAULT_TOKEN=${shellWord(b.rootToken)} PATH="$PWD/bin:$PATH"`,
    '  sealbox kv put secret/hello greeting=world && sealbox kv get secret/hello',
    '',
    'Stop it with Ctrl-C (or SIGTERM): it drains requests and exits 0.',
    '',
  ].join('\n');
}
