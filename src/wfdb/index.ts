/**
 * WFDB (PhysioNet WaveForm DataBase) reader: headers, signals in formats 212 and 16, MIT-format
 * annotations, and beat labels with their AAMI classes.
 */
export * from './header';
export * from './signal';
export * from './annotations';
export * from './labels';
export * from './record';
