/**
 * Load one lead of a WFDB record, with its reference annotations, as a `RecordedLead` for replay.
 */
import { ConfigError } from '../errors';
import { log } from '../util/output';
import { chooseLead, readAnnotations, readHeader, readSignals } from '../wfdb/record';
import type { RecordedLead } from './chunker';

export interface LoadOptions {
  /** Preferred lead description, e.g. MLII; the first signal is used (and said) when it is absent. */
  lead: string;
  /** Annotator suffix of the reference annotations, or undefined to send none. */
  annotator: string | undefined;
}

/** Chunks carry gain per millivolt; WFDB gains are per the header's physical unit. */
function gainPerMillivolt(gain: number, units: string, record: string): number {
  switch (units) {
    case 'mV':
      return gain;
    case 'uV':
    case 'µV':
      return gain * 1000;
    case 'V':
      return gain / 1000;
    default:
      throw new ConfigError(`record ${record}: lead is in ${units}, expected an ECG in mV, uV or V`, 'lead');
  }
}

export async function loadRecording(
  dataDir: string,
  record: string,
  options: LoadOptions,
): Promise<RecordedLead> {
  const header = await readHeader(dataDir, record);
  const choice = chooseLead(header, options.lead);
  if (choice.fallback) log(`replay: ${record}: ${choice.reason}`);
  const { signals } = await readSignals(dataDir, record, { signals: [choice.index] });
  const spec = header.signals[choice.index];
  const annotations =
    options.annotator === undefined
      ? []
      : (await readAnnotations(dataDir, record, options.annotator)).map((a) => ({
          sampleIndex: a.sample,
          symbol: a.symbol,
          aux: a.aux ?? null,
        }));
  return {
    sourceId: record,
    lead: spec.description,
    sampleRateHz: header.sampleRateHz,
    gainAduPerMv: gainPerMillivolt(spec.adcGain, spec.units, record),
    baselineAdu: spec.baseline,
    samples: signals[0],
    annotations,
  };
}
