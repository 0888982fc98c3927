/**
 * The load generator of `bench serve`, run in a worker thread so that its publication times do not depend
 * on the serve pipeline's event loop (in production the bedside gateways are other processes): simulated
 * patients' chunks published onto the samples topic on the replay clock, every patient at `speed` times
 * real time, their starts staggered over one 10 s window. A chunk is published once its
 * last sample is due; its acquisitionTimeMs is its first sample's time. Each message carries its due time
 * (epoch ms) in the header `DUE_HEADER`, so that the bench can tell the generator's own delay (due ->
 * appended by the broker, with the samples topic on LogAppendTime) from the time the chunk then waits for
 * serve.
 */
import { KafkaBus } from '../bus/kafkaBus';
import { BatchingSink } from '../bus/sink';
import { loadRecording } from '../replay/loadRecording';
import { getCodecs } from '../schemas/codec';
import { errorText, workerTask } from '../util/workerTask';

/** Header with the wall-clock time (epoch ms) at which the chunk was due for publication. */
export const DUE_HEADER = 'ecgflow-due-ms';

export interface LoadSpec {
  brokers: string[];
  topic: string;
  dataDir: string;
  records: string[];
  patients: number;
  speed: number;
  seconds: number;
  /** Wall-clock time the first patient's clock starts (epoch ms). */
  startMs: number;
}

export interface LoadReport {
  chunks: number;
  samples: number;
  /** Largest delay of a publication behind its due time (ms). */
  maxLateMs: number;
}

interface Patient {
  sourceId: string;
  samples: Int16Array;
  offset: number;
  sampleRateHz: number;
  gainAduPerMv: number;
  baselineAdu: number;
  lead: string;
  startMs: number;
  nextChunk: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function generateLoad(
  spec: LoadSpec,
  progress: (chunks: number) => void = () => undefined,
): Promise<LoadReport> {
  const leads = new Map<string, Awaited<ReturnType<typeof loadRecording>>>();
  for (const r of spec.records)
    leads.set(r, await loadRecording(spec.dataDir, r, { lead: 'MLII', annotator: undefined }));
  const periodMs = 1000 / spec.speed;
  const patients: Patient[] = [];
  for (let i = 0; i < spec.patients; i++) {
    const rec = leads.get(spec.records[i % spec.records.length]) as Awaited<ReturnType<typeof loadRecording>>;
    const needed = Math.ceil((spec.seconds + 5) * spec.speed * rec.sampleRateHz);
    const span = Math.max(1, rec.samples.length - needed);
    patients.push({
      sourceId: `patient-${String(i).padStart(4, '0')}`,
      samples: rec.samples,
      offset: (Math.floor(i / spec.records.length) * 131 * rec.sampleRateHz) % span,
      sampleRateHz: rec.sampleRateHz,
      gainAduPerMv: rec.gainAduPerMv,
      baselineAdu: rec.baselineAdu,
      lead: rec.lead,
      // Patients join at different times: spread over one 10 s normalisation window, so their windows (whose
      // beats are classified together) do not all close at once, as they would not on a ward.
      startMs: spec.startMs + (i / spec.patients) * 10 * periodMs,
      nextChunk: 0,
    });
  }
  const bus = new KafkaBus({ brokers: spec.brokers, clientId: 'ecgflow-bench-load' });
  const sink = new BatchingSink(await bus.producer(), { lingerMs: 2 });
  const codec = getCodecs().SampleChunk;
  const endMs = spec.startMs + spec.seconds * 1000;
  const report: LoadReport = { chunks: 0, samples: 0, maxLateMs: 0 };
  try {
    while (Date.now() < endMs) {
      const now = Date.now();
      for (const p of patients) {
        const n = Math.round(p.sampleRateHz);
        while (p.startMs + (p.nextChunk + 1) * periodMs <= now) {
          const k = p.nextChunk++;
          const first = k * n;
          const acquisitionTimeMs = Math.round(p.startMs + k * periodMs);
          const dueMs = p.startMs + (k + 1) * periodMs;
          report.maxLateMs = Math.max(report.maxLateMs, now - dueMs);
          const from = p.offset + first;
          await sink.write(spec.topic, {
            key: p.sourceId,
            value: codec.encode({
              sourceId: p.sourceId,
              lead: p.lead,
              sampleRateHz: p.sampleRateHz,
              firstSampleIndex: first,
              acquisitionTimeMs,
              sequenceNumber: k,
              gainAduPerMv: p.gainAduPerMv,
              baselineAdu: p.baselineAdu,
              samples: Array.from(p.samples.subarray(from, from + n)),
              annotations: [],
              endOfStream: false,
            }),
            timestampMs: acquisitionTimeMs,
            headers: { [DUE_HEADER]: dueMs.toFixed(1) },
          });
          report.chunks++;
          report.samples += n;
        }
      }
      progress(report.chunks);
      await sleep(2);
    }
    await sink.flush();
    return report;
  } finally {
    await sink.close();
    await bus.close();
  }
}

// As a worker thread: run the load described by workerData, report progress and the result.
const task = workerTask<LoadSpec>('topic');
if (task !== undefined) {
  const { port, data } = task;
  let last = 0;
  generateLoad(data, (chunks) => {
    if (chunks - last >= 1000) {
      last = chunks;
      port.postMessage({ kind: 'progress', chunks });
    }
  }).then(
    (report) => port.postMessage({ kind: 'done', report }),
    (err: unknown) => port.postMessage({ kind: 'error', message: errorText(err) }),
  );
}
