import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildAck,
  escapeHl7,
  formatHl7Time,
  Hl7Error,
  parseAck,
  parseHl7,
  parseHl7Time,
  readEnvelopeLeniently,
  unescapeHl7,
} from '../../../src/ingest/hl7';
import { extractWaveforms } from '../../../src/ingest/pcd01';
import { buildPcd01Message } from '../../../src/ingest/simulator';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const good = (over: Partial<Parameters<typeof buildPcd01Message>[0]> = {}) =>
  buildPcd01Message({
    controlId: 'CTL-1',
    patientId: 'P-1',
    leadCode: '131330',
    leadName: 'II',
    sampleRateHz: 360,
    startTimeMs: T0,
    valuesMv: [0.1, -0.25, 1.005],
    decimals: 4,
    ...over,
  });

function refusal(text: string): Hl7Error {
  try {
    extractWaveforms(parseHl7(text), { maxSamplesPerLead: 1000 });
  } catch (err) {
    assert.ok(err instanceof Hl7Error, `expected an Hl7Error, got ${String(err)}`);
    return err;
  }
  assert.fail('the message was accepted');
}

describe('HL7 v2 parsing', () => {
  it('reads the envelope of a PCD-01 message and its waveform', () => {
    const msg = parseHl7(good());
    assert.equal(msg.controlId, 'CTL-1');
    assert.equal(`${msg.messageType}^${msg.triggerEvent}`, 'ORU^R01');
    assert.equal(msg.version, '2.6');
    const wave = extractWaveforms(msg, { maxSamplesPerLead: 1000 });
    assert.equal(wave.patientId, 'P-1');
    assert.equal(wave.leads.length, 1);
    const lead = wave.leads[0];
    assert.equal(lead.name, 'II');
    assert.equal(lead.sampleRateHz, 360);
    assert.equal(lead.startTimeMs, T0);
    assert.deepEqual([...lead.valuesMv], [0.1, -0.25, 1.005]);
    assert.deepEqual(lead.rangeMv, [-0.25, 1.005]);
  });

  it('tolerates LF and CRLF segment separators', () => {
    assert.equal(parseHl7(good().replace(/\r/g, '\r\n')).segments.length, 6);
    assert.equal(parseHl7(good().replace(/\r/g, '\n')).segments.length, 6);
  });

  it('rejects (AR) a message without MSH, with other encoding characters or field separator, of another type or version', () => {
    const cases: [string, RegExp, string][] = [
      [good().replace(/^MSH/, 'XYZ'), /must start with an MSH/, '100'],
      [good().replace('MSH|^~\\&|', 'MSH|^~\\#|'), /encoding characters/, '102'],
      [good().replace('MSH|^~\\&|', 'MSH#^~\\&#'), /field separator/, '102'],
      [good().replace('ORU^R01^ORU_R01', 'ADT^A01'), /ADT\^A01 is not accepted/, '200'],
      [good().replace('|P|2.6|', '|P|3.0|'), /version/, '203'],
      [good().replace('|CTL-1|P|', '||P|'), /control id/, '101'],
    ];
    for (const [text, why, code] of cases) {
      const err = refusal(text);
      assert.equal(err.ackCode, 'AR', String(why));
      assert.match(err.message, why);
      assert.equal(err.hl7ErrorCode, code);
    }
  });

  it('answers AE for unusable content: non-numeric or empty samples, missing sample rate, no patient, unknown unit, legacy MA', () => {
    const noRate = good()
      .split('\r')
      .filter((s) => !s.includes('MDC_ATTR_SAMP_RATE'))
      .join('\r');
    const cases: [string, RegExp][] = [
      [good().replace('1.0050', 'abc'), /sample 3 "abc" is not a number/],
      [good().replace('-0.2500^', '^'), /sample 2 "" is not a number/],
      [noRate, /no sample rate/],
      [good().replace('P-1^^^MITBIH^MR', ''), /PID-3/],
      [
        good().replace('266418^MDC_DIM_MILLI_VOLT^MDC|||||F|||', '262656^MDC_DIM_DIMLESS^MDC|||||F|||'),
        /unit/,
      ],
      [good().replace('|NA|131330', '|MA|131330'), /legacy/],
      [good().replace('131330^MDC_ECG_LEAD_II', '150452^MDC_PULS_OXIM_PLETH'), /no ECG waveform/],
      [good().replace('|360|264608', '|0|264608'), /not a positive number/],
    ];
    for (const [text, why] of cases) {
      const err = refusal(text);
      assert.equal(err.ackCode, 'AE', String(why));
      assert.match(err.message, why);
    }
  });

  it('limits the samples per message', () => {
    assert.throws(
      () => extractWaveforms(parseHl7(good()), { maxSamplesPerLead: 2 }),
      /3 samples, more than the 2/,
    );
  });

  it('builds ACKs that echo the control id, with ERR for AE/AR, and reads them back', () => {
    const msg = parseHl7(good());
    const aa = buildAck({ code: 'AA', original: msg, controlId: 'A1', nowMs: T0 });
    assert.match(aa, /^MSH\|\^~\\&\|ECGFLOW\|HOSPITAL\|ECGFLOW_SIM\|MIT-BIH\|/);
    assert.match(aa, /\rMSA\|AA\|CTL-1\r$/);
    assert.deepEqual(parseAck(aa), { code: 'AA', controlId: 'CTL-1', text: '' });
    const ae = buildAck({
      code: 'AE',
      original: msg,
      controlId: 'A2',
      text: 'sample 3 "a|b" bad',
      errorCode: '102',
      location: { segment: 'OBX', field: 5 },
      nowMs: T0,
    });
    assert.match(ae, /\rMSA\|AE\|CTL-1\|sample 3 "a\\F\\b" bad\r/);
    assert.match(ae, /\rERR\|\|OBX\^1\^5\|102\^\^HL70357\|E\|/);
    assert.deepEqual(parseAck(ae), { code: 'AE', controlId: 'CTL-1', text: 'sample 3 "a|b" bad' });
  });

  it('reads the control id of a message it cannot parse, for the NAK', () => {
    assert.equal(readEnvelopeLeniently(good().replace('MSH|^~\\&|', 'MSH|^~\\#|')).controlId, 'CTL-1');
    assert.deepEqual(readEnvelopeLeniently('garbage'), {});
  });

  it('escapes and unescapes, and converts HL7 times with and without offsets', () => {
    const text = 'a|b^c~d\\e&f';
    assert.equal(unescapeHl7(escapeHl7(text)), text);
    assert.equal(unescapeHl7('\\X41\\B'), 'AB');
    assert.equal(parseHl7Time('20261124100000'), T0);
    assert.equal(parseHl7Time('20261124100000.25'), T0 + 250);
    assert.equal(parseHl7Time('20261124110000+0100'), T0);
    assert.equal(parseHl7Time('20261324100000'), undefined);
    assert.equal(parseHl7Time('yesterday'), undefined);
    assert.equal(parseHl7Time(formatHl7Time(T0 + 123)), T0 + 123);
  });
});
