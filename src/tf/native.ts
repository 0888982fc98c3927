/**
 * Direct access to TensorFlow ops through tfjs-node's binding, for the few places where tfjs composes a
 * kernel or a gradient from many small ops although TensorFlow has a single fused one (batch norm in
 * training mode and its gradient, the ReLU gradient). Only meaningful while the `tensorflow` backend is
 * active; callers fall back to portable tfjs ops otherwise.
 */
import * as tf from '@tensorflow/tfjs';

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

interface Binding {
  TF_FLOAT: number;
  TF_ATTR_STRING: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_TYPE: number;
}

/** The part of tfjs-node's NodeJSKernelBackend used here. */
export interface NativeKernelBackend {
  binding: Binding;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[];
}

/** The active backend when it is one of TensorFlow's (tfjs-node or tfjs-node-gpu), else undefined. */
export function activeNativeBackend(): NativeKernelBackend | undefined {
  if (tf.getBackend() !== 'tensorflow') return undefined;
  const backend = tf.backend() as unknown as Partial<NativeKernelBackend>;
  return typeof backend.executeMultipleOutputs === 'function' && backend.binding !== undefined
    ? (backend as NativeKernelBackend)
    : undefined;
}

/** Attribute helpers: `T`-style type attributes are always float32 here. */
export const attr = {
  float32Type: (b: NativeKernelBackend, name: string): OpAttr => ({
    name,
    type: b.binding.TF_ATTR_TYPE,
    value: b.binding.TF_FLOAT,
  }),
  float: (b: NativeKernelBackend, name: string, value: number): OpAttr => ({
    name,
    type: b.binding.TF_ATTR_FLOAT,
    value,
  }),
  bool: (b: NativeKernelBackend, name: string, value: boolean): OpAttr => ({
    name,
    type: b.binding.TF_ATTR_BOOL,
    value,
  }),
  string: (b: NativeKernelBackend, name: string, value: string): OpAttr => ({
    name,
    type: b.binding.TF_ATTR_STRING,
    value,
  }),
};

/** Run one TensorFlow op eagerly; its outputs are ordinary tfjs tensors (tracked by tidy, not by the tape). */
export function runOp(
  b: NativeKernelBackend,
  name: string,
  attrs: OpAttr[],
  inputs: tf.Tensor[],
  numOutputs: number,
): tf.Tensor[] {
  return b.executeMultipleOutputs(name, attrs, inputs, numOutputs);
}
