"""The launch form: start from a preset, set the model, the mixture and the key hyperparameters;
the config is validated as you type (the same TrainConfig the trainer uses) and the exact
command is shown. Launching writes the config to runs/.configs/ and hands it to
`workbench train launch` (environment check, run directory, detached process)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.markup import escape as esc
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from engine.train.config import choices, value_type
from screens.forms import FormScreen

# (widget id, label, config key); what each field parses to comes from TrainConfig
FIELDS: list[tuple[str, str, str]] = [
    ("f-name", "Run name", "name"),
    ("f-model", "Model (folder or hub id)", "model.path"),
    ("f-mixture", "Mixture (name or build folder)", "data.mixture"),
    ("f-seq", "Sequence length", "data.seq_length"),
    ("f-lr", "Learning rate", "optim.lr"),
    ("f-epochs", "Epochs", "loop.epochs"),
    ("f-steps", "Max steps (0 = from epochs)", "loop.max_steps"),
    ("f-mb", "Micro-batch size", "loop.micro_batch_size"),
    ("f-ga", "Gradient accumulation", "loop.grad_accum"),
    ("f-rank", "LoRA rank", "peft.lora_rank"),
    ("f-gpus", "GPUs per machine (0 = CPU)", "launch.num_gpus"),
]
# (widget id, label, config key); the options are the key's allowed values in TrainConfig
SELECTS: list[tuple[str, str, str]] = [
    ("s-method", "Fine-tuning", "peft.method"),
    ("s-loss", "Loss mode", "loss.mode"),
    ("s-ds", "DeepSpeed ZeRO stage", "launch.deepspeed_stage"),
]


def _get(d: dict[str, Any], dotted: str) -> Any:
    for p in dotted.split("."):
        d = d[p]
    return d


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def model_found(ws_root: Path, model: str) -> bool:
    p = Path(model).expanduser()
    if (p if p.is_absolute() else ws_root / p).is_dir() or p.is_dir():
        return True
    parts = model.split("/")
    return len(parts) == 2 and all(parts) and not model.startswith((".", "/", "~"))  # a hub id


class LaunchForm(FormScreen[dict | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="launch.cancel", tooltip="Close the form without launching"),
        Binding("ctrl+l", "submit", "Launch", id="launch.submit", tooltip="Validate, then launch the run"),
    ]
    DEFAULT_CSS = """
    LaunchForm { align: center middle; }
    LaunchForm > Vertical { width: 96%; max-width: 130; height: 94%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    LaunchForm VerticalScroll { height: 1fr; }
    LaunchForm Grid { grid-size: 4; grid-columns: 1fr 2fr 1fr 2fr; grid-rows: 3; height: auto; }
    LaunchForm Label { padding: 1 1 0 0; }
    LaunchForm #launch-errors { color: $error; height: auto; padding: 0 1; }
    LaunchForm #launch-command { height: auto; padding: 0 1; color: $text-muted; }
    LaunchForm Horizontal { height: auto; }
    LaunchForm Button { margin: 0 1 0 0; }
    """

    def __init__(self, ws: Any, presets: list[str], preset: str) -> None:
        super().__init__()
        self.ws = ws
        self.presets = presets
        self.preset = preset
        self.base: dict[str, Any] = {}
        self.config: Any = None
        self._filling = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Launch a training run[/b]  [dim]enter or ctrl+l launches, esc closes[/dim]")
            with VerticalScroll():
                with Grid():
                    yield Label("Preset")
                    yield Select([(p, p) for p in self.presets], value=self.preset, allow_blank=False, id="s-preset")
                    for sid, label, key in SELECTS:
                        yield Label(label)
                        yield Select([(str(o), str(o)) for o in choices(key)], allow_blank=False, id=sid)
                    for fid, label, _ in FIELDS:
                        yield Label(label)
                        yield Input(id=fid)
                yield Static("", id="launch-errors")
                yield Static("", id="launch-command")
            with Horizontal():
                yield Button("Launch", id="launch", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._fill_from_preset(self.preset)

    # -- preset -> fields ---------------------------------------------------------------------
    def _fill_from_preset(self, name: str) -> None:
        from engine.train.presets import load_preset

        cfg = load_preset(name)
        self.base = cfg.model_dump(mode="json")
        self._filling = True
        try:
            for fid, _, key in FIELDS:
                self.query_one(f"#{fid}", Input).value = str(_get(self.base, key))
            for sid, _, key in SELECTS:
                self.query_one(f"#{sid}", Select).value = str(_get(self.base, key))
        finally:
            self._filling = False
        self.validate_form()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "s-preset" and event.value != self.preset and isinstance(event.value, str):
            self.preset = event.value
            self._fill_from_preset(event.value)
        elif not self._filling:
            self.validate_form()

    def on_input_changed(self, event: Input.Changed) -> None:
        if not self._filling:
            self.validate_form()

    # -- validation -------------------------------------------------------------------------------
    def form_data(self) -> tuple[dict[str, Any], list[str]]:
        import copy

        data = copy.deepcopy(self.base)
        errors = []
        for fid, label, key in FIELDS:
            raw = self.query_one(f"#{fid}", Input).value.strip()
            kind = value_type(key)
            try:
                value: Any = kind(raw) if kind in (int, float) else raw
            except ValueError:
                errors.append(f"{label}: '{raw}' is not a {'whole number' if kind is int else 'number'}")
                continue
            _set(data, key, value)
        for sid, _, key in SELECTS:
            v = self.query_one(f"#{sid}", Select).value
            _set(data, key, next((o for o in choices(key) if str(o) == v), v))
        return data, errors

    def validate_form(self) -> bool:
        from pydantic import ValidationError

        from engine.errors import InputError
        from engine.train.config import TrainConfig
        from engine.train.launch import format_command, start_run

        data, errors = self.form_data()
        cfg = None
        if not errors:
            try:
                cfg = TrainConfig.model_validate(data)
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(p) for p in err.get("loc", ()))
                msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
                errors.append(f"{where}: {msg}" if where else msg)
        plan = None
        if cfg is not None:
            if not model_found(self.ws.root, cfg.model.path):
                errors.append(f"model.path: '{cfg.model.path}' is neither a folder nor a hub id (owner/name)")
            try:  # the launch's own dry run: resolves the mixture, builds and writes nothing
                plan = start_run(
                    cfg, workspace_root=self.ws.root, runs_dir=self.ws.runs_dir, check=False, dry_run=True
                ).plan
            except InputError:
                errors.append(
                    f"data.mixture: no mixture '{cfg.data.mixture}' (mixtures/{cfg.data.mixture}.toml or "
                    "a build folder with mixture.json)"
                )
        self.config = cfg if not errors else None
        self.query_one("#launch-errors", Static).update("\n".join(esc(e) for e in errors))
        cmd = self.query_one("#launch-command", Static)
        if cfg is not None and plan is not None:
            same = format_command(["workbench", "-w", str(self.ws.root), "train", "launch", self.config_path_hint()])
            lines = [f"[b]command[/b] {esc(plan.command)}", f"[b]same as[/b]  {esc(same)}"]
            lines += [f"[b]machine {m}[/b] {esc(c)}" for m, c in plan.node_commands.items()]
            cmd.update("\n".join(lines))
        else:
            cmd.update("")
        self.query_one("#launch", Button).disabled = bool(errors)
        return not errors

    def config_path_hint(self) -> str:
        name = self.query_one("#f-name", Input).value.strip() or "run"
        return str(self.ws.runs_dir / ".configs" / f"{name}-<time>.toml")

    # -- submit -----------------------------------------------------------------------------------
    def action_submit(self) -> None:
        from engine.fsutil import atomic_write_text

        if not self.validate_form():
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.ws.runs_dir / ".configs" / f"{self.config.name}-{stamp}.toml"
        atomic_write_text(
            path, f"# written by the workbench launch form (preset {self.preset})\n" + self.config.to_toml()
        )
        self.dismiss({"config_path": str(path), "name": self.config.name})
