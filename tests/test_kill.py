"""``kill -9`` during ``texsynth synth``, ``sample``, ``train``, ``expand`` and
``train-expander`` (issue 17): whenever the process dies, the output path holds the old file
or the complete new one, never a loss; the sidecar is the old or the new one and parses; a
training checkpoint left behind is complete and ``--resume`` finishes the run; and the next
normal run to the same output succeeds and removes the hidden temporaries the killed process
left.

Each command first writes its output once (the "old" file) and once elsewhere with another
seed (the "new" reference, whose ``os.replace``/``os.fsync`` calls are counted). It is then
killed, with SIGKILL, just before and just after every move of a finished temporary into
place and just before every flush of a temporary to disk (``tests/kill_driver.py`` runs each
attempt in a forked child that kills itself there), and, as a user would, by an outside
``kill -9`` of the real ``texsynth`` command right after it starts and as soon as its first
temporary appears on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth.atomic import MARKER_KEY
from texsynth.cli.generators import checkpoint_path
from texsynth.expander.model import load_expander
from texsynth.generators import load_generator, read_generator_metadata
from texsynth.generators.serialization import load_checkpoint_file
from texsynth.io import read_image
from texsynth.training_files import checkpoint_path as expander_checkpoint_path

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(os, "fork"), reason="POSIX signals and fork"
)

DRIVER = Path(__file__).with_name("kill_driver.py")
TRAIN = ["--size", "16x16", "--depth", "2", "--width", "2", "--batch", "1", "--quiet"]
# the smallest expander training: procedural textures only, checkpoints at steps 2 and 3
TRAIN_EXPANDER = ["--size", "16", "--batch", "1", "--widths", "8,8,8", "--decoder-width", "8",
                  "--steps", "3", "--checkpoint-every", "2", "--quiet"]  # fmt: skip
OLD_SEED, NEW_SEED = 1, 2


class Driver:
    """A ``tests/kill_driver.py`` process: runs commands in forked children (see there)."""

    def __init__(self, log: Path) -> None:
        self._log = open(log, "w")  # noqa: SIM115 (closed in close())
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        self.log = log

    def run(self, argv: list[str], kill: dict | None = None) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "kill": kill}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the kill driver died:\n{self.log.read_text()[-3000:]}"
        return json.loads(line)

    def ok(self, argv: list[str]) -> dict:
        """Run ``argv`` to the end; it must succeed."""
        answer = self.run(argv)
        assert answer["code"] == 0, (argv, answer, self.log.read_text()[-3000:])
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self._log.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    d = Driver(tmp_path_factory.mktemp("driver") / "driver.log")
    yield d
    d.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, driver: Driver) -> Path:
    """A 32x32 exemplar and a tiny generator trained on it (the smallest the CLI allows)."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(d / "ex.png")
    driver.ok(["train", str(d / "ex.png"), "-o", str(d / "m.safetensors"), "--steps", "1", *TRAIN])
    return d


# ----------------------------------------------------------------------------- the commands


def _same_weights(a: Path, b: Path, load: Callable = load_generator) -> bool:
    sa, sb = load(a).state_dict(), load(b).state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _checkpoint_seed(ckpt: Path) -> int | None:
    """The seed of the run that wrote an expander training checkpoint."""
    meta = load_checkpoint_file(ckpt)[1]
    return json.loads(meta["identity"])["settings"]["seed"] if "identity" in meta else None


@dataclass
class Command:
    """How to run one command and what its complete output looks like."""

    name: str
    output: str  # file name of -o
    argv: Callable[[Path, Path, int], list[str]]  # (inputs folder, output, seed)
    sidecar: bool  # writes OUTPUT.json
    checkpoint: bool  # keeps a training checkpoint
    # moves of a finished temporary into place in a whole run, at least: synth, sample and
    # expand write an image and a sidecar, each staged then moved (4); train its checkpoint at
    # step 100, at the end and the model (6); train-expander its checkpoint at steps 2 and 3
    # and the model (3)
    replaces: int = 4
    # train-expander keeps its checkpoint once finished (to train on with more steps)
    keeps_checkpoint: bool = False

    def checkpoint_of(self, out: Path) -> Path:
        """Where this command keeps the training checkpoint of ``out``."""
        if self.name == "train-expander":
            return expander_checkpoint_path(out)
        return checkpoint_path(out)

    def checkpoint_is_new(self, out: Path) -> bool:
        """Whether the checkpoint of ``out`` is the killed (new) run's, not the old run's
        finished one (only train-expander keeps a finished run's checkpoint)."""
        ckpt = self.checkpoint_of(out)
        if not ckpt.exists():
            return False
        return not self.keeps_checkpoint or _checkpoint_seed(ckpt) == NEW_SEED

    def is_new(self, out: Path, ref: Path) -> bool:
        """Whether ``out`` is the complete file the killed run was writing (``ref``)."""
        if self.name == "train":
            meta = read_generator_metadata(out)["metadata"]
            return meta["settings"]["seed"] == NEW_SEED and _same_weights(out, ref)
        if self.name == "train-expander":  # its record holds timings: compare weights
            return _same_weights(out, ref, load_expander)
        read_image(out)  # loads
        return out.read_bytes() == ref.read_bytes()  # the same seed draws the same image


COMMANDS = [
    Command(
        "synth",
        "t.png",
        lambda d, out, seed: [
            "synth",
            str(d / "ex.png"),
            "-o",
            str(out),
            "--method",
            "patch",
            "--quality",
            "fast",
            "--seed",
            str(seed),
            "--quiet",
        ],
        sidecar=True,
        checkpoint=False,
    ),
    Command(
        "sample",
        "s.png",
        lambda d, out, seed: [
            "sample",
            str(d / "m.safetensors"),
            "-o",
            str(out),
            "--size",
            "24",
            "--seed",
            str(seed),
            "--quiet",
        ],
        sidecar=True,
        checkpoint=False,
    ),
    Command(
        "train",
        "g.safetensors",
        # 101 steps: a checkpoint at step 100 (mid-run) and one at the end, before the model
        lambda d, out, seed: [
            "train",
            str(d / "ex.png"),
            "-o",
            str(out),
            "--steps",
            "101",
            "--seed",
            str(seed),
            *TRAIN,
        ],
        sidecar=False,
        checkpoint=True,
        replaces=6,
    ),
    Command(
        "expand",
        "x.png",
        # the expander as shipped draws nothing: the new output is the tileable one
        lambda d, out, seed: [
            "expand",
            str(d / "ex.png"),
            "-o",
            str(out),
            "--seed",
            str(seed),
            *(["--periodic"] if seed == NEW_SEED else []),
        ],
        sidecar=True,
        checkpoint=False,
    ),
    Command(
        "train-expander",
        "e.safetensors",
        lambda d, out, seed: [
            "train-expander",
            "-o",
            str(out),
            "--seed",
            str(seed),
            *TRAIN_EXPANDER,
        ],
        sidecar=False,
        checkpoint=True,
        replaces=3,
        keeps_checkpoint=True,
    ),
]


# train-expander runs VGG19 in every one of its dozen runs (about 100 s under load): slow
CASES = [
    pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.name == "train-expander" else [])
    for c in COMMANDS
]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _restore(folder: Path, old: dict[str, bytes]) -> None:
    """Put ``folder`` back as the first run left it (the old files, nothing else)."""
    for p in folder.iterdir():
        p.unlink()
    for name, data in old.items():
        (folder / name).write_bytes(data)


def _check_after_kill(
    cmd: Command, work: Path, ref: Path, old: dict[str, bytes], what: str
) -> list[str]:
    """The state a kill left: the old or the new file, never a loss. Returns the hidden
    temporaries left behind."""
    out = work / cmd.output
    assert out.is_file(), f"{what}: the output is gone"
    if out.read_bytes() != old[cmd.output]:
        assert cmd.is_new(out, ref), f"{what}: the output is neither the old nor the new file"
    visible = {p.name for p in work.iterdir() if not p.name.startswith(".")}
    allowed = {cmd.output, out.with_suffix(".json").name, cmd.checkpoint_of(out).name}
    assert visible <= allowed, f"{what}: unexpected files {visible - allowed}"
    if cmd.sidecar:
        sidecar = out.with_suffix(".json")
        raw = sidecar.read_bytes()
        if raw != old[sidecar.name]:
            doc = json.loads(raw)  # complete: it parses
            assert doc[MARKER_KEY] == cmd.name and doc["seed"] == NEW_SEED, what
            assert doc["outputs"] == [str(out)], what
    ckpt = cmd.checkpoint_of(out)
    if ckpt.exists():  # complete, so that --resume can finish the run
        _, meta = load_checkpoint_file(ckpt)
        assert meta["format"].startswith(("texsynth-checkpoint/", "texsynth-expander-checkpoint/"))
    return _hidden(work)


def _progress(cmd: Command, work: Path, ref: Path) -> int:
    """How much of the killed run survives: for ``train``, the training steps that
    ``--resume`` need not redo (all of them once the new model is in place); 0 otherwise."""
    out = work / cmd.output
    if not cmd.checkpoint:
        return 0
    if cmd.is_new(out, ref):
        return 1 << 30
    ckpt = cmd.checkpoint_of(out)
    return int(load_checkpoint_file(ckpt)[1]["step"]) if cmd.checkpoint_is_new(out) else 0


def _recover(cmd: Command, driver: Driver, inputs: Path, work: Path, ref: Path, what: str) -> None:
    """The next normal run to the same output succeeds, writes the new file and removes
    every stale temporary (``--resume`` when a training checkpoint was left)."""
    out = work / cmd.output
    argv = cmd.argv(inputs, out, NEW_SEED)
    if cmd.checkpoint_is_new(out):
        argv.append("--resume")
    driver.ok(argv)
    assert cmd.is_new(out, ref), f"{what}: the run after the kill did not write the new file"
    assert _hidden(work) == [], f"{what}: stale temporaries left: {_hidden(work)}"
    # train deletes its checkpoint at the end; train-expander keeps it, at the last step
    assert cmd.checkpoint_of(out).exists() == (cmd.keeps_checkpoint and cmd.checkpoint_is_new(out))
    if cmd.sidecar:
        json.loads(out.with_suffix(".json").read_text())


def _setup(cmd: Command, driver: Driver, inputs: Path, tmp_path: Path) -> tuple:
    work, refs = tmp_path / "work", tmp_path / "ref"
    work.mkdir()
    refs.mkdir()
    driver.ok(cmd.argv(inputs, work / cmd.output, OLD_SEED))  # the old file
    old = _files(work)
    assert _hidden(work) == []
    ref = refs / cmd.output
    calls = driver.ok(cmd.argv(inputs, ref, NEW_SEED))["calls"]  # the new one
    assert not cmd.is_new(work / cmd.output, ref)  # old and new differ
    return work, ref, old, calls


@pytest.mark.parametrize("cmd", CASES)
def test_kill_9_at_every_write_leaves_the_old_or_the_new_file(
    cmd: Command, driver: Driver, inputs: Path, tmp_path: Path
) -> None:
    work, ref, old, calls = _setup(cmd, driver, inputs, tmp_path)
    assert calls["replace"] >= cmd.replaces, calls
    points = [
        ("replace", n, when) for n in range(1, calls["replace"] + 1) for when in ("before", "after")
    ]
    points += [("fsync", n, "before") for n in range(1, calls["fsync"] + 1)]
    left = 0
    saved = {"replace": 0, "fsync": 0}  # progress kept by a kill at an earlier moment
    for call, n, when in points:  # chronological within each call
        what = f"{cmd.name}: killed {when} {call} #{n}"
        _restore(work, old)
        answer = driver.run(
            cmd.argv(inputs, work / cmd.output, NEW_SEED),
            kill={"call": call, "n": n, "when": when},
        )
        assert answer["signal"] == signal.SIGKILL, (what, answer)
        left += len(_check_after_kill(cmd, work, ref, old, what))
        # a later kill never loses what an earlier one kept (e.g. the checkpoint deleted
        # before the final model is in place would lose the whole run)
        progress = _progress(cmd, work, ref)
        assert progress >= saved[call], f"{what}: the training run was lost"
        saved[call] = progress
        _recover(cmd, driver, inputs, work, ref, what)
    if cmd.checkpoint:
        assert saved["replace"] > 0
    assert left > 0  # kills mid-write did leave temporaries, which the next run removed


def _poll_kill(proc: subprocess.Popen, folder: Path, timeout: float = 120.0) -> bool:
    """SIGKILL ``proc`` as soon as a hidden temporary appears in ``folder``; whether it was
    killed (False: it ended first)."""
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end:
        if any(n.startswith(".") for n in os.listdir(folder)):
            proc.kill()
            proc.wait()
            return True
        time.sleep(0.0005)
    proc.wait(timeout=5)
    return False


@pytest.mark.parametrize("cmd", CASES)
def test_outside_kill_9_of_the_real_command(
    cmd: Command, driver: Driver, inputs: Path, tmp_path: Path
) -> None:
    exe = Path(sys.executable).with_name("texsynth")
    if not exe.is_file():
        pytest.skip("the texsynth command is not installed next to this Python")
    work, ref, old, _ = _setup(cmd, driver, inputs, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for moment in ("right after start", "at its first temporary"):
        what = f"{cmd.name}: kill -9 {moment}"
        _restore(work, old)
        proc = subprocess.Popen(
            [str(exe), *cmd.argv(inputs, work / cmd.output, NEW_SEED)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if moment == "right after start":
            proc.kill()
            proc.wait()
        else:
            _poll_kill(proc, work)
        _check_after_kill(cmd, work, ref, old, what)
        _recover(cmd, driver, inputs, work, ref, what)
