import { readFileSync } from 'node:fs';

const USAGE = `usage: sealbox <command> [options]

Commands:
  server     run the broker (sealbox server --help)
  audit      search, tail, export and verify the audit log (sealbox audit help)
  version    print the version
`;

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
    default:
      process.stderr.write(`sealbox: unknown command "${cmd}"\n${USAGE}`);
      return 1;
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
