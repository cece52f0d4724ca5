"""End to end in a real headless Chromium (Debian's, driven by Playwright): the page is
used as a person would, and the files it downloads are checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .browser import CHROMIUM
from .conftest import exemplar_png

if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)",
        allow_module_level=True,
    )
pytest.importorskip("uvicorn", reason="the web extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from .browser import live_server  # noqa: E402

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture()
def page(browser, tmp_path: Path, request) -> Iterator:  # noqa: ANN001
    data = tmp_path / "data"
    if "generator" in request.node.name:  # a trained generator in DATA/generators
        import torch

        from texsynth.generators import SynthHalfUNet2D, save_generator

        (data / "generators").mkdir(parents=True)
        torch.manual_seed(0)
        meta = {"exemplar_size_hw": [32, 32]}
        save_generator(
            SynthHalfUNet2D(3, width=4), data / "generators" / "g.safetensors", metadata=meta
        )
    with live_server(data, workers=1) as url:
        context = browser.new_context(accept_downloads=True)
        p = context.new_page()
        p.set_default_timeout(TIMEOUT_MS)
        p.goto(url)
        p.wait_for_selector("body[data-ready='1']")
        yield p
        context.close()


def _pick(page, tmp_path: Path, data: bytes, name: str) -> None:  # noqa: ANN001
    path = tmp_path / name
    path.write_bytes(data)
    page.set_input_files("#file", str(path))


def _track_bar(page) -> None:  # noqa: ANN001
    page.evaluate(
        """() => { window.__bar = [];
        new MutationObserver(() => window.__bar.push(
            Number(document.getElementById('bar').getAttribute('aria-valuenow'))))
        .observe(document.getElementById('bar'), {attributes: true}); }"""
    )


def _download(page, selector: str, tmp_path: Path) -> Path:  # noqa: ANN001
    with page.expect_download() as info:
        page.click(selector)
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    return path


def _seam_ratio(img: np.ndarray) -> float:
    """Mean jump across the wrap-around borders over the mean jump between neighbours
    inside: about 1 for a tileable image, well above for one with seams."""
    a = img.astype(float)
    inner = (np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean()) / 2
    wrap = (np.abs(a[0] - a[-1]).mean() + np.abs(a[:, 0] - a[:, -1]).mean()) / 2
    return wrap / inner


def test_upload_synthesise_watch_progress_download_tileable(page, tmp_path: Path) -> None:
    _pick(page, tmp_path, exemplar_png(32), "pebbles.png")
    page.wait_for_selector("#source-info:has-text('32×32')")
    page.fill("#size", "32")
    page.fill("#n", "2")
    assert page.input_value("#method") == "auto"
    assert page.is_checked("#tile")
    _track_bar(page)
    page.click("#go")
    seed = page.input_value("#seed")  # drawn afresh at each press, and shown
    assert seed.isdigit()
    page.wait_for_selector("#gallery .card >> nth=1")
    values = page.evaluate("window.__bar")
    assert any(0 < v < 100 for v in values) and values[-1] == 100, values
    assert "done" in page.text_content("#status")
    assert page.is_visible(".card .tiled")
    png = _download(page, ".card >> nth=0 >> text=PNG", tmp_path)
    img = np.asarray(Image.open(png))
    assert img.shape == (32, 32, 3)
    assert _seam_ratio(img) < 1.6
    record = _download(page, "#record", tmp_path)
    assert f'"seed": {seed}' in record.read_text()
    zipped = _download(page, "#zip", tmp_path)
    assert zipped.stat().st_size > 0


def test_cancel_stops_the_job(page, tmp_path: Path) -> None:
    _pick(page, tmp_path, exemplar_png(32), "pebbles.png")
    page.fill("#size", "128")
    page.select_option("#method", "scattering")
    page.select_option("#quality", "best")
    page.click("#go")
    page.wait_for_selector("#status:has-text('level')")
    page.click("#cancel")
    page.wait_for_selector("#message:has-text('Cancelled')")
    assert page.is_hidden("#cancel") and page.is_hidden("#results")


def test_bad_files_show_a_message(page, tmp_path: Path) -> None:
    _pick(page, tmp_path, b"just some notes", "notes.png")
    page.wait_for_selector("#message:has-text('not an image')")
    assert page.is_disabled("#go")
    _pick(page, tmp_path, b"not numpy at all", "field.npy")  # only the server can tell
    page.click("#go")
    page.wait_for_selector("#message:has-text('.npy')")
    assert page.is_hidden("#progress-panel")


def test_draw_a_mask_and_inpaint(page, tmp_path: Path) -> None:
    src = exemplar_png(32)
    _pick(page, tmp_path, src, "pebbles.png")
    page.wait_for_selector("#preview-wrap:not([hidden])")
    page.click("#mask-panel summary")
    page.check("#draw-mask")
    page.eval_on_selector("#brush", "b => { b.value = 80; }")
    box = page.locator("#mask-canvas").bounding_box()
    assert box is not None and box["width"] > 100
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 120, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy, steps=12)
    page.mouse.up()
    page.click("#go")
    page.wait_for_selector("#gallery .card")
    out = np.asarray(Image.open(_download(page, ".card >> text=PNG", tmp_path))).astype(int)
    orig = np.asarray(Image.open(tmp_path / "pebbles.png").convert("RGB")).astype(int)
    assert out.shape == orig.shape  # the picture repaired, in its frame
    diff = np.abs(out - orig).max(axis=2)
    assert diff[:6].max() <= 1 and diff[-6:].max() <= 1  # far from the stroke: kept
    assert diff[14:18, 8:24].mean() > 5  # under the stroke: filled in anew


def test_trained_generator_is_sampled_at_once(page, tmp_path: Path) -> None:
    page.click("#generators-panel button:has-text('g.safetensors')")
    page.wait_for_selector("#gallery .card")
    img = np.asarray(Image.open(_download(page, ".card >> text=PNG", tmp_path)))
    assert img.shape[:2] == (32, 32)
    record = _download(page, "#record", tmp_path).read_text()
    assert '"texsynth_file": "sample"' in record and '"model": "g.safetensors"' in record
