/** Small shared pieces of the dashboard's screens. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import type { Progress } from "../../gen/taskwire/v1/task_pb.js";
import { errorText } from "./api.js";
import { stateName } from "./format.js";
import { useSession } from "./session.js";

/** A task state as a coloured badge. */
export function StateBadge({ state }: { state: TaskState }) {
  const name = stateName(state);
  return <span class={`badge state-${name.toLowerCase()}`}>{name}</span>;
}

/** A progress bar with its percent and message. */
export function ProgressBar({ progress }: { progress: Progress | undefined }) {
  const percent = Math.max(0, Math.min(100, progress?.percent ?? 0));
  const label = `${Math.round(percent)}%${progress?.message ? ` ${progress.message}` : ""}`;
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(percent)} aria-valuetext={label} data-percent={percent}>
      <div class="progress-fill" style={{ width: `${percent}%` }} />
      <span class="progress-label">{label}</span>
    </div>
  );
}

/** An error line, or nothing. */
export function ErrorBanner({ error }: { error: string | undefined }) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** A heading with actions beside it. */
export function ScreenHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="screen-header">
      <h1 id="screen-title" tabIndex={-1}>
        {title}
      </h1>
      <div class="actions">{children}</div>
    </header>
  );
}

/**
 * A button for an action that needs `permission`: disabled, with the reason in its title, for a
 * caller without it. `run` may return a promise; the button is busy until it settles, and its
 * error is shown through `onError`.
 */
export function ActionButton(props: {
  permission: string;
  onClick: () => unknown;
  children: ComponentChildren;
  label?: string;
  danger?: boolean;
  disabled?: boolean;
}) {
  const session = useSession();
  const [busy, setBusy] = useState(false);
  const allowed = session.may(props.permission);
  const title = allowed ? props.label : `Needs a key with ${props.permission} (an admin key)`;
  return (
    <button
      type="button"
      class={props.danger ? "danger" : undefined}
      disabled={!allowed || busy || props.disabled}
      title={title}
      aria-label={props.label}
      data-permission={props.permission}
      onClick={() => {
        const result = props.onClick();
        if (result instanceof Promise) {
          setBusy(true);
          void result.finally(() => setBusy(false));
        }
      }}
    >
      {props.children}
    </button>
  );
}

/** What a confirmation asks. */
export interface Confirmation {
  title: string;
  message: string;
  /** The confirming button's text, e.g. "Cancel 12 tasks". */
  confirm: string;
  run: () => Promise<string | void>;
}

/**
 * A modal confirmation (`<dialog>`: focus moves into it, Escape closes it). Shows the action's
 * result or error before closing.
 */
export function ConfirmDialog({ confirmation, onClose }: { confirmation: Confirmation | undefined; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    setError(undefined);
    if (confirmation && !dialog.open) dialog.showModal();
    if (!confirmation && dialog.open) dialog.close();
  }, [confirmation]);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      {confirmation && (
        <form
          method="dialog"
          onSubmit={(event) => {
            event.preventDefault();
            setBusy(true);
            confirmation.run().then(
              () => {
                setBusy(false);
                onClose();
              },
              (e: unknown) => {
                setBusy(false);
                setError(errorText(e));
              },
            );
          }}
        >
          <h2 id="confirm-title">{confirmation.title}</h2>
          <p>{confirmation.message}</p>
          <ErrorBanner error={error} />
          <div class="actions">
            <button type="button" onClick={onClose}>
              Back
            </button>
            <button type="submit" class="danger" disabled={busy} autofocus>
              {confirmation.confirm}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** A short notice that goes away by itself. */
export function useNotice(): [string | undefined, (text: string) => void] {
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    if (notice === undefined) return;
    const timer = setTimeout(() => setNotice(undefined), 6000);
    return () => clearTimeout(timer);
  }, [notice]);
  return [notice, setNotice];
}

/** A notice line, announced politely to screen readers. */
export function Notice({ text }: { text: string | undefined }) {
  return (
    <p class="notice" role="status" aria-live="polite">
      {text ?? ""}
    </p>
  );
}
