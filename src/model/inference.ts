/**
 * Which inference engine classifies beats (serve, evaluate, the trainer's validation and test passes).
 * `graph` (native backends) runs the folded model as one TensorFlow graph, whose optimiser fuses each
 * conv with its bias, residual add and ReLU: the same logits to float rounding, in about 0.6 of the CPU
 * time per beat on the 2-core VM (docs/benchmarks.md). `eager` runs tfjs ops one by one and works on every
 * backend. `auto` (the default) takes graph where the backend can run it, else eager.
 * Setting: ECGFLOW_INFERENCE=auto|graph|eager.
 */
import { ConfigError } from '../errors';
import { InferenceSnapshot, type Inference } from './forward';
import { GraphInference, graphInferenceSupported } from './graphInference';
import type { ResNet } from './resnet';

export const INFERENCE_ENGINES = ['auto', 'graph', 'eager'] as const;
export type InferenceEngine = (typeof INFERENCE_ENGINES)[number];

export function resolveInferenceEngine(env: NodeJS.ProcessEnv = process.env): InferenceEngine {
  const raw = (env.ECGFLOW_INFERENCE ?? 'auto').trim().toLowerCase();
  const value = raw === '' ? 'auto' : raw;
  if (!(INFERENCE_ENGINES as readonly string[]).includes(value))
    throw new ConfigError(
      `ECGFLOW_INFERENCE "${raw}" is not one of ${INFERENCE_ENGINES.join(', ')}`,
      'ECGFLOW_INFERENCE',
    );
  return value as InferenceEngine;
}

/**
 * A frozen, BN-folded copy of `model` that classifies; independent of the model's variables afterwards
 * (dispose the model whenever). Dispose the result when done. Under `auto`, a graph that TensorFlow
 * refuses to load falls back to eager with a warning (serving goes on); under `graph` it throws.
 */
export function createInference(
  model: ResNet,
  engine: InferenceEngine = resolveInferenceEngine(),
  warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): Inference {
  const snapshot = new InferenceSnapshot(model);
  if (engine === 'eager' || (engine === 'auto' && !graphInferenceSupported())) return snapshot;
  if (!graphInferenceSupported()) {
    snapshot.dispose();
    throw new ConfigError(
      'ECGFLOW_INFERENCE=graph needs a native TensorFlow backend (tfjs-node); this process runs pure JavaScript',
      'ECGFLOW_INFERENCE',
    );
  }
  try {
    const graph = new GraphInference(snapshot.frozen(model.inputShape));
    // The graph holds its own constants; the eager copy was only the source of the folded weights.
    snapshot.dispose();
    return graph;
  } catch (err) {
    if (engine === 'graph') {
      snapshot.dispose();
      throw err;
    }
    warn(`graph inference unavailable (${(err as Error).message}); classifying with eager tfjs ops`);
    return snapshot;
  }
}
