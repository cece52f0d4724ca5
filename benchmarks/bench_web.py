"""The web page's goals, measured in headless Chromium (Debian's) against a live server.

* page ready: navigation start to the page usable (methods loaded), median of 5 loads;
* a tileable 256² texture from a photo with the page's defaults (auto, fast): pick
  ``examples/pebbles.png``, press Synthesise, until the gallery shows it (goal: < 1 min);
  the gaps between progress updates seen by the page; the seam ratio of the download;
* a cancelled job: cancel to worker free (the next job starts);
* load: rounds of 20 clients submitting at once for ``--load-seconds`` (default 60), under
  100 status polls a second from a separate process; every request answered, every job
  done, the server's resident memory after each round (flat = no growth across rounds).

``--screenshot PATH`` also saves the page after the synthesis (docs/images/web.png).

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/bench_web.py``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.browser import CHROMIUM, live_server  # noqa: E402


def rss_mb() -> float:
    """Current resident memory of this process (the server runs in it), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seam_ratio(img: np.ndarray) -> float:
    a = img.astype(float)
    inner = (np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean()) / 2
    wrap = (np.abs(a[0] - a[-1]).mean() + np.abs(a[:, 0] - a[:, -1]).mean()) / 2
    return wrap / inner


def page_side(url: str, tmp: Path, screenshot: Path | None) -> dict:
    out: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(300_000)
        ready = []
        for _ in range(5):
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            ready.append(time.perf_counter() - t0)
        out["page_ready_s"] = ready
        page.set_input_files("#file", str(ROOT / "examples" / "pebbles.png"))
        page.wait_for_selector("#preview-wrap:not([hidden])")
        page.evaluate(
            """() => { window.__t = [];
            new MutationObserver(() => window.__t.push(performance.now()))
            .observe(document.getElementById('status'), {childList: true, subtree: true,
                     characterData: true}); }"""
        )
        t0 = time.perf_counter()
        page.click("#go")
        page.wait_for_selector("#gallery .card img")
        page.wait_for_function("document.querySelector('#gallery .card img').complete")
        out["photo_256_fast_s"] = time.perf_counter() - t0
        times = page.evaluate("window.__t")
        gaps = np.diff(times) / 1000 if len(times) > 1 else np.array([0.0])
        out["progress_updates"] = len(times)
        out["progress_gap_median_s"] = float(np.median(gaps))
        out["progress_gap_p95_s"] = float(np.percentile(gaps, 95))
        with page.expect_download() as dl:
            page.click(".card >> text=PNG")
        path = tmp / "t.png"
        dl.value.save_as(path)
        img = np.asarray(Image.open(path))
        out["download_shape"] = img.shape
        out["seam_ratio"] = seam_ratio(img)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return out


def cancel_side(url: str) -> float:
    photo = (ROOT / "examples" / "pebbles.png").read_bytes()
    with httpx.Client(base_url=url, timeout=60) as c:
        form = {"size": "256", "method": "scattering", "quality": "best", "seed": "1"}
        a = c.post("/api/jobs", files={"image": ("p.png", photo)}, data=form).json()
        b = c.post("/api/jobs", files={"image": ("p.png", photo)}, data={"size": "16"}).json()
        while c.get(f"/api/jobs/{a['id']}").json()["progress"] == {}:
            time.sleep(0.01)
        t0 = time.perf_counter()
        c.post(f"/api/jobs/{a['id']}/cancel")
        while c.get(f"/api/jobs/{b['id']}").json()["state"] == "queued":
            time.sleep(0.005)
        freed = time.perf_counter() - t0
        while c.get(f"/api/jobs/{b['id']}").json()["state"] != "done":
            time.sleep(0.05)
    return freed


def poll_process(url: str, ids: list[str], rate: float, seconds: float, out: mp.Queue) -> None:
    """Poll job statuses at ``rate`` per second in total for ``seconds`` (8 paced threads).

    Runs in its own process so that the client's threads do not share the server's GIL.
    """
    counts, errors = [0] * 8, [0] * 8
    t0 = time.perf_counter()

    def poll(i: int) -> None:
        period = 8 / rate
        with httpx.Client(base_url=url, timeout=60) as c:
            k = 0
            while (due := t0 + i * period / 8 + k * period) < t0 + seconds:
                time.sleep(max(0.0, due - time.perf_counter()))
                r = c.get(f"/api/jobs/{ids[(i + 8 * k) % len(ids)]}")
                counts[i] += 1
                errors[i] += r.status_code != 200
                k += 1

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(counts), sum(errors), time.perf_counter() - t0))


def load_side(url: str, seconds: float) -> dict:
    """Rounds of 20 clients submitting at once, for ``seconds``, under 100 status polls/s."""
    buf = io.BytesIO()
    arr = np.asarray(Image.open(ROOT / "examples" / "pebbles.png").convert("RGB"))[:32, :32]
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    photo = buf.getvalue()
    before = rss_mb()
    errors: list[str] = []

    def submit(k: int) -> str:
        with httpx.Client(base_url=url, timeout=60) as c:
            r = c.post(
                "/api/jobs", files={"image": ("p.png", photo)}, data={"size": "24", "seed": str(k)}
            )
            if r.status_code != 202:
                errors.append(r.text)
            return r.json()["id"]

    def one_round(start: int) -> list[str]:
        with cf.ThreadPoolExecutor(20) as ex:
            return list(ex.map(submit, range(start, start + 20)))

    ids = one_round(0)
    queue: mp.Queue = mp.get_context("spawn").Queue()
    poller = mp.get_context("spawn").Process(
        target=poll_process, args=(url, ids, 100.0, seconds, queue)
    )
    t0 = time.perf_counter()
    poller.start()
    rss = [rss_mb()]
    done = 0
    with httpx.Client(base_url=url, timeout=60) as c:
        while True:
            while not all(c.get(f"/api/jobs/{i}").json()["state"] == "done" for i in ids):
                time.sleep(0.2)
            done += len(ids)
            rss.append(rss_mb())
            if time.perf_counter() - t0 > seconds:
                break
            ids = one_round(done)
    polls, poll_errors, poll_wall = queue.get()
    poller.join()
    return {
        "jobs_done": done,
        "rounds": len(rss) - 1,
        "errors": len(errors) + poll_errors,
        "polls": polls,
        "polls_per_s": polls / poll_wall,
        "wall_s": time.perf_counter() - t0,
        "rss_before_mb": before,
        "rss_rounds_mb": rss,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--load-seconds", type=float, default=60.0, help="length of the load test")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp) / "data") as url:
        res = page_side(url, Path(tmp), args.screenshot)
        r = res["page_ready_s"]
        print(f"page ready: median {statistics.median(r) * 1000:.0f} ms (max {max(r) * 1000:.0f})")
        print(
            f"256² photo, auto + fast, press to gallery: {res['photo_256_fast_s']:.1f} s; "
            f"{res['progress_updates']} progress updates, gap median "
            f"{res['progress_gap_median_s']:.2f} s, p95 {res['progress_gap_p95_s']:.2f} s; "
            f"download {res['download_shape']}, seam ratio {res['seam_ratio']:.2f}"
        )
        print(f"cancel -> next job running: {cancel_side(url) * 1000:.0f} ms")
        ld = load_side(url, args.load_seconds)
        rss = ", ".join(f"{m:.0f}" for m in ld["rss_rounds_mb"])
        print(
            f"load: {ld['jobs_done']} jobs done in {ld['rounds']} rounds of 20, {ld['errors']} "
            f"errors, {ld['polls']} polls ({ld['polls_per_s']:.0f}/s) in {ld['wall_s']:.1f} s; "
            f"server RSS {ld['rss_before_mb']:.0f} MB before, after each round: {rss} MB"
        )


if __name__ == "__main__":
    main()
