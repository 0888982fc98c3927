/** Counts of beats per AAMI class and per split, as `beats build` reports them. */
import { AAMI_CLASSES } from '../wfdb/labels';

export type ClassCounts = Record<string, number>;

export interface BeatTallySummary {
  beats: number;
  byClass: ClassCounts;
  bySplit: Record<string, { beats: number; byClass: ClassCounts }>;
  /** Beats the protocol leaves out (inter: records outside DS1 and DS2). */
  excluded: number;
}

function emptyClasses(): ClassCounts {
  const c: ClassCounts = {};
  for (const k of AAMI_CLASSES) c[k] = 0;
  return c;
}

export class BeatTally {
  private beats = 0;
  private excluded = 0;
  private readonly byClass = emptyClasses();
  private readonly bySplit = new Map<string, { beats: number; byClass: ClassCounts }>();

  /** Count a beat; `split` undefined = excluded by the protocol. Class null = unlabelled/unmapped. */
  add(aamiClass: string | null, split: string | null | undefined): void {
    if (split === undefined) {
      this.excluded++;
      return;
    }
    const cls = aamiClass ?? 'unmapped';
    this.beats++;
    this.byClass[cls] = (this.byClass[cls] ?? 0) + 1;
    const key = split ?? 'none';
    let s = this.bySplit.get(key);
    if (s === undefined) {
      s = { beats: 0, byClass: emptyClasses() };
      this.bySplit.set(key, s);
    }
    s.beats++;
    s.byClass[cls] = (s.byClass[cls] ?? 0) + 1;
  }

  get total(): number {
    return this.beats;
  }

  summary(): BeatTallySummary {
    const order = ['train', 'validation', 'test', 'none'];
    const bySplit: BeatTallySummary['bySplit'] = {};
    for (const k of [...this.bySplit.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b))) {
      const s = this.bySplit.get(k) as { beats: number; byClass: ClassCounts };
      bySplit[k] = { beats: s.beats, byClass: { ...s.byClass } };
    }
    return { beats: this.beats, byClass: { ...this.byClass }, bySplit, excluded: this.excluded };
  }
}
