"""Ship the card registries inside the package, so a wheel installed anywhere finds them.

The cards (``attacks/``, ``models/`` with its checkpoints, ``datasets/`` with its manifests,
``membership/``) live at the top of the clone, where a reader browses them and where they cannot
shadow Hugging Face's ``datasets`` package. A wheel copies them to ``bench/_shipped/``, which ``bench.utils.paths``
reads when the package does not run from a clone. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CARD_KINDS = ("attacks", "models", "datasets", "membership")


class BuildWithCards(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the clone's folders directly
            return
        here = Path(__file__).resolve().parent
        shipped = Path(self.build_lib) / "bench" / "_shipped"
        for kind in CARD_KINDS:
            shutil.rmtree(shipped / kind, ignore_errors=True)
            shutil.copytree(here / kind, shipped / kind)


setup(cmdclass={"build_py": BuildWithCards})
