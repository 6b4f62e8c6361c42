/**
 * OpenTelemetry tracing, off by default. With exporter "none" nothing but `@opentelemetry/api` is ever loaded and
 * `tracer` is undefined: callers skip span work entirely (no no-op spans, no context switches), so it costs nothing.
 * With "otlp" the SDK is imported on demand and registered globally (tracer provider + AsyncLocalStorage context
 * manager), because the API's context is the only way a span started in the HTTP layer can parent storage and
 * target-database spans started deep below it.
 */
import { context, trace, type Tracer } from '@opentelemetry/api';
import type { Logger } from './log.ts';

export type TracingExporter = 'none' | 'otlp';

export interface TracingOptions {
  exporter: TracingExporter;
  /** OTLP/HTTP (JSON) traces URL, e.g. http://collector:4318/v1/traces. Absent: OTEL_EXPORTER_OTLP_*_ENDPOINT or the SDK default. */
  endpoint?: string;
  serviceName: string;
  version: string;
  log: Logger;
}

export interface Tracing {
  /** Undefined when tracing is off: the signal for every caller to do no tracing work at all. */
  readonly tracer?: Tracer;
  /** Flushes the spans still queued and unregisters the SDK. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { shutdown: async () => {} };

export async function createTracing(opts: TracingOptions): Promise<Tracing> {
  if (opts.exporter === 'none') return OFF;
  // Loaded only here: a broker with tracing off never reads these modules.
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/resources'),
    ]);
  const exporter = new OTLPTraceExporter(opts.endpoint ? { url: opts.endpoint } : {});
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName, 'service.version': opts.version }),
    // The default sampler is parent-based: an incoming traceparent with the sampled flag off records nothing.
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  opts.log.info({ exporter: opts.exporter, endpoint: opts.endpoint ?? '(OTEL_EXPORTER_OTLP_* or default)' }, 'tracing enabled');
  return {
    tracer: provider.getTracer(opts.serviceName, opts.version),
    async shutdown() {
      await provider.shutdown().catch((err: Error) => opts.log.warn({ err: err.message }, 'flushing traces failed'));
      trace.disable();
      context.disable();
    },
  };
}
