/** Option parsers shared by the commands: a bad value is a UserError naming the option. */
import { UserError } from './errors.js';

export function int(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`--${name} expects a non-negative integer, got "${v}"`);
    return n;
  };
}
export function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UserError(`--${name} expects a non-negative number, got "${v}"`);
    return n;
  };
}
