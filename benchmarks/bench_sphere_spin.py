"""E and B in spin-2 (Q/U) HEALPix synthesis (issue 18): syntheses with and without the E/B
spectrum term (``synthesize_healpix(qu, spin=2, spectrum=...)`` at each ``--weights``;
``spectrum=0`` is the code before the term, 10 the default) and of the polarised-amplitude
term (``amplitude=`` at each ``--amplitudes``; 1 the default), graded on what the term holds
and on what it does not optimise.

Skies (``--skies``; seed 0 is the exemplar, seed 1 a second realisation of the process):

- ``pure-e``: Gaussian, ``C^EE = ell^-1`` (``ell >= 2``), ``C^BB = 0``, with a temperature
  map ``C^TT = C^EE`` and ``C^TE = 0.5 C^EE`` (``healpy.synfast(..., pol=True, new=True)``;
  only Q and U are used);
- ``e-and-b``: the same with ``C^BB = C^EE / 4``;
- ``lognormal``: non-Gaussian, ``P = A e^{2 i psi}``, the amplitude ``A = exp(g1)`` a
  lognormal field and the angle ``psi = pi g2 / 2`` a smooth random field (``g1``, ``g2``
  unit-variance Gaussian fields of ``C_ell ∝ ell^-2.5`` and ``ell^-3``): filament-free but
  strongly non-Gaussian and with both E and B.

Per synthesis (``--nsides``, ``--seeds``, ``--steps``, ``J`` down to nside 2): the ratio of
the synthesis's ``C^EE`` and ``C^BB`` to the exemplar's in four ``ell`` bins (``C^BB`` in
units of the exemplar's ``C^EE`` when the exemplar has no B), the fraction of ``2 <= ell <=
3 nside - 1`` within half a cosmic-variance sigma ``sqrt(2 / (2 ell + 1)) / 2`` (EE, and BB
when the exemplar has B), the spin-2 S2 (orientation-averaged) as the mean ``|log|`` ratio
to the exemplar's (optimised), and the scalar scattering S1 and S2 (orientation-averaged)
of ``|P| = sqrt(Q² + U²)`` as the mean ``|log|`` ratio (optimised when ``--amplitudes``
turns the ``|P|`` term on), the sparsity ``S1 / sqrt(S2)`` of Q and U read as scalar maps
(mean ``|log|`` ratio) and the kurtosis of ``|P|`` (ratio; neither optimised), with the
same measures for the second realisation of the process as the reference.

Run from the repository root (healpy installed)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_sphere_spin.py --nsides 16 32

``--sheet docs/images/healpix_spin_dust_qu.png`` draws docs/sphere.md's polarisation picture
instead (two default syntheses of ``examples/dust_qu.fits``).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

from bench_sphere import header


def _nested(maps: np.ndarray) -> np.ndarray:
    import healpy as hp

    return np.stack([hp.reorder(m, r2n=True) for m in maps])


def _gaussian(nside: int, cl: np.ndarray, seed: int) -> np.ndarray:
    """A unit-variance Gaussian scalar field of spectrum ``cl``, NESTED."""
    import healpy as hp

    np.random.seed(seed)  # noqa: NPY002 (synfast draws from numpy's global generator)
    g = hp.synfast(cl, nside, lmax=cl.size - 1)
    g = (g - g.mean()) / g.std()
    return np.asarray(hp.reorder(g, r2n=True))


def make_qu(kind: str, nside: int, seed: int) -> np.ndarray:
    """``[2, npix]`` NESTED Q and U of sky ``kind`` (see the module docstring)."""
    import healpy as hp

    lmax = 3 * nside - 1
    ell = np.arange(lmax + 1, dtype=np.float64)
    cl = np.zeros(lmax + 1)
    cl[2:] = 1.0 / ell[2:]
    if kind in ("pure-e", "e-and-b"):
        bb = 0.25 * cl if kind == "e-and-b" else 0 * cl
        np.random.seed(seed)  # noqa: NPY002
        _, q, u = hp.synfast([cl, cl, bb, 0.5 * cl], nside, lmax=lmax, pol=True, new=True)
        return _nested(np.stack([q, u]))
    if kind == "lognormal":
        c1, c2 = np.zeros(lmax + 1), np.zeros(lmax + 1)
        c1[1:], c2[1:] = ell[1:] ** -2.5, ell[1:] ** -3.0
        amp = np.exp(_gaussian(nside, c1, 2 * seed + 100))
        psi = 0.5 * np.pi * _gaussian(nside, c2, 2 * seed + 101)
        return np.stack([amp * np.cos(2 * psi), amp * np.sin(2 * psi)])
    raise ValueError(kind)


BINS = ((2, 6), (6, 16), (16, 32), (32, 96))


def spectra(qu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``C^EE`` and ``C^BB`` of NESTED ``[2, npix]`` Q/U (``anafast(pol=True, iter=0)``)."""
    import healpy as hp

    q, u = (hp.reorder(m, n2r=True) for m in qu)
    cl = hp.anafast([0 * q, q, u], pol=True, iter=0)
    return cl[1], cl[2]


def measures(ex: np.ndarray, syn: np.ndarray) -> dict[str, object]:
    """The spectrum and scattering measures of one synthesis ``syn`` against ``ex``."""
    from texsynth.stats.healpix import HealpixScatteringCovariance

    nside = int(round(np.sqrt(ex.shape[-1] / 12)))
    lmax = 3 * nside - 1
    ee_x, bb_x = spectra(ex)
    ee_s, bb_s = spectra(syn)
    has_b = bb_x[2:].sum() > 1e-2 * ee_x[2:].sum()  # (iter=0 leaks ~0.2 % E into B)
    ell = np.arange(lmax + 1)
    w = 2 * ell + 1

    def ratio(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> float:
        hi = min(hi, lmax + 1)
        return float((w[lo:hi] * a[lo:hi]).sum() / (w[lo:hi] * b[lo:hi]).sum())

    bins = [(lo, hi) for lo, hi in BINS if lo <= lmax]
    out: dict[str, object] = {
        "EE": [ratio(ee_s, ee_x, lo, hi) for lo, hi in bins],
        "BB": [ratio(bb_s, bb_x if has_b else ee_x, lo, hi) for lo, hi in bins],
        "B/E": float(bb_s[2:].sum() / ee_s[2:].sum()),
    }
    ells = ell[2:]
    half = 0.5 * np.sqrt(2.0 / (2.0 * ells + 1.0))
    out["EE in cv/2"] = float(np.mean(np.abs(ee_s[2:] / ee_x[2:] - 1) <= half))
    out["BB in cv/2"] = (
        float(np.mean(np.abs(bb_s[2:] / bb_x[2:] - 1) <= half)) if has_b else float("nan")
    )
    J = int(np.log2(nside)) - 1
    spin = HealpixScatteringCovariance(J=J, spin=2)
    scalar = HealpixScatteringCovariance(J=J)
    x, y = torch.tensor(ex)[None], torch.tensor(syn)[None]
    with torch.no_grad():
        s2x, s2y = spin(x).S2.mean(-1), spin(y).S2.mean(-1)
        out["S2 spin"] = float((s2y / s2x).log().abs().mean())
        px, py = x.pow(2).sum(1, keepdim=True).sqrt(), y.pow(2).sum(1, keepdim=True).sqrt()
        a, b = scalar(px), scalar(py)
        d1 = (b.S1.mean(-1) / a.S1.mean(-1)).log().abs().mean()
        d2 = (b.S2.mean(-1) / a.S2.mean(-1)).log().abs().mean()
        out["|P| S1,S2"] = float((d1 + d2) / 2)
        # Q and U as scalar maps, in the pixels' frames (no term of either run holds them;
        # for an isotropic process their statistics are those of any frame): the
        # normalised S1, i.e. S1 / sqrt(S2), the sparsity per scale
        a, b = scalar(x, norm="self"), scalar(y, norm="self")
        out["QU sparsity"] = float((b.S1.mean(-1) / a.S1.mean(-1)).log().abs().mean())
    out["|P| kurtosis"] = _kurtosis(np.hypot(*syn)) / _kurtosis(np.hypot(*ex))
    return out


def _kurtosis(a: np.ndarray) -> float:
    """The fourth standardised moment of the values of ``a``."""
    d = a.ravel() - a.mean()
    return float((d**4).mean() / (d**2).mean() ** 2)


def fmt(m: dict[str, object]) -> str:
    """One table row's measure columns."""

    def seq(v: object) -> str:
        assert isinstance(v, list)
        return " ".join(f"{x:.2f}" for x in v)

    return (
        f"{seq(m['EE'])} | {seq(m['BB'])} | {m['B/E']:.3f} | {m['EE in cv/2']:.2f} | "
        f"{m['BB in cv/2']:.2f} | {m['S2 spin']:.3f} | {m['|P| S1,S2']:.3f} | "
        f"{m['QU sparsity']:.3f} | {m['|P| kurtosis']:.2f}"
    )


def write_sheet(path: str, seed: int = 0) -> None:
    """Two default spin-2 syntheses of the shipped ``examples/dust_qu.fits`` and a contact
    sheet of the polarised amplitude ``|P| = sqrt(Q² + U²)`` (frame-independent, so its
    Mollweide and gnomonic views and its C_ell compare directly) at ``path``."""
    from pathlib import Path

    from texsynth import read_healpix_map
    from texsynth.healpix_views import healpix_contact_sheet
    from texsynth.io.healpix_stokes import select_qu
    from texsynth.synthesis.sphere import synthesize_healpix

    root = Path(__file__).resolve().parents[1]
    qu, _ = select_qu(read_healpix_map(root / "examples" / "dust_qu.fits"), "dust_qu.fits")
    ex = torch.from_numpy(np.asarray(qu.values, dtype=np.float32))
    t0 = time.perf_counter()
    out = synthesize_healpix(ex, spin=2, n=2, seed=seed, progress=False)
    seconds = time.perf_counter() - t0
    amplitude = [np.hypot(m[0], m[1]) for m in (ex.numpy(), *out.double().numpy())]
    healpix_contact_sheet(
        amplitude[0],
        np.stack(amplitude[1:]),
        path,
        gnomonic_centre=(-60.0, -10.0),
        title=f"examples/dust_qu.fits, --spin 2: |Q + iU| of the exemplar and two "
        f"realisations (seed {seed}, {seconds:.0f} s)",
    )
    from PIL import Image

    with Image.open(path) as im:  # (a 256-colour PNG, as bench_sphere.py's sheets)
        small = im.convert("RGB").quantize(256)
    small.save(path, optimize=True)
    print(f"wrote {path} ({seconds:.1f} s for two realisations)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsides", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--skies", nargs="+", default=["pure-e", "e-and-b", "lognormal"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=[0.0, 10.0],
        help="spectrum weights (0: before the E/B term; 10: the spin-2 default)",
    )
    parser.add_argument(
        "--amplitudes",
        type=float,
        nargs="+",
        default=[1.0],
        help="weights of the |Q + iU| scattering term (0: off; 1: the spin-2 default)",
    )
    parser.add_argument(
        "--sheet",
        default=None,
        help="instead: a contact sheet (.png) of two syntheses of examples/dust_qu.fits",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.sheet is not None:
        write_sheet(args.sheet)
        return
    from texsynth.synthesis.sphere import synthesize_healpix

    lines = [*header(args.threads), f"- steps {args.steps}, seeds {args.seeds}", ""]
    lines += [
        "| sky | nside | run | seed | C^EE ratio by bin | C^BB ratio by bin | B/E | "
        "EE in cv/2 | BB in cv/2 | S2 spin | abs(P) S1,S2 | QU sparsity | abs(P) kurtosis | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for kind in args.skies:
        for nside in args.nsides:
            ex = make_qu(kind, nside, 0)
            bins = " ".join(f"{lo}-{min(hi, 3 * nside) - 1}" for lo, hi in BINS if lo < 3 * nside)
            other = fmt(measures(ex, make_qu(kind, nside, 1)))
            row = f"| {kind} | {nside} | process (bins {bins}) | 1 | {other} | |"
            print(row, flush=True)
            for weight, amplitude in itertools.product(args.weights, args.amplitudes):
                run = "before" if weight == 0 else f"spectrum={weight:g}"
                run += f", amplitude={amplitude:g}" if amplitude else ""
                for seed in args.seeds:
                    t0 = time.perf_counter()
                    out = synthesize_healpix(
                        torch.tensor(ex, dtype=torch.float32),
                        spin=2,
                        seed=seed,
                        steps=args.steps,
                        spectrum=weight,
                        amplitude=amplitude,
                        progress=False,
                    )
                    seconds = time.perf_counter() - t0
                    m = measures(ex, out[0].double().numpy())
                    print(
                        f"| {kind} | {nside} | {run} | {seed} | {fmt(m)} | {seconds:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
