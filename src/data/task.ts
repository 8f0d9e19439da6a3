/**
 * The forecasting task of PROTOCOL.md: 12 steps in, 6 out, two input features per step (the value
 * and the time of day). Every window, split and model is sized from these.
 */
export const IN_STEPS = 12;
export const OUT_STEPS = 6;
export const IN_FEATURES = 2;
/** Steps one window spans (12 inputs + 6 targets). */
export const WINDOW_STEPS = IN_STEPS + OUT_STEPS;
