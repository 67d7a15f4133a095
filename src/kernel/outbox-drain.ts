import { alarmTime } from "../lib/alarm";
import { deliverDue, type DeliveryHost } from "./deliveries";

/** The kernel object's alarm, as the drain needs it. */
export interface AlarmClock {
  getAlarm(): Promise<number | null>;
  setAlarm(at: number): Promise<void>;
}

/**
 * Delivers what the kernel promised other objects (start, terminate, task results) and webhooks
 * (post_terminate): at least once, retried from the kernel's alarm with backoff until it lands.
 * Outside the alarm it reads only what this incarnation just wrote (`Outbox.takeNews`), and it keeps
 * the alarm's time in memory, so an exit that promises nothing due at once costs no outbox read and
 * no alarm call.
 */
export class OutboxDrain {
  /** Entries being delivered by this incarnation, so two drains never deliver one twice at once. */
  private readonly delivering = new Set<number>();
  /** The alarm as this incarnation armed or read it (undefined: not read yet). */
  private alarmAt: number | null | undefined = undefined;

  constructor(
    private readonly host: DeliveryHost,
    private readonly alarm: AlarmClock,
    private readonly tenant: () => string,
  ) {}

  async drain(onlyPids?: number[], fromAlarm = false): Promise<void> {
    const { outbox, people } = this.host.k;
    // A drain of some pids leaves the others' news for the next full drain.
    const news = outbox.takeNews(!onlyPids);
    const query = fromAlarm || onlyPids || news.direct;
    // `onlyPids` are processes just made here: their starts are in memory (`dueOfNew`).
    const found = !query ? [] : ((onlyPids && !fromAlarm ? outbox.dueOfNew(onlyPids) : null) ?? outbox.due({ ...(onlyPids !== undefined ? { onlyPids } : {}), fromAlarm }));
    const due = found.filter((r) => !this.delivering.has(r.id));
    for (const r of due) this.delivering.add(r.id);
    // The next attempt is armed before any delivery runs, so a crash mid-delivery is retried.
    if (due.length) await this.arm(Date.now() + 5_000);
    await deliverDue(due, this.host, this.delivering, this.tenant());
    // Retries just written, or (from the alarm) everything waiting, approvals' deadlines included (SPEC §11).
    const later = outbox.takeNews(false).wake;
    const next = fromAlarm ? [outbox.nextDue(), people.approvals.nextExpiry(), later] : [news.wake, later];
    const at = next.filter((t): t is number => t !== null);
    if (at.length) await this.arm(Math.min(...at));
  }

  /**
   * The kernel's alarm fired: approvals past their deadline expire, then everything due is delivered
   * (results go to copilots from here, a fresh event) and the alarm is armed anew for what waits.
   */
  async fired(): Promise<void> {
    this.alarmAt = null;
    this.host.k.people.approvals.sweep();
    await this.drain(undefined, true);
  }

  /** Arms the alarm for `at` unless an earlier one is pending; one overdue by a second is taken as lost. */
  private async arm(at: number) {
    const when = alarmTime(at);
    this.alarmAt ??= await this.alarm.getAlarm();
    const current = this.alarmAt;
    if (current === null || current > when || current < Date.now() - 1_000) {
      await this.alarm.setAlarm(when);
      this.alarmAt = when;
    }
  }
}
