/**
 * `sealbox-agent --config FILE [--once]` (documented in the README, "The agent"). Exit codes: 0 done / stopped by SIGTERM, 1 a failure
 * (login, fetch, write; in --once mode), 2 a config or usage error. Errors print one clear line on stderr.
 */
import process from 'node:process';
import { AgentFailure, runOnce, startAgent } from './agent.ts';
import { ConfigError, loadConfig, type AgentConfig } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { checkTemplate, RenderError } from './render.ts';
import { checkDestination } from './atomic-write.ts';

const USAGE = 'usage: sealbox-agent --config FILE [--once]';
const HELP = `${USAGE}

Logs in to a sealbox (or Vault) broker, writes the secrets its config names to files, and keeps them fresh:
renews leases, re-fetches before they expire and when the broker announces a rotation, runs on_change.

Flags:
  --config FILE, -c FILE   the config, YAML or JSON (required); --config=FILE also works
  --once                   fetch and write every secret, then exit 0 (an init container); non-zero on failure,
                           having written nothing
  --help, -h               this help

Signals: SIGTERM or SIGINT stops it (exit 0); with revoke_on_shutdown: true it first revokes its leases and token.
Exit codes: 0 done or stopped, 1 a failure (login, fetch, write), 2 a config or usage error.
Config reference: the README's "The agent" section; every field in agent/examples/complete.yaml.
`;

function parseArgs(argv: string[]): { config: string; once: boolean } {
  let config: string | undefined;
  let once = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--once') once = true;
    else if (a === '--config' || a === '-config' || a === '-c') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new ConfigError(`unknown argument "${a}"\n${USAGE}`);
  }
  if (!config) throw new ConfigError(`--config FILE is required\n${USAGE}`);
  return { config, once };
}

function fail(code: number, message: string, log?: Logger): never {
  log?.error({ err: message }, 'exiting');
  process.stderr.write(`sealbox-agent: ${message}\n`);
  process.exit(code);
}

/** Everything that can be checked before talking to the broker. Nothing is written. */
async function preflight(cfg: AgentConfig): Promise<void> {
  for (const [i, s] of cfg.secrets.entries()) {
    try {
      if (s.template !== undefined) checkTemplate(s.template);
    } catch (err) {
      throw new ConfigError(`secrets[${i}].template: ${(err as Error).message.replace(/^template: /, '')}`);
    }
    try {
      await checkDestination(s);
    } catch (err) {
      throw new ConfigError(`secrets[${i}].destination: ${(err as Error).message}`);
    }
  }
  if (cfg.broker.caFile) {
    const fs = await import('node:fs');
    try {
      fs.readFileSync(cfg.broker.caFile);
    } catch (err) {
      throw new ConfigError(`broker.ca_file: cannot read ${cfg.broker.caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

async function main(): Promise<void> {
  let cfg: AgentConfig;
  let once: boolean;
  try {
    const args = parseArgs(process.argv.slice(2));
    cfg = await loadConfig(args.config);
    once = args.once || cfg.exitAfterAuth;
    await preflight(cfg);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RenderError) fail(2, `config error: ${err.message}`);
    throw err;
  }
  const log = createLogger(cfg.logLevel);

  if (once) {
    try {
      await runOnce(cfg, log);
    } catch (err) {
      fail(1, (err as Error).message, log);
    }
    log.info('done (--once)');
    process.exit(0);
  }

  let agent;
  try {
    agent = await startAgent(cfg, log);
  } catch (err) {
    fail(err instanceof AgentFailure ? 1 : 1, (err as Error).message, log);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // Hard deadline: a clean stop takes well under 5 s.
    setTimeout(() => process.exit(0), 4500).unref();
    void agent.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error({ err: err.message }, 'error while stopping');
        process.exit(0);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
