/**
 * The energy of a job that runs over several sessions (a training run killed and resumed, a benchmark
 * spread over days): the cumulative energy at each checkpoint, kept in one small JSON file beside the
 * checkpoints, so that a resumed run adds what the sessions before its checkpoint spent instead of
 * reporting only its own session. Energy spent after the last checkpoint of a killed session is lost
 * with that epoch, exactly as its wall-clock time is (the trainer's elapsed time is checkpointed too).
 *
 *   { "format": "ecgflow-energy-ledger", "version": 1,
 *     "checkpoints": { "epoch-0012": { "energyKwh": 0.41, "co2eqGrams": 197, "method": "measured-rapl",
 *                                      "estimated": false } } }
 */
import * as fs from 'node:fs';
import { EcgflowError } from '../errors';
import { writeFileAtomic } from '../util/atomicFile';

const FORMAT = 'ecgflow-energy-ledger';
const VERSION = 1;

/** Facility energy and its CO2-equivalent (what the run report shows), and how it was obtained. */
export interface EnergyTotal {
  energyKwh: number;
  co2eqGrams: number;
  method: string;
  /** True when any share of it is an estimate. */
  estimated: boolean;
}

export const NO_ENERGY: EnergyTotal = { energyKwh: 0, co2eqGrams: 0, method: '', estimated: false };

/** Two totals added; methods joined when they differ (a run resumed on another machine). */
export function addEnergy(a: EnergyTotal, b: EnergyTotal): EnergyTotal {
  const methods = [...new Set([a.method, b.method].flatMap((m) => m.split('+')).filter((m) => m !== ''))];
  return {
    energyKwh: a.energyKwh + b.energyKwh,
    co2eqGrams: a.co2eqGrams + b.co2eqGrams,
    method: methods.join('+'),
    estimated: a.estimated || b.estimated,
  };
}

export class EnergyLedgerError extends EcgflowError {
  constructor(message: string, file: string) {
    super('ENERGY_LEDGER', message, { source: file });
  }
}

interface LedgerFile {
  format: string;
  version: number;
  checkpoints: Record<string, EnergyTotal>;
}

export class EnergyLedger {
  constructor(readonly file: string) {}

  /** The cumulative energy recorded with checkpoint `name`, or undefined when there is none. */
  at(name: string): EnergyTotal | undefined {
    const entry = this.read().checkpoints[name];
    return entry === undefined ? undefined : { ...entry };
  }

  /** Record the cumulative energy at checkpoint `name` (written to a temporary file, then renamed). */
  record(name: string, total: EnergyTotal): void {
    if (!(Number.isFinite(total.energyKwh) && total.energyKwh >= 0))
      throw new EnergyLedgerError(
        `energy of ${name} must be a number >= 0, got ${total.energyKwh}`,
        this.file,
      );
    const ledger = this.read();
    const { energyKwh, co2eqGrams, method, estimated } = total;
    ledger.checkpoints[name] = { energyKwh, co2eqGrams, method, estimated };
    this.write(ledger);
  }

  /** Forget every entry (a fresh run in a directory that held another). */
  reset(): void {
    fs.rmSync(this.file, { force: true });
  }

  private read(): LedgerFile {
    if (!fs.existsSync(this.file)) return { format: FORMAT, version: VERSION, checkpoints: {} };
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new EnergyLedgerError(`not JSON: ${(err as Error).message}`, this.file);
    }
    const ledger = parsed as Partial<LedgerFile>;
    if (ledger.format !== FORMAT || ledger.version !== VERSION || typeof ledger.checkpoints !== 'object')
      throw new EnergyLedgerError(`not an energy ledger (format ${FORMAT} v${VERSION})`, this.file);
    return ledger as LedgerFile;
  }

  private write(ledger: LedgerFile): void {
    writeFileAtomic(this.file, `${JSON.stringify(ledger, null, 1)}\n`);
  }
}
