"""`[data] mixture` of a run config -> a build folder: the one resolver (the trainer, the launch
preview, the environment check and the launch form all ask it).

    resolve_mixture(mixture, root)   what is there now, building nothing: BUILT (a folder holding
                                     mixture.json, or the newest build of a named mixture),
                                     SPEC_ONLY (mixtures/<name>.toml, never built) or MISSING
    materialized(ref, root)          the build a run trains on: a named spec is materialised
                                     through engine.mixture (an existing build of the same spec
                                     and inputs is reused); a build folder as is
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from engine.errors import InputError
from engine.mixture.manifest import is_build, manifest_path


class MixtureStatus(str, Enum):
    BUILT = "built"
    SPEC_ONLY = "spec only"
    MISSING = "missing"


@dataclass(frozen=True)
class MixtureRef:
    mixture: str  # as the config gives it
    status: MixtureStatus
    build: Path | None = None  # BUILT: the build folder (absolute)
    spec: Path | None = None  # a named mixture's spec file, when there is one
    tried: tuple[str, ...] = ()  # the folders looked in (for the error)

    @property
    def found(self) -> bool:
        return self.status != MixtureStatus.MISSING

    def error(self) -> InputError:
        return InputError(
            f"mixture '{self.mixture}' not found: no mixture.json in {', '.join(self.tried)}. "
            "Give a mixture name with a materialised build or a build folder path",
            field="data.mixture",
        )

    def require_build(self) -> Path:
        """The build folder as it is now; an InputError when there is none (yet)."""
        if self.build is None:
            raise self.error()
        return self.build


def resolve_mixture(mixture: str, workspace_root: str | Path | None = None) -> MixtureRef:
    """A build folder path (absolute, workspace-relative or cwd-relative) or a mixture name."""
    root = Path(workspace_root) if workspace_root else None
    given = Path(mixture).expanduser()
    candidates = ([root / mixture] if root is not None and not given.is_absolute() else []) + [given]
    tried = [str(c) for c in candidates]
    named = root is not None and "/" not in mixture and bool(mixture.strip())
    spec = root / "mixtures" / f"{mixture}.toml" if named and root is not None else None
    spec = spec if spec is not None and spec.is_file() else None
    for c in candidates:
        if is_build(c):
            return MixtureRef(mixture, MixtureStatus.BUILT, build=c.resolve(), tried=tuple(tried))
    if named and root is not None:
        builds = root / "mixtures" / mixture / "builds"
        tried.append(str(builds))
        done = [d for d in builds.iterdir() if is_build(d)] if builds.is_dir() else []
        if done:
            newest = max(done, key=lambda d: manifest_path(d).stat().st_mtime)
            return MixtureRef(mixture, MixtureStatus.BUILT, build=newest.resolve(), spec=spec, tried=tuple(tried))
    status = MixtureStatus.SPEC_ONLY if spec is not None else MixtureStatus.MISSING
    return MixtureRef(mixture, status, spec=spec, tried=tuple(tried))


def materialized(ref: MixtureRef, workspace_root: str | Path | None) -> Path:
    """The build to train on. A named mixture with a spec is (re)built from it, so a launch after
    editing the spec or its datasets never trains on a stale build; a folder path is used as is."""
    if ref.spec is not None and workspace_root is not None:
        from engine.mixture.materialize import materialize
        from engine.workspace import Workspace

        # without tokens: the trainer tokenises with its own tokenizer
        got = materialize(Workspace.open(Path(workspace_root)), ref.mixture, tokenize_cache=False).build_dir
        return Path(got).resolve()
    return ref.require_build()
