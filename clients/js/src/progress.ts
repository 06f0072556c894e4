// Bytes sent, rate and ETA for one upload. Counts the bytes of parts in flight as they go
// and drops a failed attempt's bytes (they must be sent again), yet reports a high-water
// mark so a bar never moves backwards (as aws-sdk's TransferHandle does). The rate is a
// moving average over the last few seconds, so it follows a connection that changes speed.

import type { UploadProgress } from './types.js';

export const kRateWindowMs = 5000;

interface Sample {
  t: number;
  bytes: number;
}

export class ProgressMeter {
  private readonly bytesTotal_: number;
  private readonly partsTotal_: number;
  private readonly now_: () => number;
  private readonly windowMs_: number;
  private readonly inFlight_ = new Map<number, number>();
  private doneBytes_ = 0;
  private partsDone_ = 0;
  private highWater_ = 0;
  private samples_: Sample[];

  constructor(bytesTotal: number, partsTotal: number, now: () => number = monotonicNow,
              windowMs: number = kRateWindowMs) {
    this.bytesTotal_ = bytesTotal;
    this.partsTotal_ = partsTotal;
    this.now_ = now;
    this.windowMs_ = windowMs;
    this.samples_ = [{ t: now(), bytes: 0 }];
  }

  /** `bytes` of part `partNumber` sent so far in its current attempt. */
  sending(partNumber: number, bytes: number): void {
    this.inFlight_.set(partNumber, bytes);
    this.update(false);
  }

  /** The current attempt of the part failed; its bytes will be sent again. */
  failed(partNumber: number): void {
    this.inFlight_.delete(partNumber);
  }

  /** The part is stored. `transferred` is false for a part found on the server when
   *  resuming: its bytes count as sent but not towards the rate. */
  done(partNumber: number, size: number, transferred = true): void {
    this.inFlight_.delete(partNumber);
    this.doneBytes_ += size;
    this.partsDone_ += 1;
    this.update(!transferred);
  }

  snapshot(): UploadProgress {
    const first = this.samples_[0];
    const last = this.samples_[this.samples_.length - 1];
    const spanMs = last.t - first.t;
    const bytesPerSecond = spanMs > 0 ? ((last.bytes - first.bytes) * 1000) / spanMs : 0;
    const remaining = this.bytesTotal_ - this.highWater_;
    let etaSeconds: number | null = null;
    if (remaining <= 0) etaSeconds = 0;
    else if (bytesPerSecond > 0) etaSeconds = remaining / bytesPerSecond;
    return {
      bytesSent: this.highWater_,
      bytesTotal: this.bytesTotal_,
      bytesPerSecond,
      etaSeconds,
      partsDone: this.partsDone_,
      partsTotal: this.partsTotal_,
    };
  }

  private update(skipped: boolean): void {
    let sent = this.doneBytes_;
    for (const b of this.inFlight_.values()) sent += b;
    const rise = Math.max(0, Math.min(sent, this.bytesTotal_) - this.highWater_);
    this.highWater_ += rise;
    // Skipped bytes lift every earlier sample too, so they add nothing to the rate.
    if (skipped) for (const s of this.samples_) s.bytes += rise;
    const t = this.now_();
    this.samples_.push({ t, bytes: this.highWater_ });
    // Keep one sample at or before the window's start, so the average spans the window.
    while (this.samples_.length > 2 && this.samples_[1].t <= t - this.windowMs_) this.samples_.shift();
  }
}

function monotonicNow(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
