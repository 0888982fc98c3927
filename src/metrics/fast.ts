/**
 * Counters and histograms whose labelled children are cheap enough for per-message hot paths.
 *
 * prom-client hashes and validates the label set on every `inc`/`observe`, even through a child from
 * `labels()`; at tens of thousands of messages per second that was most of what metrics cost the replay
 * benchmark (`ecgflow bench metrics-overhead`). Here `labels()` returns a cached child:
 * - counters: the child adds to a pending amount, folded into the counter (through its public `inc`)
 *   whenever the counter is read, so a scrape sees every increment made before it;
 * - histograms: the child updates its series' bucket counts, sum and count directly, once prom-client has
 *   created the series; if that internal layout is ever not found it falls back to prom-client's own path.
 * Everything else (unlabelled calls, `reset`, `remove`, `zero`, output) is prom-client's. The unit tests
 * compare both against plain prom-client metrics fed the same values.
 */
import {
  Counter,
  Histogram,
  type CounterConfiguration,
  type HistogramConfiguration,
  type LabelValues,
} from 'prom-client';

type LabelArgs<T extends string> = [LabelValues<T>] | (string | number)[];

function labelKey(labelNames: readonly string[], args: readonly unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) {
    const obj = args[0] as Record<string, unknown>;
    return labelNames.map((n) => String(obj[n])).join('\u0001');
  }
  return args.map(String).join('\u0001');
}

function labelObject<T extends string>(
  labelNames: readonly string[],
  args: readonly unknown[],
): LabelValues<T> {
  if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null)
    return { ...(args[0] as LabelValues<T>) };
  const out: Record<string, string | number> = {};
  labelNames.forEach((n, i) => (out[n] = args[i] as string | number));
  return out as LabelValues<T>;
}

interface CounterChild {
  labels: object;
  pending: number;
  dirty: boolean;
  inc(value?: number): void;
}

export class FastCounter<T extends string = string> extends Counter<T> {
  private readonly names: readonly string[];
  private readonly metricName: string;
  private readonly children = new Map<string, CounterChild>();

  constructor(config: CounterConfiguration<T>) {
    super(config);
    this.names = config.labelNames ?? [];
    this.metricName = config.name;
  }

  override labels(...args: LabelArgs<T>): Counter.Internal {
    const key = labelKey(this.names, args);
    let child = this.children.get(key);
    if (child === undefined) {
      (super.labels as (...a: unknown[]) => unknown)(...args); // prom-client's validation of the label set
      const c: CounterChild = {
        labels: labelObject<T>(this.names, args),
        pending: 0,
        dirty: false,
        inc: (value = 1) => {
          if (!Number.isFinite(value) || value < 0)
            throw new Error(
              `counter ${this.metricName}: increment must be a finite number >= 0, got ${value}`,
            );
          c.pending += value;
          c.dirty = true;
        },
      };
      this.children.set(key, (child = c));
    }
    return child;
  }

  /** Fold the children's pending increments into the counter. */
  flush(): void {
    for (const c of this.children.values()) {
      if (!c.dirty) continue;
      const amount = c.pending;
      c.pending = 0;
      c.dirty = false;
      this.inc(c.labels as LabelValues<T>, amount); // prom-client sets inc on the instance, not the prototype
    }
  }

  override async get(): ReturnType<Counter<T>['get']> {
    this.flush();
    return super.get();
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    for (const c of this.children?.values() ?? []) {
      c.pending = 0;
      c.dirty = false;
    }
    super.reset();
  }

  override remove(...args: LabelArgs<T>): void {
    const c = this.children.get(labelKey(this.names, args));
    if (c !== undefined) {
      c.pending = 0;
      c.dirty = false;
    }
    (super.remove as (...a: unknown[]) => void)(...args);
  }
}

/** prom-client's per-series record (lib/histogram.js, createBaseValues). */
interface SeriesValues {
  labels: Record<string, unknown>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

interface HistogramChild<T extends string> extends Histogram.Internal<T> {
  labels: LabelValues<T>;
  series?: SeriesValues;
  seriesMap?: unknown;
}

export class FastHistogram<T extends string = string> extends Histogram<T> {
  private readonly names: readonly string[];
  private readonly bounds: readonly number[];
  private readonly children = new Map<string, HistogramChild<T>>();

  constructor(config: HistogramConfiguration<T>) {
    super(config);
    this.names = config.labelNames ?? [];
    this.bounds = [...((this as unknown as { upperBounds?: number[] }).upperBounds ?? config.buckets ?? [])];
  }

  private get seriesMap(): Record<string, SeriesValues> | undefined {
    const map = (this as unknown as { hashMap?: unknown }).hashMap;
    return typeof map === 'object' && map !== null ? (map as Record<string, SeriesValues>) : undefined;
  }

  /** The series record of `labels`, if prom-client has created it and it has the expected layout. */
  private findSeries(labels: LabelValues<T>): SeriesValues | undefined {
    const map = this.seriesMap;
    if (map === undefined) return undefined;
    const wanted = labels as Record<string, unknown>;
    for (const s of Object.values(map)) {
      if (typeof s !== 'object' || s === null || typeof s.bucketValues !== 'object') continue;
      if (typeof s.sum !== 'number' || typeof s.count !== 'number') continue;
      if (this.names.every((n) => String(s.labels?.[n]) === String(wanted[n]))) return s;
    }
    return undefined;
  }

  override labels(...args: LabelArgs<T>): Histogram.Internal<T> {
    const key = labelKey(this.names, args);
    let child = this.children.get(key);
    if (child === undefined) {
      (super.labels as (...a: unknown[]) => unknown)(...args); // prom-client's validation of the label set
      const labels = labelObject<T>(this.names, args);
      const c: HistogramChild<T> = {
        labels,
        observe: (value: number) => {
          const map = this.seriesMap;
          if (c.series === undefined || c.seriesMap !== map) {
            // First observation (or after reset/remove/zero): prom-client creates the series, then it is cached.
            this.observe(labels, value);
            c.series = this.findSeries(labels);
            c.seriesMap = map;
            return;
          }
          if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
          const s = c.series;
          for (const bound of this.bounds) {
            if (value <= bound) {
              s.bucketValues[bound] += 1;
              break;
            }
          }
          s.sum += value;
          s.count += 1;
        },
        startTimer: () => {
          const start = process.hrtime.bigint();
          return (endLabels?: LabelValues<T>) => {
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            if (endLabels === undefined) c.observe(seconds);
            else this.observe({ ...labels, ...endLabels }, seconds);
            return seconds;
          };
        },
      };
      this.children.set(key, (child = c));
    }
    return child;
  }

  private forget(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    for (const c of this.children?.values() ?? []) c.series = undefined;
  }

  override reset(): void {
    this.forget();
    super.reset();
  }

  override remove(...args: LabelArgs<T>): void {
    this.forget();
    (super.remove as (...a: unknown[]) => void)(...args);
  }

  override zero(labels: LabelValues<T>): void {
    this.forget();
    super.zero(labels);
  }
}
