// Starts bin/sealbox.mjs inside the network namespace SEALBOX_TEST_NETNS (through `ip netns exec`), listening on
// SEALBOX_TEST_NETNS_LISTEN instead of 127.0.0.1; passes SIGTERM/SIGINT on and exits as the broker does.
import { spawn } from 'node:child_process';
import process from 'node:process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ns = process.env.SEALBOX_TEST_NETNS;
const host = process.env.SEALBOX_TEST_NETNS_LISTEN;
if (!ns || !host) {
  process.stderr.write('netns-broker: SEALBOX_TEST_NETNS and SEALBOX_TEST_NETNS_LISTEN are required\n');
  process.exit(2);
}
const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'sealbox.mjs');
const args = process.argv.slice(2).map((a) => (a === '127.0.0.1:0' ? `${host}:0` : a));
const child = spawn('ip', ['netns', 'exec', ns, process.execPath, entry, ...args], { stdio: 'inherit' });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
