/** The items of a comma-separated flag value, trimmed, empty items dropped ("100, 101," -> ["100", "101"]). */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
