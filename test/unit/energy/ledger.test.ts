import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { addEnergy, EnergyLedger, EnergyLedgerError, NO_ENERGY } from '../../../src/energy/ledger';
import { scratchDir } from '../../helpers/scratch';

const rapl = { energyKwh: 0.5, co2eqGrams: 240, method: 'measured-rapl', estimated: false };
const estimate = {
  energyKwh: 0.25,
  co2eqGrams: 120,
  method: 'estimated-cpu-load+estimated-memory',
  estimated: true,
};

describe('energy ledger', () => {
  it('adds totals; methods are joined once each, estimated if any share is', () => {
    assert.deepEqual(addEnergy(NO_ENERGY, rapl), rapl);
    assert.deepEqual(addEnergy(rapl, rapl), { ...rapl, energyKwh: 1, co2eqGrams: 480 });
    assert.deepEqual(addEnergy(rapl, estimate), {
      energyKwh: 0.75,
      co2eqGrams: 360,
      method: 'measured-rapl+estimated-cpu-load+estimated-memory',
      estimated: true,
    });
  });

  it('records the cumulative energy per checkpoint in a file that survives the process; reset forgets', () => {
    const file = path.join(scratchDir('ecgflow-ledger-'), 'run', 'energy.json');
    const ledger = new EnergyLedger(file);
    assert.equal(ledger.at('epoch-0000'), undefined, 'no file yet');
    ledger.record('epoch-0000', rapl);
    ledger.record('epoch-0001', { ...rapl, energyKwh: 0.9, co2eqGrams: 432 });
    const again = new EnergyLedger(file);
    assert.deepEqual(again.at('epoch-0000'), rapl);
    assert.equal(again.at('epoch-0001')?.energyKwh, 0.9);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['energy.json'], 'no temporary file left behind');
    again.reset();
    assert.equal(new EnergyLedger(file).at('epoch-0000'), undefined);
  });

  it('refuses a file that is not a ledger, and an energy that is not a number >= 0, naming the file', () => {
    const file = path.join(scratchDir('ecgflow-ledger-'), 'energy.json');
    const ledger = new EnergyLedger(file);
    assert.throws(
      () => ledger.record('epoch-0000', { ...rapl, energyKwh: Number.NaN }),
      (err: unknown) => err instanceof EnergyLedgerError && err.message.includes(file),
    );
    fs.writeFileSync(file, '{"format":"something else"}');
    assert.throws(() => ledger.at('epoch-0000'), /not an energy ledger \(format ecgflow-energy-ledger v1\)/);
    fs.writeFileSync(file, '{not json');
    assert.throws(() => ledger.at('epoch-0000'), EnergyLedgerError);
  });
});
