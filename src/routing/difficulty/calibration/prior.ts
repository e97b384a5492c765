// What a learned model's calibration promises before any traffic is seen:
// on its training prompts, calibrated scores spread evenly over
// [CALIBRATION_TAIL, 1 − CALIBRATION_TAIL]; the two end bands hold only
// prompts scored beyond the outermost training scores (see calibrate()).

/** Share of 0..1 kept at each end for scores outside the training range. */
export const CALIBRATION_TAIL = 0.02;

/** The score below which a share q of the training prompts falls: the prior for strongShare thresholds. */
export function priorQuantile(q: number): number {
  const x = Math.min(1, Math.max(0, q));
  return CALIBRATION_TAIL + (1 - 2 * CALIBRATION_TAIL) * x;
}
