/**
 * The live classifier's per-batch logic (pipelines/serve.ts wires it to the bus): sample chunks go through
 * a long-lived, synchronous operator chain (sanitize -> resample -> QRS detection -> detector-driven beat
 * segmentation -> STFT), the beats it completes are classified in micro-batches, and predictions and
 * rhythm alerts are written to their topics.
 *
 * Micro-batching and the ack. A consumed batch may be acked only once every prediction derived from it is
 * durable. Both buses fetch a partition's next batch only after the current one is acked, and Kafka
 * (kafkajs, one partition at a time) hands over batches strictly one after another, so holding an ack to
 * let a micro-batch fill up across consumed batches would stall the input: nothing new could arrive, and
 * only the timer would ever close the micro-batch, adding its full wait to every batch. So the consumed
 * batch is the outer bound and nothing is held across it:
 *   - chunks are pushed through the chain one at a time; completed beats collect in a micro-batch, across
 *     all the sources (patients) of the consumed batch;
 *   - the micro-batch is classified and its predictions written when it holds `maxBatchBeats` beats, or
 *     when its oldest beat has waited `maxWaitMs` (checked between chunks, so a long consumed batch does
 *     not hold early beats back), and in any case before the consumed batch is done;
 *   - the handler then flushes the prediction and alert sinks, and only after that does the pipeline ack.
 * A swap to a newly loaded model happens only between micro-batches (ModelManager.swapIfReady), so each
 * beat is classified once, by one model, whose version is on its prediction.
 *
 * Delivery: at least once. A beat comes out again only when its chunks are redelivered (a crash before
 * the ack) or re-read on a takeover (src/serving/sampleHistory.ts); `dedupKey` = sourceId:rPeakSampleIndex
 * identifies it. Latency: `lookAheadSeconds` (signal time from the R-peak to the last sample of the chunk
 * that completed the beat: detector delay, normalisation window, beat length, chunking) is inherent to the
 * segmentation; `latencySeconds` (from that sample's acquisition to publication) is the processing part.
 */
import type { OperatorFunction } from 'rxjs';
import type { RhythmAlert, RhythmEvent } from '../../operators/rhythmAlerts';
import type { BeatSpectrogram, SampleChunkLike } from '../../operators/types';
import type { DecodedMessage } from '../bus/deadLetter';
import { liveSampleRateProblem } from '../dsp/resampler';
import type { BatchingSink } from '../bus/sink';
import type { Metrics } from '../metrics/registry';
import { getCodecs } from '../schemas/codec';
import type { AlertKind, AlertV1, PredictionV1, SampleChunkV1 } from '../schemas/types';
import { OperatorAdapter } from '../stream/operatorAdapter';
import { writeBeatFeatures } from '../trainer/beatFeatures';
import { classifyImages, type ModelManager } from './modelManager';
import type { SampleHistory } from './sampleHistory';

export interface ServeEngineConfig {
  predictionsTopic: string;
  alertsTopic: string;
  /** Most beats per inference micro-batch. */
  maxBatchBeats: number;
  /** Longest a completed beat waits for its micro-batch to fill (checked between chunks). */
  maxWaitMs: number;
  /** Signal re-read for a source met mid-stream (covers the chain's look-ahead; 0: no re-read). */
  lookBackSeconds: number;
  /** Close a source's state after this long without a chunk (its last beats are then classified); 0: never. */
  idleSourceSeconds: number;
}

export const DEFAULT_SERVE_ENGINE_CONFIG: Omit<ServeEngineConfig, 'predictionsTopic' | 'alertsTopic'> = {
  maxBatchBeats: 256,
  maxWaitMs: 50,
  lookBackSeconds: 30,
  idleSourceSeconds: 60,
};

/** What the engine tells its caller about every prediction (accounting, scoring, tests). */
export interface PredictionInfo {
  prediction: PredictionV1;
  /** Beat from re-read history (a takeover): its latency says nothing about processing. */
  recovered: boolean;
  /** Wall-clock look-ahead (s): the signal look-ahead at the source's clock rate. */
  lookAheadWallSeconds: number;
  /** From the completing chunk reaching the engine to publication (s): the engine's own share. */
  inEngineSeconds: number;
  /** Acquisition time (epoch ms) of the last sample of the chunk that completed the beat. */
  completedAtMs: number;
  /** When the completing chunk reached the engine (epoch ms). */
  arrivedAtMs: number;
}

export interface ServeEngineDeps {
  /** The operator chain; `rhythm` receives detections and watermarks for the alert operator. */
  chain: (rhythm: (e: RhythmEvent) => void) => OperatorFunction<SampleChunkLike, BeatSpectrogram>;
  alerts: OperatorFunction<RhythmEvent, RhythmAlert>;
  models: ModelManager;
  predictionsSink: BatchingSink;
  alertsSink: BatchingSink;
  metrics: Metrics;
  history?: SampleHistory;
  log: (line: string) => void;
  now?: () => number;
  /** Every prediction as it is written to the predictions sink (not yet acknowledged by the bus). */
  onPrediction?: (info: PredictionInfo) => void;
  /**
   * The predictions written since the last flush, once the bus has acknowledged them, with the time of the
   * acknowledgement (epoch ms): when they are published. Latency measured here includes the write.
   */
  onAcknowledged?: (infos: readonly PredictionInfo[], acknowledgedAtMs: number) => void;
  onAlert?: (alert: AlertV1) => void;
}

interface PendingBeat {
  beat: BeatSpectrogram;
  /** Acquisition time (epoch ms) of the last sample of the chunk that completed the beat. */
  completedAtMs: number;
  /** Null for beats flushed when serving stops (no sample completed them). */
  lookAheadSeconds: number | null;
  lookAheadWallSeconds: number;
  recovered: boolean;
  /** When the completing chunk reached the engine (epoch ms). */
  arrivedAtMs: number;
}

interface SourceTrack {
  lastSequence: number;
  lastFirstSampleIndex: number;
  lastAcquisitionMs: number;
  /** Signal seconds per wall second, from consecutive chunks (1 for live sources). */
  clockRate: number;
  nextSampleIndex: number;
  sampleRateHz: number;
  gainAduPerMv: number;
  baselineAdu: number;
  lead: string;
  lastSeenMs: number;
}

export interface ServeEngineStats {
  chunks: number;
  samples: number;
  beats: number;
  predictions: number;
  alerts: number;
  microBatches: number;
  rewinds: number;
  rewoundChunks: number;
  lateJoinsWithoutHistory: number;
  evictedSources: number;
  predictionsByModel: Record<string, number>;
  predictionsByClass: Record<string, number>;
}

/**
 * Why a sample chunk cannot go through the live chain, or undefined when it can. Checked before the chain
 * (serve dead-letters such a chunk with this reason): a declared sampling rate outside
 * LIVE_SAMPLE_RATE_RANGE_HZ would make the resampler's design take seconds and hundreds of MB, never end,
 * or throw, and a chunk on which the chain throws would stop serve at every redelivery (a poison pill).
 * Everything else the sanitizer handles itself (skipped and reported as signal events).
 */
export function servableChunkProblem(chunk: SampleChunkV1): string | undefined {
  const rate = liveSampleRateProblem(chunk.sampleRateHz);
  return rate === undefined ? undefined : `source ${chunk.sourceId}: ${rate}`;
}

const ALERT_KINDS: Record<RhythmAlert['kind'], AlertKind> = {
  'ventricular-tachycardia': 'VENTRICULAR_TACHYCARDIA',
  asystole: 'ASYSTOLE',
};

export class ServeEngine {
  private readonly adapter: OperatorAdapter<SampleChunkLike, BeatSpectrogram>;
  private readonly alertsAdapter: OperatorAdapter<RhythmEvent, RhythmAlert>;
  private rhythmBuffer: RhythmEvent[] = [];
  private pending: PendingBeat[] = [];
  private pendingSinceMs = 0;
  private readonly sources = new Map<string, SourceTrack>();
  private readonly now: () => number;
  private images: Float32Array = new Float32Array(0);
  private features: Float32Array = new Float32Array(0);
  private unobserved: { completedAtMs: number; lookAheadWallSeconds: number }[] = [];
  /** Predictions written since the last flush (kept only for onAcknowledged; bounded by one round). */
  private unacknowledged: PredictionInfo[] = [];
  private lastEvictionCheckMs = 0;
  readonly stats: ServeEngineStats = {
    chunks: 0,
    samples: 0,
    beats: 0,
    predictions: 0,
    alerts: 0,
    microBatches: 0,
    rewinds: 0,
    rewoundChunks: 0,
    lateJoinsWithoutHistory: 0,
    evictedSources: 0,
    predictionsByModel: {},
    predictionsByClass: {},
  };

  constructor(
    private readonly config: ServeEngineConfig,
    private readonly deps: ServeEngineDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.adapter = new OperatorAdapter(deps.chain((e) => this.rhythmBuffer.push(e)));
    this.alertsAdapter = new OperatorAdapter(deps.alerts);
  }

  /**
   * The handler of one consumed round: the chunks of one or more consumed batches (several partitions'
   * batches handed over together, see consumeDecodedRounds), each batch's chunks in offset order; resolves
   * when their predictions and alerts are flushed.
   */
  async handleBatch(items: readonly DecodedMessage<SampleChunkV1>[]): Promise<void> {
    await this.evictIdleSources();
    const recovered = await this.recoverLateSources(items);
    for (const chunk of recovered) await this.processChunk(chunk, true);
    for (const item of items) await this.processChunk(item.value, false);
    await this.publishPending();
    await this.flush();
  }

  /** End of input: flush every source's state, classify what it held, flush the sinks. */
  async end(): Promise<void> {
    const beats = this.adapter.end();
    await this.drainRhythm();
    const t = this.now();
    for (const beat of beats) this.addPending(beat, t, null, true, Infinity, t);
    await this.publishPending();
    for (const alert of this.alertsAdapter.end()) await this.writeAlert(alert);
    await this.flush();
  }

  /** Sources with state (followed since their start or recovered). */
  get sourceCount(): number {
    return this.sources.size;
  }

  private async flush(): Promise<void> {
    await Promise.all([this.deps.predictionsSink.flush(), this.deps.alertsSink.flush()]);
    // Latency as published: measured once the predictions are acknowledged by the bus.
    const published = this.now();
    const { processingLatency, endToEndLatency } = this.deps.metrics;
    for (const u of this.unobserved) {
      const processing = Math.max(0, (published - u.completedAtMs) / 1000);
      processingLatency.labels('serve').observe(processing);
      endToEndLatency.labels('serve').observe(processing + u.lookAheadWallSeconds);
    }
    this.unobserved = [];
    if (this.deps.onAcknowledged !== undefined && this.unacknowledged.length > 0) {
      const infos = this.unacknowledged;
      this.unacknowledged = [];
      this.deps.onAcknowledged(infos, published);
    }
  }

  /**
   * Sources met mid-stream (first chunk seen has sequenceNumber > 0) or with chunks missing since the last
   * one seen: read their preceding chunks back, so the chain's look-ahead state is rebuilt before the
   * round's chunks arrive and no beat of the span is lost. A round may hold several partitions' batches:
   * each partition is read back before its own first offset in the round (a patient lives on one
   * partition), one read per partition that has late sources.
   */
  private async recoverLateSources(
    items: readonly DecodedMessage<SampleChunkV1>[],
  ): Promise<SampleChunkV1[]> {
    if (this.config.lookBackSeconds <= 0 || items.length === 0) return [];
    interface PartitionReads {
      first: DecodedMessage<SampleChunkV1>['message'];
      earliestMs: number;
      late: Map<string, { fromSampleIndex: number; afterSequence: number }>;
    }
    const byPartition = new Map<string, PartitionReads>();
    const seen = new Set<string>();
    const firstOf = new Map<string, DecodedMessage<SampleChunkV1>['message']>();
    for (const { value: c, message } of items) {
      const partitionKey = `${message.topic}/${message.partition}`;
      if (!firstOf.has(partitionKey)) firstOf.set(partitionKey, message);
      if (seen.has(c.sourceId)) continue;
      seen.add(c.sourceId);
      const track = this.sources.get(c.sourceId);
      const isLate = track === undefined ? c.sequenceNumber > 0 : c.sequenceNumber > track.lastSequence + 1;
      if (!isLate) continue;
      let reads = byPartition.get(partitionKey);
      if (reads === undefined) {
        reads = { first: firstOf.get(partitionKey) ?? message, earliestMs: Infinity, late: new Map() };
        byPartition.set(partitionKey, reads);
      }
      reads.late.set(c.sourceId, {
        fromSampleIndex: Math.max(
          0,
          c.firstSampleIndex - Math.round(this.config.lookBackSeconds * c.sampleRateHz),
        ),
        afterSequence: track?.lastSequence ?? -1,
      });
      reads.earliestMs = Math.min(reads.earliestMs, message.timestampMs);
    }
    if (byPartition.size === 0) return [];
    const history = this.deps.history;
    if (history === undefined) {
      const late = [...byPartition.values()].flatMap((r) => [...r.late.keys()]);
      this.stats.lateJoinsWithoutHistory += late.length;
      if (this.stats.lateJoinsWithoutHistory <= 10)
        this.deps.log(
          `serve: ${late.join(', ')} joined mid-stream with no history to re-read on this bus; beats of the first ${this.config.lookBackSeconds} s may be missing`,
        );
      return [];
    }
    const chunks: SampleChunkV1[] = [];
    for (const { first, earliestMs, late } of byPartition.values()) {
      const startMs = this.now();
      const result = await history.fetch({
        topic: first.topic,
        partition: first.partition,
        beforeOffset: Number(first.offset),
        timestampMs: Number.isFinite(earliestMs) ? earliestMs : first.timestampMs,
        sources: late,
      });
      const read = [...result.chunks.values()].flat();
      for (const c of read) chunks.push(c);
      this.stats.rewinds++;
      this.stats.rewoundChunks += read.length;
      this.deps.log(
        `serve: re-read ${read.length} earlier chunks of ${late.size} source(s) joined mid-stream (${[...late.keys()].slice(0, 5).join(', ')}${late.size > 5 ? ', ...' : ''}) from ${first.topic}/${first.partition} before offset ${first.offset}: ${result.messagesRead} messages in ${((this.now() - startMs) / 1000).toFixed(2)} s${result.complete ? '' : ' (incomplete: timed out)'}`,
      );
    }
    return chunks;
  }

  private track(chunk: SampleChunkV1): SourceTrack {
    const nowMs = this.now();
    let t = this.sources.get(chunk.sourceId);
    if (t === undefined) {
      t = {
        lastSequence: chunk.sequenceNumber,
        lastFirstSampleIndex: chunk.firstSampleIndex,
        lastAcquisitionMs: chunk.acquisitionTimeMs,
        clockRate: 1,
        nextSampleIndex: chunk.firstSampleIndex + chunk.samples.length,
        sampleRateHz: chunk.sampleRateHz,
        gainAduPerMv: chunk.gainAduPerMv,
        baselineAdu: chunk.baselineAdu,
        lead: chunk.lead,
        lastSeenMs: nowMs,
      };
      this.sources.set(chunk.sourceId, t);
      return t;
    }
    if (chunk.sequenceNumber > t.lastSequence) {
      const signalSeconds = (chunk.firstSampleIndex - t.lastFirstSampleIndex) / chunk.sampleRateHz;
      const wallSeconds = (chunk.acquisitionTimeMs - t.lastAcquisitionMs) / 1000;
      // Replays run their clock faster than real time (or publish everything at once): estimate the rate
      // so that acquisition times inside a chunk are placed right.
      t.clockRate =
        wallSeconds > 0 && signalSeconds > 0
          ? signalSeconds / wallSeconds
          : signalSeconds > 0
            ? Infinity
            : t.clockRate;
      t.lastSequence = chunk.sequenceNumber;
      t.lastFirstSampleIndex = chunk.firstSampleIndex;
      t.lastAcquisitionMs = chunk.acquisitionTimeMs;
      t.nextSampleIndex = chunk.firstSampleIndex + chunk.samples.length;
      t.sampleRateHz = chunk.sampleRateHz;
      t.gainAduPerMv = chunk.gainAduPerMv;
      t.baselineAdu = chunk.baselineAdu;
    }
    t.lastSeenMs = nowMs;
    return t;
  }

  private async processChunk(chunk: SampleChunkV1, recovered: boolean): Promise<void> {
    const arrivedAtMs = this.now();
    const track = this.track(chunk);
    this.stats.chunks++;
    this.stats.samples += chunk.samples.length;
    const beats = this.adapter.process([chunk]);
    await this.drainRhythm();
    if (chunk.endOfStream) this.sources.delete(chunk.sourceId);
    if (beats.length > 0) {
      const lastIndex = chunk.firstSampleIndex + Math.max(0, chunk.samples.length - 1);
      const rate = Number.isFinite(track.clockRate) && track.clockRate > 0 ? track.clockRate : Infinity;
      const completedAtMs =
        chunk.acquisitionTimeMs +
        (rate === Infinity ? 0 : (1000 * (lastIndex - chunk.firstSampleIndex)) / chunk.sampleRateHz / rate);
      for (const beat of beats) {
        const lookAheadSeconds = Math.max(0, (lastIndex - beat.rPeakSourceIndex) / beat.sourceSampleRateHz);
        this.addPending(
          beat,
          completedAtMs,
          lookAheadSeconds,
          recovered,
          rate === Infinity ? Infinity : rate,
          arrivedAtMs,
        );
      }
    }
    if (
      this.pending.length >= this.config.maxBatchBeats ||
      (this.pending.length > 0 && this.now() - this.pendingSinceMs >= this.config.maxWaitMs)
    ) {
      await this.publishPending();
    }
  }

  private addPending(
    beat: BeatSpectrogram,
    completedAtMs: number,
    lookAheadSeconds: number | null,
    recovered: boolean,
    clockRate: number,
    arrivedAtMs: number,
  ): void {
    if (this.pending.length === 0) this.pendingSinceMs = this.now();
    this.pending.push({
      beat,
      completedAtMs,
      lookAheadSeconds,
      lookAheadWallSeconds:
        clockRate === Infinity || lookAheadSeconds === null ? 0 : lookAheadSeconds / clockRate,
      recovered,
      arrivedAtMs,
    });
  }

  /** Classify and write everything pending, in micro-batches of at most maxBatchBeats. */
  private async publishPending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.config.maxBatchBeats);
      await this.classifyAndWrite(batch);
    }
  }

  private async classifyAndWrite(batch: PendingBeat[]): Promise<void> {
    // Between micro-batches: the only place the model may change.
    this.deps.models.swapIfReady();
    const model = this.deps.models.current;
    const [h, w, c] = model.inputShape;
    const size = h * w * c;
    if (this.images.length < batch.length * size) this.images = new Float32Array(batch.length * size);
    batch.forEach((p, i) => {
      if (p.beat.spectrogram.length !== size)
        throw new RangeError(
          `beat spectrogram has ${p.beat.spectrogram.length} values, the model takes ${h}x${w}x${c}`,
        );
      this.images.set(p.beat.spectrogram, i * size);
    });
    // The model's scalar features, computed from the same beat context the training beats carried.
    const f = model.featureCount;
    if (f > 0) {
      if (this.features.length < batch.length * f) this.features = new Float32Array(batch.length * f);
      batch.forEach((p, i) =>
        writeBeatFeatures(model.featureSet, p.beat, this.features, i * f, model.rrRatioMax),
      );
    }
    const { probabilities, predicted } = classifyImages(
      model,
      this.images,
      batch.length,
      f > 0 ? this.features : undefined,
    );
    const k = model.classes.length;
    const codec = getCodecs().Prediction;
    const metrics = this.deps.metrics;
    metrics.modelBatchSize.labels('serve').observe(batch.length);
    metrics.beats.labels('serve').inc(batch.length);
    this.stats.microBatches++;
    const beatEvents: RhythmEvent[] = [];
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      const cls = model.classes[predicted[i]];
      const publishedTimeMs = this.now();
      const prediction: PredictionV1 = {
        sourceId: p.beat.sourceId,
        dedupKey: `${p.beat.sourceId}:${p.beat.rPeakSourceIndex}`,
        rPeakSampleIndex: p.beat.rPeakSourceIndex,
        rPeakTimeMs: p.beat.rPeakTimeMs,
        predictedClass: cls,
        classes: [...model.classes],
        probabilities: Array.from(probabilities.subarray(i * k, (i + 1) * k)),
        modelVersion: model.version,
        publishedTimeMs,
        latencySeconds: (publishedTimeMs - p.completedAtMs) / 1000,
        lookAheadSeconds: p.lookAheadSeconds,
      };
      await this.deps.predictionsSink.write(this.config.predictionsTopic, {
        key: prediction.sourceId,
        value: codec.encode(prediction),
        timestampMs: publishedTimeMs,
      });
      metrics.predictions.labels(cls).inc();
      this.stats.predictions++;
      this.stats.beats++;
      this.stats.predictionsByModel[model.version] = (this.stats.predictionsByModel[model.version] ?? 0) + 1;
      this.stats.predictionsByClass[cls] = (this.stats.predictionsByClass[cls] ?? 0) + 1;
      if (!p.recovered)
        this.unobserved.push({
          completedAtMs: p.completedAtMs,
          lookAheadWallSeconds: p.lookAheadWallSeconds,
        });
      const info: PredictionInfo = {
        prediction,
        recovered: p.recovered,
        lookAheadWallSeconds: p.lookAheadWallSeconds,
        inEngineSeconds: (publishedTimeMs - p.arrivedAtMs) / 1000,
        completedAtMs: p.completedAtMs,
        arrivedAtMs: p.arrivedAtMs,
      };
      this.deps.onPrediction?.(info);
      if (this.deps.onAcknowledged !== undefined) this.unacknowledged.push(info);
      beatEvents.push({
        type: 'beat',
        sourceId: prediction.sourceId,
        rPeakSampleIndex: prediction.rPeakSampleIndex,
        rPeakTimeMs: prediction.rPeakTimeMs,
        beatClass: cls,
        modelVersion: model.version,
      });
    }
    for (const alert of this.alertsAdapter.process(beatEvents)) await this.writeAlert(alert);
  }

  private async drainRhythm(): Promise<void> {
    if (this.rhythmBuffer.length === 0) return;
    const events = this.rhythmBuffer;
    this.rhythmBuffer = [];
    for (const alert of this.alertsAdapter.process(events)) await this.writeAlert(alert);
  }

  private async writeAlert(alert: RhythmAlert): Promise<void> {
    const raisedTimeMs = this.now();
    const message: AlertV1 = {
      alertId: `${alert.sourceId}:${ALERT_KINDS[alert.kind]}:${alert.onsetSampleIndex}`,
      sourceId: alert.sourceId,
      kind: ALERT_KINDS[alert.kind],
      onsetSampleIndex: alert.onsetSampleIndex,
      onsetTimeMs: Math.round(alert.onsetTimeMs),
      detectedTimeMs: Math.round(alert.detectedTimeMs),
      heartRateBpm: alert.heartRateBpm,
      pauseSeconds: alert.pauseSeconds,
      beats: alert.beats.map((b) => ({
        rPeakSampleIndex: b.rPeakSampleIndex,
        rPeakTimeMs: Math.round(b.rPeakTimeMs),
        predictedClass: b.beatClass,
      })),
      modelVersion: alert.modelVersion,
      raisedTimeMs,
    };
    this.stats.alerts++;
    this.deps.metrics.alerts.labels(alert.kind).inc();
    this.deps.onAlert?.(message);
    await this.deps.alertsSink.write(this.config.alertsTopic, {
      key: message.sourceId,
      value: getCodecs().Alert.encode(message),
      timestampMs: raisedTimeMs,
    });
  }

  /**
   * Close sources that have been silent for idleSourceSeconds (a monitor disconnected, or a partition
   * moved to another instance): an empty end-of-stream chunk flushes their state through the chain, so
   * their last beats are classified and the memory is released. A source that comes back is met
   * mid-stream and recovered from history like any other.
   */
  private async evictIdleSources(): Promise<void> {
    if (this.config.idleSourceSeconds <= 0) return;
    const nowMs = this.now();
    if (nowMs - this.lastEvictionCheckMs < 1000) return;
    this.lastEvictionCheckMs = nowMs;
    const limitMs = this.config.idleSourceSeconds * 1000;
    for (const [sourceId, t] of [...this.sources]) {
      if (nowMs - t.lastSeenMs < limitMs) continue;
      this.stats.evictedSources++;
      const closing: SampleChunkV1 = {
        sourceId,
        lead: t.lead,
        sampleRateHz: t.sampleRateHz,
        firstSampleIndex: t.nextSampleIndex,
        acquisitionTimeMs: t.lastAcquisitionMs,
        sequenceNumber: t.lastSequence + 1,
        gainAduPerMv: t.gainAduPerMv,
        baselineAdu: t.baselineAdu,
        samples: [],
        annotations: [],
        endOfStream: true,
      };
      this.deps.log(`serve: ${sourceId} silent for ${this.config.idleSourceSeconds} s: closing its state`);
      await this.processChunk(closing, true);
    }
  }
}
