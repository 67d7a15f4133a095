/**
 * The time to arm an alarm for: never at or before now. Inside a handler the clock is frozen, and an
 * alarm re-armed for the very instant the running one was scheduled can be taken as already fired:
 * seen locally, a chain of alarms each arming the next for `Date.now()` stalls after a few links.
 */
export const alarmTime = (at: number, now = Date.now()): number => Math.max(at, now + 1);
