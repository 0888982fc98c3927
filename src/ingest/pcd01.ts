/**
 * IHE PCD-01 waveform content of an HL7 v2.6 ORU^R01 message: the patient (PID-3), the observation period
 * (OBR-7 / OBR-8), and per ECG lead one OBX of value type NA whose value is the samples separated by the
 * component separator, followed by attribute OBXs whose sub-id (OBX-4) extends the lead's: the sample rate
 * (`MDC_ATTR_SAMP_RATE`, unit `MDC_DIM_PER_SEC`) and optionally the data range (`MDC_ATTR_DATA_RANGE`).
 * A sample's time is OBX-14 (or OBR-7 when OBX-14 is empty) + i / fs. Units: mV or µV (converted to mV).
 *
 * Content problems are `Hl7Error`s with code AE (the sender's message is HL7 but unusable): no patient,
 * no ECG lead, a non-numeric or empty sample, a missing or non-positive sample rate, an unknown unit, no
 * time, too many samples. The legacy waveform types (CD channel definition + MA multiplexed array) are
 * answered with AE and a text saying so: this gateway takes PCD-01's NA form.
 */
import { component, field, HL7_ERROR, Hl7Error, parseHl7Time, type Hl7Message, type Hl7Segment } from './hl7';

/** MDC codes of the standard limb leads (IEEE 11073-10101). */
export const MDC_ECG_LEADS: Readonly<Record<string, string>> = Object.freeze({
  '131329': 'I',
  '131330': 'II',
  '131331': 'III',
});
const LEAD_NAME_PREFIX = 'MDC_ECG_LEAD_';

const MILLIVOLT = new Set(['266418', 'MDC_DIM_MILLI_VOLT', 'mV', 'MV']);
const MICROVOLT = new Set(['266419', 'MDC_DIM_MICRO_VOLT', 'uV', 'µV', 'UV']);
const PER_SECOND = new Set(['264608', 'MDC_DIM_PER_SEC', 'Hz', 'HZ', '/s']);

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface WaveformLead {
  /** MDC code, e.g. 131330. */
  code: string;
  /** Lead name, e.g. II. */
  name: string;
  /** OBX-4 of the waveform observation. */
  subId: string;
  sampleRateHz: number;
  /** Acquisition time of the first sample (epoch ms). */
  startTimeMs: number;
  /** Samples in millivolts. */
  valuesMv: Float64Array;
  /** Declared data range (mV), when given. */
  rangeMv?: [number, number];
}

export interface WaveformMessage {
  patientId: string;
  /** OBX-18 of the first lead, else MSH-3^MSH-4. */
  deviceId: string;
  /** OBR-7 / OBR-8 when present. */
  observationStartMs?: number;
  observationEndMs?: number;
  leads: WaveformLead[];
  /** NA observations that are not ECG leads (e.g. plethysmogram): not used. */
  ignoredObservations: number;
}

export interface ExtractOptions {
  /** Most samples accepted per lead in one message. */
  maxSamplesPerLead: number;
}

function obxWhere(index: number, fieldNo: number) {
  return { segment: `OBX(${index})`, field: fieldNo };
}

interface PendingLead {
  segmentIndex: number;
  code: string;
  name: string;
  subId: string;
  valuesRaw: string;
  unit: string;
  timeRaw: string;
  device: string;
  sampleRateHz?: number;
  rangeMv?: [number, number];
}

function unitScale(unit: string, where: { segment: string; field: number }): number {
  if (MILLIVOLT.has(unit)) return 1;
  if (MICROVOLT.has(unit)) return 0.001;
  throw new Hl7Error(
    'AE',
    HL7_ERROR.tableValueNotFound,
    `unit ${JSON.stringify(unit)} is not a voltage this gateway knows (MDC_DIM_MILLI_VOLT or MDC_DIM_MICRO_VOLT)`,
    where,
  );
}

/** The waveform of a validated ORU^R01 envelope (see `parseHl7`). */
export function extractWaveforms(message: Hl7Message, options: ExtractOptions): WaveformMessage {
  const enc = message.encoding;
  const pid = message.segments.find((s) => s.name === 'PID');
  if (pid === undefined)
    throw new Hl7Error('AE', HL7_ERROR.requiredFieldMissing, 'no PID segment: the patient is unknown', {
      segment: 'PID',
    });
  const patientId = component(field(pid, 3), 1, enc).trim();
  if (patientId === '')
    throw new Hl7Error('AE', HL7_ERROR.requiredFieldMissing, 'PID-3 (patient identifier) is empty', {
      segment: 'PID',
      field: 3,
    });
  const obr = message.segments.find((s) => s.name === 'OBR');
  const obrStart = obr === undefined ? undefined : parseTimeField(field(obr, 7), 'OBR', 7);
  const obrEnd = obr === undefined ? undefined : parseTimeField(field(obr, 8), 'OBR', 8);

  const leads: PendingLead[] = [];
  let ignored = 0;
  let lastWave: PendingLead | undefined;
  message.segments.forEach((seg: Hl7Segment, index) => {
    if (seg.name !== 'OBX') return;
    const valueType = field(seg, 2);
    const id = field(seg, 3);
    const code = component(id, 1, enc);
    const name = component(id, 2, enc);
    const subId = field(seg, 4);
    if (valueType === 'MA' || valueType === 'CD') {
      throw new Hl7Error(
        'AE',
        HL7_ERROR.dataType,
        `OBX value type ${valueType} (legacy multiplexed waveform) is not supported: send PCD-01 NA observations`,
        obxWhere(index, 2),
      );
    }
    if (valueType === 'NA') {
      const leadName =
        MDC_ECG_LEADS[code] ??
        (name.startsWith(LEAD_NAME_PREFIX) ? name.slice(LEAD_NAME_PREFIX.length) : undefined);
      if (leadName === undefined) {
        ignored++;
        lastWave = undefined;
        return;
      }
      lastWave = {
        segmentIndex: index,
        code,
        name: leadName,
        subId,
        valuesRaw: field(seg, 5),
        unit: component(field(seg, 6), 1, enc) || component(field(seg, 6), 2, enc),
        timeRaw: field(seg, 14),
        device: component(field(seg, 18), 1, enc),
      };
      leads.push(lastWave);
      return;
    }
    // Attributes of a lead: sub-id `<lead sub-id>.<n>`, or (without sub-ids) the OBX right after it.
    const owner =
      subId !== '' ? leads.find((l) => l.subId !== '' && subId.startsWith(`${l.subId}.`)) : lastWave;
    if (owner === undefined) return;
    if (name === 'MDC_ATTR_SAMP_RATE') {
      const raw = component(field(seg, 5), 1, enc).trim();
      const unit = component(field(seg, 6), 1, enc) || component(field(seg, 6), 2, enc);
      const value = Number(raw);
      if (!NUMBER.test(raw) || !(value > 0) || !Number.isFinite(value)) {
        throw new Hl7Error(
          'AE',
          HL7_ERROR.dataType,
          `sample rate (OBX-5 of MDC_ATTR_SAMP_RATE) ${JSON.stringify(raw)} is not a positive number`,
          obxWhere(index, 5),
        );
      }
      if (unit !== '' && !PER_SECOND.has(unit) && !PER_SECOND.has(component(field(seg, 6), 2, enc))) {
        throw new Hl7Error(
          'AE',
          HL7_ERROR.tableValueNotFound,
          `sample rate unit ${JSON.stringify(unit)} is not MDC_DIM_PER_SEC`,
          obxWhere(index, 6),
        );
      }
      owner.sampleRateHz = value;
    } else if (name === 'MDC_ATTR_DATA_RANGE') {
      const low = Number(component(field(seg, 5), 1, enc));
      const high = Number(component(field(seg, 5), 2, enc));
      const unit = component(field(seg, 6), 1, enc) || component(field(seg, 6), 2, enc);
      if (Number.isFinite(low) && Number.isFinite(high) && low < high) {
        const scale = unit === '' ? 1 : unitScale(unit, obxWhere(index, 6));
        owner.rangeMv = [low * scale, high * scale];
      }
    }
  });

  if (leads.length === 0) {
    throw new Hl7Error(
      'AE',
      HL7_ERROR.requiredFieldMissing,
      `no ECG waveform: no OBX of value type NA with an MDC_ECG_LEAD code${ignored > 0 ? ` (${ignored} other NA observations)` : ''}`,
      { segment: 'OBX' },
    );
  }
  const out: WaveformLead[] = leads.map((l) => {
    if (l.sampleRateHz === undefined) {
      throw new Hl7Error(
        'AE',
        HL7_ERROR.requiredFieldMissing,
        `lead ${l.name}: no sample rate (an OBX MDC_ATTR_SAMP_RATE with sub-id ${l.subId || '<lead>'}.n)`,
        obxWhere(l.segmentIndex, 4),
      );
    }
    const scale = unitScale(l.unit, obxWhere(l.segmentIndex, 6));
    const where = obxWhere(l.segmentIndex, 5);
    if (l.valuesRaw === '')
      throw new Hl7Error('AE', HL7_ERROR.requiredFieldMissing, `lead ${l.name}: no samples in OBX-5`, where);
    const parts = l.valuesRaw.split(enc.component);
    if (parts.length > options.maxSamplesPerLead) {
      throw new Hl7Error(
        'AE',
        HL7_ERROR.dataType,
        `lead ${l.name}: ${parts.length} samples, more than the ${options.maxSamplesPerLead} accepted in one message`,
        where,
      );
    }
    const values = new Float64Array(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const raw = parts[i].trim();
      if (!NUMBER.test(raw)) {
        throw new Hl7Error(
          'AE',
          HL7_ERROR.dataType,
          `lead ${l.name}: sample ${i + 1} ${JSON.stringify(raw.slice(0, 20))} is not a number`,
          where,
        );
      }
      values[i] = Number(raw) * scale;
    }
    const start = l.timeRaw !== '' ? parseTimeField(l.timeRaw, `OBX(${l.segmentIndex})`, 14) : obrStart;
    if (start === undefined) {
      throw new Hl7Error(
        'AE',
        HL7_ERROR.requiredFieldMissing,
        `lead ${l.name}: no time for the first sample (OBX-14 or OBR-7)`,
        obxWhere(l.segmentIndex, 14),
      );
    }
    return {
      code: l.code,
      name: l.name,
      subId: l.subId,
      sampleRateHz: l.sampleRateHz,
      startTimeMs: start,
      valuesMv: values,
      rangeMv: l.rangeMv,
    };
  });
  const msh = message.segments[0];
  const device =
    leads[0].device ||
    [component(field(msh, 3), 1, enc), component(field(msh, 4), 1, enc)].filter((x) => x !== '').join('^');
  return {
    patientId,
    deviceId: device,
    observationStartMs: obrStart,
    observationEndMs: obrEnd,
    leads: out,
    ignoredObservations: ignored,
  };
}

function parseTimeField(raw: string, segment: string, fieldNo: number): number | undefined {
  const value = raw.split('^')[0].trim();
  if (value === '') return undefined;
  const t = parseHl7Time(value);
  if (t === undefined)
    throw new Hl7Error(
      'AE',
      HL7_ERROR.dataType,
      `${JSON.stringify(value)} is not an HL7 date/time (YYYYMMDDHHMMSS[.SSS][+ZZZZ])`,
      { segment, field: fieldNo },
    );
  return t;
}
