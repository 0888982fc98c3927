/**
 * TypeScript shapes of the current (v1) Avro schemas in `schemas/`. The .avsc files are the contract;
 * `test/unit/schemas` checks that these shapes and the files agree by round-tripping examples.
 */

export interface ReferenceAnnotation {
  sampleIndex: number;
  symbol: string;
  aux: string | null;
}

export interface SampleChunkV1 {
  sourceId: string;
  lead: string;
  sampleRateHz: number;
  firstSampleIndex: number;
  acquisitionTimeMs: number;
  sequenceNumber: number;
  gainAduPerMv: number;
  baselineAdu: number;
  samples: number[];
  annotations: ReferenceAnnotation[];
  endOfStream: boolean;
}

export type SegmentationSource = 'ANNOTATION' | 'DETECTOR';

export interface BeatV1 {
  sourceId: string;
  rPeakSampleIndex: number;
  rPeakTimeMs: number;
  sourceSampleRateHz: number;
  beatSampleRateHz: number;
  samples: number[];
  segmentation: SegmentationSource;
  symbol: string | null;
  aamiClass: string | null;
  split: string | null;
  sequenceNumber: number;
  /** v2: RR intervals around the beat; null from v1 writers. */
  rr: BeatRrIntervals | null;
  /** v2: shape compared with the source's dominant-beat template; null from v1 writers. */
  morphology: BeatTemplateComparison | null;
}

export interface BeatTemplateComparison {
  templateCorrelation: number;
  relativeRmsDifference: number;
  /** v3: the QRS span compared on its own; null from v2 writers. */
  qrsCorrelation: number | null;
  /** v3: QRS width proxies (s) of the beat and of the dominant template; null when flat or from v2 writers. */
  qrsWidthSeconds: number | null;
  templateQrsWidthSeconds: number | null;
  /** v4: the P-wave span compared on its own; null when the beat does not hold it or from v3 writers. */
  pWaveCorrelation: number | null;
  pWaveRelativeRmsDifference: number | null;
}

export interface BeatRrIntervals {
  preSeconds: number | null;
  postSeconds: number | null;
  localMeanSeconds: number;
  longMeanSeconds: number;
}

export interface PredictionV1 {
  sourceId: string;
  dedupKey: string;
  rPeakSampleIndex: number;
  rPeakTimeMs: number;
  predictedClass: string;
  classes: string[];
  probabilities: number[];
  modelVersion: string;
  publishedTimeMs: number;
  latencySeconds: number;
  /** v2: R-peak acquisition to the acquisition of the sample that completed the beat; null from v1 writers. */
  lookAheadSeconds: number | null;
}

export type AlertKind = 'VENTRICULAR_TACHYCARDIA' | 'ASYSTOLE' | 'UNKNOWN';

export interface AlertBeat {
  rPeakSampleIndex: number;
  rPeakTimeMs: number;
  predictedClass: string | null;
}

export interface AlertV1 {
  alertId: string;
  sourceId: string;
  kind: AlertKind;
  onsetSampleIndex: number;
  onsetTimeMs: number;
  detectedTimeMs: number;
  heartRateBpm: number | null;
  pauseSeconds: number | null;
  beats: AlertBeat[];
  modelVersion: string | null;
  raisedTimeMs: number;
}

export interface EpochSummary {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  validationLoss: number | null;
  validationAccuracy: number | null;
  learningRate: number;
  depth: number;
  parameters: number;
  seconds: number;
  backend: string;
}

export interface LipschitzEstimate {
  epoch: number;
  perBlock: number[];
  mean: number;
  smoothed: number | null;
  ratioToReference: number | null;
  seconds: number;
}

export interface Growth {
  epoch: number;
  trigger: 'THRESHOLD' | 'FORCED';
  smoothedLipschitz: number;
  ratio: number;
  depthBefore: number;
  depthAfter: number;
  parametersBefore: number;
  parametersAfter: number;
}

export interface Checkpoint {
  epoch: number;
  path: string;
  modelVersion: string;
  depth: number;
}

/** The union member is wrapped by its full name, as Avro's JSON encoding does. */
export type TrainingEventBody =
  | { 'ecgflow.EpochSummary': EpochSummary }
  | { 'ecgflow.LipschitzEstimate': LipschitzEstimate }
  | { 'ecgflow.Growth': Growth }
  | { 'ecgflow.Checkpoint': Checkpoint };

export interface TrainingEventV1 {
  runId: string;
  timeMs: number;
  event: TrainingEventBody;
}

export interface DeadLetterV1 {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  stage: string;
  errorCode: string;
  reason: string;
  key: Buffer | null;
  value: Buffer | null;
  timeMs: number;
}
