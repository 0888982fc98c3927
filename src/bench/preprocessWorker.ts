/**
 * Worker thread of `ecgflow bench preprocess --workers N`: loads its share of the records, reports
 * `ready`, runs the live chain over them when told `start` (so loading is not timed), and reports its
 * samples, beats and seconds. Sources are independent, so partitioning them over threads is the same
 * scaling as partitioning a topic over consumers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadRecording } from '../replay/loadRecording';
import { interleavedChunks } from '../replay/interleave';
import { OperatorAdapter } from '../stream/operatorAdapter';
import { liveChain } from './preprocess';

export interface WorkerInput {
  dataDir: string;
  records: string[];
  lead: string;
  rateHz: number;
  batch: number;
}

export interface WorkerResult {
  samples: number;
  beats: number;
  seconds: number;
  shape: [number, number] | null;
}

async function main(): Promise<void> {
  const input = workerData as WorkerInput;
  const port = parentPort;
  if (port === null) throw new Error('preprocessWorker must run in a worker thread');
  const recordings = [];
  for (const r of input.records)
    recordings.push(await loadRecording(input.dataDir, r, { lead: input.lead, annotator: undefined }));
  const chunks = [...interleavedChunks(recordings, 1)];
  const samples = chunks.reduce((n, c) => n + c.samples.length, 0);
  port.once('message', () => {
    const adapter = new OperatorAdapter(liveChain(input.rateHz));
    const t0 = performance.now();
    let beats = 0;
    let shape: [number, number] | null = null;
    const count = (out: ReturnType<typeof adapter.end>) => {
      beats += out.length;
      if (shape === null && out.length > 0) shape = [out[0].bins, out[0].frames];
    };
    for (let i = 0; i < chunks.length; i += input.batch)
      count(adapter.process(chunks.slice(i, i + input.batch)));
    count(adapter.end());
    const result: WorkerResult = { samples, beats, seconds: (performance.now() - t0) / 1000, shape };
    port.postMessage(result);
  });
  port.postMessage('ready');
}

main().catch((err: unknown) => {
  throw err;
});
