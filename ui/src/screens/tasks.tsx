/**
 * Tasks: ListTasks with filters (state, type, queue, label, parent, creation time, id), pages, and bulk actions (cancel,
 * retry, delete) on the selected tasks or on every task matching the filter, each after a
 * confirmation that says how many tasks it takes. The filter lives in the URL's hash, so a view
 * can be linked (no key is ever in it).
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useState } from "preact/hooks";
import type { TaskSelector } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState, type Task } from "../../../gen/taskwire/v1/task_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { TaskSelectorSchema } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { ActionButton, ConfirmDialog, ErrorBanner, Notice, ProgressBar, ScreenHeader, StateBadge, useNotice, type Confirmation } from "../components.js";
import { ago, formatCount, shortId, STATES, stateName } from "../format.js";
import { href, usePoll, type Route } from "../hooks.js";
import { useSession } from "../session.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_SIZE = 50;

type BulkAction = "cancel" | "retry" | "delete";
const ACTION_STATES: Record<BulkAction, readonly TaskState[]> = {
  cancel: [TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING],
  retry: [TaskState.FAILED, TaskState.CANCELLED],
  delete: [TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED],
};

/** An ISO time of the URL as a `datetime-local` value (local time), and back. */
function toLocal(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}
function fromLocal(local: string): string {
  return local === "" ? "" : new Date(local).toISOString();
}

function setQuery(changes: Record<string, string>): void {
  const [path = "", search = ""] = location.hash.split("?", 2);
  const query = new URLSearchParams(search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === "") query.delete(key);
    else query.set(key, value);
  }
  const text = query.toString();
  location.hash = text === "" ? path : `${path}?${text}`;
}

/** The Tasks screen. */
export function TasksScreen({ route }: { route: Route }) {
  const { clients } = useSession();
  const state = route.query.get("state") ?? "";
  const type = route.query.get("type") ?? "";
  const queue = route.query.get("queue") ?? "";
  const label = route.query.get("label") ?? "";
  const parent = route.query.get("parent") ?? "";
  const after = route.query.get("after") ?? "";
  const before = route.query.get("before") ?? "";
  const timeOf = (text: string) => (text === "" || Number.isNaN(Date.parse(text)) ? undefined : timestampFromMs(Date.parse(text)));
  const [tokens, setTokens] = useState<string[]>([""]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>();
  const [notice, setNotice] = useNotice();
  const [search, setSearch] = useState("");
  const stateValue = state === "" ? undefined : (TaskState[state as keyof typeof TaskState] as TaskState | undefined);
  const labels: Record<string, string> = {};
  if (label.includes("=")) labels[label.slice(0, label.indexOf("=")).trim()] = label.slice(label.indexOf("=") + 1).trim();
  const token = tokens.at(-1) ?? "";

  const list = usePoll(
    (signal) => clients.tasks.listTasks({ states: stateValue === undefined ? [] : [stateValue], type, queue, labels, parentId: parent, createdAfter: timeOf(after), createdBefore: timeOf(before), pageSize: PAGE_SIZE, pageToken: token }, { signal }),
    [state, type, queue, label, parent, after, before, token],
  );
  const tasks: Task[] = list.data?.tasks ?? [];

  const selector = (action: BulkAction): MessageInitShape<typeof TaskSelectorSchema> => ({
    states: stateValue === undefined ? [...ACTION_STATES[action]] : [stateValue],
    type,
    queue,
  });
  const run = async (action: BulkAction, request: { ids?: string[]; selector?: MessageInitShape<typeof TaskSelectorSchema> }): Promise<string> => {
    if (action === "cancel") {
      const r = await clients.admin.cancelTasks({ ...request, reason: "cancelled from the dashboard" });
      return `${r.cancelled} cancelled, ${r.cancelling} being cancelled`;
    }
    if (action === "retry") return `${(await clients.admin.retryTasks(request)).retried} retried`;
    return `${(await clients.admin.deleteTasks(request)).deleted} deleted`;
  };
  const confirmSelected = (action: BulkAction): void => {
    const ids = [...selected];
    setConfirmation({
      title: `${action[0]!.toUpperCase()}${action.slice(1)} tasks`,
      message: `${action[0]!.toUpperCase()}${action.slice(1)} the ${ids.length} selected task${ids.length === 1 ? "" : "s"}? Tasks in states the action does not apply to are left alone.`,
      confirm: `${action[0]!.toUpperCase()}${action.slice(1)} ${ids.length} task${ids.length === 1 ? "" : "s"}`,
      run: async () => {
        setNotice(await run(action, { ids }));
        setSelected(new Set());
        list.reload();
      },
    });
  };
  const confirmMatching = async (action: BulkAction): Promise<void> => {
    const sel = selector(action);
    const applicable = (sel.states ?? []).filter((s) => ACTION_STATES[action].includes(s));
    if (applicable.length === 0) {
      setNotice(`No task in state ${state} can be ${action === "retry" ? "retried" : `${action}ed`}.`);
      return;
    }
    sel.states = applicable;
    const count = Number((await clients.admin.countTasks({ selector: sel as TaskSelector })).total);
    const verb = `${action[0]!.toUpperCase()}${action.slice(1)}`;
    setConfirmation({
      title: `${verb} every matching task`,
      message: `${verb} all ${formatCount(count)} task${count === 1 ? "" : "s"} that match the filter (${applicable.map(stateName).join(", ")}${type ? `, type ${type}` : ""}${queue ? `, queue ${queue}` : ""})?`,
      confirm: `${verb} ${formatCount(count)} task${count === 1 ? "" : "s"}`,
      run: async () => {
        setNotice(await run(action, { selector: sel }));
        list.reload();
      },
    });
  };

  const toggle = (id: string): void => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const filterChanged = (changes: Record<string, string>): void => {
    setTokens([""]);
    setSelected(new Set());
    setQuery(changes);
  };

  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title="Tasks">
        <form
          class="inline"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            const id = search.trim();
            if (UUID.test(id)) location.hash = href("tasks", id.toLowerCase());
            else setNotice("A task id is a UUID.");
          }}
        >
          <label for="task-id-search">Task id</label>
          <input id="task-id-search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="0193…" />
          <button type="submit">Open</button>
        </form>
      </ScreenHeader>
      <form class="filters" aria-label="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={state} onChange={(e) => filterChanged({ state: e.currentTarget.value })}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={TaskState[s]}>
                {stateName(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Type
          <input value={type} onChange={(e) => filterChanged({ type: e.currentTarget.value.trim() })} placeholder="any" />
        </label>
        <label>
          Queue
          <input value={queue} onChange={(e) => filterChanged({ queue: e.currentTarget.value.trim() })} placeholder="any" />
        </label>
        <label>
          Label
          <input value={label} onChange={(e) => filterChanged({ label: e.currentTarget.value.trim() })} placeholder="key=value" />
        </label>
        <label>
          Created after
          <input type="datetime-local" step={1} value={toLocal(after)} onChange={(e) => filterChanged({ after: fromLocal(e.currentTarget.value) })} />
        </label>
        <label>
          Created before
          <input type="datetime-local" step={1} value={toLocal(before)} onChange={(e) => filterChanged({ before: fromLocal(e.currentTarget.value) })} />
        </label>
        {parent !== "" && (
          <span>
            Children of <a href={href("tasks", parent)}>{shortId(parent)}</a>{" "}
            <button type="button" class="small" onClick={() => filterChanged({ parent: "" })}>
              Clear
            </button>
          </span>
        )}
      </form>
      <div class="bulk" role="group" aria-label="bulk actions">
        <span>{selected.size} selected</span>
        {(["cancel", "retry", "delete"] as const).map((action) => (
          <ActionButton key={action} permission="fleet.act" danger={action !== "retry"} disabled={selected.size === 0} onClick={() => confirmSelected(action)} label={`${action} selected tasks`}>
            {action[0]!.toUpperCase() + action.slice(1)} selected
          </ActionButton>
        ))}
        {(["cancel", "retry", "delete"] as const).map((action) => (
          <ActionButton key={`all-${action}`} permission="fleet.act" danger={action !== "retry"} disabled={label !== "" || parent !== "" || after !== "" || before !== ""} onClick={() => confirmMatching(action)} label={`${action} every task matching the filter`}>
            {action[0]!.toUpperCase() + action.slice(1)} all matching
          </ActionButton>
        ))}
        {(label !== "" || parent !== "" || after !== "" || before !== "") && <small class="muted">(with a label, parent or time filter, select the tasks to act on)</small>}
      </div>
      <Notice text={notice} />
      <ErrorBanner error={list.error} />
      <table class="list" aria-label="tasks">
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="select every task of this page"
                checked={tasks.length > 0 && tasks.every((t) => selected.has(t.id))}
                onChange={(e) => setSelected(e.currentTarget.checked ? new Set(tasks.map((t) => t.id)) : new Set())}
              />
            </th>
            <th scope="col">Task</th>
            <th scope="col">Type</th>
            <th scope="col">Queue</th>
            <th scope="col">State</th>
            <th scope="col">Attempt</th>
            <th scope="col">Progress</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.id} data-task-id={task.id}>
              <td>
                <input type="checkbox" aria-label={`select task ${task.id}`} checked={selected.has(task.id)} onChange={() => toggle(task.id)} />
              </td>
              <td>
                <a href={href("tasks", task.id)} title={task.id}>
                  {shortId(task.id)}
                </a>
              </td>
              <td>{task.type}</td>
              <td>{task.queue}</td>
              <td>
                <StateBadge state={task.state} />
              </td>
              <td>
                {task.attempt}/{task.maxAttempts}
              </td>
              <td>{task.progress ? <ProgressBar progress={task.progress} /> : null}</td>
              <td>{ago(task.createTime)}</td>
            </tr>
          ))}
          {list.data && tasks.length === 0 && (
            <tr>
              <td colSpan={8} class="muted">
                No task matches.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <nav class="pager" aria-label="pages">
        <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          Previous
        </button>
        <span>
          Page {tokens.length} · {formatCount(list.data?.totalCount ?? 0n)} tasks
        </span>
        <button type="button" disabled={!list.data?.nextPageToken} onClick={() => list.data && setTokens([...tokens, list.data.nextPageToken])}>
          Next
        </button>
      </nav>
      <ConfirmDialog confirmation={confirmation} onClose={() => setConfirmation(undefined)} />
    </section>
  );
}
