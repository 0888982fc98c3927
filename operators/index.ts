/** The signal operators: pure RxJS operators over sample chunks, signal blocks and beats. */
export * from './types';
export { sanitizeSamples, type SanitizeOptions } from './sanitizeSamples';
export { resample } from './resample';
export { filterEcg } from './filterEcg';
export { detectQrs } from './detectQrs';
export { segmentBeats, type SegmentBeatsOptions } from './segmentBeats';
export { spectrogram } from './spectrogram';
export { batchByCountOrTime } from './batchByCountOrTime';
export { shuffleBuffer } from './shuffleBuffer';
