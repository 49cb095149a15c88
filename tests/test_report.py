"""The report stage: one self-contained page built from a fake results tree following the file contracts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.offline
import pytest
from sklearn.metrics import f1_score

from genolm.errors import GenolmError
from genolm.metrics import classification_metrics
from genolm.report import SECTIONS as BUILDERS
from genolm.report import Run, build_report, compare_runs
from genolm.report.figures import stacked_heatmaps
from genolm.report.sections import gene_function_section, interpretation_section, prioritise_section

pytestmark = pytest.mark.unit

SECTIONS = ("overview", "data", "pretraining", "gene_function", "disease_risk", "provenance")


def _metrics(family: str, method: str, classes: list[str], base: float) -> dict:
    names = ["accuracy", "macro_f1", "mcc", "auroc", "auprc"] + (["brier"] if len(classes) == 2 else [])
    n = len(classes)
    return {
        "family": family,
        "method": method,
        "n_train": 200,
        "n": 80,
        "classes": classes,
        "metrics": {m: {"value": base, "ci_low": base - 0.05, "ci_high": base + 0.05} for m in names},
        "per_class": {c: {"precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 80 // n} for c in classes},
        "confusion": [[10 if i == j else 2 for j in range(n)] for i in range(n)],
        "history": [{"epoch": e, "train_loss": 1.0 / e, "val_macro_f1": 0.5 + e / 20} for e in (1, 2, 3)],
    }


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def make_results(
    root: Path,
    *,
    disease: bool = True,
    gene_task: str = "function_class",
    val_loss: float = 1.2,
    shift: float = 0.0,
) -> Path:
    """A small results tree with every file the report reads, values chosen to be recognisable.

    `shift` is added to every metric, so two trees can differ by a known amount.
    """
    rng = np.random.default_rng(0)
    _write_json(
        root / "data" / "genome.provenance.json",
        {
            "source": "simulated:genome",
            "path": "r/genome.fa.gz",
            "size": 123456,
            "md5": "a" * 32,
            "sha256": "b" * 64,
            "fetched_at": "2025-01-01T00:00:00Z",
            "from_cache": False,
            "spec": {"simulated": "genome"},
        },
    )
    _write_json(
        root / "preprocess" / "summary.json",
        {
            "bases_read": 400000,
            "contigs": 4,
            "windows_total": 3120,
            "dropped_n": 20,
            "n_bases": 1000,
            "windows_kept": 3100,
            "window": 256,
            "stride": 128,
            "max_n_fraction": 0.1,
            "splits": {
                "train": {"windows": 1900, "bases": 243200},
                "val": {"windows": 450, "bases": 57600},
                "test": {"windows": 750, "bases": 96000},
            },
        },
    )
    rows = [
        (f"chr{c}", s, s + 9500, ["train", "val", "test"][(s // 10000) % 3])
        for c in (1, 2)
        for s in range(0, 100000, 10000)
    ]
    pd.DataFrame(rows, columns=["contig", "start", "end", "split"]).to_csv(
        root / "preprocess" / "splits.tsv", sep="\t", index=False
    )
    _write_json(root / "tokenizer" / "tokenizer_config.json", {"genolm_kind": "char", "genolm_k": 1})
    _write_json(
        root / "tokenizer" / "tokenizer.json",
        {
            "model": {
                "vocab": {
                    t: i
                    for i, t in enumerate(
                        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "A", "C", "G", "T", "N"]
                    )
                }
            }
        },
    )
    log = [
        {
            "step": s,
            "phase": "train",
            "loss": 2 - s / 400,
            "accuracy": 0.3,
            "lr": 1e-3,
            "tokens_per_s": 5000.0,
        }
        for s in range(1, 101)
    ]
    log += [
        {
            "step": s,
            "phase": "val",
            "loss": val_loss + 0.1 * (100 - s) / 50,
            "accuracy": 0.4,
            "perplexity": 3.3,
            "bits_per_base": 1.7,
        }
        for s in (50, 100)
    ]
    (root / "pretrain").mkdir(parents=True)
    pd.DataFrame(log).to_csv(root / "pretrain" / "log.csv", index=False)
    _write_json(
        root / "pretrain" / "metrics.json",
        {
            "objective": "mlm",
            "family": "bert",
            "parameters": 1234567,
            "steps": 100,
            "train_windows": 1900,
            "val_windows": 450,
            "window": 256,
            "settings": {"lr": 0.002, "batch_size": 32},
            "val": {"loss": val_loss, "perplexity": 3.3201, "accuracy": 0.4},
        },
    )
    classes = ["enzyme", "other"]
    _write_json(
        root / "labels" / "genes" / f"{gene_task}.summary.json",
        {
            "rows": 300,
            "classes": {"enzyme": 140, "other": 160},
            "per_split": {
                "train": {"enzyme": 90, "other": 110},
                "val": {"enzyme": 20, "other": 20},
                "test": {"enzyme": 30, "other": 30},
            },
            "dropped": {"rare_class": 7},
        },
    )
    labels = rng.choice(classes, 60)  # the task's test genes: the same truth under every method
    for method, base in (("finetune_full", 0.8123), ("kmer_lr", 0.7011), ("majority", 0.5)):
        d = root / "gene_function" / gene_task / method
        _write_json(d / "metrics.json", _metrics("gene_function", method, classes, base + shift))
        p = np.clip((labels == "other") * base + rng.normal(0.2, 0.2, 60), 0, 1)
        pd.DataFrame(
            {
                "id": [f"g{i}" for i in range(60)],
                "label": labels,
                "prediction": np.where(p > 0.5, "other", "enzyme"),
                "p_enzyme": 1 - p,
                "p_other": p,
            }
        ).to_csv(d / "predictions.tsv", sep="\t", index=False)
    if disease:
        _write_json(
            root / "labels" / "variants" / "clinvar_like.summary.json",
            {
                "rows": 100,
                "classes": {"benign": 60, "pathogenic": 40},
                "per_split": {"test": {"benign": 60, "pathogenic": 40}},
                "dropped": {},
            },
        )
        for method, base in (("zeroshot", 0.66), ("supervised", 0.74), ("kmer_lr", 0.61)):
            d = root / "disease_risk" / "clinvar_like" / method
            metrics = _metrics("disease_risk", method, ["benign", "pathogenic"], base + shift)
            _write_json(d / "metrics.json", metrics)
            label = np.where(np.arange(40) % 2 == 0, "pathogenic", "benign")
            pd.DataFrame(
                {
                    "id": [f"v{i}" for i in range(40)],
                    "contig": "chr1",
                    "pos": np.arange(40) * 100 + 1,
                    "ref": "A",
                    "alt": "G",
                    "gene": "geneX",
                    "consequence": "missense",
                    "clnsig": "x",
                    "label": label,
                    "score": (label == "pathogenic") * base + rng.normal(0, 0.5, 40),
                }
            ).to_csv(d / "scores.tsv", sep="\t", index=False)
    (root / "benchmarks" / "pretrain").mkdir(parents=True)
    (root / "benchmarks" / "pretrain" / "main.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t512.3\n")
    return root


def render(tmp_path: Path, name: str = "report.html", **kwargs) -> str:
    results = make_results(
        tmp_path / "results", **{k: kwargs.pop(k) for k in list(kwargs) if k in ("disease", "gene_task")}
    )
    out = tmp_path / name
    build_report(
        results,
        out,
        config={"run": "demo", "seed": 42},
        synthetic=kwargs.get("synthetic", True),
        workflow_dir=tmp_path,
    )
    return out.read_text()


def _without_scripts(html: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", html, flags=re.S)


def test_synthetic_report_has_banner_sections_and_values(tmp_path):
    html = render(tmp_path, synthetic=True)
    assert "SYNTHETIC DEMO DATA" in html
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
        assert f'href="#{section}"' in html
    text = _without_scripts(html)
    assert "0.812 [0.762, 0.862]" in text  # finetune macro F1 with CI
    assert "1,234,567" in text  # parameters
    assert "3.320" in text  # val perplexity
    assert "0.25%" in text  # N fraction 1000 / 400000
    assert "rare_class 7" in text  # dropped reason
    assert "pretrain/main" in text  # benchmark rule name
    assert "seed: 42" in text  # config as YAML
    assert "b" * 64 in text  # sha256 from provenance
    assert "unknown" in text  # tmp_path is not a git checkout
    # The overview's paired difference, finetune_full − kmer_lr, from their predictions via scikit-learn.
    genes = tmp_path / "results" / "gene_function" / "function_class"
    f1 = [
        f1_score(
            t["label"],
            t[["p_enzyme", "p_other"]].to_numpy().argmax(1).choose(["enzyme", "other"]),
            average="macro",
        )
        for t in (pd.read_csv(genes / m / "predictions.tsv", sep="\t") for m in ("finetune_full", "kmer_lr"))
    ]
    assert f"<td>{f1[0] - f1[1]:+.3f} [" in text


def test_banner_absent_when_not_synthetic(tmp_path):
    assert "SYNTHETIC DEMO DATA" not in render(tmp_path, synthetic=False)


def test_report_is_self_contained(tmp_path):
    html = render(tmp_path)
    bundles = re.findall(r'<script id="plotly-js">(.*?)</script>', html, flags=re.S)
    assert bundles == [plotly.offline.get_plotlyjs()]  # the library inlined exactly once, unchanged
    page = html.replace(bundles[0], "")  # plotly.js holds URLs in code strings; it loads none of them
    assert "<script src" not in page.lower()
    for external in ('src="http', "src='http", 'href="http', "href='http", "@import", "url(http"):
        assert external not in page
    assert page.count("Plotly.newPlot") >= 8  # interactive figures, not images
    assert len(html) < 8_000_000


def test_missing_disease_risk_says_not_configured(tmp_path):
    html = render(tmp_path, disease=False)
    section = re.search(r'<section id="disease_risk">(.*?)</section>', html, flags=re.S).group(1)
    assert "not configured" in section
    assert "not configured" not in re.search(
        r'<section id="gene_function">(.*?)</section>', html, flags=re.S
    ).group(1)


def test_configured_but_missing_results_is_not_called_unconfigured(tmp_path):
    results = make_results(tmp_path / "results", disease=False)
    config = {"disease_risk": {"tasks": {"clinvar_like": {"label": "clnsig"}}}}
    build_report(results, tmp_path / "r.html", config=config, synthetic=False, workflow_dir=tmp_path)
    html = (tmp_path / "r.html").read_text()
    section = re.search(r'<section id="disease_risk">(.*?)</section>', html, flags=re.S).group(1)
    assert "configured, but no results found" in section
    assert "not configured" not in section


def test_task_names_are_escaped(tmp_path):
    html = render(tmp_path, gene_task="a<b>task")
    text = _without_scripts(html)
    assert "a&lt;b&gt;task" in text
    assert "a<b>task" not in html


def test_renders_metrics_as_written_by_genolm_metrics(tmp_path):
    """The real producer's layout (including a NaN metric) renders, with its CI, not a hand-made copy."""
    results = make_results(tmp_path / "results")
    y = np.array([0, 1] * 20)
    scores = np.column_stack([1 - np.linspace(0.1, 0.9, 40), np.linspace(0.1, 0.9, 40)])
    metrics = classification_metrics(y, scores, ["enzyme", "other"], n_boot=20)
    metrics["metrics"]["auprc"]["value"] = float("nan")
    path = results / "gene_function" / "function_class" / "finetune_full" / "metrics.json"
    path.write_text(
        json.dumps({"family": "gene_function", "method": "finetune_full", "n_train": 10, **metrics})
    )
    build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    text = _without_scripts((tmp_path / "r.html").read_text())
    f1 = metrics["metrics"]["macro_f1"]
    assert f"{f1['value']:.3f} [{f1['ci_low']:.3f}, {f1['ci_high']:.3f}]" in text
    assert "<td>– [" in text  # NaN point estimate shown as a dash, its CI kept


def test_invalid_json_is_one_line_error_naming_file(tmp_path):
    results = make_results(tmp_path / "results")
    (results / "pretrain" / "metrics.json").write_text("{not json")
    with pytest.raises(GenolmError, match=r"pretrain/metrics.json: line 1"):
        build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    assert not (tmp_path / "r.html").exists()


def test_compare_runs_names_both_runs(tmp_path):
    make_results(tmp_path / "run_alpha", val_loss=1.1)
    make_results(tmp_path / "run_beta", val_loss=0.9, disease=False)
    out = tmp_path / "compare.html"
    compare_runs([tmp_path / "run_alpha", tmp_path / "run_beta"], out)
    html = out.read_text()
    text = _without_scripts(html)
    assert "run_alpha" in text and "run_beta" in text
    assert "0.900" in text and "1.100" in text  # each run's final val loss
    assert '"name":"run_alpha"' in html and '"name":"run_beta"' in html  # one val-loss trace per run
    assert "<script src" not in html.lower()


def test_compare_runs_needs_two(tmp_path):
    with pytest.raises(GenolmError, match="at least two"):
        compare_runs([make_results(tmp_path / "only")], tmp_path / "c.html")


def _section(html: str, anchor: str) -> str:
    return re.search(rf'<section id="{anchor}">(.*?)</section>', html, flags=re.S).group(1)


def _calls(path: Path, family: str, wrong_every: int = 0) -> None:
    """Rewrite a predictions.tsv (or scores.tsv): right on every row, or wrong on every `wrong_every`-th."""
    table = pd.read_csv(path, sep="\t")
    right = np.ones(len(table), dtype=bool)
    if wrong_every:
        right[::wrong_every] = False
    if family == "gene_function":
        table["p_other"] = ((table["label"] == "other") == right).astype(float) * 0.9 + 0.05
        table["p_enzyme"] = 1 - table["p_other"]
    else:
        table["score"] = np.where((table["label"] == "pathogenic") == right, 1.0, -1.0)
    table.to_csv(path, sep="\t", index=False)


def test_overview_answers_both_questions_with_paired_cis(tmp_path):
    results = make_results(tmp_path / "results")
    genes, risk = results / "gene_function" / "function_class", results / "disease_risk" / "clinvar_like"
    _calls(genes / "finetune_full" / "predictions.tsv", "gene_function")
    _calls(genes / "kmer_lr" / "predictions.tsv", "gene_function", wrong_every=3)
    _calls(risk / "kmer_lr" / "scores.tsv", "disease_risk")
    _calls(risk / "supervised" / "scores.tsv", "disease_risk", wrong_every=3)
    shutil.copytree(genes / "kmer_lr", genes / "random_init")  # the control: as wrong as the k-mers
    # The probe's control is right where the probe is wrong every third row: pretraining hurt it.
    shutil.copytree(genes / "kmer_lr", genes / "probe")
    shutil.copytree(genes / "finetune_full", genes / "probe_random_init")
    for method in ("probe", "probe_random_init"):
        metrics = json.loads((genes / method / "metrics.json").read_text())
        (genes / method / "metrics.json").write_text(json.dumps({**metrics, "method": method}))
    build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    html = (tmp_path / "r.html").read_text()
    overview = _without_scripts(_section(html, "overview"))
    tables = re.findall(r"<table.*?</table>", overview, flags=re.S)
    assert len(tables) == 2, "the model-vs-baseline table and the pretraining table"
    gene_row = re.search(r"<tr><td>Gene function</td>.*?</tr>", tables[0], flags=re.S).group(0)
    assert '<a href="#gene_function-function_class">function_class</a>' in gene_row
    assert "<td>finetune_full better</td>" in gene_row  # right on every row vs wrong on every third
    risk_row = re.search(r"<tr><td>Disease risk</td>.*?</tr>", tables[0], flags=re.S).group(0)
    assert "<td>kmer_lr better</td>" in risk_row and "<td>supervised</td>" in risk_row
    low, high = (
        float(x) for x in re.search(r"<td>[+-][\d.]+ \[([+-][\d.]+), ([+-][\d.]+)\]</td>", risk_row).groups()
    )
    assert low < high < 0  # the paired CI of supervised − kmer_lr excludes 0, below it
    full, probe = re.findall(r"<tr><td>Gene function</td>.*?</tr>", tables[1], flags=re.S)
    assert "<td>random_init</td>" in full and "<td>finetune_full better</td>" in full
    assert "<td>probe</td>" in probe and "<td>probe_random_init better</td>" in probe
    nav = re.search(r"<nav>(.*?)</nav>", html, flags=re.S).group(1)
    for anchor in ("gene_function-function_class", "disease_risk-clinvar_like"):
        assert f'href="#{anchor}"' in nav
        assert f'<h3 id="{anchor}">' in html


def test_overview_without_predictions_says_so(tmp_path):
    results = make_results(tmp_path / "results", disease=False)
    (results / "gene_function" / "function_class" / "kmer_lr" / "predictions.tsv").unlink()
    build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    overview = _without_scripts(_section((tmp_path / "r.html").read_text(), "overview"))
    row = re.search(r"<tr><td>Gene function</td>.*?</tr>", overview, flags=re.S).group(0)
    assert row.endswith("<td>–</td><td>–</td><td>–</td></tr>")  # no difference, no verdict: never a guess


def test_top_variants_are_ranked_and_missing_genes_show_a_dash(tmp_path):
    results = make_results(tmp_path / "results")
    path = results / "disease_risk" / "clinvar_like" / "supervised" / "scores.tsv"
    scores = pd.read_csv(path, sep="\t")
    scores["score"] = np.arange(len(scores), dtype=float)  # v39 scores highest
    scores.loc[scores["id"] == "v39", "gene"] = np.nan
    scores.to_csv(path, sep="\t", index=False)
    build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    section = _without_scripts(_section((tmp_path / "r.html").read_text(), "disease_risk"))
    table = section[section.index("<th>#</th>") :]
    ranked = re.findall(r"<tr><td>(\d+)</td><td>(v\d+)</td><td>([^<]*)</td>", table)
    assert ranked[:3] == [("1", "v39", "–"), ("2", "v38", "geneX"), ("3", "v37", "geneX")]
    assert len(ranked) == 20
    assert ">nan<" not in section


def test_cli_compare_puts_runs_side_by_side(tmp_path):
    from genolm.cli import main

    make_results(tmp_path / "run_alpha", val_loss=1.1)
    make_results(tmp_path / "run_beta", val_loss=0.9, shift=0.05)
    out = tmp_path / "compare.html"
    assert main(["compare", str(tmp_path / "run_alpha"), str(tmp_path / "run_beta"), "-o", str(out)]) == 0
    html = out.read_text()
    tasks = _without_scripts(_section(html, "tasks"))
    header = (
        "<th>Method</th><th>Role</th><th>run_alpha</th><th>run_beta</th><th>Δ (run_beta − run_alpha)</th>"
    )
    assert header in tasks
    # finetune_full macro F1 0.812 vs 0.862 in one row, with the difference.
    assert (
        "<td>finetune_full</td><td>model</td><td>0.812 [0.762, 0.862]</td>"
        "<td>0.862 [0.812, 0.912]</td><td>+0.050</td>" in tasks
    )
    assert '<h3 id="disease_risk-clinvar_like">' in tasks
    # Train and val loss panels, one trace per run in each.
    curves = re.findall(r'"legendgroup":"(run_alpha|run_beta)"', _section(html, "pretraining"))
    assert sorted(curves) == ["run_alpha"] * 2 + ["run_beta"] * 2


def test_cli_compare_error_is_one_line(tmp_path, capsys):
    from genolm.cli import main

    run = make_results(tmp_path / "only")
    assert main(["compare", str(run), "-o", str(tmp_path / "c.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "genolm: error: compare: need at least two run directories, got 1"
    assert not (tmp_path / "c.html").exists()


def test_sections_appear_in_the_order_of_the_builder_list(tmp_path):
    html = render(tmp_path)
    built = [build(Run(tmp_path / "results"))["id"] for build in BUILDERS]
    assert built == [
        "overview",
        "data",
        "pretraining",
        "gene_function",
        "disease_risk",
        "prioritise",
        "interpretation",
        "provenance",
    ]
    assert re.findall(r'<section id="([^"]+)">', html) == built


def test_family_section_lists_every_method_of_each_task(tmp_path):
    section = gene_function_section(Run(make_results(tmp_path / "results", disease=False)))
    assert section["links"] == [{"text": "function_class", "href": "gene_function-function_class"}]
    metrics = next(b for b in section["blocks"] if b["kind"] == "table" and b["columns"][0] == "Method")
    assert [row[:3] for row in metrics["rows"]] == [
        ["finetune_full", "200", "80"],
        ["kmer_lr", "200", "80"],
        ["majority", "200", "80"],
    ]


def test_interpretation_section_says_not_run_without_its_outputs(tmp_path):
    section = interpretation_section(Run(make_results(tmp_path / "results")))
    assert [b["kind"] for b in section["blocks"]] == ["note"]
    assert section["blocks"][0]["text"].startswith("Not run")


def test_stacked_heatmaps_share_one_centred_colour_scale():
    grids = [
        pd.DataFrame([[1.0, -2.0], [0.5, 0.0]], index=["A", "C"], columns=[-1, 1]),
        pd.DataFrame([[3.0, 4.0, 5.0]], index=["G"], columns=[0, 1, 2]),
    ]
    fig = stacked_heatmaps(
        grids, ["one", "two"], row_height=100, x_title="pos", colour_title="score", hover_format=".2f"
    )
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert [t.z.tolist() for t in fig.data] == [[[1.0, -2.0], [0.5, 0.0]], [[3.0, 4.0, 5.0]]]
    assert list(fig.data[1].x) == [0, 1, 2] and list(fig.data[1].y) == ["G"]
    assert fig.data[0].hovertemplate == "pos %{x}, %{y}: %{z:.2f}<extra></extra>"
    assert fig.layout.coloraxis.cmid == 0 and fig.layout.coloraxis.colorbar.title.text == "score"
    assert fig.layout.height == 280
    assert fig.layout.xaxis2.title.text == "pos" and not fig.layout.xaxis.title.text
    assert [a.text for a in fig.layout.annotations] == ["one", "two"]


def test_prioritise_section_ranks_recall_and_marks_known_genes(tmp_path):
    results = make_results(tmp_path / "results")
    task = results / "prioritise" / "clinvar_like"
    task.mkdir(parents=True)
    genes = pd.DataFrame(
        {
            "method": ["zeroshot"] * 3 + ["unweighted"] * 3,
            "rank": [1, 2, 3] * 2,
            "rank_by": "burden_p",
            "gene": ["gA", "gB", "gC", "gB", "gC", "gA"],
            "contig": ["chr1", "chr1", "chr2", "chr1", "chr2", "chr1"],
            "start": [100, 5000, 200, 5000, 200, 100],
            "end": [900, 6000, 800, 6000, 800, 900],
            "p": [1e-6, 0.2, 0.7, 0.01, 0.3, 0.5],
            "q": [3e-6, 0.3, 0.7, 0.03, 0.45, 0.5],
        }
    )
    genes.to_csv(task / "genes.tsv", sep="\t", index=False)
    _write_json(
        task / "metrics.json",
        {
            "known_genes": ["gA"],
            "methods": {
                "zeroshot": {
                    "rank_by": "burden_p",
                    "n_genes": 3,
                    "recall_at_10": 1.0,
                    "known_gene_ranks": {"gA": 1},
                },
                "unweighted": {
                    "rank_by": "burden_p",
                    "n_genes": 3,
                    "recall_at_10": 1.0,
                    "known_gene_ranks": {"gA": 3},
                },
            },
        },
    )
    found = prioritise_section(Run(results))
    kinds = [b["kind"] for b in found["blocks"]]
    assert kinds == ["h3", "table", "table", "figure", "table", "figure"]
    recall = {row[0]: row for row in found["blocks"][1]["rows"]}
    assert recall["zeroshot"][4] == "gA 1" and recall["unweighted"][4] == "gA 3"
    top = found["blocks"][2]["rows"]
    assert [row[1] for row in top] == ["gA", "gB", "gC"]  # zeroshot's ranking, as written
    fig = found["blocks"][3]["fig"]
    known = next(t for t in fig.data if t.name.startswith("known"))
    assert list(known.text) == ["gA (chr1:100)"] and known.y[0] == pytest.approx(6.0)
    other = next(t for t in fig.data if t.name == "gene")
    assert list(other.x) == [5000, 200 + 6000]  # chr2 starts after chr1's last gene end
    assert any(shape.line.dash == "dash" for shape in fig.layout.shapes)  # the q = 0.05 line at gA's p


def test_prioritise_section_not_run(tmp_path):
    found = prioritise_section(Run(make_results(tmp_path / "results")))
    assert [b["kind"] for b in found["blocks"]] == ["note"]


def test_small_sample_warnings_and_annotation_issues_are_shown(tmp_path):
    results = make_results(tmp_path / "results")
    path = results / "labels" / "genes" / "function_class.summary.json"
    summary = json.loads(path.read_text())
    summary["warnings"] = ["the test split has only 11 rows"]
    summary["annotation_issues"] = {"missing_parent": {"count": 210, "example": "ann.gff3:7: chr1\tx\tmRNA"}}
    path.write_text(json.dumps(summary))
    build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    html = _without_scripts((tmp_path / "r.html").read_text())
    gene_row = re.search(r"<tr><td>Gene function</td>.*?</tr>", _section(html, "overview"), flags=re.S).group(
        0
    )
    assert "⚠ the test split has only 11 rows" in gene_row
    data = _section(html, "data")
    assert "Warning (function_class): the test split has only 11 rows" in data
    assert "<td>missing_parent</td>" in data and "<td>210</td>" in data and "ann.gff3:7:" in data


def test_corpus_genomes_are_listed_with_their_windows(tmp_path):
    results = make_results(tmp_path / "results")
    path = results / "preprocess" / "summary.json"
    summary = json.loads(path.read_text())
    split = {"train": {"windows": 30}, "val": {"windows": 0}, "test": {"windows": 0}}
    summary["sampling"] = "balanced"
    summary["genomes"] = {
        "ecoli": {
            "task_genome": True,
            "held_out": None,
            "sequences": False,
            "contigs": 1,
            "bases_read": 4600,
            "dropped": {"n": 1, "soft_mask": 0, "duplicate": 2},
            "splits": {"train": {"windows": 20}, "val": {"windows": 5}, "test": {"windows": 7}},
        },
        "bsub": {
            "task_genome": False,
            "held_out": "test",
            "sequences": False,
            "contigs": 2,
            "bases_read": 4200,
            "dropped": {"n": 0, "soft_mask": 0, "duplicate": 0},
            "splits": {**split, "train": {"windows": 0}, "test": {"windows": 33}},
        },
        "reads": {
            "task_genome": False,
            "held_out": None,
            "sequences": True,
            "contigs": 9,
            "bases_read": 900,
            "dropped": {"n": 0, "soft_mask": 0, "duplicate": 0},
            "splits": split,
        },
    }
    path.write_text(json.dumps(summary))
    build_report(results, tmp_path / "r.html", config={}, synthetic=False, workflow_dir=tmp_path)
    data = _without_scripts(_section((tmp_path / "r.html").read_text(), "data"))
    assert "Pretraining corpus: 3 genomes, sampled balanced" in data
    assert (
        "<td>ecoli</td><td>task genome</td><td>1</td><td>4,600</td><td>20</td><td>5</td><td>7</td><td>3</td>"
        in data
    )
    assert (
        "<td>bsub</td><td>held out (test)</td>" in data
        and "<td>reads</td><td>sequences (train only)</td>" in data
    )
