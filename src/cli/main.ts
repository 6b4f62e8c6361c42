import { readFileSync } from 'node:fs';

const USAGE = `usage: sealbox <command> [options]

Commands:
  server     run the broker (sealbox server --help)
  status     print the seal status (exit 2 when sealed)
  operator   init, unseal, seal, rotate, key-status
  kv         get, put, patch, delete, undelete, destroy, list, metadata: versioned secrets by path (secret/app/db)
  read       read any API path            write    write data to any API path
  list       list the keys under a path   delete   delete any API path
  lease      lookup, renew, revoke
  token      create, lookup, renew, revoke
  secrets    enable, disable, list, tune: secrets engines (sys/mounts)
  auth       enable, disable, list: auth methods (sys/auth)
  login      log in (a token, or -method=approle|kubernetes|jwt|… K=V) and store the token
  unwrap     unwrap a response-wrapping token
  policy     read, write, list, delete
  audit      search, tail, export and verify the audit log (sealbox audit help)
  rotation   list, run, pause, resume, history: scheduled rotations (sys/rotations)
  version    print the version

Run "sealbox <command> -help" for a command's options.
Environment: SEALBOX_ADDR (or VAULT_ADDR), SEALBOX_TOKEN (or VAULT_TOKEN), SEALBOX_CACERT (or VAULT_CACERT).
Exit codes: 0 ok, 1 usage error, 2 API error (the server's message is printed on stderr).
`;

/** Client commands, loaded on demand so that each pays only for its own imports. */
async function client(cmd: string, rest: string[]): Promise<number | undefined> {
  const { runCommand, runGroup } = await import('./command.ts');
  const env = process.env;
  switch (cmd) {
    case 'status':
      return runCommand(cmd, (await import('./operator.ts')).statusCommand, rest, env);
    case 'operator':
      return runGroup(cmd, (await import('./operator.ts')).operatorGroup, rest, env);
    case 'kv':
      return runGroup(cmd, (await import('./kv.ts')).kvGroup, rest, env);
    case 'read':
    case 'write':
    case 'list':
    case 'delete': {
      const g = await import('./generic.ts');
      const c = { read: g.readCommand, write: g.writeCommand, list: g.listCommand, delete: g.deleteCommand }[cmd];
      return runCommand(cmd, c, rest, env);
    }
    case 'lease':
      return runGroup(cmd, (await import('./lease.ts')).leaseGroup, rest, env);
    case 'token':
      return runGroup(cmd, (await import('./token.ts')).tokenGroup, rest, env);
    case 'policy':
      return runGroup(cmd, (await import('./policy.ts')).policyGroup, rest, env);
    case 'secrets':
      return runGroup(cmd, (await import('./mounts.ts')).secretsGroup, rest, env);
    case 'auth':
      return runGroup(cmd, (await import('./mounts.ts')).authGroup, rest, env);
    case 'login':
      return runCommand(cmd, (await import('./login.ts')).loginCommand, rest, env);
    case 'unwrap':
      return runCommand(cmd, (await import('./login.ts')).unwrapCommand, rest, env);
    case 'rotation':
      return runGroup(cmd, (await import('./rotation.ts')).rotationGroup, rest, env);
    default:
      return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'server':
      if (rest.includes('--help') || rest.includes('-h')) {
        const { SERVER_USAGE } = await import('../config.ts');
        process.stdout.write(`${SERVER_USAGE}\n`);
        return 0;
      }
      // Loaded only here: client commands should not pay for importing the whole server.
      return (await import('../main.ts')).runServer(rest);
    case 'audit': {
      const { runAudit } = await import('./audit.ts');
      return runAudit(rest, process.env);
    }
    case 'version':
    case '--version': {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`sealbox ${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default: {
      const code = await client(cmd, rest);
      if (code !== undefined) return code;
      process.stderr.write(`sealbox: unknown command "${cmd}"\n\n${USAGE}`);
      return 1;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (code !== 0 || process.argv[2] === 'server') setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`sealbox: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
