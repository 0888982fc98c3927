/**
 * MIT-BIH Arrhythmia Database record lists used by the evaluation protocols. Library code recognises
 * paced records by their annotations (`hasPacedBeats`); these lists are protocol definitions and live
 * only here.
 */

/** Records with paced beats (excluded from the inter-patient protocol and from "non-paced" figures). */
export const MITBIH_PACED_RECORDS: readonly string[] = ['102', '104', '107', '217'];

/** de Chazal et al. 2004, training set DS1 (22 records). */
// prettier-ignore
export const DE_CHAZAL_DS1: readonly string[] = [
  '101', '106', '108', '109', '112', '114', '115', '116', '118', '119', '122',
  '124', '201', '203', '205', '207', '208', '209', '215', '220', '223', '230',
];

/** de Chazal et al. 2004, test set DS2 (22 records). */
// prettier-ignore
export const DE_CHAZAL_DS2: readonly string[] = [
  '100', '103', '105', '111', '113', '117', '121', '123', '200', '202', '210',
  '212', '213', '214', '219', '221', '222', '228', '231', '232', '233', '234',
];

export function isPacedRecord(record: string): boolean {
  return MITBIH_PACED_RECORDS.includes(record);
}
