/**
 * From beats to training examples: the STFT image of a beat's samples and its AAMI class index. Images
 * live in Float32Arrays (one per example while streaming; packed per batch; one growable slab for the
 * held-out sets), never in arrays of JS numbers.
 */
import { Stft, type StftConfig } from '../dsp/stft';
import { AAMI_CLASSES } from '../wfdb/labels';
import type { ImageBatch } from './adaptiveTrainer';

export interface LabelledBeat {
  samples: ArrayLike<number>;
  aamiClass: string | null;
}

export interface Example {
  image: Float32Array;
  label: number;
}

export class ExampleEncoder {
  private readonly stft: Stft;
  readonly classes: readonly string[];
  readonly beatSamples: number;
  /** [height (frequency bins), width (frames), channels] of the images. */
  readonly imageShape: [number, number, number];

  constructor(
    beatSamples: number,
    stft: Partial<StftConfig> = {},
    classes: readonly string[] = AAMI_CLASSES,
  ) {
    this.stft = new Stft(stft);
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

  /** The example of a beat, or undefined when its class is unknown (unlabelled beats do not train). */
  encode(beat: LabelledBeat): Example | undefined {
    const label = this.labelOf(beat.aamiClass);
    if (label === undefined) return undefined;
    if (beat.samples.length !== this.beatSamples) {
      throw new RangeError(`beat has ${beat.samples.length} samples, the model expects ${this.beatSamples}`);
    }
    return { image: this.stft.compute(beat.samples), label };
  }
}

/** Pack examples into one batch. */
export function packBatch(examples: readonly Example[], imageSize: number): ImageBatch {
  const images = new Float32Array(examples.length * imageSize);
  const labels = new Int32Array(examples.length);
  examples.forEach((e, i) => {
    images.set(e.image, i * imageSize);
    labels[i] = e.label;
  });
  return { images, labels, count: examples.length };
}

/** A growable, typed store of examples (validation and test sets). */
export class ExampleSet {
  private imagesBuffer: Float32Array;
  private labelsBuffer: Int32Array;
  private size = 0;

  constructor(
    readonly imageSize: number,
    initialCapacity = 1024,
  ) {
    this.imagesBuffer = new Float32Array(initialCapacity * imageSize);
    this.labelsBuffer = new Int32Array(initialCapacity);
  }

  add(example: Example): void {
    if (this.size === this.labelsBuffer.length) {
      const images = new Float32Array(this.imagesBuffer.length * 2);
      images.set(this.imagesBuffer);
      const labels = new Int32Array(this.labelsBuffer.length * 2);
      labels.set(this.labelsBuffer);
      this.imagesBuffer = images;
      this.labelsBuffer = labels;
    }
    this.imagesBuffer.set(example.image, this.size * this.imageSize);
    this.labelsBuffer[this.size++] = example.label;
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

  /** Examples per class index. */
  classCounts(numClasses: number): number[] {
    const counts = new Array<number>(numClasses).fill(0);
    for (const l of this.labels) counts[l]++;
    return counts;
  }
}
