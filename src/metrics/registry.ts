/**
 * The process's Prometheus metrics (prom-client). One registry per `Metrics`, passed explicitly to the
 * pipelines that record into it; operators never see it. Names follow Prometheus conventions: prefix
 * `ecg_`, base units (seconds, joules, grams), `_total` on counters. Labels have bounded cardinality
 * (stage, component, mode, class, reason, ...), never a record or patient id. Every metric of the catalogue
 * is registered at construction, before anything records into it, so dashboards and tests can rely on
 * the names; docs/observability.md lists them all.
 *
 * `new Metrics({ enabled: false })` gives the same interface with no-op instruments and an empty
 * registry: what `--no-metrics` runs on, and the "off" side of `ecgflow bench metrics-overhead`.
 */
import * as http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram } from './fast';

/** The processing-latency objective (seconds); every latency histogram has a bucket edge here. */
export const LATENCY_OBJECTIVE_SECONDS = 0.2;

/** Buckets for latencies and per-batch durations, in seconds (0.2 is the objective). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  LATENCY_OBJECTIVE_SECONDS,
  0.3,
  0.5,
  1,
  2,
  5,
  10,
  30,
  60,
];

/** Buckets for batch sizes (messages or beats per batch). */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/** Buckets for slow, coarse durations (a training epoch, a Lipschitz estimate), in seconds. */
export const EPOCH_BUCKETS_SECONDS: readonly number[] = [
  0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 3600,
];

/**
 * prom-client's default collectors expose three gauges whose names end in `_total`
 * (`nodejs_active_handles_total`, ...), which Prometheus' naming rules and `promtool check metrics`
 * reject. They are plain sums of the per-type gauges that stay exposed, so they are removed.
 */
const DEFAULT_METRICS_DROPPED = [
  'ecg_nodejs_active_handles_total',
  'ecg_nodejs_active_requests_total',
  'ecg_nodejs_active_resources_total',
];

/** Any property of it and any call on it give itself back: a metric that records nothing. */
const NOOP: unknown = new Proxy(function noop() {}, {
  get: (_target, prop) => (prop === 'then' ? undefined : NOOP),
  apply: () => NOOP,
});

export interface MetricsOptions {
  /** Also collect prom-client's process metrics (CPU, memory, event loop, GC), prefixed `ecg_`. Default true. */
  defaultMetrics?: boolean;
  /** False: every instrument is a no-op and the registry stays empty. Default true. */
  enabled?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  /** False when constructed with `enabled: false`: instruments record nothing. */
  readonly enabled: boolean;

  // Throughput, per pipeline stage.
  /** ECG samples that went through a pipeline stage. */
  readonly samples: Counter<'stage'>;
  /** Bus messages a stage produced or consumed. */
  readonly messages: Counter<'stage'>;
  /** Beats a stage segmented, trained on or classified. */
  readonly beats: Counter<'stage'>;
  /** Predictions published, by predicted AAMI class (N, S, V, F, Q). */
  readonly predictions: Counter<'class'>;
  /** Rhythm alerts raised, by kind (e.g. `ventricular-tachycardia`, `asystole`). */
  readonly alerts: Counter<'kind'>;

  // Kafka.
  /** Messages between a consumer group's committed offset and the partition's end. */
  readonly consumerLag: Gauge<'group' | 'topic' | 'partition'>;

  // Batches and latency.
  /** Messages per batch a stage consumed from the bus. */
  readonly consumedBatchSize: Histogram<'stage'>;
  /** Beats per model batch (training batches, inference micro-batches). */
  readonly modelBatchSize: Histogram<'stage'>;
  /** Time from a consumed batch reaching a stage to its ack (decode, process, flush outputs). */
  readonly batchDuration: Histogram<'stage'>;
  /** Time from a sample's acquisition to the stage's output for it (serve: the prediction published). */
  readonly endToEndLatency: Histogram<'stage'>;
  /** The part of the end-to-end latency the stage itself spends, from having its input to publishing. */
  readonly processingLatency: Histogram<'stage'>;

  // Training (set by the trainer, per model mode: adaptive | vanilla).
  readonly trainingLoss: Gauge<'mode' | 'split'>;
  readonly trainingAccuracy: Gauge<'mode' | 'split'>;
  readonly trainingLearningRate: Gauge<'mode'>;
  readonly trainingEpochs: Counter<'mode'>;
  readonly trainingDepth: Gauge<'mode'>;
  readonly trainingParameters: Gauge<'mode'>;
  readonly trainingLipschitzMean: Gauge<'mode'>;
  readonly trainingLipschitzSmoothed: Gauge<'mode'>;
  readonly trainingGrowths: Counter<'mode' | 'trigger'>;
  readonly trainingPpe: Gauge<'mode'>;
  readonly trainingEpochDuration: Histogram<'mode'>;
  readonly trainingLipschitzDuration: Histogram<'mode'>;

  /**
   * Bad-input spans and stream discontinuities the signal operators found (skipped and reported), by
   * operator and kind; recorded through src/metrics/signalEvents.ts.
   */
  readonly signalEvents: Counter<'operator' | 'kind'>;

  // Serving and ingestion.
  /** Hot model swaps in the live classifier, by outcome (`ok`, `failed`). */
  readonly modelSwaps: Counter<'outcome'>;
  /** Gaps and overlaps between consecutive messages of one live patient. */
  readonly ingestDiscontinuities: Counter<'kind'>;

  // Energy and CO2 (fed by src/energy/).
  /** Facility energy (PUE applied) attributed to a component. */
  readonly energy: Counter<'component'>;
  /** CO2-equivalent of `energy`, at the configured carbon intensity. */
  readonly co2eq: Counter<'component'>;
  /** Device energy before PUE and attribution (cpu, dram, gpu), measured or estimated. */
  readonly deviceEnergy: Counter<'device'>;
  /** 1 per device with the method its energy comes from (`measured-rapl`, `estimated-cpu-load`, ...). */
  readonly energyMethod: Gauge<'device' | 'method'>;
  readonly energyPue: Gauge;
  readonly carbonIntensity: Gauge;

  // Errors.
  /** Failures by stage and error code (src/errors.ts), dead letters excluded. */
  readonly errors: Counter<'stage' | 'code'>;
  /** Messages sent to the dead-letter topic, by stage and error code. */
  readonly deadLetters: Counter<'stage' | 'reason'>;

  /** 1 for the TensorFlow backend in use; see {@link Metrics.setTfBackend}. */
  readonly tfBackend: Gauge<'backend' | 'tf_version'>;

  constructor(options: MetricsOptions = {}) {
    this.enabled = options.enabled ?? true;
    const registers = [this.registry];
    const enabled = this.enabled;
    function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
      return enabled ? new FastCounter({ name, help, labelNames, registers }) : (NOOP as Counter<L>);
    }
    function gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
      return enabled ? new Gauge({ name, help, labelNames, registers }) : (NOOP as Gauge<L>);
    }
    function histogram<L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      buckets: readonly number[],
    ): Histogram<L> {
      return enabled
        ? new FastHistogram({ name, help, labelNames, buckets: [...buckets], registers })
        : (NOOP as Histogram<L>);
    }

    if (this.enabled && (options.defaultMetrics ?? true)) {
      collectDefaultMetrics({ register: this.registry, prefix: 'ecg_' });
      for (const name of DEFAULT_METRICS_DROPPED) this.registry.removeSingleMetric(name);
    }

    this.samples = counter('ecg_stage_samples_total', 'ECG samples processed, by pipeline stage.', ['stage']);
    this.messages = counter(
      'ecg_stage_messages_total',
      'Bus messages produced or consumed, by pipeline stage.',
      ['stage'],
    );
    this.beats = counter(
      'ecg_stage_beats_total',
      'Beats segmented, trained on or classified, by pipeline stage.',
      ['stage'],
    );
    this.predictions = counter(
      'ecg_predictions_total',
      'Beat classifications published, by predicted AAMI class.',
      ['class'],
    );
    this.alerts = counter('ecg_alerts_total', 'Rhythm alerts raised, by kind.', ['kind']);

    this.consumerLag = gauge(
      'ecg_kafka_consumer_lag_messages',
      'Messages between the consumer group committed offset and the end of the partition.',
      ['group', 'topic', 'partition'],
    );

    this.consumedBatchSize = histogram(
      'ecg_consumed_batch_size_messages',
      'Messages per batch consumed from the bus, by stage.',
      ['stage'],
      BATCH_SIZE_BUCKETS,
    );
    this.modelBatchSize = histogram(
      'ecg_model_batch_size_beats',
      'Beats per model batch (training batches, inference micro-batches), by stage.',
      ['stage'],
      BATCH_SIZE_BUCKETS,
    );
    this.batchDuration = histogram(
      'ecg_stage_batch_duration_seconds',
      'Time from a consumed batch reaching a stage to its ack (decode, process, outputs flushed).',
      ['stage'],
      LATENCY_BUCKETS_SECONDS,
    );
    this.endToEndLatency = histogram(
      'ecg_end_to_end_latency_seconds',
      'Time from sample acquisition to the stage output for it (serve: prediction published).',
      ['stage'],
      LATENCY_BUCKETS_SECONDS,
    );
    this.processingLatency = histogram(
      'ecg_processing_latency_seconds',
      'Time a stage spends from having its input to publishing its output (objective 0.2 s).',
      ['stage'],
      LATENCY_BUCKETS_SECONDS,
    );

    this.trainingLoss = gauge('ecg_training_loss', 'Mean loss of the last epoch, by model mode and split.', [
      'mode',
      'split',
    ]);
    this.trainingAccuracy = gauge(
      'ecg_training_accuracy_ratio',
      'Accuracy (0-1) of the last epoch, by model mode and split.',
      ['mode', 'split'],
    );
    this.trainingLearningRate = gauge(
      'ecg_training_learning_rate',
      'Learning rate of the current epoch, by model mode.',
      ['mode'],
    );
    this.trainingEpochs = counter('ecg_training_epochs_total', 'Training epochs completed, by model mode.', [
      'mode',
    ]);
    this.trainingDepth = gauge(
      'ecg_training_depth_layers',
      'Depth of the network being trained (ResNet 6n+2), by model mode.',
      ['mode'],
    );
    this.trainingParameters = gauge(
      'ecg_training_parameters',
      'Trainable parameters of the network being trained, by model mode.',
      ['mode'],
    );
    this.trainingLipschitzMean = gauge(
      'ecg_training_lipschitz_mean',
      'Mean over residual blocks of the Lipschitz upper bound, last epoch, by model mode.',
      ['mode'],
    );
    this.trainingLipschitzSmoothed = gauge(
      'ecg_training_lipschitz_smoothed',
      'Moving average of the mean block Lipschitz bound that the growth trigger compares, by model mode.',
      ['mode'],
    );
    this.trainingGrowths = counter(
      'ecg_training_growths_total',
      'Network depth growths, by model mode and trigger (threshold, forced).',
      ['mode', 'trigger'],
    );
    this.trainingPpe = gauge(
      'ecg_training_ppe_parameters',
      'Parameters per epoch so far: mean trainable parameter count over completed epochs, by model mode.',
      ['mode'],
    );
    this.trainingEpochDuration = histogram(
      'ecg_training_epoch_duration_seconds',
      'Wall-clock time of one training epoch, by model mode.',
      ['mode'],
      EPOCH_BUCKETS_SECONDS,
    );
    this.trainingLipschitzDuration = histogram(
      'ecg_training_lipschitz_duration_seconds',
      'Wall-clock time of one per-epoch Lipschitz estimate, by model mode.',
      ['mode'],
      EPOCH_BUCKETS_SECONDS,
    );

    this.signalEvents = counter(
      'ecg_signal_events_total',
      'Bad-input spans and stream discontinuities found by the signal operators (skipped and reported), by operator and kind.',
      ['operator', 'kind'],
    );
    this.modelSwaps = counter(
      'ecg_model_swaps_total',
      'Hot model swaps in the live classifier, by outcome (ok, failed).',
      ['outcome'],
    );
    this.ingestDiscontinuities = counter(
      'ecg_ingest_discontinuities_total',
      'Gaps and overlaps between consecutive messages of one live patient, by kind.',
      ['kind'],
    );

    this.energy = counter(
      'ecg_energy_joules_total',
      'Energy attributed to a component, facility level (device energy times PUE).',
      ['component'],
    );
    this.co2eq = counter(
      'ecg_co2eq_grams_total',
      'CO2-equivalent emissions of the attributed energy at the configured carbon intensity.',
      ['component'],
    );
    this.deviceEnergy = counter(
      'ecg_energy_device_joules_total',
      'Device energy before PUE and attribution (cpu, dram, gpu), measured or estimated.',
      ['device'],
    );
    this.energyMethod = gauge(
      'ecg_energy_method_info',
      'Always 1: how the energy of a device is obtained (measured-rapl, measured-nvml, estimated-...).',
      ['device', 'method'],
    );
    this.energyPue = gauge('ecg_energy_pue_ratio', 'Power usage effectiveness applied to device energy.', []);
    this.carbonIntensity = gauge(
      'ecg_carbon_intensity_grams_per_kilowatt_hour',
      'Carbon intensity used to convert energy to CO2-equivalent, in grams per kWh.',
      [],
    );

    this.errors = counter('ecg_errors_total', 'Failures by stage and error code (dead letters excluded).', [
      'stage',
      'code',
    ]);
    this.deadLetters = counter(
      'ecg_dead_letter_messages_total',
      'Messages a stage could not use and sent to the dead-letter topic, by stage and error code.',
      ['stage', 'reason'],
    );

    this.tfBackend = gauge(
      'ecg_tf_backend_info',
      'Always 1: the TensorFlow.js backend in use (tensorflow-gpu, tensorflow, cpu) and its TF version.',
      ['backend', 'tf_version'],
    );
  }

  /**
   * Record the TensorFlow backend in use, replacing any earlier one, for whoever selected it (e.g. with
   * `loadTf()`'s runtime: `metrics.setTfBackend(rt.backend, rt.tfVersion)`).
   */
  setTfBackend(backend: string, tfVersion: string): void {
    this.tfBackend.reset();
    this.tfBackend.set({ backend, tf_version: tfVersion }, 1);
  }

  /** Names of every metric in the registry (empty when disabled), as exposed, without histogram suffixes. */
  metricNames(): string[] {
    return this.enabled ? this.registry.getMetricsAsArray().map((m) => m.name) : [];
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serve `registry` at http://host:port/metrics (port 0 picks a free port). */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(String(err));
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found: try /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: boundPort,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
