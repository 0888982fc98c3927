import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { detectQrs } from '../../../operators/detectQrs';
import { filterEcg } from '../../../operators/filterEcg';
import { resample } from '../../../operators/resample';
import { sanitizeSamples } from '../../../operators/sanitizeSamples';
import type { SampleChunkLike, SignalBlock } from '../../../operators/types';
import { detectChunks } from '../../../pipelines/detect';
import { chunkRecording } from '../../../src/replay/chunker';
import { loadRecording } from '../../../src/replay/loadRecording';
import { compareBeats, score } from '../../../src/scoring/bxb';
import { isBeat } from '../../../src/wfdb/labels';
import { requireDataDir } from '../../helpers/env';
import { syntheticEcg } from '../../helpers/syntheticEcg';

const dataDir = requireDataDir();

async function scoreRecord(record: string, chain: 'native' | 'live') {
  const recording = await loadRecording(dataDir, record, { lead: 'MLII', annotator: 'atr' });
  const chunks = [...chunkRecording(recording, 360)].map((c) => ({ ...c, acquisitionTimeMs: 0 }));
  const found =
    detectChunks(chunks, chain === 'native' ? { filter: false } : { sampleRateHz: 125, filter: true }).get(
      record,
    ) ?? [];
  const result = compareBeats(
    recording.annotations.map((a) => ({ sampleIndex: a.sampleIndex, symbol: a.symbol })),
    found,
    { sampleRateHz: 360, recordSamples: recording.samples.length, isBeat },
  );
  return score(result);
}

describe('detectQrs', () => {
  it('record 100: Se and +P >= 99.9 % (bxb rules), at 360 Hz and after resampling to 125 Hz and filtering', async () => {
    for (const chain of ['native', 'live'] as const) {
      const s = await scoreRecord('100', chain);
      assert.ok((s.se as number) >= 99.9 && (s.ppv as number) >= 99.9, `${chain}: ${JSON.stringify(s)}`);
    }
  });

  it('record 105 (heavy noise): Se >= 99 % and +P >= 98 %', async () => {
    const s = await scoreRecord('105', 'native');
    assert.ok((s.se as number) >= 99 && (s.ppv as number) >= 98, JSON.stringify(s));
  });

  it('keeps samples and marks aligned: detections ride on the block holding their sample', async () => {
    const { samples, rPeaks } = syntheticEcg({ sampleRateHz: 250, seconds: 30, seed: 3 });
    const digital = Array.from(samples, (v) => Math.round(v * 200) + 1024);
    const chunks: SampleChunkLike[] = [];
    for (let i = 0, seq = 0; i < digital.length; i += 250, seq++) {
      chunks.push({
        sourceId: 's',
        sampleRateHz: 250,
        firstSampleIndex: i,
        sequenceNumber: seq,
        acquisitionTimeMs: 0,
        gainAduPerMv: 200,
        baselineAdu: 1024,
        samples: digital.slice(i, i + 250),
        annotations: [],
        endOfStream: i + 250 >= digital.length,
      });
    }
    const blocks: SignalBlock[] = await lastValueFrom(
      from(chunks).pipe(sanitizeSamples(), resample(125), filterEcg(), detectQrs(), toArray()),
    );
    const marks = blocks.flatMap((b) =>
      b.marks.map((m) => {
        assert.ok(
          m.sampleIndex >= b.firstSampleIndex && m.sampleIndex < b.firstSampleIndex + b.samples.length,
        );
        return m.sourceSampleIndex;
      }),
    );
    assert.equal(marks.length, rPeaks.length);
    marks.forEach((m, i) => assert.ok(Math.abs(m - rPeaks[i]) <= 4, `${m} vs ${rPeaks[i]}`));
    assert.equal(
      blocks.reduce((n, b) => n + b.samples.length, 0),
      digital.length / 2,
      'no sample lost or repeated',
    );
  });
});
