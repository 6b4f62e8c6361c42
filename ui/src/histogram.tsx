import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Point {
  time: string;
  outcome: string;
}

const BUCKETS = 24;

/** Requests over time in buckets, with denials and errors as their own (red, orange) bars. */
export function bucketize(points: Point[]): { x: number[]; all: number[]; denied: number[]; errors: number[] } {
  const times = points.map((p) => Date.parse(p.time) / 1000).filter((t) => Number.isFinite(t));
  if (times.length === 0) return { x: [], all: [], denied: [], errors: [] };
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  // At least a minute across, so that a burst of requests still reads as bars in time.
  const width = Math.max(hi - lo, 60) / BUCKETS;
  const n = BUCKETS;
  const x = Array.from({ length: n }, (_, i) => lo + (i + 0.5) * width);
  const all = new Array<number>(n).fill(0);
  const denied = new Array<number>(n).fill(0);
  const errors = new Array<number>(n).fill(0);
  points.forEach((p) => {
    const t = Date.parse(p.time) / 1000;
    if (!Number.isFinite(t)) return;
    const i = Math.min(n - 1, Math.floor((t - lo) / width));
    all[i] = (all[i] ?? 0) + 1;
    if (p.outcome === 'denied') denied[i] = (denied[i] ?? 0) + 1;
    if (p.outcome === 'client_error' || p.outcome === 'server_error') errors[i] = (errors[i] ?? 0) + 1;
  });
  return { x, all, denied, errors };
}

export function Histogram(props: { points: Point[] }) {
  const el = useRef<HTMLDivElement>(null);
  const b = bucketize(props.points);
  const deniedTotal = b.denied.reduce((s, v) => s + v, 0);
  const errorTotal = b.errors.reduce((s, v) => s + v, 0);
  useEffect(() => {
    const host = el.current;
    if (!host || b.x.length === 0) return;
    const bars = uPlot.paths.bars?.({ size: [0.8, 40] });
    const plot = new uPlot(
      {
        width: Math.max(280, host.clientWidth),
        height: 160,
        scales: { x: { time: true } },
        legend: { show: true },
        series: [
          {},
          { label: 'requests', stroke: '#3b6ea5', fill: 'rgba(59,110,165,0.35)', paths: bars },
          { label: 'denied', stroke: '#c62828', fill: 'rgba(198,40,40,0.9)', paths: bars, points: { show: true, size: 8, fill: '#c62828' } },
          { label: 'errors', stroke: '#e07b00', fill: 'rgba(224,123,0,0.8)', paths: bars },
        ],
      },
      [b.x, b.all, b.denied.map((v) => (v === 0 ? null : v)), b.errors.map((v) => (v === 0 ? null : v))] as uPlot.AlignedData,
      host,
    );
    return () => plot.destroy();
  }, [JSON.stringify(b)]);
  return (
    <figure class="histogram" data-denied={deniedTotal} data-errors={errorTotal} aria-labelledby="histogram-caption">
      <div ref={el} class="chart" aria-hidden="true" />
      <figcaption id="histogram-caption">
        {props.points.length} requests in this result, <strong class={deniedTotal > 0 ? 'denied' : ''}>{deniedTotal} denied</strong>, {errorTotal} errors
      </figcaption>
    </figure>
  );
}
