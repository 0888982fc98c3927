/** PPE, parameters per epoch (spec section 6): the mean over epochs of the parameters trained in each. */
export function parametersPerEpoch(parametersByEpoch: readonly number[]): number {
  if (parametersByEpoch.length === 0) return 0;
  return parametersByEpoch.reduce((a, b) => a + b, 0) / parametersByEpoch.length;
}
