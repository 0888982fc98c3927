/**
 * Pipeline `replay`: WFDB records -> sample chunks (about one second each) -> samples topic.
 * All records replay concurrently; each is paced at real time times `speed`, or unpaced with `max`.
 * Only wiring lives here: loading, chunking, encoding and the sink are library code.
 */
import { getCodecs } from '../src/schemas/codec';
import type { BatchingSink } from '../src/bus/sink';
import type { Metrics } from '../src/metrics/registry';
import { chunkRecording, chunkSamplesFor } from '../src/replay/chunker';
import { loadRecording } from '../src/replay/loadRecording';

export interface ReplayConfig {
  dataDir: string;
  records: readonly string[];
  /** Real-time factor (1 = real time), or 'max' for as fast as the sink accepts. */
  speed: number | 'max';
  lead: string;
  chunkSeconds: number;
  /** Annotator whose annotations ride along (e.g. 'atr'), or undefined for none. */
  annotator: string | undefined;
  samplesTopic: string;
}

export interface ReplaySummary {
  records: number;
  samples: number;
  messages: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface ReplayProgress {
  (event: { record: string; samples: number; messages: number; done: boolean }): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runReplay(
  config: ReplayConfig,
  sink: BatchingSink,
  metrics: Metrics,
  onProgress: ReplayProgress = () => undefined,
): Promise<ReplaySummary> {
  const codec = getCodecs().SampleChunk;
  const samplesCounter = metrics.samples.labels('replay');
  const messagesCounter = metrics.messages.labels('replay');
  const startMs = Date.now();
  let samples = 0;
  let messages = 0;

  const replayOne = async (record: string): Promise<void> => {
    const recording = await loadRecording(config.dataDir, record, {
      lead: config.lead,
      annotator: config.annotator,
    });
    const chunkSamples = chunkSamplesFor(recording.sampleRateHz, config.chunkSeconds);
    // The replay clock: sample i of every record is "acquired" at recordStart + i / fs / speed.
    const recordStartMs = Date.now();
    const msPerSample = config.speed === 'max' ? 0 : 1000 / recording.sampleRateHz / config.speed;
    for (const chunk of chunkRecording(recording, chunkSamples)) {
      const lastSampleEnd = chunk.firstSampleIndex + chunk.samples.length;
      let acquisitionTimeMs: number;
      if (config.speed === 'max') {
        acquisitionTimeMs = Date.now();
      } else {
        // A chunk can only be published once its last sample has been acquired.
        const due = recordStartMs + lastSampleEnd * msPerSample;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        acquisitionTimeMs = Math.round(recordStartMs + chunk.firstSampleIndex * msPerSample);
      }
      await sink.write(config.samplesTopic, {
        key: chunk.sourceId,
        value: codec.encode({ ...chunk, acquisitionTimeMs }),
        timestampMs: acquisitionTimeMs,
      });
      samples += chunk.samples.length;
      messages++;
      samplesCounter.inc(chunk.samples.length);
      messagesCounter.inc();
      onProgress({ record, samples: chunk.samples.length, messages: 1, done: chunk.endOfStream });
    }
  };

  await Promise.all(config.records.map(replayOne));
  await sink.flush();
  const seconds = (Date.now() - startMs) / 1000;
  return { records: config.records.length, samples, messages, seconds, samplesPerSecond: samples / seconds };
}
