export * from './errors.ts';
export * from './lifecycle.ts';
export * from './wait.ts';
export * from './log.ts';
