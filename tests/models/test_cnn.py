"""The 1-D CNN: architecture, seeded training with the best epoch restored, persistence and its refusals, and the
commands that take a CNN folder."""

import copy
import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.explain import Explanation
from astroxai.explain.methods import wavelength_segments
from astroxai.models import ModelLoadError, SpectrumCNNClassifier, load_model
from astroxai.models.cnn import PairMax, SpectrumCNN


def test_architecture_shapes_and_probabilities():
    module = SpectrumCNN(150, 3, centre=np.ones(150), scale=0.5)
    p = module(torch.ones(4, 150, dtype=torch.float64))
    assert p.shape == (4, 3) and torch.allclose(p.sum(dim=1), torch.ones(4))
    with pytest.raises(ValueError, match="odd"):
        SpectrumCNN(150, 3, kernel_size=4)
    with pytest.raises(ValueError, match="too few"):
        SpectrumCNN(4, 3)


def test_a_large_batch_in_evaluation_runs_in_parts_and_gives_the_whole_batchs_outputs_and_gradients(monkeypatch):
    """In evaluation a batch larger than ``EVAL_CHUNK`` runs in near-equal parts (70 spectra: 24, 23, 23), with or
    without gradients; its probabilities and input gradients are the whole batch's to float32 round-off (1e-6 of
    probabilities that sum to 1; gradients to 1e-5 of their largest value; bit for bit on the machine measured).
    Training with gradients keeps the batch whole (dropout masks are drawn per batch)."""
    torch.manual_seed(2)
    module = SpectrumCNN(120, 3).eval()
    X = torch.randn(70, 120, dtype=torch.float64)
    sizes = []
    hook = module.features[0].register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))

    def outputs_and_gradients():
        with torch.no_grad():
            probabilities = module(X)
        given = X.clone().requires_grad_(True)
        return probabilities, torch.autograd.grad(module(given)[:, 0].sum(), given)[0]

    parts, part_gradients = outputs_and_gradients()
    module.train()
    module(X.clone().requires_grad_(True))  # a training batch
    module.eval()
    assert sizes == [24, 23, 23, 24, 23, 23, 70] and module.EVAL_CHUNK == 32
    monkeypatch.setattr(SpectrumCNN, "EVAL_CHUNK", len(X))
    whole, whole_gradients = outputs_and_gradients()
    hook.remove()
    assert sizes[7:] == [70, 70]
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-6)
    scale = float(whole_gradients.abs().max())
    assert scale > 0
    torch.testing.assert_close(part_gradients, whole_gradients, rtol=0, atol=1e-5 * scale)


def test_pair_pooling_is_max_pool_in_values_gradients_and_training():
    """PairMax (pooling without PyTorch's slow indices kernel) against nn.MaxPool1d(2): the same values and the
    same gradient routing on ties (first pixel of the pair) — exactly, since pooling only selects; through the
    network the maps and a few training steps agree to 1e-6 (the convolutions may pick other kernels for other
    memory layouts on other CPUs)."""
    generator = torch.Generator().manual_seed(3)
    x = torch.relu(torch.randn(8, 4, 101, generator=generator))  # odd length; ReLU zeros tie in pairs
    x[:, :, 40:60] = 0.7  # exact non-zero ties
    x[0, 0, 10], x[0, 0, 11] = 2.0, 2.0
    weights = torch.randn(8, 4, 50, generator=generator)
    grads = []
    for pool in (PairMax(), torch.nn.MaxPool1d(2)):
        given = x.clone().requires_grad_(True)
        out = pool(given)
        grads.append((out, torch.autograd.grad((out * weights).sum(), given)[0]))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
    assert grads[0][1][0, 0, 10] == weights[0, 0, 5] and grads[0][1][0, 0, 11] == 0  # the first of a tie
    with torch.no_grad():  # no gradient: PyTorch's own kernel, the same values
        assert torch.equal(PairMax()(x), torch.nn.MaxPool1d(2)(x))

    torch.manual_seed(0)
    new = SpectrumCNN(201, 3)
    old = copy.deepcopy(new)
    old.features = torch.nn.Sequential(*(torch.nn.MaxPool1d(2) if isinstance(layer, PairMax) else layer
                                         for layer in old.features))
    X = torch.randn(96, 201, generator=generator)
    X[:, 80:120] = 0.5
    y = torch.randint(0, 3, (96,), generator=generator)
    optimisers = [torch.optim.Adam(m.parameters(), 1e-3) for m in (new, old)]
    for step in range(5):
        for module, optimiser in zip((new, old), optimisers, strict=True):
            torch.manual_seed(step)  # the same dropout masks
            module.train()
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(module.logits(X[16 * step: 16 * step + 32]),
                                              y[16 * step: 16 * step + 32]).backward()
            optimiser.step()
    for a, b in zip(new.state_dict().values(), old.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    maps = []
    for module in (new.eval(), old.eval()):
        given = X.clone().requires_grad_(True)
        maps.append(torch.autograd.grad(module(given)[:, 1].sum(), given)[0])
    torch.testing.assert_close(maps[0], maps[1], rtol=1e-6, atol=1e-6 * float(maps[1].abs().max()))


def test_training_restores_the_best_epoch_and_is_seeded(reduced_sample):
    data = SpectraSet.load(reduced_sample)
    X, y = data.flux, data.labels
    model = SpectrumCNNClassifier(max_epochs=12, patience=3, seed=3).fit(data)
    train, val = model.split_.rows(data.ids, "train"), model.split_.rows(data.ids, "validation")
    history = model.history_
    best = min(h["val_loss"] for h in history)
    weights = torch.as_tensor(len(train) / (3 * np.bincount([["type1", "type2", "intermediate"].index(c)
                                                              for c in y[train]], minlength=3)), dtype=torch.float32)
    with torch.no_grad():
        logits = model.module_.logits(torch.as_tensor(X[val]))
    target = torch.as_tensor([["type1", "type2", "intermediate"].index(c) for c in y[val]])
    assert float(torch.nn.functional.cross_entropy(logits, target, weight=weights)) == pytest.approx(best, abs=1e-5)
    assert len(history) <= 12
    again = SpectrumCNNClassifier(max_epochs=12, patience=3, seed=3).fit(data)
    np.testing.assert_array_equal(model.predict_proba(X), again.predict_proba(X))
    assert model.classes_.tolist() == ["type1", "type2", "intermediate"]  # the paper's order, as the SVM study


def test_saved_cnn_round_trip_and_refusals(cnn_model, reduced_sample, tmp_path):
    data = SpectraSet.load(reduced_sample)
    model = load_model(cnn_model)
    meta = model.metadata_
    assert isinstance(model, SpectrumCNNClassifier) and (cnn_model / "model.pt").is_file()
    assert not (cnn_model / "model.skops").exists()
    p = model.predict_proba(data.flux)
    assert p.shape == (48, 3) and np.allclose(p.sum(axis=1), 1)
    again = load_model(cnn_model)
    np.testing.assert_array_equal(again.predict_proba(data.flux), p)
    assert set(model.predict(data.flux)) <= set(meta["classes"])
    assert model.as_module() is model.module_
    for name in ("test_metrics.csv", "confusion.csv", "noise.csv", "history.csv", "split.json",
                 "figures/history.png", "figures/noise.png"):
        assert (cnn_model / name).is_file(), name
    # a tampered weights file is refused by its checksum
    bad = tmp_path / "bad"
    shutil.copytree(cnn_model, bad)
    (bad / "model.pt").write_bytes((bad / "model.pt").read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelLoadError, match="checksum"):
        load_model(bad)

    # a pickled object (a class reference, i.e. code to import) instead of a state_dict is refused even with a
    # matching checksum
    evil = tmp_path / "evil"
    shutil.copytree(cnn_model, evil)
    torch.save({"x": tmp_path}, evil / "model.pt")
    meta_evil = json.loads((evil / "model.json").read_text())
    meta_evil["sha256"] = hashlib.sha256((evil / "model.pt").read_bytes()).hexdigest()
    (evil / "model.json").write_text(json.dumps(meta_evil))
    with pytest.raises(ModelLoadError, match="not a state_dict"):
        load_model(evil)


def test_cnn_evaluate_predict_explain(cnn_model, reduced_sample, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate", str(cnn_model), str(reduced_sample), "--out", str(tmp_path / "ev"),
                                  "--part", "test"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ev" / "metrics.csv").is_file()
    sim = reduced_sample.parent / "sim" / "spectra"
    files = sorted(sim.glob("*.fits"))[:3]
    result = runner.invoke(main, ["predict", str(cnn_model), *map(str, files), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "p.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["kept"] * 3
    for method, extra in (("exact", []), ("occlusion", []), ("integrated-gradients", ["--baseline", "continuum"]),
                          ("lime", ["--segments", "lines"])):
        result = runner.invoke(main, ["explain", str(cnn_model), str(reduced_sample), "--out",
                                      str(tmp_path / method), "--method", method, "--max-figures", "1", *extra])
        assert result.exit_code == 0, result.output
        with open(tmp_path / method / "explanations.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 48 and sum(r["zero_map"] == "False" for r in rows) > 40
        if method == "integrated-gradients":  # the convergence delta of every map is reported, and small
            assert max(abs(float(r["ig_convergence_delta"])) for r in rows) < 0.05
    stored = Explanation.load(tmp_path / "lime" / "explanations.h5")
    maps, wavelength = stored.maps, stored.grid
    assert stored.method == "lime" and stored.options["lines"] is True and stored.baseline == "model"
    segments = wavelength_segments(wavelength, 40, lines=True)
    for row in maps[:5]:  # one value per segment
        assert all(np.unique(row[segments == k]).size == 1 for k in range(segments.max() + 1))


def test_trust_command_scores_every_method_on_svm_and_cnn(cnn_model, trained_model, reduced_sample, tmp_path):
    catalog = reduced_sample.parent / "sim" / "catalog.csv"
    out = tmp_path / "trust"
    result = CliRunner().invoke(main, ["trust", str(reduced_sample), str(trained_model), str(cnn_model), "--out",
                                       str(out), "--kernels", "linear,rbf", "--n-spectra", "8", "--catalog",
                                       str(catalog)])
    assert result.exit_code == 0, result.output
    table = json.loads((out / "trust.json").read_text())["rows"]
    assert {r["model"] for r in table} == {"SVM linear", "SVM rbf", "CNN"}
    assert len(table) == 3 * 6
    for row in table:
        for key in ("ms_per_spectrum", "deletion_auc", "random_deletion_auc", "insertion_auc", "sanity_rho",
                    "stability", "truth_mass", "truth_lift"):
            assert np.isfinite(row[key]), (row["model"], row["method"], key)
        assert 0 < row["truth_area"] < 1
    # perturbation methods are faithful by construction on these models: they beat a random order
    for row in table:
        if row["method"] in ("integrated-gradients", "occlusion", "kernelshap"):
            assert row["deletion_auc"] < row["random_deletion_auc"], (row["model"], row["method"])
    assert (out / "figures" / "methods_side_by_side.png").stat().st_size > 20_000
    assert (out / "figures" / "deletion_curves.png").is_file()
    bad = CliRunner().invoke(main, ["trust", str(reduced_sample), str(cnn_model), "--out", str(out),
                                    "--methods", "gradcam"])
    assert bad.exit_code != 0 and "unknown methods" in bad.output
