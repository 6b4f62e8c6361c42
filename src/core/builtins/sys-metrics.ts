import { z } from 'zod';
import { op, type PathDef } from '../engine.ts';
import type { Metrics } from '../metrics.ts';

/**
 * sys/metrics: `?format=prometheus` answers the Prometheus text exposition; otherwise a JSON summary in the usual
 * envelope. An ordinary ACL-checked path, as in Vault: root, or a policy with `read` on "sys/metrics".
 */
export function sysMetricsPaths(deps: { metrics: Metrics }): PathDef[] {
  const read = op(z.object({ format: z.enum(['prometheus', 'json', ''], { error: 'must be "prometheus" or "json"' }).optional() }), async ({ input }) => {
    if (input.format === 'prometheus') {
      return { raw: { status: 200, body: await deps.metrics.text(), contentType: deps.metrics.contentType } };
    }
    const metrics = await deps.metrics.json();
    return {
      data: {
        metrics: metrics.map((m) => ({
          name: m.name,
          type: m.type,
          help: m.help,
          // Histogram values carry their series name ("…_bucket", "…_sum", "…_count").
          values: m.values.map((v) => ({ ...('metricName' in v && typeof v.metricName === 'string' ? { name: v.metricName } : {}), labels: v.labels, value: v.value })),
        })),
      },
    };
  });
  return [{ pattern: 'metrics', operations: { read } }];
}
