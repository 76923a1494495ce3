"""Dynamic spatial panel against R SDPDmod (Cigar data, vignette output; see fixtures/spatial/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.spatial import fit_panel
from zonespill.spatial._api import panel_design
from zonespill.spatial._dynamic import correct, dynamic_design
from zonespill.spatial._engine import Design, make_objective

FIX = Path(__file__).parent / "fixtures" / "spatial"
KW = {"y": "logc", "x": ["logp", "logy"], "unit": "state", "time": "year"}


@pytest.fixture(scope="module")
def cigar() -> tuple[pd.DataFrame, pd.DataFrame]:
    d = pd.read_csv(FIX / "Cigar.csv")
    d["logc"] = np.log(d.sales)
    d["logp"] = np.log(d.price / d.cpi)
    d["logy"] = np.log(d.ndi / d.cpi)
    d["state"] = d.state.astype(str)
    A = pd.read_csv(FIX / "usa46.csv", index_col=0).to_numpy(dtype=float)
    ids = [str(s) for s in sorted(d.state.astype(int).unique())]  # alphabetical = ascending code
    W = pd.DataFrame(A / A.sum(axis=1, keepdims=True), index=ids, columns=ids)
    return d, W


@pytest.fixture(scope="module")
def gold() -> pd.DataFrame:
    return pd.read_csv(FIX / "sdpdmod_cigar.csv").set_index(["model", "term"])


def _profile(design: Design, rho: float) -> tuple[np.ndarray, float]:
    """Slopes and sigma2 maximising the likelihood for fixed rho."""
    Z = design.Z.reshape(-1, design.Z.shape[2])
    yr = design.y.ravel() - rho * design.lag(design.y).ravel()
    b = np.linalg.lstsq(Z, yr, rcond=None)[0]
    e = yr - Z @ b
    return b, float(e @ e) / design.N_eff


def test_static_and_dynamic_slopes_at_sdpdmod_rho(cigar, gold) -> None:
    d, W = cigar
    static, *_ = panel_design(d, W, model="sar", effects="individual", **KW)
    g = gold.loc["m1_static_sar_individual", "estimate"]
    b, s2 = _profile(static, g["rho"])
    np.testing.assert_allclose(b, g[["logp", "logy"]].to_numpy(), atol=6e-8)
    assert s2 == pytest.approx(g["sigma2"], rel=1e-6)
    dyn, _, _ = dynamic_design(
        d, W, model="sar", effects="individual", lee_yu=False, durbin=None, w_ids=None, **KW
    )
    g2 = gold.loc["m2_dynamic_sar_individual_uncorrected", "estimate"]
    b2, _ = _profile(dyn, g2["rho"])
    # rho is printed with 6 decimals (+-5e-7), which moves the profile slopes by up to ~3e-7
    np.testing.assert_allclose(b2, g2[["y_lag", "W_y_lag", "logp", "logy"]].to_numpy(), atol=5e-7)
    # zonespill's exact maximiser: within SDPDmod's grid-induced error, and a higher likelihood
    ours = fit_panel(d, W, model="sar", effects="individual", dynamic=True, bias_correction=False, **KW)
    assert abs(ours.params["rho"] - g2["rho"]) < 5e-3
    obj = make_objective(dyn, has_rho=True, has_lam=False)
    assert obj.conc(float(ours.params["rho"]), 0.0) > obj.conc(float(g2["rho"]), 0.0)
    assert ours.loglik == pytest.approx(obj.conc(float(ours.params["rho"]), 0.0), rel=1e-12)


def test_ydl_bias_correction_matches_sdpdmod(cigar, gold) -> None:
    """Yu-de Jong-Lee correction applied at SDPDmod's uncorrected point gives SDPDmod's corrected one."""
    d, W = cigar
    dyn, _, _ = dynamic_design(
        d, W, model="sar", effects="individual", lee_yu=False, durbin=None, w_ids=None, **KW
    )
    rho_u = gold.loc[("m2_dynamic_sar_individual_uncorrected", "rho"), "estimate"]
    b, s2 = _profile(dyn, rho_u)
    theta, _, _ = correct(dyn, np.append(b, rho_u), s2, unit_effects=True)
    want = gold.loc["m3_dynamic_sar_individual_ydl", "estimate"][["y_lag", "W_y_lag", "logp", "logy", "rho"]]
    # gold printed with 7 significant digits; rho_u with 6 decimals
    np.testing.assert_allclose(theta, want.to_numpy(), atol=1e-6)
