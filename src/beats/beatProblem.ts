/**
 * Why a decoded beat cannot be trained on or scored, or undefined when it can. Avro checks types, not
 * lengths or values: a beat of another length would stop the encoder mid-epoch, and one NaN sample (or RR
 * or template value) would turn the loss and then every weight into NaN without an error. Such beats go to
 * the dead-letter topic with this reason instead (src/bus/deadLetter.ts), and the epoch goes on.
 */
import type { LabelledBeat } from '../trainer/examples';

export function beatProblem(beat: LabelledBeat, expectedSamples: number): string | undefined {
  if (beat.samples.length !== expectedSamples)
    return `beat has ${beat.samples.length} samples, expected ${expectedSamples}`;
  for (let i = 0; i < beat.samples.length; i++)
    if (!Number.isFinite(beat.samples[i])) return `sample ${i} is ${beat.samples[i]}`;
  for (const [group, values] of [
    ['rr', beat.rr],
    ['morphology', beat.morphology],
  ] as const) {
    for (const [field, value] of Object.entries(values ?? {}))
      if (typeof value === 'number' && !Number.isFinite(value)) return `${group}.${field} is ${value}`;
  }
  return undefined;
}
