/**
 * The live progress display of `taskwire submit --follow`, on stderr. On a terminal it is one
 * line redrawn in place with `\r`; elsewhere (a pipe, a CI log) it prints a plain line whenever
 * what it shows changes.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { TaskState, type Progress } from "../../gen/taskwire/v1/task_pb.js";
import type { StreamProgressResponse } from "../../gen/taskwire/v1/task_service_pb.js";
import { taskStateName } from "../client/index.js";
import type { OutputStream } from "./context.js";

/** What the display shows of a progress event. */
export type ProgressEvent = Pick<StreamProgressResponse, "state" | "attempt" | "progress">;

/** Options of {@link renderProgressLine}. */
export interface RenderOptions {
  /** Columns available (at least 20); the line is cut to fit. @default 80 */
  width?: number;
  /** Cells of the bar. @default 24, 10 under 60 columns */
  barWidth?: number;
}

/** Widest state name (CANCELLING), so the bar does not move when the state changes. */
const STATE_WIDTH = 10;

/** The percent to show: the reported one (0–100), 100 once the task succeeded. */
export function percentOf(event: ProgressEvent): number {
  if (event.state === TaskState.SUCCEEDED) return 100;
  const percent = event.progress?.percent ?? 0;
  return Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0;
}

/** "RUNNING", or "RUNNING #2" from the second attempt on. */
function stateLabel(event: ProgressEvent): string {
  const name = taskStateName(event.state);
  return event.attempt > 1 ? `${name} #${event.attempt}` : name;
}

/** "current/total", "current", or "". */
function countsOf(event: ProgressEvent): string {
  const { current, total } = event.progress ?? {};
  if (current === undefined) return "";
  return total === undefined ? `${current}` : `${current}/${total}`;
}

/** The terminal line: `RUNNING     [██████░░░░░░]  50%  5/10  message`, cut to `width - 1`. */
export function renderProgressLine(event: ProgressEvent, options: RenderOptions = {}): string {
  const width = Math.max(20, options.width ?? 80);
  const barWidth = options.barWidth ?? (width < 60 ? 10 : 24);
  const percent = percentOf(event);
  const filled = Math.round((percent / 100) * barWidth);
  const bar = `[${"█".repeat(filled)}${"░".repeat(barWidth - filled)}]`;
  const parts = [stateLabel(event).padEnd(STATE_WIDTH), bar, `${Math.floor(percent)}%`.padStart(4)];
  const counts = countsOf(event);
  if (counts) parts.push(counts);
  if (event.progress?.message) parts.push(event.progress.message);
  return truncate(parts.join("  "), width - 1);
}

/** The line for logs: `[RUNNING] 50% 5/10 message`. */
export function renderPlainLine(event: ProgressEvent): string {
  const parts = [`[${stateLabel(event)}]`, `${Math.floor(percentOf(event))}%`];
  const counts = countsOf(event);
  if (counts) parts.push(counts);
  if (event.progress?.message) parts.push(event.progress.message);
  return parts.join(" ");
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 1 ? chars.slice(0, Math.max(0, width)).join("") : `${chars.slice(0, width - 1).join("")}…`;
}

/**
 * The progress to show with `event`: its own, unless `previous` is newer (by `updateTime`). A
 * state event may carry the last *persisted* progress, older than the live one already shown.
 */
export function newestProgress(previous: Progress | undefined, event: ProgressEvent): Progress | undefined {
  const current = event.progress;
  if (!previous || !current) return current ?? previous;
  const time = (progress: Progress): number => (progress.updateTime ? timestampMs(progress.updateTime) : 0);
  return time(previous) > time(current) ? previous : current;
}

/** Shows progress events on a stream; call {@link finish} once done (or interrupted). */
export class ProgressDisplay {
  private last = "";
  private drawn = false;
  private progress: Progress | undefined;

  constructor(private readonly stream: OutputStream) {}

  /** Shows `event`, redrawing the line on a terminal, printing a line elsewhere if it changed. */
  update(received: ProgressEvent): void {
    this.progress = newestProgress(this.progress, received);
    const event: ProgressEvent = { ...received, progress: this.progress };
    if (this.stream.isTTY) {
      // A terminal without a known size (columns 0 or undefined) gets 80 columns.
      const line = renderProgressLine(event, { width: this.stream.columns || 80 });
      if (line === this.last) return;
      this.stream.write(`\r${line}\x1b[K`);
      this.drawn = true;
      this.last = line;
    } else {
      const line = renderPlainLine(event);
      if (line === this.last) return;
      this.stream.write(`${line}\n`);
      this.last = line;
    }
  }

  /**
   * Prints `line` (a notice: no worker serves the type, the stream dropped) on a line of its own;
   * on a terminal, above the progress line, which is drawn again under it.
   */
  note(line: string): void {
    if (this.stream.isTTY && this.drawn) {
      this.stream.write(`\r\x1b[K${line}\n${this.last}`);
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the terminal line, so what follows starts on a fresh one. Safe to call twice. */
  finish(): void {
    if (this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}
