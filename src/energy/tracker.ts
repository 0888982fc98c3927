/**
 * The energy tracker: samples its sources in the background, converts device energy to facility energy
 * (PUE) and CO2-equivalent (carbon intensity), and attributes each interval's energy to the components
 * that were active in it, in proportion to their active time (time with nothing active goes to `other`).
 * The sources' figures are whole-device figures, as Carbontracker's are: on a shared machine they include
 * other processes' consumption (RAPL, NVML), except for the CPU estimate, which is per process.
 *
 * @example
 *   const tracker = await EnergyTracker.detect(energySettings(), { metrics });
 *   await tracker.start();
 *   const span = tracker.begin('training');
 *   await trainOneRun();
 *   const report = await span.end(); // { energyKwh, co2eqGrams, method, pue, carbonIntensityGPerKwh, ... }
 *   await tracker.stop();
 */
import type { Metrics } from '../metrics/registry';
import { CpuLoadEstimateSource, MemoryEstimateSource } from './estimate';
import { discoverNvidia, type RunCommand } from './nvidia';
import { discoverRapl, raplSources } from './rapl';
import {
  co2eqGrams,
  effectiveTdpWatts,
  facilityJoules,
  joulesToKwh,
  logicalCpus,
  type EnergySettings,
} from './settings';
import { isEstimated, type EnergyDevice, type EnergyMethod, type EnergySource } from './source';

/** What energy is attributed to. A closed set: these are label values. */
export type EnergyComponent = 'training' | 'inference' | 'preprocessing' | 'replay' | 'ingestion' | 'other';

export const ENERGY_COMPONENTS: readonly EnergyComponent[] = [
  'training',
  'inference',
  'preprocessing',
  'replay',
  'ingestion',
  'other',
];

export interface DeviceEnergy {
  device: EnergyDevice;
  method: EnergyMethod;
  /** Device energy, before PUE. */
  joules: number;
}

/** Energy of a span, a component or the whole process: the seed paper's Table III columns, and how. */
export interface EnergyReport {
  component: EnergyComponent | 'all';
  /** Wall-clock seconds covered (a span's duration; the tracker's running time for a component or all). */
  seconds: number;
  /** Facility energy (PUE applied), kWh. */
  energyKwh: number;
  /** CO2-equivalent, grams. */
  co2eqGrams: number;
  /** Methods of the devices counted, joined with `+`, e.g. `measured-rapl+measured-nvml`. */
  method: string;
  /** True when any device's figure is an estimate. */
  estimated: boolean;
  pue: number;
  carbonIntensityGPerKwh: number;
  devices: DeviceEnergy[];
}

export interface EnergySpan {
  readonly component: EnergyComponent;
  /**
   * Take a sample and report the energy attributed to the span so far; it stays open. What a long job
   * records beside its checkpoints, so that a resumed job can add the energy of the sessions before it.
   */
  peek(): Promise<EnergyReport>;
  /** Close the span, take a final sample, and report the energy attributed to it. Idempotent. */
  end(): Promise<EnergyReport>;
}

export interface TrackerOptions {
  metrics?: Metrics;
  /** Clock in ms (tests use a fake one). Default Date.now. */
  now?: () => number;
  /** A source failed to sample; the interval counts 0 for it. Default: one stderr line per distinct error. */
  onError?: (source: EnergySource, err: unknown) => void;
  /** Why a measurement was not used (for the start-up printout). */
  fallbackReasons?: string[];
  /** nvidia-smi runner, replaceable in tests. */
  runCommand?: RunCommand;
}

interface SpanState {
  component: EnergyComponent;
  open: boolean;
  startMs: number;
  endMs?: number;
  /** Active ms in the current sampling interval. */
  activeMs: number;
  /** Device joules attributed so far, per source. */
  joules: number[];
  report?: Promise<EnergyReport>;
}

export class EnergyTracker {
  readonly settings: EnergySettings;
  private readonly now: () => number;
  private readonly metrics?: Metrics;
  private readonly onError: (source: EnergySource, err: unknown) => void;
  private readonly fallbackReasons: string[];
  /** Open spans, and closed ones whose last interval has not been sampled yet. */
  private readonly spans = new Set<SpanState>();
  private otherMs = 0;
  private lastAccountMs: number;
  private readonly startMs: number;
  private readonly componentJoules = new Map<EnergyComponent, number[]>();
  private readonly sourceJoules: number[];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    readonly sources: readonly EnergySource[],
    settings: EnergySettings,
    options: TrackerOptions = {},
  ) {
    this.settings = settings;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
    this.fallbackReasons = options.fallbackReasons ?? [];
    const reported = new Set<string>();
    this.onError =
      options.onError ??
      ((source, err) => {
        const line = `energy: ${source.device} (${source.method}) sample failed: ${(err as Error).message ?? String(err)}`;
        if (!reported.has(line)) process.stderr.write(`${line}\n`);
        reported.add(line);
      });
    this.startMs = this.lastAccountMs = this.now();
    this.sourceJoules = sources.map(() => 0);
    const m = this.metrics;
    if (m !== undefined) {
      m.energyPue.set(settings.pue);
      m.carbonIntensity.set(settings.carbonIntensityGPerKwh);
      for (const s of sources) {
        m.energyMethod.set({ device: s.device, method: s.method }, 1);
        m.deviceEnergy.labels(s.device).inc(0);
      }
    }
  }

  /**
   * A tracker on what this machine offers: RAPL and NVIDIA counters where readable (unless the settings
   * ask for the estimate), the CPU load and memory estimate where no CPU counter is.
   */
  static async detect(settings: EnergySettings, options: TrackerOptions = {}): Promise<EnergyTracker> {
    const sources: EnergySource[] = [];
    const reasons: string[] = [];
    if (settings.method === 'auto') {
      const rapl = discoverRapl(settings.raplRoot);
      if (rapl.unavailable !== undefined) reasons.push(`CPU: ${rapl.unavailable}`);
      sources.push(...raplSources(rapl));
      const gpu = await discoverNvidia(settings.nvidiaSmi, options.runCommand);
      if (gpu.source !== undefined) sources.push(gpu.source);
      else if (gpu.unavailable !== undefined) reasons.push(`GPU: ${gpu.unavailable}`);
    } else {
      reasons.push('estimate requested (energy method "estimated")');
    }
    if (!sources.some((s) => s.device === 'cpu')) {
      sources.push(
        new CpuLoadEstimateSource({
          tdpWatts: effectiveTdpWatts(settings),
          cpus: logicalCpus(),
          procStatPath: settings.procStatPath,
        }),
      );
      if (!sources.some((s) => s.device === 'dram'))
        sources.push(new MemoryEstimateSource(settings.memoryWattsPerGiB));
    }
    return new EnergyTracker(sources, settings, { ...options, fallbackReasons: reasons });
  }

  /** The overall method string, e.g. `estimated-cpu-load+estimated-memory`. */
  get method(): string {
    return [...new Set(this.sources.map((s) => s.method))].join('+');
  }

  get estimated(): boolean {
    return this.sources.some((s) => isEstimated(s.method));
  }

  /** Lines for the start-up printout: method per device, PUE, intensity, sampling. */
  describe(): string[] {
    const s = this.settings;
    return [
      `energy: ${this.estimated ? 'ESTIMATED' : 'measured'} (${this.method}); PUE ${s.pue}, carbon intensity ${s.carbonIntensityGPerKwh} g/kWh, sampled every ${s.sampleIntervalSeconds} s`,
      ...this.sources.map((src) => `energy:   ${src.device}: ${src.description}`),
      ...this.fallbackReasons.map((r) => `energy:   not measured: ${r}`),
    ];
  }

  /** Prime the sources and start background sampling (the first `begin` does it if nobody did). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.sample();
    this.timer = setInterval(() => {
      this.sample().catch(() => undefined);
    }, this.settings.sampleIntervalSeconds * 1000);
    this.timer.unref();
  }

  /** Open a span: energy is attributed to `component` while it is open. */
  begin(component: EnergyComponent): EnergySpan {
    if (!this.started) void this.start(); // primes the sources before any later sample
    this.account(this.now());
    const state: SpanState = {
      component,
      open: true,
      startMs: this.now(),
      activeMs: 0,
      joules: this.sources.map(() => 0),
    };
    this.spans.add(state);
    if (this.metrics !== undefined) {
      this.metrics.energy.labels(component).inc(0);
      this.metrics.co2eq.labels(component).inc(0);
    }
    return {
      component,
      peek: () => {
        if (state.report !== undefined) return state.report;
        return this.sample().then(() =>
          this.makeReport(component, [...state.joules], this.lastAccountMs - state.startMs),
        );
      },
      end: () => {
        if (state.report === undefined) {
          this.account(this.now());
          state.open = false;
          state.endMs = this.now();
          state.report = this.sample().then(() =>
            this.makeReport(component, state.joules, state.endMs! - state.startMs),
          );
        }
        return state.report;
      },
    };
  }

  /** Run `fn` inside a span of `component`; the span ends however `fn` ends. */
  async attribute<T>(component: EnergyComponent, fn: () => T | Promise<T>): Promise<T> {
    const span = this.begin(component);
    try {
      return await fn();
    } finally {
      await span.end();
    }
  }

  /** Read every source now and attribute the energy since the previous sample. Calls are serialised. */
  sample(): Promise<void> {
    const next = this.chain.then(() => this.sampleNow());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private account(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.lastAccountMs);
    this.lastAccountMs = nowMs;
    let anyOpen = false;
    for (const s of this.spans) {
      if (!s.open) continue;
      s.activeMs += elapsed;
      anyOpen = true;
    }
    if (!anyOpen) this.otherMs += elapsed;
  }

  private async sampleNow(): Promise<void> {
    const nowMs = this.now();
    const perSource = await Promise.all(
      this.sources.map((src) =>
        src.sample(nowMs).then(
          (j) => (Number.isFinite(j) && j > 0 ? j : 0),
          (err: unknown) => {
            this.onError(src, err);
            this.metrics?.errors.inc({ stage: 'energy', code: 'ENERGY_SAMPLE' });
            return 0;
          },
        ),
      ),
    );
    this.account(this.now());
    const spans = [...this.spans];
    const weights = spans.map((s) => s.activeMs);
    let total = weights.reduce((a, b) => a + b, 0) + this.otherMs;
    let otherWeight = this.otherMs;
    if (total === 0) {
      // No time passed since the last sample: whatever the counters moved by goes to `other`.
      total = otherWeight = 1;
    }
    const add = (component: EnergyComponent, fraction: number, target?: number[]) => {
      if (fraction === 0) return;
      let acc = this.componentJoules.get(component);
      if (acc === undefined) this.componentJoules.set(component, (acc = this.sources.map(() => 0)));
      let deviceJ = 0;
      perSource.forEach((j, i) => {
        acc![i] += j * fraction;
        if (target !== undefined) target[i] += j * fraction;
        deviceJ += j * fraction;
      });
      if (this.metrics !== undefined && deviceJ > 0) {
        const facility = facilityJoules(deviceJ, this.settings.pue);
        this.metrics.energy.labels(component).inc(facility);
        this.metrics.co2eq.labels(component).inc(co2eqGrams(facility, this.settings.carbonIntensityGPerKwh));
      }
    };
    spans.forEach((s, i) => add(s.component, weights[i] / total, s.joules));
    add('other', otherWeight / total);
    perSource.forEach((j, i) => {
      this.sourceJoules[i] += j;
      if (j > 0) this.metrics?.deviceEnergy.labels(this.sources[i].device).inc(j);
    });
    for (const s of spans) {
      s.activeMs = 0;
      if (!s.open) this.spans.delete(s);
    }
    this.otherMs = 0;
  }

  private makeReport(
    component: EnergyComponent | 'all',
    joules: readonly number[],
    ms: number,
  ): EnergyReport {
    const deviceJ = joules.reduce((a, b) => a + b, 0);
    const facility = facilityJoules(deviceJ, this.settings.pue);
    return {
      component,
      seconds: ms / 1000,
      energyKwh: joulesToKwh(facility),
      co2eqGrams: co2eqGrams(facility, this.settings.carbonIntensityGPerKwh),
      method: this.method,
      estimated: this.estimated,
      pue: this.settings.pue,
      carbonIntensityGPerKwh: this.settings.carbonIntensityGPerKwh,
      devices: this.sources.map((s, i) => ({ device: s.device, method: s.method, joules: joules[i] })),
    };
  }

  /** Energy so far, for one component or (default) everything the tracker has sampled. */
  report(component?: EnergyComponent): EnergyReport {
    const ms = this.now() - this.startMs;
    if (component === undefined) return this.makeReport('all', this.sourceJoules, ms);
    return this.makeReport(component, this.componentJoules.get(component) ?? this.sources.map(() => 0), ms);
  }

  /** Take a last sample, stop background sampling, and report the whole process. */
  async stop(): Promise<EnergyReport> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.sample();
    return this.report();
  }
}
