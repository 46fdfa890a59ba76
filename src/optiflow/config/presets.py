"""Find shipped config presets by path or short name ("A", "optiscalpA", "swing1")."""

from __future__ import annotations

from pathlib import Path

from optiflow.domain.errors import UserInputError

_PREFIX = "runtime_config_"


def default_configs_dir() -> Path:
    """The repository's ``configs/`` folder, or the copy shipped in the package (pip install .)."""
    repo = Path(__file__).resolve().parents[3] / "configs"
    shipped = Path(__file__).resolve().parents[1] / "presets"
    return repo if repo.is_dir() or not shipped.is_dir() else shipped


def _normal(name: str) -> str:
    """Compare names case-insensitively, ignoring '_', '-' and spaces."""
    return "".join(ch for ch in name.lower() if ch not in "_- ")


def preset_names(configs_dir: Path | None = None) -> dict[str, Path]:
    """Short name -> file of every preset JSON in the folder, e.g. {'optiscalpA': ...}."""
    folder = default_configs_dir() if configs_dir is None else configs_dir
    if not folder.is_dir():
        return {}
    return {p.stem.removeprefix(_PREFIX): p for p in sorted(folder.glob("*.json"))}


def _aliases(short: str) -> set[str]:
    """Every normalised spelling that selects a preset."""
    names = {_normal(short), _normal(_PREFIX + short)}
    if short.lower().startswith("optiscalp") and len(short) > len("optiscalp"):
        names.add(_normal(short[len("optiscalp") :]))
    return names


def find_config(name_or_path: str | Path, configs_dir: Path | None = None) -> Path:
    """An existing config file path, or the preset a short name selects; else UserInputError."""
    as_path = Path(name_or_path).expanduser()
    if as_path.is_file():
        return as_path
    presets = preset_names(configs_dir)
    wanted = _normal(as_path.name.removesuffix(".json"))
    if wanted and as_path.parent == Path("."):
        for short, path in presets.items():
            if wanted in _aliases(short):
                return path
    listing = ", ".join(presets) or "(none found)"
    folder = default_configs_dir() if configs_dir is None else configs_dir
    raise UserInputError(
        f"no config file or preset named {str(name_or_path)!r}; "
        f"give a path to a .json file or one of the presets in {folder}: {listing} "
        f"(A, B and C select optiscalpA/B/C)"
    )
