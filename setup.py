"""Build hook: ship the preset configs (configs/*.json) inside the package as optiflow/presets."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithPresets(build_py):
    """build_py that also copies configs/*.json to optiflow/presets/ in the built package."""

    def run(self) -> None:
        """Build the package, then add the presets."""
        super().run()
        target = Path(self.build_lib) / "optiflow" / "presets"
        target.mkdir(parents=True, exist_ok=True)
        for preset in sorted(Path(__file__).parent.joinpath("configs").glob("*.json")):
            shutil.copyfile(preset, target / preset.name)


setup(cmdclass={"build_py": BuildPyWithPresets})
