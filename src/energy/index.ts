/** Energy and CO2 accounting (the Carbontracker method of the seed paper); see docs/observability.md. */
export * from './settings';
export * from './source';
export * from './rapl';
export * from './nvidia';
export * from './estimate';
export * from './tracker';
