/**
 * A synthetic ECG for detector and filter tests at any sampling rate: each beat is a sum of Gaussian
 * waves (P, Q, R, S, T, after McSharry et al.'s ECGSYN shapes) placed at seeded, slightly irregular RR
 * intervals, plus optional baseline wander and white noise. The true R-peak positions are returned.
 */
import { mulberry32 } from '../../src/dsp/random';

export interface SyntheticEcgOptions {
  sampleRateHz: number;
  seconds: number;
  meanRrSeconds?: number;
  /** Relative RR jitter (uniform +/-). */
  rrJitter?: number;
  /** Amplitude of a 0.25 Hz baseline wander (mV). */
  baselineWanderMv?: number;
  /** Standard deviation of white noise (mV). */
  noiseMv?: number;
  seed?: number;
}

// Wave: time offset from R (s), width (s), amplitude (mV).
const WAVES: readonly [number, number, number][] = [
  [-0.2, 0.025, 0.15], // P
  [-0.035, 0.01, -0.15], // Q
  [0, 0.012, 1.2], // R
  [0.035, 0.01, -0.3], // S
  [0.3, 0.045, 0.35], // T
];

export function syntheticEcg(options: SyntheticEcgOptions): { samples: Float64Array; rPeaks: number[] } {
  const fs = options.sampleRateHz;
  const n = Math.round(options.seconds * fs);
  const random = mulberry32(options.seed ?? 1);
  const samples = new Float64Array(n);
  const rPeaks: number[] = [];
  const meanRr = options.meanRrSeconds ?? 0.8;
  const jitter = options.rrJitter ?? 0.1;
  let t = 0.5;
  while (t < options.seconds - 0.5) {
    rPeaks.push(Math.round(t * fs));
    for (const [offset, width, amplitude] of WAVES) {
      const centre = (t + offset) * fs;
      const w = width * fs;
      const from = Math.max(0, Math.floor(centre - 5 * w));
      const to = Math.min(n - 1, Math.ceil(centre + 5 * w));
      for (let i = from; i <= to; i++) samples[i] += amplitude * Math.exp(-0.5 * ((i - centre) / w) ** 2);
    }
    t += meanRr * (1 + jitter * (2 * random() - 1));
  }
  const wander = options.baselineWanderMv ?? 0;
  const noise = options.noiseMv ?? 0;
  for (let i = 0; i < n; i++) {
    samples[i] += wander * Math.sin((2 * Math.PI * 0.25 * i) / fs);
    if (noise > 0) {
      // Box-Muller
      const u = Math.max(1e-12, random());
      const v = random();
      samples[i] += noise * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
  }
  return { samples, rPeaks };
}
