/** The colour around the guest's picture (letterbox), dark in both themes like a monitor's bezel. */
export const STAGE_BG = '#15171c';
