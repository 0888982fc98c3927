/**
 * From beats to training examples: the STFT image of a beat's samples and its AAMI class index. Images
 * live in Float32Arrays (one per example while streaming; packed per batch; one growable slab for the
 * held-out sets), never in arrays of JS numbers.
 */
import { Stft, type StftConfig } from '../dsp/stft';
import type { BeatRrIntervals, BeatTemplateComparison } from '../schemas/types';
import { AAMI_CLASSES } from '../wfdb/labels';
import type { ImageBatch } from './adaptiveTrainer';
import { RR_RATIO_MAX, beatFeatures, featureCountOf, type BeatFeatureSet } from './beatFeatures';

export interface LabelledBeat {
  samples: ArrayLike<number>;
  aamiClass: string | null;
  /** RR intervals and template comparison (beats topic v2); null or absent for older beats. */
  rr?: BeatRrIntervals | null;
  morphology?: BeatTemplateComparison | null;
}

export interface Example {
  image: Float32Array;
  label: number;
  /** Scalar features beside the image (length = the encoder's featureCount; empty for none). */
  features: Float32Array;
}

export class ExampleEncoder {
  private readonly stft: Stft;
  readonly classes: readonly string[];
  readonly beatSamples: number;
  /** [height (frequency bins), width (frames), channels] of the images. */
  readonly imageShape: [number, number, number];
  readonly featureCount: number;

  constructor(
    beatSamples: number,
    /** The STFT settings (a worker thread builds the same transform from them). */
    readonly stftConfig: Partial<StftConfig> = {},
    classes: readonly string[] = AAMI_CLASSES,
    readonly featureSet: BeatFeatureSet = 'none',
    /** The model's cap of the RR ratios (src/trainer/beatFeatures.ts). */
    readonly rrRatioMax: number = RR_RATIO_MAX,
  ) {
    this.stft = new Stft(stftConfig);
    this.featureCount = featureCountOf(featureSet);
    this.classes = classes;
    this.beatSamples = beatSamples;
    const { bins, frames } = this.stft.shape(beatSamples);
    this.imageShape = [bins, frames, 1];
  }

  get imageSize(): number {
    return this.imageShape[0] * this.imageShape[1];
  }

  /** The class index of a label, or undefined for beats without a known class. */
  labelOf(aamiClass: string | null): number | undefined {
    if (aamiClass === null) return undefined;
    const k = this.classes.indexOf(aamiClass);
    return k < 0 ? undefined : k;
  }

  /**
   * The example of a beat, or undefined when its class is unknown (unlabelled beats do not train).
   * `image`: its spectrogram when already computed elsewhere (src/trainer/spectrogramWorker.ts).
   */
  encode(beat: LabelledBeat, image?: Float32Array): Example | undefined {
    const label = this.labelOf(beat.aamiClass);
    if (label === undefined) return undefined;
    if (beat.samples.length !== this.beatSamples) {
      throw new RangeError(`beat has ${beat.samples.length} samples, the model expects ${this.beatSamples}`);
    }
    if (image !== undefined && image.length !== this.imageSize)
      throw new RangeError(`image has ${image.length} values, the model expects ${this.imageSize}`);
    return {
      image: image ?? this.stft.compute(beat.samples),
      label,
      features: beatFeatures(
        this.featureSet,
        { rr: beat.rr ?? null, morphology: beat.morphology ?? null },
        this.rrRatioMax,
      ),
    };
  }
}

/** Pack examples into one batch (features too when the examples have any). */
export function packBatch(examples: readonly Example[], imageSize: number, featureCount = 0): ImageBatch {
  const images = new Float32Array(examples.length * imageSize);
  const labels = new Int32Array(examples.length);
  const features = featureCount > 0 ? new Float32Array(examples.length * featureCount) : undefined;
  examples.forEach((e, i) => {
    images.set(e.image, i * imageSize);
    labels[i] = e.label;
    features?.set(e.features, i * featureCount);
  });
  return { images, labels, count: examples.length, features };
}

/** A growable, typed store of examples (validation and test sets). */
export class ExampleSet {
  private imagesBuffer: Float32Array;
  private labelsBuffer: Int32Array;
  private featuresBuffer: Float32Array;
  private sourceBuffer: Int32Array;
  private positionBuffer: Float64Array;
  private readonly sourceIds = new Map<string, number>();
  private size = 0;

  constructor(
    readonly imageSize: number,
    readonly featureCount = 0,
    initialCapacity = 1024,
  ) {
    this.imagesBuffer = new Float32Array(initialCapacity * imageSize);
    this.labelsBuffer = new Int32Array(initialCapacity);
    this.featuresBuffer = new Float32Array(initialCapacity * featureCount);
    this.sourceBuffer = new Int32Array(initialCapacity);
    this.positionBuffer = new Float64Array(initialCapacity);
  }

  /**
   * Add an example; `source` (record, patient) tags it for per-source scores, `position` (its R-peak's
   * sample index in the source, -1 unknown) for per-beat listings.
   */
  add(example: Example, source = '', position = -1): void {
    if (example.features.length !== this.featureCount)
      throw new RangeError(
        `example has ${example.features.length} features, the set holds ${this.featureCount}`,
      );
    if (this.size === this.labelsBuffer.length) {
      const grow = <T extends Float32Array | Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.imagesBuffer = grow(this.imagesBuffer, (n) => new Float32Array(n));
      this.labelsBuffer = grow(this.labelsBuffer, (n) => new Int32Array(n));
      this.featuresBuffer = grow(this.featuresBuffer, (n) => new Float32Array(n));
      this.sourceBuffer = grow(this.sourceBuffer, (n) => new Int32Array(n));
      this.positionBuffer = grow(this.positionBuffer, (n) => new Float64Array(n));
    }
    let sourceId = this.sourceIds.get(source);
    if (sourceId === undefined) {
      sourceId = this.sourceIds.size;
      this.sourceIds.set(source, sourceId);
    }
    this.sourceBuffer[this.size] = sourceId;
    this.positionBuffer[this.size] = position;
    this.imagesBuffer.set(example.image, this.size * this.imageSize);
    this.featuresBuffer.set(example.features, this.size * this.featureCount);
    this.labelsBuffer[this.size++] = example.label;
  }

  /** Features of every example, row-major [count, featureCount] (empty when the set has none). */
  get features(): Float32Array {
    return this.featuresBuffer.subarray(0, this.size * this.featureCount);
  }

  get count(): number {
    return this.size;
  }

  get images(): Float32Array {
    return this.imagesBuffer.subarray(0, this.size * this.imageSize);
  }

  get labels(): Int32Array {
    return this.labelsBuffer.subarray(0, this.size);
  }

  /** The source tag of every example, as an index into `sourceNames`. */
  get sources(): Int32Array {
    return this.sourceBuffer.subarray(0, this.size);
  }

  /** The position tag of every example (R-peak sample index in its source; -1 when unknown). */
  get positions(): Float64Array {
    return this.positionBuffer.subarray(0, this.size);
  }

  /** Source tags in order of first appearance ('' for untagged examples). */
  get sourceNames(): string[] {
    return [...this.sourceIds.keys()];
  }

  /** Examples per class index. */
  classCounts(numClasses: number): number[] {
    const counts = new Array<number>(numClasses).fill(0);
    for (const l of this.labels) counts[l]++;
    return counts;
  }
}
