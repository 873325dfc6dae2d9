"""Mixtures screen: the workspace's mixture specs; the selected one as a tree of tasks and their
sources; weights and token budgets edited with the keyboard; balance bars per task and language
that update as you edit; warnings inline; materialise / export / import in workers with progress.

Edits are kept as a draft per mixture (marked *) until `s` saves them; materialise and export
save first. The balance is computed by the engine in a worker (numpy over cached per-row facts),
so typing never blocks. Materialise and import run `workbench mix ...` in a subprocess: they may
load a tokenizer, and torch/transformers stay out of the app process.
"""

from __future__ import annotations

import os
import re
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static, Tree

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen, pane
from screens.cli_jobs import workbench_argv
from screens.jobs import JobPanel
from screens.layout import HintedTable
from screens.mixtures_balance import BalanceView, render_warnings


def _reason(e: Exception) -> str:
    """One line for a form or a notification (pydantic's first message, not its banner)."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return f"{'.'.join(map(str, first.get('loc', ())))}: {first['msg']}".lstrip(": ")
        except Exception:  # noqa: BLE001 - an error of another shape: its text below
            pass
    return str(e).splitlines()[0] if str(e) else type(e).__name__


class BalanceComputed(Message):
    """The balance of mixture `name` at edit `version`, or why it cannot be computed."""

    def __init__(self, name: str, version: int, balance: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.name, self.version, self.balance, self.error = name, version, balance, error


class MixturesScreen(WorkbenchScreen):
    MODE = "mixtures"
    TITLE_TEXT = "Mixtures"
    HELP = (
        "Mixture specs (mixtures/*.toml): tasks made of processed datasets, each source with a sampling "
        "weight (2.5 = two copies + half again; 0.3 = 30% drawn without replacement) or a token budget. "
        "The balance on the right follows every edit; edits are drafts until you save (s)."
    )
    BINDINGS = [
        Binding("n", "new_mixture", "New", id="mixtures.new", tooltip="Create a mixture from the processed datasets"),
        Binding(
            "plus,equals_sign",
            "bump(1)",
            "More",
            id="mixtures.weight.up",
            key_display="+",
            tooltip="Raise the selected source's weight by 0.1 (a budget or a whole task by 10%)",
        ),
        Binding(
            "minus",
            "bump(-1)",
            "Less",
            id="mixtures.weight.down",
            key_display="-",
            tooltip="Lower the selected source's weight by 0.1 (a budget or a whole task by 10%)",
        ),
        Binding(
            "greater_than_sign",
            "scale(2.0)",
            "Double",
            show=False,
            id="mixtures.weight.double",
            key_display=">",
            tooltip="Double the selected source's (or task's) weight or budget",
        ),
        Binding(
            "less_than_sign",
            "scale(0.5)",
            "Halve",
            show=False,
            id="mixtures.weight.halve",
            key_display="<",
            tooltip="Halve the selected source's (or task's) weight or budget",
        ),
        Binding(
            "e",
            "edit",
            "Edit",
            id="mixtures.edit",
            tooltip="Type a weight or token budget (source), validation share (task) or seed (mixture)",
        ),
        Binding(
            "b",
            "toggle_budget",
            "Weight/budget",
            show=False,
            id="mixtures.budget",
            tooltip="Switch the selected source between a weight and a token budget (same rows)",
        ),
        Binding("t", "add_task", "Add task", show=False, id="mixtures.task.add", tooltip="Add a task to the mixture"),
        Binding(
            "a",
            "add_source",
            "Add source",
            show=False,
            id="mixtures.source.add",
            tooltip="Add a processed dataset to the selected task",
        ),
        Binding(
            "d,delete",
            "remove",
            "Remove",
            show=False,
            id="mixtures.remove",
            tooltip="Remove the selected task or source (asks first)",
        ),
        Binding("s", "save", "Save", id="mixtures.save", tooltip="Write the draft to mixtures/NAME.toml"),
        Binding(
            "m",
            "materialize",
            "Materialise",
            id="mixtures.materialize",
            tooltip="Write the build (train/valid JSONL) and its token cache",
        ),
        Binding(
            "x", "export", "Export", id="mixtures.export", tooltip="Export the MFTCoder layout and training config JSON"
        ),
        Binding(
            "i",
            "import_mftcoder",
            "Import",
            show=False,
            id="mixtures.import",
            tooltip="Import an MFTCoder config JSON and its task folders",
        ),
    ]
    DEFAULT_CSS = """
    MixturesScreen #mix-left { width: 62; }
    MixturesScreen #mixtures { height: auto; max-height: 9; }
    MixturesScreen #mix-tree { height: 1fr; }
    MixturesScreen #mix-warnings { padding: 0 1; height: auto; }
    MixturesScreen #mix-label { padding: 0 1; }
    MixturesScreen #mix-progress { padding: 0 1; }
    """

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.drafts: dict[str, Any] = {}  # name -> MixtureSpec being edited
        self.saved: dict[str, dict] = {}  # name -> spec dict as on disk
        self.errors: dict[str, str] = {}  # name -> why its file does not load
        self.current: str | None = None
        self.balance: Any = None
        self.version = 0
        self._filling = False
        self._cols: list[Any] = []

    # -- layout ------------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="split"):
            with pane("Mixtures", id="mix-left"):
                yield EmptyState("", id="mixtures-empty")
                yield HintedTable(id="mixtures", cursor_type="row", zebra_stripes=True)
                yield Static("Tasks and sources", classes="pane-title", id="mix-tree-title")
                yield Tree("mixture", id="mix-tree")
            right = VerticalScroll(classes="pane", id="mix-right")
            right.border_title = "Balance (after sampling)"
            with right:
                yield BalanceView("", id="mix-balance")
                yield Static("Warnings", classes="pane-title")
                yield Static("", id="mix-warnings")
                yield JobPanel(id="mix", label_style="bold")

    def on_mount(self) -> None:
        self._cols = self.query_one("#mixtures", DataTable).add_columns("name", "tasks", "state")
        self.query_one("#mix-tree", Tree).show_root = True
        self.refresh_data()

    # -- data ----------------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        from engine.mixture import store
        from engine.mixture.spec import spec_to_dict

        names = store.names(self.ws)
        for name in names:
            if self._dirty(name):
                continue  # keep the user's draft
            try:
                spec = store.open_spec(self.ws, name)
                self.drafts[name], self.saved[name] = spec, spec_to_dict(spec)
                self.errors.pop(name, None)
            except Exception as e:  # noqa: BLE001 - shown in the table and the balance pane, not a crash
                self.errors[name] = str(e)
                self.drafts.pop(name, None)
        for gone in set(self.drafts) - set(names) - {n for n in self.drafts if self._dirty(n)}:
            self.drafts.pop(gone, None)
        if self.current not in names:
            self.current = names[0] if names else None
        self._fill_table(names)
        empty = self.query_one("#mixtures-empty", EmptyState)
        has = bool(names)
        empty.display = not has
        self.query_one("#mixtures", DataTable).display = has
        if not has:
            hint = (
                ""
                if store.processed_names(self.ws)
                else "\n\nNo processed datasets yet: process some on the Datasets screen (1) or with "
                "`workbench data process`."
            )
            empty.update(
                f"No mixtures yet.\n\nPress [b]n[/b] to create one (one task per processed dataset), "
                f"or [b]i[/b] to import an MFTCoder config.{hint}"
            )
        self._show_current()

    def _fill_table(self, names: list[str]) -> None:
        t = self.query_one("#mixtures", DataTable)
        rows = []
        for name in names:
            spec = self.drafts.get(name)
            state = "error" if name in self.errors else ("modified" if self._dirty(name) else "saved")
            rows.append((name, str(len(spec.tasks)) if spec else "-", state))
        if [k.value for k in t.rows] == names:  # same mixtures: update in place (the cursor stays put)
            for name, tasks, state in rows:
                t.update_cell(name, self._cols[1], tasks, update_width=True)
                t.update_cell(name, self._cols[2], state, update_width=True)
            return
        self._filling = True
        t.clear()
        for row in rows:
            t.add_row(*row, key=row[0])
        if self.current in names:
            t.move_cursor(row=names.index(self.current), animate=False)
        self.call_after_refresh(setattr, self, "_filling", False)

    def _dirty(self, name: str) -> bool:
        from engine.mixture.spec import spec_to_dict

        spec = self.drafts.get(name)
        return spec is not None and name in self.saved and spec_to_dict(spec) != self.saved[name]

    def _names(self) -> list[str]:
        from engine.mixture import store

        return store.names(self.ws)

    @property
    def spec(self) -> Any:
        return self.drafts.get(self.current or "")

    @on(DataTable.RowHighlighted, "#mixtures")
    def _mixture_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key else None
        if self._filling and name != self.current:
            return  # a highlight from refilling the table, not from the user
        if name and name != self.current:
            self.current = name
            self._show_current()

    # -- tree ------------------------------------------------------------------------------------------
    def _show_current(self) -> None:
        tree = self.query_one("#mix-tree", Tree)
        view = self.query_one("#mix-balance", BalanceView)
        self.balance = None
        self.query_one("#mix-tree-title", Static).display = self.current is not None
        if self.current is None:
            tree.display = False
            view.show_message("")
            self.query_one("#mix-warnings", Static).update("")
            return
        tree.display = True
        if self.current in self.errors:
            tree.clear()
            tree.root.set_label(Text(self.current, style="bold red"))
            view.show_message(
                f"This spec does not load:\n{self.errors[self.current]}\n\nFix the file and press r.", style="red"
            )
            self.query_one("#mix-warnings", Static).update("")
            return
        self._build_tree()
        self._recompute()

    def _build_tree(self) -> None:
        tree = self.query_one("#mix-tree", Tree)
        keep = self._cursor_data()
        tree.clear()
        tree.root.data = {"kind": "mixture"}
        spec = self.spec
        for tname, t in spec.tasks.items():
            node = tree.root.add("", data={"kind": "task", "task": tname}, expand=True)
            for s in t.sources:
                node.add_leaf("", data={"kind": "source", "task": tname, "dataset": s.dataset})
        tree.root.expand()
        self._label_tree()
        self._restore_cursor(keep)

    def _cursor_data(self) -> dict | None:
        node = self.query_one("#mix-tree", Tree).cursor_node
        return dict(node.data) if node is not None and node.data else None

    def _restore_cursor(self, data: dict | None) -> None:
        """Put the cursor on the node with this data (its task if the source went away)."""
        tree = self.query_one("#mix-tree", Tree)
        order: list[Any] = []  # visible nodes in display order (every node is expanded)

        def walk(node: Any) -> None:
            order.append(node)
            if node.is_expanded:
                for c in node.children:
                    walk(c)

        walk(tree.root)
        datas = [n.data for n in order]
        line = None
        if data in datas:
            line = datas.index(data)
        elif data and data.get("task"):
            line = next((i for i, d in enumerate(datas) if d == {"kind": "task", "task": data["task"]}), None)
        if line is None:
            line = 1 if len(order) > 1 else 0
        # cursor_line (not move_cursor): new nodes have no line number until the tree is drawn
        tree.cursor_line = line if tree.show_root else max(0, line - 1)

    def _label_tree(self) -> None:
        from engine.mixture.balance import human_count

        tree = self.query_one("#mix-tree", Tree)
        spec, name = self.spec, self.current or ""
        if spec is None:
            return
        b = self.balance
        root = Text(name, style="bold")
        root.append(f"  seed {spec.seed} · valid {100 * spec.valid_fraction:g}%", style="dim")
        if self._dirty(name):
            root.append("  * modified (s saves)", style="bold #d7af00")
        tree.root.set_label(root)
        for tnode in tree.root.children:
            task = (tnode.data or {})["task"]  # (every node of the tree carries its data)
            tb = next((t for t in b.tasks if t["task"] == task), None) if b else None
            label = Text(task, style="bold")
            vf = spec.tasks[task].valid_fraction
            if vf is not None:
                label.append(f"  valid {100 * vf:g}%", style="dim")
            if tb:
                label.append(
                    f"  {100 * tb['share_tokens']:.1f}% of tokens · {tb['train_rows']:,} rows", style="#0087af"
                )
            tnode.set_label(label)
            for snode in tnode.children:
                ds = (snode.data or {})["dataset"]
                src = next((s for s in spec.tasks[task].sources if s.dataset == ds), None)
                if src is None:
                    continue
                sb = next((s for s in tb["sources"] if s["dataset"] == ds), None) if tb else None
                lab = Text(ds)
                if src.mode == "tokens":
                    lab.append(f"  budget {human_count(src.tokens or 0)} tok", style="bold #d7875f")
                else:
                    lab.append(f"  weight {src.effective_weight:g}", style="bold #d7875f")
                if src.languages:
                    lab.append(f"  [{','.join(src.languages)}]", style="dim")
                if sb:
                    lab.append(f"  → {sb['train_rows']:,} rows · {human_count(sb['train_tokens'])} tok", style="dim")
                snode.set_label(lab)

    # -- balance -------------------------------------------------------------------------------------
    def _recompute(self) -> None:
        spec, name = self.spec, self.current
        if spec is None or name is None:
            return
        self.version += 1
        view = self.query_one("#mix-balance", BalanceView)
        if not spec.tasks:
            view.show_message("No tasks yet: press t to add a task, then a to add a processed dataset to it.")
            self.query_one("#mix-warnings", Static).update("")
            return
        if self.balance is None:
            view.show_message("computing the balance ...")
        self._balance_worker(name, spec, self.version)

    @work(thread=True, exclusive=True, group="mix-balance", name="mixture balance", exit_on_error=False)
    def _balance_worker(self, name: str, spec: Any, version: int) -> None:
        from engine.errors import WorkbenchError
        from engine.mixture import store

        try:
            b = store.balance_for(self.ws, spec, name)
        except (WorkbenchError, FileNotFoundError) as e:  # bad input: shown inline, not as a crash
            self.post_message(BalanceComputed(name, version, error=str(e)))
            return
        self.post_message(BalanceComputed(name, version, balance=b))

    def on_balance_computed(self, message: BalanceComputed) -> None:
        if message.name != self.current or message.version != self.version:
            return  # an older edit's result
        if message.error is not None:
            self._balance_failed(message.error)
            return
        b = self.balance = message.balance
        self.query_one("#mix-balance", BalanceView).show(b, selected_task=self._selected_task())
        self.query_one("#mix-warnings", Static).update(render_warnings(b))
        self._label_tree()

    def _balance_failed(self, message: str) -> None:
        self.balance = None
        self.query_one("#mix-balance", BalanceView).show_message(message, style="red")
        self.query_one("#mix-warnings", Static).update("")
        self._label_tree()

    def _selected_task(self) -> str | None:
        d = self._cursor_data()
        return d.get("task") if d else None

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if self.balance is not None:
            self.query_one("#mix-balance", BalanceView).show(self.balance, selected_task=self._selected_task())

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data and event.node.data.get("kind") == "source":
            self.action_edit()

    # -- edits ------------------------------------------------------------------------------------------
    def _apply(self, spec: Any, *, structure: bool = False) -> None:
        if self.current is None:
            return
        self.drafts[self.current] = spec
        if structure:
            self._build_tree()
        else:
            self._label_tree()
        self._fill_table(self._names())
        self._recompute()

    def _need_spec(self) -> bool:
        if self.spec is None:
            self.notify("no mixture selected: press n to create one", severity="warning")
            return False
        return True

    def _source_train_tokens(self, task: str, dataset: str) -> int | None:
        if self.balance is None:
            return None
        for t in self.balance.tasks:
            if t["task"] == task:
                for s in t["sources"]:
                    if s["dataset"] == dataset:
                        return int(s["train_tokens"])
        return None

    def _scaled(self, spec: Any, task: str, dataset: str, factor: float | None, step: float = 0.0) -> Any:
        from engine.mixture.spec import set_tokens, set_weight

        src = next(s for s in spec.tasks[task].sources if s.dataset == dataset)
        if src.mode == "tokens":
            f = factor if factor is not None else (1.1 if step > 0 else 1 / 1.1)
            return set_tokens(spec, task, dataset, max(1, int(round((src.tokens or 1) * f))))
        w = src.effective_weight * factor if factor is not None else src.effective_weight + step
        return set_weight(spec, task, dataset, max(0.0, w))

    def action_bump(self, direction: int) -> None:
        self._change(None, 0.1 * direction)

    def action_scale(self, factor: float) -> None:
        self._change(factor, 0.0)

    def _change(self, factor: float | None, step: float) -> None:
        from engine.errors import WorkbenchError

        try:
            self._change_unchecked(factor, step)
        except (ValueError, LookupError, WorkbenchError) as e:  # e.g. a weight past the allowed maximum
            self.notify(_reason(e), severity="warning")

    def _change_unchecked(self, factor: float | None, step: float) -> None:
        if not self._need_spec():
            return
        d = self._cursor_data()
        if not d or d.get("kind") == "mixture":
            self.notify("select a task or a source in the tree", severity="warning")
            return
        spec = self.spec
        if d["kind"] == "source":
            spec = self._scaled(spec, d["task"], d["dataset"], factor, step)
        else:  # a whole task: every source by the same factor
            f = factor if factor is not None else (1.1 if step > 0 else 1 / 1.1)
            for s in list(spec.tasks[d["task"]].sources):
                spec = self._scaled(spec, d["task"], s.dataset, f)
        self._apply(spec)

    def action_edit(self) -> None:
        if not self._need_spec():
            return
        from engine.mixture.spec import parse_amount, set_task_valid_fraction, set_tokens, set_weight
        from screens.mixtures_forms import PromptForm

        d = self._cursor_data() or {"kind": "mixture"}
        spec = self.spec
        if d["kind"] == "source":
            src = next(s for s in spec.tasks[d["task"]].sources if s.dataset == d["dataset"])
            current = f"{src.tokens}" if src.mode == "tokens" else f"{src.effective_weight:g}"

            def parse(text: str) -> tuple[str, float]:
                t = text.lower().replace("tokens", "").replace("tok", "").strip()
                if t.startswith(("x", "w")):
                    return "weight", parse_amount(t[1:])
                v = parse_amount(t)
                if t and t[-1] in "kmg" or v > 1000 or (src.mode == "tokens" and v > 1):
                    return "tokens", v
                return "weight", v

            def build(text: str) -> Any:
                kind, v = parse(text)
                if kind == "tokens":
                    return set_tokens(spec, d["task"], d["dataset"], int(v))
                return set_weight(spec, d["task"], d["dataset"], v)

            def check(text: str) -> str | None:
                try:
                    build(text)
                except Exception as e:  # noqa: BLE001 - shown in the form; nothing changes
                    return _reason(e)
                return None

            def done(text: str | None) -> None:
                if text is not None:
                    self._apply(build(text))

            self.app.push_screen(
                PromptForm(
                    f"{d['task']} / {d['dataset']}",
                    "Weight (e.g. 0.5, 2.5) or token budget (e.g. 300k, 2M)",
                    current,
                    hint="weight = sampling ratio of the source's rows (over 1 repeats them; under 1 draws without "
                    "replacement); a budget draws rows until that many tokens",
                    check=check,
                ),
                done,
            )
        elif d["kind"] == "task":
            vf = spec.tasks[d["task"]].valid_fraction

            def parse_f(text: str) -> float | None:
                if not text:
                    return None
                return parse_amount(text[:-1]) / 100 if text.endswith("%") else parse_amount(text)

            def check_f(text: str) -> str | None:
                try:
                    f = parse_f(text)
                except Exception as e:  # noqa: BLE001 - shown in the form; nothing changes
                    return str(e)
                return None if f is None or 0 < f < 1 else "between 0 and 1 (or a percentage like 5%)"

            self.app.push_screen(
                PromptForm(
                    f"task {d['task']}",
                    "Validation share of the task's rows (empty = the mixture's)",
                    "" if vf is None else f"{vf:g}",
                    hint="at least one row is always held out",
                    check=check_f,
                ),
                lambda text: (
                    None if text is None else self._apply(set_task_valid_fraction(spec, d["task"], parse_f(text)))
                ),
            )
        else:

            def check_seed(text: str) -> str | None:
                return None if re.fullmatch(r"-?\d+", text) else "an integer"

            self.app.push_screen(
                PromptForm(f"mixture {self.current}", "Seed (split and sampling)", str(spec.seed), check=check_seed),
                lambda text: None if text is None else self._apply(spec.model_copy(update={"seed": int(text)})),
            )

    def action_toggle_budget(self) -> None:
        if not self._need_spec():
            return
        from engine.mixture.spec import set_tokens, set_weight

        d = self._cursor_data()
        if not d or d.get("kind") != "source":
            self.notify("select a source to switch between weight and token budget", severity="warning")
            return
        spec = self.spec
        src = next(s for s in spec.tasks[d["task"]].sources if s.dataset == d["dataset"])
        if src.mode == "weight":
            tokens = self._source_train_tokens(d["task"], d["dataset"])
            if not tokens:
                self.notify("the balance is not ready yet", severity="warning")
                return
            self._apply(set_tokens(spec, d["task"], d["dataset"], tokens))
        else:
            eff = None
            if self.balance is not None:
                tb = next((t for t in self.balance.tasks if t["task"] == d["task"]), None)
                sb = next((s for s in tb["sources"] if s["dataset"] == d["dataset"]), None) if tb else None
                eff = sb["effective_weight"] if sb else None
            self._apply(set_weight(spec, d["task"], d["dataset"], round(eff if eff is not None else 1.0, 3)))

    def action_add_task(self) -> None:
        if not self._need_spec():
            return
        from engine.mixture.spec import NAME_RE, add_task
        from screens.mixtures_forms import PromptForm

        spec = self.spec

        def check(text: str) -> str | None:
            if not NAME_RE.match(text):
                return "letters, digits, '-' and '_' only"
            return f"task {text!r} exists" if text in spec.tasks else None

        def done(text: str | None) -> None:
            if text:
                self._apply(add_task(spec, text), structure=True)
                self._restore_cursor({"kind": "task", "task": text})
                self.action_add_source()

        self.app.push_screen(PromptForm("Add a task", "Task name (becomes loss/<task> in metrics)", check=check), done)

    def action_add_source(self) -> None:
        if not self._need_spec():
            return
        from engine.mixture import store
        from engine.mixture.spec import add_source
        from screens.mixtures_forms import PickForm

        task = self._selected_task()
        if task is None:
            self.notify("select a task first (or press t to add one)", severity="warning")
            return
        spec = self.spec
        have = {s.dataset for s in spec.tasks[task].sources}
        options = [n for n in store.processed_names(self.ws) if n not in have]
        if not options:
            self.notify("no other processed dataset to add", severity="warning")
            return

        def done(ds: str | None) -> None:
            if ds:
                self._apply(add_source(self.spec, task, ds), structure=True)
                self._restore_cursor({"kind": "source", "task": task, "dataset": ds})

        self.app.push_screen(PickForm(f"Add a dataset to task {task}", options), done)

    def action_remove(self) -> None:
        if not self._need_spec():
            return
        from engine.mixture.spec import remove
        from screens.dialogs import ConfirmDialog

        d = self._cursor_data()
        if not d or d.get("kind") == "mixture":
            self.notify("select a task or a source to remove", severity="warning")
            return
        what = f"source {d['dataset']} of task {d['task']}" if d["kind"] == "source" else f"task {d['task']}"

        def done(yes: bool | None) -> None:
            if yes:
                self._apply(remove(self.spec, d["task"], d.get("dataset")), structure=True)

        self.app.push_screen(ConfirmDialog(f"Remove {what} from the draft? (s saves the change)"), done)

    def action_save(self) -> bool:
        from engine.mixture import store
        from engine.mixture.spec import spec_to_dict

        if not self._need_spec():
            return False
        name, spec = self.current or "", self.spec
        path = store.write_spec(self.ws, name, spec)
        self.saved[name] = spec_to_dict(spec)
        self._label_tree()
        self._fill_table(self._names())
        self.notify(f"saved {path.relative_to(self.ws.root)}", timeout=2)
        return True

    def action_new_mixture(self) -> None:
        from engine.mixture import store
        from engine.mixture.spec import NAME_RE
        from screens.mixtures_forms import PromptForm

        existing = set(store.names(self.ws))

        def check(text: str) -> str | None:
            if not NAME_RE.match(text):
                return "letters, digits, '-' and '_' only"
            return f"mixture {text!r} exists" if text in existing else None

        def done(text: str | None) -> None:
            if not text:
                return
            _, spec = store.create(self.ws, text)
            self.current = text
            self.refresh_data()
            self.query_one("#mix-tree", Tree).focus()
            self.notify(f"created mixture {text} with {len(spec.tasks)} task{'s' if len(spec.tasks) != 1 else ''}")

        n = len(store.processed_names(self.ws))
        self.app.push_screen(
            PromptForm(
                "New mixture", "Name", check=check, hint=f"starts with one task per processed dataset ({n} found)"
            ),
            done,
        )

    # -- jobs (one JobPanel: a subprocess or a file-only engine call) ----------------------------------
    @property
    def job(self) -> str | None:
        """The running job's title (None when idle)."""
        return self.query_one("#mix", JobPanel).title

    def _job_end(self, message: str) -> None:
        self.query_one("#mix", JobPanel).show(Text(message, style="green"))

    def action_materialize(self) -> None:
        if not self._need_spec() or (self._dirty(self.current or "") and not self.action_save()):
            return
        self._cli_job(f"materialising {self.current}", ["mix", "materialize", self.current or ""], "materialize")

    def action_export(self) -> None:
        if not self._need_spec():
            return
        from screens.mixtures_forms import PromptForm

        default = str(self.ws.mixtures_dir / (self.current or "") / "mftcoder")

        def done(text: str | None) -> None:
            if text and (not self._dirty(self.current or "") or self.action_save()):
                self._export(self.current or "", os.path.expanduser(text))

        self.app.push_screen(
            PromptForm(
                "Export to MFTCoder",
                "Folder (one sub-folder per task + train_config.json)",
                default,
                hint="a new or empty folder, or an earlier export (replaced)",
            ),
            done,
        )

    def action_import_mftcoder(self) -> None:
        from screens.mixtures_forms import PromptForm

        def check(text: str) -> str | None:
            return None if os.path.isfile(os.path.expanduser(text)) else "no such file"

        def done(text: str | None) -> None:
            if text:
                self._cli_job(
                    "importing an MFTCoder config", ["mix", "import-mftcoder", os.path.expanduser(text)], "import"
                )

        self.app.push_screen(
            PromptForm(
                "Import an MFTCoder config",
                "Config JSON (e.g. qwen_train_config_1_8B.json)",
                check=check,
                hint="its data_paths task folders become processed datasets; "
                "a run config is written to configs/NAME.toml",
            ),
            done,
        )

    def _export(self, name: str, out_dir: str) -> None:
        """Export writes files only (no tokenizer): an engine call in a worker thread."""
        from engine.mixture.mftcoder import PHASES, export_mftcoder

        self.query_one("#mix", JobPanel).run_call(
            f"exporting {name} to MFTCoder",
            lambda report: {**export_mftcoder(self.ws, name, out_dir, progress=report), "mixture": name},
            kind="export",
            name="mixture export",
            phases=PHASES,
        )

    def _cli_job(self, title: str, args: list[str], kind: str) -> None:
        """Materialise and import load the tokenizer: `workbench ARGS --progress-jsonl` in a subprocess."""
        argv = workbench_argv(self.ws.root, *args, "--progress-jsonl")
        self.query_one("#mix", JobPanel).run_command(title, argv, kind=kind, name="mixture command")

    @on(JobPanel.Finished, "#mix")
    def _job_finished(self, message: JobPanel.Finished) -> None:
        if message.cancelled:
            return
        if message.job == "export":
            res = message.result
            rows = sum(res["tasks"].values())
            msg = f"exported {rows:,} rows in {len(res['tasks'])} task folders to {res['out_dir']}"
            if res["notes"]:
                msg += "\n" + "\n".join(f"note: {n}" for n in res["notes"])
            self._job_end(msg)
            self.notify(f"exported {res['mixture']} to {res['out_dir']}")
            return
        res = message.result.done
        if message.job == "materialize":
            self._job_end(
                f"{'reused' if res['cached'] else 'wrote'} build {res['id']} · "
                f"{sum(t['train_rows'] for t in res['tasks'].values()):,} train rows"
                + (
                    f" · token cache {'reused' if res['tokens_cached'] else 'written'}"
                    if res.get("token_cache")
                    else ""
                )
                + "".join(f"\nnote: {n}" for n in res.get("notes", []))
            )
        else:
            self._job_end(f"imported {res['mixture']}: {len(res['tasks'])} tasks; run config {res['run_config']}")
            self._after_import(res["mixture"])

    def _after_import(self, name: str) -> None:
        self.current = name
        self.refresh_data()

    # -- palette -----------------------------------------------------------------------------------------
    def palette_commands(self) -> list[PaletteCommand]:
        cmds = [
            PaletteCommand("mixture: new", "Create a mixture from the processed datasets (n)", self.action_new_mixture),
            PaletteCommand(
                "mixture: import MFTCoder config",
                "Config JSON + task folders -> mixture + run config (i)",
                self.action_import_mftcoder,
            ),
        ]
        if self.spec is not None:
            cmds += [
                PaletteCommand("mixture: save", f"Write {self.current}.toml (s)", self.action_save),
                PaletteCommand(
                    "mixture: materialize", "Build the train/valid files and token cache (m)", self.action_materialize
                ),
                PaletteCommand(
                    "mixture: export to MFTCoder", "Task folders + train_config.json (x)", self.action_export
                ),
                PaletteCommand("mixture: add task", "Add a task (t)", self.action_add_task),
                PaletteCommand("mixture: add source", "Add a dataset to the selected task (a)", self.action_add_source),
            ]
            if self._dirty(self.current or ""):
                cmds.append(PaletteCommand("mixture: revert", "Drop unsaved edits", self._revert))
        return cmds

    def _revert(self) -> None:
        if self.current:
            self.saved.pop(self.current, None)
            self.drafts.pop(self.current, None)
            self.refresh_data()
