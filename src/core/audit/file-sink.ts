import { createWriteStream } from 'node:fs';
import type { Logger } from '../../lib/log.ts';
import type { AuditSink } from './appender.ts';

/**
 * An optional JSON Lines copy of the audit log for a SIEM. It never blocks requests: when the file falls more than
 * `maxBufferBytes` behind, lines are dropped and counted. PostgreSQL stays the record of truth.
 */
export function createFileSink(deps: { path: string; log: Logger; maxBufferBytes?: number }): AuditSink & { dropped(): number } {
  const max = deps.maxBufferBytes ?? 8 * 1024 * 1024;
  const stream = createWriteStream(deps.path, { flags: 'a', mode: 0o600 });
  let dropped = 0;
  let reported = 0;
  stream.on('error', (err) => deps.log.error({ err: err.message, path: deps.path }, 'audit file sink failed; lines are dropped'));
  const report = setInterval(() => {
    if (dropped > reported) {
      deps.log.warn({ dropped_total: dropped, since_last: dropped - reported }, 'audit file sink is behind; lines dropped');
      reported = dropped;
    }
  }, 10_000);
  report.unref();
  return {
    write(rows) {
      for (const r of rows) {
        if (stream.destroyed || stream.writableLength > max) {
          dropped += 1;
          continue;
        }
        stream.write(`{"seq":${r.seq},"hash":"${r.hash.toString('hex')}","entry":${r.entry}}\n`);
      }
    },
    dropped: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(report);
        stream.end(() => resolve());
      }),
  };
}
