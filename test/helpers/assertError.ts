/**
 * Assertions on typed errors: by class name and stable code, with the message checked against a
 * pattern (so a test fails when a message stops naming what went wrong).
 */
import * as assert from 'uvu/assert';

export function expectError(e: unknown, name: string, code: string | undefined, message: RegExp): void {
  assert.instance(e, Error, 'an Error was thrown');
  const err = e as Error & { code?: string };
  assert.is(err.name, name, `error name (message: ${err.message})`);
  if (code !== undefined) assert.is(err.code, code, `error code (message: ${err.message})`);
  assert.match(err.message, message);
  assert.not.match(err.message, /\n/, 'one-line message');
}

/** Asserts that `fn` throws such an error; returns it (for further checks: its hint, its cause). */
export function throwsError(fn: () => unknown, name: string, code: string | undefined, message: RegExp): Error {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, 'expected a throw');
  expectError(thrown, name, code, message);
  return thrown as Error;
}

/** Asserts that `fn` rejects with such an error; returns it (for further checks: its hint, its cause). */
export async function rejectsError(fn: () => Promise<unknown>, name: string, code: string | undefined, message: RegExp): Promise<Error> {
  let thrown: unknown;
  try {
    await fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, 'expected a rejection');
  expectError(thrown, name, code, message);
  return thrown as Error;
}
