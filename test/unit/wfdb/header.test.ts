import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsupportedFormatError, WfdbFormatError } from '../../../src/errors';
import { parseHeader } from '../../../src/wfdb/header';
import { readHeader } from '../../../src/wfdb/record';
import { requireDataDir } from './fixtures';

describe('parseHeader', () => {
  it('reads an MIT-BIH header (CRLF, comments) from the data directory', async () => {
    const header = await readHeader(requireDataDir(), '100');
    assert.equal(header.recordName, '100');
    assert.equal(header.sampleRateHz, 360);
    assert.equal(header.frameCount, 650000);
    assert.equal(header.signals.length, 2);
    const [mlii, v5] = header.signals;
    assert.deepEqual(
      { ...mlii },
      {
        fileName: '100.dat',
        format: 212,
        samplesPerFrame: 1,
        skew: 0,
        byteOffset: 0,
        adcGain: 200,
        adcGainIsDefault: false,
        baseline: 1024,
        units: 'mV',
        adcResolution: 11,
        adcZero: 1024,
        initialValue: 995,
        checksum: -22131,
        blockSize: 0,
        description: 'MLII',
        line: 2,
      },
    );
    assert.equal(v5.description, 'V5');
    assert.equal(v5.checksum, 20052);
    assert.deepEqual(header.comments, ['69 M 1085 1629 x1', 'Aldomet, Inderal']);
  });

  it('applies WFDB defaults and reads every optional field', () => {
    const text = [
      '# leading comment',
      'rec1 3 250/1000(42) 5000 12:30:05.250 24/12/2001',
      'rec1.dat 16x2:0+512 0 12 0 7 100 0 ECG lead I',
      'rec1.dat 16x2:0+512 100(-3)/uV',
      'other.dat 212',
      '',
    ].join('\n');
    const h = parseHeader(text, 'rec1.hea', 'rec1');
    assert.equal(h.sampleRateHz, 250);
    assert.equal(h.counterFrequencyHz, 1000);
    assert.equal(h.baseCounter, 42);
    assert.equal(h.frameCount, 5000);
    assert.equal(h.baseTime, '12:30:05.250');
    assert.equal(h.baseDate, '24/12/2001');
    const [a, b, c] = h.signals;
    assert.equal(a.samplesPerFrame, 2);
    assert.equal(a.byteOffset, 512);
    assert.equal(a.adcGain, 200, 'gain 0 means 200');
    assert.equal(a.adcGainIsDefault, true);
    assert.equal(a.baseline, 0, 'baseline defaults to adczero');
    assert.equal(a.units, 'mV');
    assert.equal(a.initialValue, 7);
    assert.equal(a.checksum, 100);
    assert.equal(a.description, 'ECG lead I', 'the description keeps its spaces');
    assert.equal(b.adcGain, 100);
    assert.equal(b.baseline, -3);
    assert.equal(b.units, 'uV');
    assert.equal(b.checksum, undefined, 'no checksum given: nothing to check');
    assert.equal(b.description, 'record rec1, signal 1');
    assert.equal(c.format, 212);
    assert.equal(c.adcGain, 200);
    assert.equal(c.adcGainIsDefault, true);
    assert.equal(c.adcResolution, 12, 'adcres defaults to the format width');
    assert.equal(c.initialValue, 0, 'initval defaults to adczero');
  });

  it('treats nsamp 0 as unknown and a missing fs as 250 Hz', () => {
    assert.equal(parseHeader('r 1 360 0\nr.dat 16\n', 'r.hea').frameCount, undefined);
    assert.equal(parseHeader('r 0\n', 'r.hea').sampleRateHz, 250);
  });

  it('names the file, line and field of a bad value', () => {
    const text =
      'r 2 360 100\r\nr.dat 212 200 11 1024 995 -22131 0 MLII\r\nr.dat 212 2x0 11 1024 1011 20052 0 V5\r\n';
    assert.throws(
      () => parseHeader(text, 'r.hea'),
      (err: unknown) => {
        assert.ok(err instanceof WfdbFormatError);
        assert.equal(err.location.source, 'r.hea');
        assert.equal(err.location.line, 3);
        assert.equal(err.location.field, 'gain');
        assert.match(
          err.message,
          /r\.hea, line 3, field gain: expected gain\[\(baseline\)\]\[\/units\], found "2x0"/,
        );
        return true;
      },
    );
    assert.throws(() => parseHeader('r 1 360 100\nr.dat 212 200 11 zero\n', 'r.hea'), {
      name: 'WfdbFormatError',
      message: /line 2, field ADC zero: expected an integer, found "zero"/,
    });
    assert.throws(() => parseHeader('r 2 abc\n', 'r.hea'), { message: /line 1, field sampling frequency/ });
    assert.throws(() => parseHeader('r 2 360 -5\n', 'r.hea'), { message: /field number of samples/ });
    assert.throws(() => parseHeader('r 2 360 100 12:00:00 2001-12-24\n', 'r.hea'), {
      message: /field base date/,
    });
  });

  it('refuses headers whose structure is wrong', () => {
    assert.throws(() => parseHeader('r 2 360 100\nr.dat 212\n', 'r.hea'), {
      name: 'WfdbFormatError',
      message: /declares 2 signals but only 1 signal lines follow/,
    });
    assert.throws(() => parseHeader('other 1 360\nr.dat 212\n', 'r.hea', 'r'), {
      message: /field record name: expected record "r", the header names "other"/,
    });
    assert.throws(() => parseHeader('# only comments\n', 'r.hea'), { message: /no record line/ });
    assert.throws(() => parseHeader('r 3 360\na.dat 212\nb.dat 212\na.dat 212\n', 'r.hea'), {
      message: /not on consecutive lines/,
    });
  });

  it('refuses multi-segment records with an "unsupported" error', () => {
    assert.throws(
      () => parseHeader('multi/3 2 125 1000\nseg1 500\nseg2 500\n', 'multi.hea'),
      (err: unknown) => {
        assert.ok(err instanceof UnsupportedFormatError);
        assert.match(
          err.message,
          /multi\.hea, line 1.*unsupported format multi-segment record \(3 segments\)/,
        );
        return true;
      },
    );
  });
});
