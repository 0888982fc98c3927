/**
 * Inference through a TensorFlow session: the folded ResNet written as a frozen graph (frozenGraph.ts),
 * loaded by the native binding as a SavedModel, so that TensorFlow's graph optimiser fuses each conv with
 * its bias, residual add and ReLU (why: frozenGraph.ts). Native backends only (tfjs-node, tfjs-node-gpu).
 *
 * The SavedModel is written to a private temporary directory, loaded, and the directory removed at once:
 * the session holds the graph in memory. Session threads follow TF_NUM_INTRAOP_THREADS /
 * TF_NUM_INTEROP_THREADS like the eager ops'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkedFeatures, type Inference } from './forward';
import {
  frozenResNetSavedModel,
  GRAPH_FEATURES,
  GRAPH_INPUT,
  GRAPH_OUTPUT,
  SAVED_MODEL_TAG,
  type FrozenResNet,
} from './frozenGraph';

interface ModelTensorInfo {
  name: string;
  shape: number[];
  dtype: 'float32';
  tfDtype: 'DT_FLOAT';
}

/** The part of tfjs-node's NodeJSKernelBackend that runs SavedModels (synchronous). */
interface SavedModelBackend {
  loadSavedModelMetaGraph(path: string, tags: string): number;
  runSavedModel(
    id: number,
    inputs: tf.Tensor[],
    infos: ModelTensorInfo[],
    outputOpNames: string[],
  ): tf.Tensor[];
  deleteSavedModel(id: number): void;
}

function savedModelBackend(): SavedModelBackend | undefined {
  const backend = tf.backend() as unknown as Partial<SavedModelBackend>;
  return typeof backend.loadSavedModelMetaGraph === 'function' &&
    typeof backend.runSavedModel === 'function' &&
    typeof backend.deleteSavedModel === 'function'
    ? (backend as SavedModelBackend)
    : undefined;
}

/** Whether the active backend can run the graph engine (a native TensorFlow backend). */
export function graphInferenceSupported(): boolean {
  return savedModelBackend() !== undefined;
}

export class GraphInference implements Inference {
  readonly engine = 'graph';
  readonly featureCount: number;
  private readonly backend: SavedModelBackend;
  private readonly inputShape: readonly [number, number, number];
  private id: number | undefined;

  constructor(net: FrozenResNet) {
    const backend = savedModelBackend();
    if (backend === undefined)
      throw new Error(
        `graph inference needs a native TensorFlow backend; the active one is ${tf.getBackend()}`,
      );
    this.backend = backend;
    this.featureCount = net.featureCount;
    this.inputShape = net.inputShape;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-graph-'));
    try {
      fs.writeFileSync(path.join(dir, 'saved_model.pb'), frozenResNetSavedModel(net));
      this.id = backend.loadSavedModelMetaGraph(dir, SAVED_MODEL_TAG);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  logits(x: tf.Tensor4D, features?: tf.Tensor2D): tf.Tensor2D {
    if (this.id === undefined) throw new Error('graph inference used after dispose()');
    const [batch, h, w, c] = x.shape;
    const [eh, ew, ec] = this.inputShape;
    if (h !== eh || w !== ew || c !== ec)
      throw new RangeError(`images must be [batch, ${eh}, ${ew}, ${ec}], got [${x.shape.join(', ')}]`);
    const info = (name: string, shape: number[]): ModelTensorInfo => ({
      name: `${name}:0`,
      shape,
      dtype: 'float32',
      tfDtype: 'DT_FLOAT',
    });
    const inputs: tf.Tensor[] = [x];
    const infos = [info(GRAPH_INPUT, x.shape)];
    if (this.featureCount > 0) {
      const f = checkedFeatures(this.featureCount, batch, features);
      inputs.push(f);
      infos.push(info(GRAPH_FEATURES, f.shape));
    }
    const [logits] = this.backend.runSavedModel(this.id, inputs, infos, [`${GRAPH_OUTPUT}:0`]);
    return logits as tf.Tensor2D;
  }

  dispose(): void {
    if (this.id === undefined) return;
    this.backend.deleteSavedModel(this.id);
    this.id = undefined;
  }
}
