/**
 * What serve and evaluate classify with: one saved model or an ensemble of them (ensemble.ts), loaded,
 * BN-folded and frozen into an inference engine (inference.ts), with what the caller must feed it.
 */
import type { BeatPreparation } from '../beats/preparation';
import { readDecision, type Decision } from './decision';
import { EnsembleInference, isEnsembleDir, readEnsemble } from './ensemble';
import type { Inference } from './forward';
import { createInference, type InferenceEngine } from './inference';
import { loadResNet } from './io';

export interface Classifier {
  inference: Inference;
  inputShape: [number, number, number];
  numClasses: number;
  featureCount: number;
  rrRatioMax: number;
  beats: BeatPreparation;
  /** Depth of each member (one entry for a single model). */
  depths: number[];
  /** Parameters of all members together. */
  parameters: number;
  /** What turns probabilities into a class beyond the arg-max (decision.ts), if the directory has one. */
  decision: Decision | undefined;
}

/** "ResNet-26" or, for an ensemble, "ensemble of 3: ResNet-26, ResNet-26, ResNet-50". */
export function describeClassifier(depths: readonly number[]): string {
  const names = depths.map((d) => `ResNet-${d}`);
  return names.length === 1 ? names[0] : `ensemble of ${names.length}: ${names.join(', ')}`;
}

/** Load the model (or ensemble) in `dir`; the variables are released once frozen. Dispose `inference`. */
export function loadClassifier(dir: string, engine?: InferenceEngine): Classifier {
  const dirs = isEnsembleDir(dir) ? readEnsemble(dir).memberDirs : [dir];
  const decision = readDecision(dir);
  const loaded: { inference: Inference; depth: number; parameters: number }[] = [];
  let shape: Omit<Classifier, 'inference' | 'depths' | 'parameters' | 'decision'> | undefined;
  try {
    for (const d of dirs) {
      const model = loadResNet(d);
      try {
        shape ??= {
          inputShape: [...model.inputShape] as [number, number, number],
          numClasses: model.numClasses,
          featureCount: model.featureCount,
          rrRatioMax: model.rrRatioMax,
          beats: { ...model.beats },
        };
        loaded.push({
          inference: createInference(model, engine),
          depth: model.depth,
          parameters: model.paramCount(),
        });
      } finally {
        model.dispose();
      }
    }
  } catch (err) {
    for (const l of loaded) l.inference.dispose();
    throw err;
  }
  return {
    ...(shape as NonNullable<typeof shape>),
    inference:
      loaded.length === 1 ? loaded[0].inference : new EnsembleInference(loaded.map((l) => l.inference)),
    depths: loaded.map((l) => l.depth),
    parameters: loaded.reduce((n, l) => n + l.parameters, 0),
    decision,
  };
}
