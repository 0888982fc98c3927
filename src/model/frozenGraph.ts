/**
 * A folded ResNet (InferenceSnapshot's weights) written as a frozen TensorFlow graph inside a SavedModel:
 * every weight a constant, inputs `x` [batch, H, W, C] and, for a model with scalar features,
 * `features` [batch, F]; output `logits` [batch, K].
 *
 * Why: tfjs runs each op eagerly, so each conv + bias + ReLU is three TensorFlow ops and each residual
 * add + ReLU two more, every one a pass over the activations (about 30 % of inference time at these small
 * convolutions). A TensorFlow session optimises a whole graph first: its remapper fuses Conv2D + BiasAdd
 * (+ residual Add) + Relu into one oneDNN convolution, which the eager binding cannot request (it cannot
 * pass `_FusedConv2D` its list-of-strings attribute). Same arithmetic, fewer passes.
 *
 * Pure: bytes in, bytes out, no TensorFlow; graphInference.ts loads the result.
 */
import {
  bytesField,
  encodeMessage,
  intField,
  mapEntryField,
  messageField,
  packedIntField,
  stringField,
  type Field,
} from './protobuf';

/** A convolution with its batch norm (and step size) folded in, HWIO filter. */
export interface FrozenConv {
  filter: Float32Array;
  /** [kernelH, kernelW, inChannels, outChannels]. */
  filterShape: readonly [number, number, number, number];
  bias: Float32Array;
  stride: 1 | 2;
}

export interface FrozenDense {
  kernel: Float32Array;
  /** [inputs, outputs]. */
  kernelShape: readonly [number, number];
  bias: Float32Array;
}

export interface FrozenResNet {
  inputShape: readonly [number, number, number];
  stem: FrozenConv;
  blocks: readonly { conv1: FrozenConv; conv2: FrozenConv; shortcut?: FrozenConv }[];
  /** Head layers in order; ReLU after all but the last. */
  head: readonly FrozenDense[];
  featureCount: number;
}

export const GRAPH_INPUT = 'x';
export const GRAPH_FEATURES = 'features';
export const GRAPH_OUTPUT = 'logits';
export const SAVED_MODEL_TAG = 'serve';

// TensorFlow DataType enum values (types.proto).
const DT_FLOAT = 1;
const DT_INT32 = 3;
// GraphDef producer version, as TensorFlow 2.x writes it; every op here has had its current form since long
// before, so no backward-compatibility rewriting applies.
const GRAPH_PRODUCER = 1087;

// Field numbers from tensorflow/core/framework/*.proto and protobuf/{meta_graph,saved_model}.proto.
const F = {
  savedModel: { schemaVersion: 1, metaGraphs: 2 },
  metaGraph: { metaInfo: 1, graphDef: 2, signatureDef: 5 },
  metaInfo: { tags: 4 },
  graph: { node: 1, versions: 4 },
  versions: { producer: 1 },
  node: { name: 1, op: 2, input: 3, attr: 5 },
  attr: { list: 1, s: 2, i: 3, b: 5, type: 6, shape: 7, tensor: 8 },
  list: { i: 3 },
  shape: { dim: 2 },
  dim: { size: 1 },
  tensor: { dtype: 1, shape: 2, content: 4 },
  signature: { inputs: 1, outputs: 2, methodName: 3 },
  tensorInfo: { name: 1, dtype: 2, shape: 3 },
} as const;

type Attr = Field[];

const attr = {
  type: (t: number): Attr => [intField(F.attr.type, t)],
  string: (s: string): Attr => [stringField(F.attr.s, s)],
  int: (i: number): Attr => [intField(F.attr.i, i)],
  bool: (b: boolean): Attr => [intField(F.attr.b, b)],
  ints: (xs: readonly number[]): Attr => [messageField(F.attr.list, [packedIntField(F.list.i, xs)])],
  shape: (dims: readonly number[]): Attr => [messageField(F.attr.shape, shapeProto(dims))],
  tensor: (t: Field[]): Attr => [messageField(F.attr.tensor, t)],
};

function shapeProto(dims: readonly number[]): Field[] {
  return dims.map((d) => messageField(F.shape.dim, [intField(F.dim.size, d)]));
}

function tensorProto(dtype: number, shape: readonly number[], data: Float32Array | Int32Array): Field[] {
  // tensor_content is the values' bytes in the host's (little-endian) order, as TensorFlow reads them.
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return [
    intField(F.tensor.dtype, dtype),
    messageField(F.tensor.shape, shapeProto(shape)),
    bytesField(F.tensor.content, bytes),
  ];
}

/** Builds the GraphDef's nodes in order; returns each node's name for wiring. */
class GraphBuilder {
  readonly nodes: Field[] = [];
  private count = 0;

  node(name: string, op: string, inputs: readonly string[], attrs: Record<string, Attr>): string {
    const fields: Field[] = [stringField(F.node.name, name), stringField(F.node.op, op)];
    for (const input of inputs) fields.push(stringField(F.node.input, input));
    for (const [key, value] of Object.entries(attrs)) fields.push(mapEntryField(F.node.attr, key, value));
    this.nodes.push(messageField(F.graph.node, fields));
    return name;
  }

  constant(name: string, shape: readonly number[], data: Float32Array | Int32Array): string {
    const dtype = data instanceof Int32Array ? DT_INT32 : DT_FLOAT;
    return this.node(name, 'Const', [], {
      dtype: attr.type(dtype),
      value: attr.tensor(tensorProto(dtype, shape, data)),
    });
  }

  /** conv -> bias (-> + residual) (-> ReLU): the pattern the remapper fuses into one op. */
  conv(input: string, c: FrozenConv, relu: boolean, residual?: string): string {
    const id = `conv${this.count++}`;
    const filter = this.constant(`${id}/filter`, c.filterShape, c.filter);
    const bias = this.constant(`${id}/bias`, [c.bias.length], c.bias);
    let out = this.node(`${id}/conv2d`, 'Conv2D', [input, filter], {
      T: attr.type(DT_FLOAT),
      strides: attr.ints([1, c.stride, c.stride, 1]),
      // TensorFlow's SAME padding is tfjs's 'same' (the eager path), stride 2 included.
      padding: attr.string('SAME'),
      data_format: attr.string('NHWC'),
      dilations: attr.ints([1, 1, 1, 1]),
      use_cudnn_on_gpu: attr.bool(true),
    });
    out = this.node(`${id}/bias_add`, 'BiasAdd', [out, bias], {
      T: attr.type(DT_FLOAT),
      data_format: attr.string('NHWC'),
    });
    if (residual !== undefined)
      out = this.node(`${id}/add`, 'AddV2', [out, residual], { T: attr.type(DT_FLOAT) });
    if (relu) out = this.node(`${id}/relu`, 'Relu', [out], { T: attr.type(DT_FLOAT) });
    return out;
  }

  placeholder(name: string, shape: readonly number[]): string {
    return this.node(name, 'Placeholder', [], { dtype: attr.type(DT_FLOAT), shape: attr.shape(shape) });
  }
}

function checkConv(c: FrozenConv, where: string): void {
  const [kh, kw, cin, cout] = c.filterShape;
  if (c.filter.length !== kh * kw * cin * cout)
    throw new RangeError(
      `${where}: filter has ${c.filter.length} values, shape [${c.filterShape.join(', ')}] needs ${kh * kw * cin * cout}`,
    );
  if (c.bias.length !== cout)
    throw new RangeError(`${where}: bias has ${c.bias.length} values, ${cout} output channels`);
}

/** The SavedModel (saved_model.pb bytes) of a folded ResNet; no variables directory is needed. */
export function frozenResNetSavedModel(net: FrozenResNet): Uint8Array {
  if (net.head.length === 0) throw new RangeError('the head has no layers');
  const g = new GraphBuilder();
  const [h, w, c] = net.inputShape;
  let out = g.placeholder(GRAPH_INPUT, [-1, h, w, c]);
  checkConv(net.stem, 'stem');
  out = g.conv(out, net.stem, true);
  net.blocks.forEach((b, i) => {
    checkConv(b.conv1, `block ${i} conv1`);
    checkConv(b.conv2, `block ${i} conv2`);
    if (b.shortcut !== undefined) checkConv(b.shortcut, `block ${i} shortcut`);
    const a = g.conv(out, b.conv1, true);
    const shortcut = b.shortcut === undefined ? out : g.conv(out, b.shortcut, false);
    out = g.conv(a, b.conv2, true, shortcut);
  });
  let x = g.node('pool', 'Mean', [out, g.constant('pool/axes', [2], Int32Array.from([1, 2]))], {
    T: attr.type(DT_FLOAT),
    Tidx: attr.type(DT_INT32),
    keep_dims: attr.bool(false),
  });
  if (net.featureCount > 0) {
    const features = g.placeholder(GRAPH_FEATURES, [-1, net.featureCount]);
    x = g.node(
      'head_input',
      'ConcatV2',
      [x, features, g.constant('head_input/axis', [], Int32Array.from([1]))],
      {
        T: attr.type(DT_FLOAT),
        N: attr.int(2),
        Tidx: attr.type(DT_INT32),
      },
    );
  }
  net.head.forEach((layer, i) => {
    const kernel = g.constant(`head${i}/kernel`, layer.kernelShape, layer.kernel);
    const bias = g.constant(`head${i}/bias`, [layer.bias.length], layer.bias);
    x = g.node(`head${i}/matmul`, 'MatMul', [x, kernel], {
      T: attr.type(DT_FLOAT),
      transpose_a: attr.bool(false),
      transpose_b: attr.bool(false),
    });
    x = g.node(`head${i}/bias_add`, 'BiasAdd', [x, bias], {
      T: attr.type(DT_FLOAT),
      data_format: attr.string('NHWC'),
    });
    if (i < net.head.length - 1) x = g.node(`head${i}/relu`, 'Relu', [x], { T: attr.type(DT_FLOAT) });
  });
  const classes = net.head[net.head.length - 1].kernelShape[1];
  g.node(GRAPH_OUTPUT, 'Identity', [x], { T: attr.type(DT_FLOAT) });

  const tensorInfo = (name: string, dims: readonly number[]): Field[] => [
    stringField(F.tensorInfo.name, `${name}:0`),
    intField(F.tensorInfo.dtype, DT_FLOAT),
    messageField(F.tensorInfo.shape, shapeProto(dims)),
  ];
  const signature: Field[] = [
    mapEntryField(F.signature.inputs, GRAPH_INPUT, tensorInfo(GRAPH_INPUT, [-1, h, w, c])),
  ];
  if (net.featureCount > 0)
    signature.push(
      mapEntryField(F.signature.inputs, GRAPH_FEATURES, tensorInfo(GRAPH_FEATURES, [-1, net.featureCount])),
    );
  signature.push(
    mapEntryField(F.signature.outputs, GRAPH_OUTPUT, tensorInfo(GRAPH_OUTPUT, [-1, classes])),
    stringField(F.signature.methodName, 'tensorflow/serving/predict'),
  );
  const graphDef: Field[] = [
    ...g.nodes,
    messageField(F.graph.versions, [intField(F.versions.producer, GRAPH_PRODUCER)]),
  ];
  const metaGraph: Field[] = [
    messageField(F.metaGraph.metaInfo, [stringField(F.metaInfo.tags, SAVED_MODEL_TAG)]),
    messageField(F.metaGraph.graphDef, graphDef),
    mapEntryField(F.metaGraph.signatureDef, 'serving_default', signature),
  ];
  return encodeMessage([
    intField(F.savedModel.schemaVersion, 1),
    messageField(F.savedModel.metaGraphs, metaGraph),
  ]);
}
