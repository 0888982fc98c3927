/**
 * How beats are prepared from the signal before they become spectrograms: the beat form (Kachuee et al.'s
 * R-peak-onward window, or a window centred on the R-peak), whether the signal is filtered (baseline wander
 * and high-frequency noise) before segmentation, and the beat sampling rate. It is part of a model's input
 * contract: a model is trained on beats prepared one way and must be served and evaluated on beats
 * prepared the same way, so it is saved with the model (config.json `beats`) and names the beat log.
 *
 * The seed paper's preparation (Kachuee form, unfiltered, 125 Hz) is the default and what models saved
 * before this setting existed were trained with. The centred, filtered form sees the whole QRS complex
 * (Kachuee's beat starts at the R-peak and loses the QRS onset, where a ventricular beat's width shows),
 * which carries better across patients (docs/training.md, inter-patient figures).
 */
import { ConfigError } from '../errors';
import { BEAT_FORMS, type BeatForm } from '../dsp/beatWindows';

export interface BeatPreparation {
  form: BeatForm;
  /** Baseline-wander and noise filtering before segmentation (src/dsp/ecgFilter.ts). */
  filter: boolean;
  /** Sampling rate of the beats (Hz); the spectrogram's geometry assumes 187 samples per beat. */
  beatRateHz: number;
}

export const SEED_PAPER_PREPARATION: Readonly<BeatPreparation> = Object.freeze({
  form: 'kachuee',
  filter: false,
  beatRateHz: 125,
});

/** A preparation read from a file or flags: every field checked, a typed error naming the bad one. */
export function validatePreparation(value: unknown, where = 'beats'): BeatPreparation {
  const v = value as Partial<BeatPreparation> | null;
  if (typeof v !== 'object' || v === null)
    throw new ConfigError(`${where} must be an object {form, filter, beatRateHz}`, where);
  if (!BEAT_FORMS.includes(v.form as BeatForm))
    throw new ConfigError(
      `${where}.form must be one of ${BEAT_FORMS.join(', ')}, got ${JSON.stringify(v.form)}`,
      `${where}.form`,
    );
  if (typeof v.filter !== 'boolean')
    throw new ConfigError(
      `${where}.filter must be true or false, got ${JSON.stringify(v.filter)}`,
      `${where}.filter`,
    );
  if (typeof v.beatRateHz !== 'number' || !Number.isFinite(v.beatRateHz) || v.beatRateHz <= 0)
    throw new ConfigError(
      `${where}.beatRateHz must be a positive number, got ${JSON.stringify(v.beatRateHz)}`,
      `${where}.beatRateHz`,
    );
  return { form: v.form as BeatForm, filter: v.filter, beatRateHz: v.beatRateHz };
}

export function samePreparation(a: BeatPreparation, b: BeatPreparation): boolean {
  return a.form === b.form && a.filter === b.filter && a.beatRateHz === b.beatRateHz;
}

/** For logs and errors: "kachuee, unfiltered, 125 Hz". */
export function describePreparation(p: BeatPreparation): string {
  return `${p.form}, ${p.filter ? 'filtered' : 'unfiltered'}, ${p.beatRateHz} Hz`;
}

/**
 * The suffix of a beat log's default topic name: none for the seed paper's beats (the topic names that
 * existed before), otherwise what differs, e.g. ".centred-filtered". Beats prepared differently never
 * share a log by default, so a model is not trained or scored on beats it was not meant for.
 */
export function beatLogSuffix(p: BeatPreparation): string {
  if (samePreparation(p, SEED_PAPER_PREPARATION)) return '';
  const parts: string[] = [p.form];
  if (p.filter) parts.push('filtered');
  if (p.beatRateHz !== SEED_PAPER_PREPARATION.beatRateHz) parts.push(`${p.beatRateHz}hz`);
  return `.${parts.join('-')}`;
}
